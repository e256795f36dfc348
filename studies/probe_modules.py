"""What are a study's learned λ and DSF offsets worth? Re-evaluate finished runs with them replaced.

For every finished run of a study that still has its checkpoint (checkpoints are not committed:
run this on the machine that trained them), the test sets are evaluated as ``pstpose ablate``
evaluates them, four ways:

* ``learned``: as trained (equals the run's results.json);
* ``offsets_pattern``: DSF's offsets replaced by their per-cell mean over 200 training clips, the
  same for every clip: what the content-dependent part of the offsets is worth;
* ``offsets_zero``: DSF sampling every token's own cell: what the deformation is worth at all;
* ``lambda_init``: DFE's λ set back to its initial value λ_init: what learning λ is worth.

    python studies/probe_modules.py studies/synthetic_ablation.yaml

Writes ``<study out>/probes.json`` (one entry per run, kept across calls: a run already probed is
skipped) and prints mean mAP differences against ``learned`` per variant and test set.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from pstpose.engine.ablation import evaluate_run, load_study, run_experiment_config
from pstpose.engine.diagnostics import mean_offset_pattern, replaced_lambda, replaced_offsets
from pstpose.io import write_json
from pstpose.models.loading import load_model

PATTERN_CLIPS = 200


def map_of(results: dict) -> dict[str, float]:
    return {test: float(r["ap"]["Mean"]) for test, r in results.items()}


def probe_run(study, variant: str, seed: int) -> dict:
    run_dir = study.run_dir(variant, seed)
    document = json.loads((run_dir / "results.json").read_text())
    cfg = run_experiment_config(study, variant, seed, document.get("init_weights"))
    model = load_model(run_dir / "last.pt").eval()
    out = {"learned": map_of(evaluate_run(study, model, cfg))}
    if "dsf" in model.refine:
        pattern = mean_offset_pattern(model, study.train_root, split="train", max_clips=PATTERN_CLIPS)
        with replaced_offsets(model, pattern):
            out["offsets_pattern"] = map_of(evaluate_run(study, model, cfg))
        with replaced_offsets(model, pattern * 0):
            out["offsets_zero"] = map_of(evaluate_run(study, model, cfg))
    if "dfe" in model.refine:
        mixer = model.refine["dfe"].mixer
        out["lambda_learned"] = mixer.lambda_value().detach().float().mean().item()
        with replaced_lambda(model, mixer.lambda_init):
            out["lambda_init"] = map_of(evaluate_run(study, model, cfg))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", help="study YAML file")
    parser.add_argument("--only", default=None, metavar="V1,V2", help="probe only these variants")
    args = parser.parse_args()
    study = load_study(args.study)
    path = Path(study.out) / "probes.json"
    probes = json.loads(path.read_text()) if path.exists() else {}
    only = set(args.only.split(",")) if args.only else None
    for variant, seed in study.runs():
        key = f"{variant}/seed{seed}"
        run_dir = study.run_dir(variant, seed)
        if key in probes or (only and variant not in only):
            continue
        if not (run_dir / "results.json").exists() or not (run_dir / "last.pt").exists():
            continue
        print(f"probing {key}", flush=True)
        probes[key] = probe_run(study, variant, seed)
        write_json(path, probes, indent=1)
    by_variant: dict[str, list[dict]] = {}
    for key, probe in probes.items():
        by_variant.setdefault(key.split("/")[0], []).append(probe)
    tests = [t.name for t in study.tests]
    print("\nmAP change against the learned model (mean over seeds)\n")
    print("| variant | replaced | seeds | " + " | ".join(tests) + " |")
    print("|---|---|---|" + "---|" * len(tests))
    for variant, runs in by_variant.items():
        for what in ("offsets_pattern", "offsets_zero", "lambda_init"):
            rows = [r for r in runs if what in r]
            if not rows:
                continue
            cells = [f"{np.mean([r[what][t] - r['learned'][t] for r in rows]):+.2f}" for t in tests]
            print(f"| {variant} | {what} | {len(rows)} | " + " | ".join(cells) + " |")
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
