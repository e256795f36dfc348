"""Pose-tracking scores (``evaluate(..., tracking=True)``, ``pstpose eval --tracking``).

Evidence, from strongest to weakest: the official tool's own numbers on the files in
tests/data/posetrack_tracking (run there by run_official.py); a hand-worked case; an independent
loop transcription of the tool's data flow that feeds motmetrics' accumulators, on random tracks;
the accumulator alone against motmetrics on random event streams (ties included).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pstpose.cli import main
from pstpose.keypoints import JOINT_INDEX, PT17_JOINT_NAMES
from pstpose.metrics import EvaluationInputError, evaluate
from pstpose.metrics.posetrack_tracking import ClearMotAccumulator

CASES = Path(__file__).resolve().parents[1] / "data" / "posetrack_tracking"
OFFICIAL = json.loads((CASES / "expected_official.json").read_text())
# The tool's keys for our metric names.
TOOL_KEYS = {"mota": "mota", "motp": "motp", "precision": "pre", "recall": "rec"}
NOSE = PT17_JOINT_NAMES.index("nose")


def _close(got: np.ndarray, want: np.ndarray, tol: float = 1e-6) -> None:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=0, atol=tol)


def _official(fmt: str, run: str, key: str) -> tuple[np.ndarray, float]:
    values = OFFICIAL[fmt][run]["per_joint"][key]
    per_joint = np.array([np.nan if values[n] is None else values[n] for n in PT17_JOINT_NAMES], dtype=float)
    return per_joint, values["total"]


# --- the official tool's numbers ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pt18", "pt17"])
def test_equals_official_tool_output(fmt):
    res = evaluate(CASES / fmt / "gt", CASES / fmt / "pred", tracking=True)
    assert res.warnings == []
    for metric, key in TOOL_KEYS.items():
        per_joint, total = _official(fmt, "official", key)
        _close(getattr(res.tracking, metric), per_joint)
        assert res.tracking_summary(metric)["Mean"] == pytest.approx(total, abs=1e-6)
    # The same tool with motmetrics' events limited to MATCH/SWITCH/MISS/FP: CLEAR-MOT's MOTP.
    per_joint, total = _official(fmt, "matched_only_events", "motp")
    _close(res.tracking.motp_matched, per_joint)
    assert res.tracking_summary("motp_matched")["Mean"] == pytest.approx(total, abs=1e-6)
    assert res.tracking.motp_matched[NOSE] != pytest.approx(res.tracking.motp[NOSE], abs=1.0)


@pytest.mark.parametrize("fmt", ["pt18", "pt17"])
def test_printed_row_equals_official_printed_row(fmt):
    """The tool prints MOTA per group and Total, then MOTP, Prec, Rec Totals, one decimal."""
    res = evaluate(CASES / fmt / "gt", CASES / fmt / "pred", tracking=True)
    row = OFFICIAL[fmt]["official"]["printed_table"][2]
    tool = [float(v.strip(" \\")) for v in row.strip("& \\").split("&")]
    mota = res.tracking_summary("mota")
    ours = [*mota.values()] + [res.tracking_summary(m)["Mean"] for m in ("motp", "precision", "recall")]
    assert [f"{v:.1f}" for v in ours] == [f"{v:.1f}" for v in tool]


def test_cases_exercise_every_rule():
    """The pinned files must contain switches, misses, false positives, the empty-side rule and
    transfers, or equality with the tool would prove less than it seems."""
    res = evaluate(CASES / "pt18" / "gt", CASES / "pt18" / "pred", tracking=True)
    t = res.tracking
    assert (t.num_switches == 4).all()  # 2 after the crossing, 2 when ids move in sequence 3
    assert (t.num_misses > 0).all() and (t.num_false_positives > 0).all()
    assert t.scored_frames == 7 + 5 + 5  # counted frames minus each sequence's last
    assert t.num_objects[PT17_JOINT_NAMES.index("left_ankle")] < t.num_objects[NOSE]  # partial GT
    assert (t.motp_matched > t.motp).all()  # RAW and transfer events add to the tool's sum


# --- hand-worked case ---------------------------------------------------------------------------


def _person(pt, nose, tid, head=(0, 0, 30, 40)):
    return pt.make_person({"nose": nose}, head=head, scores={"nose": 0.9}, track_id=tid)


def _gt_pred_hand(pt):
    """GT A (track 1), B (track 2); head size 0.6 x |(30, 40)| = 30 px, so a nose matches within 15 px.

    frame 0: A (100,100), B (200,100); predictions 10 at (103,104), 20 at (200,120).
    frame 1: A (110,100), B (190,100); predictions 10 at (190,106), 20 at (110,103), 30 at (400,400).
    frame 2: the sequence's last counted frame, which the tool leaves out (a stray 40 there changes nothing).
    """
    gt = [
        [_person(pt, (100, 100), 1), _person(pt, (200, 100), 2)],
        [_person(pt, (110, 100), 1), _person(pt, (190, 100), 2)],
        [_person(pt, (120, 100), 1), _person(pt, (180, 100), 2)],
    ]
    pred = [
        [_person(pt, (103, 104), 10), _person(pt, (200, 120), 20)],
        [_person(pt, (190, 106), 10), _person(pt, (110, 103), 20), _person(pt, (400, 400), 30)],
        [_person(pt, (180, 100), 10), _person(pt, (500, 500), 40)],
    ]
    return [pt.make_sequence("000001_mpii_test", gt)], [pt.make_sequence("000001_mpii_test", pred)]


def test_hand_worked_case(pt):
    # frame 0: A-10 is 5 px (0.1667 head sizes): MATCH. B-20 is 20 px (0.667 > 0.5): B missed, 20 a FP.
    # frame 1: A's last partner 10 is 80 px away, so the assignment step runs on the allowed pairs
    #   A-20 (3 px, 0.1) and B-10 (6 px, 0.2): A switches (10 -> 20), B-10 is a plain MATCH; 30 is a FP.
    # objects 4, misses 1, switches 1, false positives 2, detections (matches + switches) 3.
    # MOTA = 100 (1 - (1 + 1 + 2) / 4) = 0;  precision = 100 * 3 / (3 + 2) = 60;  recall = 100 * 3 / 4 = 75.
    # CLEAR-MOT MOTP (matched pairs) = 100 (1 - (1/6 + 0.1 + 0.2) / 3) = 84.444...
    # The tool's MOTP sums every motmetrics event: the allowed pairs again (RAW: 1/6, 0.1, 0.2), ASCEND
    #   0.1 (A switched to the never-matched 20), TRANSFER 0.2 (10 went from A to B) and MIGRATE 0.2
    #   (B was never matched before): (2 (1/6 + 0.3) + 0.5) / 3 = 0.47778, MOTP = 52.222...
    # Only the nose has objects or detections: the other joints get MOTA, precision and recall NaN
    # and MOTP 0 (the tool's rule), so Total MOTP = 52.222 / 15 = 3.4815 while the other Totals
    # equal the nose's.
    gt, pred = _gt_pred_hand(pt)
    res = evaluate(gt, pred, tracking=True)
    t = res.tracking
    assert t.counts(NOSE) == {
        "num_objects": 4,
        "num_misses": 1,
        "num_false_positives": 2,
        "num_switches": 1,
        "num_detections": 3,
    }
    assert t.mota[NOSE] == pytest.approx(0.0, abs=1e-9)
    assert t.precision[NOSE] == pytest.approx(60.0, abs=1e-9)
    assert t.recall[NOSE] == pytest.approx(75.0, abs=1e-9)
    assert t.motp_matched[NOSE] == pytest.approx(100 * (1 - (1 / 6 + 0.3) / 3), abs=1e-9)
    assert t.motp[NOSE] == pytest.approx(100 * (1 - (2 * (1 / 6 + 0.3) + 0.5) / 3), abs=1e-9)
    assert t.motp[NOSE] == pytest.approx(52.2222222, abs=1e-6)
    others = np.arange(15) != NOSE
    assert np.isnan(t.mota[others]).all() and np.isnan(t.precision[others]).all() and (t.motp[others] == 0).all()
    mota = res.tracking_summary("mota")
    assert mota["Mean"] == pytest.approx(0.0, abs=1e-9)  # nanmean: the nose alone
    assert all(math.isnan(v) for k, v in mota.items() if k != "Mean")  # Head: plain mean with two NaN joints
    assert res.tracking_summary("motp")["Mean"] == pytest.approx(52.2222222 / 15, abs=1e-6)
    assert res.tracking_summary("precision")["Mean"] == pytest.approx(60.0)
    assert res.tracking_summary("recall")["Mean"] == pytest.approx(75.0)
    assert t.scored_frames == 2


def test_frame_without_predictions_counts_one_miss_and_one_fp_per_joint(pt):
    """The tool feeds such a frame as one object and one hypothesis that may not match, on every
    joint, whatever the number of GT persons."""
    gt, pred = _gt_pred_hand(pt)
    pred[0].frames[1].persons = []
    t = evaluate(gt, pred, tracking=True).tracking
    # Frame 0 as before (1 match, 1 miss, 1 FP on the nose); frame 1 gives +1 object/miss/FP everywhere.
    assert t.counts(NOSE) == {
        "num_objects": 3,
        "num_misses": 2,
        "num_false_positives": 2,
        "num_switches": 0,
        "num_detections": 1,
    }
    others = np.arange(15) != NOSE
    assert (t.num_objects[others] == 1).all() and (t.num_misses[others] == 1).all()
    assert (t.num_false_positives[others] == 1).all()
    assert t.mota[others] == pytest.approx(np.full(14, -100.0))


def test_single_counted_frame_sequence_is_left_out_with_a_warning(pt):
    gt, pred = _gt_pred_hand(pt)
    gt2, pred2 = _gt_pred_hand(pt)
    for seqs in (gt2, pred2):
        seqs[0].name = "000002_mpii_test"
        seqs[0].frames = seqs[0].frames[:1]
    alone = evaluate(gt, pred, tracking=True)
    both = evaluate(gt + gt2, pred + pred2, tracking=True)
    assert "sequence with one counted frame x1: 000002_mpii_test" in "\n".join(both.warnings)
    assert both.tracking.counts(NOSE) == alone.tracking.counts(NOSE)
    assert both.tracking.sequences == 1


# --- independent reference on random tracks -----------------------------------------------------


def _random_tracks(pt, rng, n_seq=3, n_frames=9, n_people=4, crowded=False):
    """Persons moving through a sequence; a tracker that misses, jitters, swaps ids and adds strays."""
    gts, preds = [], []
    for s in range(n_seq):
        pos = rng.uniform(0, 150 if crowded else 900, size=(n_people, 2))
        vel = rng.normal(0, 6, size=(n_people, 2))
        heads = rng.uniform(15, 40, size=n_people)
        ids = rng.permutation(50)[:n_people]  # predicted id of each person; swapped now and then
        next_id = 60
        g_frames, p_frames, polys = [], [], {}
        for f in range(n_frames):
            pos += vel
            g_persons, p_persons = [], []
            if rng.random() < 0.12:  # a frame the GT does not label
                g_frames.append([])
                p_frames.append([_person(pt, tuple(rng.uniform(0, 900, 2)), 99)])
                continue
            if rng.random() < 0.2:
                a, b = rng.choice(n_people, 2, replace=False)
                ids[a], ids[b] = ids[b], ids[a]
            if rng.random() < 0.1:
                ids[rng.integers(n_people)] = next_id
                next_id += 1
            for k in range(n_people):
                if rng.random() < 0.15:
                    continue
                grid = {n: pos[k] + rng.normal(0, 25, 2) for n in PT17_JOINT_NAMES if rng.random() < 0.8}
                cx, cy = pos[k]
                head = (cx, cy, cx + heads[k], cy + heads[k] * 0.75)
                g_persons.append(pt.make_person({n: tuple(v) for n, v in grid.items()}, head=head, track_id=int(k)))
                if rng.random() < 0.85:
                    joints = {
                        n: tuple(v + rng.normal(0, heads[k] * 0.3, 2)) for n, v in grid.items() if rng.random() < 0.9
                    }
                    scores = dict.fromkeys(joints, 0.5)
                    p_persons.append(pt.make_person(joints, scores=scores, track_id=int(ids[k])))
            for extra in range(int(rng.integers(0, 3))):
                joints = {n: tuple(rng.uniform(0, 900, 2)) for n in PT17_JOINT_NAMES if rng.random() < 0.5}
                p_persons.append(pt.make_person(joints, scores=dict.fromkeys(joints, 0.5), track_id=200 + extra))
            if rng.random() < 0.1:
                p_persons = []
            if rng.random() < 0.2 and g_persons:
                x0, y0 = rng.uniform(0, 700, 2)
                polys[f] = [[(x0, y0), (x0 + 250, y0), (x0 + 250, y0 + 200), (x0, y0 + 200)]]
            rng.shuffle(p_persons)
            g_frames.append(g_persons)
            p_frames.append(p_persons)
        gts.append(pt.make_sequence(f"{s:06d}_mpii_test", g_frames, polygons=polys))
        preds.append(pt.make_sequence(f"{s:06d}_mpii_test", p_frames))
    return gts, preds


def _visible_joints(pt, person, polygons) -> dict[int, tuple[float, float]]:
    out = {}
    for j, name in enumerate(PT17_JOINT_NAMES):
        slot = JOINT_INDEX[name]
        if person.present[slot]:
            x, y = (float(v) for v in person.keypoints[slot, :2])
            if not any(pt.winding_inside(x, y, poly) for poly in polygons):
                out[j] = (x, y)
    return out


def _reference(pt, gts, preds, threshold=0.5):
    """The tool's data flow in plain loops, with motmetrics doing the CLEAR-MOT bookkeeping."""
    mm = pytest.importorskip("motmetrics")
    mh = mm.metrics.create()
    keys = ["num_misses", "num_switches", "num_false_positives", "num_objects", "num_detections"]
    total = {k: np.zeros(15) for k in [*keys, "sum_all", "sum_matched"]}
    for g, p in zip(gts, preds):
        frames = []
        for gf, pf in zip(g.frames, p.frames):
            if not gf.persons:
                continue
            polygons = [np.asarray(poly).tolist() for poly in gf.ignore_regions]
            sides = []
            for persons in (gf.persons, pf.persons):
                rows = [(q.track_id, _visible_joints(pt, q, polygons), q.head_box) for q in persons]
                if polygons:  # the tool drops persons left without joints only in such frames
                    rows = [r for r in rows if r[1]]
                sides.append(rows)
            frames.append(sides)
        if len(frames) < 2:
            continue
        accs = [mm.MOTAccumulator(auto_id=True) for _ in range(15)]
        for gt_rows, pr_rows in frames[:-1]:
            for j, acc in enumerate(accs):
                if not gt_rows or not pr_rows:
                    acc.update([0], [0], [[np.nan]])
                    continue
                objs = [r for r in gt_rows if j in r[1]]
                hyps = [r for r in pr_rows if j in r[1]]
                dist = np.full((len(objs), len(hyps)), np.nan)
                for a, (_, gj, head) in enumerate(objs):
                    size = 0.6 * math.hypot(head[2] - head[0], head[3] - head[1])
                    for b, (_, pj, _) in enumerate(hyps):
                        d = math.hypot(gj[j][0] - pj[j][0], gj[j][1] - pj[j][1]) / size
                        if d <= threshold:
                            dist[a, b] = d
                acc.update([r[0] for r in objs], [r[0] for r in hyps], dist)
        for j, acc in enumerate(accs):
            summary = mh.compute(acc, metrics=keys, return_dataframe=False, name="acc")
            for k in keys:
                total[k][j] += summary[k]
            events = acc.events
            total["sum_all"][j] += events["D"].sum()
            total["sum_matched"][j] += events[events.Type.isin(["MATCH", "SWITCH"])]["D"].sum()
    obj = np.where(total["num_objects"] > 0, total["num_objects"], np.nan)
    det = total["num_detections"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "mota": 100 * (1 - (total["num_misses"] + total["num_switches"] + total["num_false_positives"]) / obj),
            "motp": np.where(det > 0, 100 * (1 - total["sum_all"] / det), 0.0),
            "motp_matched": np.where(det > 0, 100 * (1 - total["sum_matched"] / det), 0.0),
            "precision": 100
            * det
            / np.where(total["num_false_positives"] + det > 0, total["num_false_positives"] + det, np.nan),
            "recall": 100 * det / obj,
        }
    return out, total


