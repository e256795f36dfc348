"""`pstpose predict SOURCE`: poses (and track ids) for a video, a frame folder, a glob or an image.

Thin: argument parsing, output paths and progress live here; the pipeline is
``pstpose.inference.predictor.PosePredictor`` and the files come from ``pstpose.inference.writers``
and ``pstpose.media``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pstpose.cli import CLIError
from pstpose.commands import add_weights_arguments, load_model_from_args
from pstpose.inference.outputs import JSON_FORMATS
from pstpose.io import check_output_dir, removing_new_folders_on_error
from pstpose.weights import NoDefaultWeightsError

if TYPE_CHECKING:
    from pstpose.inference.outputs import OutputSpec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="video file, folder of frames, glob pattern (quoted), photo or folder of photos")
    parser.add_argument(
        "--mode",
        choices=("auto", "video", "images"),
        default="auto",
        help="video: frames of one clip (temporal); images: independent photos; auto: a video file or images "
        "of one size are a video, one photo or photos of several sizes are images",
    )
    add_weights_arguments(parser, default="the packaged tiny model")
    parser.add_argument(
        "--detector",
        default="hog",
        help="person detector: hog (OpenCV, no weights) | torchvision's fasterrcnn, fasterrcnn-mobile, "
        "fasterrcnn-mobile320, retinanet, fcos, ssd, ssdlite, maskrcnn, keypointrcnn, or torchvision:BUILDER "
        "(need torchvision; COCO weights fetched on first use) | onnx:FILE, yolox:FILE, rtmdet:FILE "
        "(a YOLOX / RTMDet ONNX export, e.g. rtmlib's) | boxes:FILE (COCO .json or MOT .txt)",
    )
    parser.add_argument(
        "--det-thr",
        type=float,
        default=None,
        help="detector / box-file score threshold (default: hog 0.5, boxes 0.2, torchvision 0.5, onnx 0.3)",
    )
    parser.add_argument(
        "--detect-every",
        type=int,
        default=1,
        metavar="N",
        help="run the detector every N frames; frames between take boxes from the previous poses",
    )
    parser.add_argument("--out", default="pstpose_predictions", help="output folder (created)")
    parser.add_argument("--save-video", action="store_true", help="videos: also write <name>.overlay.mp4")
    parser.add_argument(
        "--no-vis", action="store_true", help="images: do not write the annotated images (written by default)"
    )
    parser.add_argument(
        "--save-json", action="store_true", help="write predictions (the default; kept for older scripts)"
    )
    parser.add_argument("--no-json", action="store_true", help="write no prediction file (only the overlay)")
    parser.add_argument(
        "--format",
        choices=JSON_FORMATS,
        action="append",
        default=None,
        help="prediction file format, repeatable (default: native)",
    )
    parser.add_argument("--device", default="cpu", help="auto | cpu | cuda | cuda:N | mps")
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="model arithmetic: bf16 = bfloat16 autocast (CPUs with AVX-512 BF16/AMX, recent GPUs); "
        "auto = bf16 on CUDA GPUs that support it, fp32 elsewhere",
    )
    parser.add_argument(
        "--clip-mode",
        choices=("exact", "streaming"),
        default="exact",
        help="exact: the keyframe box crops every frame of its clip (the paper's; each frame embedded 2ξ+1 "
        "times); streaming: each frame's persons embedded once with their own boxes and reused by the "
        "neighbouring clips (needs --detect-every 1; see docs/inference.md for its speed and accuracy)",
    )
    parser.add_argument("--batch-size", type=int, default=4, help="keyframes per model call (all their persons)")
    parser.add_argument("--flip", action="store_true", help="flip test: average with the mirrored crops")
    parser.add_argument("--kpt-thr", type=float, default=0.3, help="hide joints under this score in the overlay")
    parser.add_argument(
        "--frames-per-side", type=int, default=None, metavar="XI", help="clip half-length ξ (default: the model's)"
    )
    parser.add_argument("--fps", type=float, default=None, help="frame rate of image sources (default 25)")
    parser.add_argument("--score-by-box", action="store_true", help="joint score = heatmap peak × box score")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _validate(args: argparse.Namespace) -> None:
    from pstpose.commands import BATCH_SIZE, PROBABILITY, Limits, check_numbers

    check_numbers(
        args,
        {
            "batch_size": BATCH_SIZE,
            "detect_every": Limits(1, 1_000_000),
            "frames_per_side": Limits(0, 16),
            "kpt_thr": PROBABILITY,
            "det_thr": PROBABILITY,
            "fps": Limits(0, 1000, low_open=True),
        },
    )


def output_spec(args: argparse.Namespace, images: bool = False) -> OutputSpec:
    """The files asked for: JSON in every ``--format`` (native by default) unless ``--no-json``; the
    overlay video with ``--save-video``; for photos, annotated images unless ``--no-vis``."""
    from pstpose.inference.outputs import OutputSpec

    if args.no_json and args.save_json:
        raise CLIError("--save-json and --no-json contradict each other")
    formats = () if args.no_json else tuple(dict.fromkeys(args.format or ["native"]))
    visual = not args.no_vis if images else args.save_video
    if not formats and not visual:
        raise CLIError("--no-json with nothing else to write: add --save-video (videos) or drop --no-vis (images)")
    return OutputSpec(Path(args.out), formats=formats, save_video=visual, kpt_thr=args.kpt_thr)


def run(args: argparse.Namespace) -> int:
    from pstpose.commands import device_from_option
    from pstpose.inference.detectors import BoxFileDetector, make_detector, weak_detector_hint
    from pstpose.inference.outputs import IMAGES
    from pstpose.inference.predictor import PosePredictor
    from pstpose.inference.sources import open_source

    _validate(args)
    source = open_source(args.source, fps=args.fps, mode=args.mode)
    spec = output_spec(args, images=source.independent)
    device = device_from_option(args.device)
    precision = _precision(args, device)
    paths = spec.paths(source.name, images=source.independent)
    folders = sorted({p if kind == IMAGES else p.parent for kind, p in paths.items()})
    for folder in folders:
        check_output_dir(folder, "--out")  # before the model and the detector load; nothing created yet
    if IMAGES in paths:
        _refuse_overwriting_photos(source, paths[IMAGES])
    detector = make_detector(args.detector, device=device, score_threshold=args.det_thr)
    try:
        model = load_model_from_args(args, device)
    except NoDefaultWeightsError as exc:
        raise CLIError(f"{exc}; pass --weights") from None
    if args.clip_mode == "streaming" and args.detect_every > 1:
        raise CLIError(
            "--clip-mode streaming needs --detect-every 1: boxes taken from the previous frame's poses "
            "are known only after that frame's clip has run"
        )
    predictor = PosePredictor(
        model,
        detector,
        device=device,
        batch_size=args.batch_size,
        flip=args.flip,
        detect_every=args.detect_every,
        frames_per_side=args.frames_per_side,
        score_by_box=args.score_by_box,
        keep_images=False,
        precision=precision,
        clip_mode=args.clip_mode,
    )
    with removing_new_folders_on_error(folders):  # a bad frame midway leaves no empty output folders
        run = predictor.predict_to_files(source, spec, progress=not args.no_progress)
    if isinstance(detector, BoxFileDetector) and detector.frames_matched == 0 and run.times.frames:
        print(f"warning: {args.detector}: no frame of {args.source} matched an entry of the box file", file=sys.stderr)
    hint = weak_detector_hint(detector)
    if hint:
        print(f"{hint}; choose one with --detector NAME", file=sys.stderr)
    print(run.summary())
    for kind, path in run.paths.items():
        print(f"{kind if kind in ('video', 'images') else 'json'}: {path}")
    return 0


def _refuse_overwriting_photos(source, folder: Path) -> None:
    """The annotated copies must never land on the photos they were drawn from (``--out`` pointing
    above the input folder so that ``out/vis`` is the input)."""
    inputs = {f.resolve() for f in source.files}
    for name in source.relative_names:
        target = (folder / name).resolve()
        if target in inputs or target.with_suffix(".png") in inputs:
            raise CLIError(f"--out: the annotated image {target} would overwrite the input photo; choose another --out")


def _precision(args: argparse.Namespace, device: str) -> str:
    """``--precision`` resolved for the device, before any model loads."""
    from pstpose.devices import resolve_device, resolve_precision

    try:
        return resolve_precision(args.precision, resolve_device(str(device)))
    except ValueError as exc:
        raise CLIError(f"--precision: {exc}") from None
