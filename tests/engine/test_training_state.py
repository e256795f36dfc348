"""The trainer's state file: safe loads, atomic saves, RNG states, and the model it holds."""

import random

import numpy as np
import pytest
import torch

from pstpose.config import ExperimentConfig, to_dict
from pstpose.engine import training_state as ts
from pstpose.engine.training_state import (
    capture_rng_state,
    load_training_state,
    model_of_training_state,
    restore_rng_state,
    save_training_state,
)
from pstpose.models.errors import CheckpointError, CheckpointNotFoundError


def draws():
    return random.random(), float(np.random.standard_normal()), torch.rand(3).tolist()


def test_rng_states_round_trip_through_a_safe_load(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.standard_normal()  # leave a cached gaussian in NumPy's state
    save_training_state(tmp_path / "c.pt", {"rng": [capture_rng_state()]})
    expected = draws()
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    state = load_training_state(tmp_path / "c.pt")  # weights_only=True inside
    restore_rng_state(state["rng"][0])
    assert draws() == expected


def test_a_failed_save_leaves_the_previous_state_intact(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_training_state(path, {"epoch": 1, "w": torch.ones(3)})
    before = path.read_bytes()

    def torn_save(obj, f):  # writes half a file, then the disk "fills up"
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ts.torch, "save", torn_save)
    with pytest.raises(OSError, match="No space"):
        save_training_state(path, {"epoch": 2, "w": torch.zeros(3)})
    assert path.read_bytes() == before
    assert load_training_state(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temp files left


def test_bad_files_are_named(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="missing.pt: training state not found"):
        load_training_state(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt: not a readable training state"):
        load_training_state(junk)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(CheckpointError, match="other.pt: not a pstpose training state"):
        load_training_state(other)


def test_the_model_comes_with_the_stored_experiment_configuration(tmp_path):
    cfg = ExperimentConfig()
    cfg.model.num_keypoints = 5
    weights = {"w": torch.ones(2)}
    save_training_state(tmp_path / "best.pt", {"model": weights, "config": to_dict(cfg)})
    state, model_cfg = model_of_training_state(load_training_state(tmp_path / "best.pt"), tmp_path / "best.pt")
    assert model_cfg == cfg.model and torch.equal(state["w"], weights["w"])
    with pytest.raises(CheckpointError, match="a.pt: the training state holds no model configuration"):
        model_of_training_state({"model": weights}, tmp_path / "a.pt")
    with pytest.raises(CheckpointError, match="b.pt: its stored configuration is not valid here"):
        model_of_training_state({"model": weights, "config": {"model": {"depth": 3}}}, tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match="c.pt: the training state holds no model weights"):
        model_of_training_state({"config": to_dict(cfg)}, tmp_path / "c.pt")
