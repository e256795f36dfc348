"""Module diagnostics against brute-force counts and hand computations."""

from __future__ import annotations

import copy
import json
import math
from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn

from pstpose.engine.diagnostics import (
    BlockRecorder,
    DiagnosticClip,
    SyntheticTruth,
    TokenLayout,
    bin_by_speed,
    cluster_purity,
    joint_speeds,
    lambda_report,
    mean_offset_pattern,
    module_diagnostics,
    motion_following,
    random_cluster_purity,
    replaced_lambda,
    replaced_offsets,
    residual_ratio,
    token_parts_from_pixels,
    token_parts_from_skeleton,
)
from pstpose.models.layers import RefinementBlock
from pstpose.models.pstpose import build_model


def brute_purity(assignment, labels) -> float:
    clusters: dict[int, Counter] = {}
    for a, lab in zip(assignment, labels, strict=True):
        if lab < 0:
            continue
        clusters.setdefault(int(a), Counter())[int(lab)] += 1
    counted = sum(sum(c.values()) for c in clusters.values())
    return sum(max(c.values()) for c in clusters.values()) / counted


def test_purity_of_a_hand_built_assignment():
    assignment = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    labels = [1, 1, 2, 0, 0, 3, 3, 1, -1]  # the last token is unknown: not counted
    # cluster 0: two of three are part 1; cluster 1: both background; cluster 2: two of three part 3
    assert cluster_purity(assignment, labels) == pytest.approx(6 / 8)
    assert brute_purity(assignment, labels) == pytest.approx(6 / 8)


def test_purity_matches_brute_force_on_random_assignments(rng):
    for _ in range(30):
        n = int(rng.integers(5, 60))
        assignment = rng.integers(0, 7, n)
        labels = rng.integers(-1, 5, n)
        if (labels < 0).all():
            continue
        assert cluster_purity(assignment, labels) == pytest.approx(brute_purity(assignment, labels))


def test_random_purity_is_the_chance_level():
    """Clusters that follow the labels are pure; shuffled labels in clusters of the same sizes are not."""
    labels = np.repeat(np.arange(6), 10)
    assert cluster_purity(labels, labels) == 1.0
    chance = random_cluster_purity(labels, labels, np.random.default_rng(0), 50)
    assert 1 / 6 < chance < 0.6
    assert random_cluster_purity(labels, np.zeros(60, int), np.random.default_rng(0), 5) == 1.0


def test_residual_ratio_of_a_block_with_known_weights():
    """Mixer = 2 * identity; MLP with hand-set weights; the recorded ratios equal the hand values."""
    c = 4
    block = RefinementBlock(c, nn.Linear(c, c), mlp_hidden=2)
    with torch.no_grad():
        block.mixer.weight.copy_(2 * torch.eye(c))
        block.mixer.bias.zero_()
        block.mlp.fc1.weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0]]))
        block.mlp.fc1.bias.zero_()
        block.mlp.fc2.weight.copy_(torch.tensor([[1.0, 0], [0, 0], [0, 0], [0, -1.0]]))
        block.mlp.fc2.bias.zero_()
    x = torch.tensor([[[1.0, 2.0, 3.0, 6.0], [-1.0, 0.0, 1.0, 0.0]]])

    def layer_norm(a: np.ndarray) -> np.ndarray:
        mu = a.mean(-1, keepdims=True)
        var = ((a - mu) ** 2).mean(-1, keepdims=True)
        return (a - mu) / np.sqrt(var + 1e-6)

    def gelu(a: np.ndarray) -> np.ndarray:
        return 0.5 * a * (1 + np.vectorize(math.erf)(a / math.sqrt(2)))

    xn = x.numpy()[0].astype(np.float64)
    mixer = 2 * layer_norm(xn)
    hidden = gelu(layer_norm(xn + mixer)[:, :2])
    mlp = np.stack([hidden[:, 0], 0 * hidden[:, 0], 0 * hidden[:, 0], -hidden[:, 1]], axis=1)
    want_mixer = np.linalg.norm(mixer) / np.linalg.norm(xn)
    want_mlp = np.linalg.norm(mlp) / np.linalg.norm(xn + mixer)

    holder = nn.Module()
    holder.refine = nn.ModuleDict({"dfe": block})
    with torch.no_grad(), BlockRecorder(holder) as rec:
        block(x)
    r = rec.records["dfe"]
    assert residual_ratio(r["mixer_out"][0], r["block_in"][0]) == pytest.approx(want_mixer, rel=1e-5)
    assert residual_ratio(r["mlp_out"][0], r["block_in"][0] + r["mixer_out"][0]) == pytest.approx(want_mlp, rel=1e-5)
    assert want_mixer == pytest.approx(2 * math.sqrt(2 * c) / np.linalg.norm(xn), rel=1e-5)  # LN rows have norm sqrt(C)


