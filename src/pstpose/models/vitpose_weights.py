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
    layout: str  # a key of LAYOUTS
    evidence: str = ""  # the key that decided the layout
    joint_set: str | None = None  # of the checkpoint's head
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # backbone/head keys the checkpoint lacks
    unexpected: list[str] = field(default_factory=list)  # checkpoint keys the model has no place for
    new_modules: list[str] = field(default_factory=list)  # PSTPose-only keys, kept at their init
    notes: list[str] = field(default_factory=list)

    def one_line(self) -> str:
        """The load in one line, for commands: what was read and what the model now is."""
        joints = f"{self.joint_set} joints" if self.joint_set else "unnamed joints"
        merged = next((n for n in self.notes if n.startswith("ViTPose++")), "")
        merged = f"; {merged.split(':')[0]}" if merged else ""
        return (
            f"weights: {self.source}: {self.layout} ViTPose checkpoint{merged}, {joints}; runs as single-frame "
            "ViTPose (PSTPose refinement modules at their zero start)"
        )

    def __str__(self) -> str:
        why = f" (detected from {self.evidence})" if self.evidence else ""
        head = f", head: {self.joint_set} joints" if self.joint_set else ""
        lines = [
            f"{self.source}: {LAYOUTS.get(self.layout, self.layout)}{why}, {len(self.loaded)} tensors loaded{head}"
        ]
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
            if key.startswith(("backbone.", "associate_keypoint_heads.")):
                out[key] = value  # ViTPose++'s experts and other datasets' heads: merge_experts
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
            elif part.startswith("mlp.experts."):  # vitpose-plus: merged by merge_experts
                out[f"{prefix}{part}.{leaf}"] = value
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


# --- ViTPose++ (mixture of experts) ------------------------------------------------------------
# ViTPose++ trains one backbone on six datasets: each block's MLP ends in a shared fc2 part
# (width - part_features outputs) and one expert per dataset (part_features outputs each), whose
# outputs are concatenated. Choosing a dataset therefore turns the MoE MLP into a plain one: fc2
# = [shared; expert]. Raw checkpoints also hold the other datasets' heads
# (associate_keypoint_heads.{i} for dataset i + 1), whose final layer has more channels than the
# dataset has joints. The order and joint counts are ViTPose++'s.
VITPOSE_PLUS_DATASETS: tuple[tuple[str, int, str], ...] = (
    ("coco", 17, "coco"),
    ("aic", 14, "aic"),
    ("mpii", 16, "mpii"),
    ("ap10k", 17, "animal"),
    ("apt36k", 17, "animal"),
    ("wholebody", 133, "wholebody"),
)
DATASET_NAMES = tuple(d[0] for d in VITPOSE_PLUS_DATASETS)
_EXPERT = re.compile(r"^(backbone\.blocks\.\d+\.mlp)\.experts\.(\d+)\.(weight|bias)$")


def is_moe(state: dict[str, torch.Tensor]) -> bool:
    """Whether the (remapped) state still has ViTPose++ experts or other datasets' heads."""
    return any(_EXPERT.match(k) or k.startswith("associate_keypoint_heads.") for k in state)


