"""The trainer's resumable state file (``last.pt``, ``best.pt``, ``epoch_NNN.pt``) and the RNG states.

A training state holds everything a run needs to continue: the model's state dict, the
optimiser, scheduler and scaler states, counters, every rank's random-number-generator states and
the experiment configuration (from which the model can be rebuilt, see
:func:`model_of_training_state`). It is a dict of tensors and plain Python data only (no pickled
classes), so it loads with ``torch.load(weights_only=True)``: RNG states are stored as tensors,
tuples and ints. Writes go through :func:`pstpose.io.atomic_path`: a crash while saving leaves
the previous file untouched. (A model alone, for inference, is a pretrained folder:
``pstpose.models.pretrained``.)
"""

from __future__ import annotations

import pickle
import random
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pstpose.config import ConfigError, ModelConfig, experiment_from_dict
from pstpose.io import atomic_path
from pstpose.models.errors import CheckpointError, CheckpointNotFoundError

# The tag in the file. Its value predates the name "training state" and stays as it is, so that
# runs already on disk keep resuming.
TRAINING_STATE_FORMAT = "pstpose-train-checkpoint"
TRAINING_STATE_VERSION = 1
TRAINING_STATE_SUFFIXES = (".pt", ".pth")
"""File suffixes read as training states by the loaders that accept several kinds of file."""


def save_training_state(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (plus format tags) to ``path`` atomically."""
    path = Path(path)
    payload = {"format": TRAINING_STATE_FORMAT, "version": TRAINING_STATE_VERSION, **state}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def copy_training_state(src: str | Path, dst: str | Path) -> Path:
    """Atomic copy (for best.pt / epoch_NNN.pt from last.pt) without re-serialising."""
    dst = Path(dst)
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
    return dst


def _refused_global(message: str) -> str:
    """The global torch's unpickler refused (``os.system``, say), found in its message, or ''."""
    import re

    match = re.search(r"(?:GLOBAL|global) ([\w.]+)", message)
    return f"it asks for {match.group(1)}" if match else ""


def load_training_state(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a training state safely (``weights_only=True``); errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(f"{path}: training state not found")
    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols would precede our one line
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's own message advises weights_only=False: never repeat that about a file that
        # may carry a payload. Name what was refused, on one line.
        refused = _refused_global(str(exc))
        if not refused:
            raise CheckpointError(f"{path}: not a readable training state (corrupt, or not a PyTorch file)") from None
        raise CheckpointError(
            f"{path}: refused: the file holds Python objects other than tensors and plain data ({refused}); "
            "pstpose reads only tensors from checkpoints, never running pickled code"
        ) from None
    except Exception as exc:  # torch raises several types for truncated/foreign files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable training state ({type(exc).__name__}: {first[:160]})") from None
    if not isinstance(state, dict) or state.get("format") != TRAINING_STATE_FORMAT:
        raise CheckpointError(f"{path}: not a pstpose training state (no '{TRAINING_STATE_FORMAT}' tag)")
    if state.get("version", 0) > TRAINING_STATE_VERSION:
        raise CheckpointError(f"{path}: training state version {state['version']} is newer than this pstpose reads")
    return state


def model_of_training_state(state: dict[str, Any], source: Path) -> tuple[dict[str, torch.Tensor], ModelConfig]:
    """``(model state dict, ModelConfig)`` of a loaded training state, the config taken from the
    stored experiment configuration (validated whole, as the run was). ``source`` is the file
    that errors name."""
    experiment = state.get("config")
    if not isinstance(experiment, dict) or not isinstance(experiment.get("model"), dict):
        raise CheckpointError(f"{source}: the training state holds no model configuration (config.model)")
    try:
        config = experiment_from_dict(experiment).model
    except ConfigError as exc:
        raise CheckpointError(f"{source}: its stored configuration is not valid here ({exc})") from None
    weights = state.get("model")
    if not isinstance(weights, dict):
        raise CheckpointError(f"{source}: the training state holds no model weights")
    return weights, config


# --- random number generator states ------------------------------------------------------------


def capture_rng_state() -> dict[str, Any]:
    """Python, NumPy (global), torch CPU and every CUDA device's generator states."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": random.getstate(),  # (version, tuple of ints, gauss_next): plain data
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state` (CUDA states only when the device count matches)."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    npst = state["numpy"]
    np.random.set_state(
        (
            npst["kind"],
            npst["keys"].numpy().astype(np.uint32),
            npst["pos"],
            npst["has_gauss"],
            npst["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"].cpu())
    cuda_states = state.get("cuda") or []
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
