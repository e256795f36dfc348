"""`pstpose ablate STUDY`: train and evaluate a study's variants x seeds, resumably; print its summary."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", help="study YAML file (variants, seeds, data, base experiment); see docs/study.md")
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="start no new run after this many minutes (default: no limit); run again to continue",
    )
    parser.add_argument("--only", default=None, metavar="V1,V2", help="run only these variants (comma-separated)")
    parser.add_argument("--seeds", default=None, metavar="S1,S2", help="run only these seeds (comma-separated)")
    parser.add_argument("--summary-only", action="store_true", help="rebuild the summary from finished runs and exit")
    parser.add_argument("--out", default=None, metavar="DIR", help="study folder (default: the study file's 'out')")


def run(args: argparse.Namespace) -> int:
    from pstpose.commands import Limits, check_numbers
    from pstpose.engine.ablation import load_study, run_study, summary_markdown, write_summary
    from pstpose.io import check_output_dir

    check_numbers(args, {"max_minutes": Limits(0, 10**6)})
    study = load_study(args.study)
    if args.out:
        from pathlib import Path

        study.out = Path(args.out)
    check_output_dir(study.out, "--out")
    only = [v.strip() for v in args.only.split(",")] if args.only else None
    unknown = sorted(set(only or []) - set(study.variants))
    if unknown:
        raise ValueError(f"--only: unknown variant(s) {unknown}; the study has {list(study.variants)}")
    seeds = None
    if args.seeds:
        try:
            seeds = [int(s) for s in args.seeds.split(",")]
        except ValueError:
            raise ValueError(f"--seeds: expected comma-separated integers, got {args.seeds!r}") from None
        missing = sorted(set(seeds) - set(study.seeds))
        if missing:
            raise ValueError(f"--seeds: seed(s) {missing} are not in the study's seeds {list(study.seeds)}")
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    summary = (
        write_summary(study)
        if args.summary_only
        else run_study(study, max_minutes=args.max_minutes, only=only, seeds=seeds, log=log)
    )
    print(summary_markdown(summary, study))
    print(f"{summary['runs_finished']} of {len(study.runs())} runs finished; summary in {study.out}/summary.md")
    return 0
