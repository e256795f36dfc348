"""Load either kind of weights file the project writes, to test a model or to start a run from it.

* a ``save_pretrained`` folder (``model.safetensors`` + ``config.json``) or its safetensors file;
* a trainer checkpoint (``last.pt``, ``best.pt``, ``epoch_NNN.pt``), which holds the model's
  state dict and the experiment configuration it was trained with.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

TRAINER_CHECKPOINT_SUFFIXES = (".pt", ".pth")


def load_model_for_test(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """The PSTPose stored at ``path`` (either kind above), in eval mode on ``device``.

    Errors (missing file, foreign checkpoint, config/weights mismatch) are ValueError or
    FileNotFoundError subclasses whose message names the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: weights not found")
    if path.is_file() and path.suffix in TRAINER_CHECKPOINT_SUFFIXES:
        model = _from_trainer_checkpoint(path)
    else:
        from pstpose.models.pstpose import PSTPose

        model = PSTPose.from_pretrained(path)
    return model.to(device).eval()


def _from_trainer_checkpoint(path: Path) -> nn.Module:
    from pstpose.config import ConfigError, experiment_from_dict
    from pstpose.engine.checkpoint import CheckpointError, load_checkpoint
    from pstpose.models.pstpose import build_model

    state = load_checkpoint(path)
    experiment = state.get("config")
    if not isinstance(experiment, dict) or not isinstance(experiment.get("model"), dict):
        raise CheckpointError(f"{path}: the checkpoint holds no model configuration (config.model)")
    try:
        cfg = experiment_from_dict(experiment)
    except ConfigError as exc:
        raise CheckpointError(f"{path}: its stored configuration is not valid here ({exc})") from None
    model = build_model(cfg.model)
    try:
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: the model weights do not match the stored configuration ({first})") from None
    return model


def read_pstpose_weights(path: str | Path):
    """``(state_dict, ModelConfig)`` of a PSTPose checkpoint of either kind, or None when ``path``
    is not one (a ViTPose file, say). A trainer checkpoint that cannot be read is also None, and
    the caller's fallback reader then names the file and its problem."""
    from pstpose.config import ConfigError, experiment_from_dict
    from pstpose.engine.checkpoint import CheckpointError, load_checkpoint
    from pstpose.models.weights import is_pstpose_checkpoint, read_checkpoint

    path = Path(path)
    if path.is_file() and path.suffix in TRAINER_CHECKPOINT_SUFFIXES:
        try:
            state = load_checkpoint(path)
        except CheckpointError:
            return None
        try:
            cfg = experiment_from_dict(state["config"]).model
        except (KeyError, TypeError, ConfigError) as exc:
            raise CheckpointError(f"{path}: its stored configuration is not valid here ({exc})") from None
        return state["model"], cfg
    return read_checkpoint(path) if is_pstpose_checkpoint(path) else None


def load_init_weights(model: nn.Module, path: str | Path) -> str:
    """Initialise ``model`` from ``path`` before training; returns a one-line summary.

    A PSTPose checkpoint (either kind) gives every tensor the model shares with it, so a run can
    start where another ended: on another dataset, at another input size (the position table
    is resized) or as another ablation variant (modules the checkpoint lacks keep their
    initial values). Anything else is read as a ViTPose checkpoint (backbone and head).
    Shape mismatches are refused with the key and both shapes.
    """
    from pstpose.models.vit import resize_pos_embed, token_grid_size
    from pstpose.models.weights import CheckpointError, check_shapes

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: train.init_weights checkpoint not found")
    found = read_pstpose_weights(path)
    if found is None:
        report = model.load_vitpose_weights(path)
        return (f"{path}: ViTPose weights ({report.layout}), {len(report.loaded)} tensors loaded, "
                f"{len(report.missing)} missing, {len(report.unexpected)} unexpected")
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
    check_shapes(model_state, state, path)
    shared = {k: v for k, v in state.items() if k in model_state}
    if not shared:
        raise CheckpointError(f"{path}: shares no tensors with this model")
    kept = sum(k not in state for k in model_state)
    ignored = sum(k not in model_state for k in state)
    model.load_state_dict(shared, strict=False)
    return (f"{path}: PSTPose weights, {len(shared)} tensors loaded{resized}; {kept} kept at their initial "
            f"values, {ignored} ignored")
