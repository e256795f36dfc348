"""Fixtures for the training-engine tests: stand-in model/dataset and a small recipe."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from pstpose.config import TrainConfig


@pytest.fixture
def small_recipe(tmp_path):
    """A recipe that exercises warm-up, milestones, clipping and accumulation in a few steps."""

    def make(**changes) -> TrainConfig:
        base = TrainConfig(
            lr=5e-3,
            weight_decay=0.05,
            milestones=(1, 2),
            gamma=0.1,
            warmup_iters=3,
            warmup_ratio=0.1,
            epochs=3,
            batch_size=2,
            grad_clip=0.05,
            accumulation=2,
            amp="none",
            device="cpu",
            seed=3,
            deterministic=True,
            workers=0,
            log_every=1,
            output_dir=str(tmp_path / "run"),
            progress=False,
        )
        return dataclasses.replace(base, **changes)

    return make


@pytest.fixture(autouse=True)
def _few_threads():
    """Keep CPU tests light on a shared machine, and restore the thread count afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
