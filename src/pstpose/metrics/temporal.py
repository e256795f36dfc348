"""Temporal metrics: keypoint error against the joint's true speed, and jitter.

AP says whether a joint was found; it does not say whether fast joints are found as well as slow
ones, or whether a prediction trembles from frame to frame. These metrics need ground truth on
consecutive frames (dense labels, as the synthetic generator writes for its train split):

* **error by speed**: each matched joint's distance to the truth (pixels), binned by the joint's
  true speed ``|g_t - g_{t-1}|`` (pixels per frame, on consecutive labelled frames of one person);
* **acceleration error**: ``|(p_{t+1} - 2 p_t + p_{t-1}) - (g_{t+1} - 2 g_t + g_{t-1})|`` (pixels
  per frame²), the jitter measure of the video-pose smoothing literature, over joints present in
  three consecutive labelled frames of one person;
* **acceleration**: the same without ground truth, ``|p_{t+1} - 2 p_t + p_{t-1}|`` along each
  predicted track (for videos without dense labels).

Predicted persons are matched to GT persons frame by frame (Hungarian assignment on the mean
distance over joints both have; a match further than ``max_match_px`` is no match), so the metrics
take any prediction file, tracked or not; the GT track ids carry the identity across frames.
Uncertainty helpers (a t interval over seeds, a paired bootstrap over sequences) sit beside them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field

import numpy as np

from pstpose.data.records import Person, Sequence

DEFAULT_SPEED_BINS: tuple[float, ...] = (0.0, 2.0, 5.0, 10.0, 20.0, math.inf)
DEFAULT_MAX_MATCH_PX = 50.0


@dataclass
class MatchedTrack:
    """One GT person's labelled frames, with its matched prediction where there was one.

    ``gt`` and ``pred`` are (T, J, 2); ``gt_has`` / ``pred_has`` (T, J) say which joints exist;
    ``frames`` are the frames' positions in the sequence (consecutive when they differ by 1).
    """

    sequence: str
    track_id: int
    frames: np.ndarray
    gt: np.ndarray
    gt_has: np.ndarray
    pred: np.ndarray
    pred_has: np.ndarray


@dataclass
class TemporalResult:
    bins: tuple[float, ...]
    error_by_speed: list[dict]  # one row per bin: lo, hi, joints, mean_error_px
    acceleration_error: float  # mean, px/frame^2 (NaN when no triple was found)
    acceleration_error_count: int
    acceleration: float  # GT-free, along matched predictions
    per_sequence: dict[str, dict[str, float]] = field(default_factory=dict)

    def table(self) -> str:
        """The text ``pstpose eval --temporal`` prints."""
        lines = ["keypoint error by true joint speed (matched joints, consecutive labelled frames)"]
        lines.append(f"{'speed px/frame':>16} {'joints':>8} {'error px':>9}")
        for row in self.error_by_speed:
            hi = "inf" if row["hi"] is None else f"{row['hi']:g}"
            err = "-" if row["mean_error_px"] is None else f"{row['mean_error_px']:.2f}"
            lines.append(f"{row['lo']:>7g} - {hi:<6} {row['joints']:>8} {err:>9}")
        if self.acceleration_error_count:
            lines.append(
                f"acceleration error {self.acceleration_error:.3f} px/frame^2 over {self.acceleration_error_count} "
                f"joint triples; predicted acceleration {self.acceleration:.3f} px/frame^2"
            )
        else:
            lines.append("acceleration error: no three consecutive labelled frames of one person")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "speed_bins_px_per_frame": [b if math.isfinite(b) else None for b in self.bins],
            "error_by_speed": self.error_by_speed,
            "acceleration_error_px": _json_number(self.acceleration_error),
            "acceleration_error_count": self.acceleration_error_count,
            "acceleration_px": _json_number(self.acceleration),
            "per_sequence": {k: {m: _json_number(v) for m, v in d.items()} for k, d in self.per_sequence.items()},
        }


def _json_number(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _xy(person: Person) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(person.keypoints, dtype=np.float64)[:, :2], np.asarray(person.present, dtype=bool)


def match_frame(gt: list[Person], pred: list[Person], max_match_px: float = DEFAULT_MAX_MATCH_PX) -> dict[int, int]:
    """GT index → prediction index for one frame: the assignment of least total mean joint
    distance (joints both persons have), pairs further than ``max_match_px`` dropped."""
    from scipy.optimize import linear_sum_assignment

    if not gt or not pred:
        return {}
    cost = np.full((len(gt), len(pred)), 1e12)
    for i, g in enumerate(gt):
        gxy, ghas = _xy(g)
        for j, p in enumerate(pred):
            pxy, phas = _xy(p)
            both = ghas & phas
            if both.any():
                cost[i, j] = float(np.mean(np.linalg.norm(gxy[both] - pxy[both], axis=1)))
    rows, cols = linear_sum_assignment(cost)
    return {int(r): int(c) for r, c in zip(rows, cols) if cost[r, c] <= max_match_px}


def matched_tracks(
    gt: list[Sequence], pred: list[Sequence], max_match_px: float = DEFAULT_MAX_MATCH_PX
) -> list[MatchedTrack]:
    """Every GT person (by track id) through the labelled frames of its sequence, with matches."""
    preds = {s.name: s for s in pred}
    tracks: list[MatchedTrack] = []
    for seq in gt:
        pseq = preds.get(seq.name)
        rows: dict[int, list] = {}
        for position, frame in enumerate(seq.frames):
            if not frame.is_labeled:
                continue
            candidates = pseq.frames[position].persons if pseq is not None and position < len(pseq.frames) else []
            matches = match_frame(frame.persons, candidates, max_match_px)
            for gi, person in enumerate(frame.persons):
                if person.track_id is None:
                    continue
                gxy, ghas = _xy(person)
                if gi in matches:
                    pxy, phas = _xy(candidates[matches[gi]])
                else:
                    pxy, phas = np.zeros_like(gxy), np.zeros_like(ghas)
                rows.setdefault(person.track_id, []).append((position, gxy, ghas, pxy, phas))
        for track_id, items in sorted(rows.items()):
            tracks.append(
                MatchedTrack(
                    sequence=seq.name,
                    track_id=track_id,
                    frames=np.array([i[0] for i in items]),
                    gt=np.stack([i[1] for i in items]),
                    gt_has=np.stack([i[2] for i in items]),
                    pred=np.stack([i[3] for i in items]),
                    pred_has=np.stack([i[4] for i in items]),
                )
            )
    return tracks


def speed_and_error(track: MatchedTrack) -> tuple[np.ndarray, np.ndarray]:
    """(speed, error) of every joint at every frame that has a true speed and a prediction:
    frames t whose previous labelled frame is t - 1 and where GT has the joint at both and the
    prediction has it at t."""
    consecutive = np.diff(track.frames) == 1
    t = np.nonzero(consecutive)[0] + 1  # index of the later frame of each consecutive pair
    ok = track.gt_has[t] & track.gt_has[t - 1] & track.pred_has[t]
    speed = np.linalg.norm(track.gt[t] - track.gt[t - 1], axis=-1)
    error = np.linalg.norm(track.pred[t] - track.gt[t], axis=-1)
    return speed[ok], error[ok]


def _triples(track: MatchedTrack) -> np.ndarray:
    """Indices t of frames whose neighbours t - 1 and t + 1 are the adjacent labelled frames."""
    f = track.frames
    if len(f) < 3:
        return np.zeros(0, dtype=int)
    middle = np.arange(1, len(f) - 1)
    return middle[(f[middle] - f[middle - 1] == 1) & (f[middle + 1] - f[middle] == 1)]


def acceleration_errors(track: MatchedTrack) -> np.ndarray:
    """|accel_pred - accel_gt| per joint per frame, where both have the joint in all three frames."""
    t = _triples(track)
    if not len(t):
        return np.zeros(0)
    ok = (
        track.gt_has[t - 1]
        & track.gt_has[t]
        & track.gt_has[t + 1]
        & track.pred_has[t - 1]
        & track.pred_has[t]
        & track.pred_has[t + 1]
    )
    accel_p = track.pred[t + 1] - 2 * track.pred[t] + track.pred[t - 1]
    accel_g = track.gt[t + 1] - 2 * track.gt[t] + track.gt[t - 1]
    return np.linalg.norm(accel_p - accel_g, axis=-1)[ok]


def accelerations(track: MatchedTrack) -> np.ndarray:
    """|accel_pred| per joint per frame along the matched prediction (no ground truth used)."""
    t = _triples(track)
    if not len(t):
        return np.zeros(0)
    ok = track.pred_has[t - 1] & track.pred_has[t] & track.pred_has[t + 1]
    return np.linalg.norm(track.pred[t + 1] - 2 * track.pred[t] + track.pred[t - 1], axis=-1)[ok]


def temporal_metrics(
    gt: list[Sequence],
    pred: list[Sequence],
    bins: Seq[float] = DEFAULT_SPEED_BINS,
    max_match_px: float = DEFAULT_MAX_MATCH_PX,
) -> TemporalResult:
    """Error by true joint speed, acceleration error and acceleration over all sequences."""
    bins = tuple(float(b) for b in bins)
    if len(bins) < 2 or any(b >= c for b, c in itertools.pairwise(bins)):
        raise ValueError(f"speed bins must be increasing edges, got {bins}")
    tracks = matched_tracks(gt, pred, max_match_px)
    speeds, errors, acc_err, acc = [], [], [], []
    per_sequence: dict[str, dict[str, list]] = {}
    for track in tracks:
        s, e = speed_and_error(track)
        ae, a = acceleration_errors(track), accelerations(track)
        speeds.append(s)
        errors.append(e)
        acc_err.append(ae)
        acc.append(a)
        bucket = per_sequence.setdefault(track.sequence, {"error": [], "acceleration_error": [], "acceleration": []})
        bucket["error"].append(e)
        bucket["acceleration_error"].append(ae)
        bucket["acceleration"].append(a)
    speed = np.concatenate(speeds) if speeds else np.zeros(0)
    error = np.concatenate(errors) if errors else np.zeros(0)
    rows = []
    for lo, hi in itertools.pairwise(bins):
        inside = (speed >= lo) & (speed < hi)
        rows.append(
            {
                "lo": lo,
                "hi": hi if math.isfinite(hi) else None,
                "joints": int(inside.sum()),
                "mean_error_px": _json_number(float(error[inside].mean())) if inside.any() else None,
            }
        )
    all_acc_err = np.concatenate(acc_err) if acc_err else np.zeros(0)
    all_acc = np.concatenate(acc) if acc else np.zeros(0)
    summary = {name: {key: _mean(values) for key, values in bucket.items()} for name, bucket in per_sequence.items()}
    return TemporalResult(
        bins=bins,
        error_by_speed=rows,
        acceleration_error=_mean([all_acc_err]),
        acceleration_error_count=int(all_acc_err.size),
        acceleration=_mean([all_acc]),
        per_sequence=summary,
    )


def _mean(chunks: list[np.ndarray]) -> float:
    values = np.concatenate(chunks) if chunks else np.zeros(0)
    return float(values.mean()) if values.size else math.nan


# --- uncertainty ----------------------------------------------------------------------------------


def mean_interval(values: Seq[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student's t interval of the mean of independent runs (e.g. seeds)."""
    from scipy import stats

    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size == 1:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, df=x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def paired_bootstrap(
    a: dict[str, float], b: dict[str, float], samples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """(mean difference b − a, low, high) over the sequences both have, with a percentile
    bootstrap that resamples sequences (the unit that is independent), paired."""
    keys = sorted(k for k in a.keys() & b.keys() if math.isfinite(a[k]) and math.isfinite(b[k]))
    if not keys:
        return math.nan, math.nan, math.nan
    diff = np.array([b[k] - a[k] for k in keys])
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(diff), size=(samples, len(diff)))
    means = diff[draws].mean(axis=1)
    tail = (1 - confidence) / 2
    return float(diff.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))
