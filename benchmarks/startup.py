"""Start-up cost: how much of a short ``pstpose predict`` is waiting rather than work.

Each figure is taken in a fresh process (what a user pays per command), ``--repeat`` times,
interleaved, medians reported:

* ``import``: ``import pstpose.models.loading`` (torch included);
* ``build``: building the default model on the CPU, and ``load``: building it and loading the
  packaged default weights (``load_model(None)``), both timed inside the process;
* ``predict``: the whole ``pstpose predict`` process on a generated 5-frame clip, and the share
  of it the pipeline's own stages (decode, detect, crop, model, ...) account for.

    python benchmarks/startup.py [--repeat 5] [--frames 5]

Writes benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LOAD_SNIPPET = """
import json, time
t0 = time.perf_counter()
import torch
from pstpose.models.loading import load_model
from pstpose.models.pstpose import build_model
t1 = time.perf_counter()
build_model("tiny")
t2 = time.perf_counter()
load_model(None)
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "build": t2 - t1, "load": t3 - t2}))
"""


def _stick_video(folder: Path, frames: int) -> Path:
    import cv2
    import numpy as np

    folder.mkdir(parents=True)
    for t in range(frames):
        image = np.full((360, 640, 3), 90, np.uint8)
        cx = 200 + 4 * t
        cv2.circle(image, (cx, 80), 18, (60, 160, 220), -1)
        cv2.line(image, (cx, 100), (cx, 220), (60, 160, 220), 6)
        for s in (-1, 1):
            cv2.line(image, (cx, 120), (cx + 50 * s, 180), (60, 160, 220), 5)
            cv2.line(image, (cx, 220), (cx + 30 * s, 320), (60, 160, 220), 5)
        cv2.imwrite(str(folder / f"{t:06d}.png"), image)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=None, help="OMP_NUM_THREADS for the measured processes (default: torch's own)"
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "startup.json"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from pstpose.io import write_json

    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    loads: list[dict] = []
    predicts: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = _stick_video(Path(tmp) / "clip", args.frames)
        boxes = Path(tmp) / "boxes.txt"  # MOT rows: the figure's box on every frame, no detector cost
        boxes.write_text("".join(f"{t + 1},-1,{150 + 4 * t},55,100,280,1,-1,-1,-1\n" for t in range(args.frames)))
        for r in range(args.repeat):
            out = subprocess.run(
                [sys.executable, "-c", LOAD_SNIPPET], capture_output=True, text=True, check=True, env=env
            )
            loads.append(json.loads(out.stdout.strip().splitlines()[-1]))
            command = [
                sys.executable, "-m", "pstpose", "predict", str(clip), "--detector", f"boxes:{boxes}",
                "--out", str(Path(tmp) / f"out{r}"), "--no-progress",
            ]  # fmt: skip
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
            wall = time.perf_counter() - start
            summary = next(line for line in done.stdout.splitlines() if " frames, " in line)
            stages = float(summary.split(" in ")[1].split(" s")[0])
            predicts.append({"process_seconds": wall, "pipeline_seconds": stages})
    med = {k: statistics.median(d[k] for d in loads) for k in loads[0]}
    process = statistics.median(p["process_seconds"] for p in predicts)
    pipeline = statistics.median(p["pipeline_seconds"] for p in predicts)
    print(f"import {med['import']:.3f} s, build tiny {med['build']:.3f} s, load default weights {med['load']:.3f} s")
    print(
        f"pstpose predict on {args.frames} frames: {process:.2f} s as a process, {pipeline:.2f} s in the pipeline "
        f"({pipeline / process:.0%}), the rest start-up and exit"
    )
    record = {
        "benchmark": "startup",
        "repeat": args.repeat,
        "frames": args.frames,
        "omp_num_threads": args.threads,
        "median_seconds": {**{k: round(v, 4) for k, v in med.items()}, "predict_process": round(process, 3)},
        "predict_pipeline_seconds": round(pipeline, 3),
        "predict_pipeline_share": round(pipeline / process, 3),
        "runs": {"load": loads, "predict": predicts},
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
    }
    write_json(Path(args.out), record, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
