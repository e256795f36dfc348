"""Model configuration: the PSTPose architecture as typed dataclasses, and its presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from pstpose.config.base import ConfigError, from_dict, merge_dict, to_dict


@dataclass
class BackboneConfig:
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    patch_size: int = 16
    qkv_bias: bool = True
    drop_path_rate: float = 0.3
    layer_norm_eps: float = 1e-6  # ViTPose's value (transformers' VitPose config defaults to 1e-12)


# The refinement modules work at a reduced internal width ``dim`` (projected in from and out to
# the backbone width); ``mlp_ratio`` is relative to ``dim``. See docs/architecture.md (cost).


@dataclass
class DFEConfig:
    """Differential feature enhancement (differential attention over all clip tokens)."""

    enabled: bool = True
    dim: int = 192
    num_heads: int = 3  # differential heads; each head splits its q/k into a +/- half
    mlp_ratio: float = 1.0
    lambda_init: float | None = None  # None: Differential Transformer schedule at depth L_backbone + 1
    lambda_mode: str = "scalar"  # scalar: one lambda (dot products); channel: lambda ⊙ per channel


@dataclass
class FCGConfig:
    """Fine-grained cluster guidance (DPC-KNN clustering + cluster-to-token attention)."""

    enabled: bool = True
    dim: int = 192
    num_clusters: int = 64
    knn: int = 5
    num_heads: int = 6
    mlp_ratio: float = 1.0


@dataclass
class DSFConfig:
    """Deformable spatiotemporal fusion."""

    enabled: bool = True
    dim: int = 192
    num_heads: int = 6
    offset_groups: int = 3  # heads are split evenly over the groups
    offset_range: float = 2.0  # bound of the predicted spatial offsets (dy, dx), in token cells
    offset_range_t: float = 1.0  # bound of the predicted temporal offset dt, in frames
    offset_kernel: int = 3  # kernel of the depthwise 3-D conv of the offset network
    key_stride: int = 1  # reference points every key_stride cells (DAT's r): r^2 fewer keys than queries
    sampling: str = "shared"  # "shared": keys at every reference point, for all queries; "per_query": own samples
    points: int = 4  # per_query: samples per frame and offset group around each query's cell
    mlp_ratio: float = 1.0


@dataclass
class HeadConfig:
    kind: str = "classic"  # "classic" (deconvs + BN + ReLU, then 1x1) or "simple" (ReLU, x4 up, 3x3)
    deconv_channels: int = 256
    num_deconv: int = 2


@dataclass
class ModelConfig:
    preset: str = "vitpose-b"
    variant: str = "pstpose"  # "pstpose" | "baseline" (standard spatiotemporal self-attention)
    num_keypoints: int = 17
    # The joint set the heatmap channels follow (pstpose.keypoints.JOINT_SETS): "posetrack" for
    # models trained here, "coco" (or another dataset's) for a ViTPose head used as trained.
    keypoints: str = "posetrack"
    frames_per_side: int = 1  # xi: the clip is 2*xi+1 frames, keyframe in the middle
    image_size: tuple[int, int] = (256, 192)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    dfe: DFEConfig = field(default_factory=DFEConfig)
    fcg: FCGConfig = field(default_factory=FCGConfig)
    dsf: DSFConfig = field(default_factory=DSFConfig)
    head: HeadConfig = field(default_factory=HeadConfig)

    @property
    def num_frames(self) -> int:
        return 2 * self.frames_per_side + 1


# The ViTPose presets equal the published configurations (ViTPose's configs
# ViTPose_{small,base,large,huge}_coco_256x192.py, and the transformers usyd-community/vitpose-*
# model cards): width / depth / heads / MLP ratio 4 / LayerNorm eps 1e-6. ViTPose-S has 12 heads
# of size 32, not 6 of 64 as a plain ViT-S would: a ViTPose-S checkpoint loaded into 6 heads has
# every shape right and computes different attention.
BACKBONE_PRESETS: dict[str, BackboneConfig] = {
    "tiny": BackboneConfig(embed_dim=128, depth=4, num_heads=4, drop_path_rate=0.0),
    "vitpose-s": BackboneConfig(embed_dim=384, depth=12, num_heads=12, drop_path_rate=0.1),
    "vitpose-b": BackboneConfig(embed_dim=768, depth=12, num_heads=12, drop_path_rate=0.3),
    "vitpose-l": BackboneConfig(embed_dim=1024, depth=24, num_heads=16, drop_path_rate=0.5),
    "vitpose-h": BackboneConfig(embed_dim=1280, depth=32, num_heads=16, drop_path_rate=0.55),
}

# Refinement width per preset: (dim, heads, DFE heads, DSF offset groups). dim ~ embed_dim / 4
# with 32-channel heads keeps DFE+FCG+DSF near 5% of the clip's FLOPs; DFE has half the heads
# (64 channels, i.e. two 32-channel q/k halves), as Differential Transformer pairs two heads in one.
REFINE_PRESETS: dict[str, tuple[int, int, int, int]] = {
    "tiny": (64, 2, 1, 2),
    "vitpose-s": (128, 4, 2, 2),
    "vitpose-b": (192, 6, 3, 3),
    "vitpose-l": (256, 8, 4, 4),
    "vitpose-h": (320, 10, 5, 5),
}


def model_preset(name: str) -> ModelConfig:
    """The ModelConfig of a named preset (see BACKBONE_PRESETS and REFINE_PRESETS)."""
    if name not in BACKBONE_PRESETS:
        raise ConfigError(f"unknown model preset {name!r}; choose one of {sorted(BACKBONE_PRESETS)}")
    cfg = ModelConfig(preset=name, backbone=dataclasses.replace(BACKBONE_PRESETS[name]))
    dim, heads, dfe_heads, groups = REFINE_PRESETS[name]
    for section in (cfg.dfe, cfg.fcg, cfg.dsf):
        section.dim, section.num_heads = dim, heads
    cfg.dfe.num_heads = dfe_heads
    cfg.dsf.offset_groups = groups
    if name == "tiny":
        cfg.head = HeadConfig(kind="classic", deconv_channels=64, num_deconv=2)
    return cfg


def model_config_from_dict(data: dict, prefix: str = "model") -> ModelConfig:
    """ModelConfig from plain data; a ``preset`` key supplies the defaults the rest overrides."""
    preset = data.get("preset", "vitpose-b")
    base = to_dict(model_preset(preset))
    cfg = from_dict(ModelConfig, merge_dict(base, data), prefix=prefix)
    check_model_config(cfg, prefix)
    return cfg


# Limits far above every published model, so that a typo (an extra zero or six) is refused before
# gigabytes are allocated rather than after.
MODEL_LIMITS: dict[str, int] = {
    "embed_dim": 8192,
    "depth": 256,
    "num_heads": 256,
    "num_keypoints": 1024,
    "frames_per_side": 16,
    "image_side": 4096,
    "dim": 8192,
}


def check_model_config(cfg: ModelConfig, prefix: str = "model") -> None:
    """Refuse an architecture that cannot be built, cannot give (B, K, H/4, W/4) heatmaps, or is
    absurdly large, naming the key. The one owner of these rules: configs are checked when read,
    and ``PSTPose`` checks the config it is given."""

    def need(ok: bool, key: str, message: str) -> None:
        if not ok:
            raise ConfigError(f"{prefix}.{key}: {message}")

    def bounded(key: str, value: int, limit_key: str, low: int = 1) -> None:
        limit = MODEL_LIMITS[limit_key]
        need(low <= value <= limit, key, f"must be between {low} and {limit}, got {value}")

    b = cfg.backbone
    need(cfg.variant in ("pstpose", "baseline"), "variant", f"must be 'pstpose' or 'baseline', got {cfg.variant!r}")
    bounded("backbone.embed_dim", b.embed_dim, "embed_dim")
    bounded("backbone.depth", b.depth, "depth")
    bounded("backbone.num_heads", b.num_heads, "num_heads")
    bounded("backbone.patch_size", b.patch_size, "image_side")
    need(
        b.embed_dim % b.num_heads == 0,
        "backbone.num_heads",
        f"{b.num_heads} does not divide backbone.embed_dim {b.embed_dim}",
    )
    need(b.mlp_ratio > 0, "backbone.mlp_ratio", f"must be positive, got {b.mlp_ratio}")
    bounded("num_keypoints", cfg.num_keypoints, "num_keypoints")
    from pstpose.keypoints import JOINT_SETS

    need(
        cfg.keypoints in JOINT_SETS,
        "keypoints",
        f"unknown joint set {cfg.keypoints!r} (known: {', '.join(JOINT_SETS)})",
    )
    bounded("frames_per_side", cfg.frames_per_side, "frames_per_side", low=0)
    h, w = cfg.image_size
    need(
        all(1 <= side <= MODEL_LIMITS["image_side"] and side % b.patch_size == 0 for side in (h, w)),
        "image_size",
        f"each side must be a multiple of the patch size {b.patch_size} up to {MODEL_LIMITS['image_side']}, "
        f"got {tuple(cfg.image_size)}",
    )
    head = cfg.head
    need(head.kind in ("classic", "simple"), "head.kind", f"must be 'classic' or 'simple', got {head.kind!r}")
    # Heatmaps are always at stride 4 of the input: each deconvolution halves the token stride.
    need(
        head.kind != "classic" or b.patch_size == 4 * 2**head.num_deconv,
        "head.num_deconv",
        f"{head.num_deconv} gives heatmaps at stride {b.patch_size // 2**head.num_deconv} for patch size "
        f"{b.patch_size}; stride 4 needs num_deconv = log2(patch_size / 4)",
    )
    need(
        head.kind != "simple" or b.patch_size == 16, "head.kind", "the simple head upsamples x4: patch_size must be 16"
    )
    grid_h, grid_w = h // b.patch_size, w // b.patch_size
    n_tokens = cfg.num_frames * grid_h * grid_w
    for name in ("dfe", "fcg", "dsf"):
        section = getattr(cfg, name)
        if not section.enabled:  # a module switched off (an ablation) is not built
            continue
        bounded(f"{name}.dim", section.dim, "dim")
        bounded(f"{name}.num_heads", section.num_heads, "num_heads")
        need(
            section.dim % section.num_heads == 0,
            f"{name}.num_heads",
            f"{section.num_heads} does not divide {name}.dim {section.dim}",
        )
        need(section.mlp_ratio > 0, f"{name}.mlp_ratio", f"must be positive, got {section.mlp_ratio}")
    need(
        cfg.variant == "baseline" or not cfg.dfe.enabled or (cfg.dfe.dim // cfg.dfe.num_heads) % 2 == 0,
        "dfe.num_heads",
        "the head size (dim / num_heads) must be even: it splits into a +/- half",
    )
    need(
        cfg.dfe.lambda_mode in ("scalar", "channel"),
        "dfe.lambda_mode",
        f"must be 'scalar' (one lambda) or 'channel' (lambda per channel), got {cfg.dfe.lambda_mode!r}",
    )
    if cfg.fcg.enabled and cfg.variant != "baseline":
        need(
            1 <= cfg.fcg.num_clusters <= n_tokens,
            "fcg.num_clusters",
            f"must be in 1..{n_tokens} (the clip's tokens), got {cfg.fcg.num_clusters}",
        )
        need(1 <= cfg.fcg.knn < n_tokens, "fcg.knn", f"must be in 1..{n_tokens - 1}, got {cfg.fcg.knn}")
    if cfg.dsf.enabled and cfg.variant != "baseline":
        need(
            cfg.dsf.offset_groups >= 1 and cfg.dsf.num_heads % cfg.dsf.offset_groups == 0,
            "dsf.offset_groups",
            f"{cfg.dsf.offset_groups} does not divide dsf.num_heads {cfg.dsf.num_heads}",
        )
        need(cfg.dsf.offset_kernel % 2 == 1, "dsf.offset_kernel", f"must be odd, got {cfg.dsf.offset_kernel}")
        need(
            cfg.dsf.key_stride >= 1 and grid_h % cfg.dsf.key_stride == 0 and grid_w % cfg.dsf.key_stride == 0,
            "dsf.key_stride",
            f"must be >= 1 and divide the {grid_h}x{grid_w} token grid of a frame, got {cfg.dsf.key_stride}",
        )
        need(
            cfg.dsf.offset_range >= 0 and cfg.dsf.offset_range_t >= 0, "dsf.offset_range", "offset ranges must be >= 0"
        )
        need(
            cfg.dsf.sampling in ("shared", "per_query"),
            "dsf.sampling",
            f"must be 'shared' or 'per_query', got {cfg.dsf.sampling!r}",
        )
        if cfg.dsf.sampling == "per_query":
            need(cfg.dsf.points >= 1, "dsf.points", f"must be >= 1, got {cfg.dsf.points}")
            need(cfg.dsf.key_stride == 1, "dsf.key_stride", "per_query sampling has no reference grid: needs 1")
