"""The anny body model, reduced to what the synthetic-data engine needs.

`BodyModel` wraps `anny.Anny` (MakeHuman topology: 13,718 vertices, 27,420 triangles, 104 bones) and adds
the project's contract on top of it:

* per-vertex part labels (0 = background is never used for vertices; 1..10 = LIMBS order) from summing
  `vertex_bone_weights` per bone group and taking the largest group. Hands go with the forearms, feet and
  toes with the shins, neck bones and eyes with the head, clavicles/pelvis/spine with the torso;
  `shoulder01.*` (the deltoid bone) goes with the upper arm, so the upper-arm layer starts at the shoulder
  joint as the paper's limb does.
* the 14 contract joints: bone heads of `neck01`, `upperarm01`, `lowerarm01`, `wrist`, `upperleg01`,
  `lowerleg01`, `foot` (`.L` = the body's left = our `l_*`), and the head top = the crown vertex (the
  highest head vertex of the rest mesh, tracked through posing).

Coordinates are anny's: metres, z up, x towards the body's left, -y forward (the face looks along -y).

anny's "local-ref" pose parameterisation rotates each bone about axes that are aligned with the world
axes in the rest pose (carried along by the parents), which makes joint limits easy to write (motion.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poseeditor.errors import ModelError
from poseeditor.skeleton import LIMB_NAMES, NUM_JOINTS

DEFAULT_ANNY_CACHE = Path.home() / ".cache" / "poseeditor" / "anny"

# Contract joint -> anny bone whose head is that joint (None: the head top, taken from the crown vertex).
JOINT_BONES: tuple[str | None, ...] = (
    None,
    "neck01",
    "upperarm01.R",
    "lowerarm01.R",
    "wrist.R",
    "upperarm01.L",
    "lowerarm01.L",
    "wrist.L",
    "upperleg01.R",
    "lowerleg01.R",
    "foot.R",
    "upperleg01.L",
    "lowerleg01.L",
    "foot.L",
)
assert len(JOINT_BONES) == NUM_JOINTS


def bone_part(bone: str) -> str:
    """The contract limb (LIMB_NAMES) a bone's skin belongs to."""
    side = "r" if bone.endswith(".R") else "l" if bone.endswith(".L") else ""
    stem = bone.split(".")[0]
    if stem.startswith(("neck", "head", "eye", "jaw", "tongue")) or bone in ("head",):
        return "head"
    if stem.startswith(("upperarm", "shoulder")):
        return f"{side}_upper_arm"
    if stem.startswith(("lowerarm", "wrist", "finger", "metacarpal", "hand")):
        return f"{side}_forearm"
    if stem.startswith("upperleg"):
        return f"{side}_thigh"
    if stem.startswith(("lowerleg", "foot", "toe")):
        return f"{side}_shin"
    return "torso"  # root, spine*, pelvis.*, clavicle.*


def require_anny():  # type: ignore[no-untyped-def]
    """The anny module, or a ModelError saying how to install it."""
    os.environ.setdefault("ANNY_CACHE_DIR", str(DEFAULT_ANNY_CACHE))
    try:
        import anny
        import anny.shape_distribution
    except ModuleNotFoundError as exc:
        raise ModelError(
            f"the synthetic-human engine needs the 'anny' body model ({exc.name} is missing): "
            "pip install 'poseeditor[synth]' && pip install --no-deps anny==0.6.2"
        ) from None
    return anny


@dataclass
class BodyShape:
    """One person's rest geometry (phenotype applied, no pose)."""

    phenotype: dict[str, float]
    morphological_age: float
    rest_vertices: np.ndarray  # (V, 3) float32
    rest_bone_heads: np.ndarray  # (B, 3)


