"""Learning-rate schedule: multi-step decay by epoch, with an optional linear warm-up by step.

The rate is a pure function of (epoch, optimiser step), so resuming needs no scheduler state
beyond the trainer's own epoch and step counters, and the value at any point can be checked
by hand:

    lr(epoch, step) = base_lr * gamma ** #{m in milestones : m <= epoch} * warmup(step)
    warmup(step)    = warmup_ratio + (1 - warmup_ratio) * step / warmup_iters   for step < warmup_iters
                    = 1                                                          otherwise

``epoch`` is 0-based (the number of epochs already complete), so with milestones (6, 12, 16)
epochs 1-6 of a run use base_lr, epochs 7-12 base_lr/10, and so on (the convention of
PyTorch's MultiStepLR stepped once per epoch). ``step`` counts optimiser steps, not
micro-batches.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import torch


def multistep_factor(epoch: int, milestones: Sequence[int], gamma: float) -> float:
    return gamma ** bisect.bisect_right(sorted(milestones), epoch)


def warmup_factor(step: int, warmup_iters: int, warmup_ratio: float) -> float:
    if warmup_iters <= 0 or step >= warmup_iters:
        return 1.0
    return warmup_ratio + (1.0 - warmup_ratio) * step / warmup_iters


class MultiStepWarmupSchedule:
    """Sets every parameter group's lr from (epoch, step); see the module docstring."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        milestones: Sequence[int],
        gamma: float = 0.1,
        warmup_iters: int = 0,
        warmup_ratio: float = 0.001,
    ):
        self.optimizer = optimizer
        self.milestones = tuple(int(m) for m in milestones)
        self.gamma = float(gamma)
        self.warmup_iters = int(warmup_iters)
        self.warmup_ratio = float(warmup_ratio)
        self.base_lrs = [float(g.get("initial_lr", g["lr"])) for g in optimizer.param_groups]
        for group, base in zip(optimizer.param_groups, self.base_lrs):
            group["initial_lr"] = base

    def factor(self, epoch: int, step: int) -> float:
        return multistep_factor(epoch, self.milestones, self.gamma) * warmup_factor(
            step, self.warmup_iters, self.warmup_ratio
        )

    def lr_at(self, epoch: int, step: int) -> list[float]:
        f = self.factor(epoch, step)
        return [base * f for base in self.base_lrs]

    def apply(self, epoch: int, step: int) -> float:
        """Set the lr for the optimiser step about to happen; returns the first group's lr."""
        for group, lr in zip(self.optimizer.param_groups, self.lr_at(epoch, step)):
            group["lr"] = lr
        return self.optimizer.param_groups[0]["lr"]

    def state_dict(self) -> dict:
        return {
            "milestones": list(self.milestones),
            "gamma": self.gamma,
            "warmup_iters": self.warmup_iters,
            "warmup_ratio": self.warmup_ratio,
            "base_lrs": list(self.base_lrs),
        }

    def load_state_dict(self, state: dict) -> None:
        """Checks the checkpoint matches this optimiser; the recipe itself comes from the config,
        so a resumed run may change it on purpose (e.g. more epochs)."""
        if len(state.get("base_lrs", [])) != len(self.base_lrs):
            raise ValueError(
                f"checkpoint has {len(state.get('base_lrs', []))} parameter groups, the optimiser {len(self.base_lrs)}"
            )
