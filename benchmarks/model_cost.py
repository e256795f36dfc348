"""Cost of PSTPose per preset and variant: parameters, GFLOPs, CPU latency, peak memory, and the
share of the three refinement modules (DFE+FCG+DSF) and of FCG's clustering.

Targets (vitpose-b, pstpose variant): DFE+FCG+DSF <= 10% of the clip's forward time, FCG's
clustering <= 3%.

Each (preset, variant, batch) runs in its own subprocess so that the peak resident memory it
reports belongs to that configuration alone. Examples:

    python benchmarks/model_cost.py                                   # everything (slow on 2 cores)
    python benchmarks/model_cost.py --presets tiny vitpose-b --repeats 3 --batch-sizes 1 8
    python benchmarks/model_cost.py --skip vitpose-l:8 vitpose-h:8    # large presets at batch 1 only

FLOPs are counted with torch.utils.flop_counter.FlopCounterMode (matmuls, convolutions and
attention; element-wise ops and grid_sample are not counted). One multiply-add = 2 FLOPs.
Times are medians of ``--repeats`` rounds after one warm-up, under torch.inference_mode; each
round times the whole forward and each stage back to back, and the shares are medians of the
per-round ratios (robust to a machine whose load drifts).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

VARIANTS: dict[str, dict] = {
    "pstpose": {},
    "baseline": {"variant": "baseline"},
    "no-dfe": {"dfe": {"enabled": False}},
    "no-fcg": {"fcg": {"enabled": False}},
    "no-dsf": {"dsf": {"enabled": False}},
    "vitpose": {"dfe": {"enabled": False}, "fcg": {"enabled": False}, "dsf": {"enabled": False}},
}
ALL_PRESETS = ["tiny", "vitpose-s", "vitpose-b", "vitpose-l", "vitpose-h"]


def _peak_rss_mb() -> float:
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _interleaved_ms(fns: dict, repeats: int) -> dict[str, list[float]]:
    """Run every function once (warm-up), then ``repeats`` rounds timing each in turn (ms)."""
    for fn in fns.values():
        fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - start) * 1e3)
    return samples


def _gflops(fn) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def measure(preset: str, variant: str, batch: int, repeats: int, threads: int) -> dict:
    """Everything for one configuration (runs inside the child process)."""
    import torch

    from pstpose.models.fcg import dpc_knn
    from pstpose.models.pstpose import build_model

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model(preset, **VARIANTS[variant]).eval()
    cfg = model.config
    rss_model = _peak_rss_mb()
    clip = torch.randn(batch, cfg.num_frames, 3, *cfg.image_size)
    with torch.inference_mode():
        tokens = model.clip_tokens(clip)
        block_inputs = {}
        x = tokens
        for name, block in model.refine.items():
            block_inputs[name] = x
            x = block(x)
        refined = x
        stages = {"backbone": lambda: model.clip_tokens(clip), "head": lambda: model.decode_keyframe(refined)}
        for name, block in model.refine.items():
            stages[name] = lambda b=block, inp=block_inputs[name]: b(inp)
        cluster = None
        if "fcg" in model.refine and cfg.variant == "pstpose":
            normed = model.refine["fcg"].norm1(block_inputs["fcg"])
            cluster = lambda: dpc_knn(normed, cfg.fcg.num_clusters, cfg.fcg.knn)  # noqa: E731

        flops = {name: _gflops(fn) / batch for name, fn in stages.items()}
        total_flops = _gflops(lambda: model(clip)) / batch
        cluster_flops = _gflops(cluster) / batch if cluster else 0.0
        timed = {"total": lambda: model(clip), **stages}
        if cluster:
            timed["cluster"] = cluster
        samples = _interleaved_ms(timed, repeats)
    refine_names = list(model.refine)
    times = {name: statistics.median(v) for name, v in samples.items()}
    # Shares are medians of per-round ratios: every round times all parts back to back, so a
    # busy machine slows numerator and denominator alike.
    refine_share = statistics.median(
        sum(samples[n][r] for n in refine_names) / samples["total"][r] for r in range(repeats)
    )
    cluster_share = (
        statistics.median(samples["cluster"][r] / samples["total"][r] for r in range(repeats)) if cluster else 0.0
    )
    total_ms = times.pop("total")
    cluster_ms = times.pop("cluster", 0.0)
    return {
        "preset": preset,
        "variant": variant,
        "batch": batch,
        "threads": threads,
        "frames": cfg.num_frames,
        "refine_dim": {n: getattr(cfg, n).dim for n in refine_names},
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "params_refine_m": sum(p.numel() for p in model.refine.parameters()) / 1e6,
        "gflops_per_clip": total_flops,
        "gflops_per_stage": flops,
        "gflops_cluster": cluster_flops,
        "flop_share_refine": sum(flops[n] for n in refine_names) / total_flops,
        "latency_ms_batch": total_ms,
        "latency_ms_per_clip": total_ms / batch,
        "stage_ms_batch": times,
        "cluster_ms_batch": cluster_ms,
        "time_share_refine": refine_share,
        "time_share_cluster": cluster_share,
        "peak_rss_mb": _peak_rss_mb(),
        "model_rss_mb": rss_model,
    }


def run_child(preset: str, variant: str, batch: int, repeats: int, threads: int) -> dict | None:
    job = json.dumps({"preset": preset, "variant": variant, "batch": batch, "repeats": repeats, "threads": threads})
    proc = subprocess.run([sys.executable, __file__, "--child", job], capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        print(f"  {preset} {variant} batch {batch}: FAILED\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def format_row(r: dict) -> str:
    return (
        f"{r['preset']:<10} {r['variant']:<9} {r['batch']:>3} {r['params_m']:>8.2f} {r['params_refine_m']:>7.2f}"
        f" {r['gflops_per_clip']:>8.2f} {100 * r['flop_share_refine']:>6.1f}% {r['latency_ms_per_clip']:>9.1f}"
        f" {100 * r['time_share_refine']:>6.1f}% {100 * r['time_share_cluster']:>6.2f}% {r['peak_rss_mb']:>8.0f}"
    )


HEADER = (
    f"{'preset':<10} {'variant':<9} {'B':>3} {'params M':>8} {'refineM':>7} {'GFLOP/c':>8} {'FLOP%':>7}"
    f" {'ms/clip':>9} {'time%':>7} {'clust%':>7} {'peakMB':>8}"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=ALL_PRESETS, choices=ALL_PRESETS)
    parser.add_argument("--variants", nargs="+", default=["pstpose", "baseline"], choices=list(VARIANTS))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (median)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    parser.add_argument("--skip", nargs="*", default=[], metavar="PRESET:BATCH", help="e.g. vitpose-h:8")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "model_cost.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        job = json.loads(args.child)
        print(json.dumps(measure(**job)))
        return 0

    import torch

    from pstpose.io import write_json

    threads = args.threads or torch.get_num_threads()
    print(
        f"torch {torch.__version__}, CPU, {threads} threads, {args.repeats} repeats (median), "
        f"input (B, T, 3, 256, 192); ms/clip = batch latency / B; time%/FLOP% = DFE+FCG+DSF share"
    )
    print(HEADER)
    rows = []
    for preset in args.presets:
        for variant in args.variants:
            for batch in args.batch_sizes:
                if f"{preset}:{batch}" in args.skip:
                    continue
                row = run_child(preset, variant, batch, args.repeats, threads)
                if row:
                    rows.append(row)
                    print(format_row(row), flush=True)
    write_json(
        args.output,
        {
            "benchmark": "model_cost",
            "device": "cpu",
            "threads": threads,
            "repeats": args.repeats,
            "torch": torch.__version__,
            "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(),
            "targets": {"vitpose-b time_share_refine": 0.10, "vitpose-b time_share_cluster": 0.03},
            "results": rows,
        },
        indent=2,
    )
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
