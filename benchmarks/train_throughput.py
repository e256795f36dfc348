"""Training-step throughput (samples/s) with synthetic in-memory batches: no data loading, so
this is the model+optimiser ceiling; compare with the data-loader benchmark to see which limits.

    python benchmarks/train_throughput.py                       # tiny on CPU (+ GPU when present)
    python benchmarks/train_throughput.py --models tiny vitpose-s --cuda-batch 32 --amp bf16

Each timed step is a full Trainer step (forward under autocast, weighted MSE, backward, gradient
clipping, AdamW). Writes benchmarks/results/train_throughput.json.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pstpose.config import TrainConfig, model_preset  # noqa: E402
from pstpose.engine.train import Trainer  # noqa: E402


class ReferenceConvNet(nn.Module):
    """Not PSTPose: two convolutions at stride 4, to show the loop's own overhead per step."""

    def __init__(self, frames: int = 3, keypoints: int = 17):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(frames * 3, 32, 3, stride=4, padding=1), nn.ReLU(), nn.Conv2d(32, keypoints, 1)
        )

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = clip.shape
        return self.body(clip.reshape(b, t * c, h, w))


def build(name: str) -> tuple[nn.Module, int, int, tuple[int, int]]:
    """(model, frames, keypoints, image size) or ImportError when the model package is absent."""
    if name == "reference-conv":
        return ReferenceConvNet(), 3, 17, (256, 192)
    from pstpose.models.pstpose import build_model  # guarded by the caller

    cfg = model_preset(name)
    return build_model(cfg), cfg.num_frames, cfg.num_keypoints, tuple(cfg.image_size)


class OneBatch(torch.utils.data.Dataset):
    def __init__(self, batch: dict):
        self.batch = batch

    def __len__(self) -> int:
        return self.batch["clip"].shape[0]

    def __getitem__(self, i: int) -> dict:
        return {k: v[i] for k, v in self.batch.items()}


def measure(name: str, device: str, batch_size: int, amp: str, warmup: int, steps: int) -> dict:
    row = {"model": name, "device": device, "batch_size": batch_size, "amp": amp}
    try:
        torch.manual_seed(0)
        model, frames, keypoints, (h, w) = build(name)
    except ImportError as exc:
        return {**row, "skipped": f"model not available ({exc})"}
    batch = {
        "clip": torch.randn(batch_size, frames, 3, h, w),
        "target": torch.rand(batch_size, keypoints, h // 4, w // 4),
        "target_weight": torch.ones(batch_size, keypoints),
    }
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(batch_size=batch_size, amp=amp, device=device, workers=0, progress=False, output_dir=tmp)
        trainer = Trainer(model, OneBatch(batch), cfg)
        on_device = {k: v.to(trainer.device) for k, v in batch.items()}
        sync = (lambda: torch.cuda.synchronize()) if trainer.device.type == "cuda" else (lambda: None)
        for _ in range(warmup):
            trainer.train_step(on_device)
        sync()
        if trainer.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        for _ in range(steps):
            loss = trainer.train_step(on_device)
        sync()
        elapsed = time.perf_counter() - start
    row.update(
        steps=steps,
        seconds=round(elapsed, 4),
        ms_per_step=round(1000 * elapsed / steps, 2),
        samples_per_s=round(batch_size * steps / elapsed, 2),
        final_loss=float(loss),
    )
    if device.startswith("cuda"):
        row["peak_gpu_mem_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["tiny", "reference-conv"])
    p.add_argument("--cpu-batch", type=int, default=4)
    p.add_argument("--cuda-batch", type=int, default=32)
    p.add_argument("--amp", default="bf16", help="AMP mode on CUDA (CPU runs use none)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--no-cuda", action="store_true")
    p.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "train_throughput.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    runs = [("cpu", args.cpu_batch, "none")]
    if torch.cuda.is_available() and not args.no_cuda:
        runs.append(("cuda", args.cuda_batch, args.amp))
    rows = [measure(m, dev, bs, amp, args.warmup, args.steps) for dev, bs, amp in runs for m in args.models]

    print(f"{'model':<16}{'device':<8}{'batch':>6}{'amp':>6}{'ms/step':>10}{'samples/s':>11}")
    for r in rows:
        if "skipped" in r:
            print(f"{r['model']:<16}{r['device']:<8}  skipped: {r['skipped']}")
        else:
            print(
                f"{r['model']:<16}{r['device']:<8}{r['batch_size']:>6}{r['amp']:>6}"
                f"{r['ms_per_step']:>10.1f}{r['samples_per_s']:>11.2f}"
            )
    env = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_threads": args.threads,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "input": "clip (B, 3, 3, 256, 192) -> heatmaps (B, 17, 64, 48), in memory",
        "note": "timed on a shared machine unless stated otherwise; rerun for numbers to quote",
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    from pstpose.io import write_json

    write_json(out, {"benchmark": "train_throughput", "environment": env, "results": rows}, indent=2)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
