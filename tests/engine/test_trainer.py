"""The loop's features on the stand-in model: AMP, accumulation, clipping, best.pt, the log,
and the run-folder rules."""

from __future__ import annotations

import json

import pytest
import torch

from pstpose.engine.train import RunExistsError, Trainer
from pstpose.engine.training_state import load_training_state
from tests.engine.standins import RandomClipDataset, TinyHeatmapNet


def trainer_for(cfg, size=8, val_fn=None, **model_kw) -> Trainer:
    torch.manual_seed(7)
    return Trainer(TinyHeatmapNet(**model_kw), RandomClipDataset(size=size), cfg, val_fn=val_fn)


def test_bf16_autocast_trains_on_cpu(small_recipe):
    trainer = trainer_for(small_recipe(amp="bf16", epochs=1, deterministic=False))
    seen = []
    trainer.model.head.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    history = trainer.fit()
    assert seen and all(dtype == torch.bfloat16 for dtype in seen)
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())  # master weights stay fp32
    assert not torch.equal(before["head.weight"], trainer.model.state_dict()["head.weight"])
    assert history[0]["train_loss"] > 0


def test_fp16_on_cpu_is_refused_with_a_clear_message(small_recipe):
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        trainer_for(small_recipe(amp="fp16"))


def test_accumulation_equals_the_larger_batch(small_recipe, tmp_path):
    """10 items: batch 2 x 2 micro-batches (groups 2+2+1 batches) == batch 4 (4+4+2 items)."""
    common = dict(grad_clip=0.0, epochs=2, warmup_iters=0)
    accumulated = trainer_for(
        small_recipe(batch_size=2, accumulation=2, output_dir=str(tmp_path / "a"), **common), size=10
    )
    large = trainer_for(small_recipe(batch_size=4, accumulation=1, output_dir=str(tmp_path / "b"), **common), size=10)
    accumulated.fit()
    large.fit()
    assert accumulated.global_step == large.global_step == 6
    for name, tensor in large.model.state_dict().items():
        torch.testing.assert_close(accumulated.model.state_dict()[name], tensor, rtol=1e-5, atol=1e-6)


def test_gradients_are_clipped_to_the_configured_norm(small_recipe, tmp_path):
    def norms_seen(cfg):
        trainer = trainer_for(cfg)
        norms, step = [], trainer.optimizer.step

        def spy(*args, **kwargs):
            grads = [p.grad for p in trainer.model.parameters() if p.grad is not None]
            norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())
            return step(*args, **kwargs)

        trainer.optimizer.step = spy
        trainer.fit()
        return norms

    free = norms_seen(small_recipe(grad_clip=0.0, epochs=1, output_dir=str(tmp_path / "free")))
    clipped = norms_seen(small_recipe(grad_clip=1e-3, epochs=1, output_dir=str(tmp_path / "clipped")))
    assert min(free) > 1e-3
    assert max(clipped) == pytest.approx(1e-3, rel=1e-4)


def test_best_checkpoint_and_metrics_log(small_recipe, tmp_path):
    scores = {1: 0.5, 2: 0.9, 3: 0.7}
    calls = []

    def val_fn(model, epoch):
        calls.append((epoch, model.training))
        return {"mAP": scores[epoch], "per_joint": [1.0, 2.0]}

    trainer = trainer_for(small_recipe(val_every=1), size=6, val_fn=val_fn)
    trainer.fit()
    assert calls == [(1, False), (2, False), (3, False)]  # 1-based epochs, model in eval mode
    run = tmp_path / "run"
    best, last = load_training_state(run / "best.pt"), load_training_state(run / "last.pt")
    assert best["epoch"] == 2 and best["best"] == {"metric": "mAP", "value": 0.9, "epoch": 2}
    assert last["epoch"] == 3 and last["global_step"] == 6
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert [r["val"]["mAP"] for r in records] == [0.5, 0.9, 0.7]
    # lr of each epoch's last step: 2 steps per epoch, warm-up over 3 steps from 0.1, milestones (1, 2)
    # epoch 1, step 1: 5e-3 * (0.1 + 0.9 / 3); epoch 2, step 3 (warm-up over): 5e-4; epoch 3: 5e-5
    assert [r["lr"] for r in records] == pytest.approx([2e-3, 5e-4, 5e-5])
    assert all(r["samples"] == 6 and r["samples_per_s"] > 0 and r["time_s"] > 0 for r in records)
    assert records[0]["train_loss"] > 0


def test_validation_cadence(small_recipe):
    epochs = []
    trainer_for(small_recipe(val_every=2), val_fn=lambda m, e: epochs.append(e) or {"mAP": 0.0}).fit()
    assert epochs == [2, 3]  # every 2nd epoch, and always after the last


def test_an_existing_run_is_not_overwritten(small_recipe, tmp_path):
    cfg = small_recipe(epochs=1)
    trainer_for(cfg, val_fn=lambda m, e: {"mAP": 1.0}).fit()
    original = (tmp_path / "run" / "last.pt").read_bytes()
    with pytest.raises(RunExistsError, match="already holds a run.*resume it, overwrite it"):
        trainer_for(cfg).fit()
    assert (tmp_path / "run" / "last.pt").read_bytes() == original
    trainer_for(cfg).fit(overwrite=True)  # a fresh run without validation: the old best.pt goes
    assert not (tmp_path / "run" / "best.pt").exists()
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 1


def test_unwritable_output_folder_is_a_clear_error(small_recipe, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    trainer = trainer_for(small_recipe(output_dir=str(blocker / "run")))
    with pytest.raises(RunExistsError, match="a_file/run: .*a_file is a file, not a folder"):
        trainer.fit()
