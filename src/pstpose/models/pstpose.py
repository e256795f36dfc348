"""PSTPose: ViTPose backbone over a clip, DFE -> FCG -> DSF refinement, heatmap head."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from pstpose.config import ConfigError, ModelConfig, from_dict, merge_dict, model_preset, to_dict
from pstpose.config.model import check_model_config
from pstpose.models.dfe import DifferentialAttention, lambda_init_for_depth
from pstpose.models.dsf import DeformableFusion
from pstpose.models.fcg import ClusterGuidance
from pstpose.models.heads import build_head
from pstpose.models.layers import RefinementBlock, SpatiotemporalSelfAttention, TokenGrid
from pstpose.models.vit import ViTBackbone, token_grid_size
from pstpose.preprocess import IMAGENET_MEAN, IMAGENET_STD

REFINEMENT_STAGES = ("dfe", "fcg", "dsf")


def _refinement_mixer(name: str, cfg: ModelConfig, grid: TokenGrid) -> nn.Module:
    c = cfg.backbone.embed_dim
    sec = getattr(cfg, name)
    if cfg.variant == "baseline":  # a differential head pairs two standard heads
        return SpatiotemporalSelfAttention(c, sec.dim, sec.num_heads * (2 if name == "dfe" else 1))
    if name == "dfe":
        lam = sec.lambda_init if sec.lambda_init is not None else lambda_init_for_depth(cfg.backbone.depth + 1)
        return DifferentialAttention(c, sec.dim, sec.num_heads, lam, sec.lambda_mode)
    if name == "fcg":
        return ClusterGuidance(c, sec.dim, sec.num_heads, sec.num_clusters, sec.knn)
    return DeformableFusion(
        c,
        sec.dim,
        sec.num_heads,
        sec.offset_groups,
        grid,
        sec.offset_kernel,
        sec.offset_range_t,
        sec.offset_range,
        sec.key_stride,
        sec.sampling,
        sec.points,
    )


class PSTPose(nn.Module):
    """Clip (B, T, 3, H, W), ImageNet-normalised, keyframe in the middle -> heatmaps (B, K, H/4, W/4)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        check_model_config(config)
        self.config = config
        c = config.backbone.embed_dim
        gh, gw = token_grid_size(config.image_size, config.backbone.patch_size)
        self.grid = TokenGrid(config.num_frames, gh, gw)
        self.backbone = ViTBackbone(config.backbone, config.image_size)
        self.temporal_embed = nn.Parameter(torch.zeros(1, config.num_frames, 1, c))
        self.refine = nn.ModuleDict()
        for name in REFINEMENT_STAGES:
            sec = getattr(config, name)
            if sec.enabled:
                mixer = _refinement_mixer(name, config, self.grid)
                self.refine[name] = RefinementBlock(c, mixer, int(round(sec.mlp_ratio * sec.dim)))
        self.head = build_head(config.head, c, config.num_keypoints)
        # The model owns its input normalisation (pixel values 0..255, RGB); not saved with the
        # weights, so every checkpoint keeps loading unchanged.
        self.register_buffer("pixel_mean", torch.as_tensor(IMAGENET_MEAN * 255.0).view(3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.as_tensor(IMAGENET_STD * 255.0).view(3, 1, 1), persistent=False)

    @property
    def joint_set(self):
        """What the heatmap channels are (``pstpose.keypoints.JointSet``): names, flip pairs,
        skeleton; from ``config.keypoints``."""
        from pstpose.keypoints import joint_set_for

        return joint_set_for(self.config.keypoints, self.config.num_keypoints)

    def preprocess(self, crops: torch.Tensor) -> torch.Tensor:
        """RGB crops (B, T, H, W, 3) uint8 (or float 0..255) -> the normalised clip ``forward`` takes.

        Put the bytes on the model's device first: moving uint8 is 4x less transfer than float.
        """
        if crops.ndim != 5 or crops.shape[-1] != 3:
            raise ValueError(f"preprocess expects RGB crops (B, T, H, W, 3), got shape {tuple(crops.shape)}")
        x = crops.to(self.pixel_mean.device).permute(0, 1, 4, 2, 3).float()
        return (x - self.pixel_mean) / self.pixel_std

    def no_weight_decay(self) -> set[str]:
        """Parameter names the optimiser must not decay: position tables, the frame embedding,
        and every bias, norm scale and other vector (λ of DFE included)."""
        tables = {"temporal_embed", "backbone.pos_embed"}
        return {name for name, p in self.named_parameters() if p.ndim <= 1 or name in tables}

    def check_clip(self, clip: torch.Tensor) -> None:
        expected = (self.config.num_frames, 3, *self.config.image_size)
        if not isinstance(clip, torch.Tensor) or clip.ndim != 5 or tuple(clip.shape[1:]) != expected:
            got = tuple(clip.shape) if isinstance(clip, torch.Tensor) else type(clip).__name__
            raise ValueError(
                f"PSTPose expects a clip of shape (B, {', '.join(map(str, expected))}) "
                f"(T = 2*frames_per_side+1 = {expected[0]}), got {got}"
            )
        if not clip.is_floating_point():
            raise ValueError(f"PSTPose expects a float clip (ImageNet-normalised), got dtype {clip.dtype}")

    def clip_tokens(self, clip: torch.Tensor) -> torch.Tensor:
        """Backbone on all frames as one batch + frame embedding -> F_st (B, T*h*w, C)."""
        b, t = clip.shape[:2]
        tokens = self.embed_frames(clip.reshape(b * t, *clip.shape[2:]))
        return self.stack_frames(tokens.reshape(b, t, self.grid.tokens_per_frame, -1))

    def embed_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Backbone alone: normalised frame crops (B, 3, H, W) -> tokens (B, h*w, C). A frame's
        tokens do not depend on the clip it is in, which is what streaming inference reuses."""
        return self.backbone(frames)

    def stack_frames(self, frame_tokens: torch.Tensor) -> torch.Tensor:
        """Per-frame tokens (B, T, h*w, C) + the frame embedding -> F_st (B, T*h*w, C)."""
        b, t = frame_tokens.shape[:2]
        return (frame_tokens + self.temporal_embed).reshape(b, t * self.grid.tokens_per_frame, -1)

    def heatmaps_from_frame_tokens(self, frame_tokens: torch.Tensor) -> torch.Tensor:
        """``forward`` after the backbone: per-frame tokens (B, T, h*w, C) -> keyframe heatmaps."""
        expected = (self.config.num_frames, self.grid.tokens_per_frame)
        if frame_tokens.ndim != 4 or tuple(frame_tokens.shape[1:3]) != expected:
            raise ValueError(
                f"frame tokens must be (B, {expected[0]}, {expected[1]}, C), got {tuple(frame_tokens.shape)}"
            )
        return self.decode_keyframe(self.refine_tokens(self.stack_frames(frame_tokens)))

    def refine_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """F_st -> F3_st through the enabled refinement blocks (DFE, FCG, DSF in that order)."""
        for block in self.refine.values():
            tokens = block(tokens)
        return tokens

    def decode_keyframe(self, tokens: torch.Tensor) -> torch.Tensor:
        """Keyframe tokens of (B, N, C) as a (B, C, h, w) map -> heatmaps."""
        g = self.grid
        key = g.frames // 2
        key_tokens = tokens[:, key * g.tokens_per_frame : (key + 1) * g.tokens_per_frame]
        fmap = key_tokens.transpose(1, 2).reshape(tokens.shape[0], -1, g.height, g.width)
        return self.head(fmap)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        self.check_clip(clip)
        return self.decode_keyframe(self.refine_tokens(self.clip_tokens(clip)))

    # --- weights ------------------------------------------------------------------------------

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``model.safetensors`` + ``config.json`` into ``directory`` (each atomically)."""
        from pstpose.models.pretrained import save_pretrained

        return save_pretrained(self, directory)

    @classmethod
    def from_pretrained(cls, path: str | Path, map_location: str | torch.device = "cpu") -> PSTPose:
        """Load a folder written by ``save_pretrained`` (or its ``model.safetensors`` path).

        Only pretrained folders; ``pstpose.models.load_model`` also reads trainer state files
        and knows the packaged default weights.
        """
        from pstpose.models.pretrained import load_pretrained

        return load_pretrained(path, map_location=map_location)

    def load_vitpose_weights(
        self, path: str | Path, include_head: bool = True, strict: bool = False, dataset: str | None = None
    ) -> Any:
        """Load ViTPose weights (mmpose ``.pth`` or transformers VitPose) into backbone and head."""
        from pstpose.models.vitpose_weights import load_vitpose_weights

        return load_vitpose_weights(self, path, include_head=include_head, strict=strict, dataset=dataset)


def build_model(preset: str | ModelConfig = "vitpose-b", **overrides: Any) -> PSTPose:
    """A PSTPose from a preset name or a ModelConfig; ``overrides`` are ModelConfig fields and
    nested sections as dicts that merge into the preset, e.g. ``fcg={"num_clusters": 16}``."""
    if isinstance(preset, ModelConfig):
        base = to_dict(preset)
    elif isinstance(preset, str):
        base = to_dict(model_preset(preset))
    else:
        raise ConfigError(f"preset must be a preset name or a ModelConfig, got {type(preset).__name__}")
    if "preset" in overrides:
        raise ConfigError("pass the preset as the first argument, not as an override")
    plain = {k: to_dict(v) if hasattr(v, "__dataclass_fields__") else v for k, v in overrides.items()}
    config = from_dict(ModelConfig, merge_dict(base, plain), prefix="model")
    return PSTPose(config)
