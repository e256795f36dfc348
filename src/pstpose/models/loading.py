"""``load_model``: the one way from a weights path to a ready PSTPose.

Every command (predict, demo, test, export) and the Python API go through it, so they accept the
same files and say the same things about bad ones:

* ``None``: the weights shipped with the package (``pstpose.weights.default_weights()``);
* a pretrained folder (``model.safetensors`` + ``config.json``) or its safetensors file;
* a trainer state file (``last.pt``, ``best.pt``, ``epoch_NNN.pt``), whose model configuration
  comes from the experiment configuration stored in it.

Torch and the model are imported when a model is loaded, not when this module is, so that a
command's ``--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pstpose.models.errors import CheckpointError, CheckpointNotFoundError

if TYPE_CHECKING:
    import torch

    from pstpose.models.pstpose import PSTPose

ACCEPTED = "a pretrained folder, its .safetensors file, or a trainer .pt/.pth file"


def _weights_path(weights: str | Path | None) -> Path:
    """The file or folder ``weights`` names (``None``: the packaged default), known to exist.

    An empty string is refused rather than read as "the default" or as the current folder
    (``Path("")`` is ``.``), since it is almost always an unset variable.
    """
    if weights is None:
        from pstpose.weights import default_weights

        return default_weights()
    if isinstance(weights, str) and not weights.strip():
        raise CheckpointError(f"the weights path is empty; give {ACCEPTED}, or None for the packaged default")
    path = Path(weights)
    if not path.exists():
        raise CheckpointNotFoundError(f"{path}: weights not found (no such file or folder)")
    return path


def load_model(weights: str | Path | None = None, device: str | torch.device = "cpu") -> PSTPose:
    """The PSTPose stored at ``weights`` (see the module docstring), in eval mode on ``device``.

    Errors are CheckpointError (a ValueError) or its not-found subclass (also a
    FileNotFoundError), and name the file and the problem.
    """
    from pstpose.engine.training_state import (
        TRAINING_STATE_SUFFIXES,
        load_training_state,
        model_of_training_state,
    )
    from pstpose.models.pretrained import load_pretrained, model_from_state

    path = _weights_path(weights)
    if path.is_file() and path.suffix in TRAINING_STATE_SUFFIXES:
        state, config = model_of_training_state(load_training_state(path), path)
        model = model_from_state(state, config, path)
    elif path.is_dir() or path.suffix == ".safetensors":
        model = load_pretrained(path)
    else:
        raise CheckpointError(f"{path}: not a weights file this package reads (expected {ACCEPTED})")
    return model.to(device).eval()
