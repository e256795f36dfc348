"""Input validation: each problem named with its file and fix, as an error or a warning."""

from __future__ import annotations

import json

import pytest

from pstpose.cli import main
from pstpose.data.posetrack import PoseTrackFormatError
from pstpose.metrics import EvaluationInputError, evaluate


def _kp(x=100.0, y=100.0):
    flat = [0.0] * 51
    flat[30:33] = [x, y, 1]  # right_wrist
    return flat


def _doc(n_frames=2, persons=1, scores=True, head=True, track_ids=None, name="seq"):
    images = [{"file_name": f"images/val/{name}/{i:06d}.jpg", "id": i, "is_labeled": True} for i in range(n_frames)]
    anns = []
    for i in range(n_frames):
        for k in range(persons):
            ann = {"image_id": i, "track_id": k if track_ids is None else track_ids[k], "keypoints": _kp(100 + 300 * k)}
            if scores:
                ann["scores"] = [0.5] * 17
            if head:
                ann["bbox_head"] = [0, 0, 30, 40]
            anns.append(ann)
    return {"images": images, "annotations": anns}


def _dirs(tmp_path, gt_docs: dict, pred_docs: dict):
    for sub, docs in (("gt", gt_docs), ("pred", pred_docs)):
        (tmp_path / sub).mkdir(exist_ok=True)
        for name, doc in docs.items():
            text = doc if isinstance(doc, str) else json.dumps(doc)
            (tmp_path / sub / f"{name}.json").write_text(text)
    return tmp_path / "gt", tmp_path / "pred"


def test_missing_prediction_file_is_an_error(tmp_path):
    gt, pred = _dirs(tmp_path, {"a": _doc(), "b": _doc()}, {"a": _doc()})
    with pytest.raises(EvaluationInputError, match=r"b\.json: no prediction file.*expected b\.json"):
        evaluate(gt, pred)


def test_frame_count_mismatch_is_an_error(tmp_path):
    gt, pred = _dirs(tmp_path, {"a": _doc(3)}, {"a": _doc(2)})
    with pytest.raises(EvaluationInputError, match=r"pred/a\.json: lists 2 frames but the GT file .*lists 3.*GT order"):
        evaluate(gt, pred)


def test_missing_scores_field_is_a_warning(tmp_path):
    gt, pred = _dirs(tmp_path, {"a": _doc(head=True, scores=False)}, {"a": _doc(scores=False)})
    res = evaluate(gt, pred)
    assert res.per_joint("ap")["right_wrist"] == 100.0
    assert any("without joint scores x2" in w and "pred/a.json: annotations[0]" in w for w in res.warnings)


@pytest.mark.parametrize(
    "ids, kind", [([3, 3], "duplicate"), (["x", 1], "not an integer"), ([1.5, 2], "not an integer")]
)
def test_track_id_problems_warn_in_posetrack_mode_and_fail_in_posetrack21(tmp_path, ids, kind):
    gt, pred = _dirs(tmp_path, {"a": _doc(persons=2)}, {"a": _doc(persons=2, track_ids=ids)})
    res = evaluate(gt, pred)
    assert res.per_joint("ap")["right_wrist"] == 100.0  # AP is unaffected
    assert any(kind.split()[0] in w and "a.json" in w for w in res.warnings)
    with pytest.raises(EvaluationInputError, match="a.json.*PoseTrack21 kit"):
        evaluate(gt, pred, mode="posetrack21")


def test_nan_coordinates_are_an_error(tmp_path):
    doc = _doc()
    doc["annotations"][1]["keypoints"][30] = float("nan")
    gt, pred = _dirs(tmp_path, {"a": _doc()}, {"a": json.dumps(doc)})  # json writes NaN literally
    with pytest.raises(EvaluationInputError, match=r"pred/a\.json: annotations\[1\] \(right_wrist\).*NaN"):
        evaluate(gt, pred)


def test_gt_person_without_head_box_is_an_error_only_with_joints(tmp_path):
    gt, pred = _dirs(tmp_path, {"a": _doc(head=False)}, {"a": _doc()})
    with pytest.raises(EvaluationInputError, match=r"gt/a\.json: annotations\[0\].*no head box.*bbox_head"):
        evaluate(gt, pred)
    doc = _doc()
    doc["annotations"].append({"image_id": 0, "track_id": 7, "keypoints": [0] * 51})  # no joints, no head box
    (tmp_path / "gt" / "a.json").write_text(json.dumps(doc))
    assert evaluate(gt, pred).per_joint("ap")["right_wrist"] == 100.0


def test_mixed_formats_are_an_error(tmp_path):
    pt17 = {"annolist": [{"image": [{"name": "x/00000001.jpg"}], "annorect": []}]}
    gt, pred = _dirs(tmp_path, {"a": _doc(), "b": pt17}, {"a": _doc(), "b": pt17})
    with pytest.raises(PoseTrackFormatError, match=r"mixed annotation formats: a\.json is pt18 but b\.json is pt17"):
        evaluate(gt, pred)


def test_extra_prediction_and_frame_order_warn(tmp_path):
    swapped = _doc()
    swapped["images"][0]["file_name"], swapped["images"][1]["file_name"] = (
        swapped["images"][1]["file_name"],
        swapped["images"][0]["file_name"],
    )
    gt, pred = _dirs(tmp_path, {"a": _doc()}, {"a": swapped, "zzz": _doc(name="zzz")})
    res = evaluate(gt, pred)
    text = "\n".join(res.warnings)
    assert "prediction without GT" in text and "zzz.json" in text
    assert "frame order differs from GT" in text and "000001.jpg sits where the GT has" in text


def test_cli_reports_errors_in_one_line(tmp_path, capsys):
    gt, pred = _dirs(tmp_path, {"a": _doc(3)}, {"a": _doc(2)})
    assert main(["eval", "--gt", str(gt), "--pred", str(pred)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pstpose eval: error:") and "lists 2 frames" in err[0]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.json").write_text("{not json")
    assert main(["eval", "--gt", str(gt), "--pred", str(tmp_path / "bad")]) == 2
    assert "bad/a.json: not valid JSON" in capsys.readouterr().err


def test_cli_format_and_mode_flags(tmp_path, capsys):
    gt, pred = _dirs(tmp_path, {"a": _doc()}, {"a": _doc()})
    assert main(["eval", "--gt", str(gt), "--pred", str(pred), "--mode", "posetrack21", "--format", "pt21"]) == 0
    out = capsys.readouterr().out
    assert "mode: posetrack21 (PoseTrack21 kit rules)" in out and "GT pt21" in out
    assert main(["eval", "--gt", str(gt), "--pred", str(pred), "--format", "pt17"]) == 2
    assert "format forced to pt17 but the file has no 'annolist'" in capsys.readouterr().err