def merge_experts(
    state: dict[str, torch.Tensor], dataset: str | None, source: str, *, has_other_heads: bool
) -> tuple[dict[str, torch.Tensor], list[str], str | None]:
    """Make a ViTPose++ state a plain ViTPose one for ``dataset`` (None: COCO).

    Returns (state, notes, joint set name of the head now in ``head.*``, None when unchanged).
    Split files (fc2 already full width, as ViTPose's model_split writes them) keep their fc2 and
    lose the leftover experts. A dataset whose expert the file lacks is refused, listing those it
    has.
    """
    experts: dict[str, dict[int, dict[str, torch.Tensor]]] = {}
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        m = _EXPERT.match(key)
        if m:
            experts.setdefault(m.group(1), {}).setdefault(int(m.group(2)), {})[m.group(3)] = value
        else:
            out[key] = value
    notes: list[str] = []
    heads_joint_set = None
    count = max((len(e) for e in experts.values()), default=0)
    available = DATASET_NAMES[:count] if experts else ()
    if dataset is not None and dataset not in DATASET_NAMES:
        raise CheckpointError(f"{source}: unknown ViTPose++ dataset {dataset!r} (known: {', '.join(DATASET_NAMES)})")
    if experts:
        chosen = dataset or "coco"
        index = DATASET_NAMES.index(chosen)
        if index >= count:
            raise CheckpointError(
                f"{source}: no expert for dataset {chosen!r}; this ViTPose++ file has {count}: {', '.join(available)}"
            )
        width = out["backbone.patch_embed.proj.weight"].shape[0] if "backbone.patch_embed.proj.weight" in out else None
        merged = 0
        for stem, by_index in experts.items():
            fc2 = out.get(f"{stem}.fc2.weight")
            if fc2 is None:
                raise CheckpointError(f"{source}: {stem}.experts without {stem}.fc2")
            if width is not None and fc2.shape[0] == width:
                continue  # a split file: already merged
            part = by_index.get(index, {})
            if set(part) != {"weight", "bias"} or f"{stem}.fc2.bias" not in out:
                raise CheckpointError(f"{source}: {stem}.experts.{index} is incomplete (needs weight and bias)")
            out[f"{stem}.fc2.weight"] = torch.cat([fc2, part["weight"]], dim=0)
            out[f"{stem}.fc2.bias"] = torch.cat([out[f"{stem}.fc2.bias"], part["bias"]], dim=0)
            merged += 1
        if merged:
            notes.append(
                f"ViTPose++ mixture of experts: dataset {chosen!r} (expert {index} of {count}: "
                f"{', '.join(available)}) merged into fc2 of {merged} blocks; the other experts dropped"
            )
        else:
            notes.append(f"ViTPose++ split file (fc2 already full width): leftover experts of {count} datasets dropped")
    elif dataset not in (None, "coco"):
        raise CheckpointError(
            f"{source}: not a ViTPose++ (mixture-of-experts) checkpoint, so it has no dataset {dataset!r} to choose"
        )
    # Heads: raw files carry COCO's as keypoint_head and dataset i + 1's as associate head i.
    chosen = dataset or "coco"
    index = DATASET_NAMES.index(chosen)
    associate = {k: v for k, v in out.items() if k.startswith("associate_keypoint_heads.")}
    for k in associate:
        del out[k]
    if index > 0 and has_other_heads:
        prefix = f"associate_keypoint_heads.{index - 1}."
        head = {k[len(prefix) :]: v for k, v in associate.items() if k.startswith(prefix)}
        if not head:
            raise CheckpointError(f"{source}: no head for dataset {chosen!r} (associate_keypoint_heads.{index - 1})")
        joints = VITPOSE_PLUS_DATASETS[index][1]
        out = {k: v for k, v in out.items() if not k.startswith("head.")}
        for name, value in head.items():
            if name.startswith("final_layer."):
                value = value[:joints]
            out[f"head.{name}"] = value
        heads_joint_set = VITPOSE_PLUS_DATASETS[index][2]
        notes.append(f"head: {chosen}'s (associate_keypoint_heads.{index - 1}, first {joints} channels)")
    elif associate:
        notes.append("head: COCO's (keypoint_head); the other datasets' heads dropped")
    elif index > 0 and experts:
        notes.append(f"the file has one head (COCO's): {chosen}'s expert feeds COCO's head, as in transformers")
    return out, notes, heads_joint_set


# The joint set of a plain ViTPose head, from its channel count: published heads are COCO's (17),
# or AIC's, MPII's, COCO-WholeBody's. A 17-channel head is taken as COCO's: the animal datasets
# share the count, and only a ViTPose++ dataset choice says otherwise.
_JOINT_SET_BY_COUNT = {17: "coco", 14: "aic", 16: "mpii", 133: "wholebody"}


def head_joint_set(num_channels: int) -> str | None:
    return _JOINT_SET_BY_COUNT.get(int(num_channels))


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

    from pstpose.inputs import InputFileError, check_regular_file

    try:
        check_regular_file(path, "weights file")  # a FIFO would block torch.load
    except InputFileError as exc:
        raise CheckpointError(str(exc)) from None
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


@dataclass
class VitPoseState:
    """A ViTPose checkpoint read, renamed to this package's keys and (ViTPose++) merged."""

    source: Path
    layout: str
    evidence: str  # the key that decided the layout
    state: dict[str, torch.Tensor]
    unmapped: list[str]
    notes: list[str]
    joint_set: str | None  # of the head in ``state`` (None: not a known dataset's)
    hf_config: dict | None = None


