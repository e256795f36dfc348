"""`pstpose demo`: render a synthetic clip, estimate its poses with the default weights, score them.

Thin: arguments, checks before any work, printing. The work is ``pstpose.inference.demo.run_demo``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pstpose.commands import add_weights_arguments, load_model_from_args

if TYPE_CHECKING:
    from pstpose.inference.demo import DemoReport


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="pstpose_demo", help="output folder (created; default ./pstpose_demo)")
    add_weights_arguments(parser, default="the packaged tiny model")
    parser.add_argument("--frames", type=int, default=32, help="clip length in frames (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic clip")
    parser.add_argument("--height", type=int, default=288, help="frame height (even)")
    parser.add_argument("--width", type=int, default=384, help="frame width (even)")
    parser.add_argument(
        "--detector",
        default="gt",
        choices=("gt", "hog"),
        help="person boxes: gt = the clip's ground-truth boxes (default), hog = OpenCV's detector",
    )
    parser.add_argument("--device", default="cpu", help="auto | cpu | cuda | cuda:N | mps")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from pstpose.cli import CLIError
    from pstpose.commands import FRAME_SIDE, SEED, check_numbers, device_from_option
    from pstpose.inference.demo import check_demo_options
    from pstpose.io import check_output_dir, removing_new_folders_on_error
    from pstpose.weights import NoDefaultWeightsError

    check_numbers(args, {"height": FRAME_SIDE, "width": FRAME_SIDE, "seed": SEED})
    check_demo_options(args.frames, args.height, args.width, args.detector)
    device = device_from_option(args.device)
    out = Path(args.out)
    check_output_dir(out, "--out")  # nothing is created before the weights load
    try:  # before rendering: missing weights fail fast
        model = load_model_from_args(args, device)
    except NoDefaultWeightsError as exc:
        raise CLIError(f"{exc}; pass --weights") from None
    with removing_new_folders_on_error([out]):
        report = _run(args, model, out, device)
    for line in report.evaluation.warnings:
        print(line, file=sys.stderr)
    print(report.evaluation.table())
    print()
    for line in summary_lines(report):
        print(line)
    return 0


def summary_lines(report: DemoReport) -> list[str]:
    """What the command prints after the mAP table."""
    f = report.files
    s = report.seconds
    boxes = (
        "ground-truth person boxes (HOG finds few synthetic mannequins; try --detector hog)"
        if report.detector == "gt"
        else "the HOG people detector (weak on synthetic mannequins: missed people count as misses)"
    )
    return [
        f"{report.frames} frames, {report.persons} persons; boxes: {boxes}",
        "every frame scored against the clip's ground truth (PoseTrack val labels every 4th frame)",
        f"time: render {s['render']:.1f} s, predict {s['predict']:.1f} s, evaluate {s['evaluate']:.1f} s, "
        f"total {s['total']:.1f} s",
        f"input video:   {f.video}",
        f"overlay video: {f.overlay}",
        f"poses (JSON):  {f.json}",
        f"score again:   pstpose eval --gt {f.gt_dir} --pred {f.pred_dir}",
    ]


def _run(args: argparse.Namespace, model, out: Path, device: str):
    from pstpose.inference.demo import run_demo

    return run_demo(
        model,
        out,
        frames=args.frames,
        seed=args.seed,
        height=args.height,
        width=args.width,
        detector=args.detector,
        device=device,
        progress=not args.no_progress,
    )