@pytest.mark.parametrize("seed", range(8))
def test_matches_motmetrics_reference_on_random_tracks(pt, seed):
    rng = np.random.default_rng(seed)
    gts, preds = _random_tracks(pt, rng, crowded=seed % 2 == 1)
    res = evaluate(gts, preds, tracking=True)
    ref, counts = _reference(pt, gts, preds)
    t = res.tracking
    for metric in ("mota", "motp", "motp_matched", "precision", "recall"):
        _close(getattr(t, metric), ref[metric], tol=1e-9)
    np.testing.assert_array_equal(t.num_switches, counts["num_switches"])
    np.testing.assert_array_equal(t.num_objects, counts["num_objects"])
    if seed % 2 == 1:
        assert t.num_switches.sum() > 0  # crowded scenes must exercise identity changes


def test_accumulator_matches_motmetrics_event_by_event():
    mm = pytest.importorskip("motmetrics")
    mh = mm.metrics.create()
    keys = ["num_misses", "num_switches", "num_false_positives", "num_objects", "num_detections"]
    for seed in range(150):
        rng = np.random.default_rng(seed)
        ref, ours = mm.MOTAccumulator(auto_id=True), ClearMotAccumulator()
        for _ in range(int(rng.integers(1, 12))):
            objs = rng.choice(6, int(rng.integers(0, 5)), replace=False).tolist()
            hyps = rng.choice(8, int(rng.integers(0, 6)), replace=False).tolist()
            dist = rng.random((len(objs), len(hyps)))
            dist[rng.random(dist.shape) < rng.random()] = np.nan
            if seed % 3 == 0:
                dist = np.round(dist, 1)  # ties: the solver must break them as motmetrics' does
            ref.update(objs, hyps, dist)
            ours.update_matrix(objs, hyps, dist)
        want = mh.compute(ref, metrics=keys, return_dataframe=False, name="acc")
        got = [ours.misses, ours.switches, ours.false_positives, ours.objects, ours.matches + ours.switches]
        assert got == [int(want[k]) for k in keys], seed
        events = ref.events
        assert ours.event_distance == pytest.approx(events["D"].sum(), abs=1e-9)
        assert ours.matched_distance == pytest.approx(
            events[events.Type.isin(["MATCH", "SWITCH"])]["D"].sum(), abs=1e-9
        )


