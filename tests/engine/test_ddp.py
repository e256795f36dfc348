"""DDP under torchrun with two gloo CPU processes: both ranks end with identical weights, equal
(to float rounding) to one process training with the same global batch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

WORKER = Path(__file__).with_name("ddp_worker.py")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_workers(out: Path, nproc: int, batch_size: int) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={nproc}",
        "--nnodes=1",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
        str(WORKER),
        str(out),
        str(batch_size),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_two_gloo_ranks_agree_and_match_one_process(tmp_path):
    run_workers(tmp_path / "two", nproc=2, batch_size=2)  # global batch 4
    r0 = torch.load(tmp_path / "two" / "rank0_of_2.pt", weights_only=True)
    r1 = torch.load(tmp_path / "two" / "rank1_of_2.pt", weights_only=True)
    single = train_one_process(tmp_path / "one", batch_size=4)  # same code, world size 1
    assert r0["steps"] == r1["steps"] == single["steps"] == 2  # 8 items / global batch 4
    start = TinyHeatmapNetInit()
    for name, tensor in r0["state"].items():
        assert torch.equal(tensor, r1["state"][name]), name  # identical on both ranks
        assert not torch.equal(tensor, start[name]), name  # and trained
        torch.testing.assert_close(tensor, single["state"][name], rtol=1e-5, atol=1e-6)
    assert abs(r0["loss"] - single["loss"]) < 1e-6  # the logged loss is the global mean
    # only rank 0 wrote the run folder
    run_files = sorted(p.name for p in (tmp_path / "two" / "run").iterdir())
    assert run_files == ["config.yaml", "last.pt", "metrics.jsonl"]


def train_one_process(out: Path, batch_size: int) -> dict:
    import importlib.util

    spec = importlib.util.spec_from_file_location("ddp_worker", WORKER)
    worker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker)
    out.mkdir()
    worker.train(out, batch_size)
    return torch.load(out / "rank0_of_1.pt", weights_only=True)


def TinyHeatmapNetInit() -> dict:
    """Rank 0's initial weights (DDP copies them to every rank)."""
    from tests.engine.standins import TinyHeatmapNet

    torch.manual_seed(100)
    return TinyHeatmapNet().state_dict()