@pytest.mark.parametrize("mode", ["scalar", "channel"])
def test_lambda_report_is_lambda_value(mode):
    torch.manual_seed(0)
    model = build_model("tiny", image_size=(64, 48), dfe={"lambda_mode": mode}, fcg={"num_clusters": 8, "knn": 3})
    with torch.no_grad():
        for name in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"):
            getattr(model.refine["dfe"].mixer, name).normal_(0.0, 0.5)
    report = lambda_report(model)
    assert list(report) == ["refine.dfe.mixer"]
    entry = report["refine.dfe.mixer"]
    lam = model.refine["dfe"].mixer.lambda_value().detach().double()
    assert entry["mode"] == mode
    # adam_reach: the L1 norm of λ's gradient with respect to its vectors, by autograd
    mixer = model.refine["dfe"].mixer
    vectors = [getattr(mixer, n) for n in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2")]
    value = mixer.lambda_value().reshape(-1)
    reaches = [
        sum(g.abs().sum().item() for g in torch.autograd.grad(value[i], vectors, retain_graph=True))
        for i in range(value.numel())
    ]
    assert entry["adam_reach"] == pytest.approx(np.mean(reaches), rel=1e-6)
    if mode == "scalar":
        assert entry["value"] == pytest.approx(float(lam), rel=1e-7)
    else:
        assert entry["values"] == pytest.approx(lam.tolist(), rel=1e-7)
        assert (entry["mean"], entry["min"], entry["max"]) == pytest.approx(
            (float(lam.mean()), float(lam.min()), float(lam.max())), rel=1e-7
        )
        assert entry["max"] > entry["min"]


def test_speed_binning_matches_brute_force(rng):
    speeds = np.concatenate([rng.uniform(0, 30, 200), [0.0, 1.0, 2.0, 4.0, 8.0, 16.0]])  # edges included
    values = rng.normal(5, 2, speeds.size)
    edges = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, math.inf)
    rows = bin_by_speed(speeds, values, edges)
    assert [r["speed"] for r in rows][-1] == [16.0, None]
    for row, lo, hi in zip(rows, edges[:-1], edges[1:], strict=True):
        members = [v for s, v in zip(speeds, values, strict=True) if lo <= s < hi]
        assert row["count"] == len(members)
        assert row["mean"] == pytest.approx(sum(members) / len(members))
        assert row["median"] == pytest.approx(float(np.median(members)))
    assert sum(r["count"] for r in rows) == speeds.size
    empty = bin_by_speed([0.5], [1.0], (0, 1, 2))
    assert empty[1] == {"speed": [1.0, 2.0], "count": 0, "mean": None, "median": None, "mean_speed": None}
    with pytest.raises(ValueError, match="increasing"):
        bin_by_speed(speeds, values, (0, 2, 1))


def test_joint_speed_skips_repeated_edge_frames_and_absent_joints():
    joints = np.array(
        [
            [[0.0, 0.0], [5.0, 5.0], [np.nan, np.nan]],
            [[3.0, 4.0], [5.0, 5.0], [1.0, 1.0]],
            [[3.0, 4.0], [np.nan, np.nan], [1.0, 1.0]],
        ]
    )
    # joint 0: 5 px over one frame before, 0 after -> 2.5; joint 1: only before -> 0; joint 2: after, 2 frames -> 0
    np.testing.assert_allclose(joint_speeds(joints, [10, 11, 13]), [2.5, 0.0, 0.0])
    # a clip at the video start repeats the keyframe: that neighbour does not count
    np.testing.assert_allclose(joint_speeds(joints, [11, 11, 12]), [0.0, np.nan, 0.0])


