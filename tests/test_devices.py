"""Device strings (``pstpose.devices``): one grammar for the commands, the trainer and configs."""

from __future__ import annotations

import pytest
import torch

from pstpose.config import ConfigError, load_experiment
from pstpose.devices import parse_device, resolve_device


def test_the_grammar():
    for name in ("auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps"):
        assert parse_device(name) == name
    for name in ("tpu", "CUDA", "cuda:", "cuda:x", "cuda:0:1", "", " cpu"):
        with pytest.raises(ValueError, match=r"unknown device .* \(use auto, cpu, cuda, cuda:N or mps\)") as info:
            parse_device(name)
        assert "--" not in str(info.value)  # library messages name no command-line option


def test_resolving_on_a_machine_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"^'cuda:1' asks for CUDA, which is not available here \(use cpu\)$"):
        resolve_device("cuda:1")


def test_resolving_with_two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda", local_rank=1) == torch.device("cuda:1")  # one GPU per torchrun process
    assert resolve_device("cuda:0", local_rank=1) == torch.device("cuda:0")  # an explicit index wins
    with pytest.raises(ValueError, match="'cuda:2' asks for CUDA device 2, but this machine has 2"):
        resolve_device("cuda:2")


def test_each_caller_says_where_the_value_came_from(monkeypatch):
    from pstpose.commands import device_from_option
    from pstpose.engine.distributed import setup_distributed

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"^--device cuda: 'cuda' asks for CUDA"):
        device_from_option("cuda")
    assert device_from_option("auto") == "cpu"
    with pytest.raises(ValueError, match=r"^train.device: 'cuda' asks for CUDA"):
        setup_distributed("cuda")
    with pytest.raises(ConfigError, match=r"train.device: unknown device 'tpu'"):
        load_experiment("synthetic_tiny", ["train.device=tpu"])
