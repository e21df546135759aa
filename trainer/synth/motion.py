"""Smooth motions through a pose space with joint limits: walking, squats, swings, serves, reaching, waving
and free random walks.

A pose is a vector of named degrees of freedom (DOFS, degrees), each a rotation of one anny bone about an
axis of anny's rest frame (x = body's left, y = back, z = up; "local-ref" parameterisation, see body.py).
Signs are chosen so that positive means flexion / abduction / forward bend for both sides.

A motion is a function of time t (seconds) -> DOF vector; each video samples one motion type with random
amplitudes and phases, adds a smooth random walk (a few low-frequency sinusoids per DOF), and clips to the
limits. Self-intersection is not tested on the mesh (anny's SelfInterpenetrationModule needs warp-lang,
392 MB); a cheap proxy on joint positions (collision.py-free, `arm_inside_torso`) rejects arms through the
torso and crossed legs, and pushes the offending arm/leg outwards until the proxy passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MOTION_TYPES: tuple[str, ...] = ("walk", "squat", "swing", "serve", "reach", "wave", "random", "cross")

# Named mixes of motion types (probabilities in MOTION_TYPES order). "v1" is the mix synth_v1 was made with
# (no "cross"), kept so old seeds still give the same files; "arms" (issue 11) makes a third of the videos
# arms-in-front-of-the-body motions, the case the first model's segmentation failed on.
MOTION_MIXES: dict[str, tuple[float, ...]] = {
    "v1": (0.18, 0.12, 0.16, 0.14, 0.14, 0.1, 0.16, 0.0),
    "arms": (0.10, 0.07, 0.13, 0.10, 0.10, 0.07, 0.10, 0.33),
}


@dataclass(frozen=True)
class Dof:
    name: str
    bone: str
    axis: str  # "x", "y", "z" (rest-frame axes) or "elbow" (the hinge axis perpendicular to the forearm)
    sign: float  # multiplies the angle so that positive = flexion/abduction on both sides
    low: float
    high: float


def _side_dofs(side: str) -> list[Dof]:
    s = side.upper()
    mirror = -1.0 if side == "l" else 1.0  # abduction is a rotation of opposite sign on the two sides
    return [
        Dof(f"{side}_shoulder_flex", f"upperarm01.{s}", "x", -1.0, -50.0, 165.0),
        Dof(f"{side}_shoulder_abd", f"upperarm01.{s}", "y", mirror, -30.0, 135.0),
        Dof(f"{side}_shoulder_twist", f"upperarm01.{s}", "z", mirror, -45.0, 45.0),
        Dof(f"{side}_elbow_flex", f"lowerarm01.{s}", "elbow", 1.0, 0.0, 145.0),
        Dof(f"{side}_wrist_flex", f"wrist.{s}", "x", -1.0, -40.0, 40.0),
        Dof(f"{side}_hip_flex", f"upperleg01.{s}", "x", -1.0, -25.0, 120.0),
        Dof(f"{side}_hip_abd", f"upperleg01.{s}", "y", mirror, -12.0, 45.0),
        Dof(f"{side}_hip_twist", f"upperleg01.{s}", "z", mirror, -30.0, 30.0),
        Dof(f"{side}_knee_flex", f"lowerleg01.{s}", "x", 1.0, 0.0, 140.0),
        Dof(f"{side}_ankle_flex", f"foot.{s}", "x", -1.0, -40.0, 40.0),
    ]


DOFS: tuple[Dof, ...] = (
    *_side_dofs("r"),
    *_side_dofs("l"),
    # The trunk bend is spread over three spine bones (each gets a third), which bends it smoothly.
    Dof("spine_bend", "spine02", "x", 1.0, -25.0, 75.0),
    Dof("spine_side", "spine02", "y", 1.0, -30.0, 30.0),
    Dof("spine_twist", "spine02", "z", 1.0, -50.0, 50.0),
    Dof("neck_nod", "neck01", "x", 1.0, -35.0, 45.0),
    Dof("neck_side", "neck01", "y", 1.0, -25.0, 25.0),
    Dof("neck_turn", "neck01", "z", 1.0, -60.0, 60.0),
)
DOF_INDEX = {d.name: i for i, d in enumerate(DOFS)}
DOF_LOW = np.array([d.low for d in DOFS])
DOF_HIGH = np.array([d.high for d in DOFS])
SPINE_BONES = ("spine04", "spine03", "spine02")


def rotation(axis: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    """Rodrigues: (..., 3, 3) rotations by `degrees` (...) about the unit `axis` (3,)."""
    a = np.deg2rad(np.asarray(degrees, np.float64))[..., None, None]
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]], np.float64)
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * (k @ k)


AXES = {"x": np.array([1.0, 0, 0]), "y": np.array([0, 1.0, 0]), "z": np.array([0, 0, 1.0])}


def local_rotations(dofs: np.ndarray, bone_index: dict[str, int], rest_bone_heads: np.ndarray,
                    n_bones: int) -> np.ndarray:
    """DOF vectors (T, D) -> anny local-ref rotations (T, n_bones, 3, 3) (identity for bones without DOFs)."""
    n = dofs.shape[0]
    out = np.tile(np.eye(3), (n, n_bones, 1, 1))
    forward = np.array([0.0, -1.0, 0.0])
    for i, dof in enumerate(DOFS):
        angle = dof.sign * dofs[:, i]
        if dof.axis == "elbow":
            side = dof.bone[-1]
            forearm = rest_bone_heads[bone_index[f"wrist.{side}"]] - rest_bone_heads[bone_index[f"lowerarm01.{side}"]]
            axis = np.cross(forearm, forward)
            axis = axis / np.linalg.norm(axis)
        else:
            axis = AXES[dof.axis]
        bones = SPINE_BONES if dof.bone == "spine02" else (dof.bone,)
        for bone in bones:
            r = rotation(axis, angle / len(bones))
            b = bone_index[bone]
            out[:, b] = out[:, b] @ r
    return out.astype(np.float32)


# --- motions -------------------------------------------------------------------------------------------

def _zeros(n: int) -> np.ndarray:
    return np.zeros((n, len(DOFS)))


def _set(p: np.ndarray, name: str, value: np.ndarray | float) -> None:
    p[:, DOF_INDEX[name]] += value


def _walk(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    p = _zeros(len(t))
    freq = rng.uniform(0.7, 1.4)  # strides per second; a run when the amplitude is large
    amp = rng.uniform(15, 40)
    ph = 2 * np.pi * freq * t
    for side, off in (("r", 0.0), ("l", np.pi)):
        _set(p, f"{side}_hip_flex", amp * np.sin(ph + off))
        _set(p, f"{side}_knee_flex", (amp * 1.6) * np.clip(np.sin(ph + off + 1.2), 0, None) + 5)
        _set(p, f"{side}_shoulder_flex", -amp * 0.8 * np.sin(ph + off))
        _set(p, f"{side}_shoulder_abd", -rng.uniform(15, 30))
        _set(p, f"{side}_elbow_flex", rng.uniform(10, 30) + (amp * 1.5 if amp > 32 else 0))
    _set(p, "spine_twist", 6 * np.sin(ph))
    return p


def _squat(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    p = _zeros(len(t))
    depth = 0.5 - 0.5 * np.cos(2 * np.pi * rng.uniform(0.2, 0.5) * t)
    knee = depth * rng.uniform(70, 130)
    hip = knee * rng.uniform(0.7, 0.95)
    for side in ("r", "l"):
        _set(p, f"{side}_knee_flex", knee)
        _set(p, f"{side}_hip_flex", hip)
        _set(p, f"{side}_hip_abd", rng.uniform(0, 20))
        _set(p, f"{side}_shoulder_flex", depth * rng.uniform(40, 100))
        _set(p, f"{side}_shoulder_abd", -15)
    _set(p, "spine_bend", depth * rng.uniform(10, 40))
    return p


def _swing(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A forehand / golf / baseball swing: trunk twist with both arms across the body."""
    p = _zeros(len(t))
    s = np.sin(2 * np.pi * rng.uniform(0.3, 0.6) * t + rng.uniform(0, 2 * np.pi))
    lead = rng.choice(["r", "l"])
    other = "l" if lead == "r" else "r"
    _set(p, "spine_twist", 45 * s * (1 if lead == "r" else -1))
    _set(p, "spine_bend", rng.uniform(0, 35))
    _set(p, f"{lead}_shoulder_flex", 70 + 25 * s)
    _set(p, f"{lead}_shoulder_abd", 20 + 50 * s)
    _set(p, f"{lead}_elbow_flex", 15 + 20 * (1 - s))
    _set(p, f"{other}_shoulder_flex", 50 - 25 * s)
    _set(p, f"{other}_shoulder_abd", 10 - 30 * s)
    _set(p, f"{other}_elbow_flex", 40 + 30 * s)
    for side in ("r", "l"):
        _set(p, f"{side}_knee_flex", rng.uniform(10, 35))
        _set(p, f"{side}_hip_flex", rng.uniform(5, 25))
        _set(p, f"{side}_hip_abd", rng.uniform(5, 20))
    return p


