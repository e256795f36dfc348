"""Foreign ViTPose weights: read them, map their names to this package's, load them into a model.

ViTPose weights come as mmpose ``.pth`` files (``state_dict`` with ``backbone.*`` and
``keypoint_head.*``) or as transformers VitPose checkpoints (a ``save_pretrained`` folder or its
``.safetensors``). ``detect_layout`` tells the layouts apart from the key names and
``remap_vitpose_keys`` maps each to this package's names; a new layout belongs here, beside
them, so that every foreign format is read in one place. Nothing is ever unpickled beyond
tensors: ``.pth`` files load with ``weights_only=True``. (This package's own format is
``pstpose.models.pretrained``.)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from pstpose.models.errors import CheckpointError, CheckpointNotFoundError
from pstpose.models.pretrained import check_shapes, read_safetensors


@dataclass
class LoadReport:
    """What ``load_vitpose_weights`` did. ``str(report)`` is a readable summary."""

    source: str
    layout: str  # "mmpose" or "transformers"
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # backbone/head keys the checkpoint lacks
    unexpected: list[str] = field(default_factory=list)  # checkpoint keys the model has no place for
    new_modules: list[str] = field(default_factory=list)  # PSTPose-only keys, kept at their init
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"{self.source}: {self.layout} layout, {len(self.loaded)} tensors loaded"]
        for title, keys in (("missing", self.missing), ("unexpected", self.unexpected)):
            if keys:
                lines.append(f"  {title} ({len(keys)}): {', '.join(keys[:10])}{' ...' if len(keys) > 10 else ''}")
        lines.append(f"  kept at init (PSTPose modules): {len(self.new_modules)} tensors")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


_HF_LAYER = re.compile(r"^backbone\.encoder\.layer\.(\d+)\.(.+)$")
_HF_LAYER_PARTS = {
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
    "attention.output.dense": "attn.proj",
    "mlp.fc1": "mlp.fc1",
    "mlp.fc2": "mlp.fc2",
}
_HF_TOP = {
    "backbone.embeddings.patch_embeddings.projection": "backbone.patch_embed.proj",
    "backbone.embeddings.position_embeddings": "backbone.pos_embed",
    "backbone.layernorm": "backbone.last_norm",
    "head.deconv1": "head.deconv_layers.0",
    "head.batchnorm1": "head.deconv_layers.1",
    "head.deconv2": "head.deconv_layers.3",
    "head.batchnorm2": "head.deconv_layers.4",
    "head.conv": "head.final_layer",
}


LAYOUTS = {
    "transformers": "transformers VitPose (backbone.embeddings.*, backbone.encoder.layer.N.*)",
    "mmpose": "ViTPose / mmpose 0.x (backbone.blocks.N.*, keypoint_head.*)",
    "mmpose1": "mmpose 1.x (mmpretrain VisionTransformer: backbone.layers.N.ln1/ffn.*, head.*)",
}


def detect_layout(keys: list[str]) -> str:
    """``"transformers"``, ``"mmpose"`` (ViTPose's own, mmpose 0.x), ``"mmpose1"`` (mmpose 1.x,
    whose backbone is mmpretrain's VisionTransformer) or ``"unknown"``, from the key names alone,
    so that a file needs no side information (file name, config) to be read. mmpose 1.x is tested
    first: its ``backbone.patch_embed.projection`` also starts like 0.x's ``patch_embed``."""
    if any(k.startswith(("backbone.embeddings.", "backbone.encoder.")) for k in keys):
        return "transformers"
    if any(k.startswith(("backbone.layers.", "backbone.patch_embed.projection.", "backbone.ln1.")) for k in keys):
        return "mmpose1"
    if any(k.startswith(("backbone.patch_embed.", "backbone.blocks.", "keypoint_head.")) for k in keys):
        return "mmpose"
    return "unknown"


_MMPOSE1_LAYER = re.compile(
    r"^backbone\.layers\.(\d+)\.(ln1|ln2|attn\.qkv|attn\.proj|ffn\.layers\.0\.0|ffn\.layers\.1)\.(weight|bias)$"
)
_MMPOSE1_PARTS = {
    "ln1": "norm1",
    "ln2": "norm2",
    "attn.qkv": "attn.qkv",
    "attn.proj": "attn.proj",
    "ffn.layers.0.0": "mlp.fc1",
    "ffn.layers.1": "mlp.fc2",
}
_MMPOSE1_TOP = {
    "backbone.patch_embed.projection": "backbone.patch_embed.proj",
    "backbone.ln1": "backbone.last_norm",
}


def _remap_mmpose1(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    out: dict[str, torch.Tensor] = {}
    unmapped: list[str] = []
    for key, value in state.items():
        layer = _MMPOSE1_LAYER.match(key)
        stem, _, leaf = key.rpartition(".")
        if layer:
            index, part, leaf = layer.groups()
            out[f"backbone.blocks.{index}.{_MMPOSE1_PARTS[part]}.{leaf}"] = value
        elif key == "backbone.pos_embed":
            out[key] = value
        elif stem in _MMPOSE1_TOP:
            out[f"{_MMPOSE1_TOP[stem]}.{leaf}"] = value
        elif key.startswith(("head.deconv_layers.", "head.final_layer.")):
            out[key] = value  # mmpose 1.x HeatmapHead: the same modules under the same names
        else:
            unmapped.append(key)  # data_preprocessor.*, cls_token, ...
    return out, unmapped


def remap_vitpose_keys(state: dict[str, torch.Tensor], layout: str) -> tuple[dict[str, torch.Tensor], list[str]]:
    """ViTPose keys (mmpose or transformers) -> PSTPose keys. Returns (remapped, keys left unmapped).

    mmpose: ``backbone.*`` is already our layout; ``keypoint_head.*`` becomes ``head.*``.
    transformers: ``encoder.layer.i`` becomes ``blocks.i`` with renamed parts, the separate
    query/key/value projections are concatenated into ``attn.qkv``, and the decoder's named
    layers become mmpose's ``deconv_layers`` indices.
    """
    out: dict[str, torch.Tensor] = {}
    unmapped: list[str] = []
    if layout == "mmpose1":
        return _remap_mmpose1(state)
    if layout == "mmpose":
        for key, value in state.items():
            if key.startswith("backbone."):
                out[key] = value
            elif key.startswith("keypoint_head."):
                out["head." + key[len("keypoint_head.") :]] = value
            else:
                unmapped.append(key)
        return out, unmapped
    if layout != "transformers":
        raise CheckpointError(f"unknown ViTPose key layout {layout!r}")
    qkv_parts: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        stem, _, leaf = key.rpartition(".")
        layer = _HF_LAYER.match(stem)
        if layer:
            index, part = layer.groups()
            prefix = f"backbone.blocks.{index}."
            if part.startswith("attention.attention."):  # query / key / value
                qkv_parts.setdefault(f"{prefix}attn.qkv.{leaf}", {})[part.rsplit(".", 1)[1]] = value
            elif part in _HF_LAYER_PARTS:
                out[f"{prefix}{_HF_LAYER_PARTS[part]}.{leaf}"] = value
            else:
                unmapped.append(key)
        elif key in _HF_TOP:  # parameters without a leaf name (position_embeddings)
            out[_HF_TOP[key]] = value
        elif stem in _HF_TOP:
            out[f"{_HF_TOP[stem]}.{leaf}"] = value
        else:
            unmapped.append(key)
    for target, parts in qkv_parts.items():
        if set(parts) != {"query", "key", "value"}:
            unmapped += [f"{target} ({name})" for name in sorted(parts)]
            continue
        out[target] = torch.cat([parts["query"], parts["key"], parts["value"]], dim=0)
    return out, unmapped


# What published checkpoints carry besides tensors: mmengine's ``meta`` holds numpy arrays and
# scalars. These globals only rebuild arrays (no code of the file's choosing runs); anything else a
# pickle asks for is refused.
_NUMPY_ARRAY_GLOBALS = (
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
)


def _numpy_safe_globals() -> list:
    import importlib

    import numpy as np

    found = []
    for module, name in _NUMPY_ARRAY_GLOBALS:
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    # numpy >= 1.25 pickles a dtype through its class (numpy.dtypes.Float64DType, ...)
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        found += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")]
    return found


def load_tensor_file(path: Path) -> object:
    """``torch.load`` that runs no code from the file: tensors, plain containers and numpy arrays
    (as published mmengine checkpoints carry in ``meta``); any other object is a one-line
    refusal naming what the file asked for, without advice to switch the safety off."""
    import pickle
    import warnings

    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(_numpy_safe_globals()):
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        asked = re.search(r"(?:GLOBAL|global) ([\w.]+)", str(exc))
        if asked is None:
            raise CheckpointError(f"{path}: not a readable checkpoint (corrupt, or not a PyTorch file)") from None
        raise CheckpointError(
            f"{path}: refused: the file asks for {asked.group(1)}, which is neither a tensor, plain data nor a "
            "numpy array; pstpose never runs code from a checkpoint"
        ) from None
    except Exception as exc:  # truncated archives and other foreign files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({first[:160]})") from None


def read_vitpose_state(path: Path) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Tensors of a ViTPose checkpoint file or transformers folder, plus notes about it."""
    notes: list[str] = []
    if path.is_dir():
        candidates = [path / "model.safetensors", path / "pytorch_model.bin"]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise CheckpointNotFoundError(f"{path}: no model.safetensors or pytorch_model.bin in this folder")
        config = path / "config.json"
        if config.is_file():
            notes += _transformers_config_notes(config)
        path = found
    elif not path.is_file():
        raise CheckpointNotFoundError(f"{path}: no such ViTPose checkpoint")
    if path.suffix == ".safetensors":
        state = read_safetensors(path)
    else:
        raw = load_tensor_file(path)
        if isinstance(raw, dict) and isinstance(raw.get("state_dict"), dict):
            raw = raw["state_dict"]
        elif isinstance(raw, dict) and isinstance(raw.get("model"), dict):
            raw = raw["model"]
        if not isinstance(raw, dict):
            raise CheckpointError(f"{path}: expected a dict of tensors, got {type(raw).__name__}")
        state = {k.removeprefix("module."): v for k, v in raw.items() if isinstance(v, torch.Tensor)}
    return state, notes


def _transformers_config_notes(config_path: Path) -> list[str]:
    try:
        data = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError):
        return [f"{config_path}: unreadable, ignored"]
    backbone = data.get("backbone_config") or {}
    notes = []
    eps = backbone.get("layer_norm_eps")
    if eps is not None:
        notes.append(f"checkpoint layer_norm_eps = {eps} (set backbone.layer_norm_eps to match)")
    if data.get("use_simple_decoder") is not None:
        notes.append(f"checkpoint head: {'simple' if data['use_simple_decoder'] else 'classic'} decoder")
    return notes


def load_vitpose_weights(
    model: nn.Module, path: str | Path, include_head: bool = True, strict: bool = False
) -> LoadReport:
    """Load a ViTPose checkpoint into ``model``'s backbone (and head). Returns a LoadReport.

    Shape mismatches are refused (key and both shapes named). ``strict`` also refuses missing
    backbone/head keys and unexpected checkpoint keys; otherwise they are only reported.
    """
    path = Path(path)
    raw, notes = read_vitpose_state(path)
    layout = detect_layout(list(raw))
    if layout == "unknown":
        raise CheckpointError(
            f"{path}: not a ViTPose checkpoint (no backbone.patch_embed/blocks or backbone.embeddings/encoder keys)"
        )
    state, unmapped = remap_vitpose_keys(raw, layout)
    if not include_head:
        unmapped += sorted(k for k in state if k.startswith("head."))
        state = {k: v for k, v in state.items() if not k.startswith("head.")}
    model_state = model.state_dict()
    key = "backbone.pos_embed"
    if key in state and key in model_state and state[key].ndim == 3:
        table, ours = state[key], model_state[key]
        if table.shape[1] + 1 == ours.shape[1] and table.shape[2] == ours.shape[2]:
            # mmpretrain's ViT without a class token: no class slot. Ours adds slot 0 to every
            # position; a zero slot 0 makes the two the same.
            state[key] = torch.cat([torch.zeros_like(table[:, :1]), table], dim=1)
            notes.append("position table has no class-token slot: loaded with a zero slot")
    check_shapes(model_state, state, path)
    wanted = [k for k in model_state if k.startswith("backbone.") or (include_head and k.startswith("head."))]
    report = LoadReport(
        source=str(path),
        layout=layout,
        loaded=sorted(k for k in state if k in model_state),
        missing=sorted(k for k in wanted if k not in state),
        unexpected=sorted(unmapped + [k for k in state if k not in model_state]),
        new_modules=sorted(k for k in model_state if k not in wanted),
        notes=notes,
    )
    if strict and (report.missing or report.unexpected):
        raise CheckpointError(f"strict load refused:\n{report}")
    with torch.no_grad():
        for key in report.loaded:
            model_state[key].copy_(state[key])
    return report
