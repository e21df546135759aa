"""List frames where a wrist lies in front of the torso (issue 11), as entries for tools/real_frames.py lists.

    python tools/find_arm_in_front.py --dataset /work/shared/data/posewarp-tennis \
        --video pose2sim_demo/cam01.mp4 --video sports2d_demo/demo.mp4 --stride 5

Dataset frames use their annotated joints; video frames are decoded every `--stride`-th frame and posed by the
detector (`poseeditor.detector`, niced CPU). Prints one entry a line with the in-front arm and its score
(`arm_in_front.arm_in_front_score`: the wrist's depth inside the torso quadrilateral, in torso heights; > 0 inside),
best first per source; frames where neither wrist is within IN_FRONT are left out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arm_in_front import pick_arm_in_front  # noqa: E402
from real_frames import VIDEOS, detect_pose  # noqa: E402

from poseeditor.errors import PoseEditorError  # noqa: E402


def scan_dataset(root: str) -> list[tuple[float, str]]:
    from trainer.data.dataset_format import read_dataset

    found = []
    for record in read_dataset(root):
        for index in range(len(record.frame_paths)):
            try:
                side, score = pick_arm_in_front(record.joints[index], record.visible[index])
            except PoseEditorError:
                continue
            found.append((score, f"dataset {root} {record.name} {index} arm={side}"))
    return found


def scan_video(path: str, videos_dir: Path, stride: int, confidence: float) -> list[tuple[float, str]]:
    full = Path(path).expanduser()
    full = full if full.is_absolute() else videos_dir / full
    capture = cv2.VideoCapture(str(full))
    if not capture.isOpened():
        raise PoseEditorError(f"{full}: cannot open the video")
    found, index = [], 0
    try:
        while True:
            if index % stride:
                if not capture.grab():
                    break
                index += 1
                continue
            ok, frame = capture.read()
            if not ok:
                break
            try:
                pose = detect_pose(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                arm_conf = pose.confidence
                side, score = pick_arm_in_front(pose.xy, pose.visible)
                if arm_conf is not None:
                    joints = (2, 3, 4) if side == "r" else (5, 6, 7)
                    if min(float(arm_conf[j]) for j in joints) < confidence:
                        raise PoseEditorError("unsure arm")
                found.append((score, f"video {path} {index} arm={side}"))
            except PoseEditorError:
                pass
            index += 1
    finally:
        capture.release()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", default=[], help="dataset folder (repeatable)")
    parser.add_argument("--video", action="append", default=[], help="video, relative to --videos (repeatable)")
    parser.add_argument("--videos", type=Path, default=VIDEOS)
    parser.add_argument("--stride", type=int, default=5)
    parser.add_argument("--min-confidence", type=float, default=0.5, help="detector confidence of the arm's joints")
    parser.add_argument("--top", type=int, default=5, help="entries printed per dataset or video")
    args = parser.parse_args()
    for root in args.dataset:
        for score, entry in sorted(scan_dataset(root), reverse=True)[: args.top]:
            print(f"{entry}  # score {score:+.2f}")
    for video in args.video:
        for score, entry in sorted(scan_video(video, args.videos, args.stride, args.min_confidence),
                                   reverse=True)[: args.top]:
            print(f"{entry}  # score {score:+.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
