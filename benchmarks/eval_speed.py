"""Speed of ``pstpose eval`` on a PoseTrack18-val-sized synthetic set, against the official tool.

Generates (numpy, fixed seed) per-sequence PoseTrack18 GT and prediction files — every frame
listed, the middle 30 frames and every 4th labeled, GT ignore polygons in some labeled frames,
predictions in every frame (jittered GT plus false positives), joint scores distinct per joint so
that the AP does not depend on the order in which a tool meets tied scores — then:

* pstpose's own breakdown, in this process (median of ``--repeat``): read GT, read predictions
  (persons of frames that are not scored are left unconverted), input rules (pairing, ignore
  regions, checks), match/AP;
* whole processes, interleaved: ``python -m pstpose eval`` and, when the official tool is given
  (``--official DIR``, DIR holding its ``poseval`` package; or the ``POSEVAL_DIR`` environment
  variable), ``python -m poseval.evaluate -e`` on the same files, ``--runs`` of each, alternating;
  the ratio of the medians and the machine's load average, then both AP tables in the official
  tool's format (they must be identical) and the largest per-joint AP difference.

    python benchmarks/eval_speed.py [--sequences 170] [--frames 100] [--runs 3]
        [--official /tmp/poseval_ref --official-deps /tmp/poseval_deps]

``--official-deps`` (or ``POSEVAL_DEPS``) is a folder of packages the tool imports that the
environment lacks (shapely); motmetrics must be importable. Writes
benchmarks/results/eval_speed.json.
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pstpose.keypoints import JOINT_NAMES, PT17_JOINT_NAMES  # noqa: E402
from pstpose.metrics.diagnostics import Diagnostics  # noqa: E402
from pstpose.metrics.posetrack_ap import assign_predictions, joint_metrics  # noqa: E402
from pstpose.metrics.posetrack_eval import MATCH_THRESHOLD, read_tables  # noqa: E402
from pstpose.metrics.posetrack_inputs import counted_frames, prepare  # noqa: E402
from pstpose.metrics.report import summarize  # noqa: E402

CATEGORIES = [{"id": 1, "name": "person", "keypoints": list(JOINT_NAMES)}]
GENERATOR_VERSION = 2  # bump when the generated files change
# The official tool's table columns and the pstpose summary keys they correspond to.
OFFICIAL_COLUMNS = ("Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean")


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
    """GT and prediction documents of one sequence; prediction scores are filled in later."""
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
        for k in range(len(allp)):
            pr_anns.append({"image_id": image_id, "track_id": k, "keypoints": allp[k].ravel().round(2).tolist()})
    gt = {"images": images, "annotations": gt_anns, "categories": CATEGORIES}
    pred = {
        "images": [{k: img[k] for k in ("file_name", "id", "frame_id")} for img in images],
        "annotations": pr_anns,
        "categories": CATEGORIES,
    }
    return gt, pred


def generate(folder: Path, n_seq: int, n_frames: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    docs = [make_sequence_files(rng, f"{s + 1:06d}_mpii_test", n_frames) for s in range(n_seq)]
    # Joint scores: per joint a permutation of distinct values over all predictions, so no two
    # predictions tie on a joint (tied scores make AP depend on the order files are read in).
    preds = [a for _, pred in docs for a in pred["annotations"]]
    ranks = np.stack([rng.permutation(len(preds)) for _ in range(17)], axis=1)
    values = np.round((ranks + 0.5) / len(preds), 8)
    for ann, row in zip(preds, values):
        ann["scores"] = row.tolist()
    (folder / "gt").mkdir(parents=True)
    (folder / "pred").mkdir()
    for s, (gt, pred) in enumerate(docs):
        name = f"{s + 1:06d}_mpii_test"
        (folder / "gt" / f"{name}.json").write_text(json.dumps(gt))
        (folder / "pred" / f"{name}.json").write_text(json.dumps(pred))
    return {
        "sequences": n_seq,
        "frames_per_sequence": n_frames,
        "gt_persons": sum(len(gt["annotations"]) for gt, _ in docs),
        "pred_persons": len(preds),
    }


def pstpose_breakdown(folder: Path, repeat: int) -> dict:
    """Seconds per step of ``evaluate`` (median of ``repeat``), run in this process."""
    steps: dict[str, list[float]] = {"read_gt": [], "read_predictions": [], "input_rules": [], "match_ap": []}
    for _ in range(repeat):
        t0 = time.perf_counter()
        gt = read_tables(folder / "gt", "auto", "GT")
        t1 = time.perf_counter()
        keep = {s.name: counted_frames(s, "posetrack") for s in gt}
        pred = read_tables(folder / "pred", "auto", "prediction", keep)
        t2 = time.perf_counter()
        arrays, stats = prepare(gt, pred, "posetrack", Diagnostics())
        t3 = time.perf_counter()
        labels = assign_predictions(arrays, MATCH_THRESHOLD)
        joints = joint_metrics(arrays, labels, recall_floor_one=False)
        t4 = time.perf_counter()
        for key, seconds in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            steps[key].append(seconds)
    out = {key: round(statistics.median(v), 3) for key, v in steps.items()}
    out["evaluate_in_process"] = round(statistics.median(map(sum, zip(*steps.values()))), 3)
    out["all"] = {key: [round(x, 3) for x in v] for key, v in steps.items()}
    out["counted_frames"] = stats.counted_frames
    out["mean_ap"] = summarize(joints.ap)["Mean"]
    return out


def _timed(cmd: list[str], env: dict | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def official_row(values: list[float]) -> str:
    """A row of the official tool's AP table (its ``printTable`` layout) from the 8 column values."""
    cells = [format(format(v, "1.1f"), ">5") for v in values]
    return "&" + " &".join(cells) + " \\\\"


