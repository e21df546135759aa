"""Clothing, hair, skin and face, painted per pixel from rest-pose (body-space) coordinates.

Each vertex gets a material (skin, top, bottom, shoes, hair, eye white, iris, lips, brows) decided on the
person's rest mesh from joint-relative coordinates (sleeve length along the arm, hem length along the leg,
waist height, neckline, hair length), plus an optional outward offset (hair volume, loose clothes) that is
skinned with the body. Colours and patterns are "solid textures": functions of the rest-pose position
interpolated at each pixel, so stripes, checks, dots and prints move with the body and never swim.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from poseeditor.skeleton import LIMB_NAMES

SKIN, TOP, BOTTOM, SHOES, HAIR, EYE_WHITE, IRIS, LIPS, BROWS, SOCKS, BELT, BEARD = range(12)
MATERIAL_NAMES = ("skin", "top", "bottom", "shoes", "hair", "eye_white", "iris", "lips", "brows", "socks", "belt", "beard")
PART = {name: i + 1 for i, name in enumerate(LIMB_NAMES)}

# Skin tones (linear-ish sRGB 0..1), from very light to very dark; a random blend of two neighbours is used.
SKIN_TONES = np.array([
    [0.96, 0.80, 0.69], [0.92, 0.73, 0.60], [0.85, 0.64, 0.50], [0.76, 0.55, 0.40],
    [0.63, 0.43, 0.30], [0.50, 0.33, 0.22], [0.37, 0.24, 0.16], [0.27, 0.18, 0.13],
])
HAIR_COLOURS = np.array([
    [0.08, 0.06, 0.05], [0.18, 0.11, 0.07], [0.33, 0.20, 0.11], [0.55, 0.38, 0.22], [0.80, 0.66, 0.42],
    [0.55, 0.22, 0.10], [0.62, 0.60, 0.58], [0.85, 0.85, 0.83],
])
FABRIC_PALETTE = np.array([
    [0.9, 0.9, 0.88], [0.12, 0.12, 0.14], [0.55, 0.1, 0.12], [0.1, 0.2, 0.45], [0.2, 0.35, 0.6], [0.25, 0.4, 0.2],
    [0.85, 0.7, 0.2], [0.8, 0.45, 0.2], [0.5, 0.5, 0.52], [0.6, 0.2, 0.5], [0.9, 0.55, 0.6], [0.35, 0.25, 0.18],
    [0.7, 0.62, 0.48], [0.15, 0.5, 0.55], [0.95, 0.3, 0.2], [0.3, 0.3, 0.35],
])
DENIM = np.array([0.16, 0.24, 0.40])


@dataclass
class Fabric:
    colour: np.ndarray
    colour2: np.ndarray
    pattern: str  # plain, hstripes, vstripes, checks, dots, heather, denim, print
    period: float  # metres
    gloss: float = 0.0


@dataclass
class Outfit:
    material: np.ndarray  # (V,) uint8 per vertex
    offsets: np.ndarray  # (V, 3) float32 rest-pose displacement (hair volume, loose clothing)
    fabrics: dict[int, Fabric]
    skin: np.ndarray
    hair: np.ndarray
    iris: np.ndarray
    lips: np.ndarray
    beard: float = 0.0
    skirt: bool = False
    waist_z: float = 0.0
    hair_length: float = 0.0
    eye_centre: np.ndarray = field(default_factory=lambda: np.zeros(3))
    description: dict[str, str] = field(default_factory=dict)


def _fabric(rng: np.random.Generator, kind: str) -> Fabric:
    c = FABRIC_PALETTE[rng.integers(len(FABRIC_PALETTE))] * rng.uniform(0.8, 1.15, 3)
    c2 = FABRIC_PALETTE[rng.integers(len(FABRIC_PALETTE))] * rng.uniform(0.8, 1.15, 3)
    if kind == "bottom":
        pattern = str(rng.choice(["denim", "plain", "plain", "heather", "checks", "vstripes"], p=[0.35, 0.3, 0.1, 0.1, 0.08, 0.07]))
        if pattern == "denim":
            c = DENIM * rng.uniform(0.6, 1.6) * rng.uniform(0.9, 1.1, 3)
    elif kind == "shoes":
        pattern = "plain"
        c = FABRIC_PALETTE[rng.choice([0, 1, 1, 8, 11, 15])] * rng.uniform(0.8, 1.1, 3)
    else:
        pattern = str(rng.choice(["plain", "hstripes", "vstripes", "checks", "dots", "heather", "print"],
                                 p=[0.3, 0.16, 0.08, 0.14, 0.1, 0.12, 0.1]))
    return Fabric(np.clip(c, 0.02, 1), np.clip(c2, 0.02, 1), pattern, float(rng.uniform(0.015, 0.08)),
                  gloss=0.25 if kind == "shoes" else 0.0)


def _along(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    return np.sum((points - a) * ab, -1) / max(float(np.sum(ab * ab)), 1e-9)


def dress_body(rng: np.random.Generator, rest_vertices: np.ndarray, vertex_parts: np.ndarray,
               rest_normals: np.ndarray, joints: np.ndarray, eye_vertices: np.ndarray, gender: float) -> Outfit:
    """Pick and paint one outfit (and hair, skin, face) on a person's rest mesh. joints: rest (14, 3)."""
    v = rest_vertices
    n = len(v)
    material = np.full(n, TOP, np.uint8)
    offsets = np.zeros((n, 3), np.float32)
    head, neck = joints[0], joints[1]
    hips_z = 0.5 * (joints[8, 2] + joints[11, 2])
    shoulder_z = 0.5 * (joints[2, 2] + joints[5, 2])
    feminine = gender > 0.5

    sleeve = float(rng.choice([0.0, 0.3, 0.55, 1.05], p=[0.12, 0.45, 0.13, 0.3]))
    leg = float(rng.choice([0.35, 0.5, 0.8, 1.05], p=[0.2, 0.1, 0.1, 0.6]))
    waist = hips_z + rng.uniform(0.15, 0.45) * (shoulder_z - hips_z)
    skirt = feminine and rng.random() < 0.35  # a skirt (shell geometry, shells.py) or, one-piece, a dress
    one_piece = feminine and rng.random() < (0.4 if skirt else 0.1)
    if skirt:
        leg = 0.0  # bare legs or tights under the skirt
    neckline = rng.uniform(0.0, 0.12)

    tights = skirt and rng.random() < 0.35
    parts = vertex_parts
    for side, (sh, el, wr) in (("r", (2, 3, 4)), ("l", (5, 6, 7))):
        arm = (parts == PART[f"{side}_upper_arm"]) | (parts == PART[f"{side}_forearm"])
        s = _along(v[arm], joints[sh], joints[wr])
        idx = np.flatnonzero(arm)
        material[idx] = np.where(s < sleeve * 0.97, TOP, SKIN)
        if sleeve == 0.0:  # sleeveless: the shoulder cap is bare too
            material[idx] = SKIN
    for side, (hp, kn, an) in (("r", (8, 9, 10)), ("l", (11, 12, 13))):
        legv = (parts == PART[f"{side}_thigh"]) | (parts == PART[f"{side}_shin"])
        idx = np.flatnonzero(legv)
        s = _along(v[idx], joints[hp], joints[an])
        material[idx] = np.where(s < leg, BOTTOM, SKIN)
        if skirt and tights:
            material[idx] = SOCKS
    torso = np.flatnonzero(parts == PART["torso"])
    material[torso] = np.where(v[torso, 2] < waist, BOTTOM, TOP)
    # Neckline: bare skin in front below the neck (crew or V neck).
    front = v[torso, 1] < neck[1]
    low_neck = (v[torso, 2] > shoulder_z + 0.05 - neckline) & (np.abs(v[torso, 0]) < 0.06 + 0.5 * neckline) & front
    high_neck = v[torso, 2] > shoulder_z + 0.07
    material[torso[low_neck | high_neck]] = SKIN

    headv = np.flatnonzero(parts == PART["head"])
    material[headv] = SKIN
    # Shoes over the feet (a little above the ankle), socks sometimes showing between hem and shoe.
    shoe_top = 0.5 * (joints[10, 2] + joints[13, 2]) + rng.uniform(0.01, 0.08)
    shinv = np.flatnonzero((parts == PART["r_shin"]) | (parts == PART["l_shin"]))
    barefoot = rng.random() < 0.05
    if not barefoot:
        material[shinv[v[shinv, 2] < shoe_top]] = SHOES
        if leg < 0.9 and rng.random() < 0.5:
            sock = (v[shinv, 2] >= shoe_top) & (v[shinv, 2] < shoe_top + rng.uniform(0.03, 0.15))
            material[shinv[sock]] = SOCKS

    # Hair: scalp (above the brow, behind the hairline), and for longer hair the back of the head and neck.
    eye_centre = v[eye_vertices].mean(0) if len(eye_vertices) else head - np.array([0, 0.08, 0.1])
    head_centre = np.array([0.0, eye_centre[1] + 0.09, eye_centre[2] + 0.02])
    length = float(rng.choice([0.0, 0.05, 0.12, 0.25, 0.45],
                              p=[0.02, 0.18, 0.2, 0.3, 0.3] if feminine else [0.06, 0.6, 0.24, 0.07, 0.03]))
    hairline = eye_centre[2] + rng.uniform(0.035, 0.06)
    hv = v[headv]
    scalp = (hv[:, 2] > hairline) | ((hv[:, 1] > head_centre[1] - 0.03) & (hv[:, 2] > eye_centre[2] - 0.02 - length * 0.3))
    scalp &= ~((hv[:, 1] < eye_centre[1] + 0.035) & (hv[:, 2] < hairline))  # keep the face bare
    if length > 0.0:
        material[headv[scalp]] = HAIR
        volume = 0.006 + 0.012 * min(length, 0.2) / 0.2 * rng.uniform(0.5, 1.2)
        offsets[headv[scalp]] += rest_normals[headv[scalp]] * volume
    if length >= 0.12:  # hair falls over the neck and upper back
        back = (v[:, 1] > neck[1] - 0.01) & (v[:, 2] > shoulder_z + 0.09 - length) & (
            (parts == PART["torso"]) | (parts == PART["head"]))
        back &= np.abs(v[:, 0]) < 0.09 + 0.1 * (length > 0.3)
        material[back] = HAIR
        offsets[back] += rest_normals[back] * 0.015

    # Face: eyes, irises, lips, brows.
    ev = eye_vertices
    material[ev] = EYE_WHITE
    if len(ev):
        centre_l = v[ev][v[ev, 0] > 0].mean(0)
        centre_r = v[ev][v[ev, 0] < 0].mean(0)
        for c in (centre_l, centre_r):
            iris = ev[(np.linalg.norm(v[ev] - c, axis=1) < 0.02) & (v[ev, 1] < c[1] - 0.006)]
            material[iris] = IRIS
    face_front = hv[:, 1] < eye_centre[1] + 0.01
    lips = face_front & (np.abs(hv[:, 0]) < 0.022) & (np.abs(hv[:, 2] - (eye_centre[2] - 0.075)) < 0.009)
    material[headv[lips]] = LIPS
    brows = face_front & (np.abs(hv[:, 0]) > 0.012) & (np.abs(hv[:, 0]) < 0.055) & (
        np.abs(hv[:, 2] - (eye_centre[2] + 0.025)) < 0.006)
    material[headv[brows & (material[headv] == SKIN)]] = BROWS

    # A belt at the waist over trousers/shorts; a beard or stubble on some men.
    if not one_piece and not skirt and rng.random() < 0.35:
        belt = (material == BOTTOM) & (np.abs(v[:, 2] - (waist - 0.015)) < rng.uniform(0.01, 0.02))
        material[belt] = BELT
    if not feminine and rng.random() < 0.3:
        jaw = face_front & (hv[:, 2] < eye_centre[2] - 0.05) & (hv[:, 2] > eye_centre[2] - 0.13)
        jaw &= ~lips & (np.abs(hv[:, 0]) < 0.07)
        material[headv[jaw & (material[headv] == SKIN)]] = BEARD
        beard_strength = rng.uniform(0.3, 1.0)
    else:
        beard_strength = 0.0

    top = _fabric(rng, "top")
    bottom = top if one_piece else _fabric(rng, "bottom")
    # Loose clothing stands off the skin a little, so folds and the silhouette differ from the bare body.
    loose = rng.uniform(0.002, 0.012)
    clothed = (material == TOP) | (material == BOTTOM)
    offsets[clothed] += rest_normals[clothed] * loose

    tone = rng.uniform(0, len(SKIN_TONES) - 1)
    lo = int(tone)
    skin = SKIN_TONES[lo] * (1 - (tone - lo)) + SKIN_TONES[min(lo + 1, len(SKIN_TONES) - 1)] * (tone - lo)
    hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.85, 1.15)
    iris = np.array([[0.25, 0.15, 0.08], [0.35, 0.45, 0.55], [0.25, 0.35, 0.2], [0.1, 0.07, 0.05]])[rng.integers(4)]
    lips = skin * np.array([0.85, 0.62, 0.62])
    return Outfit(
        material=material, offsets=offsets,
        fabrics={TOP: top, BOTTOM: bottom, SHOES: _fabric(rng, "shoes"),
                 BELT: Fabric(FABRIC_PALETTE[rng.choice([1, 11, 15])] * rng.uniform(0.6, 1.0), np.zeros(3), "plain",
                              0.05, gloss=0.3),
                 SOCKS: Fabric(np.array([0.9, 0.9, 0.9]) * rng.uniform(0.2, 1.0) if not tights
                               else np.array([0.12, 0.1, 0.1]) * rng.uniform(0.5, 2.5), np.zeros(3), "plain", 0.05)},
        skin=np.clip(skin * rng.uniform(0.95, 1.05, 3), 0, 1), hair=np.clip(hair, 0, 1), iris=iris, lips=lips,
        beard=beard_strength, skirt=skirt, waist_z=float(waist), hair_length=length, eye_centre=eye_centre,
        description={"skirt": str(skirt), "sleeve": f"{sleeve:.2f}", "leg": f"{leg:.2f}", "hair_length": f"{length:.2f}",
                     "top": top.pattern, "bottom": bottom.pattern, "one_piece": str(one_piece)},
    )


