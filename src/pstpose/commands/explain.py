"""`pstpose explain SOURCE --joint NAME`: pictures of what DFE, FCG and DSF do for one joint.

Thin: the readings and the drawing are ``pstpose.explain``; the weights load as in predict.
"""

from __future__ import annotations

import argparse
import sys

from pstpose.cli import CLIError
from pstpose.commands import add_weights_arguments, load_model_from_args
from pstpose.weights import NoDefaultWeightsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source", help="a dataset folder made by pstpose synth (ground truth drawn), a video, frame folder or photo"
    )
    parser.add_argument("--joint", required=True, help="the joint to explain, by name (e.g. left_wrist)")
    add_weights_arguments(parser, default="the packaged tiny model")
    parser.add_argument(
        "--frame",
        type=int,
        default=None,
        metavar="K",
        help="keyframe index (default: the middle frame of the sequence or video, 0 for a photo)",
    )
    parser.add_argument("--out", default="pstpose_explain", help="output folder for the PNGs (created)")
    parser.add_argument(
        "--sequence", default=None, help="synthetic datasets: the sequence (default: the first val sequence)"
    )
    parser.add_argument(
        "--track",
        type=int,
        default=None,
        help="synthetic datasets: the person's track id (default: the largest person showing the joint)",
    )
    parser.add_argument(
        "--detector", default="hog", help="videos and photos: any detector pstpose predict takes (see its --help)"
    )
    parser.add_argument("--top", type=int, default=12, help="DSF: sampled keys drawn per offset group")
    parser.add_argument("--scale", type=int, default=2, help="pixels drawn per input pixel")
    parser.add_argument("--device", default="cpu", help="auto | cpu | cuda | cuda:N | mps")


def run(args: argparse.Namespace) -> int:
    from pstpose.commands import Limits, check_numbers, device_from_option
    from pstpose.explain import PANELS, explain_source
    from pstpose.io import check_output_dir

    check_numbers(
        args, {"frame": Limits(0, 10**7), "track": Limits(0, 10**9), "top": Limits(1, 1000), "scale": Limits(1, 8)}
    )
    check_output_dir(args.out, "--out")
    device = device_from_option(args.device)
    try:
        model = load_model_from_args(args, device)
    except NoDefaultWeightsError as exc:
        raise CLIError(f"{exc}; pass --weights") from None
    result = explain_source(
        model,
        args.source,
        args.joint,
        args.out,
        frame=args.frame,
        sequence=args.sequence,
        track=args.track,
        detector=args.detector,
        device=device,
        scale=args.scale,
        top=args.top,
    )
    for panel, why in result.explanation.skipped.items():
        print(f"{panel} panel skipped: {why}", file=sys.stderr)
    expl = result.explanation
    print(
        f"{result.view.description}: {expl.joint_name} query at keyframe token (row {expl.query[1]}, col {expl.query[2]})"
    )
    for panel in PANELS:
        if panel in result.paths:
            print(f"{panel}: {result.paths[panel]}")
    return 0
