"""Hand-worked cases for each rule of the protocol (numbers derived in the comments)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pstpose.keypoints import JOINT_INDEX
from pstpose.metrics import evaluate
from pstpose.metrics.posetrack_ap import voc_average_precision

HEAD = (0, 0, 30, 40)  # head size 0.6 * 50 = 30 px, threshold 15 px


def _seqs(pt, gt_frames, pred_frames, **kw):
    return [pt.make_sequence("s", gt_frames, **kw)], [pt.make_sequence("s", pred_frames)]


def _wrist(pt, x, y, score=None, head=None, tid=None):
    return pt.make_person(
        {"right_wrist": (x, y)}, head=head, scores=None if score is None else {"right_wrist": score}, track_id=tid
    )


# --- VOC all-point AP -------------------------------------------------------------------------


def test_voc_interpolation_fills_the_dip_by_hand():
    # Ranked labels 1,0,1,1,0 with 4 GT: precision 1, .5, .667, .75, .6; recall .25,.25,.5,.75,.75.
    # Interpolated from the right: 1, .75, .75, .75 at the recall steps .25, .5, .75 (the dip .5 at
    # rank 2 is lifted to .75); AP = .25*1 + .25*.75 + .25*.75 = 0.625 (raw curve would give .604).
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    labels = np.array([1, 0, 1, 1, 0], dtype=bool)
    ap, prec, rec = voc_average_precision(scores, labels, 4, recall_floor_one=False)
    assert ap == pytest.approx(62.5, abs=1e-12)
    assert prec == pytest.approx(60.0) and rec == pytest.approx(75.0)
    # Sorting is by score, not list order.
    perm = np.array([3, 0, 4, 1, 2])
    assert voc_average_precision(scores[perm], labels[perm], 4, False)[0] == pytest.approx(62.5, abs=1e-12)


def test_voc_dip_end_to_end(pt):
    # Four frames with one GT wrist each; predictions ranked .9 TP, .8 FP, .7 TP, .6 TP, .5 FP.
    gt = [[_wrist(pt, 100, 100, head=HEAD)] for _ in range(4)]
    pred = [
        [_wrist(pt, 101, 100, 0.9), _wrist(pt, 400, 400, 0.8, tid=1)],
        [_wrist(pt, 100, 101, 0.7)],
        [_wrist(pt, 99, 100, 0.6)],
        [_wrist(pt, 300, 100, 0.5)],
    ]
    res = evaluate(*_seqs(pt, gt, pred))
    assert res.per_joint("ap")["right_wrist"] == pytest.approx(62.5, abs=1e-12)


# --- matching and assignment ------------------------------------------------------------------


def test_threshold_is_inclusive(pt):
    gt = [[_wrist(pt, 100, 100, head=HEAD)], [_wrist(pt, 100, 100, head=HEAD)]]
    pred = [[_wrist(pt, 115, 100, 0.9)], [_wrist(pt, 100, 115.001, 0.8)]]  # 15 px: match; 15.001: not
    res = evaluate(*_seqs(pt, gt, pred))
    assert res.per_joint("recall")["right_wrist"] == 50.0
    assert res.per_joint("ap")["right_wrist"] == 50.0  # ranked TP, FP with 2 GT


def test_tied_pck_goes_to_the_first_prediction(pt):
    # GT A has both wrists; P1 matches only the right one, P2 only the left: pck 1/2 each, so A
    # takes P1 (lowest index). Right wrist: .9 TP, .3 FP -> 100; left wrist: .8 FP, .2 FP -> 0.
    a = pt.make_person({"right_wrist": (100, 100), "left_wrist": (200, 100)}, head=HEAD)
    p1 = pt.make_person(
        {"right_wrist": (100, 100), "left_wrist": (600, 100)},
        scores={"right_wrist": 0.9, "left_wrist": 0.2},
        track_id=1,
    )
    p2 = pt.make_person(
        {"right_wrist": (500, 100), "left_wrist": (200, 100)},
        scores={"right_wrist": 0.3, "left_wrist": 0.8},
        track_id=2,
    )
    res = evaluate(*_seqs(pt, [[a]], [[p1, p2]]))
    assert res.per_joint("ap")["right_wrist"] == 100.0 and res.per_joint("ap")["left_wrist"] == 0.0
    # The tool's tie rule depends on file order: swapping the two predictions swaps the outcome.
    res = evaluate(*_seqs(pt, [[a]], [[p2, p1]]))
    assert res.per_joint("ap")["right_wrist"] == 0.0 and res.per_joint("ap")["left_wrist"] == 100.0


def test_prediction_equally_close_to_two_gts_keeps_the_first(pt):
    # P and Q both match the right wrists of A and B (pck 1/2 with each): both keep A (first GT),
    # A takes P (first prediction), Q is left unassigned even though B is free: .9 TP, .8 FP -> 50.
    a = pt.make_person({"right_wrist": (100, 100), "left_wrist": (200, 100)}, head=HEAD)
    b = pt.make_person({"right_wrist": (103, 100), "left_wrist": (50, 300)}, head=HEAD)
    p = _wrist(pt, 101, 100, 0.9, tid=1)
    q = _wrist(pt, 102, 100, 0.8, tid=2)
    res = evaluate(*_seqs(pt, [[a, b]], [[p, q]]))
    assert res.per_joint("ap")["right_wrist"] == 50.0


# --- frames and persons that count ------------------------------------------------------------


def test_ignore_region_strictly_inside_dropped_border_kept(pt):
    square = [(0, 0), (100, 0), (100, 100), (0, 100)]
    g = pt.make_person({"right_wrist": (50, 50), "left_wrist": (100, 50), "head_top": (0, 0)}, head=HEAD)
    p = pt.make_person(
        {"right_wrist": (50, 51), "left_wrist": (100, 51), "head_top": (1, 0), "nose": (40, 40)},
        scores={"right_wrist": 0.9, "left_wrist": 0.8, "head_top": 0.7, "nose": 0.6},
        track_id=0,
    )
    res = evaluate(*_seqs(pt, [[g]], [[p]], polygons={0: [square]}))
    n_gt = {k: v["n_gt"] for k, v in res.to_dict()["per_joint"].items()}
    n_pred = {k: v["n_pred"] for k, v in res.to_dict()["per_joint"].items()}
    assert n_gt["right_wrist"] == 0 and n_pred["right_wrist"] == 0  # strictly inside: both deleted
    assert n_pred["nose"] == 0  # a prediction inside is deleted too (no false positive)
    assert n_gt["left_wrist"] == 1 and n_gt["head_top"] == 1  # on an edge / on a vertex: kept
    assert res.per_joint("ap")["left_wrist"] == 100.0 and res.per_joint("ap")["head_top"] == 100.0
    assert res.per_joint("ap")["right_wrist"] == 0.0


def test_frame_with_predictions_but_no_gt_after_ignore_regions(pt):
    # Frame 0: one GT wrist, predicted at .5. Frame 1: its only GT joint lies inside an ignore
    # region, so the frame still counts with no GT, and a prediction outside the region at .99 is
    # a false positive ranked first: .99 FP, .5 TP with 1 GT -> precision .5 at recall 1 -> AP 50.
    gt = [[_wrist(pt, 100, 100, head=HEAD)], [_wrist(pt, 50, 50, head=HEAD)]]
    pred = [[_wrist(pt, 100, 100, 0.5)], [_wrist(pt, 300, 300, 0.99)]]
    res = evaluate(*_seqs(pt, gt, pred, polygons={1: [[(0, 0), (100, 0), (100, 100), (0, 100)]]}))
    assert res.per_joint("ap")["right_wrist"] == 50.0
    assert res.stats.counted_frames == 2


def test_frame_whose_gt_lists_no_person_does_not_count(pt):
    gt = [[_wrist(pt, 100, 100, head=HEAD)], []]
    pred = [[_wrist(pt, 100, 100, 0.5)], [_wrist(pt, 300, 300, 0.99)]]
    res = evaluate(*_seqs(pt, gt, pred))
    assert res.per_joint("ap")["right_wrist"] == 100.0  # the .99 stray is in a frame that does not count
    assert res.stats.counted_frames == 1 and res.stats.ignored_pred_persons == 1
    # PoseTrack21 mode counts frames by is_labeled instead: the same stray is now a false positive.
    res21 = evaluate(*_seqs(pt, gt, pred, labeled=[True, True]), mode="posetrack21")
    assert res21.per_joint("ap")["right_wrist"] == 50.0
    res21 = evaluate(*_seqs(pt, gt, pred, labeled=[False, True]), mode="posetrack21")
    assert res21.per_joint("ap")["right_wrist"] == 0.0 and res21.joints.n_gt.sum() == 0


def test_negative_gt_coordinates_are_present(tmp_path):
    kp = [0.0] * 51
    kp[3 * JOINT_INDEX["head_top"] : 3 * JOINT_INDEX["head_top"] + 3] = [-5.0, -12.0, 0]  # above the image, v=0
    kp[3 * JOINT_INDEX["nose"] : 3 * JOINT_INDEX["nose"] + 3] = [20.0, 30.0, 1]
    image = {"file_name": "images/val/x/000000.jpg", "id": 1, "is_labeled": True}
    gt = {
        "images": [image],
        "annotations": [{"image_id": 1, "track_id": 0, "bbox_head": [0, 0, 30, 40], "keypoints": kp}],
    }
    pred_kp = list(kp)
    pred_kp[3 * JOINT_INDEX["head_top"] : 3 * JOINT_INDEX["head_top"] + 3] = [-4.0, -12.0, 1]
    pred = {
        "images": [image],
        "annotations": [{"image_id": 1, "track_id": 0, "keypoints": pred_kp, "scores": [0.5] * 17}],
    }
    for d, data in (("gt", gt), ("pred", pred)):
        (tmp_path / d).mkdir()
        (tmp_path / d / "x.json").write_text(json.dumps(data))
    res = evaluate(tmp_path / "gt", tmp_path / "pred")
    assert res.to_dict()["per_joint"]["head_top"]["n_gt"] == 1
    assert res.per_joint("ap")["head_top"] == 100.0
    # PoseTrack21 rule (x > 0 and y > 0): the same joint does not exist, for GT and prediction.
    res21 = evaluate(tmp_path / "gt", tmp_path / "pred", mode="posetrack21")
    assert res21.to_dict()["per_joint"]["head_top"]["n_gt"] == 0
    assert res21.to_dict()["per_joint"]["head_top"]["n_pred"] == 0
    assert res21.per_joint("ap")["nose"] == 100.0


def test_joint_without_gt_is_nan_or_zero_by_mode(pt):
    g = pt.make_person({"right_wrist": (100, 100)}, head=HEAD)
    p = pt.make_person({"right_wrist": (100, 100), "nose": (10, 10)}, scores={"right_wrist": 0.9, "nose": 0.8})
    res = evaluate(*_seqs(pt, [[g]], [[p]]))
    assert math.isnan(res.per_joint("ap")["nose"]) and math.isnan(res.per_joint("recall")["nose"])
    assert res.per_joint("precision")["nose"] == 0.0
    assert math.isnan(res.summary("ap")["Head"])  # a group with a NaN member is NaN
    assert res.summary("ap")["Mean"] == pytest.approx(100 / 14)  # nanmean over the other 14 joints
    assert res.to_dict()["per_joint"]["nose"]["ap"] is None  # JSON null
    res21 = evaluate(*_seqs(pt, [[g]], [[p]]), mode="posetrack21")
    assert res21.per_joint("ap")["nose"] == 0.0 and res21.per_joint("recall")["nose"] == 0.0
    assert res21.summary("ap")["Mean"] == pytest.approx(100 / 15)
    assert res21.summary("ap")["Head"] == 0.0


def test_missing_scores_rank_last_with_a_warning(pt):
    # P1 has no scores (-9999) and hits A; P2 scores -5 and misses. Ranked: P2 FP, P1 TP with 2 GT:
    # AP = 0.5 * 0.5 = 25. Were the missing score 0, P1 would rank first and AP would be 50.
    a = _wrist(pt, 100, 100, head=HEAD)
    b = _wrist(pt, 500, 100, head=HEAD)
    p1 = _wrist(pt, 100, 100, None, tid=0)
    p2 = _wrist(pt, 800, 100, -5.0, tid=1)
    res = evaluate(*_seqs(pt, [[a, b]], [[p1, p2]]))
    assert res.per_joint("ap")["right_wrist"] == 25.0
    assert len(res.warnings) == 1 and "without joint scores" in res.warnings[0] and "-9999" in res.warnings[0]