class BodyModel:
    """anny in float32 with the lbs skinning (no warp-lang), plus part labels and joint indices."""

    def __init__(self) -> None:
        anny = require_anny()
        import torch

        self._torch = torch
        self.model = anny.Anny(skinning_method="lbs").to(torch.float32)
        self.model.eval()
        self.shape_distribution = anny.shape_distribution.SimpleShapeDistribution(
            self.model,
            morphological_age_distribution=torch.distributions.Uniform(
                torch.tensor(16.0, dtype=torch.float32), torch.tensor(80.0, dtype=torch.float32)
            ),
        )
        self.bone_labels: list[str] = list(self.model.bone_labels)
        self.bone_index = {name: i for i, name in enumerate(self.bone_labels)}
        self.faces = self.model.faces.cpu().numpy().astype(np.int32)
        self.joint_bone_indices = np.array([self.bone_index[b] if b else -1 for b in JOINT_BONES])

        weights = self.model.vertex_bone_weights.cpu().numpy()
        indices = self.model.vertex_bone_indices.cpu().numpy()
        bone_to_part = np.array([LIMB_NAMES.index(bone_part(b)) + 1 for b in self.bone_labels])
        n_vertices = weights.shape[0]
        summed = np.zeros((n_vertices, len(LIMB_NAMES) + 1), np.float64)
        np.add.at(summed, (np.repeat(np.arange(n_vertices), weights.shape[1]), bone_to_part[indices].ravel()), weights.ravel())
        self.vertex_parts = summed.argmax(1).astype(np.uint8)  # 1..10
        # A triangle's part is its vertices' majority (first vertex on a three-way tie).
        fp = self.vertex_parts[self.faces]
        self.face_parts = np.where(fp[:, 1] == fp[:, 2], fp[:, 1], fp[:, 0]).astype(np.uint8)
        self.vertex_dominant_bone = indices[np.arange(n_vertices), weights.argmax(1)]

        neutral = self.rest_shape({"gender": 0.5, "age": 0.5, "muscle": 0.5, "weight": 0.5, "height": 0.5,
                                   "proportions": 0.5})
        head_vertices = np.flatnonzero(self.vertex_parts == LIMB_NAMES.index("head") + 1)
        self.crown_vertex = int(head_vertices[np.argmax(neutral.rest_vertices[head_vertices, 2])])
        eye_bones = [self.bone_index["eye.L"], self.bone_index["eye.R"]]
        self.eye_vertices = np.flatnonzero(np.isin(self.vertex_dominant_bone, eye_bones))

    @property
    def n_vertices(self) -> int:
        return int(self.vertex_parts.shape[0])

    def sample_phenotype(self, seed: int) -> tuple[dict[str, float], float]:
        """A random adult/teen body (age 16-80, sex, height, weight, muscle, proportions), deterministic by seed."""
        torch = self._torch
        state = torch.random.get_rng_state()
        try:
            torch.manual_seed(seed)
            age, kwargs = self.shape_distribution.sample(1)
        finally:
            torch.random.set_rng_state(state)
        return {k: float(v.reshape(-1)[0]) for k, v in kwargs.items()}, float(age.reshape(-1)[0])

    def rest_shape(self, phenotype: dict[str, float], morphological_age: float = float("nan")) -> BodyShape:
        torch = self._torch
        with torch.no_grad():
            out = self.model(pose_parameters=None, phenotype_kwargs={k: torch.tensor([v]) for k, v in phenotype.items()})
        return BodyShape(
            phenotype=dict(phenotype),
            morphological_age=morphological_age,
            rest_vertices=out["rest_vertices"][0].numpy().astype(np.float32),
            rest_bone_heads=out["rest_bone_heads"][0].numpy().astype(np.float32),
        )

    def pose(self, phenotype: dict[str, float], local_rotations: np.ndarray,
             rest_offsets: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Pose a batch: local_rotations (T, 104, 3, 3) -> posed vertices (T, V, 3), bone heads (T, 104, 3),
        the rest vertices (V, 3) actually skinned, and the skinning transforms (T, 104, 4, 4) (rest -> posed,
        for skinning extra geometry the same way).

        rest_offsets (V, 3), if given, displace the rest mesh before skinning (clothing/hair volume), so the
        displaced surface moves with the body exactly like the skin under it.
        """
        torch = self._torch
        model = self.model
        n = local_rotations.shape[0]
        pose = np.zeros((n, len(self.bone_labels), 4, 4), np.float32)
        pose[:, :, :3, :3] = local_rotations
        pose[:, :, 3, 3] = 1.0
        with torch.no_grad():
            pose_t = torch.from_numpy(pose)
            # Same steps as anny's forward, split so clothing offsets can be added to the rest mesh.
            pose_t, ph, local_changes, facial = model.get_tensor_inputs(
                pose_t, {k: torch.tensor([v], dtype=torch.float32) for k, v in phenotype.items()}, None, None
            )
            coeffs = model._get_phenotype_blendshape_coefficients(ph, local_changes, facial)
            rest = model.get_rest_model(coeffs)
            rest_vertices = rest["rest_vertices"]
            if rest_offsets is not None:
                rest_vertices = rest_vertices + torch.from_numpy(rest_offsets.astype(np.float32))[None]
            bone_transforms, bone_poses = model.get_bone_transforms(pose_t, rest["rest_bone_poses"])
            vertices = model.get_skinned_vertices(rest_vertices.expand(n, -1, -1), bone_transforms)
        return (vertices.numpy(), bone_poses[..., :3, 3].numpy(), rest_vertices[0].numpy(),
                bone_transforms.numpy().astype(np.float64))

    def joints_3d(self, vertices: np.ndarray, bone_heads: np.ndarray) -> np.ndarray:
        """(T, 14, 3) contract joints from posed vertices (T, V, 3) and bone heads (T, 104, 3)."""
        joints = bone_heads[:, np.maximum(self.joint_bone_indices, 0)].copy()
        joints[:, 0] = vertices[:, self.crown_vertex]
        return joints

