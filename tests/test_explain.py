"""pstpose explain: its numbers against an independent evaluation, its pictures, its errors."""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
import pytest
import torch

from pstpose.cli import main
from pstpose.explain import PANELS, explain_source, paint_tokens
from pstpose.models import load_model


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    from pstpose.data.synthetic import generate_dataset

    root = tmp_path_factory.mktemp("explain") / "synth"
    generate_dataset(root, videos=0, val_videos=1, frames=5, height=192, width=256, seed=2)
    return root


@pytest.fixture(scope="module")
def shipped():
    return load_model(None)


@pytest.fixture(scope="module")
def explained(shipped, synthetic_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("explain_out")
    return explain_source(shipped, synthetic_root, "left_wrist", out, frame=2, scale=1)


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max())
    return e / e.sum()


def test_writes_every_panel_for_the_shipped_weights(explained):
    assert list(explained.paths) == list(PANELS)
    for path in explained.paths.values():
        image = cv2.imread(str(path))
        assert image is not None and image.shape[0] > 100 and image.shape[1] > 3 * 144
    assert explained.explanation.skipped == {}
    assert explained.view.gt_joints is not None  # ground truth drawn on synthetic clips


def test_query_is_the_keyframe_token_under_the_predicted_joint(explained):
    e = explained.explanation
    t, r, c = e.query
    x, y = e.predicted[e.joint]
    assert t == 1  # the keyframe of a 3-frame clip
    assert 16 * r - 2 <= math.floor(y + 0.5) < 16 * r + 14 or r in (0, e.layout.rows - 1)
    assert 16 * c - 2 <= math.floor(x + 0.5) < 16 * c + 14 or c in (0, e.layout.cols - 1)


