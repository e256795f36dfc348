import random

import numpy as np
import pytest
import torch

from pstpose.engine import checkpoint as ckpt
from pstpose.engine.checkpoint import (
    CheckpointError, capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint,
)


def draws():
    return random.random(), float(np.random.standard_normal()), torch.rand(3).tolist()


def test_rng_states_round_trip_through_a_safe_load(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.standard_normal()  # leave a cached gaussian in NumPy's state
    save_checkpoint(tmp_path / "c.pt", {"rng": [capture_rng_state()]})
    expected = draws()
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    state = load_checkpoint(tmp_path / "c.pt")  # weights_only=True inside
    restore_rng_state(state["rng"][0])
    assert draws() == expected


def test_a_failed_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"epoch": 1, "w": torch.ones(3)})
    before = path.read_bytes()

    def torn_save(obj, f):  # writes half a file, then the disk "fills up"
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt.torch, "save", torn_save)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, {"epoch": 2, "w": torch.zeros(3)})
    assert path.read_bytes() == before
    assert load_checkpoint(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temp files left


def test_bad_checkpoints_are_named(tmp_path):
    with pytest.raises(CheckpointError, match="missing.pt: checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt: not a readable checkpoint"):
        load_checkpoint(junk)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(CheckpointError, match="other.pt: not a pstpose training checkpoint"):
        load_checkpoint(other)