def brute_cell(layout: TokenLayout, x: float, y: float) -> tuple[int, int]:
    """The token whose pixel range holds the pixel nearest (x, y), by searching all tokens."""
    px, py = math.floor(x + 0.5), math.floor(y + 0.5)
    h, w = layout.image_size
    px, py = min(max(px, 0), w - 1), min(max(py, 0), h - 1)
    for r in range(layout.rows):
        for c in range(layout.cols):
            top, left = layout.patch * r - layout.padding, layout.patch * c - layout.padding
            if top <= py < top + layout.patch and left <= px < left + layout.patch:
                return r, c
    return min((py + layout.padding) // layout.patch, layout.rows - 1), min(
        (px + layout.padding) // layout.patch, layout.cols - 1
    )


def test_token_cell_and_pixel_vote_match_brute_force(rng):
    layout = TokenLayout(3, 4, 3, 16, 2, (64, 48))
    for x, y in rng.uniform(-3, 66, (200, 2)):
        assert tuple(int(v) for v in layout.cell_of(np.array([x, y]))) == brute_cell(layout, x, y)
    part_map = rng.integers(0, 4, (64, 48))
    tokens = token_parts_from_pixels(part_map, layout)
    for r in range(layout.rows):
        for c in range(layout.cols):
            pixels = [
                int(part_map[y, x])
                for y in range(64)
                for x in range(48)
                if 16 * r - 2 <= y < 16 * r + 14 and 16 * c - 2 <= x < 16 * c + 14
            ]
            counts = Counter(pixels)
            best = max(counts.values())
            assert tokens[r, c] == min(k for k, v in counts.items() if v == best)


def test_skeleton_rule_labels_tokens_near_a_limb():
    layout = TokenLayout(1, 4, 3, 16, 2, (64, 48))
    centres = layout.centres()  # token (r, c) centre: (16c + 5.5, 16r + 5.5)
    assert tuple(centres[2, 1]) == (21.5, 37.5)
    person = np.full((1, 4, 2), np.nan)
    person[0, 0] = centres[0, 0]
    person[0, 1] = centres[3, 0]  # limb 1 (0-1): down the first column
    person[0, 2] = centres[3, 2]  # limb 2 (1-2): along the last row
    # limb 3 (2-3) has an absent end (joint 3): never drawn
    labels = token_parts_from_skeleton(person, [(0, 1), (1, 2), (2, 3)], layout, radius=8.0)
    # the next column is 16 px from limb 1, beyond 8 px; token (3, 0) is on both limbs: the first wins
    want = np.array([[1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 2, 2]])
    np.testing.assert_array_equal(labels, want)
    wide = token_parts_from_skeleton(person, [(0, 1), (1, 2), (2, 3)], layout, radius=16.0)
    np.testing.assert_array_equal(wide, [[1, 1, 0], [1, 1, 0], [1, 1, 2], [1, 2, 2]])


@pytest.fixture
def alive_model():
    """A tiny PSTPose whose every parameter is non-zero, so that each branch does something."""
    torch.manual_seed(1)
    model = build_model("tiny", image_size=(64, 48), fcg={"num_clusters": 6, "knn": 3})
    with torch.no_grad():
        for p in model.refine.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return model.eval()


