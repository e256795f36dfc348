from types import SimpleNamespace

import pytest
import torch

from pstpose.engine.loader import EpochLoader, build_loader, collate_clips
from tests.engine.standins import RandomClipDataset


class EpochAwareDataset(RandomClipDataset):
    """Like the pipeline's dataset: draws depend on the epoch it was told."""

    epoch = -1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict:
        item = super().__getitem__(index)
        item["meta"] = {"index": index, "epoch": self.epoch}
        return item


@pytest.mark.parametrize("workers", [0, 1])
def test_each_epoch_tells_the_dataset_and_reshuffles_reproducibly(workers):
    loader = EpochLoader(EpochAwareDataset(size=6), batch_size=4, workers=workers, seed=1, rank=0, world_size=1)

    def order(epoch):
        batches = list(loader.epoch(epoch))
        assert all(b["meta"]["epoch"].tolist() == [epoch] * len(b["clip"]) for b in batches)
        return [i for b in batches for i in b["meta"]["index"].tolist()]

    first, second = order(0), order(1)
    assert sorted(first) == sorted(second) == list(range(6)) and first != second
    assert order(0) == first  # the same epoch gives the same order again


def test_two_ranks_split_the_same_permutation():
    data = RandomClipDataset(size=8)
    shares = [EpochLoader(data, 2, 0, seed=4, rank=r, world_size=2) for r in (0, 1)]
    idx = [[i for b in s.epoch(3) for i in (m["index"] for m in b["meta"])] for s in shares]
    assert len(idx[0]) == len(idx[1]) == 4 and sorted(idx[0] + idx[1]) == list(range(8))


def test_collate_stacks_tensors_and_keeps_ragged_meta():
    data = RandomClipDataset(size=3)
    batch = collate_clips([data[0], data[1], data[2]])
    assert torch.equal(batch["clip"][1], data.clips[1]) and batch["target_weight"].shape == (3, 4)
    assert [m["index"] for m in batch["meta"]] == [0, 1, 2]  # ragged lists: kept per sample
    with pytest.raises(ValueError, match=r"lack the field\(s\) \['target'\]"):
        collate_clips([{"clip": torch.zeros(1), "target_weight": torch.zeros(1)}])


def test_build_loader_takes_the_worker_count_from_the_dataset_config():
    data = RandomClipDataset(size=3)
    with pytest.raises(ValueError, match="RandomClipDataset has no config to take the worker count from"):
        build_loader(data, 2)
    data.config = SimpleNamespace(workers=0)
    loader = build_loader(data, 2)
    assert loader.num_workers == 0 and loader.collate_fn is collate_clips
    assert [len(b["clip"]) for b in loader] == [2, 1]
