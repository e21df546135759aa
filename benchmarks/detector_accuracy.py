"""Detector accuracy on annotated frames in the paper's layout (frames/N.jpg + info/*.mat with data.X 14×2×n).

    python -m benchmarks.detector_accuracy ../shared/data/posewarp-tennis            # table per joint
    python -m benchmarks.detector_accuracy ../shared/data/posewarp-tennis --calibrate # refit neck/head factors

PCK@0.2: a joint is correct when it lies within 0.2 × torso diameter (2 × |neck − mid-hip|, from the annotation).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poseeditor.skeleton import JOINT_NAMES

PCK_FRACTION = 0.2


@dataclass(frozen=True)
class AccuracyReport:
    errors_px: np.ndarray  # (frames, 14)
    torso_diameters: np.ndarray  # (frames,)
    detections: list  # the Detection of each frame

    @property
    def normalised(self) -> np.ndarray:
        return self.errors_px / self.torso_diameters[:, None]

    def pck(self, fraction: float = PCK_FRACTION) -> float:
        return float((self.normalised <= fraction).mean())

    def pck_per_joint(self, fraction: float = PCK_FRACTION) -> np.ndarray:
        return (self.normalised <= fraction).mean(axis=0)

    def table(self) -> str:
        lines = [f"| joint | mean error (px) | PCK@{PCK_FRACTION} |", "|---|---:|---:|"]
        for j, name in enumerate(JOINT_NAMES):
            lines.append(f"| {name} | {self.errors_px[:, j].mean():.1f} | {self.pck_per_joint()[j]:.3f} |")
        lines.append(f"| **all** | **{self.errors_px.mean():.1f}** | **{self.pck():.3f}** |")
        return "\n".join(lines)


def load_annotated_frames(folder: str | Path) -> list[tuple[Path, np.ndarray]]:
    """(frame path, (14, 2) 0-based joints) for every annotated frame of the fixture."""
    from poseeditor.pose_io import read_paper_mat

    folder = Path(folder)
    mats = sorted((folder / "info").glob("*.mat"))
    if not mats:
        raise FileNotFoundError(f"{folder}/info/*.mat: no annotation file")
    joints = read_paper_mat(mats[0]).joints
    return [(folder / "frames" / f"{i + 1}.jpg", joints[i]) for i in range(len(joints))]


def torso_diameter(joints: np.ndarray) -> float:
    mid_hip = (joints[8] + joints[11]) / 2.0
    return 2.0 * float(np.linalg.norm(joints[1] - mid_hip))


def evaluate(folder: str | Path, detector=None) -> AccuracyReport:
    from poseeditor.detector import default_detector
    from poseeditor.image_io import load_image

    detector = detector or default_detector()
    errors, torsos, detections = [], [], []
    for path, truth in load_annotated_frames(folder):
        found = detector.detect(load_image(path), with_mask=False)
        detections.append(found)
        errors.append(np.linalg.norm(found.pose.xy - truth, axis=1))
        torsos.append(torso_diameter(truth))
    return AccuracyReport(np.array(errors), np.array(torsos), detections)


def calibrate_head_and_neck(report: AccuracyReport, folder: str | Path) -> tuple[float, float]:
    """Least-squares factors f in joint = shoulder_mid + f·(ear_mid − shoulder_mid), for the neck and head top."""
    from poseeditor.detector.landmarks import LEFT_EAR, LEFT_SHOULDER, RIGHT_EAR, RIGHT_SHOULDER

    num = {"neck": 0.0, "head": 0.0}
    den = 0.0
    for found, (_, truth) in zip(report.detections, load_annotated_frames(folder)):
        shoulder_mid = found.landmarks[[LEFT_SHOULDER, RIGHT_SHOULDER]].mean(0)
        up = found.landmarks[[LEFT_EAR, RIGHT_EAR]].mean(0) - shoulder_mid
        num["neck"] += float(up @ (truth[1] - shoulder_mid))
        num["head"] += float(up @ (truth[0] - shoulder_mid))
        den += float(up @ up)
    return num["neck"] / den, num["head"] / den


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Detector accuracy on annotated frames (paper's layout).")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--calibrate", action="store_true", help="print the least-squares neck/head factors")
    args = parser.parse_args(argv)
    report = evaluate(args.folder)
    print(report.table())
    if args.calibrate:
        neck, head = calibrate_head_and_neck(report, args.folder)
        print(f"NECK_FROM_EARS = {neck:.3f}\nHEAD_FROM_EARS = {head:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
