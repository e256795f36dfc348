"""Pretrained folders: this package's own model format, ``model.safetensors`` + ``config.json``.

A pretrained folder holds a model's weights and the ModelConfig that rebuilds it, and nothing
of training (the trainer's resumable state is ``pstpose.engine.training_state``; foreign
ViTPose weights are ``pstpose.models.vitpose_weights``). ``config.json`` carries a format tag, so
a transformers folder with the same file names is told apart. Safetensors never unpickles
anything, and both files are written atomically.

The safetensors reader and the shape check here are shared with the other readers, so that a
bad tensor is reported the same way whatever file it came from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from pstpose.config import ConfigError, ModelConfig, model_config_from_dict, to_dict
from pstpose.io import atomic_path, write_json
from pstpose.models.errors import CheckpointError, CheckpointNotFoundError

if TYPE_CHECKING:
    from pstpose.models.pstpose import PSTPose

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
# The tag in config.json. Its value predates the name "pretrained folder" and stays as it is, so
# that folders already written (the shipped default weights among them) keep loading.
PRETRAINED_FORMAT = "pstpose-checkpoint"
PRETRAINED_VERSION = 1


def save_pretrained(model: nn.Module, directory: str | Path) -> Path:
    """Write ``model.safetensors`` and ``config.json`` into ``directory``; returns the folder."""
    from safetensors.torch import save_file

    directory = Path(directory)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with atomic_path(directory / WEIGHTS_NAME) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
    write_json(
        directory / CONFIG_NAME,
        {"format": PRETRAINED_FORMAT, "version": PRETRAINED_VERSION, "model": to_dict(model.config)},
        indent=2,
    )
    return directory


def _pretrained_paths(path: Path) -> tuple[Path, Path] | None:
    """Where the weights and the config of a pretrained folder or its safetensors file would be."""
    if path.is_dir():
        return path / WEIGHTS_NAME, path / CONFIG_NAME
    if path.suffix == ".safetensors":
        return path, path.parent / CONFIG_NAME
    return None


def is_pretrained(path: str | Path) -> bool:
    """Whether ``path`` is a folder or safetensors file whose config carries this package's tag
    (a transformers ViTPose folder has the same file names, but not the tag)."""
    paths = _pretrained_paths(Path(path))
    if paths is None:
        return False
    try:
        return json.loads(paths[1].read_text()).get("format") == PRETRAINED_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _pretrained_files(path: Path) -> tuple[Path, Path]:
    """The weights and config files of ``path``, or an error naming what is missing."""
    paths = _pretrained_paths(path)
    if paths is None:
        if not path.exists():
            raise CheckpointNotFoundError(f"{path}: no such pretrained folder or file")
        raise CheckpointError(f"{path}: expected a pretrained folder or a .safetensors file")
    weights, config = paths
    for f in (weights, config):
        if not f.is_file():
            given = "" if f == path or path.is_dir() else f"{path}: "
            raise CheckpointNotFoundError(
                f"{given}{f} is missing (a pretrained model is {WEIGHTS_NAME} with its {CONFIG_NAME} beside it)"
            )
    return weights, config


def read_pretrained_config(config_path: Path) -> ModelConfig:
    """The ModelConfig stored in a pretrained folder's config.json (errors name the file)."""
    from pstpose.inputs import MAX_TEXT_BYTES, InputFileError, read_json

    try:
        data = read_json(config_path, "config file", MAX_TEXT_BYTES)
    except InputFileError as exc:
        raise CheckpointError(str(exc)) from None
    if not isinstance(data, dict) or data.get("format") != PRETRAINED_FORMAT or not isinstance(data.get("model"), dict):
        raise CheckpointError(f"{config_path}: not a PSTPose pretrained config (expected format {PRETRAINED_FORMAT!r})")
    if data.get("version") != PRETRAINED_VERSION:
        raise CheckpointError(f"{config_path}: unsupported pretrained-folder version {data.get('version')!r}")
    try:
        return model_config_from_dict(data["model"])
    except ConfigError as exc:
        raise CheckpointError(f"{config_path}: {exc}") from None


