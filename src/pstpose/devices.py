"""Device strings: the one grammar every command, the trainer and the config checks share.

Spellings: ``auto`` (CUDA when available, else the CPU), ``cpu``, ``cuda``, ``cuda:N`` and
``mps``. ``parse_device`` checks the spelling only (a config may name a GPU the machine that
validates it lacks); ``resolve_device`` also checks the device exists here. Messages name the
value and the problem, never a command-line option: callers add where the value came from
(``--device``, ``train.device``). torch is imported only when a device is resolved.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEVICE_SPELLINGS = "auto, cpu, cuda, cuda:N or mps"
_SPELLING = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def parse_device(name: str) -> str:
    """``name`` if it is a device spelling this package understands, else ValueError."""
    if not isinstance(name, str) or _SPELLING.fullmatch(name) is None:
        raise ValueError(f"unknown device {name!r} (use {DEVICE_SPELLINGS})")
    return name


def resolve_device(name: str, local_rank: int | None = None) -> torch.device:
    """The torch device ``name`` means on this machine; ValueError when it is unknown or absent.

    A bare ``cuda`` becomes ``cuda:<local_rank>`` when a local rank is given (one GPU per
    torchrun process), else torch's current CUDA device.
    """
    import torch

    name = parse_device(name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"{name!r} asks for CUDA, which is not available here (use cpu)")
        if ":" in name:
            index, count = int(name.split(":", 1)[1]), torch.cuda.device_count()
            if index >= count:
                raise ValueError(f"{name!r} asks for CUDA device {index}, but this machine has {count}")
            return torch.device(name)
        return torch.device("cuda" if local_rank is None else f"cuda:{local_rank}")
    if name == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError("'mps' asks for Apple's MPS, which is not available here (use cpu)")
    return torch.device(name)
