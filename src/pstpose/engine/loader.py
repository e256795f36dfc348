"""The training DataLoader: one sampler for 1 and N processes, shuffles reproducible per epoch.

Every process uses a ``DistributedSampler`` (with one replica when not distributed), whose
shuffle is seeded by ``seed + epoch``; the loader's own generator, which seeds the worker
processes' Python/NumPy/torch generators, is re-seeded at each epoch from (seed, epoch, rank).
So the order and the augmentation draws of an epoch depend only on the seed and the epoch
number, which is what makes ``--resume`` reproduce an uninterrupted run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, default_collate

TENSOR_KEYS = ("clip", "target", "target_weight")


def collate_clips(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensor fields; keep ``meta`` (and any other non-tensor field) as a list per sample."""
    if not items:
        raise ValueError("cannot collate an empty batch")
    out: dict[str, Any] = {}
    for key in items[0]:
        values = [item[key] for item in items]
        if isinstance(values[0], torch.Tensor):
            out[key] = torch.stack(values)
        elif key == "meta":
            out[key] = _collate_meta(values)
        elif hasattr(values[0], "__array__"):
            out[key] = torch.stack([torch.as_tensor(v) for v in values])
        else:
            out[key] = values
    missing = [k for k in TENSOR_KEYS if k not in out]
    if missing:
        raise ValueError(f"dataset items lack the field(s) {missing}; have {sorted(items[0])}")
    return out


def _collate_meta(values: list) -> Any:
    """torch's default batching of the meta dicts (numbers/strings/tensors), else a plain list:
    the loop never reads meta, so a ragged field must not stop training."""
    try:
        return default_collate(values)
    except (TypeError, RuntimeError):
        return values


def worker_init(worker_id: int) -> None:
    """One torch thread per loader worker: the workers are the parallelism.

    OpenCV's thread count is deliberately left alone: ``cv2.setNumThreads`` in a forked worker
    deadlocks once the parent has started OpenCV's pool (seen with gdb).
    """
    torch.set_num_threads(1)


def loader_seed(seed: int, epoch: int, rank: int) -> int:
    """Seed of the loader generator for one (seed, epoch, rank): distinct and stable."""
    return (seed * 1_000_003 + epoch * 7919 + rank) % (2**63 - 1)


class EpochLoader:
    """A DataLoader plus the per-epoch seeding described in the module docstring."""

    def __init__(self, dataset: Dataset, batch_size: int, workers: int, seed: int, rank: int,
                 world_size: int, pin_memory: bool = False):
        if len(dataset) == 0:
            raise ValueError("the training dataset is empty")
        self.seed, self.rank = seed, rank
        self.sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True,
                                          seed=seed, drop_last=False)
        self.generator = torch.Generator()
        self.loader = DataLoader(
            dataset, batch_size=batch_size, sampler=self.sampler, num_workers=workers,
            collate_fn=collate_clips, pin_memory=pin_memory, drop_last=False,
            generator=self.generator, persistent_workers=False,
            worker_init_fn=worker_init if workers > 0 else None,
        )
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.loader)

    def epoch(self, epoch: int):
        """An iterator over the batches of ``epoch`` (0-based).

        A dataset with ``set_epoch`` (augmentation drawn from (seed, epoch, index)) is told the
        epoch first; workers are started per epoch, so they see it."""
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        self.sampler.set_epoch(epoch)
        self.generator.manual_seed(loader_seed(self.seed, epoch, self.rank))
        return iter(self.loader)
