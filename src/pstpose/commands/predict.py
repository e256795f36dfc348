"""`pstpose predict SOURCE`: poses (and track ids) for a video, a frame folder, a glob or an image.

Thin: argument parsing, output paths and progress live here; the pipeline is
``pstpose.inference.predictor.PosePredictor`` and the files come from ``pstpose.inference.writers``
and ``pstpose.media``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from pstpose.io import ensure_writable_dir

FORMATS = ("native", "posetrack18", "coco")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="video file, folder of frames, glob pattern (quoted) or image")
    parser.add_argument("--weights", help="model checkpoint folder or .safetensors (default: the packaged tiny model)")
    parser.add_argument("--detector", default="hog", help="hog | boxes:FILE (COCO .json or MOT .txt) | torchvision[:MODEL]")
    parser.add_argument("--det-thr", type=float, default=None, help="detector / box-file score threshold")
    parser.add_argument("--detect-every", type=int, default=1, metavar="N",
                        help="run the detector every N frames; frames between take boxes from the previous poses")
    parser.add_argument("--out", default="pstpose_predictions", help="output folder (created)")
    parser.add_argument("--save-video", action="store_true", help="write <name>.overlay.mp4")
    parser.add_argument("--save-json", action="store_true", help="write predictions (default when nothing is asked)")
    parser.add_argument("--format", choices=FORMATS, default="native", help="prediction file format")
    parser.add_argument("--device", default="cpu", help="auto | cpu | cuda | cuda:N | mps")
    parser.add_argument("--batch-size", type=int, default=4, help="keyframes per model call (all their persons)")
    parser.add_argument("--flip", action="store_true", help="flip test: average with the mirrored crops")
    parser.add_argument("--kpt-thr", type=float, default=0.3, help="hide joints under this score in the overlay")
    parser.add_argument("--frames-per-side", type=int, default=None, metavar="XI",
                        help="clip half-length ξ (default: the model's)")
    parser.add_argument("--fps", type=float, default=None, help="frame rate of image sources (default 25)")
    parser.add_argument("--score-by-box", action="store_true", help="joint score = heatmap peak × box score")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def default_weights() -> Path:
    """The packaged default checkpoint (``pstpose.weights.DEFAULT_WEIGHTS``); a clear
    ``FileNotFoundError`` ("... pass --weights") when this installation ships none."""
    from pstpose.weights import default_weights as packaged

    return packaged()


def load_model(weights: str | None, device: str):
    """PSTPose.from_pretrained(weights or the default) on ``device``; user errors as
    ValueError/FileNotFoundError."""
    path = Path(weights) if weights else default_weights()
    if not path.exists():
        raise FileNotFoundError(f"{path}: weights file not found")
    try:
        from pstpose.models.pstpose import PSTPose
    except ImportError as exc:
        raise ValueError(f"the PSTPose model is not available in this installation ({exc})") from None
    return PSTPose.from_pretrained(path).to(device)


def prepare_output_dir(out: Path) -> None:
    """Create ``out`` and prove it is writable, before any work is done."""
    ensure_writable_dir(out)


def output_paths(out: Path, name: str, args: argparse.Namespace) -> dict[str, Path]:
    paths = {}
    if args.save_json:
        if args.format == "native":
            paths["json"] = out / f"{name}.json"
        elif args.format == "coco":
            paths["json"] = out / f"{name}.coco.json"
        else:
            paths["json"] = out / "posetrack18" / f"{name}.json"
    if args.save_video:
        paths["video"] = out / f"{name}.overlay.mp4"
    return paths


def _validate(args: argparse.Namespace) -> None:
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.detect_every < 1:
        raise ValueError(f"--detect-every must be >= 1, got {args.detect_every}")
    if args.frames_per_side is not None and args.frames_per_side < 0:
        raise ValueError(f"--frames-per-side must be >= 0, got {args.frames_per_side}")
    if not 0.0 <= args.kpt_thr <= 1.0:
        raise ValueError(f"--kpt-thr must be in [0, 1], got {args.kpt_thr}")


def run(args: argparse.Namespace) -> int:
    from pstpose.commands import device_from_option
    from pstpose.inference.detectors import BoxFileDetector, make_detector
    from pstpose.inference.predictor import PosePredictor
    from pstpose.inference.sources import open_source
    from pstpose.inference.writers import CocoKeypointWriter, NativeJsonWriter, PoseTrack18Writer
    from pstpose.media import VideoWriter

    _validate(args)
    if not args.save_json and not args.save_video:
        args.save_json = True
    source = open_source(args.source, fps=args.fps)
    out = Path(args.out)
    paths = output_paths(out, source.name, args)
    for path in paths.values():
        if Path(args.source).exists() and path.resolve() == Path(args.source).resolve():
            raise ValueError(f"{path}: output would overwrite the source; choose another --out")
    device = device_from_option(args.device)
    prepare_output_dir(out)
    detector = make_detector(args.detector, device=device, score_threshold=args.det_thr)
    model = load_model(args.weights, device)
    predictor = PosePredictor(
        model, detector, device=device, batch_size=args.batch_size, flip=args.flip,
        detect_every=args.detect_every, frames_per_side=args.frames_per_side, score_by_box=args.score_by_box,
        keep_images=args.save_video,
    )
    writers = []
    with contextlib.ExitStack() as stack:
        if "json" in paths:
            if args.format == "native":
                writer = NativeJsonWriter(paths["json"], source=args.source, fps=source.fps,
                                          width=source.width, height=source.height)
            elif args.format == "coco":
                writer = CocoKeypointWriter(paths["json"], kpt_thr=args.kpt_thr)
            else:
                writer = PoseTrack18Writer(paths["json"], source.name)
            writers.append(stack.enter_context(writer))
        video = stack.enter_context(VideoWriter(paths["video"], source.fps)) if "video" in paths else None
        start = time.perf_counter()
        _consume(predictor, source, writers, video, args)
        elapsed = time.perf_counter() - start
    times = predictor.times
    if isinstance(detector, BoxFileDetector) and detector.frames_matched == 0 and times.frames:
        print(f"warning: {args.detector}: no frame of {args.source} matched an entry of the box file", file=sys.stderr)
    print(f"{times.frames} frames, {times.persons} persons in {elapsed:.1f} s "
          f"({times.frames / max(elapsed, 1e-9):.1f} frames/s, {times.persons / max(elapsed, 1e-9):.1f} persons/s)")
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def _consume(predictor, source, writers, video, args) -> None:
    from tqdm import tqdm

    bar = tqdm(total=source.num_frames, unit="frame", disable=args.no_progress, file=sys.stderr,
               desc=source.name, dynamic_ncols=True)
    start = time.perf_counter()
    try:
        for result in predictor.stream(source):
            with predictor.times.time("write"):
                for writer in writers:
                    writer.write(result)
                if video is not None:
                    video.write(result.plot(kpt_thr=args.kpt_thr))
            bar.update(1)
            elapsed = max(time.perf_counter() - start, 1e-9)
            bar.set_postfix(persons_s=f"{predictor.times.persons / elapsed:.1f}", refresh=False)
    finally:
        bar.close()
