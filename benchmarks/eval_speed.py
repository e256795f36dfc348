"""Speed of PoseTrack evaluation on a PoseTrack18-val-sized synthetic set.

Generates (numpy, fixed seed) per-sequence PoseTrack18 GT and prediction files in a temporary
folder — every frame listed, the middle 30 frames and every 4th labeled, GT ignore polygons in some labeled frames,
predictions in every frame (jittered GT plus false positives) — then times reading both
directories and evaluating, separately, best of ``--repeat`` runs.

    python benchmarks/eval_speed.py [--sequences 170] [--frames 100] [--repeat 3]

Writes benchmarks/results/eval_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pstpose.data.posetrack import _decode_json, load_sequences  # noqa: E402
from pstpose.keypoints import JOINT_NAMES  # noqa: E402
from pstpose.metrics import evaluate  # noqa: E402

CATEGORIES = [{"id": 1, "name": "person", "keypoints": list(JOINT_NAMES)}]


def _person_keypoints(rng, n, w=1280, h=720):
    """(n, 17, 3) plausible-ish poses: a centre, a scale, joints scattered around it."""
    centre = rng.uniform([100, 100], [w - 100, h - 100], size=(n, 1, 2))
    scale = rng.uniform(30, 120, size=(n, 1, 1))
    xy = centre + rng.normal(0, 1, size=(n, 17, 2)) * scale
    v = (rng.random((n, 17)) < 0.85).astype(float)
    v[:, 3:5] = 0  # ears are never annotated
    kp = np.concatenate([xy, v[..., None]], axis=2)
    kp[v == 0] = 0
    return kp, scale[:, 0, 0]


def make_sequence_files(rng, name: str, n_frames: int, labeled_every: int = 4):
    images, gt_anns, pr_anns = [], [], []
    vid = name[:6]
    for f in range(n_frames):
        image_id = int(f"1{vid}{f:04d}")
        labeled = f % labeled_every == 0 or 30 <= f < 60
        img = {
            "file_name": f"images/val/{name}/{f:06d}.jpg",
            "id": image_id,
            "frame_id": image_id,
            "is_labeled": labeled,
            "nframes": n_frames,
            "vid_id": vid,
        }
        n_persons = int(rng.integers(1, 5))
        kp, scale = _person_keypoints(rng, n_persons)
        if labeled:
            if rng.random() < 0.3:
                x0, y0 = rng.uniform(0, 1000), rng.uniform(0, 500)
                img["ignore_regions_x"] = [[x0, x0 + 200, x0 + 220, x0 - 10]]
                img["ignore_regions_y"] = [[y0, y0, y0 + 150, y0 + 160]]
            for k in range(n_persons):
                hx, hy = kp[k, 2, 0] - scale[k] * 0.3, kp[k, 2, 1]
                gt_anns.append(
                    {
                        "image_id": image_id,
                        "track_id": k,
                        "keypoints": kp[k].ravel().round(2).tolist(),
                        "bbox_head": [round(hx, 2), round(hy, 2), round(scale[k] * 0.6, 2), round(scale[k] * 0.7, 2)],
                    }
                )
        images.append(img)
        # Predictions: most persons found (jittered), plus false positives.
        found = rng.random(n_persons) < 0.9
        pk = kp[found].copy()
        pk[..., :2] += rng.normal(0, 1, size=pk[..., :2].shape) * scale[found, None, None] * 0.15
        n_fp = int(rng.integers(0, 3))
        fp, _ = _person_keypoints(rng, n_fp)
        allp = np.concatenate([pk, fp]) if n_fp else pk
        allp[..., 2] = np.where(np.any(allp[..., :2] != 0, axis=2), 1.0, 0.0)
        scores = rng.random((len(allp), 17))
        for k in range(len(allp)):
            pr_anns.append(
                {
                    "image_id": image_id,
                    "track_id": k,
                    "keypoints": allp[k].ravel().round(2).tolist(),
                    "scores": scores[k].round(4).tolist(),
                }
            )
    gt = {"images": images, "annotations": gt_anns, "categories": CATEGORIES}
    pred = {
        "images": [{k: img[k] for k in ("file_name", "id", "frame_id")} for img in images],
        "annotations": pr_anns,
        "categories": CATEGORIES,
    }
    return gt, pred, len(gt_anns), len(pr_anns)


def _has_orjson() -> bool:
    try:
        import orjson  # noqa: F401
    except ImportError:
        return False
    return True


def generate(folder: Path, n_seq: int, n_frames: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    (folder / "gt").mkdir(parents=True)
    (folder / "pred").mkdir()
    n_gt = n_pred = 0
    for s in range(n_seq):
        name = f"{s + 1:06d}_mpii_test"
        gt, pred, a, b = make_sequence_files(rng, name, n_frames)
        (folder / "gt" / f"{name}.json").write_text(json.dumps(gt))
        (folder / "pred" / f"{name}.json").write_text(json.dumps(pred))
        n_gt, n_pred = n_gt + a, n_pred + b
    return {"sequences": n_seq, "frames_per_sequence": n_frames, "gt_persons": n_gt, "pred_persons": n_pred}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sequences", type=int, default=170)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "eval_speed.json")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        sizes = generate(folder, args.sequences, args.frames)
        gen_s = time.perf_counter() - t0
        mb = sum(p.stat().st_size for p in folder.rglob("*.json")) / 1e6
        loads, evals, decodes = [], [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            for path in sorted(folder.rglob("*.json")):
                _decode_json(path.read_bytes())  # the reader's own decoder (orjson when installed)
            decodes.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            gt = load_sequences(folder / "gt")
            pred = load_sequences(folder / "pred")
            t1 = time.perf_counter()
            res = evaluate(gt, pred)
            t2 = time.perf_counter()
            loads.append(t1 - t0)
            evals.append(t2 - t1)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    result = {
        **sizes,
        "labeled_frames_counted": res.stats.counted_frames,
        "json_megabytes": round(mb, 1),
        "json_decode_seconds": round(min(decodes), 3),
        "json_decoder": "orjson" if _has_orjson() else "json (standard library)",
        "load_seconds": round(min(loads), 3),
        "evaluate_seconds": round(min(evals), 3),
        "total_seconds": round(min(a + b for a, b in zip(loads, evals)), 3),
        "all_load_seconds": [round(x, 3) for x in loads],
        "all_evaluate_seconds": [round(x, 3) for x in evals],
        "mean_ap": round(res.mean_ap, 3),
        "generate_seconds": round(gen_s, 1),
        "cpus": cpus,
        "threads": "numpy default (matching is single-threaded numpy)",
        "device": "cpu",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
    }
    print(
        f"PoseTrack eval speed: {sizes['sequences']} sequences, {sizes['gt_persons']} GT persons, "
        f"{sizes['pred_persons']} predicted persons, {res.stats.counted_frames} counted frames, {mb:.0f} MB JSON, {cpus} CPUs"
    )
    print(f"{'step':<10}{'seconds (best of ' + str(args.repeat) + ')':>28}")
    print(
        f"{'load':<10}{result['load_seconds']:>28.3f}   (of which JSON decoding alone: {result['json_decode_seconds']:.3f}, {result['json_decoder']})"
    )
    print(f"{'evaluate':<10}{result['evaluate_seconds']:>28.3f}")
    print(f"{'total':<10}{result['total_seconds']:>28.3f}")
    print(f"mean AP of the synthetic predictions: {res.mean_ap:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
