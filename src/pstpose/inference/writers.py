"""Prediction files: the native per-video JSON, COCO keypoint results, PoseTrack18.

The native JSON and the COCO results stream: each frame is serialised as it arrives into a
temporary file that is renamed onto the target only when the writer closes without error
(``pstpose.io.JsonStream``). Memory stays flat and a failed run leaves no partial file. The
native schema is documented in docs/inference.md. The COCO and PoseTrack18 layouts belong to
the evaluation package (``pstpose.metrics.writers``); the writers here only turn each
``PoseResult`` into its records.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType

import numpy as np

from pstpose.data.records import Frame, Person, Sequence
from pstpose.inference.results import PoseResult
from pstpose.io import JsonStream
from pstpose.keypoints import COCO, POSETRACK, JointSet
from pstpose.metrics.writers import CocoResultsWriter, write_posetrack18
from pstpose.posetrack_ids import leading_video_id, posetrack_image_id

NATIVE_FORMAT = "pstpose-video-poses"
NATIVE_VERSION = 1


class NativeJsonWriter(JsonStream):
    """``{format, version, source, mode, fps, width, height, keypoint_names, skeleton, frames, num_frames}``.

    For an image set (``names`` given) ``mode`` is ``"images"``, the header's fps/width/height
    are null and every frame carries its photo's ``file_name`` (relative to the photos' common
    folder), ``width`` and ``height``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        source: str,
        fps: float | None,
        width: int | None,
        height: int | None,
        digits: int = 2,
        joints: JointSet = POSETRACK,
        names: list[Path] | None = None,
    ):
        super().__init__(path)
        self.header = {
            "format": NATIVE_FORMAT,
            "version": NATIVE_VERSION,
            "source": str(source),
            "mode": "video" if names is None else "images",
            "fps": float(fps) if names is None else None,
            "width": int(width) if names is None else None,
            "height": int(height) if names is None else None,
            "bbox_format": "xywh",
            "joint_set": joints.name,
            "keypoint_names": list(joints.joints),
            "skeleton": [list(pair) for pair in joints.skeleton],
        }
        self.digits = digits
        self.names = names  # an image set: each frame is a photo, named by its relative path
        self.num_frames = 0

    def _begin(self) -> None:
        self._write(json.dumps(self.header)[:-1] + ', "frames": [')

    def write(self, result: PoseResult) -> None:
        entry = result.to_dict(self.digits)
        if self.names is not None:  # photos of their own sizes
            entry["file_name"] = self.names[result.frame_index].as_posix()
            entry["width"], entry["height"] = (int(v) for v in result.image_size)
        self._item(entry)
        self.num_frames += 1

    def _end(self) -> None:
        self._write(f'\n], "num_frames": {self.num_frames}}}\n')


def result_persons(result: PoseResult, target: JointSet | None = None) -> list[Person]:
    """The persons of a predicted frame as ``records.Person`` (what the evaluation's writers
    consume), joints in ``target``'s order (default: the result's own), mapped by name: joints
    the result's set lacks are absent. The box as [x, y, w, h], the box score as ``score``. A
    track id of -1 (no tracker ran) becomes None, which the writers replace by a per-frame id."""
    target = target or result.joint_set
    points, scores, present = result.joint_set.convert(result.keypoints, result.keypoint_scores, target)
    persons = []
    for i in range(len(result)):
        x1, y1, x2, y2 = result.boxes[i]
        track_id = int(result.track_ids[i])
        persons.append(
            Person(
                keypoints=np.column_stack([points[i], present[i].astype(np.float64)]),
                present=present[i],
                track_id=track_id if track_id >= 0 else None,
                scores=scores[i],
                bbox=np.array([x1, y1, x2 - x1, y2 - y1]),
                score=float(result.box_scores[i]),
            )
        )
    return persons


