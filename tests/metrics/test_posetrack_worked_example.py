"""The protocol's worked example (checked there with the official tool), in both file formats."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pstpose.cli import main
from pstpose.keypoints import JOINT_INDEX, JOINT_NAMES, PT17_JOINT_NAMES
from pstpose.metrics import evaluate

# name -> (x, y, score)
GT_A = {"right_wrist": (100, 100), "left_wrist": (200, 100)}
GT_B = {"right_wrist": (500, 100), "left_wrist": (600, 100)}
PREDS = [
    {"right_wrist": (105, 100, 0.9), "left_wrist": (230, 100, 0.4)},
    {"right_wrist": (100, 110, 0.8), "left_wrist": (200, 105, 0.7)},
    {"right_wrist": (510, 100, 0.3), "left_wrist": (900, 900, 0.95)},
]
HEAD = (0, 0, 30, 40)


def _pt18_keypoints(joints: dict) -> list[float]:
    flat = [0.0] * 51
    for name, xy in joints.items():
        k = JOINT_INDEX[name]
        flat[3 * k : 3 * k + 3] = [xy[0], xy[1], 1]
    return flat


def _pt18_files(tmp_path):
    image = {
        "file_name": "images/val/000001_mpii_test/000000.jpg",
        "id": 10000010000,
        "frame_id": 10000010000,
        "is_labeled": True,
        "nframes": 1,
        "vid_id": "000001",
    }
    categories = [{"id": 1, "name": "person", "keypoints": list(JOINT_NAMES)}]
    x, y, x2, y2 = HEAD
    gt = {
        "images": [image],
        "categories": categories,
        "annotations": [
            {
                "image_id": 10000010000,
                "track_id": t,
                "bbox_head": [x, y, x2 - x, y2 - y],
                "keypoints": _pt18_keypoints(j),
            }
            for t, j in enumerate((GT_A, GT_B))
        ],
    }
    pred = {"images": [dict(image)], "categories": categories, "annotations": []}
    for t, p in enumerate(PREDS):
        scores = [0.0] * 17
        for name, (_, _, s) in p.items():
            scores[JOINT_INDEX[name]] = s
        pred["annotations"].append(
            {
                "image_id": 10000010000,
                "track_id": t,
                "scores": scores,
                "keypoints": _pt18_keypoints({n: v[:2] for n, v in p.items()}),
            }
        )
    return _write_pair(tmp_path, gt, pred)


def _pt17_files(tmp_path):
    def points(joints, with_score):
        out = []
        for name, v in joints.items():
            pt = {"id": [PT17_JOINT_NAMES.index(name)], "x": [v[0]], "y": [v[1]]}
            if with_score:
                pt["score"] = [v[2]]
            out.append(pt)
        return [{"point": out}]

    x1, y1, x2, y2 = HEAD
    gt = {
        "annolist": [
            {
                "image": [{"name": "images/bonn/000001_mpii/00000001.jpg"}],
                "annorect": [
                    {"x1": [x1], "y1": [y1], "x2": [x2], "y2": [y2], "track_id": [t], "annopoints": points(j, False)}
                    for t, j in enumerate((GT_A, GT_B))
                ],
            }
        ]
    }
    pred = {
        "annolist": [
            {
                "image": [{"name": "images/bonn/000001_mpii/00000001.jpg"}],
                "annorect": [
                    {"track_id": [t], "score": [1.0], "annopoints": points(p, True)} for t, p in enumerate(PREDS)
                ],
            }
        ]
    }
    return _write_pair(tmp_path, gt, pred)


def _write_pair(tmp_path, gt, pred):
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    (tmp_path / "gt" / "000001_mpii_test.json").write_text(json.dumps(gt))
    (tmp_path / "pred" / "000001_mpii_test.json").write_text(json.dumps(pred))
    return tmp_path / "gt", tmp_path / "pred"


@pytest.mark.parametrize("make_files, fmt", [(_pt18_files, "pt18"), (_pt17_files, "pt17")])
def test_worked_example(tmp_path, make_files, fmt):
    gt_dir, pred_dir = make_files(tmp_path)
    res = evaluate(gt_dir, pred_dir)
    assert res.mode == "posetrack" and res.gt_format == fmt and res.pred_format == fmt
    ap = res.per_joint("ap")
    assert ap["right_wrist"] == pytest.approx(200 / 3, abs=1e-9)  # 0.9 FP, 0.8 TP, 0.3 TP
    assert ap["left_wrist"] == pytest.approx(25.0, abs=1e-9)  # 0.95 FP, 0.7 TP, 0.4 FP
    summary = res.summary("ap")
    assert summary["Wrist"] == pytest.approx((200 / 3 + 25) / 2, abs=1e-9)  # 45.83
    assert summary["Mean"] == pytest.approx((200 / 3 + 25) / 15, abs=1e-9)  # 6.11
    assert round(summary["Mean"], 2) == 6.11 and round(summary["Wrist"], 2) == 45.83
    others = [v for k, v in ap.items() if k not in ("right_wrist", "left_wrist")]
    assert others == [0.0] * 13
    # Final precision/recall points: r_wrist 2 TP of 3 predictions, 2 GT; l_wrist 1 of 3, 2 GT.
    assert res.per_joint("precision")["right_wrist"] == pytest.approx(200 / 3)
    assert res.per_joint("recall")["right_wrist"] == pytest.approx(100.0)
    assert res.per_joint("precision")["left_wrist"] == pytest.approx(100 / 3)
    assert res.per_joint("recall")["left_wrist"] == pytest.approx(50.0)
    assert res.warnings == []


def test_worked_example_cli_prints_and_writes_the_same_numbers(tmp_path, capsys):
    gt_dir, pred_dir = _pt18_files(tmp_path)
    out, csv_path, md = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "r.md"
    assert (
        main(
            [
                "eval",
                "--gt",
                str(gt_dir),
                "--pred",
                str(pred_dir),
                "--out",
                str(out),
                "--csv",
                str(csv_path),
                "--markdown",
                str(md),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "mode: posetrack" in printed
    ap_row = next(line for line in printed.splitlines() if line.startswith("AP "))
    assert ap_row.split()[1:] == ["0.0", "0.0", "0.0", "45.8", "0.0", "0.0", "0.0", "6.1"]
    data = json.loads(out.read_text())
    assert data["summary"]["ap"]["Mean"] == pytest.approx((200 / 3 + 25) / 15, abs=1e-12)
    assert data["per_joint"]["right_wrist"]["ap"] == pytest.approx(200 / 3, abs=1e-12)
    assert data["per_joint"]["right_wrist"]["n_gt"] == 2
    assert "AP,0.0,0.0,0.0,45.8,0.0,0.0,0.0,6.1" in csv_path.read_text()
    assert "| AP | 0.0 | 0.0 | 0.0 | 45.8 | 0.0 | 0.0 | 0.0 | 6.1 |" in md.read_text()
    assert np.isclose(evaluate(gt_dir, pred_dir).mean_ap, data["summary"]["ap"]["Mean"])
