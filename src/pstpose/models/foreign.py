"""A ViTPose checkpoint as a ready PSTPose: the architecture read from the tensors themselves.

``load_model`` turns to this when the weights are not a PSTPose file: a ViTPose/mmpose 0.x
``.pth``, an mmpose 1.x checkpoint, a transformers VitPose folder or ``.safetensors``, or a Hugging
Face Hub id (``hf:owner/name``). The backbone width and depth, the heads (from the published
preset of that width and depth, or the transformers config), the input size (from the position
table, or the config), the head's kind and channels and the joint count all come from the file.
The result is a PSTPose whose refinement modules are at their zero start: exactly single-frame
ViTPose on the keyframe, until a run trains them.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from pstpose.config import BACKBONE_PRESETS, ModelConfig, model_preset
from pstpose.models.errors import CheckpointError, CheckpointNotFoundError

HUB_PREFIX = "hf:"


def resolve_hub_id(weights: str) -> Path:
    """``hf:owner/name[@revision]`` → the local snapshot folder, through huggingface_hub's cache
    (downloaded on a machine with internet; ``HF_HUB_OFFLINE=1`` uses the cache only)."""
    ident = weights[len(HUB_PREFIX) :]
    repo, _, revision = ident.partition("@")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise CheckpointError(f"{weights}: a Hub id is hf:OWNER/NAME (e.g. hf:usyd-community/vitpose-base-simple)")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise CheckpointError(f"{weights}: Hub ids need huggingface_hub: pip install 'pstpose[hub]'") from None
    try:
        folder = snapshot_download(
            repo, revision=revision or None, allow_patterns=["*.json", "*.safetensors", "*.bin", "*.pth"]
        )
    except Exception as exc:  # offline without a cached copy, unknown repo, network errors
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        hint = " (HF_HUB_OFFLINE is set and the cache has no copy)" if offline else ""
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointNotFoundError(
            f"{weights}: cannot fetch from the Hugging Face Hub{hint}: {first[:160]}"
        ) from None
    return Path(folder)


def _grid_from_tokens(tokens: int) -> tuple[int, int]:
    """A token count → (rows, cols), preferring ViTPose's 4:3 portrait grids (16x12 at 256x192)."""
    for rows in range(int(math.isqrt(tokens)), tokens + 1):
        if tokens % rows == 0:
            cols = tokens // rows
            if rows * 3 == cols * 4:
                return rows, cols
    rows = int(math.isqrt(tokens))
    while tokens % rows:
        rows -= 1
    return max(rows, tokens // rows), min(rows, tokens // rows)


def infer_config(state: dict[str, torch.Tensor], source: Path, hf_config: dict | None = None) -> ModelConfig:
    """The ModelConfig a ViTPose state (already in this package's key names) needs."""
    try:
        patch = state["backbone.patch_embed.proj.weight"]
    except KeyError:
        raise CheckpointError(
            f"{source}: no patch embedding (backbone.patch_embed) in this ViTPose checkpoint"
        ) from None
    width, _, patch_size, _ = patch.shape
    depth = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("backbone.blocks."))
    backbone_cfg = (hf_config or {}).get("backbone_config") or {}
    preset = next(
        (name for name, b in BACKBONE_PRESETS.items() if name != "tiny" and (b.embed_dim, b.depth) == (width, depth)),
        None,
    )
    heads = backbone_cfg.get("num_attention_heads") or (BACKBONE_PRESETS[preset].num_heads if preset else None)
    if heads is None:
        raise CheckpointError(
            f"{source}: a ViTPose backbone of width {width} and depth {depth} matches no published preset "
            f"({', '.join(n for n in BACKBONE_PRESETS if n != 'tiny')}) and the file does not say its head count"
        )
    cfg = model_preset(preset or "vitpose-b")
    cfg.backbone.embed_dim, cfg.backbone.depth, cfg.backbone.num_heads = int(width), int(depth), int(heads)
    cfg.backbone.patch_size = int(patch_size)
    cfg.backbone.drop_path_rate = 0.0
    if backbone_cfg.get("layer_norm_eps") is not None:
        cfg.backbone.layer_norm_eps = float(backbone_cfg["layer_norm_eps"])
    if "image_size" in backbone_cfg:
        cfg.image_size = tuple(int(v) for v in backbone_cfg["image_size"])
    else:
        tokens = state["backbone.pos_embed"].shape[1] - 1 if "backbone.pos_embed" in state else 192
        rows, cols = _grid_from_tokens(tokens)
        cfg.image_size = (rows * patch_size, cols * patch_size)
    if "head.final_layer.weight" in state and "head.deconv_layers.0.weight" in state:
        cfg.head.kind = "classic"
        cfg.head.deconv_channels = int(state["head.deconv_layers.0.weight"].shape[1])
        cfg.head.num_deconv = len(
            {
                k.split(".")[2]
                for k in state
                if k.startswith("head.deconv_layers.") and k.endswith(".weight") and state[k].ndim == 4
            }
        )
        cfg.num_keypoints = int(state["head.final_layer.weight"].shape[0])
    elif "head.final_layer.weight" in state:
        cfg.head.kind = "simple"
        cfg.num_keypoints = int(state["head.final_layer.weight"].shape[0])
    else:
        raise CheckpointError(f"{source}: no heatmap head (keypoint_head / head) in this ViTPose checkpoint")
    cfg.preset = preset or "custom"
    cfg.frames_per_side = 1
    return cfg


def load_vitpose_model(path: Path, dataset: str | None = None):
    """A PSTPose (eval mode) holding the ViTPose checkpoint at ``path`` (``dataset``: the
    ViTPose++ expert and head to use, default COCO), with ``model.load_report``."""
    from pstpose.models.pstpose import PSTPose
    from pstpose.models.vitpose_weights import load_vitpose_weights, read_vitpose

    read = read_vitpose(path, dataset)
    cfg = infer_config(read.state, path, read.hf_config)
    cfg.keypoints = read.joint_set or "posetrack"  # unnamed head sizes get generic names
    with torch.random.fork_rng(devices=[]):
        model = PSTPose(cfg)
    report = load_vitpose_weights(model, read)
    if report.missing:
        raise CheckpointError(
            f"{path}: the ViTPose checkpoint lacks {len(report.missing)} tensors: {', '.join(report.missing[:5])}"
        )
    report.notes.append(
        f"{cfg.preset} backbone ({cfg.backbone.embed_dim} wide, {cfg.backbone.depth} deep, "
        f"{cfg.backbone.num_heads} heads) at {cfg.image_size[0]}x{cfg.image_size[1]}; refinement modules at their "
        "zero start: single-frame ViTPose on the keyframe"
    )
    model.load_report = report
    return model.eval()
