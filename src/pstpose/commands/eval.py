"""`pstpose eval`: PoseTrack per-joint mAP (and, with --tracking, MOTA) of prediction files against ground truth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FORMAT_CHOICES = ("auto", "pt17", "pt18", "pt21")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gt", required=True, type=Path, help="GT directory (one JSON per sequence) or one file")
    parser.add_argument("--pred", required=True, type=Path, help="prediction directory (same file names) or one file")
    parser.add_argument(
        "--format",
        default="auto",
        choices=FORMAT_CHOICES,
        help="GT file format; auto detects it (PoseTrack21 files are told apart by person_id / has_labeled_person)",
    )
    parser.add_argument("--pred-format", default="auto", choices=FORMAT_CHOICES, help="prediction file format")
    parser.add_argument(
        "--mode",
        default=None,
        choices=("posetrack", "posetrack21"),
        help="evaluation rules: posetrack = official PoseTrack17/18 tool (default for pt17/pt18), "
        "posetrack21 = PoseTrack21 kit (default for pt21)",
    )
    parser.add_argument("--out", type=Path, help="write the results (full precision) as JSON here")
    parser.add_argument("--csv", type=Path, help="write the tables as CSV (one decimal) here")
    parser.add_argument("--markdown", type=Path, help="write the tables as Markdown (one decimal) here")
    parser.add_argument(
        "--tracking",
        action="store_true",
        help="also score multi-person pose tracking as the official tool's --evalPoseTracking (MOTA, MOTP, "
        "precision, recall per joint); every predicted person needs a track_id; posetrack mode only",
    )
    parser.add_argument(
        "--temporal",
        action="store_true",
        help="also report keypoint error by true joint speed and jitter (acceleration error); needs GT "
        "on consecutive frames",
    )


def run(args: argparse.Namespace) -> int:
    from pstpose.io import check_output_files
    from pstpose.metrics.posetrack_eval import evaluate

    outputs = {"--out": args.out, "--csv": args.csv, "--markdown": args.markdown}
    check_output_files(outputs, inputs=(args.gt, args.pred))  # before reading anything

    gt, pred = args.gt, args.pred
    if args.temporal:  # read once, for both measures
        from pstpose.metrics.posetrack_eval import read_sequences

        gt = read_sequences(args.gt, args.format, "GT")
        pred = read_sequences(args.pred, args.pred_format, "prediction")
    result = evaluate(
        gt, pred, mode=args.mode, gt_format=args.format, pred_format=args.pred_format, tracking=args.tracking
    )
    for line in result.warnings:
        print(line, file=sys.stderr)
    print(result.table())
    temporal = None
    if args.temporal:
        from pstpose.metrics.temporal import temporal_metrics

        temporal = temporal_metrics(gt, pred)
        print()
        print(temporal.table())
    _write_outputs(args, result, temporal)
    return 0


def _write_outputs(args: argparse.Namespace, result, temporal=None) -> None:
    from pstpose.io import atomic_open, write_json

    if args.out:
        document = result.to_dict()
        if temporal is not None:
            document["temporal"] = temporal.to_dict()
        write_json(args.out, document, indent=2)
    if args.csv:
        with atomic_open(args.csv) as fh:
            fh.write(result.csv())
    if args.markdown:
        with atomic_open(args.markdown) as fh:
            fh.write(result.markdown())
