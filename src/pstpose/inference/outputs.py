"""What a prediction run writes: where each file goes, and the writers that fill them.

One factory for the ``predict`` command, the demo and the Python API
(``PosePredictor.predict_to_files``): ``OutputSpec.paths`` names the files for a source and
``open_writers`` opens one writer per file. Every writer takes ``PoseResult``s one at a time and
writes atomically, so an interrupted run leaves no partial file.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pstpose.inference.results import PoseResult
from pstpose.keypoints import POSETRACK, JointSet

JSON_FORMATS = ("native", "posetrack18", "coco")
IMAGES = "images"  # the folder of annotated photos of an image set
VIDEO = "video"


class ResultWriter(Protocol):
    def write(self, result: PoseResult) -> None: ...


@dataclass(frozen=True)
class OutputSpec:
    """Which files a run writes into ``out``.

    formats: JSON prediction formats, any of ``JSON_FORMATS`` (native per-video poses, PoseTrack18
        sequence file, COCO keypoint results).
    save_video: also write the overlay video (skeletons drawn on every frame).
    kpt_thr: joints under this score are hidden in the overlay and in COCO results.
    """

    out: Path
    formats: tuple[str, ...] = ("native",)
    save_video: bool = False
    kpt_thr: float = 0.3

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        object.__setattr__(self, "formats", tuple(self.formats))
        unknown = [f for f in self.formats if f not in JSON_FORMATS]
        if unknown:
            raise ValueError(f"unknown prediction format(s) {unknown}: use {', '.join(JSON_FORMATS)}")
        if len(set(self.formats)) != len(self.formats):
            raise ValueError(f"prediction formats listed twice: {list(self.formats)}")
        if not self.formats and not self.save_video:
            raise ValueError("nothing to write: ask for at least one prediction format or the overlay video")
        if not (isinstance(self.kpt_thr, (int, float)) and math.isfinite(self.kpt_thr) and 0 <= self.kpt_thr <= 1):
            raise ValueError(f"keypoint score threshold must be a number in [0, 1], got {self.kpt_thr!r}")

    def paths(self, name: str, sequence_name: str | None = None, images: bool = False) -> dict[str, Path]:
        """File of each output for a source called ``name``. The PoseTrack18 file is named after
        the sequence (``sequence_name``, default ``name``), as the evaluator pairs files by name.

        For an image set (``images``) the visual output is a folder, ``out/vis``, holding one
        annotated image per photo under the photo's own name and format; its predictions are one
        JSON file for all photos. PoseTrack18 files describe videos and are refused.
        """
        if images and "posetrack18" in self.formats:
            raise ValueError(
                f"{name}: PoseTrack18 files describe video sequences; independent photos are written as native or coco"
            )
        where = {
            "native": self.out / f"{name}.json",
            "coco": self.out / f"{name}.coco.json",
            "posetrack18": self.out / "posetrack18" / f"{sequence_name or name}.json",
        }
        paths = {fmt: where[fmt] for fmt in self.formats}
        if self.save_video:
            if images:
                paths[IMAGES] = self.out / "vis"  # a folder (created when the first photo is written)
            else:
                paths[VIDEO] = self.out / f"{name}.overlay.mp4"
        return paths


class _OverlayVideo:
    """The overlay video as a result writer: each result drawn on its own frame."""

    def __init__(self, video, kpt_thr: float):
        self.video = video
        self.kpt_thr = kpt_thr

    def write(self, result: PoseResult) -> None:
        self.video.write(result.plot(kpt_thr=self.kpt_thr))


class _AnnotatedImages:
    """Each photo drawn with its poses, written (atomically) into a folder under its own relative
    name and format."""

    def __init__(self, folder: Path, names: list[Path], kpt_thr: float):
        self.folder = folder
        self.names = names
        self.kpt_thr = kpt_thr

    def write(self, result: PoseResult) -> None:
        import cv2

        from pstpose.io import write_bytes

        target = self.folder / self.names[result.frame_index]
        ok, encoded = cv2.imencode(target.suffix or ".png", result.plot(kpt_thr=self.kpt_thr))
        if not ok:  # a format OpenCV reads but cannot write: PNG beside it
            target = target.with_suffix(".png")
            ok, encoded = cv2.imencode(".png", result.plot(kpt_thr=self.kpt_thr))
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(target, encoded.tobytes())


def open_writers(
    stack: contextlib.ExitStack,
    paths: dict[str, Path],
    spec: OutputSpec,
    *,
    source_label: str,
    fps: float,
    width: int,
    height: int,
    sequence_name: str,
    joints: JointSet = POSETRACK,
    image_names: list[Path] | None = None,
) -> list[ResultWriter]:
    """One entered writer per path of ``spec.paths``; they close (and land atomically) with ``stack``."""
    from pstpose.inference.writers import CocoKeypointWriter, NativeJsonWriter, PoseTrack18Writer
    from pstpose.media import VideoWriter

    writers: list[ResultWriter] = []
    for kind, path in paths.items():
        if kind == IMAGES:
            writers.append(_AnnotatedImages(path, image_names or [], spec.kpt_thr))
            continue
        if kind == "native":
            writer = NativeJsonWriter(
                path, source=source_label, fps=fps, width=width, height=height, joints=joints, names=image_names
            )
        elif kind == "coco":
            writer = CocoKeypointWriter(path, kpt_thr=spec.kpt_thr)
        elif kind == "posetrack18":
            writer = PoseTrack18Writer(path, sequence_name)
        else:
            writer = _OverlayVideo(stack.enter_context(VideoWriter(path, fps)), spec.kpt_thr)
            writers.append(writer)
            continue
        writers.append(stack.enter_context(writer))
    return writers