def _official_env(official: Path, deps: Path | None) -> dict:
    env = dict(os.environ)
    paths = [str(official)] + ([str(deps)] if deps else []) + [env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def _official_dir(value: str | None) -> Path | None:
    """The folder holding the ``poseval`` package (the package folder itself is accepted)."""
    if not value:
        return None
    path = Path(value).resolve()
    if (path / "evaluate.py").is_file() and path.name == "poseval":
        path = path.parent
    if not (path / "poseval" / "evaluate.py").is_file():
        raise SystemExit(f"{value}: no poseval package (expected {path / 'poseval' / 'evaluate.py'})")
    return path


def whole_processes(folder: Path, runs: int, official: Path | None, deps: Path | None) -> dict:
    """Interleaved whole-process runs of both tools on the same files; each run's wall time and
    the 1-minute load average just before it."""
    gt, pred = f"{folder / 'gt'}/", f"{folder / 'pred'}/"
    out_json = folder / "pstpose_result.json"
    ours_cmd = [sys.executable, "-m", "pstpose", "eval", "--gt", gt, "--pred", pred, "--out", str(out_json)]
    official_out = folder / "official_out"
    official_cmd = [sys.executable, "-m", "poseval.evaluate", "-g", gt, "-p", pred, "-e", "-o", str(official_out)]
    env = _official_env(official, deps) if official else None
    times: dict[str, list[float]] = {"pstpose": [], "official": []}
    loads: dict[str, list[float]] = {"pstpose": [], "official": []}
    printed = ""
    for _ in range(runs):
        loads["pstpose"].append(os.getloadavg()[0])
        seconds, _ = _timed(ours_cmd)
        times["pstpose"].append(seconds)
        if official:
            loads["official"].append(os.getloadavg()[0])
            seconds, printed = _timed(official_cmd, env)
            times["official"].append(seconds)
    result: dict = {
        "pstpose_seconds": [round(t, 3) for t in times["pstpose"]],
        "pstpose_median_seconds": round(statistics.median(times["pstpose"]), 3),
        "load_average_1min_before_runs": {k: [round(x, 2) for x in v] for k, v in loads.items() if v},
        "pstpose_command": "python -m pstpose eval --gt GT/ --pred PRED/ --out RESULT.json",
    }
    ours = json.loads(out_json.read_text())
    ours_values = [ours["summary"]["ap"][c] for c in OFFICIAL_COLUMNS]
    result["pstpose_table"] = official_row(ours_values)
    if not official:
        return result
    pairs = [o / p for p, o in zip(times["pstpose"], times["official"])]
    saved = json.loads((official_out / "total_AP_metrics.json").read_text())
    ours_ap = [ours["per_joint"][name]["ap"] for name in PT17_JOINT_NAMES]
    table = [line for line in printed.splitlines() if line.startswith("&")]
    result.update(
        {
            "official_command": "python -m poseval.evaluate -g GT/ -p PRED/ -e -o OUT",
            "official_commit": os.environ.get("POSEVAL_COMMIT", "not given (POSEVAL_COMMIT)"),
            "official_seconds": [round(t, 3) for t in times["official"]],
            "official_median_seconds": round(statistics.median(times["official"]), 3),
            "ratio_of_medians": round(statistics.median(times["official"]) / statistics.median(times["pstpose"]), 1),
            "ratio_per_pair": [round(r, 1) for r in pairs],
            "official_table": table[1] if len(table) > 1 else None,
            "official_table_header": table[0] if table else None,
            "tables_identical": len(table) > 1 and table[1] == result["pstpose_table"],
            "max_abs_joint_ap_difference": max(abs(a - b) for a, b in zip(ours_ap, saved["ap"][:15])),
            "total_ap": {"pstpose": ours["summary"]["ap"]["Mean"], "official": saved["ap"][15]},
        }
    )
    return result


def _imports_torch(folder: Path) -> bool:
    """Whether ``pstpose eval`` imports torch (it must not: start-up time counts)."""
    cmd = [sys.executable, "-X", "importtime", "-m", "pstpose", "eval", "--gt", str(folder / "gt")]
    cmd += ["--pred", str(folder / "pred")]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    modules = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    return any(m == "torch" or m.startswith("torch.") for m in modules)


def _startup_seconds(runs: int) -> float:
    """Interpreter start plus the imports ``pstpose eval`` needs, without reading anything."""
    cmd = [sys.executable, "-c", "import pstpose.cli, pstpose.commands.eval, pstpose.metrics.posetrack_eval"]
    return round(statistics.median(_timed(cmd)[0] for _ in range(runs)), 3)


def _prepare_data(data: Path | None, n_seq: int, n_frames: int, tmp: Path) -> tuple[Path, dict, float]:
    """Generate the files (or reuse ``data`` when it holds files made with the same settings)."""
    folder = data or tmp
    manifest = folder / "manifest.json"
    wanted = {"sequences": n_seq, "frames_per_sequence": n_frames, "generator_version": GENERATOR_VERSION}
    if data is not None and manifest.is_file():
        sizes = json.loads(manifest.read_text())
        if all(sizes.get(k) == v for k, v in wanted.items()):
            return folder, sizes, 0.0
        raise SystemExit(f"{data}: holds files made with other settings ({manifest}); use an empty folder")
    t0 = time.perf_counter()
    sizes = generate(folder, n_seq, n_frames) | {"generator_version": GENERATOR_VERSION}
    seconds = time.perf_counter() - t0
    manifest.write_text(json.dumps(sizes))
    return folder, sizes, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sequences", type=int, default=170)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3, help="in-process breakdown runs (median)")
    ap.add_argument("--runs", type=int, default=3, help="whole-process runs of each tool, interleaved")
    ap.add_argument(
        "--official",
        default=os.environ.get("POSEVAL_DIR"),
        help="folder holding the official tool's poseval package (default: $POSEVAL_DIR; none: skip it)",
    )
    ap.add_argument(
        "--official-deps",
        type=Path,
        default=os.environ.get("POSEVAL_DEPS"),
        help="folder of packages the official tool needs that this environment lacks (default: $POSEVAL_DEPS)",
    )
    ap.add_argument("--data", type=Path, help="folder to generate the files in (kept; reused on later runs)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "eval_speed.json")
    args = ap.parse_args()
    official = _official_dir(args.official)
    if args.data:
        args.data.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory() as tmp:
        folder, sizes, gen_s = _prepare_data(args.data, args.sequences, args.frames, Path(tmp))
        mb = sum(p.stat().st_size for p in folder.rglob("*.json") if p.parent.name in ("gt", "pred")) / 1e6
        load_start = os.getloadavg()
        breakdown = pstpose_breakdown(folder, args.repeat)
        whole = whole_processes(folder, args.runs, official, args.official_deps)
        startup = _startup_seconds(args.runs)
        torch_imported = _imports_torch(folder)
        load_end = os.getloadavg()

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    result = {
        **sizes,
        "json_megabytes": round(mb, 1),
        "pstpose_breakdown_seconds": breakdown,
        "pstpose_startup_seconds": startup,
        "pstpose_imports_torch": torch_imported,
        "whole_process": whole,
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in load_end],
        "generate_seconds": round(gen_s, 1),
        "cpus": cpus,
        "cpu_model": _cpu_model(),
        "device": "cpu",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "orjson": _version("orjson"),
        "machine": platform.machine(),
    }
    _print(result, official is not None)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


def _cpu_model() -> str | None:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), None)


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except ImportError:
        return None


