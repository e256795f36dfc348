"""--resume continues exactly: an interrupted-and-resumed run ends bit-identical to an
uninterrupted one (CPU, deterministic settings)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from pstpose.engine.loss import weighted_heatmap_mse
from pstpose.engine.metrics_log import read_metrics
from pstpose.engine.train import Trainer
from pstpose.engine.training_state import load_training_state
from tests.engine.standins import RandomClipDataset, TinyHeatmapNet


class Crash(RuntimeError):
    pass


def crashing_loss(trainer_box: list, at_step: int):
    """The real loss, but raises once the trainer reaches ``at_step`` (a crash mid-epoch)."""

    def loss(pred, target, weight):
        if trainer_box[0].global_step >= at_step:
            raise Crash(f"simulated crash at step {at_step}")
        return weighted_heatmap_mse(pred, target, weight)

    return loss


def make_trainer(cfg, loss_fn=weighted_heatmap_mse) -> Trainer:
    torch.manual_seed(123)  # the model's initial weights
    # dropout and the dataset's NumPy noise make the run depend on every RNG state
    return Trainer(TinyHeatmapNet(dropout=0.2), RandomClipDataset(size=10, noise=0.3), cfg, loss_fn=loss_fn)


@pytest.mark.parametrize("workers", [0, 1])
def test_resume_after_a_crash_is_bit_exact(small_recipe, tmp_path, workers):
    # 10 items, batch 2, accumulation 2 -> 3 optimiser steps per epoch (the last one short)
    straight_cfg = small_recipe(workers=workers, output_dir=str(tmp_path / "straight"))
    straight = make_trainer(straight_cfg)
    straight.fit()
    assert straight.global_step == 9

    broken_cfg = dataclasses.replace(straight_cfg, output_dir=str(tmp_path / "broken"))
    box: list = []
    broken = make_trainer(broken_cfg, loss_fn=crashing_loss(box, at_step=4))
    box.append(broken)
    with pytest.raises(Crash):
        broken.fit()  # dies inside epoch 2, after last.pt of epoch 1 was written
    assert load_training_state(tmp_path / "broken" / "last.pt")["epoch"] == 1

    resumed = make_trainer(broken_cfg)  # a new process would build the model afresh
    torch.manual_seed(999)  # and its generators would be anywhere: resume must restore them
    resumed.fit(resume=True)

    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    # the optimiser moments match too, and the logs agree epoch by epoch
    for sa, sb in zip(
        straight.optimizer.state_dict()["state"].values(), resumed.optimizer.state_dict()["state"].values()
    ):
        assert torch.equal(sa["exp_avg"], sb["exp_avg"]) and torch.equal(sa["exp_avg_sq"], sb["exp_avg_sq"])
    log_a = read_metrics(tmp_path / "straight" / "metrics.jsonl")
    log_b = read_metrics(tmp_path / "broken" / "metrics.jsonl")
    assert [r["epoch"] for r in log_b] == [1, 2, 3]
    assert [r["train_loss"] for r in log_a] == [r["train_loss"] for r in log_b]


def test_resume_detects_a_different_run_without_checkpoint(small_recipe):
    trainer = make_trainer(small_recipe())
    with pytest.raises(ValueError, match="nothing to resume"):
        trainer.fit(resume=True)


def test_resume_can_extend_the_run(small_recipe, tmp_path):
    """A finished 2-epoch run resumed with epochs=3 equals a 3-epoch run (schedule by epoch)."""
    full = make_trainer(small_recipe(output_dir=str(tmp_path / "full")))
    full.fit()
    short = make_trainer(small_recipe(epochs=2, output_dir=str(tmp_path / "short")))
    short.fit()
    longer = make_trainer(small_recipe(epochs=3, output_dir=str(tmp_path / "short")))
    longer.fit(resume=True)
    for name, tensor in full.model.state_dict().items():
        assert torch.equal(tensor, longer.model.state_dict()[name]), name
