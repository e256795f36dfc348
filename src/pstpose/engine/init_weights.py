"""``train.init_weights``: start a run from weights another run (or ViTPose) produced.

Unlike :func:`pstpose.models.load_model`, which rebuilds the stored model exactly, this loads
what a *different* model shares with the file: another input size, another ablation variant.
It reads the files with the same readers (``pstpose.models.pretrained``,
``pstpose.engine.training_state``, ``pstpose.models.vitpose_weights``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from pstpose.config import ModelConfig
from pstpose.engine.training_state import TRAINING_STATE_SUFFIXES, load_training_state, model_of_training_state
from pstpose.models.errors import CheckpointError, CheckpointNotFoundError
from pstpose.models.pretrained import check_shapes, is_pretrained, read_pretrained


def read_pstpose_weights(path: Path) -> tuple[dict[str, torch.Tensor], ModelConfig] | None:
    """``(state_dict, ModelConfig)`` of a pretrained folder or a training state, or None when
    ``path`` is neither (a ViTPose file, say). A ``.pt``/``.pth`` that is not a readable training
    state is also None: mmpose writes ``.pth`` files too, and the ViTPose reader then names the
    file and its problem."""
    if is_pretrained(path):
        return read_pretrained(path)
    if path.is_file() and path.suffix in TRAINING_STATE_SUFFIXES:
        try:
            state = load_training_state(path)
        except CheckpointError:
            return None
        return model_of_training_state(state, path)
    return None


def load_init_weights(model: nn.Module, path: str | Path) -> str:
    """Initialise ``model`` from ``path`` before training; returns a one-line summary.

    PSTPose weights (either kind) give every tensor the model shares with them, so a run can
    start where another ended: on another dataset, at another input size (the position table
    is resized) or as another ablation variant (modules the file lacks keep their initial
    values). Anything else is read as a ViTPose checkpoint (backbone and head).
    Shape mismatches are refused with the key and both shapes.
    """
    from pstpose.models.vit import resize_pos_embed, token_grid_size

    path = Path(path)
    if not path.exists():
        raise CheckpointNotFoundError(f"{path}: train.init_weights file not found")
    found = read_pstpose_weights(path)
    if found is None:
        report = model.load_vitpose_weights(path)
        notes = "".join(f"; {n}" for n in report.notes)
        return (
            f"{path}: ViTPose weights ({report.layout}), {len(report.loaded)} tensors loaded, "
            f"{len(report.missing)} missing, {len(report.unexpected)} unexpected{notes}"
        )
    state, cfg = dict(found[0]), found[1]
    model_state = model.state_dict()
    key, resized = "backbone.pos_embed", ""
    if key in state and key in model_state and state[key].shape != model_state[key].shape:
        old_grid = token_grid_size(tuple(cfg.image_size), cfg.backbone.patch_size)
        try:
            state[key] = resize_pos_embed(state[key], old_grid, model.backbone.grid)
        except ValueError as exc:
            raise CheckpointError(f"{path}: {key}: {exc}") from None
        resized = f", position table resized to {model.backbone.grid}"
    key = "temporal_embed"  # (1, T, 1, C): another clip length
    if key in state and key in model_state and state[key].shape != model_state[key].shape:
        old, new = state[key], model_state[key]
        if old.shape[0] == 1 and old.shape[2:] == new.shape[2:] and old.shape[1] == 1:
            # A single-frame model's one entry is what its backbone saw: every frame starts there.
            state[key] = old.expand_as(new).clone()
            resized += f", temporal table broadcast from 1 to {new.shape[1]} frames"
        elif old.shape[2:] == new.shape[2:]:
            del state[key]  # no faithful mapping between two clip lengths: keep the initial table
            resized += f", temporal table for {old.shape[1]} frames not used ({new.shape[1]} here)"
    check_shapes(model_state, state, path)
    shared = {k: v for k, v in state.items() if k in model_state}
    if not shared:
        raise CheckpointError(f"{path}: shares no tensors with this model")
    kept = sum(k not in state for k in model_state)
    ignored = sum(k not in model_state for k in state)
    model.load_state_dict(shared, strict=False)
    return (
        f"{path}: PSTPose weights, {len(shared)} tensors loaded{resized}; {kept} kept at their initial "
        f"values, {ignored} ignored"
    )
