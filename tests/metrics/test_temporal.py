"""Temporal metrics against hand-worked sequences and brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pstpose.data.records import Frame, Person, Sequence
from pstpose.metrics.temporal import (
    DEFAULT_SPEED_BINS,
    matched_tracks,
    mean_interval,
    paired_bootstrap,
    temporal_metrics,
)


def _person(xy: np.ndarray, track_id: int | None = None, present=None) -> Person:
    kp = np.zeros((17, 3))
    kp[:, :2] = xy
    kp[:, 2] = 1
    return Person(keypoints=kp, present=np.ones(17, bool) if present is None else present, track_id=track_id)


def _sequence(name: str, per_frame: list[list[Person]], labeled=None) -> Sequence:
    frames = [
        Frame(
            file_name=f"{name}/{t:06d}.jpg",
            frame_index=t,
            persons=p,
            is_labeled=True if labeled is None else labeled[t],
        )
        for t, p in enumerate(per_frame)
    ]
    return Sequence(name=name, frames=frames, format="pt18")


def _pose(offset: np.ndarray) -> np.ndarray:
    base = np.stack([np.arange(17) * 4.0 + 100, np.arange(17) * 2.0 + 100], axis=1)
    return base + offset


def test_constant_velocity_with_a_constant_offset():
    """Every joint moves 3 px/frame in x; the prediction is 2 px right of the truth everywhere:
    speed 3 for every joint after the first frame, error 2, zero acceleration error and zero
    predicted acceleration."""
    T = 8
    gt = _sequence("s", [[_person(_pose(np.array([3.0 * t, 0.0])), track_id=7)] for t in range(T)])
    pred = _sequence("s", [[_person(_pose(np.array([3.0 * t + 2.0, 0.0])))] for t in range(T)])
    result = temporal_metrics([gt], [pred], bins=(0, 2, 5, math.inf))
    rows = result.error_by_speed
    assert [r["joints"] for r in rows] == [0, 17 * (T - 1), 0]
    assert rows[1]["mean_error_px"] == pytest.approx(2.0)
    assert result.acceleration_error == pytest.approx(0.0, abs=1e-12)
    assert result.acceleration_error_count == 17 * (T - 2)
    assert result.acceleration == pytest.approx(0.0, abs=1e-12)


def test_known_jitter_gives_its_known_value():
    """Prediction = truth + (-1)^t * d in x: the predicted acceleration minus the true one is
    d - 2(-d) + d = 4d in magnitude at every middle frame."""
    d, T = 1.5, 9
    gt = _sequence("s", [[_person(_pose(np.array([2.0 * t, t * 0.5])), track_id=0)] for t in range(T)])
    pred = _sequence("s", [[_person(_pose(np.array([2.0 * t + d * (-1) ** t, t * 0.5])))] for t in range(T)])
    result = temporal_metrics([gt], [pred])
    assert result.acceleration_error == pytest.approx(4 * d)
    assert result.acceleration == pytest.approx(4 * d)  # the truth moves at constant velocity


def test_parabolic_motion_has_its_second_difference():
    gt = _sequence("s", [[_person(_pose(np.array([float(t * t), 0.0])), track_id=0)] for t in range(6)])
    result = temporal_metrics([gt], [gt])
    assert result.acceleration == pytest.approx(2.0)  # (t+1)^2 - 2t^2 + (t-1)^2 = 2
    assert result.acceleration_error == pytest.approx(0.0)


def test_sparse_labels_give_no_speed_and_no_acceleration():
    T = 12
    labeled = [t % 4 == 0 for t in range(T)]
    frames = [[_person(_pose(np.array([3.0 * t, 0.0])), track_id=0)] if labeled[t] else [] for t in range(T)]
    gt = _sequence("s", frames, labeled)
    result = temporal_metrics([gt], [gt])
    assert sum(r["joints"] for r in result.error_by_speed) == 0
    assert result.acceleration_error_count == 0 and math.isnan(result.acceleration_error)


def test_matching_follows_positions_not_list_order():
    """Two people; the prediction lists them in the other order in odd frames."""
    T = 5
    gt_frames, pred_frames = [], []
    for t in range(T):
        a, b = _pose(np.array([t * 1.0, 0.0])), _pose(np.array([300.0 - t, 50.0]))
        gt_frames.append([_person(a, 1), _person(b, 2)])
        pa, pb = _person(a + 1.0), _person(b - 1.0)
        pred_frames.append([pa, pb] if t % 2 == 0 else [pb, pa])
    tracks = matched_tracks([_sequence("s", gt_frames)], [_sequence("s", pred_frames)])
    assert [t.track_id for t in tracks] == [1, 2]
    assert np.allclose(tracks[0].pred - tracks[0].gt, 1.0)
    assert np.allclose(tracks[1].pred - tracks[1].gt, -1.0)


def test_speed_binning_against_a_brute_force_count():
    rng = np.random.default_rng(3)
    gt_frames, pred_frames = [], []
    position = np.zeros((17, 2)) + 200
    for _t in range(30):
        position = position + rng.normal(0, 6, size=(17, 2))
        present = rng.random(17) > 0.2
        gt_frames.append([_person(position.copy(), 0, present)])
        pred_frames.append([_person(position + rng.normal(0, 2, size=(17, 2)))])
    gt, pred = _sequence("s", gt_frames), _sequence("s", pred_frames)
    result = temporal_metrics([gt], [pred])
    counts = np.zeros(len(DEFAULT_SPEED_BINS) - 1, int)
    sums = np.zeros(len(counts))
    for t in range(1, 30):
        g0, g1, p1 = gt_frames[t - 1][0], gt_frames[t][0], pred_frames[t][0]
        for j in range(17):
            if g0.present[j] and g1.present[j]:
                speed = math.dist(g0.keypoints[j, :2], g1.keypoints[j, :2])
                k = next(i for i in range(len(counts)) if DEFAULT_SPEED_BINS[i] <= speed < DEFAULT_SPEED_BINS[i + 1])
                counts[k] += 1
                sums[k] += math.dist(p1.keypoints[j, :2], g1.keypoints[j, :2])
    assert [r["joints"] for r in result.error_by_speed] == counts.tolist()
    for row, n, s in zip(result.error_by_speed, counts, sums):
        if n:
            assert row["mean_error_px"] == pytest.approx(s / n)


def test_mean_interval_by_hand():
    mean, lo, hi = mean_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 * 1.0 / math.sqrt(3)  # t(0.975, df=2) * s / sqrt(n), s = 1
    assert (mean, lo, hi) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    assert math.isnan(mean_interval([5.0])[1])


def test_paired_bootstrap_of_a_constant_difference_is_that_difference():
    a = {f"s{i}": float(i) for i in range(10)}
    b = {k: v + 0.5 for k, v in a.items()}
    assert paired_bootstrap(a, b) == pytest.approx((0.5, 0.5, 0.5))
    diff, lo, hi = paired_bootstrap(a, {k: v + (1.0 if i % 2 else 0.0) for i, (k, v) in enumerate(a.items())})
    assert diff == pytest.approx(0.5) and lo < 0.5 < hi


def test_eval_command_reports_temporal_metrics(tmp_path, capsys):
    """`pstpose eval --temporal` on a dense synthetic sequence with predictions 2 px off in x:
    every row's error is 2 px, the acceleration error is 0, and --out holds the same numbers."""
    import json

    from pstpose.cli import main
    from pstpose.data.posetrack import load_sequences
    from pstpose.metrics.writers import write_posetrack18

    assert main(["synth", str(tmp_path / "ds"), "--videos", "1", "--val-videos", "1", "--frames", "6"]) == 0
    gt_dir = tmp_path / "ds" / "annotations" / "train"
    pred_dir = tmp_path / "pred"
    for seq in load_sequences(gt_dir):
        for frame in seq.frames:
            for person in frame.persons:
                person.keypoints = person.keypoints.copy()
                person.keypoints[:, 0] += 2.0
                person.scores = np.full(17, 0.9)
        write_posetrack18(pred_dir / f"{seq.name}.json", seq)
    capsys.readouterr()
    assert (
        main(["eval", "--gt", str(gt_dir), "--pred", str(pred_dir), "--temporal", "--out", str(tmp_path / "r.json")])
        == 0
    )
    printed = capsys.readouterr().out
    assert "keypoint error by true joint speed" in printed
    temporal = json.loads((tmp_path / "r.json").read_text())["temporal"]
    rows = [r for r in temporal["error_by_speed"] if r["joints"]]
    assert rows and all(r["mean_error_px"] == pytest.approx(2.0) for r in rows)
    assert temporal["acceleration_error_px"] == pytest.approx(0.0, abs=1e-9)
