"""Prediction files: the native per-video JSON, COCO keypoint results, PoseTrack18.

The JSON writers stream: each frame is serialised as it arrives into a temporary file that is
renamed onto the target only when the writer closes without error. Memory stays flat and a
failed run leaves no partial file. The native schema is documented in docs/inference.md.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import numpy as np

from pstpose.data.boxes import posetrack_image_id
from pstpose.data.records import Frame, Person, Sequence
from pstpose.inference.results import PoseResult
from pstpose.io import atomic_open
from pstpose.keypoints import COCO_JOINT_NAMES, DRAW_SKELETON, JOINT_NAMES, NUM_JOINTS, SLOTS_SHARED_WITH_COCO

NATIVE_FORMAT = "pstpose-video-poses"
NATIVE_VERSION = 1


class _StreamingJson:
    """Base: a JSON document written piece by piece into an atomic temporary file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._stack = contextlib.ExitStack()
        self._fh = None
        self._first_item = True

    def __enter__(self):
        self._fh = self._stack.enter_context(atomic_open(self.path, "w"))
        self._begin()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._end()
        finally:
            self._stack.__exit__(exc_type, exc, tb)

    def _item(self, obj) -> None:
        self._fh.write(("\n" if self._first_item else ",\n") + json.dumps(obj, allow_nan=False))
        self._first_item = False

    def _begin(self) -> None:
        raise NotImplementedError

    def _end(self) -> None:
        raise NotImplementedError


class NativeJsonWriter(_StreamingJson):
    """``{format, version, source, fps, width, height, keypoint_names, skeleton, frames, num_frames}``."""

    def __init__(self, path: str | Path, *, source: str, fps: float, width: int, height: int, digits: int = 2):
        super().__init__(path)
        self.header = {
            "format": NATIVE_FORMAT,
            "version": NATIVE_VERSION,
            "source": str(source),
            "fps": float(fps),
            "width": int(width),
            "height": int(height),
            "bbox_format": "xywh",
            "keypoint_names": list(JOINT_NAMES),
            "skeleton": [list(pair) for pair in DRAW_SKELETON],
        }
        self.digits = digits
        self.num_frames = 0

    def _begin(self) -> None:
        self._fh.write(json.dumps(self.header)[:-1] + ', "frames": [')

    def write(self, result: PoseResult) -> None:
        self._item(result.to_dict(self.digits))
        self.num_frames += 1

    def _end(self) -> None:
        self._fh.write(f'\n], "num_frames": {self.num_frames}}}\n')


def coco_person(result: PoseResult, i: int, image_id: int, kpt_thr: float = 0.3, digits: int = 2) -> dict:
    """One COCO keypoint result. Slots COCO has but the model does not (eyes) are [0, 0, 0];
    the person score is the mean of its joint scores >= ``kpt_thr`` (all joints if none)."""
    triples = np.zeros((NUM_JOINTS, 3))
    for slot in SLOTS_SHARED_WITH_COCO:
        triples[slot, :2] = result.keypoints[i, slot]
        triples[slot, 2] = result.keypoint_scores[i, slot]
    scores = result.keypoint_scores[i, list(SLOTS_SHARED_WITH_COCO)]
    good = scores[scores >= kpt_thr]
    x1, y1, x2, y2 = result.boxes[i]
    return {
        "image_id": int(image_id),
        "category_id": 1,
        "keypoints": np.round(triples.reshape(-1), digits).tolist(),
        "score": round(float(good.mean() if len(good) else scores.mean()), 4),
        "bbox": np.round([x1, y1, x2 - x1, y2 - y1], digits).tolist(),
        "track_id": int(result.track_ids[i]),
    }


class CocoKeypointWriter(_StreamingJson):
    """COCO keypoint results (a JSON list), one entry per person; image_id = frame index unless
    ``image_ids`` maps frame index → id."""

    keypoint_names = COCO_JOINT_NAMES

    def __init__(self, path: str | Path, kpt_thr: float = 0.3, image_ids: dict[int, int] | None = None):
        super().__init__(path)
        self.kpt_thr = kpt_thr
        self.image_ids = image_ids or {}

    def _begin(self) -> None:
        self._fh.write("[")

    def write(self, result: PoseResult) -> None:
        image_id = self.image_ids.get(result.frame_index, result.frame_index)
        for i in range(len(result)):
            self._item(coco_person(result, i, image_id, self.kpt_thr))

    def _end(self) -> None:
        self._fh.write("\n]\n")


# --- PoseTrack18 -------------------------------------------------------------------------------


def result_to_frame(result: PoseResult, sequence_name: str) -> Frame:
    """A predicted frame as a ``records.Frame`` (what the evaluation's writers consume).

    image_id: PoseTrack's id when the sequence name starts with its 6-digit video id
    (``009473_mpii_test``), else the frame index. file_name: ``<sequence>/<frame file>`` for
    image sources, ``<sequence>/<index:06d>.jpg`` for videos.
    """
    match = re.match(r"(\d{6})", sequence_name)
    file_stem = Path(result.file_name).stem if result.file_name is not None else ""
    number = int(file_stem) if file_stem.isdigit() else result.frame_index
    image_id = posetrack_image_id(int(match.group(1)), number) if match else result.frame_index
    name = Path(result.file_name).name if result.file_name is not None else f"{result.frame_index:06d}.jpg"
    persons = []
    for i in range(len(result)):
        kpts = np.column_stack([result.keypoints[i], np.ones(NUM_JOINTS)])
        x1, y1, x2, y2 = result.boxes[i]
        persons.append(Person(
            keypoints=kpts,
            present=np.ones(NUM_JOINTS, dtype=bool),
            track_id=int(result.track_ids[i]),
            scores=np.asarray(result.keypoint_scores[i], dtype=np.float64),
            bbox=np.array([x1, y1, x2 - x1, y2 - y1]),
            score=float(result.box_scores[i]),
        ))
    return Frame(
        file_name=f"{sequence_name}/{name}",
        frame_index=result.frame_index,
        persons=persons,
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
        match = re.match(r"(\d{6})", self.sequence_name)
        return Sequence(name=self.sequence_name, frames=self.frames, format="pt18", nframes=len(self.frames),
                        vid_id=match.group(1) if match else None)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            return
        from pstpose.metrics.writers import write_posetrack18

        write_posetrack18(self.path, self.sequence())
