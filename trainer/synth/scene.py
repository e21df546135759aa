"""One synthetic "video": one dressed person, one still camera, one background, lighting, a smooth motion.

`render_video(body, seed, n_frames, size)` returns the frames with their annotations; everything is drawn
from `numpy.random.default_rng(seed)` (and torch's generator seeded from it for anny's phenotype sampler),
so the same seed gives identical pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from poseeditor.skeleton import LIMB_NAMES, NUM_JOINTS
from trainer.synth import appearance, motion, shells
from trainer.synth.backgrounds import ground_shadow, make_background
from trainer.synth.body import BodyModel
from trainer.synth.raster import interpolate, rasterize

PART = {name: i + 1 for i, name in enumerate(LIMB_NAMES)}
# The layers a joint belongs to: a joint is visible when its pixel shows one of them near the joint's depth.
JOINT_LAYERS: tuple[tuple[int, ...], ...] = (
    (PART["head"],),
    (PART["head"], PART["torso"]),
    (PART["torso"], PART["r_upper_arm"]),
    (PART["r_upper_arm"], PART["r_forearm"]),
    (PART["r_forearm"],),
    (PART["torso"], PART["l_upper_arm"]),
    (PART["l_upper_arm"], PART["l_forearm"]),
    (PART["l_forearm"],),
    (PART["torso"], PART["r_thigh"]),
    (PART["r_thigh"], PART["r_shin"]),
    (PART["r_shin"],),
    (PART["torso"], PART["l_thigh"]),
    (PART["l_thigh"], PART["l_shin"]),
    (PART["l_shin"],),
)
VISIBILITY_DEPTH = 0.16  # metres: a joint lies at most this far behind its own limb's surface


@dataclass
class Frame:
    image: np.ndarray  # (S, S, 3) uint8 RGB
    joints: np.ndarray  # (14, 2) float, pixels
    visible: np.ndarray  # (14,) bool
    parts: np.ndarray  # (S, S) uint8, 0 background, 1..10 LIMBS order
    mask: np.ndarray  # (S, S) uint8, 0 / 255


@dataclass
class Camera:
    position: np.ndarray
    right: np.ndarray
    down: np.ndarray
    forward: np.ndarray
    focal: float
    centre: np.ndarray

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rel = points - self.position
        z = rel @ self.forward
        zs = np.maximum(z, 1e-4)
        x = self.centre[0] + self.focal * (rel @ self.right) / zs
        y = self.centre[1] + self.focal * (rel @ self.down) / zs
        return np.stack([x, y], -1), z


def _look_at(position: np.ndarray, target: np.ndarray, roll_deg: float, focal: float, size: int) -> Camera:
    forward = target - position
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    r = np.deg2rad(roll_deg)
    right, down = np.cos(r) * right + np.sin(r) * down, -np.sin(r) * right + np.cos(r) * down
    return Camera(position, right, down, forward, focal, np.array([(size - 1) / 2, (size - 1) / 2]))


def vertex_normals(vertices: np.ndarray, faces: np.ndarray, incidence=None) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Area-weighted vertex normals. Pass `incidence_matrix(faces, V)` when calling repeatedly on one mesh:
    the face-to-vertex sum is then one sparse product."""
    a = vertices[faces[:, 1]] - vertices[faces[:, 0]]
    b = vertices[faces[:, 2]] - vertices[faces[:, 0]]
    fn = np.stack([a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1], a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
                   a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]], 1)
    if incidence is None:
        incidence = incidence_matrix(faces, len(vertices))
    n = np.asarray(incidence @ fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


SHADOW_MAP_SIZE = 160
SHADOW_BIAS = 0.03  # metres: keeps lit surfaces from shadowing themselves ("shadow acne")
SHADOW_DARKNESS = 0.85


def self_shadow(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray, light_dir: np.ndarray) -> np.ndarray:
    """Fraction (N,) in [0, 1] of each 3-D point's neighbourhood that the body shadows from a directional light
    (orthographic shadow map of `vertices`, 3×3 percentage-closer filtering for soft edges)."""
    forward = -light_dir / np.linalg.norm(light_dir)
    helper = np.array([0.0, 0.0, 1.0]) if abs(forward[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    right = np.cross(forward, helper)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    uv = np.stack([vertices @ right, vertices @ down], 1)
    lo = uv.min(0) - 0.05
    scale = (SHADOW_MAP_SIZE - 1) / max(float((uv.max(0) + 0.05 - lo).max()), 1e-6)
    depth = vertices @ forward
    offset = depth.min() - 1.0  # keep depths positive for the rasteriser
    shadow_map = rasterize((uv - lo) * scale, depth - offset, faces, SHADOW_MAP_SIZE, SHADOW_MAP_SIZE,
                           cull_backfaces=False).depth
    puv = (np.stack([points @ right, points @ down], 1) - lo) * scale
    pd = points @ forward - offset
    shadowed = np.zeros(len(points))
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            x = np.clip(np.round(puv[:, 0]).astype(int) + dx, 0, SHADOW_MAP_SIZE - 1)
            y = np.clip(np.round(puv[:, 1]).astype(int) + dy, 0, SHADOW_MAP_SIZE - 1)
            shadowed += pd > shadow_map[y, x] + SHADOW_BIAS
    return shadowed / 9


def incidence_matrix(faces: np.ndarray, n_vertices: int):  # type: ignore[no-untyped-def]
    """Sparse (V, F) matrix with a 1 where a vertex belongs to a face."""
    import scipy.sparse as sp

    rows = faces.reshape(-1)
    cols = np.repeat(np.arange(len(faces)), 3)
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_vertices, len(faces)))


def colour_temperature(kelvin: float) -> np.ndarray:
    """Approximate RGB tint of a black body (normalised to max 1), 2500-10000 K."""
    t = kelvin / 100
    r = 1.0 if t <= 66 else np.clip(1.292936 * (t - 60) ** -0.1332047, 0, 1)
    g = np.clip((0.39008158 * np.log(t) - 0.63184144) if t <= 66 else 1.1298909 * (t - 60) ** -0.0755148, 0, 1)
    b = 1.0 if t >= 66 else (0.0 if t <= 19 else np.clip(0.5432068 * np.log(t - 10) - 1.19625409, 0, 1))
    rgb = np.array([r, g, b], float)
    return rgb / rgb.max()


def render_video(body: BodyModel, seed: int, n_frames: int, size: int = 256,
                 motion_type: str | None = None, motion_mix: str = "v1") -> tuple[list[Frame], dict]:
    """Render one synthetic video; returns its frames and a description (for the info file / debugging)."""
    rng = np.random.default_rng(seed)
    phenotype, age = body.sample_phenotype(int(rng.integers(2**31)))
    kind, dofs = motion.sample_motion(rng, n_frames, motion_type, motion_mix)
    shape = body.rest_shape(phenotype)
    rest_joints = body.joints_3d(shape.rest_vertices[None], shape.rest_bone_heads[None])[0]
    rest_normals = vertex_normals(shape.rest_vertices, body.faces)
    outfit = appearance.dress_body(rng, shape.rest_vertices, body.vertex_parts, rest_normals, rest_joints,
                                   body.eye_vertices, phenotype["gender"])

    dofs = motion.ankle_compensation(dofs)
    torso_radius = 0.5 * float(np.ptp(shape.rest_vertices[body.vertex_parts == PART["torso"], 1])) * 0.8
    for _ in range(3):
        rotations = motion.local_rotations(dofs, body.bone_index, shape.rest_bone_heads, len(body.bone_labels))
        vertices, bone_heads, rest_used, bone_transforms = body.pose(phenotype, rotations, outfit.offsets)
        joints3d = body.joints_3d(vertices, bone_heads)
        bad = motion.self_intersections(joints3d, torso_radius)
        if not any(b.any() for b in bad.values()):
            break
        dofs = motion.push_apart(dofs, bad)

    # Skirts and long hair are extra open surfaces skinned with the same bone transforms.
    body_shells = []
    if outfit.skirt:
        body_shells.append(shells.make_skirt(rng, shape.rest_vertices, body.vertex_parts, rest_joints, outfit.waist_z,
                                             body.bone_index, appearance.BOTTOM))
    if outfit.hair_length >= 0.25:
        body_shells.append(shells.make_long_hair(rng, shape.rest_vertices, body.vertex_parts, rest_joints,
                                                 outfit.eye_centre, outfit.hair_length, body.bone_index,
                                                 appearance.HAIR))
    faces, face_parts, vertex_material, double_sided = body.faces, body.face_parts, outfit.material, None
    if body_shells:
        n_body = len(rest_used)
        offsets = np.cumsum([n_body] + [len(sh.rest_vertices) for sh in body_shells])
        vertices = np.concatenate([vertices] + [sh.skin(bone_transforms) for sh in body_shells], 1)
        rest_used = np.concatenate([rest_used] + [sh.rest_vertices for sh in body_shells])
        faces = np.concatenate([body.faces] + [sh.faces + off for sh, off in zip(body_shells, offsets[:-1])])
        face_parts = np.concatenate([body.face_parts] + [sh.face_parts for sh in body_shells])
        vertex_material = np.concatenate([outfit.material] + [np.full(len(sh.rest_vertices), sh.material, np.uint8)
                                                              for sh in body_shells])
        double_sided = np.zeros(len(faces), bool)
        double_sided[len(body.faces):] = True

    # Stand on the ground (z = 0) every frame; walk or shuffle a little across the floor.
    drift = np.cumsum(rng.normal(0, 0.03, (n_frames, 2)), 0) * (kind == "walk" or rng.random() < 0.3)
    lift = vertices[:, : len(body.vertex_parts), 2].min(1)
    shift = np.zeros((n_frames, 1, 3), np.float32)
    shift[:, 0, :2] = drift
    shift[:, 0, 2] = -lift
    vertices = vertices + shift
    joints3d = joints3d + shift
    height = float(np.ptp(shape.rest_vertices[:, 2]))

    # Camera: anywhere around the person, 2-7 m away, at 0.4-2.2 m height, aimed at the body with a small
    # random offset and roll; the focal length makes the standing person 55-95 % of the frame height, or for
    # one video in ten 95-135 % (a tight shot that cuts off hands, feet or head: out-of-frame joints happen).
    azimuth = rng.uniform(0, 2 * np.pi) if rng.random() < 0.6 else rng.normal(np.pi * 1.5, 0.5)
    distance = rng.uniform(2.0, 7.0)
    cam_height = rng.uniform(0.4, 2.2)
    centre = vertices[:, :, :].reshape(-1, 3).mean(0)
    centre[2] = height * rng.uniform(0.42, 0.58)
    position = centre + np.array([np.cos(azimuth) * distance, np.sin(azimuth) * distance, 0.0])
    position[2] = cam_height
    target = centre + rng.normal(0, 0.05 * height, 3)
    fill = rng.uniform(0.55, 0.95) if rng.random() > 0.1 else rng.uniform(0.95, 1.35)
    focal = fill * size * distance / (height * 1.1)
    cam = _look_at(position, target, rng.normal(0, 2.5), focal, size)
    horizon = float(cam.centre[1] - cam.focal * cam.forward[2] / max(np.hypot(cam.forward[0], cam.forward[1]), 1e-3))

    background, bg_kind = make_background(rng, size, horizon)
    # Key light from the camera's side of the person (a back-lit figure is mostly a silhouette), from above.
    key_dir = -cam.forward * rng.uniform(0.3, 1.2) + cam.right * rng.normal(0, 0.8) + np.array([0, 0, rng.uniform(0.3, 1.2)])
    key_dir /= np.linalg.norm(key_dir)
    key_colour = colour_temperature(rng.uniform(2800, 8000)) * rng.uniform(0.75, 1.1)
    ambient_colour = colour_temperature(rng.uniform(4500, 11000)) * rng.uniform(0.35, 0.6)
    exposure = rng.uniform(0.85, 1.15)
    noise_sigma = rng.uniform(0.5, 3.0) / 255
    shadow_strength = rng.uniform(0.0, 0.45) if bg_kind != "abstract" else 0.0
    texture_seed = int(rng.integers(2**31))
    shadows = rng.random() < 0.85  # overcast / diffuse light for the rest

    incidence = incidence_matrix(faces, vertices.shape[1])
    material_onehot = np.eye(len(appearance.MATERIAL_NAMES), dtype=np.float32)[vertex_material]
    frames = []
    for k in range(n_frames):
        v = vertices[k]
        xy, z = cam.project(v)
        raster = rasterize(xy, z, faces, size, size, double_sided=double_sided)
        mask = raster.mask
        parts = np.zeros((size, size), np.uint8)
        parts[mask] = face_parts[raster.face[mask]]

        # Shading: Lambert key light + hemispheric ambient + a little specular on skin and shoes.
        normals = vertex_normals(v, faces, incidence)
        n = interpolate(raster, faces, normals)
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
        if double_sided is not None:  # the inside of a shell faces the camera: light its inner side
            flip = double_sided[raster.face[mask]] & (n @ cam.forward > 0)
            n[flip] *= -1
        rest_pos = interpolate(raster, faces, rest_used)
        # Interpolated one-hot materials, then argmax: garment edges run straight across triangles instead of
        # following their sawtooth outline.
        material = np.argmax(interpolate(raster, faces, material_onehot), 1).astype(np.uint8)
        base = appearance.albedo(outfit, material, rest_pos, texture_seed)
        lambert = np.clip(n @ key_dir, 0, None)[:, None]
        if shadows:  # the body's own cast shadows (an arm on the torso), from a shadow map of the key light
            lit = 1.0 - SHADOW_DARKNESS * self_shadow(v, faces, interpolate(raster, faces, v), key_dir)
            lambert = lambert * lit[:, None]
        hemi = (0.65 + 0.35 * n[:, 2])[:, None]
        view = -cam.forward
        half = key_dir + view
        half /= np.linalg.norm(half)
        spec_w = np.where(np.isin(material, (appearance.SKIN, appearance.LIPS)), 0.08,
                          np.where(material == appearance.SHOES, 0.25, 0.02))[:, None]
        spec = spec_w * np.clip(n @ half, 0, None)[:, None] ** 24
        person = base * (ambient_colour * hemi + key_colour * lambert) + spec * key_colour

        feet = cam.project(joints3d[k, [10, 13]])[0]
        bg = ground_shadow(background, feet, 0.25 * focal * height / distance, shadow_strength)
        img = bg.copy()
        img[mask] = person.astype(np.float32)
        # Anti-aliased silhouette: blend across the one-pixel border only (the mask itself stays binary).
        alpha = cv2.blur(mask.astype(np.float32), (3, 3))
        border = (alpha > 0) & (alpha < 1)
        soft = cv2.blur(img, (3, 3))
        img[border] = soft[border]
        img = img * exposure + rng.standard_normal(img.shape, dtype=np.float32) * noise_sigma
        image = (np.clip(img, 0, 1) ** (1 / 1.1) * 255 + 0.5).astype(np.uint8)

        jxy, jz = cam.project(joints3d[k])
        visible = _joint_visibility(jxy, jz, raster.depth, parts, size)
        frames.append(Frame(image=image, joints=jxy, visible=visible, parts=parts, mask=(mask * 255).astype(np.uint8)))

    info = {"seed": seed, "motion": kind, "background": bg_kind, "age": round(age, 1),
            "phenotype": {k: round(v, 3) for k, v in phenotype.items()}, "outfit": outfit.description,
            "camera": {"distance_m": round(distance, 2), "height_m": round(cam_height, 2),
                       "azimuth_deg": round(float(np.rad2deg(azimuth)) % 360, 1)}}
    return frames, info


def _joint_visibility(xy: np.ndarray, z: np.ndarray, depth: np.ndarray, parts: np.ndarray, size: int) -> np.ndarray:
    """A joint is visible when it is in the frame and, within 2 px of it, the z-buffer shows one of the joint's
    own layers no more than VISIBILITY_DEPTH in front of it (otherwise another body part hides it)."""
    visible = np.zeros(NUM_JOINTS, bool)
    for j in range(NUM_JOINTS):
        x, y = xy[j]
        if not (0 <= x <= size - 1 and 0 <= y <= size - 1) or z[j] <= 0:
            continue
        xi, yi = int(np.rint(x)), int(np.rint(y))
        y0, y1, x0, x1 = max(yi - 2, 0), min(yi + 3, size), max(xi - 2, 0), min(xi + 3, size)
        win_parts = parts[y0:y1, x0:x1]
        win_depth = depth[y0:y1, x0:x1]
        own = np.isin(win_parts, JOINT_LAYERS[j]) & (win_depth > z[j] - VISIBILITY_DEPTH)
        visible[j] = bool(own.any())
    return visible
