"""Clip sampling: which frames, which person box and which joints make one sample.

A sample is one person in one keyframe t: the frames t - d*xi .. t + d*xi (xi =
``frames_per_side``, d = ``dilation``), replicated at the video's ends, plus the keyframe person
box that defines the one crop used for every frame of the clip. Training samples come from
ground-truth persons; evaluation samples from a detection mapping or from ground truth.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pstpose.config import DataConfig
from pstpose.data.frames import FrameFileError, neighbour_file_name
from pstpose.data.records import Frame, Person, Sequence
from pstpose.keypoints import NUM_JOINTS


@dataclass(frozen=True)
class ClipSample:
    """Everything needed to load and crop one clip, before augmentation.

    ``frame_files`` are relative to the dataset root, keyframe in the middle. ``keypoints`` and
    ``present`` are the keyframe person's ground truth in image coordinates (None for a
    detection box, which has no ground truth attached).
    """

    sequence: str
    file_name: str
    frame_index: int
    image_id: int | None
    frame_indices: tuple[int, ...]
    frame_files: tuple[str, ...]
    box: np.ndarray  # (4,) float64 [x, y, w, h] in image pixels
    box_score: float
    track_id: int | None = None
    keypoints: np.ndarray | None = None  # (17, 3) float64
    present: np.ndarray | None = None  # (17,) bool

    @property
    def num_present(self) -> int:
        return 0 if self.present is None else int(np.count_nonzero(self.present))


def clip_frame_indices(keyframe_index: int, nframes: int, frames_per_side: int = 1, dilation: int = 1) -> list[int]:
    """Frame indices of the clip around ``keyframe_index``, clamped to ``0..nframes-1``.

    Clamping replicates the first/last frame at the video's ends, so a clip always has
    ``2 * frames_per_side + 1`` frames with the keyframe in the middle.
    """
    if nframes < 1:
        raise ValueError(f"a video needs at least one frame, got nframes={nframes}")
    if not 0 <= keyframe_index < nframes:
        raise ValueError(f"keyframe index {keyframe_index} is outside the video's 0..{nframes - 1}")
    if frames_per_side < 0 or dilation < 1:
        raise ValueError(f"need frames_per_side >= 0 and dilation >= 1, got {frames_per_side}, {dilation}")
    offsets = range(-frames_per_side, frames_per_side + 1)
    return [min(max(keyframe_index + dilation * k, 0), nframes - 1) for k in offsets]


def video_length(sequence: Sequence) -> int:
    """Frames in the video: ``nframes`` from the file, never fewer than the frames it lists."""
    listed = max((f.frame_index for f in sequence.frames), default=-1) + 1
    return max(sequence.nframes or 0, listed)


def naming_format(sequence: Sequence, config: DataConfig) -> str:
    return sequence.format if config.format == "auto" else config.format


def clip_file_names(sequence: Sequence, frame: Frame, indices: Iterable[int], fmt: str | None) -> tuple[str, ...]:
    """File names of the clip frames: a frame the sequence lists keeps its listed name; the
    others are named from the keyframe's file name by frame number."""
    listed = {f.frame_index: f.file_name for f in sequence.frames}
    return tuple(
        listed[i] if i in listed else neighbour_file_name(frame.file_name, frame.frame_index, i, fmt) for i in indices
    )


def _valid_box(box) -> np.ndarray | None:
    if box is None:
        return None
    arr = np.asarray(box, dtype=np.float64).reshape(-1)
    if arr.shape != (4,) or not np.isfinite(arr).all() or arr[2] <= 0 or arr[3] <= 0:
        return None
    return arr


def clip_box_to_image(box: np.ndarray, width: int | None, height: int | None) -> np.ndarray | None:
    """Intersect an xywh box with the image (when its size is known); None if nothing is left."""
    if width is None or height is None:
        return box
    x1, y1 = max(box[0], 0.0), max(box[1], 0.0)
    x2, y2 = min(box[0] + box[2], width - 1.0), min(box[1] + box[3], height - 1.0)
    if x2 <= x1 or y2 <= y1:
        return None
    return np.array([x1, y1, x2 - x1, y2 - y1])


def keypoint_extent_box(keypoints: np.ndarray, present: np.ndarray, enlarge: float) -> np.ndarray | None:
    """Box around the present joints, enlarged about its centre; None below two distinct joints."""
    pts = np.asarray(keypoints, dtype=np.float64)[np.asarray(present, dtype=bool), :2]
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) < 2:
        return None
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    size = (hi - lo) * enlarge
    if size.max() <= 0:
        return None
    size = np.maximum(size, 1.0)  # a line of joints still gets a (thin) box; padding fixes the aspect
    centre = (lo + hi) / 2.0
    return np.array([centre[0] - size[0] / 2, centre[1] - size[1] / 2, size[0], size[1]])


def ground_truth_box(person: Person, frame: Frame, config: DataConfig) -> np.ndarray | None:
    """The annotation bbox (clipped to the image) or, without one, the enlarged joint extent."""
    box = _valid_box(person.bbox)
    if box is not None:
        box = clip_box_to_image(box, frame.width, frame.height)
    if box is None:
        box = keypoint_extent_box(person.keypoints, person.present, config.keypoint_box_enlarge)
    return box


