"""`pstpose train` end to end, with the real wiring replaced by the stand-in model/dataset."""

from __future__ import annotations

import pytest
import torch
import yaml

from pstpose.cli import main
from pstpose.engine import build
from pstpose.engine.train import Trainer
from pstpose.engine.training_state import load_training_state
from tests.engine.standins import RandomClipDataset, TinyHeatmapNet


@pytest.fixture
def stand_in_build(monkeypatch):
    built = []

    def fake_build(cfg, *, resume=False, val_fn=None, dist=None):
        torch.manual_seed(cfg.train.seed)
        trainer = Trainer(TinyHeatmapNet(), RandomClipDataset(size=4), cfg.train, experiment={"train": {}})
        built.append((cfg, resume))
        return trainer

    monkeypatch.setattr(build, "build_from_experiment", fake_build)
    return built


def run_cli(*args) -> int:
    return main(
        [
            "train",
            "synthetic_tiny",
            "--set",
            "train.workers=0",
            "--set",
            "train.progress=false",
            "--set",
            "train.device=cpu",
            "--set",
            "train.batch_size=2",
            *args,
        ]
    )


def test_train_resume_and_refusal(stand_in_build, tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli("--output", str(out), "--set", "train.epochs=1") == 0
    cfg, resume = stand_in_build[-1]
    assert cfg.train.output_dir == str(out) and cfg.train.epochs == 1 and not resume
    assert load_training_state(out / "last.pt")["epoch"] == 1

    assert run_cli("--output", str(out), "--set", "train.epochs=1") == 2  # would overwrite
    err = capsys.readouterr().err
    assert "already holds a run" in err and "(--resume, --overwrite or --output)" in err

    assert run_cli("--output", str(out), "--set", "train.epochs=2", "--resume") == 0
    assert stand_in_build[-1][1] is True
    assert load_training_state(out / "last.pt")["epoch"] == 2


def test_dry_run_prints_the_resolved_config(capsys):
    assert main(["train", "synthetic_tiny", "--dry-run", "--set", "train.lr=0.5", "--output", "elsewhere"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["train"]["lr"] == 0.5 and printed["train"]["output_dir"] == "elsewhere"
    assert printed["model"]["preset"] == "tiny"


def test_user_errors_are_one_line(capsys, tmp_path):
    assert main(["train", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pstpose train: error:") and "nope.yaml" in err and err.count("\n") == 1
    assert main(["train", "synthetic_tiny", "--set", "train.batch_size=0"]) == 2
    assert "train.batch_size" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "synthetic_tiny", "--resume", "--overwrite"])