def _print(r: dict, with_official: bool) -> None:
    b, w = r["pstpose_breakdown_seconds"], r["whole_process"]
    print(
        f"PoseTrack eval speed: {r['sequences']} sequences, {r['gt_persons']} GT persons, {r['pred_persons']} "
        f"predicted persons, {b['counted_frames']} counted frames, {r['json_megabytes']:.0f} MB JSON, {r['cpus']} CPUs, "
        f"load average {r['load_average_start'][0]:.1f} -> {r['load_average_end'][0]:.1f}"
    )
    print(f"pstpose, in process (median of {len(b['all']['read_gt'])}):")
    for key, label in (
        ("read_gt", "read GT"),
        ("read_predictions", "read predictions"),
        ("input_rules", "input rules"),
        ("match_ap", "match/AP"),
        ("evaluate_in_process", "all of evaluate"),
    ):
        print(f"  {label:<18}{b[key]:>8.3f} s")
    print(
        f"  {'start-up, imports':<18}{r['pstpose_startup_seconds']:>8.3f} s   (torch imported: {r['pstpose_imports_torch']})"
    )
    print(f"  {'whole process':<18}{w['pstpose_median_seconds']:>8.3f} s   (median; runs {w['pstpose_seconds']})")
    if not with_official:
        print("official tool: not given (--official DIR or POSEVAL_DIR); its comparison is skipped")
        print(f"pstpose AP table:  {w['pstpose_table']}")
        return
    print(f"official tool, whole process: {w['official_median_seconds']:.3f} s (median; runs {w['official_seconds']})")
    print(f"ratio official / pstpose: {w['ratio_of_medians']}x (medians); per interleaved pair {w['ratio_per_pair']}")
    print(f"AP tables (official layout)   {w['official_table_header']}")
    print(f"  pstpose                     {w['pstpose_table']}")
    print(f"  official                    {w['official_table']}")
    same = "identical" if w["tables_identical"] else "DIFFERENT"
    print(f"tables {same}; largest per-joint AP difference {w['max_abs_joint_ap_difference']:.2e}")


if __name__ == "__main__":
    main()
