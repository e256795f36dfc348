"""``load_model``: every kind of weights file gives the same model, the packaged default loads,
and bad paths get errors that name them (and no command-line flag)."""

from __future__ import annotations

import re
import shutil

import pytest
import torch

import pstpose.models
import pstpose.weights
from pstpose.config import ExperimentConfig, to_dict
from pstpose.engine.training_state import save_training_state
from pstpose.models import load_model
from pstpose.models.errors import CheckpointError, CheckpointNotFoundError
from pstpose.models.pstpose import PSTPose, build_model
from pstpose.weights import DEFAULT_WEIGHTS, NoDefaultWeightsError

from .conftest import randomize_

SMALL = {
    "image_size": [64, 48],
    "backbone": {"depth": 1, "embed_dim": 32, "num_heads": 2},
    "head": {"deconv_channels": 16},
    "fcg": {"num_clusters": 16},
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """One random model written every way the package writes weights."""
    base = tmp_path_factory.mktemp("loading")
    model = randomize_(build_model("tiny", **SMALL), seed=3).eval()
    model.save_pretrained(base / "pretrained")
    experiment = ExperimentConfig(model=model.config)
    save_training_state(base / "best.pt", {"model": model.state_dict(), "config": to_dict(experiment), "epoch": 2})
    shutil.copyfile(base / "best.pt", base / "best.pth")
    return model, base


@pytest.mark.parametrize("name", ["pretrained", "pretrained/model.safetensors", "best.pt", "best.pth"])
def test_every_kind_of_file_gives_identical_heatmaps(saved, name):
    model, base = saved
    clip = torch.randn(2, 3, 3, 64, 48, generator=torch.Generator().manual_seed(1))
    loaded = load_model(base / name)
    as_text = load_model(str(base / name), device=torch.device("cpu"))
    assert isinstance(loaded, PSTPose) and not loaded.training and loaded.config == model.config
    with torch.no_grad():
        expected = model(clip)
        assert torch.equal(loaded(clip), expected) and torch.equal(as_text(clip), expected)


def test_none_is_the_packaged_default(monkeypatch, saved):
    assert pstpose.models.load_model is load_model
    expected = PSTPose.from_pretrained(DEFAULT_WEIGHTS)
    got = load_model()
    assert got.config == expected.config
    assert all(torch.equal(v, expected.state_dict()[k]) for k, v in got.state_dict().items())
    monkeypatch.setattr(pstpose.weights, "DEFAULT_WEIGHTS", saved[1] / "absent")
    with pytest.raises(NoDefaultWeightsError, match="no default weights shipped") as info:
        load_model(None)
    assert isinstance(info.value, CheckpointNotFoundError) and "--" not in str(info.value)


def test_bad_paths_are_named(saved, tmp_path):
    with pytest.raises(CheckpointError, match="the weights path is empty") as info:
        load_model("")
    assert "--" not in str(info.value)
    missing = tmp_path / "nowhere" / "best.pt"
    with pytest.raises(CheckpointNotFoundError, match=re.escape(f"{missing}: weights not found")) as info:
        load_model(missing)
    assert isinstance(info.value, FileNotFoundError) and "--" not in str(info.value)
    other = tmp_path / "weights.txt"
    other.write_bytes(b"\0")
    with pytest.raises(CheckpointError, match=re.escape(f"{other}: not a weights file this package reads")):
        load_model(other)
    corrupt = tmp_path / "weights.bin"
    corrupt.write_bytes(b"\0")
    with pytest.raises(CheckpointError, match=re.escape(f"{corrupt}: not a readable checkpoint")):
        load_model(corrupt)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a training state")
    with pytest.raises(CheckpointError, match=re.escape(f"{junk}: not a readable checkpoint")):
        load_model(junk)
    vitpose = tmp_path / "vitpose.pth"  # ViTPose-like keys, but no patch embedding: named, not guessed
    torch.save({"state_dict": {"backbone.blocks.0.norm1.weight": torch.zeros(1)}}, vitpose)
    with pytest.raises(CheckpointError, match=re.escape(f"{vitpose}: no patch embedding")):
        load_model(vitpose)
    unknown = tmp_path / "other.pth"
    torch.save({"state_dict": {"encoder.weight": torch.zeros(1)}}, unknown)
    with pytest.raises(CheckpointError, match=re.escape(f"{unknown}: not a weights file this package reads")):
        load_model(unknown)


def test_a_training_state_whose_weights_do_not_match_its_config(saved, tmp_path):
    model, _ = saved
    experiment = ExperimentConfig(model=model.config)
    state = dict(model.state_dict())
    state["head.final_layer.bias"] = torch.zeros(5)
    save_training_state(tmp_path / "last.pt", {"model": state, "config": to_dict(experiment)})
    with pytest.raises(CheckpointError, match=r"last\.pt: shape mismatch for head\.final_layer\.bias"):
        load_model(tmp_path / "last.pt")