# --- inputs, CLI, outputs -------------------------------------------------------------------------


def _copy_case(tmp_path, edit) -> tuple[Path, Path]:
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    pred_dir.mkdir()
    for f in (CASES / "pt18" / "gt").glob("*.json"):
        (gt_dir / f.name).write_text(f.read_text())
        doc = json.loads((CASES / "pt18" / "pred" / f.name).read_text())
        if f.name == "000002_mpii_test.json":
            edit(doc)
        (pred_dir / f.name).write_text(json.dumps(doc))
    return gt_dir, pred_dir


def test_prediction_without_track_id_names_file_and_person(tmp_path):
    gt, pred = _copy_case(tmp_path, lambda doc: doc["annotations"][3].pop("track_id"))
    evaluate(gt, pred)  # AP does not need ids
    with pytest.raises(EvaluationInputError, match=r"pred/000002_mpii_test\.json: annotations\[3\].*no track_id"):
        evaluate(gt, pred, tracking=True)


def test_bad_and_duplicate_track_ids_are_errors(tmp_path, pt):
    gt, pred = _copy_case(tmp_path, lambda doc: doc["annotations"][2].update(track_id="seven"))
    with pytest.raises(EvaluationInputError, match=r"annotations\[2\]: predicted track_id is 'seven', not an integer"):
        evaluate(gt, pred, tracking=True)
    g, p = _gt_pred_hand(pt)
    p[0].frames[0].persons[1].track_id = 10
    with pytest.raises(EvaluationInputError, match="has predicted track_id 10 twice"):
        evaluate(g, p, tracking=True)
    g[0].frames[1].persons[0].track_id = None
    with pytest.raises(EvaluationInputError, match="GT person has no track_id"):
        evaluate(g, _gt_pred_hand(pt)[1], tracking=True)
    with pytest.raises(EvaluationInputError, match="no posetrack21 mode"):
        evaluate(*_gt_pred_hand(pt), mode="posetrack21", tracking=True)


