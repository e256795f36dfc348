"""Prediction files the official tools (and ``pstpose eval``) read.

* ``write_posetrack18(path, sequence)`` — PoseTrack18/21 per-sequence JSON: every frame of the
  sequence in order (frames without detections included, because frames are paired with the
  GT by position), joint ``scores`` always present, integer ``track_id``s unique per frame,
  ``categories`` with the 17 joint names and skeleton. ``write_posetrack21`` is the same file.
* ``write_posetrack17(path, sequence)`` — PoseTrack17 annolist with the 15 PoseTrack17 joints.
* ``write_coco_results(path, sequences)`` — COCO keypoint results (a list of detections) in COCO's
  joint order; ``CocoResultsWriter`` writes the same file frame by frame (``pstpose predict``).

The ``sequence`` holds predicted ``Person``s (with ``scores``) in frames that mirror the GT
frames; pass ``gt=`` to have that checked. Files are written atomically (``pstpose.io``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pstpose.data.records import Frame, Person, Sequence
from pstpose.io import JsonStream, write_json
from pstpose.keypoints import (
    COCO,
    COCO_JOINT_NAMES,
    NUM_JOINTS,
    POSETRACK,
    PT17_TO_SLOT,
    JointSet,
    posetrack18_categories,
)


class PredictionWriteError(ValueError):
    """Predictions that cannot be written as a valid file; the message names the frame/person."""


def _check_against_gt(seq: Sequence, gt: Sequence | None, path: Path) -> None:
    if gt is None:
        return
    if len(seq.frames) != len(gt.frames):
        raise PredictionWriteError(
            f"{path}: predictions have {len(seq.frames)} frames but the GT sequence {gt.name} has {len(gt.frames)}; "
            "list every GT frame in the GT order"
        )
    for i, (f, g) in enumerate(zip(seq.frames, gt.frames)):
        if Path(f.file_name).name != Path(g.file_name).name:
            raise PredictionWriteError(
                f"{path}: frame {i} is {f.file_name} but the GT has {g.file_name} there; keep the GT frame order"
            )


def _track_ids(frame: Frame, where: str) -> list[int]:
    """Given ids kept; persons without one get the smallest unused integers of the frame."""
    given = [p.track_id for p in frame.persons if p.track_id is not None]
    for tid in given:
        if isinstance(tid, bool) or not isinstance(tid, (int, np.integer)):
            raise PredictionWriteError(f"{where}: track_id {tid!r} is not an integer")
    if len(set(given)) != len(given):
        dup = next(t for t in given if given.count(t) > 1)
        raise PredictionWriteError(f"{where}: track_id {dup} appears twice in one frame")
    used = {int(t) for t in given}
    out, nxt = [], 0
    for p in frame.persons:
        if p.track_id is not None:
            out.append(int(p.track_id))
            continue
        while nxt in used:
            nxt += 1
        used.add(nxt)
        out.append(nxt)
    return out


def _checked_person(p: Person, where: str, k: int = NUM_JOINTS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    kp = np.asarray(p.keypoints, dtype=np.float64).reshape(k, 3)
    present = np.asarray(p.present, dtype=bool).reshape(k)
    if p.scores is None:
        raise PredictionWriteError(f"{where}: predicted person has no joint scores (Person.scores); AP needs them")
    scores = np.asarray(p.scores, dtype=np.float64).reshape(k)
    if not np.isfinite(kp[present, :2]).all():
        raise PredictionWriteError(f"{where}: a present joint has a NaN or infinite coordinate")
    if not np.isfinite(scores[present]).all():
        raise PredictionWriteError(f"{where}: a present joint has a NaN or infinite score")
    return kp, present, scores


def _image_id(frame: Frame, frame_pos: int) -> int:
    if frame.image_id is not None:
        return int(frame.image_id)
    return frame_pos  # only when the frames carry no id of their own


def _flat_keypoints(kp: np.ndarray, present: np.ndarray) -> list[float]:
    out = np.zeros((NUM_JOINTS, 3))
    out[present, :2] = kp[present, :2]
    out[present, 2] = 1.0  # absent joints stay 0, 0, 0: the PoseTrack18 rule for "absent"
    return [float(v) for v in out.ravel()]


def posetrack18_document(sequence: Sequence, gt: Sequence | None = None, path: str | Path = "<memory>") -> dict:
    """The JSON object ``write_posetrack18`` writes (useful to keep in memory)."""
    path = Path(path)
    _check_against_gt(sequence, gt, path)
    images, annotations = [], []
    ann_id = 0
    for i, frame in enumerate(sequence.frames):
        image_id = _image_id(frame, i)
        image: dict[str, Any] = {"file_name": frame.file_name, "id": image_id, "frame_id": image_id}
        image["is_labeled"] = bool(frame.is_labeled)
        if sequence.nframes is not None:
            image["nframes"] = int(sequence.nframes)
        if sequence.vid_id is not None:
            image["vid_id"] = sequence.vid_id
        images.append(image)
        where = f"{path}: frame {i} ({frame.file_name})"
        for person, tid in zip(frame.persons, _track_ids(frame, where)):
            kp, present, scores = _checked_person(person, where)
            ann: dict[str, Any] = {
                "image_id": image_id,
                "id": ann_id,
                "category_id": 1,
                "track_id": tid,
                "keypoints": _flat_keypoints(kp, present),
                "scores": [float(s) if present[k] else 0.0 for k, s in enumerate(scores)],
            }
            if person.bbox is not None:
                ann["bbox"] = [float(v) for v in np.asarray(person.bbox).ravel()[:4]]
            if person.score is not None:
                ann["score"] = float(person.score)
            annotations.append(ann)
            ann_id += 1
    return {"images": images, "annotations": annotations, "categories": posetrack18_categories()}


def write_posetrack18(path: str | Path, sequence: Sequence, gt: Sequence | None = None) -> Path:
    """Write one PoseTrack18 prediction file; returns the path."""
    path = Path(path)
    write_json(path, posetrack18_document(sequence, gt, path))
    return path


def write_posetrack21(path: str | Path, sequence: Sequence, gt: Sequence | None = None) -> Path:
    """PoseTrack21 prediction files have the PoseTrack18 layout (absent joints are 0, 0, 0,
    which the PoseTrack21 rule x > 0 and y > 0 also reads as absent)."""
    return write_posetrack18(path, sequence, gt)


def posetrack17_document(sequence: Sequence, gt: Sequence | None = None, path: str | Path = "<memory>") -> dict:
    path = Path(path)
    _check_against_gt(sequence, gt, path)
    annolist = []
    for i, frame in enumerate(sequence.frames):
        where = f"{path}: frame {i} ({frame.file_name})"
        rects = []
        for person, tid in zip(frame.persons, _track_ids(frame, where)):
            kp, present, scores = _checked_person(person, where)
            points = [
                {"id": [j], "x": [float(kp[slot, 0])], "y": [float(kp[slot, 1])], "score": [float(scores[slot])]}
                for j, slot in enumerate(PT17_TO_SLOT)
                if present[slot]
            ]
            rect: dict[str, Any] = {"track_id": [tid], "annopoints": [{"point": points}]}
            if person.bbox is not None:
                x, y, w, h = (float(v) for v in np.asarray(person.bbox).ravel()[:4])
                rect.update({"x1": [x], "y1": [y], "x2": [x + w], "y2": [y + h]})
            if person.score is not None:
                rect["score"] = [float(person.score)]
            rects.append(rect)
        annolist.append({"image": [{"name": frame.file_name}], "imgnum": [i + 1], "annorect": rects})
    return {"annolist": annolist}


def write_posetrack17(path: str | Path, sequence: Sequence, gt: Sequence | None = None) -> Path:
    """Write one PoseTrack17 annolist prediction file (15 joints, ids 0..14); returns the path."""
    path = Path(path)
    write_json(path, posetrack17_document(sequence, gt, path))
    return path


def coco_keypoints(
    kp: np.ndarray, present: np.ndarray, scores: np.ndarray, joints: JointSet = POSETRACK
) -> tuple[np.ndarray, np.ndarray]:
    """A person's joints (in ``joints``' order) as COCO's (17, 3) ``[x, y, score]`` rows in COCO's
    joint order, and which rows hold a joint.

    Joints map by name. From PoseTrack's slots, head_bottom and head_top have no COCO equivalent
    and COCO's eyes no PoseTrack equivalent, so those COCO rows stay 0, 0, 0 (as do absent
    joints). Without this mapping a COCO reader would take the head points for eyes.
    """
    rows = np.zeros((len(COCO_JOINT_NAMES), 3))
    written = np.zeros(len(COCO_JOINT_NAMES), dtype=bool)
    for coco_index, slot in enumerate(joints.indices_in(COCO)):
        if slot >= 0 and present[slot]:
            rows[coco_index, :2] = kp[slot, :2]
            rows[coco_index, 2] = scores[slot]
            written[coco_index] = True
    return rows, written


class CocoResultsWriter(JsonStream):
    """COCO keypoint results (a JSON list of ``{image_id, category_id, keypoints, score, track_id}``
    plus ``bbox`` when the person has one), streamed frame by frame into an atomic file.

    Keypoints are in COCO's order (``coco_keypoints``) with the joint score as the third value.
    ``score`` is ``Person.score``, or the mean score of the joints written when the person has
    none. ``digits`` rounds keypoints and boxes (None keeps full precision). Frames with persons
    need an ``image_id``: COCO results refer to images by id.
    """

    keypoint_names = COCO_JOINT_NAMES

    def __init__(self, path: str | Path, digits: int | None = None):
        super().__init__(path)
        self.digits = digits

    def _begin(self) -> None:
        self._write("[")

    def _end(self) -> None:
        self._write("\n]\n")

    def _numbers(self, values: np.ndarray) -> list[float]:
        values = np.asarray(values, dtype=np.float64).ravel()
        if self.digits is not None:
            values = np.round(values, self.digits)
        return [float(v) for v in values]

    def write_frame(self, frame: Frame, where: str, joints: JointSet = POSETRACK) -> None:
        """Append one entry per person of ``frame`` (joints in ``joints``' order, PoseTrack's slots
        by default); ``where`` starts every error message."""
        if frame.image_id is None and frame.persons:
            raise PredictionWriteError(f"{where}: frame has no image_id; COCO results refer to images by id")
        for person, tid in zip(frame.persons, _track_ids(frame, where)):
            kp, present, scores = _checked_person(person, where, len(joints))
            rows, written = coco_keypoints(kp, present, scores, joints)
            if person.score is not None:
                score = float(person.score)
            else:
                score = float(rows[written, 2].mean()) if written.any() else 0.0
            entry: dict[str, Any] = {
                "image_id": int(frame.image_id),
                "category_id": 1,
                "keypoints": self._numbers(rows),
                "score": score,
                "track_id": tid,
            }
            if person.bbox is not None:
                entry["bbox"] = self._numbers(np.asarray(person.bbox).ravel()[:4])
            self._item(entry)


def write_coco_results(path: str | Path, sequences: list[Sequence], digits: int | None = None) -> Path:
    """Write the persons of ``sequences`` as one COCO keypoint results file (see
    ``CocoResultsWriter``); returns the path."""
    path = Path(path)
    with CocoResultsWriter(path, digits) as out:
        for seq in sequences:
            for i, frame in enumerate(seq.frames):
                out.write_frame(frame, f"{path}: sequence {seq.name} frame {i} ({frame.file_name})")
    return path