def test_offsets_by_speed_against_brute_force(alive_model, rng):
    """Bins hold the (clip, joint) pairs of a brute-force count, with the offsets the DSF hook saw."""
    layout = TokenLayout.of_model(alive_model)
    clips = []
    for _ in range(5):
        joints = rng.uniform(0, 47, (3, 17, 2))
        joints[:, rng.random(17) < 0.2] = np.nan
        parts = rng.integers(-1, 4, (3, layout.rows, layout.cols))
        clips.append(DiagnosticClip(torch.randn(3, 3, 64, 48), joints, np.array([4, 5, 6]), parts))
    recorded = []
    handle = alive_model.refine["dsf"].mixer.offsets.register_forward_hook(lambda m, i, o: recorded.append(o))
    edges = (0.0, 5.0, 10.0, 20.0, math.inf)
    report = module_diagnostics(alive_model, clips, batch_size=2, speed_edges=edges)
    handle.remove()
    # each batch runs the offset network twice: in the model, then for the attended positions
    assert all(torch.equal(a, b) for a, b in zip(recorded[0::2], recorded[1::2], strict=True))
    offsets = torch.cat(recorded[0::2]).double().numpy()  # (clips, G, T, h, w, 3)

    pairs = []
    for i, clip in enumerate(clips):
        for j in range(17):
            before, key, after = clip.joints[:, j]
            steps = [np.linalg.norm(key - before), np.linalg.norm(after - key)]
            steps = [s for s in steps if np.isfinite(s)]
            if not np.isfinite(key).all() or not steps:
                continue
            r, c = brute_cell(layout, *key)
            magnitude = np.mean([16 * math.hypot(o[1], o[2]) for o in offsets[i, :, 1, r, c]])
            pairs.append((float(np.mean(steps)), magnitude))
    rows = report["dsf"]["offset_px_by_speed"]
    assert report["dsf"]["joints"] == len(pairs)
    for row, lo, hi in zip(rows, edges[:-1], edges[1:], strict=True):
        members = [m for s, m in pairs if lo <= s < hi]
        assert row["count"] == len(members)
        if members:
            assert row["mean"] == pytest.approx(np.mean(members), rel=1e-6)
    assert report["dsf"]["all_tokens"]["offset_px_mean"] > 0
    # the fixed-pattern figures, by brute force over (clip, cell) pairs in pixels
    xy = 16 * offsets[..., 1:]
    cell_mean = xy.mean(axis=0, keepdims=True)
    content = ((xy - cell_mean) ** 2).sum(axis=-1)
    spread = ((xy - xy.reshape(-1, 2).mean(axis=0)) ** 2).sum(axis=-1)
    figures = report["dsf"]["offset_pattern"]
    assert figures["clips"] == 5
    assert figures["content_px"] == pytest.approx(math.sqrt(content.mean()), rel=1e-6)
    assert figures["pattern_share"] == pytest.approx(1 - content.sum() / spread.sum(), rel=1e-6)
    assert figures["pattern_px"] == pytest.approx(np.linalg.norm(cell_mean, axis=-1).mean(), rel=1e-6)
    assert 0 < figures["pattern_share"] < 1
    json.dumps(report, allow_nan=False)  # plain JSON


def test_offset_pattern_of_identical_clips_is_the_whole_story(alive_model):
    """Every clip the same: the offsets are their cell means, content 0, pattern share 1."""
    clip = DiagnosticClip(torch.randn(3, 3, 64, 48), np.full((3, 17, 2), np.nan), np.array([0, 1, 2]), None)
    figures = module_diagnostics(alive_model, [clip] * 4, batch_size=3)["dsf"]["offset_pattern"]
    assert figures["content_px"] == pytest.approx(0.0, abs=1e-3)
    assert figures["pattern_share"] == pytest.approx(1.0, abs=1e-6)


def test_replaced_offsets_zero_is_dsf_with_a_silent_offset_network(alive_model):
    """Zero offsets = an offset network whose last layer is zero (tanh(0) = 0): same outputs."""
    x = torch.randn(2, 3, 3, 64, 48)
    dsf = alive_model.refine["dsf"].mixer
    zeros = torch.zeros(dsf.groups, 3, 4, 3, 3)
    with torch.no_grad(), replaced_offsets(alive_model, zeros):
        replaced = alive_model(x)
    silent = copy.deepcopy(alive_model)
    with torch.no_grad():
        silent.refine["dsf"].mixer.offsets.pointwise.weight.zero_()
        silent.refine["dsf"].mixer.offsets.pointwise.bias.zero_()
        expected = silent(x)
        torch.testing.assert_close(replaced, expected)
        assert not torch.allclose(alive_model(x), expected)  # the hook is gone again


