"""The package's one DataLoader builder (``build_loader``) and the training loader built on it.

``build_loader`` is used by training (through ``EpochLoader``) and by ``pstpose test`` /
validation, so both batch items the same way (``collate_clips``) with the same worker settings.
No ``worker_init_fn`` touches OpenCV's thread count: ``cv2.setNumThreads`` in a forked worker,
after the parent used OpenCV's thread pool, blocks forever (seen with gdb; docs/data.md). torch
already runs each worker with one intra-op thread.

Training: every process uses a ``DistributedSampler`` (with one replica when not distributed),
whose shuffle is seeded by ``seed + epoch``; the loader's own generator, which seeds the worker
processes' Python/NumPy/torch generators, is re-seeded at each epoch from (seed, epoch, rank).
So the order and the augmentation draws of an epoch depend only on the seed and the epoch
number, which is what makes ``--resume`` reproduce an uninterrupted run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, default_collate

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


def build_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    workers: int | None = None,
    shuffle: bool = False,
    sampler: Sampler | None = None,
    generator: torch.Generator | None = None,
    pin_memory: bool | None = None,
    drop_last: bool = False,
) -> DataLoader:
    """A DataLoader of clip items batched by ``collate_clips``.

    ``workers`` defaults to ``dataset.config.workers`` (the data pipeline's setting);
    ``pin_memory`` to whether CUDA is available. A ``sampler`` replaces ``shuffle``. Workers
    are started per iteration (not persistent), so a dataset's ``set_epoch`` reaches them.
    """
    if workers is None:
        config = getattr(dataset, "config", None)
        if config is None:
            raise ValueError(f"{type(dataset).__name__} has no config to take the worker count from; pass workers")
        workers = config.workers
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle if sampler is None else False,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate_clips,
        drop_last=drop_last,
        persistent_workers=False,
        pin_memory=torch.cuda.is_available() if pin_memory is None else pin_memory,
        generator=generator,
    )


def loader_seed(seed: int, epoch: int, rank: int) -> int:
    """Seed of the loader generator for one (seed, epoch, rank): distinct and stable."""
    return (seed * 1_000_003 + epoch * 7919 + rank) % (2**63 - 1)


class EpochLoader:
    """A DataLoader plus the per-epoch seeding described in the module docstring."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        workers: int,
        seed: int,
        rank: int,
        world_size: int,
        pin_memory: bool = False,
    ):
        if len(dataset) == 0:
            raise ValueError("the training dataset is empty")
        self.seed, self.rank = seed, rank
        self.sampler = DistributedSampler(
            dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=False
        )
        self.generator = torch.Generator()
        self.loader = build_loader(
            dataset, batch_size, workers=workers, sampler=self.sampler, generator=self.generator, pin_memory=pin_memory
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
