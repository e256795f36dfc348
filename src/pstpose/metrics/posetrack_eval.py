"""``evaluate``: PoseTrack per-joint AP (and, on request, tracking MOTA) of predictions against ground truth.

The one entry point behind ``pstpose eval`` and the Python API; both return the same numbers
because the CLI only formats this function's ``EvalResult``.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence as SequenceABC
from pathlib import Path

import numpy as np

from pstpose.data.posetrack import load_sequence, load_sequence_table, load_sequence_tables, load_sequences
from pstpose.data.records import Sequence, SequenceTable
from pstpose.metrics.diagnostics import Diagnostics, EvaluationInputError
from pstpose.metrics.posetrack_ap import assign_predictions, joint_metrics
from pstpose.metrics.posetrack_inputs import MODES, counted_frames, prepare, prepare_tracking
from pstpose.metrics.report import EvalResult

DEFAULT_MODE: dict[str, str] = {"pt17": "posetrack", "pt18": "posetrack", "pt21": "posetrack21"}
MATCH_THRESHOLD = 0.5  # distance / head size, inclusive


def read_sequences(source: str | Path | SequenceABC[Sequence], fmt: str, what: str) -> list[Sequence]:
    """A directory of per-sequence files, one file, or Sequence records, as a list of records."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            return load_sequences(path, format=fmt)
        if path.is_file():
            return [load_sequence(path, format=fmt)]
        raise FileNotFoundError(f"{path}: no such {what} directory or file")
    seqs = list(source)
    if not seqs:
        raise EvaluationInputError(f"no {what} sequences given")
    if not all(isinstance(s, Sequence) for s in seqs):
        raise TypeError(f"{what}: expected a directory, a file or a list of Sequence records")
    return seqs


def read_tables(
    source: str | Path | SequenceABC[Sequence], fmt: str, what: str, keep: Mapping[str, np.ndarray] | None = None
) -> list[Sequence] | list[SequenceTable]:
    """What ``evaluate`` reads: files as ``SequenceTable``s (``keep``: per sequence name, the
    frames whose persons to convert), in-memory records as they are."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            return load_sequence_tables(path, format=fmt, keep=keep)
        if path.is_file():
            return [load_sequence_table(path, format=fmt, keep=(keep or {}).get(path.stem))]
        raise FileNotFoundError(f"{path}: no such {what} directory or file")
    return read_sequences(source, fmt, what)


def _common_format(seqs: list[Sequence] | list[SequenceTable], what: str) -> str:
    formats = sorted({s.format for s in seqs})
    if len(formats) > 1:
        a = next(s for s in seqs if s.format == formats[0])
        b = next(s for s in seqs if s.format == formats[1])
        raise EvaluationInputError(
            f"mixed annotation formats in the {what}: {a.source or a.name} is {a.format} but "
            f"{b.source or b.name} is {b.format}; convert them to one version or force the format"
        )
    return formats[0]


def evaluate(
    gt: str | Path | SequenceABC[Sequence],
    pred: str | Path | SequenceABC[Sequence],
    mode: str | None = None,
    gt_format: str = "auto",
    pred_format: str = "auto",
    tracking: bool = False,
) -> EvalResult:
    """Per-joint AP, precision and recall of ``pred`` against ``gt``.

    ``gt``/``pred``: directories with one JSON per sequence (same file names), single files, or
    lists of ``Sequence`` (paired by ``name``). ``mode``: ``"posetrack"`` (official
    PoseTrack17/18 tool) or ``"posetrack21"`` (PoseTrack21 kit); by default chosen from the GT
    format. ``tracking=True`` adds the official tool's pose-tracking scores (``EvalResult.tracking``;
    ``posetrack`` mode only; every person in counted frames needs a track id). Raises
    ``EvaluationInputError`` / ``PoseTrackFormatError`` (ValueErrors naming the file and the fix)
    for inputs the official tools refuse; accepted problems become ``EvalResult.warnings``.
    """
    gt_seqs = read_tables(gt, gt_format, "GT")
    # Persons of frames the mode does not score are left unconverted (about half of a val set's
    # predictions); only decided when the checks below cannot fail first.
    keep = None
    if len({s.format for s in gt_seqs}) == 1 and (mode or DEFAULT_MODE[gt_seqs[0].format]) in MODES:
        rule = mode or DEFAULT_MODE[gt_seqs[0].format]
        keep = {s.name: counted_frames(s, rule) for s in gt_seqs}
    pred_seqs = read_tables(pred, pred_format, "prediction", keep)
    gt_fmt = _common_format(gt_seqs, "GT")
    pred_fmt = _common_format(pred_seqs, "predictions")
    mode = mode or DEFAULT_MODE[gt_fmt]
    if mode not in MODES:
        raise EvaluationInputError(f"unknown evaluation mode {mode!r}; use one of {', '.join(MODES)}")
    diag = Diagnostics()
    track_scores = None
    if tracking:
        if mode != "posetrack":
            raise EvaluationInputError(
                f"tracking evaluation follows the official PoseTrack17/18 tool; it has no {mode} mode "
                "(mode='posetrack' scores PoseTrack21 files with that tool's rules)"
            )
        from pstpose.metrics.posetrack_tracking import tracking_metrics

        arrays, stats, tracks = prepare_tracking(gt_seqs, pred_seqs, diag)
        track_scores = tracking_metrics(arrays, tracks, MATCH_THRESHOLD, diag)
    else:
        arrays, stats = prepare(gt_seqs, pred_seqs, mode, diag)
    labels = assign_predictions(arrays, MATCH_THRESHOLD)
    joints = joint_metrics(arrays, labels, recall_floor_one=mode == "posetrack21")
    return EvalResult(
        mode=mode,
        joints=joints,
        stats=stats,
        gt_format=gt_fmt,
        pred_format=pred_fmt,
        warnings=diag.lines(),
        tracking=track_scores,
    )
