"""Throughput of the clip data loader alone (no model): samples/s for 0, 1, 2 workers.

Generates JPEG frames of PoseTrack-like size in a temporary folder, builds hand-made sequences
(several persons per labeled frame) and times ``PoseTrackClipDataset`` through a DataLoader in
training mode (augmentation, shuffled order) and evaluation mode (sequential order), plus the
cost of one decode and one warp. Writes benchmarks/results/data_loader.json.

    python benchmarks/data_loader.py [--batches 8 --batch-size 16 --workers 0 1 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pstpose import preprocess  # noqa: E402
from pstpose.config import DataConfig, to_dict  # noqa: E402
from pstpose.data.dataset import PoseTrackClipDataset  # noqa: E402
from pstpose.data.records import Frame, Person, Sequence  # noqa: E402
from pstpose.engine.loader import build_loader  # noqa: E402
from pstpose.io import write_json  # noqa: E402
from pstpose.media import read_image  # noqa: E402


def synthetic_frame(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A frame that compresses like a photo more than like noise: gradient, blobs, mild noise."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([xs / width * 200, ys / height * 200, (xs + ys) / (width + height) * 255], -1)
    for _ in range(30):
        c = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(img, c, int(rng.integers(10, 120)), rng.uniform(0, 255, 3).tolist(), -1)
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def person(rng: np.random.Generator, width: int, height: int, track: int) -> Person:
    h = float(rng.uniform(0.3, 0.7) * height)
    cx, cy = rng.uniform(0.2 * width, 0.8 * width), rng.uniform(0.3 * height, 0.7 * height)
    kps = np.zeros((17, 3))
    kps[:, 0] = cx + rng.uniform(-0.2, 0.2, 17) * h
    kps[:, 1] = cy + np.linspace(-0.45, 0.45, 17) * h
    kps[:, 2] = 1.0
    present = np.ones(17, bool)
    present[[3, 4]] = False
    return Person(
        keypoints=kps, present=present, track_id=track, bbox=np.array([cx - 0.25 * h, cy - 0.5 * h, 0.5 * h, h])
    )


def make_data(root: Path, sequences: int, frames: int, persons: int, width: int, height: int) -> list[Sequence]:
    rng = np.random.default_rng(0)
    out = []
    for s in range(sequences):
        name = f"{s:06d}_bench"
        folder = root / "images" / "train" / name
        folder.mkdir(parents=True)
        base = synthetic_frame(rng, width, height)
        listed = []
        for i in range(frames):
            frame = np.roll(base, 4 * i, axis=1)  # a panning camera
            cv2.imwrite(str(folder / f"{i:06d}.jpg"), frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
            people = [person(rng, width, height, p) for p in range(persons)]
            listed.append(
                Frame(
                    file_name=f"images/train/{name}/{i:06d}.jpg",
                    frame_index=i,
                    persons=people,
                    image_id=s * 10000 + i,
                    width=width,
                    height=height,
                )
            )
        out.append(Sequence(name=name, frames=listed, format="pt18", nframes=frames))
    return out


def time_loader(dataset, batch_size: int, batches: int, workers: int, shuffle: bool) -> dict:
    loader = build_loader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        workers=workers,
        drop_last=True,
        generator=torch.Generator().manual_seed(0),
    )
    start = time.perf_counter()
    first = None
    n = 0
    for i, batch in enumerate(loader):
        n += batch["clip"].shape[0]
        if i == 0:
            first = time.perf_counter()
        if i + 1 >= batches:
            break
    end = time.perf_counter()
    steady = (n - batch_size) / (end - first) if n > batch_size and end > first else float("nan")
    return {
        "workers": workers,
        "samples": n,
        "seconds": round(end - start, 3),
        "samples_per_s": round(n / (end - start), 2),
        "steady_samples_per_s": round(steady, 2) if np.isfinite(steady) else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sequences", type=int, default=2)
    ap.add_argument("--frames", type=int, default=24, help="frames per sequence (all labeled)")
    ap.add_argument("--persons", type=int, default=4, help="persons per labeled frame")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--cache-frames", type=int, default=32)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "data_loader.json")
    args = ap.parse_args()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        seqs = make_data(root, args.sequences, args.frames, args.persons, args.width, args.height)
        cfg = DataConfig(root=str(root), cache_frames=args.cache_frames)
        path = root / seqs[0].frames[0].file_name
        reps = 20
        t0 = time.perf_counter()
        for _ in range(reps):
            frame = read_image(path, "rgb")
        decode_ms = (time.perf_counter() - t0) / reps * 1e3
        m = preprocess.crop_matrix(preprocess.box_xywh_to_crop([500, 200, 150, 300]))
        t0 = time.perf_counter()
        for _ in range(reps):
            preprocess.warp_frame(frame, m)
        warp_ms = (time.perf_counter() - t0) / reps * 1e3

        rows = []
        for mode, train, shuffle in (("train", True, True), ("eval", False, False)):
            ds = PoseTrackClipDataset(seqs, root, cfg, train=train)
            for workers in args.workers:
                row = {
                    "mode": mode,
                    "shuffle": shuffle,
                    **time_loader(ds, args.batch_size, args.batches, workers, shuffle),
                }
                rows.append(row)
        ds = PoseTrackClipDataset(seqs, root, DataConfig(root=str(root), cache_frames=0), train=True)
        rows.append(
            {"mode": "train-no-cache", "shuffle": True, **time_loader(ds, args.batch_size, args.batches, 0, True)}
        )

    print(f"frame {args.width}x{args.height} JPEG: decode {decode_ms:.1f} ms, warp to 256x192 {warp_ms:.2f} ms")
    print(f"{'mode':<16}{'workers':>8}{'samples':>9}{'samples/s':>11}{'steady/s':>10}")
    for r in rows:
        print(
            f"{r['mode']:<16}{r['workers']:>8}{r['samples']:>9}{r['samples_per_s']:>11}{r['steady_samples_per_s']!s:>10}"
        )
    write_json(
        args.out,
        {
            "benchmark": "data_loader",
            "note": "loader alone, no model; clip of 3 frames, crops 256x192, heatmaps 64x48; steady excludes the first batch (worker start-up); timings are wall-clock on a machine other jobs may share",
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "torch": torch.__version__,
                "opencv": cv2.__version__,
                "torch_threads": 1,
            },
            "sizes": {
                "sequences": args.sequences,
                "frames_per_sequence": args.frames,
                "persons_per_frame": args.persons,
                "frame": [args.height, args.width],
                "batch_size": args.batch_size,
                "batches": args.batches,
            },
            "config": to_dict(DataConfig(cache_frames=args.cache_frames)),
            "decode_ms_per_frame": round(decode_ms, 2),
            "warp_ms_per_frame": round(warp_ms, 3),
            "results": rows,
        },
        indent=2,
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