def test_attention_maps_against_an_independent_evaluation(explained, shipped):
    """Eq. 2's maps for the query, recomputed in float64 from the module's weights and the
    block's input; each sums to 1 over the keys; differential = positive - λ·negative with λ of Eq. 3."""
    e, view = explained.explanation, explained.view
    dfe = shipped.refine["dfe"]
    with torch.no_grad():
        clip = shipped.preprocess(torch.from_numpy(view.crops[None]))
        h = dfe.norm1(shipped.clip_tokens(clip))[0].double().numpy()
    mixer = dfe.mixer
    qk = h @ mixer.qk.weight.detach().double().numpy().T + mixer.qk.bias.detach().double().numpy()
    heads, d = mixer.num_heads, mixer.head_dim
    q, k = qk[:, : heads * d], qk[:, heads * d :]
    positive = np.zeros(len(h))
    negative = np.zeros(len(h))
    query = e.query_index
    for hi in range(heads):
        qh, kh = q[query, hi * d : (hi + 1) * d], k[:, hi * d : (hi + 1) * d]
        positive += _softmax(kh[:, : d // 2] @ qh[: d // 2] / math.sqrt(d / 2)) / heads
        negative += _softmax(kh[:, d // 2 :] @ qh[d // 2 :] / math.sqrt(d / 2)) / heads
    np.testing.assert_allclose(e.dfe.positive.reshape(-1), positive, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(e.dfe.negative.reshape(-1), negative, rtol=1e-4, atol=1e-7)
    assert e.dfe.positive.sum() == pytest.approx(1.0, abs=1e-6)
    assert e.dfe.negative.sum() == pytest.approx(1.0, abs=1e-6)
    p = {n: getattr(mixer, n).detach().double().numpy() for n in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2")}
    lam = math.exp(p["lambda_q1"] @ p["lambda_k1"]) - math.exp(p["lambda_q2"] @ p["lambda_k2"]) + mixer.lambda_init
    assert e.dfe.lam == pytest.approx(lam, rel=1e-6)
    np.testing.assert_allclose(e.dfe.differential, e.dfe.positive - lam * e.dfe.negative, atol=1e-7)
    assert e.dfe.differential.sum() == pytest.approx(1.0 - lam, abs=1e-5)


def test_dsf_weights_are_a_distribution_per_group(explained):
    s = explained.explanation.dsf
    assert s.weights.shape[0] == s.offsets.shape[0] == 2
    np.testing.assert_allclose(s.weights.reshape(2, -1).sum(axis=1), 1.0, atol=1e-6)
    assert np.abs(s.offsets[..., 1:]).max() <= 2.0 + 1e-9  # bounded by offset_range (cells)


def test_cluster_painting_covers_every_token_exactly_once(explained):
    """Each frame painted with its tokens' cluster colours: every token's whole cell carries its
    own cluster's colour and no other token paints there."""
    e = explained.explanation
    layout, a = e.layout, e.fcg.assignment
    assert a.shape == (3, layout.rows, layout.cols)
    assert e.fcg.query_cluster == a[e.query]
    assert len(np.unique(a)) == 64  # the shipped FCG's 64 clusters, none empty
    scale = 2
    h, w = layout.image_size
    for t in range(3):
        colors = np.stack([a[t] % 256, a[t] // 256 + 100, np.full_like(a[t], 7)], axis=-1).astype(float)
        image, index = paint_tokens(np.zeros((h * scale, w * scale, 3), np.uint8), colors, 1.0, layout, scale)
        painted, counts = np.unique(index[index >= 0], return_counts=True)
        np.testing.assert_array_equal(painted, np.arange(layout.rows * layout.cols))
        for token, count in zip(painted, counts, strict=True):
            r, c = divmod(int(token), layout.cols)
            rows = min(16 * r + 14, h) - max(16 * r - 2, 0)
            cols = min(16 * c + 14, w) - max(16 * c - 2, 0)
            assert count == rows * cols * scale * scale
            y0, x0 = max(16 * r - 2, 0) * scale, max(16 * c - 2, 0) * scale
            cell = image[y0 : y0 + rows * scale, x0 : x0 + cols * scale].reshape(-1, 3)
            assert (cell == [a[t, r, c] % 256, a[t, r, c] // 256 + 100, 7]).all()
        assert (image[index < 0] == 0).all()  # pixels no token covers stay unpainted


def test_disabled_module_skips_its_panel_and_writes_the_others(tmp_path, synthetic_root, shipped, capsys):
    from pstpose.models.pstpose import PSTPose

    cfg = shipped.config
    config = dataclasses.replace(cfg, dfe=dataclasses.replace(cfg.dfe, enabled=False))
    model = PSTPose(config)
    state = {k: v for k, v in shipped.state_dict().items() if not k.startswith("refine.dfe.")}
    model.load_state_dict(state)
    weights = model.save_pretrained(tmp_path / "no_dfe")
    out = tmp_path / "out"
    code = main(["explain", str(synthetic_root), "--joint", "right_knee", "--weights", str(weights), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0
    assert "dfe panel skipped: DFE is disabled in these weights" in captured.err
    written = sorted(p.name.rsplit("_", 1)[-1] for p in out.glob("*.png"))
    assert written == ["dsf.png", "fcg.png", "input.png"]


def test_unknown_joint_lists_the_valid_names(tmp_path, synthetic_root, capsys):
    code = main(["explain", str(synthetic_root), "--joint", "elbow", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert "--joint: unknown joint 'elbow'; valid names:" in err and "left_elbow" in err
    assert "Traceback" not in err and not (tmp_path / "o").exists()


def test_dsf_readout_is_what_forward_computes(shipped):
    """The sampled keys' weights and positions the DSF picture draws reproduce the module's output."""
    from pstpose.models.layers import merge_heads, split_heads

    block = shipped.refine["dsf"]
    mixer = block.mixer
    torch.manual_seed(0)
    h = torch.randn(2, shipped.grid.num_tokens, shipped.config.backbone.embed_dim)
    with torch.no_grad():
        offsets, attention = mixer.sampling(h)
        _, v = mixer.sampled_keys_values(h, offsets)
        rebuilt = mixer.proj(merge_heads(attention @ split_heads(v, mixer.num_heads)))
        np.testing.assert_allclose(rebuilt.numpy(), mixer(h).numpy(), atol=1e-5)
    np.testing.assert_allclose(attention.sum(-1).numpy(), 1.0, atol=1e-5)


def test_dsf_panel_with_a_key_stride_draws_the_key_grid(tmp_path, synthetic_root, shipped):
    """Key stride 3 on the shipped weights (no new parameters): the panel reads the 4x3 key grid,
    each key starting at the centre of its 3x3 block of cells."""
    from pstpose.models.pstpose import PSTPose

    cfg = shipped.config
    model = PSTPose(dataclasses.replace(cfg, dsf=dataclasses.replace(cfg.dsf, key_stride=3)))
    model.load_state_dict(shipped.state_dict())
    result = explain_source(model.eval(), synthetic_root, "left_wrist", tmp_path, frame=2, scale=1)
    s = result.explanation.dsf
    assert s.stride == 3 and s.offsets.shape == (2, 3, 4, 3, 3) and s.weights.shape == (2, 3, 4, 3)
    np.testing.assert_allclose(s.weights.reshape(2, -1).sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(s.reference[2, 3, 1], [2.0, 10.0, 4.0])  # rows 9-11, cols 3-5
    assert cv2.imread(str(result.paths["dsf"])) is not None


def test_dsf_panel_with_per_query_sampling_draws_the_querys_own_samples(tmp_path, synthetic_root, shipped):
    """Per-query sampling on the shipped weights (a new offset layer, at its ring start): the panel
    reads the query's own 3 frames x 4 points per group, from the query's cell, weights summing to
    one, and those weights and positions reproduce the module's output for the query."""
    from pstpose.models.layers import merge_heads
    from pstpose.models.pstpose import PSTPose

    cfg = shipped.config
    model = PSTPose(dataclasses.replace(cfg, dsf=dataclasses.replace(cfg.dsf, sampling="per_query")))
    state = {k: v for k, v in shipped.state_dict().items() if "dsf.mixer.offsets.pointwise" not in k}
    missing = model.load_state_dict(state, strict=False).missing_keys
    assert sorted(missing) == ["refine.dsf.mixer.offsets.pointwise.bias", "refine.dsf.mixer.offsets.pointwise.weight"]
    result = explain_source(model.eval(), synthetic_root, "left_wrist", tmp_path, frame=2, scale=1)
    s, e = result.explanation.dsf, result.explanation
    assert s.per_query and s.offsets.shape == (2, 12, 3) and s.weights.shape == (2, 12)
    np.testing.assert_array_equal(s.reference, e.query)
    np.testing.assert_allclose(s.weights.sum(axis=1), 1.0, atol=1e-6)
    starts, positions, _ = s.samples()
    np.testing.assert_array_equal(positions[:, :, 0], np.tile(np.repeat([0.0, 1.0, 2.0], 4), (2, 1)))  # 4 a frame
    assert np.abs(positions[..., 1:] - starts[..., 1:]).max() <= cfg.dsf.offset_range + 1e-9
    assert cv2.imread(str(result.paths["dsf"])) is not None
    mixer = model.refine["dsf"].mixer
    torch.manual_seed(0)
    h = torch.randn(1, model.grid.num_tokens, cfg.backbone.embed_dim)
    with torch.no_grad():
        offsets, attention = mixer.sampling(h)
        _, v = mixer.query_keys_values(h, offsets)
        rebuilt = mixer.proj(merge_heads(torch.einsum("bhns,bhnsd->bhnd", attention, v)))
        np.testing.assert_allclose(rebuilt.numpy(), mixer(h).numpy(), atol=1e-5)
