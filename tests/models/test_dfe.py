"""DFE against a direct float64 evaluation of Eq. 2-3 (and Differential Transformer's head norm)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pstpose.models.dfe import DifferentialAttention, lambda_init_for_depth


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def reference_dfe(module: DifferentialAttention, h: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(per-head differential attention before the norm, full module output) in float64."""
    x = _np(h)
    heads, d = module.num_heads, module.head_dim
    lam = (
        math.exp(float(_np(module.lambda_q1) @ _np(module.lambda_k1)))
        - math.exp(float(_np(module.lambda_q2) @ _np(module.lambda_k2)))
        + module.lambda_init
    )
    qk = x @ _np(module.qk.weight).T + _np(module.qk.bias)
    q, k = qk[..., : heads * d], qk[..., heads * d :]
    v = x @ _np(module.v.weight).T + _np(module.v.bias)
    b, n, _ = x.shape
    per_head = np.zeros((b, heads, n, d))
    for bi in range(b):
        for hi in range(heads):
            qh, kh, vh = (t[bi, :, hi * d : (hi + 1) * d] for t in (q, k, v))
            q1, q2, k1, k2 = qh[:, : d // 2], qh[:, d // 2 :], kh[:, : d // 2], kh[:, d // 2 :]
            s = math.sqrt(d / 2)
            per_head[bi, hi] = _softmax(q1 @ k1.T / s) @ vh - lam * _softmax(q2 @ k2.T / s) @ vh
    w = _np(module.head_norm_weight)
    normed = per_head / np.sqrt((per_head**2).mean(axis=-1, keepdims=True) + 1e-5) * w
    concat = normed.transpose(0, 2, 1, 3).reshape(b, n, heads * d) * (1 - module.lambda_init)
    out = concat @ _np(module.proj.weight).T + _np(module.proj.bias)
    return per_head, out


@pytest.fixture
def dfe() -> DifferentialAttention:
    torch.manual_seed(3)
    module = DifferentialAttention(embed_dim=12, dim=16, num_heads=2, lambda_init=0.35)
    with torch.no_grad():
        for p in module.parameters():  # proj starts at zero: give everything a value
            p.normal_(0.0, 0.4)
    return module


def test_differential_attention_matches_eq2_eq3(dfe):
    h = torch.randn(2, 7, 12, generator=torch.Generator().manual_seed(0))
    per_head, out = reference_dfe(dfe, h)
    np.testing.assert_allclose(_np(dfe.differential_heads(h)), per_head, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(dfe(h)), out, rtol=1e-4, atol=1e-5)


def test_lambda_is_eq3(dfe):
    q1, k1, q2, k2 = (_np(p) for p in (dfe.lambda_q1, dfe.lambda_k1, dfe.lambda_q2, dfe.lambda_k2))
    expected = math.exp(float(q1 @ k1)) - math.exp(float(q2 @ k2)) + 0.35
    assert dfe.lambda_value().item() == pytest.approx(expected, rel=1e-6)


def test_lambda_init_follows_differential_transformer_schedule():
    assert lambda_init_for_depth(1) == pytest.approx(0.2)
    assert lambda_init_for_depth(13) == pytest.approx(0.8 - 0.6 * math.exp(-3.6))
    assert lambda_init_for_depth(2) < lambda_init_for_depth(5) < 0.8


def test_negative_path_cancels_common_mode():
    """With identical +/- halves and lambda = 1 the two softmax maps cancel exactly."""
    module = DifferentialAttention(embed_dim=8, dim=8, num_heads=1, lambda_init=1.0)
    with torch.no_grad():
        for p in (module.lambda_q1, module.lambda_k1, module.lambda_q2, module.lambda_k2):
            p.zero_()  # exp(0) - exp(0) + 1 = 1
        for part in (slice(0, 8), slice(8, 16)):  # q and k rows of the fused projection
            w, b = module.qk.weight[part], module.qk.bias[part]
            w[4:], b[4:] = w[:4].clone(), b[:4].clone()
    h = torch.randn(1, 5, 8)
    assert module.lambda_value().item() == 1.0
    assert module.differential_heads(h).abs().max() < 1e-6


def test_rejects_odd_head_size():
    with pytest.raises(ValueError, match="even"):
        DifferentialAttention(embed_dim=8, dim=6, num_heads=2, lambda_init=0.2)


def test_channel_lambda_is_eq3_element_wise_and_weights_each_value_channel():
    torch.manual_seed(3)
    module = DifferentialAttention(embed_dim=12, dim=16, num_heads=2, lambda_init=0.35, lambda_mode="channel")
    q1, k1, q2, k2 = (_np(p) for p in (module.lambda_q1, module.lambda_k1, module.lambda_q2, module.lambda_k2))
    assert q1.shape == (8,)  # one entry per channel of a head's value
    lam = np.exp(q1 * k1) - np.exp(q2 * k2) + 0.35
    np.testing.assert_allclose(_np(module.lambda_value()), lam, rtol=1e-6)

    # Eq. 2 per head by hand, with lambda weighting each value channel.
    h = torch.randn(2, 5, 12)
    with torch.no_grad():
        qk = _np(module.qk(h)).reshape(2, 5, 2, 2, 2, 4)  # (b, n, q/k, head, +/-, half)
        v = _np(module.v(h)).reshape(2, 5, 2, 8)

        def softmax(x):
            e = np.exp(x - x.max(-1, keepdims=True))
            return e / e.sum(-1, keepdims=True)

        expected = np.zeros((2, 2, 5, 8))
        for bi in range(2):
            for hd in range(2):
                a_pos = softmax(qk[bi, :, 0, hd, 0] @ qk[bi, :, 1, hd, 0].T / 2.0) @ v[bi, :, hd]
                a_neg = softmax(qk[bi, :, 0, hd, 1] @ qk[bi, :, 1, hd, 1].T / 2.0) @ v[bi, :, hd]
                expected[bi, hd] = a_pos - lam * a_neg
        np.testing.assert_allclose(_np(module.differential_heads(h)), expected, rtol=1e-4, atol=1e-5)


def test_unknown_lambda_mode_is_refused():
    with pytest.raises(ValueError, match="lambda_mode"):
        DifferentialAttention(embed_dim=8, dim=8, num_heads=1, lambda_init=0.2, lambda_mode="vector")