def read_safetensors(path: Path, map_location: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; an unreadable file is a CheckpointError naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from pstpose.inputs import InputFileError, check_regular_file

    try:
        check_regular_file(path, "weights file")  # a FIFO would block the reader
    except InputFileError as exc:
        raise CheckpointError(str(exc)) from None
    try:
        return load_file(str(path), device=str(map_location))
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot read safetensors ({exc})") from None


def check_shapes(model_state: dict[str, torch.Tensor], state: dict[str, torch.Tensor], source: Path) -> None:
    """Refuse any tensor whose shape differs from the model's, naming the key and both shapes
    (torch's own message lists every mismatch at once and does not name the file)."""
    for key, tensor in sorted(state.items()):
        if key in model_state and tuple(model_state[key].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{source}: shape mismatch for {key}: checkpoint {tuple(tensor.shape)}, "
                f"model {tuple(model_state[key].shape)}"
            )


def cast_to_model(
    state: dict[str, torch.Tensor], model_state: dict[str, torch.Tensor], source: Path
) -> dict[str, torch.Tensor]:
    """``state`` with every floating tensor in the model's dtype (half, bfloat16 and double
    checkpoints are common and load as the model needs), refusing what cannot be weights.

    Refused, naming the key: a value that is not a tensor, an integer or boolean tensor where the
    model holds floats (or the reverse), and non-finite values (a diverged run's weights).
    """
    out = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{source}: {key} is a {type(value).__name__}, not a tensor")
        target = model_state.get(key)
        if target is None:
            out[key] = value
            continue
        if value.is_floating_point() != target.is_floating_point() or value.is_complex():
            raise CheckpointError(f"{source}: {key} has dtype {value.dtype}, the model expects {target.dtype}")
        if value.is_floating_point():
            if not bool(torch.isfinite(value).all()):
                raise CheckpointError(f"{source}: {key} holds NaN or infinite values; these weights are not usable")
            value = value.to(target.dtype)
        out[key] = value
    return out


def read_pretrained(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], ModelConfig]:
    """``(state_dict, ModelConfig)`` of a pretrained folder or its safetensors file."""
    weights_path, config_path = _pretrained_files(Path(path))
    return read_safetensors(weights_path, map_location), read_pretrained_config(config_path)


def model_from_state(state: dict[str, torch.Tensor], config: ModelConfig, source: Path) -> PSTPose:
    """The PSTPose that ``config`` describes holding exactly ``state`` (eval mode, on the CPU).

    Built on the CPU, not on the ``meta`` device: the meta path pulls in ``torch._dynamo``, about
    a second of start-up, to skip an initialisation that costs less than that for small models.
    The build runs under a forked random state, so loading a model never moves the caller's
    random stream. ``source`` is the file that errors name.
    """
    from pstpose.models.pstpose import PSTPose

    with torch.random.fork_rng(devices=[]):
        try:
            model = PSTPose(config)
        except ConfigError as exc:
            raise CheckpointError(f"{source}: {exc}") from None
    model_state = model.state_dict()
    state = cast_to_model(state, model_state, source)
    check_shapes(model_state, state, source)
    missing = sorted(set(model_state) - set(state))
    unexpected = sorted(set(state) - set(model_state))
    if missing or unexpected:
        raise CheckpointError(
            f"{source}: does not match its config: missing {missing[:8]}"
            f"{' ...' if len(missing) > 8 else ''}, unexpected {unexpected[:8]}{' ...' if len(unexpected) > 8 else ''}"
        )
    model.load_state_dict(state, strict=True)
    return model.eval()


def load_pretrained(path: str | Path, map_location: str | torch.device = "cpu") -> PSTPose:
    """The PSTPose stored in a pretrained folder (or its safetensors file), in eval mode."""
    weights_path, _ = _pretrained_files(Path(path))
    state, config = read_pretrained(path)
    return model_from_state(state, config, weights_path).to(map_location)
