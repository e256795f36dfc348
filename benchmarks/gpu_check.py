"""The GPU check: training and inference figures, the loader against the GPU's appetite, DDP and
ONNX Runtime parity, in a few minutes on one CUDA machine (``benchmarks/gpu_check.sh``).

On a CUDA GPU (full mode): ``vitpose-b`` at 256x192, bf16 autocast, batch 32. Without one (or with
``--reduced``) the same steps run on the CPU at the ``tiny`` preset, fp32, small batches: that
checks the script and the code paths, not the GPU figures.

Steps, each timed and written to the result file as soon as it finishes (a step that fails is
recorded with its error and the others still run):

1. ``train``: full training steps (forward under autocast, MSE on heatmaps, backward, AdamW)
   on random clips: samples/s and model FLOPs utilisation (forward+backward = 3x the forward
   FLOPs counted by ``torch.utils.flop_counter``, over the GPU's bf16 dense peak: known for
   A100/H100/H200/L4/A10, else ``--peak-tflops``).
2. ``loader``: ``PoseTrackClipDataset`` through a DataLoader on JPEG frames generated here
   (1280x720, training augmentation) with 0..N workers: samples/s against the training rate
   above — if the loader is slower, JPEG decoding (CPU) is the limit.
3. ``ddp``: a one-process DistributedDataParallel group (NCCL on CUDA, gloo on CPU): start-up
   seconds and one step.
4. ``inference``: clips/s of ``model(clip)`` under inference mode at batch 1 and the batch above.
5. ``onnx``: export the model, run it in ONNX Runtime (CUDA provider where installed, else CPU)
   and report the largest heatmap difference to PyTorch.

    bash benchmarks/gpu_check.sh                   # full mode on a CUDA machine, <= 8 minutes
    python benchmarks/gpu_check.py --reduced       # the CPU rehearsal
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402

# bf16 dense tensor-core peak, TFLOP/s, by device name fragment (vendor data sheets, no sparsity)
BF16_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0}


def peak_tflops(device: torch.device, override: float | None) -> float | None:
    if override:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in BF16_PEAK_TFLOPS.items() if k in name), None)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_flops(model, clip) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(clip)
    return float(counter.get_total_flops())


def check_train(ctx: dict) -> dict:
    model, device, batch, amp = ctx["model"], ctx["device"], ctx["batch"], ctx["amp"]
    t = model.config.num_frames
    h, w = model.config.image_size
    clip = torch.randn(batch, t, 3, h, w, device=device)
    target = torch.rand(batch, model.config.num_keypoints, h // 4, w // 4, device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = torch.nn.functional.mse_loss(model(clip).float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    for _ in range(ctx["warmup"]):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(ctx["steps"]):
        step()
    synchronize(device)
    seconds = (time.perf_counter() - start) / ctx["steps"]
    model.eval()
    flops = 3 * forward_flops(model, clip[:1]) * batch  # forward + backward ≈ 3 forwards
    achieved = flops / seconds / 1e12
    peak = peak_tflops(device, ctx["peak_tflops"])
    ctx["train_samples_per_s"] = batch / seconds
    return {
        "batch": batch,
        "step_seconds": round(seconds, 4),
        "samples_per_s": round(batch / seconds, 2),
        "achieved_tflops": round(achieved, 3),
        "peak_tflops": peak,
        "mfu": round(achieved / peak, 4) if peak else None,
    }


def check_loader(ctx: dict) -> dict:
    import data_loader  # benchmarks/data_loader.py: JPEG frames and sequences generated here

    config = ctx["model"].config
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sequences = data_loader.make_data(root, 2, 16, 4, 1280, 720)
        data = data_loader.DataConfig(
            root=str(root), input_size=tuple(config.image_size), frames_per_side=config.frames_per_side
        )
        dataset = data_loader.PoseTrackClipDataset(sequences, root, data, train=True)
        for workers in ctx["workers"]:
            row = data_loader.time_loader(dataset, ctx["batch"], ctx["loader_batches"], workers, shuffle=True)
            rows.append(row)
    appetite = ctx.get("train_samples_per_s")
    best = max((r["steady_samples_per_s"] or r["samples_per_s"]) for r in rows)
    return {
        "by_workers": rows,
        "training_samples_per_s": round(appetite, 2) if appetite else None,
        "loader_keeps_up": None if appetite is None else best >= appetite,
    }


def check_ddp(ctx: dict) -> dict:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    device = ctx["device"]
    backend = "nccl" if device.type == "cuda" else "gloo"
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29533")
    start = time.perf_counter()
    dist.init_process_group(backend, rank=0, world_size=1)
    try:
        model = DistributedDataParallel(ctx["model"], device_ids=[device.index] if device.type == "cuda" else None)
        synchronize(device)
        startup = time.perf_counter() - start
        t = ctx["model"].config.num_frames
        h, w = ctx["model"].config.image_size
        clip = torch.randn(2, t, 3, h, w, device=device)
        begin = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=ctx["amp"]):
            loss = model(clip).float().square().mean()
        loss.backward()
        synchronize(device)
        return {
            "backend": backend,
            "startup_seconds": round(startup, 3),
            "step_seconds": round(time.perf_counter() - begin, 3),
        }
    finally:
        dist.destroy_process_group()


def check_inference(ctx: dict) -> dict:
    model, device, amp = ctx["model"].eval(), ctx["device"], ctx["amp"]
    t = model.config.num_frames
    h, w = model.config.image_size
    out = {}
    for batch in sorted({1, ctx["batch"]}):
        clip = torch.randn(batch, t, 3, h, w, device=device)
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            for _ in range(ctx["warmup"]):
                model(clip)
            synchronize(device)
            start = time.perf_counter()
            for _ in range(ctx["steps"]):
                model(clip)
            synchronize(device)
        out[f"batch_{batch}_clips_per_s"] = round(batch * ctx["steps"] / (time.perf_counter() - start), 2)
    return out


def check_onnx(ctx: dict) -> dict:
    import copy

    import numpy as np
    import onnxruntime as ort

    from pstpose.export.onnx import export_onnx, randomize_small_parameters_

    # a copy with its zero-initialised layers randomised, so the heatmaps are not trivially zero
    model = randomize_small_parameters_(copy.deepcopy(ctx["model"]).float().eval().cpu())
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(model, Path(tmp) / "model.onnx")
        session = ort.InferenceSession(str(path), providers=providers)
        t = model.config.num_frames
        h, w = model.config.image_size
        clip = torch.randn(1, t, 3, h, w, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            expected = model(clip).numpy()
        got = session.run(None, {session.get_inputs()[0].name: clip.numpy()})[0]
    return {
        "provider": session.get_providers()[0],
        "max_abs_diff": float(np.abs(got - expected).max()),
        "heatmap_abs_max": float(np.abs(expected).max()),
    }


STEPS = {
    "train": check_train,
    "loader": check_loader,
    "ddp": check_ddp,
    "inference": check_inference,
    "onnx": check_onnx,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reduced", action="store_true", help="CPU rehearsal (automatic without CUDA)")
    parser.add_argument("--preset", default=None, help="default: vitpose-b on CUDA, tiny reduced")
    parser.add_argument("--batch", type=int, default=None, help="default: 32 on CUDA, 4 reduced")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--peak-tflops", type=float, default=None, help="the GPU's bf16 dense peak, if not known")
    parser.add_argument("--only", nargs="*", choices=list(STEPS), default=list(STEPS))
    parser.add_argument("--out", default=None, help="default: benchmarks/results/gpu_check[_cpu].json")
    args = parser.parse_args()

    from pstpose.io import write_json
    from pstpose.models.pstpose import build_model

    cuda = torch.cuda.is_available() and not args.reduced
    device = torch.device("cuda:0" if cuda else "cpu")
    preset = args.preset or ("vitpose-b" if cuda else "tiny")
    out = Path(args.out or ROOT / "benchmarks" / "results" / ("gpu_check.json" if cuda else "gpu_check_cpu.json"))
    ctx = {
        "device": device,
        "model": build_model(preset).to(device),
        "batch": args.batch or (32 if cuda else 4),
        "amp": cuda and torch.cuda.is_bf16_supported(),
        "warmup": 3 if cuda else 1,
        "steps": args.steps or (20 if cuda else 3),
        "workers": [0, 4, 8, min(16, os.cpu_count() or 1)] if cuda else [0, 1],
        "loader_batches": 8 if cuda else 2,
        "peak_tflops": args.peak_tflops,
    }
    record: dict = {
        "benchmark": "gpu_check",
        "mode": "full" if cuda else "reduced (CPU rehearsal: not GPU figures)",
        "device": torch.cuda.get_device_name(device) if cuda else platform.processor() or platform.machine(),
        "preset": preset,
        "precision": "bf16 autocast" if ctx["amp"] else "fp32",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_start": list(os.getloadavg()),
        "steps": {},
    }
    print(f"gpu_check: {record['mode']}, {record['device']}, {preset}, {record['precision']}, batch {ctx['batch']}")
    for name in args.only:
        start = time.perf_counter()
        try:
            result = STEPS[name](ctx)
            result["seconds"] = round(time.perf_counter() - start, 2)
        except Exception as exc:
            result = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc(limit=3)}
        record["steps"][name] = result
        print(f"{name:<10} {json.dumps({k: v for k, v in result.items() if k != 'trace'})}", flush=True)
        write_json(out, record, indent=2)
    record["load_average_end"] = list(os.getloadavg())
    write_json(out, record, indent=2)
    print(f"wrote {out}")
    return 1 if any("error" in r for r in record["steps"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