def _hash_noise(p: np.ndarray, scale: float, seed: int) -> np.ndarray:
    """Cheap smooth 3-D noise: a sum of a few randomly oriented sinusoids (deterministic by seed)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(len(p))
    for _ in range(4):
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        out += np.sin(p @ d / scale * rng.uniform(0.7, 1.5) + rng.uniform(0, 6.28))
    return out / 4


def albedo(outfit: Outfit, material: np.ndarray, rest_pos: np.ndarray, seed: int) -> np.ndarray:
    """Per-pixel base colour (N, 3) for pixels with material ids (N,) and rest-pose positions (N, 3)."""
    out = np.empty((len(material), 3))
    skin_var = 1 + 0.04 * _hash_noise(rest_pos, 0.03, seed)
    out[:] = outfit.skin * skin_var[:, None]
    m = material
    for mat, fabric in outfit.fabrics.items():
        sel = m == mat
        if not sel.any():
            continue
        p = rest_pos[sel]
        c = np.broadcast_to(fabric.colour, (len(p), 3)).copy()
        k = 2 * np.pi / fabric.period
        if fabric.pattern == "hstripes":
            t = np.sin(p[:, 2] * k) > 0.2
            c[t] = fabric.colour2
        elif fabric.pattern == "vstripes":
            t = np.sin(np.arctan2(p[:, 0], p[:, 1]) * 12 + p[:, 0] * k) > 0.5
            c[t] = fabric.colour2
        elif fabric.pattern == "checks":
            a = np.sin(p[:, 2] * k) > 0
            b = np.sin((p[:, 0] + p[:, 1]) * k) > 0
            c = c * np.where(a ^ b, 1.0, 0.7)[:, None]
            line = (np.abs(np.sin(p[:, 2] * k * 2)) > 0.97) | (np.abs(np.sin((p[:, 0] + p[:, 1]) * k * 2)) > 0.97)
            c[line] = fabric.colour2
        elif fabric.pattern == "dots":
            g = p / (fabric.period * 0.8)
            d = np.linalg.norm(g - np.round(g), axis=1)
            c[d < 0.22] = fabric.colour2
        elif fabric.pattern == "heather":
            c = c * (1 + 0.12 * _hash_noise(p, 0.004, seed + 1))[:, None]
        elif fabric.pattern == "denim":
            c = c * (1 + 0.03 * np.sin((p[:, 0] + p[:, 2]) * 900) + 0.08 * _hash_noise(p, 0.05, seed + 2))[:, None]
        elif fabric.pattern == "print":  # a rectangular print on the chest, front only
            chest = (np.abs(p[:, 0]) < 0.08) & (p[:, 1] < -0.05) & (np.abs(p[:, 2] - 0.38) < 0.06)
            c[chest] = fabric.colour2 * (1 + 0.3 * np.sign(np.sin(p[chest, 0] * 200)))[:, None]
        # Large soft folds: clothes are never evenly lit.
        c = c * (1 + 0.08 * _hash_noise(p, 0.04, seed + 3))[:, None]
        out[sel] = c
    hair = m == HAIR
    if hair.any():
        p = rest_pos[hair]
        streak = 1 + 0.18 * np.sin(np.arctan2(p[:, 0], p[:, 1] - 0.05) * 90 + 40 * p[:, 2]) * _hash_noise(p, 0.01, seed + 4)
        out[hair] = outfit.hair * streak[:, None]
    out[m == BROWS] = outfit.hair * 0.7 + outfit.skin * 0.1
    beard = m == BEARD
    if beard.any():  # stubble to full beard: hair colour blended into the skin, speckled
        speckle = 0.5 + 0.5 * _hash_noise(rest_pos[beard], 0.002, seed + 5)
        b = np.clip(outfit.beard * (0.6 + 0.4 * speckle), 0, 1)[:, None]
        out[beard] = outfit.hair * 0.8 * b + outfit.skin * (1 - b)
    out[m == EYE_WHITE] = np.array([0.85, 0.83, 0.8])
    out[m == IRIS] = outfit.iris
    out[m == LIPS] = outfit.lips
    return np.clip(out, 0, 1)
