"""`pstpose test CONFIG --weights W`: run a model over a dataset split and evaluate it.

Prints the evaluator's table (it names the evaluation mode) and the conventions that move the
numbers; with ``--out DIR`` writes ``DIR/predictions/*.json`` and ``DIR/results.json``.
See docs/evaluation.md ("Testing a model").
"""

from __future__ import annotations

import argparse
import sys

from pstpose.codec import DECODE_METHODS
from pstpose.commands import add_weights_arguments, load_model_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config", help="experiment YAML file or shipped config name (its data: section says where the dataset is)"
    )
    add_weights_arguments(parser, required=True)
    parser.add_argument(
        "--boxes",
        default=None,
        metavar="gt|FILE",
        help="person boxes: 'gt' (ground truth) or a COCO-style detection JSON "
        "(default: data.detection_file, or gt when that is empty)",
    )
    parser.add_argument(
        "--box-threshold",
        type=float,
        default=None,
        help="drop detection boxes scoring below this (default: data.box_score_threshold)",
    )
    parser.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="flip test: average with the mirrored input (default: on)",
    )
    parser.add_argument("--decode", default="dark", choices=DECODE_METHODS, help="heatmap decoding (default: dark)")
    parser.add_argument("--score-by-box", action="store_true", help="joint score = heatmap peak x box score")
    parser.add_argument("--split", default=None, help="annotation split (default: data.val_split)")
    parser.add_argument(
        "--mode",
        default=None,
        choices=("posetrack", "posetrack21"),
        help="evaluation rules (default: by the GT format: posetrack for pt17/pt18, posetrack21 for pt21)",
    )
    parser.add_argument("--out", default=None, metavar="DIR", help="write predictions/ and results.json here")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set data.root=/data/posetrack18 (repeatable)",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="clips per forward pass (default: 32)")
    parser.add_argument("--workers", type=int, default=None, help="data loader workers (default: data.workers)")
    parser.add_argument(
        "--max-samples",
        type=int,
        default=None,
        help="run a spread subset of whole frames with at most this many persons (quick checks)",
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:N or mps")
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="model arithmetic: bf16 = bfloat16 autocast; auto = bf16 on CUDA GPUs that support it, fp32 elsewhere",
    )


def _validate(args: argparse.Namespace) -> None:
    from pstpose.commands import BATCH_SIZE, PROBABILITY, WORKERS, Limits, check_numbers

    check_numbers(
        args,
        {
            "batch_size": BATCH_SIZE,
            "max_samples": Limits(1, 10**9),
            "workers": WORKERS,
            "box_threshold": PROBABILITY,
        },
    )


def run(args: argparse.Namespace) -> int:
    from pstpose.cli import CLIError
    from pstpose.commands import device_from_option
    from pstpose.config import load_experiment
    from pstpose.engine.eval_data import load_split
    from pstpose.engine.evaluation import evaluate_model
    from pstpose.io import OutputError

    _validate(args)
    cfg = load_experiment(args.config, args.overrides)
    boxes = args.boxes or cfg.data.detection_file or "gt"
    device = device_from_option(args.device)
    try:
        from pstpose.devices import resolve_device, resolve_precision

        precision = resolve_precision(args.precision, resolve_device(device))
    except ValueError as exc:
        raise CLIError(f"--precision: {exc}") from None
    split = args.split or cfg.data.val_split
    _, gt = load_split(cfg.data, split)  # before the (possibly slow) model load
    try:
        model = load_model_from_args(args, device)
        report = evaluate_model(
            model,
            cfg.data,
            split=split,
            sequences=gt,
            boxes=boxes,
            box_score_threshold=args.box_threshold,
            flip=args.flip,
            decode=args.decode,
            score_by_box=args.score_by_box,
            mode=args.mode,
            batch_size=args.batch_size,
            workers=args.workers,
            device=device,
            out_dir=args.out,
            max_samples=args.max_samples,
            weights=args.weights,
            precision=precision,
        )
    except (ImportError, OutputError) as exc:
        raise CLIError(str(exc)) from None
    for line in report.result.warnings:
        print(line, file=sys.stderr)
    print(report.result.table())
    print()
    print(report.conventions_text())
    if report.out_dir is not None:
        print(f"results: {report.out_dir / 'results.json'}")
        print(f"predictions: {report.out_dir / 'predictions'}")
    return 0
