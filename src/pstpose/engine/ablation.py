"""Ablation studies: variants × seeds trained and evaluated under one protocol, resumable run by run.

A study file (YAML) names a base experiment, the training data, one test set per condition, the
variants (config overrides) and the seeds. Each run lives in ``<out>/runs/<variant>/seed<N>/``
with its experiment config, the trainer's log and checkpoints, and ``results.json`` once it has
been evaluated on every test set; a run with ``results.json`` is never redone, and a run stopped
midway resumes from its ``last.pt``. The summary (``summary.json``, ``summary.md``) is rebuilt
from whatever runs have finished, so a study can be completed over several sittings.

An optional ``pretrain`` stage trains one model first and every variant starts from its weights
(as the paper's variants all start from ViTPose); the synthetic datasets are generated when their
folders are missing, from seeds given in the file. An optional ``compare`` mapping pairs a
variant with the variant it changes, or with several (``{fixed-variant: its-base}`` or
``{variant: [base1, base2]}``): the summary then gives those paired differences too, beside the
difference to ``full``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pstpose.config import ConfigError
from pstpose.config.base import parse_override

STUDY_KEYS = (
    "name",
    "base",
    "out",
    "set",
    "data",
    "generate",
    "pretrain",
    "variants",
    "seeds",
    "evaluation",
    "compare",
)


@dataclass
class TestSet:
    name: str
    root: str
    split: str = "train"  # dense labels: the synthetic train split labels every frame


@dataclass
class Study:
    """A parsed study file (see the module docstring)."""

    name: str
    base: str
    out: Path
    overrides: list[str]
    train_root: str
    tests: list[TestSet]
    variants: dict[str, list[str]]
    seeds: list[int]
    pretrain: dict[str, Any] | None = None
    generate: dict[str, Any] | None = None
    evaluation: dict[str, Any] = field(default_factory=dict)
    compare: dict[str, list[str]] = field(default_factory=dict)  # variant -> the variants it is paired with
    source: Path | None = None

    def runs(self) -> list[tuple[str, int]]:
        """(variant, seed) in the order they are run: seed-major, so every variant has a first
        seed before any has a second (a half-finished study is balanced)."""
        return [(variant, seed) for seed in self.seeds for variant in self.variants]

    def run_dir(self, variant: str, seed: int) -> Path:
        return self.out / "runs" / variant / f"seed{seed}"


def _overrides(value: Any, where: str) -> list[str]:
    """A mapping {key: value} or a list of "key=value" strings → "key=value" strings."""
    import yaml

    if value is None:
        return []
    if isinstance(value, dict):
        return [
            f"{k}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}"
            for k, v in value.items()
        ]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        for text in value:
            parse_override(text)  # fails early, naming the override
        return list(value)
    raise ConfigError(f"{where}: expected a mapping of overrides or a list of 'key=value' strings")


def load_study(path: str | Path) -> Study:
    """Read and check a study file; every error names the file and the key."""
    from pstpose.config.base import load_yaml

    path = Path(path)
    data = load_yaml(path)
    unknown = sorted(set(data) - set(STUDY_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown}; known: {list(STUDY_KEYS)}")
    for key in ("base", "variants", "seeds", "data"):
        if key not in data:
            raise ConfigError(f"{path}: missing {key!r}")
    variants = data["variants"]
    if not isinstance(variants, dict) or not variants:
        raise ConfigError(f"{path}: variants must be a mapping of name -> overrides")
    for name in variants:
        if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"{path}: variant name {name!r} must be letters, digits, - or _")
    seeds = data["seeds"]
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise ConfigError(f"{path}: seeds must be a non-empty list of non-negative integers")
    section = data["data"]
    if not isinstance(section, dict) or "train" not in section or "tests" not in section:
        raise ConfigError(f"{path}: data needs 'train' (a dataset root) and 'tests' (name -> dataset root)")
    tests = []
    if not isinstance(section["tests"], dict) or not section["tests"]:
        raise ConfigError(f"{path}: data.tests must be a mapping of test-set name -> dataset root")
    for name, spec in section["tests"].items():
        if isinstance(spec, str):
            tests.append(TestSet(name, spec))
        elif isinstance(spec, dict) and isinstance(spec.get("root"), str):
            tests.append(TestSet(name, spec["root"], str(spec.get("split", "train"))))
        else:
            raise ConfigError(f"{path}: data.tests.{name} must be a dataset root or {{root, split}}")
    raw_compare = data.get("compare") or {}
    if not isinstance(raw_compare, dict):
        raise ConfigError(f"{path}: compare must be a mapping of variant -> the variant(s) it is paired with")
    compare: dict[str, list[str]] = {}
    for name, bases in raw_compare.items():
        bases = [bases] if isinstance(bases, str) else bases
        if not isinstance(bases, list) or not bases or not all(isinstance(b, str) for b in bases):
            raise ConfigError(f"{path}: compare.{name}: expected a variant name or a list of them, got {bases!r}")
        for base in bases:
            if name not in variants or base not in variants or name == base:
                raise ConfigError(f"{path}: compare.{name}: {name!r} and {base!r} must be two variants of the study")
        compare[str(name)] = list(dict.fromkeys(bases))
    base_dir = path.parent
    out = Path(data.get("out") or f"studies/{data.get('name') or path.stem}")
    return Study(
        name=str(data.get("name") or path.stem),
        base=str(data["base"]),
        out=out,
        overrides=_overrides(data.get("set"), f"{path}: set"),
        train_root=str(section["train"]),
        tests=tests,
        variants={name: _overrides(value, f"{path}: variants.{name}") for name, value in variants.items()},
        seeds=list(seeds),
        pretrain=data.get("pretrain"),
        generate=data.get("generate"),
        evaluation=dict(data.get("evaluation") or {}),
        compare=compare,
        source=path if base_dir else None,
    )


# --- the data -----------------------------------------------------------------------------------


def ensure_datasets(study: Study, log: Callable[[str], None] = print) -> None:
    """Generate the synthetic datasets the study names and does not have yet.

    ``generate.train``: ``{presets: [...], videos: N, frames: F, seed: S}`` writes one dataset per
    preset under ``<train root>/<preset>`` and merges nothing: the training data is the union,
    read through one annotation folder of symlinks (``<train root>/annotations/train``).
    ``generate.tests``: ``{videos, frames, seed}`` writes each test set from its own preset (the
    test set's name) with seeds far from the training seeds.
    """
    if not study.generate:
        return
    from pstpose.data.synthetic import generate_dataset

    gen = study.generate
    train = gen.get("train")
    root = Path(study.train_root)
    if train and not (root / "annotations" / "train").is_dir():
        presets = list(train["presets"])
        for k, preset in enumerate(presets):
            target = root / "parts" / preset
            if not (target / "annotations" / "train").is_dir():
                log(f"generating training data: {preset} -> {target}")
                generate_dataset(
                    target,
                    videos=int(train["videos"]),
                    val_videos=0,
                    frames=int(train["frames"]),
                    height=int(train.get("height", 288)),
                    width=int(train.get("width", 384)),
                    seed=int(train["seed"]) + 10_000 * k,
                    preset=preset,
                    workers=int(train.get("workers", 1)),
                    overwrite=True,
                )
        _union(root, [root / "parts" / p for p in presets])
    tests = gen.get("tests")
    if tests:
        for k, test in enumerate(study.tests):
            target = Path(test.root)
            if not (target / "annotations" / test.split).is_dir():
                log(f"generating test set {test.name} -> {target}")
                generate_dataset(
                    target,
                    videos=int(tests["videos"]),
                    val_videos=0,
                    frames=int(tests["frames"]),
                    height=int(tests.get("height", 288)),
                    width=int(tests.get("width", 384)),
                    seed=int(tests["seed"]) + 10_000 * k,
                    preset=test.name,
                    workers=int(tests.get("workers", 1)),
                    overwrite=True,
                )


def _union(root: Path, parts: list[Path]) -> None:
    """``root/annotations/train`` and ``root/images`` as links into each part (names are unique
    per part: every part's sequences are renamed with the part's index as a prefix)."""
    import json

    from pstpose.io import write_json

    annotations = root / "annotations" / "train"
    annotations.mkdir(parents=True, exist_ok=True)
    for k, part in enumerate(parts):
        for file in sorted((part / "annotations" / "train").glob("*.json")):
            doc = json.loads(file.read_text())
            for image in doc.get("images", []):
                image["file_name"] = f"parts/{part.name}/{image['file_name']}"
            write_json(annotations / f"{k:02d}{file.name}", doc)


# --- one run --------------------------------------------------------------------------------------


def run_experiment_config(study: Study, variant: str, seed: int, init: str | None):
    """The ExperimentConfig of one run: the base, the study's overrides, the variant's, the seed."""
    from pstpose.config.experiment import load_experiment

    run_dir = study.run_dir(variant, seed)
    overrides = [
        *study.overrides,
        *study.variants[variant],
        f"data.root={study.train_root}",
        f"train.seed={seed}",
        f"train.output_dir={run_dir}",
        "train.val_every=0",  # the study evaluates on its own test sets when a run ends
        "train.progress=false",
    ]
    if init:
        overrides.append(f"train.init_weights={init}")
    return load_experiment(study.base, overrides)


def evaluate_run(study: Study, model, cfg) -> dict[str, Any]:
    """AP and temporal metrics of ``model`` on every test set (ground-truth boxes, DARK, no flip
    unless the study's evaluation section asks), with per-sequence numbers for paired tests."""
    from pstpose.engine.eval_data import load_split
    from pstpose.engine.evaluation import evaluate_model
    from pstpose.metrics.posetrack_eval import evaluate
    from pstpose.metrics.temporal import temporal_metrics

    results = {}
    flip = bool(study.evaluation.get("flip", False))
    for test in study.tests:
        data = dataclasses.replace(cfg.data, root=test.root)
        _, gt = load_split(data, test.split)
        report = evaluate_model(model, data, split=test.split, boxes="gt", flip=flip, workers=0, sequences=gt)
        temporal = temporal_metrics(gt, report.predictions)
        per_sequence_ap = {}
        for seq, pred in zip(gt, report.predictions):
            per_sequence_ap[seq.name] = evaluate([seq], [pred]).summary("ap")["Mean"]
        results[test.name] = {
            "ap": report.result.summary("ap"),
            "per_joint_ap": report.result.per_joint("ap"),
            "per_sequence_ap": per_sequence_ap,
            "temporal": temporal.to_dict(),
            "samples": report.samples,
        }
    return results


DIAGNOSTIC_TESTS = ("standard", "rapid-motion", "clutter")  # the conditions each module is claimed for
DIAGNOSTIC_CLIPS = 120


def run_diagnostics(study: Study, model) -> dict[str, Any]:
    """``engine.diagnostics.module_diagnostics`` of a trained run on the study's test sets named in
    ``DIAGNOSTIC_TESTS`` (all test sets when none of them exists): are its modules alive?"""
    from pstpose.engine.diagnostics import module_diagnostics

    tests = [t for t in study.tests if t.name in DIAGNOSTIC_TESTS] or list(study.tests)
    return {t.name: module_diagnostics(model, t.root, split=t.split, max_clips=DIAGNOSTIC_CLIPS, seed=0) for t in tests}


def diagnostics_outdated(document: dict) -> bool:
    """Whether a results document lacks diagnostics, or has DSF diagnostics from before the
    motion-following figures existed."""
    diagnostics = document.get("diagnostics")
    if diagnostics is None:
        return True
    return any(
        "skipped" not in report.get("dsf", {}) and "motion" not in report.get("dsf", {})
        for report in diagnostics.values()
    )


def add_missing_diagnostics(study: Study, log: Callable[[str], None] = print) -> int:
    """Diagnostics for finished runs that lack them (or hold an outdated set) and still have their
    checkpoint (runs finished before the diagnostics existed); returns how many were added."""
    import json

    from pstpose.io import write_json
    from pstpose.models.loading import load_model

    added = 0
    for variant, seed in study.runs():
        run_dir = study.run_dir(variant, seed)
        path = run_dir / "results.json"
        if not path.exists() or not (run_dir / "last.pt").exists():
            continue
        document = json.loads(path.read_text())
        if not diagnostics_outdated(document):
            continue
        log(f"{variant} seed {seed}: module diagnostics")
        document["diagnostics"] = run_diagnostics(study, load_model(run_dir / "last.pt").eval())
        write_json(path, document, indent=1)
        added += 1
    return added


def run_one(study: Study, variant: str, seed: int, init: str | None, log: Callable[[str], None] = print) -> dict:
    """Train (or resume) and evaluate one run; writes and returns its results.json document."""
    from pstpose.config import to_dict
    from pstpose.engine.build import build_from_experiment
    from pstpose.engine.distributed import teardown_distributed
    from pstpose.io import write_json
    from pstpose.models.loading import load_model

    run_dir = study.run_dir(variant, seed)
    cfg = run_experiment_config(study, variant, seed, init)
    resume = (run_dir / "last.pt").exists()
    start = time.perf_counter()
    log(f"{variant} seed {seed}: {'resuming' if resume else 'training'} in {run_dir}")
    try:
        trainer = build_from_experiment(cfg, resume=resume)
        trainer.fit(resume=resume, overwrite=not resume)
    finally:
        teardown_distributed()
    train_seconds = time.perf_counter() - start
    model = load_model(run_dir / "last.pt")
    start = time.perf_counter()
    results = evaluate_run(study, model, cfg)
    document = {
        "study": study.name,
        "variant": variant,
        "seed": seed,
        "overrides": study.variants[variant],
        "init_weights": init,
        "config": to_dict(cfg),
        "train_seconds": train_seconds,
        "eval_seconds": time.perf_counter() - start,
        "tests": results,
        "diagnostics": run_diagnostics(study, model.eval()),
    }
    write_json(run_dir / "results.json", document, indent=1)
    return document


def pretrain_weights(study: Study, log: Callable[[str], None] = print) -> str | None:
    """Train the study's pretraining stage once (if it has one) and return its weights' path."""
    if not study.pretrain:
        return None
    from pstpose.config.experiment import load_experiment
    from pstpose.engine.build import build_from_experiment
    from pstpose.engine.distributed import teardown_distributed

    out = study.out / "pretrain"
    if (out / "done").exists() and (out / "last.pt").exists():
        return str(out / "last.pt")
    if (out / "done").exists():
        # Results are committed, checkpoints are not: a study continued on another machine
        # trains its (seeded) pretraining stage again before the runs that still need it.
        log(f"pretraining finished before but {out / 'last.pt'} is absent: training it again")
        (out / "done").unlink()
    overrides = [
        *study.overrides,
        *_overrides(study.pretrain.get("set"), "pretrain.set"),
        f"data.root={study.train_root}",
        f"train.output_dir={out}",
        "train.val_every=0",
        "train.progress=false",
    ]
    cfg = load_experiment(study.base, overrides)
    resume = (out / "last.pt").exists()
    log(f"pretraining ({'resuming' if resume else 'start'}) in {out}")
    try:
        trainer = build_from_experiment(cfg, resume=resume)
        trainer.fit(resume=resume, overwrite=not resume)
    finally:
        teardown_distributed()
    (out / "done").write_text("finished\n")
    return str(out / "last.pt")


def run_study(
    study: Study,
    *,
    max_minutes: float | None = None,
    only: list[str] | None = None,
    seeds: list[int] | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Run every unfinished run (or those of the variants in ``only`` and the seeds in ``seeds``)
    until ``max_minutes`` have passed (checked before each new run), then rebuild the summary and
    return it."""
    deadline = None if max_minutes is None else time.monotonic() + 60 * max_minutes
    pending = [
        (variant, seed)
        for variant, seed in study.runs()
        if not (only and variant not in only)
        and not (seeds is not None and seed not in seeds)
        and not (study.run_dir(variant, seed) / "results.json").exists()
    ]
    if pending:
        ensure_datasets(study, log)
    init = pretrain_weights(study, log) if pending else None
    for variant, seed in pending:
        if deadline is not None and time.monotonic() > deadline:
            log(f"time budget of {max_minutes:g} min reached; run again to continue")
            break
        run_one(study, variant, seed, init, log)
    add_missing_diagnostics(study, log)
    return write_summary(study)


# --- the summary -------------------------------------------------------------------------------


def finished_runs(study: Study) -> list[dict]:
    import json

    out = []
    for variant, seed in study.runs():
        path = study.run_dir(variant, seed) / "results.json"
        if path.exists():
            out.append(json.loads(path.read_text()))
    return out


def summarize(study: Study, runs: list[dict], reference: str = "full") -> dict:
    """Per variant and test set: mean AP with a t interval over seeds, mean acceleration error,
    error by speed; and the paired difference to ``reference`` (bootstrap over sequences, per
    seed, pooled)."""
    from pstpose.metrics.temporal import mean_interval, paired_bootstrap

    by_variant: dict[str, list[dict]] = {}
    for run in runs:
        by_variant.setdefault(run["variant"], []).append(run)
    table: dict[str, dict] = {}
    for variant, items in by_variant.items():
        table[variant] = {"seeds": sorted(r["seed"] for r in items), "tests": {}}
        for test in study.tests:
            aps = [r["tests"][test.name]["ap"]["Mean"] for r in items if test.name in r["tests"]]
            accel = [
                r["tests"][test.name]["temporal"]["acceleration_error_px"] for r in items if test.name in r["tests"]
            ]
            mean, lo, hi = mean_interval(aps)
            amean, alo, ahi = mean_interval([a for a in accel if a is not None])
            entry = {
                "ap_mean": _finite(mean),
                "ap_low": _finite(lo),
                "ap_high": _finite(hi),
                "accel_error_mean": _finite(amean),
                "accel_error_low": _finite(alo),
                "accel_error_high": _finite(ahi),
                "error_by_speed": _mean_rows([r["tests"][test.name]["temporal"]["error_by_speed"] for r in items]),
            }
            if reference in by_variant and variant != reference:
                diff, dlo, dhi = _paired_difference(items, by_variant[reference], test.name, paired_bootstrap)
                entry.update(
                    {"ap_diff_vs_reference": _finite(diff), "ap_diff_low": _finite(dlo), "ap_diff_high": _finite(dhi)}
                )
            paired = {}  # base variant -> paired difference, for the bases that have runs
            for base in study.compare.get(variant, []):
                if base in by_variant:
                    diff, dlo, dhi = _paired_difference(items, by_variant[base], test.name, paired_bootstrap)
                    paired[base] = {"diff": _finite(diff), "low": _finite(dlo), "high": _finite(dhi)}
            if paired:
                entry["ap_diff_vs_base"] = paired
            table[variant]["tests"][test.name] = entry
    return {
        "study": study.name,
        "reference": reference,
        "variants": table,
        "diagnostics": diagnostics_digest(by_variant),
        "runs_finished": len(runs),
    }


def _paired_difference(items: list[dict], base_items: list[dict], test: str, bootstrap: Callable) -> tuple:
    """Mean per-sequence AP difference (items - base) over the (seed, sequence) pairs both have,
    with its bootstrap interval."""
    base_by_seed = {r["seed"]: r for r in base_items}
    a, b = {}, {}
    for r in items:
        if r["seed"] not in base_by_seed:
            continue
        for seq, value in r["tests"][test]["per_sequence_ap"].items():
            base = base_by_seed[r["seed"]]["tests"][test]["per_sequence_ap"].get(seq)
            if base is not None and value is not None:
                a[f"{r['seed']}/{seq}"], b[f"{r['seed']}/{seq}"] = base, value
    return bootstrap(a, b)


def _mean(values: list) -> float | None:
    kept = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return round(sum(kept) / len(kept), 4) if kept else None


def diagnostics_digest(by_variant: dict[str, list[dict]]) -> dict[str, dict]:
    """Per variant, means over seeds (and the diagnostic test sets) of the figures that say
    whether each module is alive: λ, each block's mixer-branch norm relative to its input, FCG
    purity against random clusters, DSF offsets for the slowest and fastest joints (and their
    correlation with speed), the share of DSF's offsets that is a fixed per-cell pattern, and
    λ's Adam reach (how far λ can move per unit of learning rate)."""
    digest: dict[str, dict] = {}
    for variant, items in by_variant.items():
        reports = [rep for r in items for rep in r.get("diagnostics", {}).values()]
        if not reports:
            continue
        lam, lam_min, lam_max, reach = [], [], [], []
        for rep in reports:
            for entry in rep["lambda"].values():
                lam.append(entry.get("value", entry.get("mean")))
                lam_min.append(entry.get("min", entry.get("value")))
                lam_max.append(entry.get("max", entry.get("value")))
                reach.append(entry.get("adam_reach"))
        modules = sorted({m for rep in reports for m in rep["residual_ratio"]})
        out: dict[str, Any] = {
            "runs": len(items),
            "lambda": _mean(lam),
            "lambda_min": _mean(lam_min),
            "lambda_max": _mean(lam_max),
            "lambda_adam_reach": _mean(reach),
            "mixer_ratio": {m: _mean([rep["residual_ratio"][m]["mixer"]["mean"] for rep in reports]) for m in modules},
        }
        fcg = [rep["fcg"] for rep in reports if "purity" in rep.get("fcg", {})]
        if fcg:
            out["fcg_purity"] = _mean([f["purity_body_tokens"] for f in fcg])
            out["fcg_random_purity"] = _mean([f["random_purity_body_tokens"] for f in fcg])
        dsf = [rep["dsf"] for rep in reports if "offset_px_by_speed" in rep.get("dsf", {})]
        if dsf:
            bins = [[b for b in d["offset_px_by_speed"] if b["count"]] for d in dsf]
            out["dsf_offset_px_slowest"] = _mean([b[0]["mean"] for b in bins if b])
            out["dsf_offset_px_fastest"] = _mean([b[-1]["mean"] for b in bins if b])
            out["dsf_fastest_bin_px_per_frame"] = next((b[-1]["speed"][0] for b in bins if b), None)
            out["dsf_speed_correlation"] = _mean([d.get("speed_offset_correlation") for d in dsf])
            patterns = [d["offset_pattern"] for d in dsf if "offset_pattern" in d]
            out["dsf_pattern_share"] = _mean([p["pattern_share"] for p in patterns])
            out["dsf_content_px"] = _mean([p["content_px"] for p in patterns])
            motion = [d["motion"] for d in dsf if d.get("motion", {}).get("slope") is not None]
            if motion:
                out["dsf_motion_slope"] = _mean([m["slope"] for m in motion])
                out["dsf_motion_correlation"] = _mean([m.get("correlation") for m in motion])
        digest[variant] = out
    return digest


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)


def _mean_rows(row_sets: list[list[dict]]) -> list[dict]:
    if not row_sets:
        return []
    out = []
    for k, row in enumerate(row_sets[0]):
        values = [rows[k]["mean_error_px"] for rows in row_sets if rows[k]["mean_error_px"] is not None]
        out.append(
            {
                "lo": row["lo"],
                "hi": row["hi"],
                "joints": sum(rows[k]["joints"] for rows in row_sets),
                "mean_error_px": _finite(sum(values) / len(values)) if values else None,
            }
        )
    return out


def summary_markdown(summary: dict, study: Study) -> str:
    def cell(mean, lo, hi, digits=1):
        if mean is None:
            return "–"
        if lo is None:
            return f"{mean:.{digits}f}"
        return f"{mean:.{digits}f} ± {(hi - lo) / 2:.{digits}f}"

    tests = [t.name for t in study.tests]
    lines = [f"### {study.name}: mAP per test set (mean ± 95% t half-width over seeds)", ""]
    lines.append("| variant | seeds | " + " | ".join(tests) + " |")
    lines.append("|---|---|" + "---|" * len(tests))
    for variant, entry in summary["variants"].items():
        cells = [
            cell(entry["tests"][t]["ap_mean"], entry["tests"][t]["ap_low"], entry["tests"][t]["ap_high"]) for t in tests
        ]
        lines.append(f"| {variant} | {len(entry['seeds'])} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"### paired difference in mAP against `{summary['reference']}` (bootstrap 95% interval over sequences)",
        "",
    ]
    lines.append("| variant | " + " | ".join(tests) + " |")
    lines.append("|---|" + "---|" * len(tests))
    for variant, entry in summary["variants"].items():
        if variant == summary["reference"]:
            continue
        cells = []
        for t in tests:
            e = entry["tests"][t]
            if e.get("ap_diff_vs_reference") is None:
                cells.append("–")
            else:
                cells.append(f"{e['ap_diff_vs_reference']:+.1f} [{e['ap_diff_low']:+.1f}, {e['ap_diff_high']:+.1f}]")
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    paired = []  # (variant, base, cells) in the order of the variants, then of their bases
    for variant, entry in summary["variants"].items():
        for base in study.compare.get(variant, []):
            found = [entry["tests"][t].get("ap_diff_vs_base", {}).get(base) for t in tests]
            if not any(found):
                continue
            cells = [
                "–" if d is None or d["diff"] is None else f"{d['diff']:+.1f} [{d['low']:+.1f}, {d['high']:+.1f}]"
                for d in found
            ]
            paired.append((variant, base, cells))
    if paired:
        lines += ["", "### paired difference in mAP against the variants named in `compare`", ""]
        lines.append("| variant | against | " + " | ".join(tests) + " |")
        lines.append("|---|---|" + "---|" * len(tests))
        for variant, base, cells in paired:
            lines.append(f"| {variant} | {base} | " + " | ".join(cells) + " |")
    lines += ["", "### acceleration error (px/frame², mean ± 95% t half-width over seeds)", ""]
    lines.append("| variant | " + " | ".join(tests) + " |")
    lines.append("|---|" + "---|" * len(tests))
    for variant, entry in summary["variants"].items():
        cells = [
            cell(
                entry["tests"][t]["accel_error_mean"],
                entry["tests"][t]["accel_error_low"],
                entry["tests"][t]["accel_error_high"],
                2,
            )
            for t in tests
        ]
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    digest = summary.get("diagnostics") or {}
    if digest:

        def num(value, digits=2):
            return "–" if value is None else f"{value:.{digits}f}"

        lines += [
            "",
            "### are the modules alive? (means over seeds and the diagnostic test sets)",
            "",
            "| variant | λ (min–max) | λ Adam reach | mixer/input: " + " / ".join(["dfe", "fcg", "dsf"]) + " "
            "| FCG purity (random) | DSF offset px: slowest → fastest joints (corr.) "
            "| DSF fixed-pattern share (content px) | DSF follows motion: slope (corr.) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for variant, d in digest.items():
            ratios = " / ".join(num(d["mixer_ratio"].get(m)) for m in ("dfe", "fcg", "dsf"))
            purity = f"{num(d.get('fcg_purity'))} ({num(d.get('fcg_random_purity'))})" if "fcg_purity" in d else "–"
            offsets = (
                f"{num(d['dsf_offset_px_slowest'], 1)} → {num(d['dsf_offset_px_fastest'], 1)}"
                f" ({num(d.get('dsf_speed_correlation'))})"
                if "dsf_offset_px_slowest" in d
                else "–"
            )
            lam = num(d["lambda"], 3)
            if d.get("lambda_min") is not None and d.get("lambda_max") != d.get("lambda_min"):
                lam += f" ({num(d['lambda_min'])}–{num(d['lambda_max'])})"
            pattern = (
                f"{num(d['dsf_pattern_share'])} ({num(d.get('dsf_content_px'), 1)})"
                if d.get("dsf_pattern_share") is not None
                else "–"
            )
            reach = num(d.get("lambda_adam_reach"))
            motion = (
                f"{num(d['dsf_motion_slope'])} ({num(d.get('dsf_motion_correlation'))})"
                if d.get("dsf_motion_slope") is not None
                else "–"
            )
            lines.append(f"| {variant} | {lam} | {reach} | {ratios} | {purity} | {offsets} | {pattern} | {motion} |")
    return "\n".join(lines) + "\n"


def write_plots(summary: dict, study: Study) -> list[Path]:
    """``ap.png`` (mAP per variant and test set, with the seeds' intervals) and
    ``error_by_speed.png`` (keypoint error against true joint speed per variant, one panel per
    test set). Needs matplotlib (the ``[plots]`` extra); without it, no plots and an empty list."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    from pstpose.io import atomic_path

    variants = list(summary["variants"])
    tests = [t.name for t in study.tests]
    if not variants:
        return []
    # one colour per variant in both plots (tab10 repeats after 10 variants)
    palette = plt.get_cmap("tab10" if len(variants) <= 10 else "tab20")
    colours = {v: palette(k % palette.N) for k, v in enumerate(variants)}
    legend_rows = math.ceil(len(variants) / 4)
    written = []
    # Points with their intervals on an axis zoomed to the data: the differences that matter are
    # a point or two of mAP, invisible on bars that start at 0.
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(tests), 3.4 + 0.22 * legend_rows))
    step = 0.8 / len(variants)
    for k, variant in enumerate(variants):
        entries = [summary["variants"][variant]["tests"].get(t, {}) for t in tests]
        points = [(i, e) for i, e in enumerate(entries) if e.get("ap_mean") is not None]
        xs = [i + (k - (len(variants) - 1) / 2) * step for i, _ in points]
        means = [e["ap_mean"] for _, e in points]
        errors = [0.0 if e.get("ap_low") is None else (e["ap_high"] - e["ap_low"]) / 2 for _, e in points]
        ax.errorbar(xs, means, yerr=errors, fmt="o", markersize=4, capsize=2, color=colours[variant], label=variant)
    ax.set_xticks(range(len(tests)), tests)
    for i in range(1, len(tests)):
        ax.axvline(i - 0.5, color="0.85", linewidth=0.8)
    ax.set_ylabel("mAP")
    ax.set_title(f"{study.name}: mAP per test set (mean, 95% interval over seeds)", fontsize=10)
    ax.legend(fontsize=7, ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
    fig.tight_layout()
    with atomic_path(study.out / "ap.png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    written.append(study.out / "ap.png")

    fig, axes = plt.subplots(1, len(tests), figsize=(3.0 * len(tests), 3.4), sharey=True, squeeze=False)
    for ax, test in zip(axes[0], tests):
        for variant in variants:
            rows = summary["variants"][variant]["tests"].get(test, {}).get("error_by_speed", [])
            points = [(k, r["mean_error_px"]) for k, r in enumerate(rows) if r["mean_error_px"] is not None]
            if points:
                xs, ys = [p[0] for p in points], [p[1] for p in points]
                ax.plot(xs, ys, marker="o", markersize=3, color=colours[variant], label=variant)
        if rows := summary["variants"][variants[0]]["tests"].get(test, {}).get("error_by_speed", []):
            labels = [f"{r['lo']:g}-{'' if r['hi'] is None else format(r['hi'], 'g')}" for r in rows]
            ax.set_xticks(range(len(labels)), labels, fontsize=7)
        ax.set_title(test, fontsize=9)
        ax.set_xlabel("true joint speed (px/frame)", fontsize=8)
    axes[0][0].set_ylabel("keypoint error (px)")
    handles, labels = axes[0][-1].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, fontsize=7, ncols=min(len(variants), 6), loc="lower center", frameon=False)
    fig.tight_layout(rect=(0, 0.05 + 0.045 * math.ceil(len(variants) / 6), 1, 1))
    with atomic_path(study.out / "error_by_speed.png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    written.append(study.out / "error_by_speed.png")
    return written


def write_summary(study: Study) -> dict:
    from pstpose.io import atomic_open, write_json

    summary = summarize(study, finished_runs(study))
    write_json(study.out / "summary.json", summary, indent=1)
    with atomic_open(study.out / "summary.md") as fh:
        fh.write(summary_markdown(summary, study))
    summary["plots"] = [str(p) for p in write_plots(summary, study)]
    return summary
