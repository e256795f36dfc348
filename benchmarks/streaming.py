"""Streaming clips against exact clips: model time per person-frame, and what streaming costs.

Speed (random weights, any preset): per person-frame model time of
  * exact — the paper's clips: the keyframe box crops all 2ξ+1 frames, each embedded per clip;
  * streaming — each frame's crop embedded once, the clip built from the neighbours' tokens
    (``embed_frames`` for one frame + ``heatmaps_from_frame_tokens`` for the clip);
  * single-frame — the same preset at ξ = 0 (T = 1), the cost streaming is measured against;
timed interleaved over ``--rounds`` rounds, medians reported.

Accuracy (the packaged weights on the synthetic study test sets, ground-truth boxes): per-joint
mAP of both modes (official PoseTrack rules) and how far streaming moves the joints from exact.

    python benchmarks/streaming.py [--presets tiny,vitpose-b] [--persons 4] [--rounds 5]
                                   [--data data/study] [--skip-accuracy]

The study test sets come from ``pstpose ablate studies/synthetic_ablation.yaml`` (generated on
its first run) or ``pstpose synth``; the accuracy part is skipped when they are absent.
Writes benchmarks/results/streaming.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PRESETS_TESTS = ("standard", "rapid-motion", "occlusion", "defocus", "clutter")


def time_modes(preset: str, persons: int, rounds: int) -> dict:
    """Median seconds per person-frame of exact, streaming and single-frame, interleaved."""
    import torch

    from pstpose.models.pstpose import build_model

    torch.manual_seed(0)
    model = build_model(preset).eval()
    single = build_model(preset, frames_per_side=0).eval()
    t = model.config.num_frames
    h, w = model.config.image_size
    clip = torch.randn(persons, t, 3, h, w)
    one = clip[:, t // 2 : t // 2 + 1].contiguous()

    def exact():
        model(clip)

    def streaming():
        # steady state: this frame's persons are embedded once; the neighbours' tokens exist
        tokens = model.embed_frames(clip[:, t // 2])
        neighbours = tokens[:, None].expand(-1, t, -1, -1).contiguous()
        model.heatmaps_from_frame_tokens(neighbours)

    def single_frame():
        single(one)

    runs = {"exact": exact, "streaming": streaming, "single_frame": single_frame}
    seconds: dict[str, list[float]] = {k: [] for k in runs}
    with torch.inference_mode():
        for fn in runs.values():  # warm-up
            fn()
        for _ in range(rounds):
            for name, fn in runs.items():
                start = time.perf_counter()
                fn()
                seconds[name].append((time.perf_counter() - start) / persons)
    med = {k: statistics.median(v) for k, v in seconds.items()}
    return {
        "preset": preset,
        "input_size": [h, w],
        "frames_per_clip": t,
        "persons_per_call": persons,
        "rounds": rounds,
        "ms_per_person_frame": {k: round(1000 * v, 3) for k, v in med.items()},
        "streaming_over_single_frame": round(med["streaming"] / med["single_frame"], 3),
        "exact_over_streaming": round(med["exact"] / med["streaming"], 3),
        "all_ms": {k: [round(1000 * x, 3) for x in v] for k, v in seconds.items()},
    }


def _gt_boxes(annotation: Path) -> tuple[dict[int, np.ndarray], list[str]]:
    """Frame index -> GT boxes (xyxy + score 1) of a PoseTrack18-style sequence file."""
    data = json.loads(annotation.read_text())
    images = sorted(data["images"], key=lambda im: im["file_name"])
    index = {im["id"]: i for i, im in enumerate(images)}
    boxes: dict[int, list] = {i: [] for i in range(len(images))}
    for a in data["annotations"]:
        if a.get("bbox") and a["bbox"][2] > 1 and a["bbox"][3] > 1:
            x, y, bw, bh = a["bbox"]
            boxes[index[a["image_id"]]].append([x, y, x + bw, y + bh, 1.0])
    return {i: np.asarray(b, dtype=np.float64).reshape(-1, 5) for i, b in boxes.items()}, [
        im["file_name"] for im in images
    ]


def accuracy(data: Path) -> dict:
    """mAP of both modes and joint displacement of streaming from exact, per test set."""
    from pstpose.inference.outputs import OutputSpec
    from pstpose.inference.predictor import PosePredictor
    from pstpose.metrics import evaluate

    out: dict[str, dict] = {}
    for preset in PRESETS_TESTS:
        root = data / f"test-{preset}"
        annotations = sorted((root / "annotations").glob("*/*.json"))
        if not annotations:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            keypoints: dict[str, list] = {"exact": [], "streaming": []}
            scores: list = []
            seconds = {"exact": 0.0, "streaming": 0.0}
            for mode in ("exact", "streaming"):
                for ann in annotations:
                    boxes, names = _gt_boxes(ann)
                    folder = root / Path(names[0]).parent
                    predictor = PosePredictor(None, boxes, clip_mode=mode, batch_size=4, precision="fp32")
                    spec = OutputSpec(Path(tmp) / mode, formats=("posetrack18",))
                    run = predictor.predict_to_files(folder, spec, sequence_name=ann.stem)
                    seconds[mode] += run.times.seconds.get("model", 0.0)
                    results = predictor(folder)
                    keypoints[mode] += [r.keypoints for r in results]
                    if mode == "exact":
                        scores += [r.keypoint_scores for r in results]
            gt_dir = annotations[0].parent
            maps = {m: evaluate(gt_dir, Path(tmp) / m / "posetrack18").mean_ap for m in ("exact", "streaming")}
        moved = np.concatenate(
            [np.linalg.norm(a - b, axis=-1).ravel() for a, b in zip(keypoints["exact"], keypoints["streaming"])]
        )
        confident = np.concatenate([s.ravel() for s in scores]) >= 0.3
        out[preset] = {
            "map_exact": round(float(maps["exact"]), 2),
            "map_streaming": round(float(maps["streaming"]), 2),
            "map_streaming_minus_exact": round(float(maps["streaming"] - maps["exact"]), 2),
            "joints": int(moved.size),
            "moved_px_median": round(float(np.median(moved)), 3),
            "moved_px_p95": round(float(np.percentile(moved, 95)), 3),
            "moved_px_p95_confident": round(float(np.percentile(moved[confident], 95)), 3),
            "model_seconds": {k: round(v, 3) for k, v in seconds.items()},
        }
        print(
            f"{preset:<13} mAP exact {maps['exact']:6.2f}  streaming {maps['streaming']:6.2f}  "
            f"joints moved: median {out[preset]['moved_px_median']:.2f} px, p95 {out[preset]['moved_px_p95']:.2f} px"
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="tiny,vitpose-b")
    parser.add_argument("--persons", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data", default=str(ROOT / "data" / "study"))
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "streaming.json"))
    args = parser.parse_args()

    import torch

    from pstpose.io import write_json

    record: dict = {
        "benchmark": "streaming",
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_start": list(os.getloadavg()),
        "speed": [],
    }
    print(f"{'preset':<11}{'exact':>10}{'streaming':>11}{'single':>9}   ms per person-frame")
    for preset in args.presets.split(","):
        r = time_modes(preset, args.persons, args.rounds)
        ms = r["ms_per_person_frame"]
        print(
            f"{preset:<11}{ms['exact']:>10.2f}{ms['streaming']:>11.2f}{ms['single_frame']:>9.2f}   "
            f"streaming/single {r['streaming_over_single_frame']:.2f}x, exact/streaming {r['exact_over_streaming']:.2f}x"
        )
        record["speed"].append(r)
    if not args.skip_accuracy:
        data = Path(args.data)
        if any(data.glob("test-*/annotations")):
            record["accuracy_weights"] = "the packaged default weights"
            record["accuracy"] = accuracy(data)
        else:
            print(f"accuracy skipped: no study test sets under {data}")
    record["load_average_end"] = list(os.getloadavg())
    write_json(Path(args.out), record, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