def _serve(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A serve / throw: one arm goes overhead with the elbow cocking and extending, the other tosses."""
    p = _zeros(len(t))
    phase = (rng.uniform(0.25, 0.5) * t + rng.uniform(0, 1)) % 1.0
    up = np.clip(np.sin(np.pi * phase) * 1.4, 0, 1)
    cock = np.clip(np.sin(2 * np.pi * phase), 0, 1)
    arm = rng.choice(["r", "l"])
    toss = "l" if arm == "r" else "r"
    _set(p, f"{arm}_shoulder_flex", 40 + 110 * up)
    _set(p, f"{arm}_shoulder_abd", 20 + 60 * up)
    _set(p, f"{arm}_elbow_flex", 20 + 110 * cock)
    _set(p, f"{toss}_shoulder_flex", 150 * np.clip(1.5 - 2 * phase, 0, 1))
    _set(p, f"{toss}_elbow_flex", 10 + 30 * phase)
    _set(p, "spine_bend", -15 * up + 35 * np.clip(phase - 0.6, 0, 1) / 0.4)
    _set(p, "neck_nod", -25 * up)
    for side in ("r", "l"):
        _set(p, f"{side}_knee_flex", 40 * cock + 5)
        _set(p, f"{side}_hip_flex", 20 * cock)
    return p


def _reach(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    p = _zeros(len(t))
    s = 0.5 - 0.5 * np.cos(2 * np.pi * rng.uniform(0.2, 0.5) * t)
    arms = [rng.choice(["r", "l"])] if rng.random() < 0.6 else ["r", "l"]
    for arm in arms:
        _set(p, f"{arm}_shoulder_flex", s * rng.uniform(30, 165))
        _set(p, f"{arm}_shoulder_abd", s * rng.uniform(-10, 110))
        _set(p, f"{arm}_elbow_flex", (1 - s) * rng.uniform(0, 90))
    _set(p, "spine_bend", s * rng.uniform(-10, 60))
    _set(p, "spine_side", s * rng.uniform(-20, 20))
    _set(p, "spine_twist", s * rng.uniform(-30, 30))
    knee = s * rng.uniform(0, 60)
    for side in ("r", "l"):
        _set(p, f"{side}_knee_flex", knee)
        _set(p, f"{side}_hip_flex", knee * 0.8)
    return p


def _wave(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Waving, jumping jacks, arm circles: large arm motions with the legs apart."""
    p = _zeros(len(t))
    ph = 2 * np.pi * rng.uniform(0.4, 1.0) * t
    jacks = rng.random() < 0.5
    for side, off in (("r", 0.0), ("l", rng.choice([0.0, np.pi]))):
        s = 0.5 - 0.5 * np.cos(ph + off)
        _set(p, f"{side}_shoulder_abd", s * rng.uniform(60, 130) - 20)
        _set(p, f"{side}_shoulder_flex", s * rng.uniform(-10, 60))
        _set(p, f"{side}_elbow_flex", rng.uniform(0, 70) * (1 - s))
        if jacks:
            _set(p, f"{side}_hip_abd", s * 30)
    return p


def _random(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Free motion: random key poses (uniform in the middle of each joint's range) every 1-2.5 s, joined by
    smooth (cosine) interpolation: large, varied poses that no scripted motion covers."""
    n_keys = int(np.ceil((t.max() if len(t) else 0) / rng.uniform(1.0, 2.5))) + 2
    key_times = np.linspace(0, max(float(t.max()) if len(t) else 0.0, 1e-3), n_keys)
    centre = 0.5 * (DOF_LOW + DOF_HIGH)
    half = 0.5 * (DOF_HIGH - DOF_LOW) * 0.75
    # Trunk and neck extremes combined (bent, twisted and side-bent at once) look contorted: keep them milder.
    for name in ("spine_bend", "spine_side", "spine_twist", "neck_nod", "neck_side", "neck_turn", "r_hip_twist", "l_hip_twist"):
        half[DOF_INDEX[name]] *= 0.6
    keys = centre + rng.uniform(-1, 1, (n_keys, len(DOFS))) * half
    # Hips and knees stay near standing most of the time (people mostly stand), arms roam the whole range.
    for side in ("r", "l"):
        for name, top in ((f"{side}_hip_flex", 60.0), (f"{side}_knee_flex", 70.0)):
            keys[:, DOF_INDEX[name]] = rng.uniform(0, 1, n_keys) ** 2 * top
    idx = np.clip(np.searchsorted(key_times, t, side="right") - 1, 0, n_keys - 2)
    u = (t - key_times[idx]) / (key_times[idx + 1] - key_times[idx])
    w = (0.5 - 0.5 * np.cos(np.pi * u))[:, None]
    return keys[idx] * (1 - w) + keys[idx + 1] * w


# Arm poses that put the forearm and hand in front of the torso (degrees; "twist" > 0 turns the forearm in
# towards the belly when the elbow is bent): folded arms, a hand on the chest or belly, both hands together at
# the waist (golf address, a batter's or racket grip), a forearm across the chest. (flex, abd, twist, elbow)
_FRONT_POSES: tuple[tuple[float, float, float, float], ...] = (
    (15.0, -10.0, 45.0, 90.0),    # folded arms: forearms across the chest
    (10.0, -15.0, 45.0, 60.0),    # forearm across the belly
    (25.0, -25.0, 25.0, 30.0),    # hands together in front of the waist (golf address, a bat or racket grip)
    (45.0, -25.0, 20.0, 50.0),    # hands together in front of the chest
    (10.0, -20.0, 40.0, 115.0),   # hand on the chest
)


def _front_arm(rng: np.random.Generator) -> np.ndarray:
    """(flex, abd, twist, elbow) of one arm in front of the torso, a template with jitter."""
    base = np.array(_FRONT_POSES[int(rng.integers(len(_FRONT_POSES)))])
    return base + rng.normal(0.0, 1.0, 4) * np.array([8.0, 5.0, 6.0, 12.0])


def _cross(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Arms in front of the body and out of it: key poses every 0.8-2 s where each arm is either in front of
    the torso (folded, hand on the body, both hands gripping in front) or free anywhere in its range (raised,
    out, down), joined by cosine interpolation, so the pairs teach raising an arm from in front of the body
    (issue 11). Legs stay near standing; the trunk bends and twists a little (address / batting stances)."""
    duration = float(t.max()) if len(t) else 0.0
    n_keys = int(np.ceil(duration / rng.uniform(0.8, 2.0))) + 2
    key_times = np.linspace(0, max(duration, 1e-3), n_keys)
    keys = np.zeros((n_keys, len(DOFS)))
    free_p = rng.uniform(0.3, 0.6)  # how often an arm leaves the front at a key
    for k in range(n_keys):
        grip = rng.random() < 0.3  # both hands together in front, the same template mirrored
        shared = _front_arm(rng)
        for side in ("r", "l"):
            if not grip and rng.random() < free_p:
                flex = rng.uniform(-30, 165)
                abd = rng.uniform(-20, 120)
                twist = rng.uniform(-30, 30)
                elbow = rng.uniform(0, 120)
            else:
                flex, abd, twist, elbow = shared if grip else _front_arm(rng)
            keys[k, DOF_INDEX[f"{side}_shoulder_flex"]] = flex
            keys[k, DOF_INDEX[f"{side}_shoulder_abd"]] = abd
            keys[k, DOF_INDEX[f"{side}_shoulder_twist"]] = twist
            keys[k, DOF_INDEX[f"{side}_elbow_flex"]] = elbow
            keys[k, DOF_INDEX[f"{side}_wrist_flex"]] = rng.uniform(-20, 20)
            keys[k, DOF_INDEX[f"{side}_hip_flex"]] = rng.uniform(0, 1) ** 2 * 30
            keys[k, DOF_INDEX[f"{side}_knee_flex"]] = rng.uniform(0, 1) ** 2 * 35
            keys[k, DOF_INDEX[f"{side}_hip_abd"]] = rng.uniform(0, 15)
        keys[k, DOF_INDEX["spine_bend"]] = rng.uniform(-5, 35)
        keys[k, DOF_INDEX["spine_twist"]] = rng.uniform(-25, 25)
        keys[k, DOF_INDEX["neck_nod"]] = rng.uniform(-10, 25)
    idx = np.clip(np.searchsorted(key_times, t, side="right") - 1, 0, n_keys - 2)
    u = (t - key_times[idx]) / (key_times[idx + 1] - key_times[idx])
    w = (0.5 - 0.5 * np.cos(np.pi * u))[:, None]
    return keys[idx] * (1 - w) + keys[idx + 1] * w


MOTIONS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "walk": _walk, "squat": _squat, "swing": _swing, "serve": _serve, "reach": _reach, "wave": _wave,
    "random": _random, "cross": _cross,
}


def smooth_random_walk(t: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    """Per DOF a sum of three low-frequency sinusoids with random phases: smooth, bounded, seed-deterministic."""
    span = DOF_HIGH - DOF_LOW
    out = np.zeros((len(t), len(DOFS)))
    for _ in range(3):
        freq = rng.uniform(0.05, 0.4, len(DOFS))
        phase = rng.uniform(0, 2 * np.pi, len(DOFS))
        amp = rng.uniform(0.0, 1.0, len(DOFS)) * span * scale / 3
        out += amp * np.sin(2 * np.pi * freq * t[:, None] + phase)
    return out


def sample_motion(rng: np.random.Generator, n_frames: int, motion_type: str | None = None,
                  mix: str = "v1") -> tuple[str, np.ndarray]:
    """(motion type, DOF vectors (n_frames, D)) at random, increasing times over a few seconds of motion.

    Frames are spread over the whole motion (not consecutive video frames) so that any two frames of a video
    make a useful training pair.
    """
    if mix not in MOTION_MIXES:
        raise ValueError(f"unknown motion mix {mix!r}; known: {', '.join(MOTION_MIXES)}")
    if mix == "v1" and motion_type is None:  # exactly the draw synth_v1 was made with
        kind = str(rng.choice(MOTION_TYPES[:7], p=list(MOTION_MIXES["v1"][:7])))
    else:
        kind = motion_type or str(rng.choice(MOTION_TYPES, p=list(MOTION_MIXES[mix])))
    duration = rng.uniform(3.0, 10.0)
    t = np.sort(rng.uniform(0, duration, n_frames))
    base = MOTIONS[kind](t, rng)
    rest_bias = np.zeros(len(DOFS))
    # A relaxed stance: arms nearer the body than anny's A-pose, knees barely bent, a slight head tilt.
    for side in ("r", "l"):
        rest_bias[DOF_INDEX[f"{side}_shoulder_abd"]] = rng.uniform(-25, 5)
        rest_bias[DOF_INDEX[f"{side}_elbow_flex"]] = rng.uniform(5, 25)
        rest_bias[DOF_INDEX[f"{side}_knee_flex"]] = rng.uniform(0, 8)
    if kind == "cross":  # the templates are the arms' whole pose: no relaxed-stance offset (still drawn above)
        rest_bias[:] = 0.0
    noise_scale = 0.1 if kind in ("random", "cross") else 0.25
    dofs = base + rest_bias + smooth_random_walk(t, rng, noise_scale)
    dofs = np.clip(dofs, DOF_LOW, DOF_HIGH)
    return kind, dofs


def ankle_compensation(dofs: np.ndarray) -> np.ndarray:
    """Keep feet roughly parallel to the ground: the ankle undoes the thigh-plus-shin pitch (partly)."""
    out = dofs.copy()
    for side in ("r", "l"):
        pitch = dofs[:, DOF_INDEX[f"{side}_knee_flex"]] - dofs[:, DOF_INDEX[f"{side}_hip_flex"]]
        out[:, DOF_INDEX[f"{side}_ankle_flex"]] = np.clip(
            dofs[:, DOF_INDEX[f"{side}_ankle_flex"]] * 0.3 + pitch, DOF_LOW[DOF_INDEX[f"{side}_ankle_flex"]],
            DOF_HIGH[DOF_INDEX[f"{side}_ankle_flex"]]
        )
    return out


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of points p (..., 3) to the segment a-b (..., 3)."""
    ab = b - a
    u = np.clip(np.sum((p - a) * ab, -1) / np.maximum(np.sum(ab * ab, -1), 1e-9), 0, 1)
    return np.linalg.norm(p - (a + u[..., None] * ab), axis=-1)


def self_intersections(joints: np.ndarray, torso_radius: float) -> dict[str, np.ndarray]:
    """Proxy self-intersection test on contract joints (T, 14, 3): per limb a (T,) bool of frames to fix.

    An elbow or wrist nearer the spine segment (mid-hip to neck) than the torso's half depth is inside the
    torso; knees or ankles nearer each other than 10 cm are legs through each other.
    """
    neck = joints[:, 1]
    mid_hip = 0.5 * (joints[:, 8] + joints[:, 11])
    out = {}
    for side, (elbow, wrist) in (("r", (3, 4)), ("l", (6, 7))):
        d = np.minimum(_segment_distance(joints[:, elbow], mid_hip, neck), _segment_distance(joints[:, wrist], mid_hip, neck))
        out[f"{side}_arm"] = d < torso_radius
    legs = (np.linalg.norm(joints[:, 9] - joints[:, 12], axis=-1) < 0.10) | (
        np.linalg.norm(joints[:, 10] - joints[:, 13], axis=-1) < 0.10
    )
    out["legs"] = legs
    return out


def push_apart(dofs: np.ndarray, bad: dict[str, np.ndarray], step: float = 15.0) -> np.ndarray:
    """Move offending limbs outwards (abduct the arm, spread the legs) for the frames flagged."""
    out = dofs.copy()
    for side in ("r", "l"):
        rows = bad[f"{side}_arm"]
        out[rows, DOF_INDEX[f"{side}_shoulder_abd"]] += step
        out[rows, DOF_INDEX[f"{side}_elbow_flex"]] *= 0.7
        out[bad["legs"], DOF_INDEX[f"{side}_hip_abd"]] += step / 2
        out[bad["legs"], DOF_INDEX[f"{side}_hip_twist"]] *= 0.5
    return np.clip(out, DOF_LOW, DOF_HIGH)
