"""bfloat16 against fp32 on this machine: speed and what it does to the answers.

Four measurements, each fp32 and bf16 (torch.autocast) in interleaved rounds, reported as ratios:

* **predict**: the shipped model over a rendered synthetic video with ground-truth boxes
  (``PosePredictor``); model-stage time per person-frame, and how far bf16 moves the decoded
  joints (image px) against fp32 — all joints, and joints fp32 scores >= 0.3.
* **test**: ``evaluate_model`` (the path behind ``pstpose test``) on a generated synthetic split;
  wall time and mAP under both.
* **train step**: forward + backward + AdamW step of the ``tiny`` model on fixed random batches,
  from the same initial weights; time per step and the two loss curves over ``--train-steps``.
* **vitpose-b clip**: one forward of a 3-frame 256x192 clip batch (random weights); time, and the
  share of heatmap argmaxes that agree.

    python benchmarks/precision.py            # about 5 minutes on 2 cores
    python benchmarks/precision.py --quick    # a smoke run (seconds), not for quoting

Writes benchmarks/results/precision.json (the docs quote it).
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import torch  # noqa: E402

from pstpose.devices import has_fast_bf16  # noqa: E402


def _interleaved(fns: dict, rounds: int) -> dict[str, list[float]]:
    """One warm-up each, then ``rounds`` rounds timing each function in turn (seconds)."""
    results = {name: fn() for name, fn in fns.items()}
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return times, results


def _ratio(times: dict[str, list[float]]) -> dict:
    """Medians and the median of per-round fp32/bf16 ratios (robust to drifting load)."""
    ratios = [a / b for a, b in zip(times["fp32"], times["bf16"])]
    return {
        "fp32_s": statistics.median(times["fp32"]),
        "bf16_s": statistics.median(times["bf16"]),
        "speedup": statistics.median(ratios),
    }


def bench_predict(frames: int, rounds: int) -> dict:
    from pstpose.data.synthetic import render_sequence
    from pstpose.inference.predictor import PosePredictor
    from pstpose.inference.sources import FrameSource, SourceFrame
    from pstpose.models import load_model

    seq = render_sequence(seed=5, frames=frames, height=288, width=384, preset="rapid-motion")

    class Frames(FrameSource):
        path, fps, width, height, num_frames = "synthetic", 25.0, 384, 288, frames

        def __iter__(self):
            for i, image in enumerate(seq.frames):
                yield SourceFrame(i, image, None)

    def boxes(index, _name=None):
        rows = [[p.bbox[0], p.bbox[1], p.bbox[0] + p.bbox[2], p.bbox[1] + p.bbox[3], 1.0] for p in seq.persons[index]]
        return np.asarray(rows, dtype=np.float64).reshape(-1, 5)

    model = load_model(None)
    predictors = {
        p: PosePredictor(model, boxes, precision=p, keep_images=False, tracker=False, batch_size=4)
        for p in ("fp32", "bf16")
    }

    def run(p):
        predictor = predictors[p]
        predictor.times = type(predictor.times)()
        results = list(predictor.predict(Frames(), stream=True))
        return results, predictor.times.seconds.get("model", 0.0)

    model_times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    outputs = {}
    for p in ("fp32", "bf16"):
        run(p)  # warm-up
    for _ in range(rounds):
        for p in ("fp32", "bf16"):
            outputs[p], seconds = run(p)
            model_times[p].append(seconds)
    a = np.concatenate([r.keypoints for r in outputs["fp32"]])
    b = np.concatenate([r.keypoints for r in outputs["bf16"]])
    score = np.concatenate([r.keypoint_scores for r in outputs["fp32"]])
    moved = np.linalg.norm(a - b, axis=-1)
    confident = moved[score >= 0.3]
    persons = sum(len(r) for r in outputs["fp32"])
    out = _ratio(model_times)
    out.update(
        person_frames=persons,
        fp32_ms_per_person_frame=1000 * out["fp32_s"] / persons,
        bf16_ms_per_person_frame=1000 * out["bf16_s"] / persons,
        joints=int(moved.size),
        moved_px_median=float(np.median(moved)),
        moved_px_p99=float(np.percentile(moved, 99)),
        moved_px_max=float(moved.max()),
        share_within_0_1px=float((moved <= 0.1).mean()),
        confident_joints=int(confident.size),
        confident_moved_px_median=float(np.median(confident)),
        confident_moved_px_p99=float(np.percentile(confident, 99)),
        confident_moved_px_max=float(confident.max()),
        confident_share_within_0_1px=float((confident <= 0.1).mean()),
    )
    return out


def bench_test(videos: int, frames: int, rounds: int) -> dict:
    from pstpose.config import load_experiment
    from pstpose.data.synthetic import generate_dataset
    from pstpose.engine.evaluation import evaluate_model
    from pstpose.models import load_model

    model = load_model(None)
    with tempfile.TemporaryDirectory() as tmp:
        generate_dataset(tmp, videos=1, val_videos=videos, frames=frames, seed=424242, preset="standard")
        cfg = load_experiment("synthetic_tiny", [f"data.root={tmp}"])
        fns = {
            p: (lambda p=p: evaluate_model(model, cfg.data, split="val", flip=True, workers=0, precision=p))
            for p in ("fp32", "bf16")
        }
        times, reports = _interleaved(fns, rounds)
    out = _ratio(times)
    out.update(
        samples=reports["fp32"].samples,
        fp32_map=float(reports["fp32"].result.mean_ap),
        bf16_map=float(reports["bf16"].result.mean_ap),
    )
    return out


def bench_train(steps: int) -> dict:
    from pstpose.models.pstpose import build_model

    torch.manual_seed(0)
    initial = build_model("tiny", image_size=(128, 96)).state_dict()
    generator = torch.Generator().manual_seed(1)
    batches = [
        (torch.randn(8, 3, 3, 128, 96, generator=generator), torch.rand(8, 17, 32, 24, generator=generator) * 0.1)
        for _ in range(4)
    ]

    def make(precision):
        model = build_model("tiny", image_size=(128, 96))
        model.load_state_dict(initial)
        model.train()
        optim = torch.optim.AdamW(model.parameters(), lr=1e-3)
        losses: list[float] = []

        def step():
            clip, target = batches[len(losses) % len(batches)]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                out = model(clip)  # normalised clips, as the trainer feeds them
            loss = torch.nn.functional.mse_loss(out.float(), target)
            optim.zero_grad()
            loss.backward()
            optim.step()
            losses.append(float(loss.detach()))

        return step, losses

    steppers = {p: make(p) for p in ("fp32", "bf16")}
    times, _ = _interleaved({p: steppers[p][0] for p in steppers}, steps)
    fp32, bf16 = (np.array(steppers[p][1]) for p in ("fp32", "bf16"))
    out = _ratio(times)
    out.update(
        steps=len(fp32),
        loss_fp32_first_last=[float(fp32[0]), float(fp32[-1])],
        loss_bf16_first_last=[float(bf16[0]), float(bf16[-1])],
        loss_max_relative_difference=float(np.max(np.abs(fp32 - bf16) / np.abs(fp32))),
    )
    return out


def bench_vitpose_b(batch: int, rounds: int) -> dict:
    from pstpose.models.pstpose import build_model

    torch.manual_seed(0)
    model = build_model("vitpose-b").eval()
    x = torch.randn(batch, 3, 3, 256, 192)  # a normalised clip batch

    def run(precision):
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            return model(x).float()

    times, outs = _interleaved({p: (lambda p=p: run(p)) for p in ("fp32", "bf16")}, rounds)
    flat = {p: outs[p].flatten(2).argmax(-1) for p in outs}
    out = _ratio(times)
    out.update(batch=batch, argmax_agreement=float((flat["fp32"] == flat["bf16"]).float().mean()))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes; a smoke run, not for quoting")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/precision.json")
    args = parser.parse_args()
    if not has_fast_bf16(torch.device("cpu")):
        print("this CPU has no native bf16 units: bf16 would be emulated; nothing to measure")
        return 0
    q = args.quick
    results = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "capability": torch.backends.cpu.get_cpu_capability(),
            "load_average_at_start": list(os.getloadavg()),
        },
        "quick": q,
    }
    print("predict (shipped tiny model, rapid-motion clip, GT boxes) ...", flush=True)
    results["predict"] = bench_predict(frames=6 if q else 32, rounds=1 if q else 5)
    print("test (evaluate_model on a generated split) ...", flush=True)
    results["test"] = bench_test(videos=1 if q else 3, frames=6 if q else 16, rounds=1 if q else 3)
    print("train step (tiny, 128x96, batch 8) ...", flush=True)
    results["train_step"] = bench_train(steps=4 if q else 30)
    print("vitpose-b clip forward ...", flush=True)
    results["vitpose_b_clip"] = bench_vitpose_b(batch=1 if q else 4, rounds=1 if q else 5)

    p, t, s, v = (results[k] for k in ("predict", "test", "train_step", "vitpose_b_clip"))
    print()
    print("| measurement | fp32 | bf16 | bf16 speed-up |")
    print("|---|---|---|---|")
    print(
        f"| predict, model ms per person-frame | {p['fp32_ms_per_person_frame']:.2f} | "
        f"{p['bf16_ms_per_person_frame']:.2f} | {p['speedup']:.2f}x |"
    )
    print(f"| test (evaluate_model), s | {t['fp32_s']:.2f} | {t['bf16_s']:.2f} | {t['speedup']:.2f}x |")
    print(f"| tiny training step, ms | {1000 * s['fp32_s']:.1f} | {1000 * s['bf16_s']:.1f} | {s['speedup']:.2f}x |")
    print(
        f"| vitpose-b clip forward (batch {v['batch']}), s | {v['fp32_s']:.3f} | {v['bf16_s']:.3f} | {v['speedup']:.2f}x |"
    )
    print()
    print(
        f"joints moved by bf16 (predict, image px): median {p['moved_px_median']:.3f}, p99 {p['moved_px_p99']:.2f}, "
        f"max {p['moved_px_max']:.2f}; within 0.1 px {100 * p['share_within_0_1px']:.1f}%"
    )
    print(
        f"  joints scored >= 0.3: median {p['confident_moved_px_median']:.3f}, p99 {p['confident_moved_px_p99']:.2f}, "
        f"max {p['confident_moved_px_max']:.2f}; within 0.1 px {100 * p['confident_share_within_0_1px']:.1f}%"
    )
    print(f"test mAP: fp32 {t['fp32_map']:.2f}, bf16 {t['bf16_map']:.2f}")
    print(
        f"training loss after {s['steps']} steps: fp32 {s['loss_fp32_first_last'][1]:.5f}, "
        f"bf16 {s['loss_bf16_first_last'][1]:.5f} (largest relative gap {100 * s['loss_max_relative_difference']:.2f}%)"
    )
    print(f"vitpose-b heatmap argmax agreement: {100 * v['argmax_agreement']:.2f}%")
    results["machine"]["load_average_at_end"] = list(os.getloadavg())
    if not q:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(results, indent=2) + "\n")
        tmp.replace(args.out)
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
