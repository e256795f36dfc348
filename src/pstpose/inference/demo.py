"""``pstpose demo``: a synthetic clip with exact ground truth, run through the real predictor.

Everything a first-time user needs happens offline: a short clip is rendered
(``pstpose.data.synthetic.render_sequence``) and encoded to mp4, the predictor reads that mp4
back like any user video (decode → boxes → clip crops → model → keypoints → tracks), the
overlay video and the native JSON are written, and the clip is scored against its own ground
truth with the same evaluator and files ``pstpose eval`` uses.

Person boxes default to the ground-truth boxes: the HOG people detector was trained on
photographs and finds few of the synthetic mannequins, so with HOG the score would measure the
detector, not the pose model. ``detector="hog"`` shows that path anyway.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pstpose.errors import OptionError
from pstpose.inference.outputs import OutputSpec

SEQUENCE_NAME = "000001_mpii_test"  # a PoseTrack-style name: 6-digit video id → PoseTrack image ids
VIDEO_NUMBER = 1
LABEL_EVERY = 1  # a short clip: every frame is scored (PoseTrack val labels every 4th)
DETECTORS = ("gt", "hog")
SYNTH_PRESET = "standard"  # the preset the default weights were trained on


def demo_outputs(out: Path, kpt_thr: float = 0.3) -> OutputSpec:
    """The demo's prediction files: native JSON, the PoseTrack18 sequence file, the overlay."""
    return OutputSpec(Path(out), formats=("native", "posetrack18"), save_video=True, kpt_thr=kpt_thr)


@dataclass
class DemoFiles:
    video: Path  # the rendered clip the predictor reads
    overlay: Path
    json: Path  # native per-video poses
    pred_dir: Path  # PoseTrack18 prediction file(s)
    gt_dir: Path  # PoseTrack18 ground truth file(s)

    @classmethod
    def inside(cls, out: Path, kpt_thr: float = 0.3) -> DemoFiles:
        out = Path(out)
        video = out / "demo.mp4"
        paths = demo_outputs(out, kpt_thr).paths(video.stem, SEQUENCE_NAME)
        return cls(
            video=video,
            overlay=paths["video"],
            json=paths["native"],
            pred_dir=paths["posetrack18"].parent,
            gt_dir=out / "gt",
        )


@dataclass
class DemoReport:
    files: DemoFiles
    frames: int
    persons: int
    seconds: dict[str, float] = field(default_factory=dict)  # render, predict, evaluate, total
    evaluation: object = None  # pstpose.metrics.report.EvalResult
    detector: str = "gt"


def gt_boxes(persons_per_frame) -> dict[int, np.ndarray]:
    """Ground-truth person boxes per frame as (N, 5) [x1, y1, x2, y2, 1] for ``GivenBoxes``.

    Track ids are deliberately not passed: the predictor's tracker assigns its own.
    """
    boxes = {}
    for t, persons in enumerate(persons_per_frame):
        rows = [[x, y, x + w, y + h, 1.0] for x, y, w, h in (np.asarray(p.bbox, dtype=np.float64) for p in persons)]
        boxes[t] = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    return boxes


MAX_CLIP_BYTES = 4 * 1024**3


def check_demo_options(frames: int, height: int, width: int, detector: str) -> None:
    """Refuse a clip the demo cannot make, before any work."""
    if frames < 1:
        raise OptionError("frames", f"must be >= 1, got {frames}")
    if frames > 10_000:
        raise OptionError("frames", f"must be at most 10000 (PoseTrack image ids hold 4 frame digits), got {frames}")
    for name, value in (("height", height), ("width", width)):
        if value < 64 or value % 2:
            raise OptionError(name, f"must be an even number >= 64 (H.264 needs even sizes), got {value}")
    if detector not in DETECTORS:
        raise OptionError("detector", f"{detector!r}: use one of {', '.join(DETECTORS)}")
    clip_bytes = frames * height * width * 3  # the rendered clip is held in memory
    if clip_bytes > MAX_CLIP_BYTES:
        raise OptionError(
            "frames",
            f"{frames} frames of {width}x{height} need {clip_bytes / 1024**3:.1f} GiB of memory, over the "
            f"demo's limit of {MAX_CLIP_BYTES / 1024**3:.0f} GiB; use fewer or smaller frames",
        )


def run_demo(
    model,
    out: str | Path,
    *,
    frames: int = 32,
    seed: int = 0,
    height: int = 288,
    width: int = 384,
    detector: str = "gt",
    device: str | None = None,
    batch_size: int = 4,
    kpt_thr: float = 0.3,
    progress: bool = True,
) -> DemoReport:
    """Render, predict, write and score one synthetic clip; returns what was done and measured.

    ``out`` must exist and be writable (the command checks it first). Every file is written
    atomically, so an interruption leaves no partial file.
    """
    from pstpose.data.synthetic import render_sequence
    from pstpose.data.synthetic.writer import sequence_json
    from pstpose.inference.detectors import GivenBoxes, make_detector
    from pstpose.inference.predictor import PosePredictor
    from pstpose.io import write_json
    from pstpose.media import write_video
    from pstpose.metrics import evaluate

    check_demo_options(frames, height, width, detector)
    files = DemoFiles.inside(Path(out), kpt_thr)
    seconds: dict[str, float] = {}
    start = time.perf_counter()

    clip = render_sequence(seed=seed, frames=frames, height=height, width=width, preset=SYNTH_PRESET)
    write_video(files.video, clip.frames, fps=clip.fps)
    gt = sequence_json(VIDEO_NUMBER, "val", clip.persons, width, height, LABEL_EVERY)
    write_json(files.gt_dir / f"{SEQUENCE_NAME}.json", gt)
    boxes = gt_boxes(clip.persons)
    del clip  # the predictor reads the mp4 like any user video
    seconds["render"] = time.perf_counter() - start

    t0 = time.perf_counter()
    det = GivenBoxes(boxes) if detector == "gt" else make_detector(detector, device=str(device or "cpu"))
    predictor = PosePredictor(model, det, device=device, batch_size=batch_size, keep_images=False)
    run = predictor.predict_to_files(
        files.video, demo_outputs(Path(out), kpt_thr), sequence_name=SEQUENCE_NAME, progress=progress
    )
    seconds["predict"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    evaluation = evaluate(files.gt_dir, files.pred_dir)
    seconds["evaluate"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - start
    return DemoReport(files, run.times.frames, run.times.persons, seconds, evaluation, detector)
