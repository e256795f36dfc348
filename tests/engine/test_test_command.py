"""`pstpose test` end to end (tiny random model), trainer checkpoints as weights, and detection
files as person boxes (with the threshold checked by an oracle whose AP is known exactly)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pstpose.cli import main
from pstpose.config import to_dict
from pstpose.engine.eval_data import build_eval_dataset, detection_boxes, load_split
from pstpose.engine.evaluation import evaluate_model
from pstpose.engine.training_state import save_training_state
from pstpose.models.pstpose import build_model
from tests.engine.testrun_helpers import (
    OracleModel,
    make_tiny_dataset,
    oracle_data_config,
    tiny_experiment,
    tiny_experiment_dict,
    write_config,
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The tiny split, a config file for it, a random tiny model saved both ways, and a detection
    file made from the GT boxes: even samples score 0.9, odd ones 0.1."""
    base = tmp_path_factory.mktemp("testcmd")
    root = make_tiny_dataset(base / "data")
    config = write_config(base / "tiny.yaml", tiny_experiment_dict(root))
    cfg = tiny_experiment(root)
    torch.manual_seed(0)
    model = build_model(cfg.model).eval()
    model.save_pretrained(base / "weights")
    save_training_state(base / "last.pt", {"model": model.state_dict(), "config": to_dict(cfg), "epoch": 1})

    _, gt = load_split(cfg.data, "val")
    samples = build_eval_dataset(cfg.data, gt).samples
    detections = [
        {
            "image_id": s.image_id,
            "category_id": 1,
            "bbox": [float(v) for v in s.box],
            "score": 0.9 if i % 2 == 0 else 0.1,
        }
        for i, s in enumerate(samples)
    ]
    (base / "dets.json").write_text(json.dumps(detections))
    return {
        "root": root,
        "config": config,
        "cfg": cfg,
        "model": model,
        "base": base,
        "gt": gt,
        "gt_samples": samples,
        "dets": base / "dets.json",
    }


def test_cli_end_to_end_with_saved_weights(setup, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(
        [
            "test",
            str(setup["config"]),
            "--weights",
            str(setup["base"] / "weights"),
            "--out",
            str(out),
            "--no-flip",
            "--batch-size",
            "4",
            "--workers",
            "0",
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "mode: posetrack (official PoseTrack17/18 tool rules)" in printed
    assert "person boxes: ground truth" in printed and "flip test: off" in printed
    assert "joint score: heatmap peak" in printed and "decoding: dark" in printed

    saved = json.loads((out / "results.json").read_text())
    assert saved["conventions"]["flip_test"] is False and saved["conventions"]["person_boxes"] == "gt"
    assert saved["conventions"]["evaluation_mode"] == "posetrack" and saved["mode"] == "posetrack"
    assert saved["weights"] == str(setup["base"] / "weights")
    assert saved["model"] == to_dict(setup["cfg"].model)
    assert saved["samples"] == len(setup["gt_samples"]) and saved["counts"]["gt_persons"] == len(setup["gt_samples"])
    mean = saved["summary"]["ap"]["Mean"]
    assert mean is not None and 0.0 <= mean < 50.0  # an untrained model: complete run, low numbers
    assert sorted(p.name for p in (out / "predictions").iterdir()) == [f"{s.name}.json" for s in setup["gt"]]


def test_cli_detection_boxes_and_trainer_checkpoint(setup, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(
        [
            "test",
            str(setup["config"]),
            "--weights",
            str(setup["base"] / "last.pt"),
            "--boxes",
            str(setup["dets"]),
            "--box-threshold",
            "0.5",
            "--decode",
            "argmax",
            "--score-by-box",
            "--batch-size",
            "8",
            "--workers",
            "0",
            "--device",
            "cpu",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert f"person boxes: {setup['dets']} (score >= 0.5)" in printed and "flip test: on" in printed
    saved = json.loads((out / "results.json").read_text())
    kept = (len(setup["gt_samples"]) + 1) // 2
    assert saved["samples"] == kept  # the 0.1 boxes are dropped
    assert saved["conventions"]["box_score_threshold"] == 0.5
    assert saved["conventions"]["joint_score"] == "heatmap peak x box score"
    assert saved["conventions"]["decoding"] == "argmax" and saved["conventions"]["flip_test"] is True


def test_detection_threshold_with_an_oracle_gives_the_recall_of_the_kept_boxes(setup):
    gt = setup["gt"]
    data = oracle_data_config(setup["root"])
    box_map = detection_boxes(setup["dets"], gt, 0.5)
    twin = build_eval_dataset(data, gt, box_map)  # the samples evaluate_model will build, in its order
    by_box = {(s.sequence, s.frame_index, tuple(np.round(s.box, 4))): s for s in setup["gt_samples"]}
    owners = [by_box[(s.sequence, s.frame_index, tuple(np.round(s.box, 4)))] for s in twin.samples]
    indices = list(range(len(twin.samples)))
    joints = [(o.keypoints, o.present, np.ones(17)) for o in owners]

    def run(score_by_box):
        oracle = OracleModel(twin, indices, joints, data.heatmap_size)
        return evaluate_model(
            oracle,
            data,
            boxes=setup["dets"],
            box_score_threshold=0.5,
            flip=False,
            score_by_box=score_by_box,
            batch_size=8,
            workers=0,
        )

    report = run(False)
    assert report.samples == len(owners) == (len(setup["gt_samples"]) + 1) // 2
    from pstpose.keypoints import JOINT_INDEX

    for name, ap in report.result.per_joint("ap").items():
        j = JOINT_INDEX[name]
        total = sum(int(s.present[j]) for s in setup["gt_samples"])
        found = sum(int(o.present[j]) for o in owners)
        assert ap == pytest.approx(100.0 * found / total)  # no false positives: AP = recall
    persons = [p for s in report.predictions for f in s.frames for p in f.persons]
    assert all(p.score == pytest.approx(0.9) for p in persons)

    scaled = [p for s in run(True).predictions for f in s.frames for p in f.persons]
    for plain, by_box_person in zip(persons, scaled):
        np.testing.assert_allclose(by_box_person.scores, plain.scores * 0.9)


def test_user_errors_are_one_line(setup, tmp_path, capsys):
    base = [str(setup["config"]), "--workers", "0", "--device", "cpu"]
    assert main(["test", *base, "--weights", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "not found" in err and err.count("\n") == 1

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["test", *base, "--weights", str(setup["base"] / "weights"), "--boxes", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and err.count("\n") == 1

    assert (
        main(
            [
                "test",
                *base,
                "--weights",
                str(setup["base"] / "weights"),
                "--set",
                "data.input_size=[128,96]",
                "--set",
                "data.heatmap_size=[32,24]",
            ]
        )
        == 2
    )
    assert "data.input_size" in capsys.readouterr().err

    assert main(["test", *base, "--weights", str(setup["base"] / "weights"), "--split", "test"]) == 2
    assert "no annotations for split 'test'" in capsys.readouterr().err