def _present_mask(person: Person) -> np.ndarray:
    present = np.asarray(person.present, dtype=bool).reshape(-1)
    if present.shape != (NUM_JOINTS,):
        raise ValueError(f"person has a present mask of shape {present.shape}, expected ({NUM_JOINTS},)")
    return present


def _clip_for(
    sequence: Sequence, frame: Frame, config: DataConfig, nframes: int
) -> tuple[tuple[int, ...], tuple[str, ...]]:
    indices = tuple(clip_frame_indices(frame.frame_index, nframes, config.frames_per_side, config.dilation))
    return indices, clip_file_names(sequence, frame, indices, naming_format(sequence, config))


def ground_truth_samples(
    sequences: Iterable[Sequence], config: DataConfig, skipped: Counter | None = None
) -> list[ClipSample]:
    """One sample per ground-truth person with at least ``config.min_joints`` present joints
    and a usable box, in every labeled frame. ``skipped`` (if given) counts the reasons."""
    skipped = skipped if skipped is not None else Counter()
    samples: list[ClipSample] = []
    for seq in sequences:
        nframes = video_length(seq)
        for frame in seq.labeled_frames:
            clip = None
            for person in frame.persons:
                present = _present_mask(person)
                if int(present.sum()) < config.min_joints:
                    skipped["too_few_joints"] += 1
                    continue
                box = ground_truth_box(person, frame, config)
                if box is None:
                    skipped["no_box"] += 1
                    continue
                clip = clip or _clip_for(seq, frame, config, nframes)
                samples.append(
                    ClipSample(
                        sequence=seq.name,
                        file_name=frame.file_name,
                        frame_index=frame.frame_index,
                        image_id=frame.image_id,
                        frame_indices=clip[0],
                        frame_files=clip[1],
                        box=box,
                        box_score=1.0,
                        track_id=person.track_id,
                        keypoints=np.asarray(person.keypoints, dtype=np.float64).reshape(NUM_JOINTS, 3),
                        present=present,
                    )
                )
    return samples


def _boxes_for(frame: Frame, boxes: Mapping) -> np.ndarray | None:
    for key in (frame.image_id, frame.file_name):
        if key is not None and key in boxes:
            arr = np.asarray(boxes[key], dtype=np.float64)
            if arr.size == 0:
                return np.zeros((0, 5))
            if arr.ndim != 2 or arr.shape[1] != 5:
                raise ValueError(
                    f"person boxes for image {key!r} have shape {arr.shape}, expected (N, 5) [x, y, w, h, score]"
                )
            return arr
    return None


def detection_samples(
    sequences: Iterable[Sequence], config: DataConfig, boxes: Mapping, skipped: Counter | None = None
) -> list[ClipSample]:
    """One sample per detection box with score >= ``config.box_score_threshold`` in every
    labeled frame. ``boxes`` maps image_id or file_name to an (N, 5) [x, y, w, h, score] array.
    Raises ValueError when no labeled frame has an entry (the keys do not match the data)."""
    skipped = skipped if skipped is not None else Counter()
    samples: list[ClipSample] = []
    matched = labeled = 0
    for seq in sequences:
        nframes = video_length(seq)
        for frame in seq.labeled_frames:
            labeled += 1
            dets = _boxes_for(frame, boxes)
            if dets is None:
                continue
            matched += 1
            clip = None
            for det in dets:
                box = _valid_box(det[:4])
                score = float(det[4])
                if box is None:
                    skipped["invalid_box"] += 1
                    continue
                if not score >= config.box_score_threshold:
                    skipped["low_score"] += 1
                    continue
                clip = clip or _clip_for(seq, frame, config, nframes)
                samples.append(
                    ClipSample(
                        sequence=seq.name,
                        file_name=frame.file_name,
                        frame_index=frame.frame_index,
                        image_id=frame.image_id,
                        frame_indices=clip[0],
                        frame_files=clip[1],
                        box=box,
                        box_score=score,
                    )
                )
    if labeled and not matched and len(boxes):
        raise ValueError(
            f"none of the {labeled} labeled frames has an entry in the person-box mapping "
            f"({len(boxes)} images); keys must be image ids or file names relative to the dataset root"
        )
    return samples


def missing_frame_files(samples: Iterable[ClipSample], root: str | Path) -> list[Path]:
    """Every clip frame path (root / file) that is not a file, each once, in sample order."""
    root = Path(root)
    seen: set[str] = set()
    missing: list[Path] = []
    for sample in samples:
        for name in sample.frame_files:
            if name in seen:
                continue
            seen.add(name)
            if not (root / name).is_file():
                missing.append(root / name)
    return missing


def check_frame_files(samples: list[ClipSample], root: str | Path) -> None:
    """Raise FrameFileError naming the first missing frames (and how many) if any is missing."""
    missing = missing_frame_files(samples, root)
    if missing:
        shown = ", ".join(str(p) for p in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise FrameFileError(f"{len(missing)} clip frame file(s) missing: {shown}{more}")
