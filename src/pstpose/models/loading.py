"""``load_model``: the one way from a weights path to a ready PSTPose.

Every command (predict, demo, test, export) and the Python API go through it, so they accept the
same files and say the same things about bad ones:

* ``None``: the weights shipped with the package (``pstpose.weights.default_weights()``);
* a pretrained folder (``model.safetensors`` + ``config.json``) or its safetensors file;
* a trainer state file (``last.pt``, ``best.pt``, ``epoch_NNN.pt``), whose model configuration
  comes from the experiment configuration stored in it;
* a ViTPose checkpoint in any published layout (``pstpose.models.foreign``): ViTPose/mmpose 0.x
  and mmpose 1.x ``.pth`` files, a transformers VitPose folder or ``.safetensors``, or a Hugging
  Face Hub id ``hf:owner/name``; it becomes a PSTPose whose refinement modules are at their zero
  start (single-frame ViTPose), and ``model.load_report`` says what was read.

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

ACCEPTED = (
    "a pretrained folder, its .safetensors file, a trainer .pt/.pth file, a ViTPose checkpoint "
    "(mmpose .pth, transformers folder or .safetensors) or a Hub id hf:OWNER/NAME"
)


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
    if isinstance(weights, str) and weights.startswith("hf:"):
        from pstpose.models.foreign import resolve_hub_id

        return resolve_hub_id(weights)
    path = Path(weights)
    if not path.exists():
        raise CheckpointNotFoundError(f"{path}: weights not found (no such file or folder)")
    return path


def load_model(
    weights: str | Path | None = None, device: str | torch.device = "cpu", *, vitpose_dataset: str | None = None
) -> PSTPose:
    """The PSTPose stored at ``weights`` (see the module docstring), in eval mode on ``device``.

    ``vitpose_dataset`` picks the expert and head of a ViTPose++ checkpoint (one of
    ``pstpose.models.vitpose_weights.DATASET_NAMES``; default COCO); other weights refuse it.

    Errors are CheckpointError (a ValueError) or its not-found subclass (also a
    FileNotFoundError), and name the file and the problem.
    """
    from pstpose.engine.training_state import (
        load_training_state,
        model_of_training_state,
    )
    from pstpose.models.foreign import load_vitpose_model
    from pstpose.models.pretrained import load_pretrained, model_from_state

    path = _weights_path(weights)
    kind = weights_kind(path)
    if vitpose_dataset is not None and kind != "vitpose":
        raise CheckpointError(
            f"{path}: a ViTPose++ dataset ({vitpose_dataset!r}) was given, but these are not ViTPose weights"
        )
    if kind == "pretrained":
        model = load_pretrained(path)
    elif kind == "training-state":
        state, config = model_of_training_state(load_training_state(path), path)
        model = model_from_state(state, config, path)
    elif kind == "vitpose":
        model = load_vitpose_model(path, vitpose_dataset)
    else:
        raise CheckpointError(f"{path}: not a weights file this package reads (expected {ACCEPTED})")
    return model.to(device).eval()


WEIGHT_FILE_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")


def weights_kind(path: Path) -> str:
    """``"pretrained"``, ``"training-state"``, ``"vitpose"`` or ``"unknown"``: what ``path`` holds.

    Decided from the file's own contents (a tag, then key names), never from its name alone:
    mmpose writes ``.pth`` files, trainers ``.pt`` ones, and either may be renamed. Reading is
    safe (tensors, plain data and numpy arrays only); a refused or corrupt file raises its
    one-line CheckpointError here.
    """
    from pstpose.engine.training_state import TRAINING_STATE_FORMAT
    from pstpose.models.pretrained import is_pretrained
    from pstpose.models.vitpose_weights import detect_layout, load_tensor_file, read_safetensors

    if is_pretrained(path):
        return "pretrained"
    if path.is_dir():
        names = [n for n in ("model.safetensors", "pytorch_model.bin") if (path / n).is_file()]
        if not names:
            if (path / "config.json").is_file() or (path / "model.safetensors").exists():
                return "pretrained"  # a broken pretrained folder: its reader names what is missing
            return "unknown"
        keys = _keys(path / names[0])
    elif path.suffix not in WEIGHT_FILE_SUFFIXES:
        return "unknown"
    elif path.suffix == ".safetensors":
        keys = list(read_safetensors(path))
    else:
        raw = load_tensor_file(path)
        if isinstance(raw, dict) and raw.get("format") == TRAINING_STATE_FORMAT:
            return "training-state"
        keys = _state_keys(raw)
    if any(k == "temporal_embed" or k.startswith("refine.") for k in keys):
        return "pretrained"  # this package's tensors without their config.json: its reader says so
    return "vitpose" if detect_layout(keys) != "unknown" else "unknown"


def _keys(path: Path) -> list[str]:
    from pstpose.models.vitpose_weights import load_tensor_file, read_safetensors

    if path.suffix == ".safetensors":
        return list(read_safetensors(path))
    return _state_keys(load_tensor_file(path))


def _state_keys(raw: object) -> list[str]:
    if not isinstance(raw, dict):
        return []
    for wrapper in ("state_dict", "model"):
        if isinstance(raw.get(wrapper), dict):
            raw = raw[wrapper]
            break
    return [str(k).removeprefix("module.") for k in raw]
