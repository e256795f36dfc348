"""Pretrained folders (model.safetensors + config.json): round trip, the errors users see, and a
load that builds on the CPU (no meta device, so no torch._dynamo at start-up)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from pstpose.config import ConfigError
from pstpose.models.errors import CheckpointError, CheckpointNotFoundError
from pstpose.models.pretrained import is_pretrained, load_pretrained, read_pretrained
from pstpose.models.pstpose import PSTPose, build_model

from .conftest import SMALL, randomize_


def test_save_and_load_round_trip(tmp_path, clip):
    clip = clip[:1]
    model = randomize_(build_model("tiny", **SMALL, fcg={"num_clusters": 32}), seed=9).eval()
    folder = model.save_pretrained(tmp_path / "ckpt")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    assert is_pretrained(folder) and is_pretrained(folder / "model.safetensors")
    for path in (folder, folder / "model.safetensors"):
        loaded = PSTPose.from_pretrained(path)
        assert loaded.config == model.config and not loaded.training
        with torch.no_grad():
            assert torch.equal(loaded(clip), model(clip))
        for key, value in model.state_dict().items():
            assert torch.equal(loaded.state_dict()[key], value), key
    state, config = read_pretrained(folder)
    assert config == model.config and state.keys() == model.state_dict().keys()


def test_a_folder_without_the_tag_is_not_pretrained(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    (tmp_path / "config.json").write_text('{"model_type": "vitpose"}')
    assert not is_pretrained(tmp_path)
    assert not is_pretrained(tmp_path / "nothere")


def test_checkpoint_errors_name_the_file_and_problem(tmp_path):
    model = build_model("tiny", **SMALL)
    folder = model.save_pretrained(tmp_path / "ckpt")
    with pytest.raises(CheckpointNotFoundError, match="missing"):
        PSTPose.from_pretrained(tmp_path / "missing")
    config = json.loads((folder / "config.json").read_text())

    config["model"]["fcg"]["clusters"] = 3
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"config\.json: .*clusters"):
        PSTPose.from_pretrained(folder)

    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"config\.json: not valid JSON"):
        PSTPose.from_pretrained(folder)

    del config["model"]["fcg"]["clusters"]
    (folder / "config.json").write_text(json.dumps(config))
    other = build_model("tiny", **SMALL, num_keypoints=5)
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(folder / "model.safetensors"))
    with pytest.raises(
        CheckpointError, match=r"shape mismatch for head\.final_layer\.bias: checkpoint \(5,\), model \(17,\)"
    ):
        PSTPose.from_pretrained(folder)

    state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "head.final_layer.bias"}
    save_file({**state, "head.extra": torch.zeros(1)}, str(folder / "model.safetensors"))
    with pytest.raises(
        CheckpointError,
        match=r"model\.safetensors: does not match its config: missing "
        r"\['head\.final_layer\.bias'\], unexpected \['head\.extra'\]",
    ):
        PSTPose.from_pretrained(folder)

    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointNotFoundError, match=r"model\.safetensors is missing"):
        PSTPose.from_pretrained(folder)


def test_loading_leaves_the_callers_random_stream_alone(tmp_path):
    folder = build_model("tiny", **SMALL).save_pretrained(tmp_path / "ckpt")
    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(5)
    load_pretrained(folder)
    assert torch.equal(torch.rand(4), expected)


def test_loading_does_not_import_dynamo(tmp_path):
    """The meta-device build imported torch._dynamo (about a second of start-up); a CPU build
    must not, in a fresh interpreter where nothing else has imported it."""
    folder = build_model("tiny", **SMALL).save_pretrained(tmp_path / "ckpt")
    code = (
        "import sys; from pstpose.models.pretrained import load_pretrained; "
        f"load_pretrained({str(folder)!r}); print('torch._dynamo' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError) and issubclass(ConfigError, ValueError)
    assert issubclass(CheckpointNotFoundError, CheckpointError) and issubclass(
        CheckpointNotFoundError, FileNotFoundError
    )
