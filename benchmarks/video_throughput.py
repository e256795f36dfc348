"""End-to-end video pose throughput: frames/s, persons/s and where the time goes.

Generates a video of walking stick figures, then runs the full pipeline (decode → boxes → crops
→ model → heatmap decoding → tracking → JSON + overlay video) and reports the time split. The
target (docs/inference.md): everything but the model ≤ 20% of the total at ``tiny`` on CPU.

    python benchmarks/video_throughput.py [--frames 48] [--persons 3] [--preset tiny] ...

Boxes come from the known figure positions by default (``--detector hog`` times OpenCV's HOG
instead). Uses the real model (``build_model``); exits with a message when it is not importable.

``--compare-overlap N`` runs the same video N times each with the front stages (decode, detect,
crop) overlapped with the model and in series, interleaved, and reports the wall-clock ratio:

    python benchmarks/video_throughput.py --detector hog --compare-overlap 3
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def stick_figure_video(path: Path, frames: int, persons: int, width: int, height: int, fps: float):
    """Walking stick figures; returns the true boxes per frame {index: (P, 5)}."""
    import cv2

    from pstpose.media import VideoWriter

    rng = np.random.default_rng(0)
    starts = rng.uniform(0.05, 0.7, persons) * width
    speeds = rng.uniform(-3, 3, persons)
    tall = rng.uniform(0.45, 0.8, persons) * height
    boxes = {}
    with VideoWriter(path, fps) as writer:
        for t in range(frames):
            image = np.full((height, width, 3), 90, np.uint8)
            frame_boxes = []
            for p in range(persons):
                h = tall[p]
                cx = (starts[p] + speeds[p] * t) % (width - 0.3 * h) + 0.15 * h
                top = height * 0.1
                swing = np.sin(t / 3 + p) * 0.12 * h
                head = (int(cx), int(top + 0.08 * h))
                neck, hip = (int(cx), int(top + 0.18 * h)), (int(cx), int(top + 0.55 * h))
                color = (40 + 50 * p % 200, 160, 220)
                cv2.circle(image, head, int(0.07 * h), color, -1)
                cv2.line(image, neck, hip, color, max(2, int(h / 40)))
                for sign in (-1, 1):
                    cv2.line(image, neck, (int(cx + sign * 0.2 * h), int(top + 0.45 * h + sign * swing)), color, 3)
                    cv2.line(image, hip, (int(cx + sign * swing), int(top + h)), color, 3)
                frame_boxes.append([cx - 0.25 * h, top, cx + 0.25 * h, top + h, 0.9])
            writer.write(image)
            boxes[t] = np.array(frame_boxes)
    return boxes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--persons", type=int, default=3)
    parser.add_argument("--size", default="640x360", help="WIDTHxHEIGHT of the generated video")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--frames-per-side", type=int, default=None, help="ξ (default: the preset's)")
    parser.add_argument("--batch-size", type=int, default=4, help="keyframes per model call")
    parser.add_argument("--detector", choices=("given", "hog"), default="given")
    parser.add_argument("--flip", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--no-overlap", action="store_true", help="run decode/detect/crop in series with the model")
    parser.add_argument(
        "--compare-overlap", type=int, default=0, metavar="N", help="N interleaved runs with and without overlap"
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "video_throughput.json"))
    args = parser.parse_args()

    import torch

    try:
        from pstpose.models.pstpose import build_model
    except ImportError as exc:
        print(f"skipped: the PSTPose model is not importable here ({exc})")
        return 0

    from pstpose.inference.detectors import GivenBoxes, HOGDetector
    from pstpose.inference.predictor import PosePredictor
    from pstpose.inference.writers import NativeJsonWriter
    from pstpose.io import write_json
    from pstpose.media import VideoWriter

    if args.threads:
        torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.lower().split("x"))
    overrides = {} if args.frames_per_side is None else {"frames_per_side": args.frames_per_side}
    model = build_model(args.preset, **overrides).eval()
    xi = model.config.frames_per_side

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video = tmp / "walk.mp4"
        true_boxes = stick_figure_video(video, args.frames, args.persons, width, height, fps=25.0)

        def run(overlap: bool):
            """One timed pass over the video; returns (wall seconds, the predictor's stage times)."""
            detector = GivenBoxes(true_boxes) if args.detector == "given" else HOGDetector()
            predictor = PosePredictor(
                model,
                detector,
                device=args.device,
                batch_size=args.batch_size,
                flip=args.flip,
                keep_images=True,
                overlap=overlap,
            )
            start = time.perf_counter()
            with (
                NativeJsonWriter(tmp / "walk.json", source=str(video), fps=25.0, width=width, height=height) as js,
                VideoWriter(tmp / "walk.overlay.mp4", 25.0) as vw,
            ):
                for result in predictor.stream(video):
                    with predictor.times.time("write"):
                        js.write(result)
                        vw.write(result.plot())
            return time.perf_counter() - start, predictor.times

        # warm-up (allocators, lazy init) on the first frames, not counted
        warm = PosePredictor(model, GivenBoxes(true_boxes), device=args.device, batch_size=args.batch_size)
        for i, _ in enumerate(warm.stream(video)):
            if i >= args.batch_size:
                break
        comparison = None
        if args.compare_overlap:
            walls: dict[str, list[float]] = {"series": [], "overlapped": []}
            for _ in range(args.compare_overlap):
                for name, overlap in (("series", False), ("overlapped", True)):
                    walls[name].append(run(overlap)[0])
            med = {k: float(np.median(v)) for k, v in walls.items()}
            comparison = {
                "runs_each": args.compare_overlap,
                "wall_seconds": {k: [round(x, 4) for x in v] for k, v in walls.items()},
                "frames_per_second": {k: round(args.frames / m, 3) for k, m in med.items()},
                "speedup_median": round(med["series"] / med["overlapped"], 3),
            }
            print(
                f"overlap: series {comparison['frames_per_second']['series']:.2f} frames/s, overlapped "
                f"{comparison['frames_per_second']['overlapped']:.2f} frames/s (median of {args.compare_overlap} "
                f"interleaved runs each): {comparison['speedup_median']:.2f}x"
            )
        wall, times = run(not args.no_overlap)

    split = times.as_dict()
    total = times.total
    model_share = times.seconds["model"] / total if total else 0.0
    print(
        f"video {args.frames} frames {width}x{height}, {args.persons} persons/frame, preset {args.preset} "
        f"(ξ={xi}), batch {args.batch_size} keyframes, device {args.device}, torch threads {torch.get_num_threads()}"
    )
    print(f"{'stage':<16}{'seconds':>10}{'share':>9}")
    for stage, seconds in times.seconds.items():
        print(f"{stage:<16}{seconds:>10.3f}{seconds / total:>9.1%}")
    print(f"{'total':<16}{total:>10.3f}   (wall {wall:.3f} s)")
    fps = times.frames / wall
    pps = times.persons / wall
    print(f"{fps:.2f} frames/s, {pps:.2f} persons/s; everything but the model: {1 - model_share:.1%} (target ≤ 20%)")

    record = {
        "benchmark": "video_throughput",
        "preset": args.preset,
        "frames_per_side": xi,
        "frames": args.frames,
        "persons_per_frame": args.persons,
        "frame_size": [width, height],
        "batch_size": args.batch_size,
        "detector": args.detector,
        "flip": args.flip,
        "overlap": not args.no_overlap,
        "device": args.device,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "wall_seconds": round(wall, 4),
        "frames_per_second": round(fps, 3),
        "persons_per_second": round(pps, 3),
        "non_model_share": round(1 - model_share, 4),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        **split,
    }
    if comparison is not None:
        record["overlap_comparison"] = comparison
    out = Path(args.out)
    write_json(out, record, indent=2)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