def test_mean_offset_pattern_replays_to_the_recorded_mean(alive_model):
    clips = [DiagnosticClip(torch.randn(3, 3, 64, 48), np.full((3, 17, 2), np.nan), np.array([0, 1, 2]), None)]
    clips = clips + [DiagnosticClip(torch.randn(3, 3, 64, 48), c.joints, c.frame_indices, None) for c in clips * 2]
    recorded = []
    handle = alive_model.refine["dsf"].mixer.offsets.register_forward_hook(lambda m, i, o: recorded.append(o))
    pattern = mean_offset_pattern(alive_model, clips, batch_size=2)
    handle.remove()
    torch.testing.assert_close(pattern, torch.cat(recorded).mean(dim=0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="offsets of shape"):
        with torch.no_grad(), replaced_offsets(alive_model, pattern[:, :1]):
            alive_model(torch.randn(1, 3, 3, 64, 48))


def test_report_sections_and_purity_of_the_clips(alive_model, rng):
    layout = TokenLayout.of_model(alive_model)
    parts = rng.integers(0, 4, (3, layout.rows, layout.cols))
    clip = DiagnosticClip(torch.randn(3, 3, 64, 48), np.full((3, 17, 2), np.nan), np.array([0, 1, 2]), parts)
    report = module_diagnostics(alive_model, [clip], random_repeats=3)
    with torch.no_grad(), BlockRecorder(alive_model) as rec:
        alive_model(clip.clip[None])
    assignment = alive_model.refine["fcg"].mixer.clusters(rec.records["fcg"]["mixer_in"])[1][0].numpy()
    assert report["fcg"]["purity"] == pytest.approx(brute_purity(assignment, parts.reshape(-1)))
    body = np.where(parts.reshape(-1) == 0, -1, parts.reshape(-1))
    assert report["fcg"]["purity_body_tokens"] == pytest.approx(brute_purity(assignment, body))
    assert set(report["residual_ratio"]) == {"dfe", "fcg", "dsf"}
    assert all(v["mixer"]["mean"] > 0 for v in report["residual_ratio"].values())
    assert report["dsf"]["joints"] == 0


def test_disabled_modules_are_reported_as_skipped(rng):
    model = build_model("tiny", image_size=(64, 48), fcg={"enabled": False}, dsf={"enabled": False}).eval()
    clip = DiagnosticClip(torch.randn(3, 3, 64, 48), np.full((3, 17, 2), np.nan), np.array([0, 1, 2]))
    report = module_diagnostics(model, [clip])
    assert "FCG" in report["fcg"]["skipped"] and "DSF" in report["dsf"]["skipped"]
    assert list(report["residual_ratio"]) == ["dfe"]
    with pytest.raises(ValueError, match="no clips"):
        module_diagnostics(model, [])


def test_synthetic_dataset_folder_end_to_end(tmp_path):
    """A ``pstpose synth`` folder: the re-rendered truth equals the annotation files, and the
    diagnostics of the shipped weights run on it."""
    from pstpose.data.posetrack import load_sequences
    from pstpose.data.synthetic import generate_dataset
    from pstpose.models import load_model

    root = tmp_path / "synth"
    generate_dataset(root, videos=0, val_videos=1, frames=5, height=192, width=256, seed=4)
    truth = SyntheticTruth(root)
    (seq,) = load_sequences(root / "annotations" / "val")
    for frame in seq.labeled_frames:
        rendered = {p.track_id: p for p in truth.frame(seq.name, frame.frame_index)[1]}
        for person in frame.persons:
            np.testing.assert_allclose(rendered[person.track_id].keypoints[:, :2], person.keypoints[:, :2], atol=0.01)
    report = module_diagnostics(load_model(None), root, max_clips=3)
    assert report["clips"] >= 1 and report["fcg"]["clips"] == report["clips"]
    assert 0 < report["fcg"]["random_purity"] <= report["fcg"]["purity"] <= 1
    assert report["dsf"]["joints"] > 0
    json.dumps(report, allow_nan=False)


@pytest.mark.parametrize("mode", ["scalar", "channel"])
def test_replaced_lambda_at_its_initial_value_is_dfe_with_zero_lambda_vectors(mode):
    """exp(0) - exp(0) + λ_init = λ_init: zeroing the λ vectors is the independent way there."""
    torch.manual_seed(2)
    model = build_model("tiny", image_size=(64, 48), dfe={"lambda_mode": mode}, fcg={"num_clusters": 6, "knn": 3})
    model = model.eval()
    with torch.no_grad():
        for p in model.refine.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    x = torch.randn(2, 3, 3, 64, 48)
    mixer = model.refine["dfe"].mixer
    with torch.no_grad(), replaced_lambda(model, mixer.lambda_init):
        replaced = model(x)
    zeroed = copy.deepcopy(model)
    with torch.no_grad():
        for name in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"):
            getattr(zeroed.refine["dfe"].mixer, name).zero_()
        torch.testing.assert_close(replaced, zeroed(x))
        assert not torch.allclose(model(x), zeroed(x))  # the learned λ is back afterwards
    with pytest.raises(ValueError, match="no DFE module"):
        with replaced_lambda(build_model("tiny", dfe={"enabled": False}), 0.5):
            pass


def test_offsets_by_speed_read_the_key_of_the_joints_block_with_a_key_stride(rng):
    torch.manual_seed(3)
    model = build_model("tiny", image_size=(64, 64), fcg={"num_clusters": 6, "knn": 3}, dsf={"key_stride": 2})
    with torch.no_grad():
        for p in model.refine.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    model.eval()
    clips = [
        DiagnosticClip(torch.randn(3, 3, 64, 64), rng.uniform(0, 63, (3, 17, 2)), np.array([0, 1, 2]), None)
        for _ in range(3)
    ]
    recorded = []
    handle = model.refine["dsf"].mixer.offsets.register_forward_hook(lambda m, i, o: recorded.append(o))
    report = module_diagnostics(model, clips, batch_size=3, speed_edges=(0.0, math.inf))
    handle.remove()
    offsets = recorded[0].double().numpy()  # (3, G, T, 2, 2, 3): the 2x2 key grid of a 4x4 frame
    assert offsets.shape[3:5] == (2, 2)
    layout = TokenLayout.of_model(model)
    magnitudes = []
    for i, clip in enumerate(clips):
        for j in range(17):
            r, c = brute_cell(layout, *clip.joints[1, j])
            magnitudes.append(np.mean([16 * math.hypot(o[1], o[2]) for o in offsets[i, :, 1, r // 2, c // 2]]))
    row = report["dsf"]["offset_px_by_speed"][0]
    assert row["count"] == 51 and row["mean"] == pytest.approx(np.mean(magnitudes), rel=1e-6)


def test_motion_following_by_hand():
    true = [np.array([4.0, 0.0]), np.array([0.0, -2.0]), np.array([3.0, 4.0])]
    half = [0.5 * d for d in true]
    r = motion_following(true, half)
    assert r["pairs"] == 3 and r["slope"] == pytest.approx(0.5) and r["correlation"] == pytest.approx(1.0)
    assert r["still_error_px"] == pytest.approx((4 + 2 + 5) / 3)
    assert r["error_px"] == pytest.approx((2 + 1 + 2.5) / 3)
    blind = motion_following(true, [np.zeros(2)] * 3)
    assert blind["slope"] == 0.0 and blind["correlation"] is None and blind["error_px"] == blind["still_error_px"]
    assert motion_following([], [])["slope"] is None


@pytest.mark.parametrize("sampling", ["shared", "per_query"])
def test_motion_following_pairs_against_a_loop(sampling, rng):
    """The motion figures pair, for every (clip, joint present in the keyframe, other frame where
    it is present), the joint's true move with where DSF's query at its keyframe cell attends in
    that frame, relative to that cell; rebuilt here from the DSF input and the attended positions."""
    torch.manual_seed(2)
    model = build_model("tiny", image_size=(64, 48), fcg={"num_clusters": 6, "knn": 3}, dsf={"sampling": sampling})
    with torch.no_grad():
        for p in model.refine.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    model.eval()
    layout = TokenLayout.of_model(model)
    clips = []
    for i in range(3):
        joints = rng.uniform(0, 47, (3, 17, 2))
        joints[rng.random((3, 17)) < 0.2] = np.nan
        frames = np.array([4, 4, 5]) if i == 2 else np.array([4, 5, 6])  # clip 2: frame 0 repeats the keyframe
        clips.append(DiagnosticClip(torch.randn(3, 3, 64, 48), joints, frames, None))
    report = module_diagnostics(model, clips, batch_size=2)["dsf"]["motion"]
    true, looked = [], []
    for clip in clips:
        with torch.no_grad(), BlockRecorder(model) as rec:
            model(clip.clip[None])
            at = model.refine["dsf"].mixer.attended_positions(rec.records["dsf"]["mixer_in"])[0].numpy()
        speeds = joint_speeds(clip.joints, clip.frame_indices)
        for j in range(17):
            if not np.isfinite(speeds[j]):
                continue
            r, c = brute_cell(layout, *clip.joints[1, j])
            for f in (0, 2):
                if clip.frame_indices[f] == clip.frame_indices[1] or not np.isfinite(clip.joints[f, j]).all():
                    continue
                y, x = at[f, r * layout.cols + c + layout.rows * layout.cols]
                true.append(clip.joints[f, j] - clip.joints[1, j])
                looked.append(np.array([16 * (x - c), 16 * (y - r)]))
    assert report["pairs"] == len(true) > 10
    expected = motion_following(true, looked)
    for key in ("slope", "correlation", "error_px", "still_error_px"):
        assert report[key] == pytest.approx(expected[key], rel=1e-6, abs=1e-9)
