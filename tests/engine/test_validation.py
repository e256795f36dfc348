"""Per-epoch validation: ``make_val_fn`` returns the evaluator's mAP, and `pstpose train` logs it
and picks best.pt by it (or says why it cannot validate)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from pstpose.cli import main
from pstpose.config import ConfigError
from pstpose.engine.eval_data import build_eval_dataset, load_split
from pstpose.engine.evaluation import evaluate_model
from pstpose.engine.validation import make_val_fn
from pstpose.models.pstpose import build_model
from tests.engine.testrun_helpers import (
    OracleModel,
    gt_joints,
    make_tiny_dataset,
    tiny_experiment,
    tiny_experiment_dict,
    write_config,
)

KEYS = {"mAP", "Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle"}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("valdata"))


def test_val_fn_with_an_oracle_scores_100(root):
    cfg = tiny_experiment(root)
    val_fn = make_val_fn(cfg)
    _, gt = load_split(cfg.data, cfg.data.val_split)
    dataset = build_eval_dataset(cfg.data, gt)
    indices = list(range(len(dataset.samples)))
    result = val_fn(OracleModel(dataset, indices, gt_joints(dataset.samples, indices), cfg.data.heatmap_size), 1)
    assert set(result) == KEYS and all(v == 100.0 for v in result.values())


def test_val_fn_matches_evaluate_model_and_honours_the_train_settings(root):
    cfg = tiny_experiment(root, val_max_samples=3, val_flip=True)
    torch.manual_seed(0)
    model = build_model(cfg.model).eval()
    got = make_val_fn(cfg)(model, 1)
    expected = evaluate_model(model, cfg.data, flip=True, max_samples=3, workers=0).metrics()
    assert got == pytest.approx(expected, nan_ok=True)
    plain = make_val_fn(cfg, max_samples=None, flip=False)(model, 1)
    assert set(plain) == KEYS and 0.0 <= plain["mAP"] <= 100.0


def test_make_val_fn_refuses_a_missing_split_and_bad_settings(root):
    with pytest.raises(FileNotFoundError, match="no annotations for split 'nope'"):
        cfg = tiny_experiment(root)
        make_val_fn(dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, val_split="nope")))
    with pytest.raises(ConfigError, match="val_max_samples"):
        tiny_experiment(root, val_max_samples=0)


def test_train_command_logs_validation_map_and_writes_best(root, tmp_path, capsys):
    config = write_config(tmp_path / "tiny.yaml", tiny_experiment_dict(root, tmp_path / "run"))
    assert main(["train", str(config), "--set", "train.val_max_samples=4"]) == 0
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 1 and set(records[0]["val"]) == KEYS
    assert records[0]["best"] == {"metric": "mAP", "value": records[0]["val"]["mAP"], "epoch": 1}
    assert (tmp_path / "run" / "best.pt").is_file()
    assert "val mAP" in capsys.readouterr().out  # the epoch summary line

    assert main(["train", str(config), "--overwrite", "--set", "data.val_split=nope"]) == 0
    assert "note: no validation during training" in capsys.readouterr().err
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert "val" not in records[0] and not (tmp_path / "run" / "best.pt").exists()
