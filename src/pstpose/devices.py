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


# --- numeric precision of inference ------------------------------------------------------------

PRECISIONS = ("auto", "fp32", "bf16")


def has_fast_bf16(device: torch.device) -> bool:
    """Whether ``device`` runs bfloat16 matmuls natively (CUDA with bf16 support, or a CPU with
    AVX-512 BF16 / AMX units); elsewhere bf16 is emulated and slower than fp32."""
    import torch

    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
        amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
        return bool((check is not None and check()) or (amx is not None and amx()))
    return False


def precision_autocast(precision: str, device: str | torch.device) -> torch.autocast:
    """The autocast context of a resolved inference ``precision`` (``"fp32"``: disabled) on ``device``."""
    import torch

    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=precision == "bf16")


def resolve_precision(name: str, device: torch.device) -> str:
    """``"fp32"`` or ``"bf16"`` for ``name`` on ``device``; ValueError for an unknown name or
    bf16 where the device has no bf16 units.

    ``auto`` picks bf16 only on CUDA devices with bf16 support. On CPUs with bf16 units it stays
    fp32: bf16 there is faster but moves joints by measurable amounts on small models
    (benchmarks/precision.py), so it is a choice the user makes, not a default.
    """
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {name!r} (use {', '.join(PRECISIONS)})")
    if name == "auto":
        return "bf16" if device.type == "cuda" and has_fast_bf16(device) else "fp32"
    if name == "bf16" and not has_fast_bf16(device):
        raise ValueError(f"precision bf16: {device} has no native bfloat16 support (it would be slower than fp32)")
    return name
