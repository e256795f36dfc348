"""Peak memory of the streaming pipeline versus video length (should be flat).

Runs the whole pipeline (PyAV decode → ring buffer → boxes → crops → model → decoding →
tracking → streamed JSON → overlay video) in a fresh process on a generated video of N and of
10·N frames and compares peak RSS. The pose model is a small convolutional stand-in so that the
run takes seconds: what is measured is the pipeline's own memory, which does not depend on the
model (the model's activations are per batch, also independent of the video length).

    python benchmarks/video_memory.py [--frames 40] [--factor 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import resource, sys
import numpy as np, torch
sys.path.insert(0, sys.argv[3])
from pstpose.inference.predictor import PosePredictor
from pstpose.inference.writers import NativeJsonWriter
from pstpose.media import VideoWriter

path, n = sys.argv[1], int(sys.argv[2])
with VideoWriter(path, 25.0) as writer:
    for i in range(n):
        image = np.full((240, 320, 3), 60, np.uint8)
        x = 20 + (3 * i) % 200
        image[40:200, x:x + 60] = (30 * i) % 255
        writer.write(image)

class StandIn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = torch.nn.AvgPool2d(4)
        self.proj = torch.nn.Conv2d(3, 17, 1)
    def forward(self, clip):
        return self.proj(self.pool(clip[:, clip.shape[1] // 2]))

predictor = PosePredictor(StandIn(), lambda i, name: [[20 + (3 * i) % 200, 40, 80 + (3 * i) % 200, 200, 0.9]],
                          frames_per_side=2, batch_size=4)
with NativeJsonWriter(path + ".json", source=path, fps=25, width=320, height=240) as js, \
        VideoWriter(path + ".overlay.mp4", 25.0) as vw:
    for result in predictor.stream(path):
        js.write(result)
        vw.write(result.plot())
assert predictor.times.frames == n, predictor.times.frames
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss_kb(frames: int, tmp: Path) -> int:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp / f"v{frames}.mp4"), str(frames), str(ROOT / "src")],
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return int(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "video_memory.json"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from pstpose.io import write_json

    with tempfile.TemporaryDirectory() as tmp:
        short = peak_rss_kb(args.frames, Path(tmp))
        long = peak_rss_kb(args.frames * args.factor, Path(tmp))
    frame_mb = 320 * 240 * 3 / 1e6
    print("320x240 video, ξ=2, batch 4, 1 person/frame, JSON + overlay video written")
    print(f"{'frames':>8}{'peak RSS MB':>14}")
    print(f"{args.frames:>8}{short / 1024:>14.1f}")
    print(f"{args.frames * args.factor:>8}{long / 1024:>14.1f}")
    grow = (long - short) / 1024
    held = frame_mb * args.frames * (args.factor - 1)
    print(
        f"growth {grow:.1f} MB for {args.frames * (args.factor - 1)} more frames "
        f"(holding those frames would take {held:.0f} MB)"
    )
    write_json(
        args.out,
        {
            "benchmark": "video_memory",
            "frame_size": [320, 240],
            "frames_per_side": 2,
            "frames": [args.frames, args.frames * args.factor],
            "peak_rss_mb": [round(short / 1024, 1), round(long / 1024, 1)],
            "growth_mb": round(grow, 1),
            "frames_would_take_mb": round(held, 1),
            "python": platform.python_version(),
            "machine": platform.machine(),
        },
        indent=2,
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