def coco_person_score(joint_scores: np.ndarray, kpt_thr: float, joints: JointSet = POSETRACK) -> float:
    """The person score of ``pstpose predict``'s COCO results: the mean of the joint scores
    COCO has (by name) that reach ``kpt_thr`` (of all of them when none does), to 4 decimals."""
    shared = [int(i) for i in joints.indices_in(COCO) if i >= 0]
    scores = np.asarray(joint_scores, dtype=np.float64)
    scores = scores[shared] if shared else scores
    good = scores[scores >= kpt_thr]
    return round(float(good.mean() if len(good) else scores.mean()), 4)


class CocoKeypointWriter(CocoResultsWriter):
    """COCO keypoint results of a video (``CocoResultsWriter``'s file), one entry per person;
    image_id = frame index unless ``image_ids`` maps frame index → id. The person score is
    ``coco_person_score``; coordinates are rounded to ``digits``."""

    def __init__(
        self, path: str | Path, kpt_thr: float = 0.3, image_ids: dict[int, int] | None = None, digits: int = 2
    ):
        super().__init__(path, digits)
        self.kpt_thr = kpt_thr
        self.image_ids = image_ids or {}

    def write(self, result: PoseResult) -> None:
        persons = result_persons(result)
        for person in persons:
            person.score = coco_person_score(person.scores, self.kpt_thr, result.joint_set)
        name = Path(result.file_name).name if result.file_name is not None else f"{result.frame_index:06d}.jpg"
        frame = Frame(
            file_name=name,
            frame_index=result.frame_index,
            persons=persons,
            image_id=self.image_ids.get(result.frame_index, result.frame_index),
        )
        self.write_frame(frame, f"{self.path}: frame {result.frame_index} ({name})", result.joint_set)


# --- PoseTrack18 -------------------------------------------------------------------------------


def result_to_frame(result: PoseResult, sequence_name: str) -> Frame:
    """A predicted frame as a ``records.Frame`` (what the evaluation's writers consume).

    image_id: PoseTrack's id when the sequence name starts with its 6-digit video id
    (``009473_mpii_test``), else the frame index. file_name: ``<sequence>/<frame file>`` for
    image sources, ``<sequence>/<index:06d>.jpg`` for videos.
    """
    video_id = leading_video_id(sequence_name)
    file_stem = Path(result.file_name).stem if result.file_name is not None else ""
    number = int(file_stem) if file_stem.isdigit() else result.frame_index
    image_id = posetrack_image_id(int(video_id), number) if video_id is not None else result.frame_index
    name = Path(result.file_name).name if result.file_name is not None else f"{result.frame_index:06d}.jpg"
    return Frame(
        file_name=f"{sequence_name}/{name}",
        frame_index=result.frame_index,
        persons=result_persons(result, POSETRACK),
        is_labeled=True,
        image_id=image_id,
        width=result.image_size[0],
        height=result.image_size[1],
    )


class PoseTrack18Writer:
    """Collects a video's frames as records and writes them as ONE PoseTrack18 sequence file.

    Every frame of the video is listed (frames with nobody too), because the evaluator pairs
    prediction and GT frames by position. The file itself comes from the evaluation package's
    ``pstpose.metrics.writers.write_posetrack18`` (one owner of the PoseTrack18 layout), so
    ``pstpose eval`` and ``pstpose.metrics.evaluate`` read it as they read any prediction file.
    Holds only the (small) per-person records, not images; written atomically at a clean exit.
    """

    def __init__(self, path: str | Path, sequence_name: str):
        self.path = Path(path)
        self.sequence_name = sequence_name
        self.frames: list[Frame] = []

    def __enter__(self) -> PoseTrack18Writer:
        return self

    def write(self, result: PoseResult) -> None:
        self.frames.append(result_to_frame(result, self.sequence_name))

    def sequence(self) -> Sequence:
        """The collected frames as the evaluator's in-memory form."""
        return Sequence(
            name=self.sequence_name,
            frames=self.frames,
            format="pt18",
            nframes=len(self.frames),
            vid_id=leading_video_id(self.sequence_name),
        )

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            return
        write_posetrack18(self.path, self.sequence())
