"""`evaluate_model` with an ORACLE model: heatmaps drawn at the ground-truth joints must come back as
the ground truth (100 AP, sub-pixel coordinates), a known corruption must cost a known AP, and
the written files must be complete and score the same as the in-memory predictions."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
from torch import nn

from pstpose.data.clips import ClipSample
from pstpose.data.posetrack import load_sequences
from pstpose.data.records import Frame, Person, Sequence
from pstpose.data.transforms import NO_AUGMENTATION
from pstpose.engine.eval_data import build_eval_dataset, data_for_model, load_split, select_samples
from pstpose.engine.evaluation import assemble_predictions, evaluate_model, write_predictions
from pstpose.keypoints import JOINT_INDEX
from pstpose.metrics.posetrack_eval import evaluate
from tests.engine.testrun_helpers import OracleModel, gt_joints, make_tiny_dataset, oracle_data_config


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = make_tiny_dataset(tmp_path_factory.mktemp("synthetic"))
    data = oracle_data_config(root)
    folder, gt = load_split(data, "val")
    dataset = build_eval_dataset(data, gt)
    return data, folder, gt, dataset


def _all_ap(result) -> list[float]:
    return list(result.per_joint("ap").values())


@pytest.mark.parametrize("flip", [False, True])
def test_oracle_heatmaps_give_the_ground_truth_back(split, tmp_path, flip):
    data, _folder, gt, dataset = split
    indices = list(range(len(dataset.samples)))
    oracle = OracleModel(dataset, indices, gt_joints(dataset.samples, indices), data.heatmap_size)
    report = evaluate_model(oracle, data, flip=flip, decode="dark", batch_size=3, workers=0, out_dir=tmp_path)

    assert oracle.cursor == len(indices) and report.samples == len(indices)
    assert oracle.flipped_calls == (3 if flip else 0)  # 8 samples in batches of 3, mirrored half included
    assert _all_ap(report.result) == [100.0] * 15
    assert report.metrics()["mAP"] == 100.0
    # Geometry end to end: the decoded joints are the GT joints to a small fraction of a pixel.
    errors = []
    for pred_seq, gt_seq in zip(report.predictions, gt):
        for pf, gf in zip(pred_seq.frames, gt_seq.frames):
            assert len(pf.persons) == len(gf.persons)
            for p, g in zip(pf.persons, gf.persons):
                errors.append(np.abs(p.keypoints[g.present, :2] - g.keypoints[g.present, :2]).max())
    assert 0 < len(errors) and max(errors) < 0.05


def test_argmax_decoding_is_within_half_a_heatmap_pixel(split):
    data, _, _gt, dataset = split
    indices = list(range(len(dataset.samples)))
    oracle = OracleModel(dataset, indices, gt_joints(dataset.samples, indices), data.heatmap_size)
    report = evaluate_model(oracle, data, flip=False, decode="argmax", batch_size=8, workers=0)
    predicted = {(s.name, f.frame_index): list(f.persons) for s in report.predictions for f in s.frames}
    ratios = []
    for index, sample in enumerate(dataset.samples):
        person = predicted[(sample.sequence, sample.frame_index)].pop(0)  # persons come in sample order
        matrix = dataset.crop_matrix(index, NO_AUGMENTATION)
        half_pixel = 0.5 * data.heatmap_stride / abs(matrix[0, 0])  # half a heatmap pixel, in image pixels
        error = np.abs(person.keypoints[sample.present, :2] - sample.keypoints[sample.present, :2]).max()
        ratios.append(error / half_pixel)
    assert max(ratios) <= 1.0 + 1e-9  # the integer peak of a Gaussian is within half a pixel per axis
    assert max(ratios) > 0.1  # and argmax really is coarser than DARK
    assert report.conventions["decoding"] == "argmax"


def test_one_displaced_low_scored_joint_costs_exactly_its_share(split):
    data, _, _gt, dataset = split
    indices = list(range(len(dataset.samples)))
    wrist = JOINT_INDEX["left_wrist"]
    joints = gt_joints(dataset.samples, indices)
    kp, present, amp = joints[0]
    kp, amp = kp.copy(), amp.copy()
    kp[wrist, :2] += (30.0, -25.0)  # far beyond half a head size
    amp[wrist] = 0.5  # scored below every correct wrist
    joints[0] = (kp, present, amp)
    assert present[wrist]
    oracle = OracleModel(dataset, indices, joints, data.heatmap_size)
    report = evaluate_model(oracle, data, flip=False, batch_size=8, workers=0)
    n = sum(int(s.present[wrist]) for s in dataset.samples)
    per_joint = report.result.per_joint("ap")
    # ranked last, one miss out of n: precision 1 up to recall (n-1)/n, so AP = (n-1)/n
    assert per_joint["left_wrist"] == pytest.approx(100.0 * (n - 1) / n)
    assert all(v == 100.0 for k, v in per_joint.items() if k != "left_wrist")
    assert report.metrics()["Wrist"] == pytest.approx((100.0 + 100.0 * (n - 1) / n) / 2)
    assert report.metrics()["mAP"] < 100.0


def test_written_files_are_complete_and_score_the_same(split, tmp_path):
    data, folder, gt, dataset = split
    indices = list(range(len(dataset.samples)))
    joints = [
        (kp + np.random.default_rng(i).normal(0, 2.0, kp.shape) * [1, 1, 0], present, amp)
        for i, (kp, present, amp) in enumerate(gt_joints(dataset.samples, indices))
    ]
    report = evaluate_model(
        OracleModel(dataset, indices, joints, data.heatmap_size),
        data,
        flip=False,
        batch_size=8,
        workers=0,
        out_dir=tmp_path,
        weights="oracle",
    )
    assert 0 < report.metrics()["mAP"] < 100.0  # jittered joints: some misses

    written = load_sequences(tmp_path / "predictions")
    assert [s.name for s in written] == [s.name for s in gt]
    for w, g in zip(written, gt):
        assert [f.file_name for f in w.frames] == [f.file_name for f in g.frames]  # every GT frame, GT order
        assert any(not f.persons for f in w.frames)  # unlabeled frames are listed, empty
        for frame in w.frames:
            ids = [p.track_id for p in frame.persons]
            assert ids == list(range(len(ids)))
            assert all(p.scores is not None and np.isfinite(p.scores).all() for p in frame.persons)
    from_files = evaluate(folder, tmp_path / "predictions")
    assert from_files.to_dict()["summary"] == report.result.to_dict()["summary"]

    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["summary"] == report.result.to_dict()["summary"]
    assert saved["conventions"] == {
        "person_boxes": "gt",
        "box_score_threshold": None,
        "joint_score": "heatmap peak",
        "flip_test": False,
        "decoding": "dark",
        "evaluation_mode": "posetrack",
        "max_samples": None,
        "track_ids": "per-frame index (no tracking)",
        "model_joints": None,  # a PoseTrack model: nothing mapped
        "precision": "fp32",
    }
    assert saved["weights"] == "oracle" and saved["dataset"]["split"] == "val"
    assert saved["samples"] == len(indices)


def test_max_samples_scores_whole_frames_only(split):
    data, _, _gt, dataset = split
    indices = select_samples(dataset.samples, 5)
    frames = Counter((dataset.samples[i].sequence, dataset.samples[i].frame_index) for i in indices)
    all_frames = Counter((s.sequence, s.frame_index) for s in dataset.samples)
    assert 0 < len(indices) <= 5 and all(all_frames[k] == v for k, v in frames.items())
    oracle = OracleModel(dataset, indices, gt_joints(dataset.samples, indices), data.heatmap_size)
    report = evaluate_model(oracle, data, flip=False, batch_size=8, workers=0, max_samples=5)
    assert report.samples == len(indices) and report.frames_with_samples == len(frames)
    assert report.result.stats.counted_frames == len(frames)  # the skipped frames do not count
    assert report.metrics()["mAP"] == 100.0
    assert report.conventions["max_samples"] == 5 and report.dataset["subset"] is True


def _sample(seq: str, frame: int) -> ClipSample:
    return ClipSample(
        sequence=seq,
        file_name=f"{seq}/{frame}.jpg",
        frame_index=frame,
        image_id=None,
        frame_indices=(frame,),
        frame_files=(f"{seq}/{frame}.jpg",),
        box=np.ones(4),
        box_score=1.0,
    )


def test_select_samples_spreads_whole_frames():
    # frames a0 (2 persons), a1 (1), a2 (3), b0 (2), b1 (1): 9 samples
    layout = [("a", 0), ("a", 0), ("a", 1), ("a", 2), ("a", 2), ("a", 2), ("b", 0), ("b", 0), ("b", 1)]
    samples = [_sample(s, f) for s, f in layout]
    assert select_samples(samples, None) == list(range(9))
    assert select_samples(samples, 9) == list(range(9))
    # stride ceil(9/4) = 3 -> frames a0, b0 (2 + 2 = 4 samples)
    assert select_samples(samples, 4) == [0, 1, 6, 7]
    # stride 3, cap 3: a0 (2), then b0 would exceed -> only a0
    assert select_samples(samples, 3) == [0, 1]
    # a frame larger than the cap is still kept alone (never an empty run)
    assert select_samples(samples, 1) == [0, 1]
    with pytest.raises(ValueError, match="max_samples"):
        select_samples(samples, 0)


def test_assembly_lists_every_frame_and_multiplies_box_scores():
    gt = [
        Sequence(
            name="s",
            format="pt18",
            frames=[
                Frame(file_name="s/0.jpg", frame_index=0, persons=[], is_labeled=False, image_id=10),
                Frame(file_name="s/1.jpg", frame_index=1, persons=[], image_id=11),
                Frame(file_name="s/2.jpg", frame_index=2, persons=[], image_id=12),
            ],
        )
    ]
    samples = [_sample("s", 1), _sample("s", 1), _sample("s", 2)]

    def person(score):
        return Person(
            keypoints=np.zeros((17, 3)), present=np.ones(17, bool), scores=np.full(17, 0.5), score=score, track_id=7
        )

    persons = {0: person(0.8), 1: person(0.4), 2: person(1.0)}
    plain = assemble_predictions(gt, samples, persons)
    by_box = assemble_predictions(gt, samples, persons, score_by_box=True)
    assert [f.file_name for f in plain[0].frames] == ["s/0.jpg", "s/1.jpg", "s/2.jpg"]
    assert [len(f.persons) for f in plain[0].frames] == [0, 2, 1]
    assert [f.is_labeled for f in plain[0].frames] == [False, True, True]
    assert [p.track_id for p in plain[0].frames[1].persons] == [0, 1]
    np.testing.assert_allclose(plain[0].frames[1].persons[1].scores, 0.5)
    np.testing.assert_allclose(by_box[0].frames[1].persons[1].scores, 0.2)
    np.testing.assert_allclose(persons[1].scores, 0.5)  # inputs untouched


def test_pt17_sequences_are_written_as_annolists(tmp_path):
    frame = Frame(
        file_name="images/bonn/00000001.jpg",
        frame_index=0,
        persons=[
            Person(keypoints=np.ones((17, 3)) * 5, present=np.ones(17, bool), scores=np.full(17, 0.9), track_id=0)
        ],
    )
    seq = Sequence(name="000001_bonn", format="pt17", frames=[frame])
    (path,) = write_predictions(tmp_path, [seq], [seq])
    doc = json.loads(path.read_text())
    assert path.name == "000001_bonn.json" and "annolist" in doc
    assert len(doc["annolist"][0]["annorect"][0]["annopoints"][0]["point"]) == 15


@pytest.mark.shared_data
def test_oracle_on_the_real_posetrack18_file(shared_data, tmp_path):
    """Real GT (large image ids, head boxes, ignore polygons, 1920x1080): single-frame clips
    because the file lists only its labeled frame."""
    from pstpose.config import DataConfig

    data = DataConfig(root=str(shared_data / "posetrack18_sample"), format="pt18", frames_per_side=0, workers=0)
    _, gt = load_split(data, "val")
    dataset = build_eval_dataset(data, gt)
    indices = list(range(len(dataset.samples)))
    oracle = OracleModel(dataset, indices, gt_joints(dataset.samples, indices), data.heatmap_size)
    report = evaluate_model(oracle, data, flip=True, batch_size=4, workers=0, out_dir=tmp_path)
    aps = report.result.per_joint("ap")
    annotated = [v for v in aps.values() if not np.isnan(v)]
    assert len(annotated) >= 10 and all(v == 100.0 for v in annotated)
    assert report.metrics()["mAP"] == 100.0
    (written,) = load_sequences(tmp_path / "predictions")
    assert written.frames[0].image_id == gt[0].frames[0].image_id == 10094730000


def test_the_tested_model_owns_the_clip_spec():
    """``pstpose test`` cuts the clips and crops the weights were built for, whatever the config's
    data section says; a stand-in without a config takes the data section's."""
    from pstpose.config import DataConfig

    data = DataConfig(frames_per_side=0, input_size=(256, 192))
    model = nn.Module()
    model.config = SimpleNamespace(frames_per_side=1, image_size=(128, 96))
    assert data_for_model(data, model) == dataclasses.replace(data, frames_per_side=1, input_size=(128, 96))
    assert data_for_model(data, nn.Module()) is data
