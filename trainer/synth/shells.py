"""Extra garment geometry the body mesh cannot express by painting: skirts/dresses and long hair.

Each is an open surface of revolution ("shell") around a vertical axis, built on the person's rest mesh and
skinned with its own bone weights (linear blend skinning with anny's bone transforms), so it moves with the
pelvis/legs (skirt) or the head and upper back (hair). Shells are rendered double-sided.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poseeditor.skeleton import LIMB_NAMES

PART = {name: i + 1 for i, name in enumerate(LIMB_NAMES)}


@dataclass
class Shell:
    rest_vertices: np.ndarray  # (n, 3)
    faces: np.ndarray  # (m, 3), indices into rest_vertices
    bone_indices: np.ndarray  # (n, k)
    bone_weights: np.ndarray  # (n, k), rows sum to 1
    material: int
    face_parts: np.ndarray  # (m,) uint8 layer of each triangle

    def skin(self, bone_transforms: np.ndarray) -> np.ndarray:
        """(T, 104, 4, 4) anny bone transforms -> posed vertices (T, n, 3)."""
        t = bone_transforms[:, self.bone_indices]  # (T, n, k, 4, 4)
        v = np.concatenate([self.rest_vertices, np.ones((len(self.rest_vertices), 1))], 1)
        moved = np.einsum("tnkij,nj->tnki", t[..., :3, :], v)
        return np.einsum("tnki,nk->tni", moved, self.bone_weights).astype(np.float32)


def _grid_faces(rings: int, segments: int) -> np.ndarray:
    faces = []
    for r in range(rings - 1):
        for s in range(segments - 1):
            a = r * segments + s
            b, c, d = a + 1, a + segments, a + segments + 1
            faces += [(a, c, b), (b, c, d)]
    return np.asarray(faces, np.int32)


def _ellipse_extent(points: np.ndarray, z: float, band: float = 0.03) -> tuple[float, float, float, float]:
    """Centre (x, y) and half-widths (x, y) of the body's cross-section around height z."""
    sel = points[np.abs(points[:, 2] - z) < band]
    if len(sel) < 10:
        return 0.0, 0.0, 0.15, 0.1
    cx, cy = 0.5 * (sel[:, 0].max() + sel[:, 0].min()), 0.5 * (sel[:, 1].max() + sel[:, 1].min())
    return cx, cy, 0.5 * np.ptp(sel[:, 0]), 0.5 * np.ptp(sel[:, 1])


def make_skirt(rng: np.random.Generator, rest_vertices: np.ndarray, vertex_parts: np.ndarray, joints: np.ndarray,
               waist_z: float, bone_index: dict[str, int], material: int) -> Shell:
    """A flared skirt from the waist to a random hem between mid-thigh and mid-shin."""
    hips_z = 0.5 * (joints[8, 2] + joints[11, 2])
    knee_z = 0.5 * (joints[9, 2] + joints[12, 2])
    ankle_z = 0.5 * (joints[10, 2] + joints[13, 2])
    hem_z = float(rng.uniform(knee_z - 0.5 * (knee_z - ankle_z), knee_z + 0.5 * (hips_z - knee_z)))
    hem_z = min(hem_z, waist_z - 0.15)
    torso_and_legs = np.isin(vertex_parts, [PART["torso"], PART["r_thigh"], PART["l_thigh"]])
    body = rest_vertices[torso_and_legs]
    rings, segments = 10, 40
    z = np.linspace(waist_z, hem_z, rings)
    cx, cy, wx, wy = _ellipse_extent(body, waist_z)
    _, _, hx, hy = _ellipse_extent(body, hips_z - 0.05)
    flare = rng.uniform(0.02, 0.12)
    theta = np.linspace(0, 2 * np.pi, segments)  # the seam at theta = 0 (closed by repeating the angle)
    verts = []
    for i, zi in enumerate(z):
        f = i / (rings - 1)
        # Follow the body down to the widest point of the hips, then flare out.
        rx = max(wx, hx) + 0.012 + flare * f
        ry = max(wy, hy) + 0.012 + flare * f * 0.8
        if zi > hips_z - 0.05:
            g = (waist_z - zi) / max(waist_z - (hips_z - 0.05), 1e-3)
            rx = wx + 0.01 + (max(wx, hx) - wx + 0.002) * g
            ry = wy + 0.01 + (max(wy, hy) - wy + 0.002) * g
        verts.append(np.stack([cx + rx * np.sin(theta), cy + ry * np.cos(theta), np.full(segments, zi)], 1))
    verts = np.concatenate(verts)
    # Weights: the upper part rides on the pelvis, the lower part increasingly on the thigh of its side.
    depth = np.clip((waist_z - verts[:, 2]) / max(waist_z - hem_z, 1e-3), 0, 1)
    side = 1 / (1 + np.exp(-verts[:, 0] / 0.04))  # 1 = body's left
    w_leg = 0.7 * depth**1.5
    weights = np.stack([1 - w_leg, w_leg * side, w_leg * (1 - side)], 1)
    bones = np.tile([bone_index["root"], bone_index["upperleg01.L"], bone_index["upperleg01.R"]], (len(verts), 1))
    faces = _grid_faces(rings, segments)
    centre_x = verts[faces, 0].mean(1)
    face_parts = np.where(centre_x > 0, PART["l_thigh"], PART["r_thigh"]).astype(np.uint8)
    return Shell(verts.astype(np.float32), faces, bones, weights, material, face_parts)


def make_long_hair(rng: np.random.Generator, rest_vertices: np.ndarray, vertex_parts: np.ndarray,
                   joints: np.ndarray, eye_centre: np.ndarray, length: float, bone_index: dict[str, int],
                   material: int) -> Shell:
    """A curtain of hair around the back and sides of the head, falling `length` metres below the ears."""
    head = rest_vertices[vertex_parts == PART["head"]]
    top_z = eye_centre[2] + 0.02
    bottom_z = eye_centre[2] - 0.05 - length
    cx, cy, wx, wy = _ellipse_extent(head, top_z, 0.02)
    rings, segments = 10, 28
    # Angles measured from the back of the head (+y); the face (front, -y) stays open.
    open_half = np.deg2rad(rng.uniform(55, 75))
    theta = np.linspace(-np.pi + open_half, np.pi - open_half, segments)
    spread = rng.uniform(0.01, 0.05)
    verts = []
    for i in range(rings):
        f = i / (rings - 1)
        zi = top_z + (bottom_z - top_z) * f
        rx = wx + 0.012 + spread * f + 0.03 * max(0.0, f - 0.5)
        ry = wy + 0.012 + spread * f * 0.5
        verts.append(np.stack([cx + rx * np.sin(theta), cy + ry * np.cos(theta) + 0.01 * f, np.full(segments, zi)], 1))
    verts = np.concatenate(verts)
    depth = np.clip((top_z - verts[:, 2]) / max(top_z - bottom_z, 1e-3), 0, 1)
    weights = np.stack([1 - depth, depth * 0.6, depth * 0.4], 1)
    bones = np.tile([bone_index["head"], bone_index["neck01"], bone_index["spine01"]], (len(verts), 1))
    faces = _grid_faces(rings, segments)
    return Shell(verts.astype(np.float32), faces, bones, weights, material,
                 np.full(len(faces), PART["head"], np.uint8))
