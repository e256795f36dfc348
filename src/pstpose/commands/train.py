"""`pstpose train CONFIG [--set key=value ...] [--resume] [--output DIR]`.

Works as one plain process and under ``torchrun`` (one process per GPU); see docs/training.md.
"""

from __future__ import annotations

import argparse
import os


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config",
        help="experiment YAML file, or the name of a shipped config (e.g. synthetic_tiny, posetrack18_vitpose-b)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.lr=1e-4 --set model.dfe.enabled=false (repeatable)",
    )
    parser.add_argument("--output", metavar="DIR", help="run folder (overrides train.output_dir)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue the run in the output folder from its last.pt")
    mode.add_argument(
        "--overwrite",
        action="store_true",
        help="start again in an output folder that already holds a run (its files are replaced)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the resolved configuration and exit without training"
    )


def run(args: argparse.Namespace) -> int:
    import yaml

    from pstpose.cli import CLIError
    from pstpose.config import load_experiment, to_dict

    overrides = list(args.overrides)
    if args.output:
        overrides.append(f"train.output_dir={args.output}")
    cfg = load_experiment(args.config, overrides)
    if args.dry_run:
        print(yaml.safe_dump(to_dict(cfg), sort_keys=False), end="")
        return 0

    from pstpose.engine import build
    from pstpose.engine.distributed import teardown_distributed
    from pstpose.engine.train import check_run_folder

    if int(os.environ.get("RANK", "0")) == 0:  # before the slow model and dataset builds
        problem = check_run_folder(cfg.train.output_dir, args.resume, args.overwrite)
        if problem is not None:
            if "already holds a run" in problem:
                problem += " (--resume, --overwrite or --output)"
            elif "nothing to resume" in problem:
                problem += "; drop --resume to start a new run"
            raise CLIError(problem)
    from pstpose.io import removing_new_folders_on_error

    try:
        # A run that fails before writing anything (bad data, bad init weights) leaves no folder.
        with removing_new_folders_on_error([cfg.train.output_dir]):
            val_fn = _validation_hook(cfg)
            trainer = build.build_from_experiment(cfg, resume=args.resume, val_fn=val_fn)
            trainer.fit(resume=args.resume, overwrite=args.overwrite)
    finally:
        teardown_distributed()
    return 0


def _validation_hook(cfg):
    """Per-epoch validation on ``data.val_split`` (mAP picks best.pt), or None with a note when
    that split has no annotations or ``train.val_every`` is 0."""
    import sys

    from pstpose.engine.validation import make_val_fn

    if cfg.train.val_every == 0:
        return None
    try:
        return make_val_fn(cfg)
    except FileNotFoundError as exc:
        if int(os.environ.get("RANK", "0")) == 0:
            print(f"note: no validation during training ({exc}); best.pt will not be written", file=sys.stderr)
        return None
