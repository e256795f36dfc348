"""Load a model to test from either kind of weights file the project writes.

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
