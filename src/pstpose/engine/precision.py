"""Mixed precision and determinism switches, checked up front with errors that say what to change."""

from __future__ import annotations

import contextlib
import os

import torch


def check_amp(amp: str, device: torch.device) -> None:
    if amp == "fp16" and device.type != "cuda":
        raise ValueError(
            "train.amp=fp16 needs a CUDA device (fp16 training relies on a CUDA GradScaler); "
            "use train.amp=bf16 or none on CPU"
        )
    if amp == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("train.amp=bf16: this GPU does not support bfloat16; use fp16 or none")
    if amp not in ("none", "bf16", "fp16"):
        raise ValueError(f"train.amp: expected none, bf16 or fp16, got {amp!r}")


def autocast(amp: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The forward pass's autocast context (a no-op for amp='none')."""
    if amp == "none":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def make_grad_scaler(amp: str, device: torch.device) -> torch.amp.GradScaler:
    """Enabled only for fp16; a disabled scaler passes backward/step through unchanged."""
    return torch.amp.GradScaler(device.type if device.type == "cuda" else "cpu", enabled=(amp == "fp16"))


class Determinism:
    """Sets torch's process-wide determinism switches and puts the previous ones back on exit."""

    def __init__(self, deterministic: bool):
        self.deterministic = deterministic
        self._saved: tuple | None = None

    def __enter__(self) -> Determinism:
        self._saved = (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.deterministic,
            torch.backends.cudnn.benchmark,
        )
        if self.deterministic:
            # cuBLAS needs this before its first use to pick reproducible reductions.
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            # warn_only: ops without a deterministic kernel (some CUDA backward passes such as
            # grid_sample's) warn instead of stopping the run.
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        else:
            torch.backends.cudnn.benchmark = True
        return self

    def __exit__(self, *exc) -> None:
        enabled, warn_only, cudnn_det, cudnn_bench = self._saved
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        torch.backends.cudnn.deterministic = cudnn_det
        torch.backends.cudnn.benchmark = cudnn_bench