def read_vitpose(path: str | Path, dataset: str | None = None) -> VitPoseState:
    """Read any published ViTPose layout at ``path`` into a ``VitPoseState`` (see the module
    docstring); ``dataset`` picks a ViTPose++ expert and head (default COCO)."""
    path = Path(path)
    raw, notes = read_vitpose_state(path)
    keys = list(raw)
    layout = detect_layout(keys)
    if layout == "unknown":
        raise CheckpointError(
            f"{path}: not a ViTPose checkpoint (no backbone.patch_embed / blocks / layers or "
            "backbone.embeddings / encoder keys)"
        )
    evidence = next(k for k in keys if k.startswith(_LAYOUT_EVIDENCE[layout]))
    state, unmapped = remap_vitpose_keys(raw, layout)
    table = state.get("backbone.pos_embed")
    if layout == "mmpose1" and table is not None and table.ndim == 3:
        # mmpretrain's ViT without a class token has no class slot. Ours adds slot 0 to every
        # position; a zero slot 0 makes the two the same.
        state["backbone.pos_embed"] = torch.cat([torch.zeros_like(table[:, :1]), table], dim=1)
        notes.append("position table has no class-token slot: read with a zero slot")
    has_other_heads = any(k.startswith("associate_keypoint_heads.") for k in state)
    state, moe_notes, heads = merge_experts(state, dataset, str(path), has_other_heads=has_other_heads)
    notes += moe_notes
    head = state.get("head.final_layer.weight")
    joint_set = heads or (head_joint_set(head.shape[0]) if head is not None else None)
    hf_config = None
    config_file = (path if path.is_dir() else path.parent) / "config.json"
    if layout == "transformers" and config_file.is_file():
        try:
            hf_config = json.loads(config_file.read_text())
        except (OSError, ValueError):
            hf_config = None
    return VitPoseState(path, layout, evidence, state, unmapped, notes, joint_set, hf_config)


_LAYOUT_EVIDENCE = {
    "transformers": ("backbone.embeddings.", "backbone.encoder."),
    "mmpose1": ("backbone.layers.", "backbone.patch_embed.projection.", "backbone.ln1."),
    "mmpose": ("backbone.patch_embed.", "backbone.blocks.", "keypoint_head."),
}


def load_vitpose_weights(
    model: nn.Module,
    path: str | Path | VitPoseState,
    include_head: bool = True,
    strict: bool = False,
    dataset: str | None = None,
) -> LoadReport:
    """Load a ViTPose checkpoint (or a ``read_vitpose`` result) into ``model``'s backbone (and
    head). Returns a LoadReport.

    Shape mismatches are refused (key and both shapes named). ``strict`` also refuses missing
    backbone/head keys and unexpected checkpoint keys; otherwise they are only reported. A head
    whose joint set differs from the model's is loaded channel for channel, and the report says
    which channels change meaning (a COCO head in PoseTrack slots: the eyes become head_bottom
    and head_top, and re-learn).
    """
    read = path if isinstance(path, VitPoseState) else read_vitpose(path, dataset)
    path = read.source
    state = dict(read.state)
    notes = list(read.notes)
    unmapped = list(read.unmapped)
    if not include_head:
        unmapped += sorted(k for k in state if k.startswith("head."))
        state = {k: v for k, v in state.items() if not k.startswith("head.")}
    model_state = model.state_dict()
    check_shapes(model_state, state, path)
    if include_head and "head.final_layer.weight" in state:
        notes += _head_meaning_notes(model, read.joint_set)
    wanted = [k for k in model_state if k.startswith("backbone.") or (include_head and k.startswith("head."))]
    report = LoadReport(
        source=str(path),
        layout=read.layout,
        evidence=read.evidence,
        joint_set=read.joint_set,
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


def _head_meaning_notes(model: nn.Module, head_set: str | None) -> list[str]:
    """What loading a head trained on ``head_set`` into ``model``'s joint slots means."""
    from pstpose.keypoints import joint_set

    ours = getattr(model, "joint_set", None)
    if ours is None or head_set is None or head_set == ours.name:
        return []
    theirs = joint_set(head_set)
    if len(theirs) != len(ours):
        return []
    changed = [f"{a}->{b}" for a, b in zip(theirs.joints, ours.joints) if a != b]
    if not changed:
        return []
    return [
        f"the head was trained on {theirs.name} joints and is loaded channel for channel into {ours.name} slots: "
        f"{', '.join(changed)} change meaning and re-learn in training (the other channels keep theirs)"
    ]
