"""Speed of the synthetic generator: rendering in memory, writing a dataset (1 and 2 worker
processes) and streaming a long video frame by frame (with the growth of the peak resident memory).

Run from the repository root:  python benchmarks/synth_speed.py [--quick]
Writes benchmarks/results/synth_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # this checkout's package first

from pstpose.data.synthetic import generate_dataset, iter_frames, render_sequence

RESULTS = Path(__file__).resolve().parent / "results" / "synth_speed.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (CI smoke)")
    parser.add_argument("--preset", default="standard")
    args = parser.parse_args()
    h, w, frames = 288, 384, 24
    videos, val_videos = (2, 1) if args.quick else (8, 2)
    rows = []

    # a 10x longer video streamed frame by frame: memory must stay flat (measured first, so the
    # process peak is not someone else's)
    long_frames = frames * 10
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    count = sum(1 for _ in iter_frames(seed=0, frames=long_frames, height=h, width=w, preset=args.preset))
    dt = time.perf_counter() - start
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    rows.append(
        {
            "task": f"iter_frames {long_frames}-frame video",
            "workers": 1,
            "frames": count,
            "seconds": dt,
            "peak_rss_growth_mb": round(grown / 1024, 1),
        }
    )

    start = time.perf_counter()
    n = 0
    for seed in range(2 if args.quick else 4):
        n += len(render_sequence(seed=seed, frames=frames, height=h, width=w, preset=args.preset).frames)
    dt = time.perf_counter() - start
    rows.append({"task": "render_sequence (memory)", "workers": 1, "frames": n, "seconds": dt})

    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            summary = generate_dataset(
                Path(tmp) / "ds",
                videos=videos,
                val_videos=val_videos,
                frames=frames,
                height=h,
                width=w,
                preset=args.preset,
                workers=workers,
            )
            dt = time.perf_counter() - start
        total = summary["splits"]["train"]["frames"] + summary["splits"]["val"]["frames"]
        rows.append(
            {
                "task": f"generate_dataset {videos}+{val_videos} videos",
                "workers": workers,
                "frames": total,
                "seconds": dt,
            }
        )

    print(f"{'task':<36} {'workers':>7} {'frames':>7} {'seconds':>8} {'frames/s':>9}")
    for r in rows:
        r["frames_per_s"] = round(r["frames"] / r["seconds"], 1)
        r["seconds"] = round(r["seconds"], 2)
        extra = f"  peak RSS +{r['peak_rss_growth_mb']} MB" if "peak_rss_growth_mb" in r else ""
        print(
            f"{r['task']:<36} {r['workers']:>7} {r['frames']:>7} {r['seconds']:>8.2f} {r['frames_per_s']:>9.1f}{extra}"
        )

    result = {
        "benchmark": "synth_speed",
        "preset": args.preset,
        "size": {"height": h, "width": w, "frames_per_video": frames},
        "device": "cpu",
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "note": "wall-clock on a shared machine; rerun on an idle one for reference numbers",
        "rows": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(f"-> {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
