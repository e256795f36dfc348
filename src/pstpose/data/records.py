"""The one in-memory form of a PoseTrack sequence, whatever file format it came from.

Readers (``pstpose.data.posetrack``) produce these; the evaluator, the training dataset and the
prediction writers consume them. Keypoints are always in the 17-slot PoseTrack18 order
(``pstpose.keypoints.JOINT_NAMES``), whatever the source format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pstpose.data.posetrack_common import frame_index_from_name


@dataclass
class Person:
    """One annotated (ground truth) or predicted person in one frame.

    keypoints: (17, 3) float64, x, y, v exactly as in the file (v is the visibility flag; for
        predictions it is usually 1). Absent joints hold whatever the file held (0, 0, 0).
    present: (17,) bool — the joint exists (the file's rule for absence applied by the reader).
    scores: (17,) float64 joint scores for predictions, or None when the file has none.
    """

    keypoints: np.ndarray
    present: np.ndarray
    track_id: int | None = None
    scores: np.ndarray | None = None
    bbox: np.ndarray | None = None  # [x, y, w, h]
    head_box: np.ndarray | None = None  # [x1, y1, x2, y2]
    score: float | None = None  # person / box score, if any
    extra: dict = field(default_factory=dict)


@dataclass
class Frame:
    """One frame of a sequence, in file order."""

    file_name: str  # relative to the dataset root, e.g. images/val/000342_mpii_test/000000.jpg
    frame_index: int  # 0-based position in the video (not in the file)
    persons: list[Person]
    is_labeled: bool = True
    image_id: int | None = None
    ignore_regions: list[np.ndarray] = field(default_factory=list)  # polygons, each (n, 2)
    width: int | None = None
    height: int | None = None


@dataclass
class Sequence:
    """A whole video sequence as read from one file."""

    name: str  # e.g. 000342_mpii_test
    frames: list[Frame]
    format: str  # "pt17" | "pt18" | "pt21"
    source: Path | None = None
    nframes: int | None = None  # frames in the video (files may list fewer)
    vid_id: str | None = None

    @property
    def labeled_frames(self) -> list[Frame]:
        return [f for f in self.frames if f.is_labeled]


# --- column form ---------------------------------------------------------------------------------
# A val set holds ~76k persons; one Python object per person costs more than the evaluation, so the
# readers fill these arrays and build ``Person`` records only when asked (``SequenceTable.to_sequence``).

TRACK_ID_OK, TRACK_ID_MISSING, TRACK_ID_INVALID = 0, 1, 2


@dataclass
class PersonTable:
    """Every person of one sequence as arrays, one row per person, in file order.

    Rows hold what ``Person`` holds: absent optional values are NaN rows with ``*_given`` False.
    ``track_state`` says whether a row's ``track_id`` is an integer (``TRACK_ID_OK``), missing,
    or not an integer (its value as written in ``invalid_track_ids``). A row is named in messages
    as ``origin_format.format(*origin[row])`` after ``where``, or by ``labels`` when given.
    """

    frame: np.ndarray  # (n,) int64 position of the row's frame in the sequence
    keypoints: np.ndarray  # (n, 17, 3)
    present: np.ndarray  # (n, 17) bool
    scores: np.ndarray  # (n, 17), NaN rows where not given
    scores_given: np.ndarray  # (n,) bool
    head_box: np.ndarray  # (n, 4) x1, y1, x2, y2, NaN rows where not given
    head_given: np.ndarray  # (n,) bool
    bbox: np.ndarray  # (n, 4) x, y, w, h, NaN rows where not given
    bbox_given: np.ndarray  # (n,) bool
    track_id: np.ndarray  # (n,) int64 (object when an id does not fit), 0 where not OK
    track_state: np.ndarray  # (n,) int8
    invalid_track_ids: dict[int, Any]
    where: str = ""
    origin: np.ndarray | None = None  # (n, k) int64 indices that locate the row in its file
    origin_format: str = ""  # e.g. "annotations[{0}]"
    labels: list[str | None] | None = None  # per-row names (tables built from records)
    score: list[float | None] | None = None  # person scores, kept for records only
    extras: list[dict] | None = None  # per-row Person.extra entries besides "where", for records only

    def __len__(self) -> int:
        return len(self.frame)

    def label(self, row: int) -> str | None:
        """How messages name the person of ``row`` (None for records built without one)."""
        if self.labels is not None:
            return self.labels[row]
        if self.origin is None:
            return None
        return f"{self.where}: " + self.origin_format.format(*(int(i) for i in self.origin[row]))

    @classmethod
    def from_persons(cls, persons: list[Person], frame: np.ndarray) -> PersonTable:
        """Columns of in-memory records (``frame``: each person's frame position)."""
        n = len(persons)
        if n == 0:
            return cls.empty()
        scores_given = np.fromiter((p.scores is not None for p in persons), dtype=bool, count=n)
        head_given = np.fromiter((p.head_box is not None for p in persons), dtype=bool, count=n)
        bbox_given = np.fromiter((p.bbox is not None for p in persons), dtype=bool, count=n)
        state = np.full(n, TRACK_ID_OK, dtype=np.int8)
        invalid: dict[int, Any] = {}
        ids: list[Any] = []
        for k, p in enumerate(persons):
            if "invalid_track_id" in p.extra:
                state[k] = TRACK_ID_INVALID
                invalid[k] = p.extra["invalid_track_id"]
                ids.append(0)
            elif p.track_id is None:
                state[k] = TRACK_ID_MISSING
                ids.append(0)
            else:
                ids.append(p.track_id)
        return cls(
            frame=np.asarray(frame, dtype=np.int64),
            keypoints=np.stack([p.keypoints for p in persons]),
            present=np.stack([p.present for p in persons]),
            scores=_stack_optional([p.scores for p in persons], (NUM_SLOTS,)),
            scores_given=scores_given,
            head_box=_stack_optional([p.head_box for p in persons], (4,)),
            head_given=head_given,
            bbox=_stack_optional([p.bbox for p in persons], (4,)),
            bbox_given=bbox_given,
            track_id=integer_column(ids),
            track_state=state,
            invalid_track_ids=invalid,
            labels=[p.extra.get("where") for p in persons],
            score=[p.score for p in persons],
            extras=[{k: v for k, v in p.extra.items() if k not in ("where", "invalid_track_id")} for p in persons],
        )

    @classmethod
    def empty(cls) -> PersonTable:
        return cls(
            frame=np.zeros(0, dtype=np.int64),
            keypoints=np.zeros((0, NUM_SLOTS, 3)),
            present=np.zeros((0, NUM_SLOTS), dtype=bool),
            scores=np.zeros((0, NUM_SLOTS)),
            scores_given=np.zeros(0, dtype=bool),
            head_box=np.zeros((0, 4)),
            head_given=np.zeros(0, dtype=bool),
            bbox=np.zeros((0, 4)),
            bbox_given=np.zeros(0, dtype=bool),
            track_id=np.zeros(0, dtype=np.int64),
            track_state=np.zeros(0, dtype=np.int8),
            invalid_track_ids={},
            labels=[],
            score=[],
            extras=[],
        )

    def person(self, row: int) -> Person:
        """The ``Person`` record of ``row`` (arrays are views into the table)."""
        person = Person(
            keypoints=self.keypoints[row],
            present=self.present[row],
            scores=self.scores[row] if self.scores_given[row] else None,
            bbox=self.bbox[row] if self.bbox_given[row] else None,
            head_box=self.head_box[row] if self.head_given[row] else None,
            score=self.score[row] if self.score is not None else None,
        )
        state = self.track_state[row]
        if state == TRACK_ID_OK:
            tid = self.track_id[row]
            person.track_id = tid if self.track_id.dtype == object else int(tid)
        elif state == TRACK_ID_INVALID:
            person.extra["invalid_track_id"] = self.invalid_track_ids[row]
        if self.extras is not None:
            person.extra.update(self.extras[row])
        label = self.label(row)
        if label is not None:
            person.extra["where"] = label
        return person


@dataclass
class SequenceTable:
    """A sequence in column form: frame facts as lists/arrays, persons as a ``PersonTable``.

    What the evaluator reads. ``n_listed`` counts the persons each frame lists in the file, also
    where a reader was asked to leave a frame's persons out of ``persons`` (frames that are not
    scored). ``ignore_regions`` holds only frames that have polygons.
    """

    name: str
    format: str
    file_names: list[str]
    is_labeled: np.ndarray  # (F,) bool
    image_ids: list[Any]
    ignore_regions: dict[int, list[np.ndarray]]
    n_listed: np.ndarray  # (F,) int64
    persons: PersonTable
    source: Path | None = None
    nframes: int | None = None
    vid_id: str | None = None
    first_frame_number: int = 0  # number of the video's first frame in file names (PoseTrack17: 1)
    frame_indices: list[int] | None = None  # when known; else derived from the file names
    widths: list[Any] | None = None
    heights: list[Any] | None = None

    @property
    def n_frames(self) -> int:
        return len(self.file_names)

    def to_sequence(self) -> Sequence:
        """The records form; persons keep their file order within each frame."""
        per_frame: list[list[Person]] = [[] for _ in self.file_names]
        table = self.persons
        for row, f in enumerate(table.frame.tolist()):
            per_frame[f].append(table.person(row))
        indices = self.frame_indices or [
            i if k is None else k
            for i, k in enumerate(frame_index_from_name(n, self.first_frame_number) for n in self.file_names)
        ]
        widths = self.widths or [None] * self.n_frames
        heights = self.heights or [None] * self.n_frames
        frames = [
            Frame(
                file_name=self.file_names[i],
                frame_index=indices[i],
                persons=per_frame[i],
                is_labeled=bool(self.is_labeled[i]),
                image_id=self.image_ids[i],
                ignore_regions=self.ignore_regions.get(i, []),
                width=widths[i],
                height=heights[i],
            )
            for i in range(self.n_frames)
        ]
        return Sequence(
            name=self.name,
            frames=frames,
            format=self.format,
            source=self.source,
            nframes=self.nframes,
            vid_id=self.vid_id,
        )

    @classmethod
    def from_sequence(cls, seq: Sequence) -> SequenceTable:
        """Column form of in-memory records (e.g. predictions built in Python, not read from files)."""
        persons = [p for f in seq.frames for p in f.persons]
        counts = np.fromiter((len(f.persons) for f in seq.frames), dtype=np.int64, count=len(seq.frames))
        return cls(
            name=seq.name,
            format=seq.format,
            file_names=[f.file_name for f in seq.frames],
            is_labeled=np.fromiter((bool(f.is_labeled) for f in seq.frames), dtype=bool, count=len(seq.frames)),
            image_ids=[f.image_id for f in seq.frames],
            ignore_regions={i: f.ignore_regions for i, f in enumerate(seq.frames) if len(f.ignore_regions)},
            n_listed=counts,
            persons=PersonTable.from_persons(persons, np.repeat(np.arange(len(seq.frames)), counts)),
            source=seq.source,
            nframes=seq.nframes,
            vid_id=seq.vid_id,
            frame_indices=[f.frame_index for f in seq.frames],
            widths=[f.width for f in seq.frames],
            heights=[f.height for f in seq.frames],
        )


NUM_SLOTS = 17  # keypoint slots of every record (pstpose.keypoints.NUM_JOINTS)


def integer_column(values: list[Any]) -> np.ndarray:
    """Python ints as int64, or as an object array when one does not fit (comparisons stay exact)."""
    if not values:
        return np.zeros(0, dtype=np.int64)
    if set(map(type, values)) <= {int}:  # bool, float, numpy scalars: kept as given
        try:
            return np.array(values, dtype=np.int64)
        except OverflowError:
            pass
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def _stack_optional(values: list[np.ndarray | None], shape: tuple[int, ...]) -> np.ndarray:
    empty = np.full(shape, np.nan)
    return np.stack([empty if v is None else v for v in values])