def test_cli_prints_and_writes_tracking(tmp_path, capsys):
    gt, pred = CASES / "pt18" / "gt", CASES / "pt18" / "pred"
    out, csv_path, md = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "r.md"
    argv = ["eval", "--gt", str(gt), "--pred", str(pred), "--tracking"]
    assert main([*argv, "--out", str(out), "--csv", str(csv_path), "--markdown", str(md)]) == 0
    printed = capsys.readouterr().out
    res = evaluate(gt, pred, tracking=True)
    assert res.tracking_table() in printed and "Shou" in printed and "Ankl" in printed
    mota_line = next(line for line in printed.splitlines() if line.startswith("MOTA"))
    assert mota_line.split()[1:] == [f"{v:.1f}" for v in res.tracking_summary("mota").values()]
    doc = json.loads(out.read_text())
    official_mota, official_total = _official("pt18", "official", "mota")
    assert doc["tracking"]["summary"]["mota"]["Mean"] == pytest.approx(official_total, abs=1e-6)
    assert doc["tracking"]["per_joint"]["nose"]["mota"] == pytest.approx(official_mota[NOSE], abs=1e-6)
    assert doc["tracking"]["per_joint"]["nose"]["num_switches"] == 4
    assert doc["summary"]["ap"] == json.loads(json.dumps(res.to_dict()))["summary"]["ap"]  # AP still there
    assert "MOTA" in csv_path.read_text() and "| MOTA |" in md.read_text()
    assert main(["eval", "--gt", str(gt), "--pred", str(pred), "--out", str(out)]) == 0
    assert "tracking" not in json.loads(out.read_text())  # only on request
    assert "MOTA" not in capsys.readouterr().out
