"""Fixtures for the model tests: small models and clips (fast on a CPU)."""

from __future__ import annotations

import pytest
import torch

from pstpose.models.pstpose import PSTPose, build_model

# The tiny preset with a 2-layer backbone: every module present, fast enough for unit tests.
SMALL = {"backbone": {"depth": 2}}


def randomize_(model: torch.nn.Module, seed: int = 0, scale: float = 0.05) -> torch.nn.Module:
    """Give every parameter and BN statistic a nonzero random value (undoes the zero inits)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen) * scale
            p.copy_(1.0 + noise if name.endswith(("norm1.weight", "norm2.weight", "norm.weight")) else noise)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen) + 0.5)
    return model


@pytest.fixture
def small_model() -> PSTPose:
    torch.manual_seed(0)
    return build_model("tiny", **SMALL).eval()


@pytest.fixture
def clip() -> torch.Tensor:
    return torch.randn(2, 3, 3, 256, 192, generator=torch.Generator().manual_seed(1))
