"""Generator configurations as plain dataclasses (nanoGPT style): what is built, never how it is trained.

A `UNetConfig` describes one U-Net; a `GeneratorConfig` holds the image size and one U-Net per module of the
paper (segmentation, background, foreground). Both round-trip through plain dicts (`to_dict`/`from_dict`) so
they can live in `model.json`; unknown or missing keys raise a ValueError naming them.

Named configs (`CONFIGS`):
- `paper`:   the paper's own `networks.py` (balakg/posewarp-cvpr2018): every module a 5-level U-Net,
             a 7×7 full-resolution stem of 64, 128 channels below it, decoder 128·4 then 64 (32 for the
             segmentation module), LeakyReLU(0.2), no normalisation, heatmaps joined after the first downsample.
- `compact`: the live-CPU default (see docs/models.md for the measurements behind each choice).
- `tiny`:    for tests only (a few thousand parameters).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from models.plain_data import dataclass_from_dict

NORMS = ("none", "batch", "instance")
REFINE_MODES = ("conv", "separable", "project")
UPSAMPLE_MODES = ("bilinear", "nearest")
# How module C makes the foreground: "generate" (the paper: RGB from the U-Net's head) or "select" (per pixel, a
# softmax choice among the 10 warped layers and the generated RGB; docs/design.md "Foreground by selection").
FOREGROUND_MODES = ("generate", "select")


@dataclass(frozen=True)
class UNetConfig:
    """One U-Net.

    Level 0 is the stem's output (full resolution when `stem_stride` is 1, half when 2). Each deeper level starts
    with a stride-2 3×3 convolution that keeps the incoming width (as in the paper), then `convs_per_level` 3×3
    convolutions to the level's width. The decoder upsamples ×2, joins the skip of that level, and convolves to
    `decoder_widths[i]` (deepest first).

    `separable_levels`: the convolutions of the first N levels (level 0 = the stem's resolution, stem included) are
    depthwise k×k + pointwise 1×1: at high resolution that is where the multiply-adds are.

    `head_kernel`: the kernel of the output convolution each module puts on these features (paper: 3).

    With a stride-2 stem, the U-Net ends with a full-resolution step (`refine`) that joins the upsampled decoder
    output with the raw input, so pixel-exact detail of the input can reach the output:
      "conv"      a 3×3 convolution of the join to `refine_width` channels;
      "separable" the same, depthwise-separable;
      "project"   the input is projected 1×1 to `refine_width` channels and joined to the upsampled features
                  (no full-resolution 3×3 besides the module's output head: the cheapest on CPU).

    The condition (pose heatmaps) is area-resampled to the resolution of level `condition_level` and joined to the
    input of that level's first non-strided convolution (paper: level 1); level 0 joins it to the network input.
    """

    widths: tuple[int, ...]
    decoder_widths: tuple[int, ...]
    stem_kernel: int = 7
    stem_stride: int = 1
    convs_per_level: int = 1
    condition_level: int = 1
    separable_levels: int = 0
    refine: str = "conv"
    refine_width: int = 0
    head_kernel: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "decoder_widths", tuple(int(w) for w in self.decoder_widths))
        if len(self.widths) < 2:
            raise ValueError("a U-Net needs at least 2 levels (widths has fewer than 2 entries)")
        if len(self.decoder_widths) != len(self.widths) - 1:
            raise ValueError(
                f"decoder_widths needs {len(self.widths) - 1} entries (one per level above the bottom), "
                f"got {len(self.decoder_widths)}"
            )
        if any(w <= 0 for w in self.widths + self.decoder_widths):
            raise ValueError("all widths must be positive")
        if self.stem_kernel < 1 or self.stem_kernel % 2 == 0:
            raise ValueError(f"stem_kernel must be odd and positive, got {self.stem_kernel}")
        if self.stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {self.stem_stride}")
        if self.convs_per_level < 0:
            raise ValueError("convs_per_level must be >= 0")
        if not 0 <= self.condition_level < len(self.widths):
            raise ValueError(f"condition_level must be in [0, {len(self.widths) - 1}], got {self.condition_level}")
        if self.condition_level > 0 and self.convs_per_level == 0:
            raise ValueError("condition_level > 0 needs convs_per_level >= 1 (the condition joins that conv)")
        if not 0 <= self.separable_levels <= len(self.widths):
            raise ValueError(f"separable_levels must be in [0, {len(self.widths)}], got {self.separable_levels}")
        if self.head_kernel not in (1, 3):
            raise ValueError(f"head_kernel must be 1 or 3, got {self.head_kernel}")
        if self.refine not in REFINE_MODES:
            raise ValueError(f"refine must be one of {REFINE_MODES}, got {self.refine!r}")
        if self.stem_stride == 2 and self.refine_width <= 0:
            raise ValueError("a stride-2 stem needs refine_width > 0 (the full-resolution refinement)")
        if self.stem_stride == 1 and self.refine_width != 0:
            raise ValueError("refine_width is only used with a stride-2 stem; set it to 0")

    @property
    def levels(self) -> int:
        return len(self.widths)

    @property
    def downsampling(self) -> int:
        """How many times the input side must be divisible by 2."""
        return self.levels - 1 + (self.stem_stride == 2)

    @property
    def out_width(self) -> int:
        """Channels of the U-Net's last feature map (before a module's output head)."""
        if self.stem_stride == 1:
            return self.decoder_widths[-1]
        return self.refine_width + (self.decoder_widths[-1] if self.refine == "project" else 0)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["widths"] = list(self.widths)
        d["decoder_widths"] = list(self.decoder_widths)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UNetConfig:
        return dataclass_from_dict(cls, d, "unet config")


@dataclass(frozen=True)
class GeneratorConfig:
    """The four-module generator: segmentation, background and foreground U-Nets, plus shared settings."""

    name: str
    image_size: int
    segmentation: UNetConfig
    background: UNetConfig
    foreground: UNetConfig
    norm: str = "none"
    leaky_slope: float = 0.2
    upsample: str = "bilinear"
    num_joints: int = 14
    num_limbs: int = 10
    # The paper's baseline (models/baselines.py SingleUNet) built for this config; None: the foreground U-Net's shape
    single_unet: UNetConfig | None = None
    foreground_mode: str = "generate"
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes (never read by the networks)

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.upsample not in UPSAMPLE_MODES:
            raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}, got {self.upsample!r}")
        if self.foreground_mode not in FOREGROUND_MODES:
            raise ValueError(f"foreground_mode must be one of {FOREGROUND_MODES}, got {self.foreground_mode!r}")
        if not 0.0 <= self.leaky_slope < 1.0:
            raise ValueError(f"leaky_slope must be in [0, 1), got {self.leaky_slope}")
        if self.num_joints != 14 or self.num_limbs != 10:
            raise ValueError("the pose contract has 14 joints and 10 limbs")
        for module in ("segmentation", "background", "foreground", "single_unet"):
            unet = getattr(self, module)
            if unet is None and module == "single_unet":
                continue
            if not isinstance(unet, UNetConfig):
                raise ValueError(f"{module} must be a UNetConfig")  # noqa: TRY004
            step = 2**unet.downsampling
            if self.image_size <= 0 or self.image_size % step:
                raise ValueError(
                    f"image_size {self.image_size} must be a positive multiple of {step} for the {module} U-Net"
                )

    @property
    def single_unet_config(self) -> UNetConfig:
        return self.single_unet or self.foreground

    @property
    def num_layers(self) -> int:
        """Segmentation classes: background + one per limb."""
        return self.num_limbs + 1

    def with_size(self, image_size: int) -> GeneratorConfig:
        return replace(self, image_size=image_size)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            d[f.name] = value.to_dict() if isinstance(value, UNetConfig) else value
        d["extra"] = dict(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GeneratorConfig:
        return dataclass_from_dict(cls, d, "generator config")


def _paper_unet(last_decoder_width: int) -> UNetConfig:
    # networks.py: unet(x, pose, [64]*2 + [128]*9, [128]*4 + [last]); x0 7×7 stem, x1 stride-2 keeps 64,
    # pose joined before x3, five downsamplings to 8×8 at 256².
    return UNetConfig(
        widths=(64, 128, 128, 128, 128, 128),
        decoder_widths=(128, 128, 128, 128, last_decoder_width),
        stem_kernel=7,
        stem_stride=1,
        convs_per_level=1,
        condition_level=1,
    )


PAPER = GeneratorConfig(
    name="paper",
    image_size=256,
    segmentation=_paper_unet(32),
    background=_paper_unet(64),
    foreground=_paper_unet(64),
    # networks.py network_unet: unet(src, [pose_src, pose_tgt], [64] + [128]*3 + [256]*7, [256]*3 + [128, 64]).
    # (There the first stride-2 conv already widens to 128; here every downsampling keeps its input width.)
    single_unet=UNetConfig(
        widths=(64, 128, 256, 256, 256, 256), decoder_widths=(256, 256, 256, 128, 64), stem_kernel=7, condition_level=1
    ),
    extra={"reference": "balakg/posewarp-cvpr2018 networks.py network_posewarp"},
)


def _compact_unet(widths: tuple[int, ...], decoder: tuple[int, ...], project: int) -> UNetConfig:
    # Why each choice (measured in onnxruntime, see docs/models.md): a stride-2 stem halves every later cost; the
    # two high-resolution levels (128², 64² at 256²) are depthwise-separable because they hold most multiply-adds;
    # the deep levels (32² and below) stay dense and wide because they are cheap; full resolution gets only a 1×1
    # projection of the input and a 1×1 head (a full-resolution 3×3 cost more than the whole rest of the net).
    return UNetConfig(
        widths=widths,
        decoder_widths=decoder,
        stem_kernel=3,
        stem_stride=2,
        convs_per_level=1,
        condition_level=0,
        separable_levels=2,
        refine="project",
        refine_width=project,
        head_kernel=1,
    )


COMPACT = GeneratorConfig(
    name="compact",
    image_size=256,
    segmentation=_compact_unet((16, 32, 64, 96, 128), (96, 64, 32, 16), 8),
    background=_compact_unet((24, 48, 96, 128, 192), (128, 96, 48, 24), 8),
    # per drag: the 32² decoder conv trimmed to 64 (−11 % time for −5 % parameters); background runs once per photo
    foreground=_compact_unet((24, 48, 96, 128, 192), (128, 64, 48, 24), 8),
)

TINY = GeneratorConfig(
    name="tiny",
    image_size=64,
    segmentation=UNetConfig(widths=(4, 8, 8), decoder_widths=(8, 4), stem_kernel=3),
    background=UNetConfig(widths=(4, 8, 8), decoder_widths=(8, 4), stem_kernel=3, condition_level=0),
    foreground=UNetConfig(  # the compact family's features in miniature, so tests (and ONNX export) cover them
        widths=(4, 8, 8),
        decoder_widths=(8, 4),
        stem_kernel=3,
        stem_stride=2,
        condition_level=0,
        separable_levels=1,
        refine="project",
        refine_width=4,
        head_kernel=1,
    ),
)

CONFIGS: dict[str, GeneratorConfig] = {"compact": COMPACT, "paper": PAPER, "tiny": TINY}
DEFAULT_CONFIG = "compact"


def get_config(name: str, image_size: int | None = None) -> GeneratorConfig:
    """A named config, optionally at another image size (e.g. `get_config("compact", 128)`)."""
    if name not in CONFIGS:
        raise ValueError(f"unknown generator config {name!r}; known: {sorted(CONFIGS)}")
    config = CONFIGS[name]
    return config if image_size is None else config.with_size(image_size)
