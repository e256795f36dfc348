"""DSF: the sampling convention (identity at zero offset, hand-computed trilinear values) and the
deformable cross-attention against a direct computation."""

from __future__ import annotations

import math

import pytest
import torch

from pstpose.models.dsf import DeformableFusion, OffsetNetwork, sample_volume
from pstpose.models.layers import TokenGrid


def hand_trilinear(vol: torch.Tensor, t: float, y: float, x: float) -> torch.Tensor:
    """Value of vol (C, T, H, W) at a fractional cell position, zeros outside (independent loop)."""
    _, tt, hh, ww = vol.shape
    out = torch.zeros(vol.shape[0], dtype=torch.float64)
    t0, y0, x0 = math.floor(t), math.floor(y), math.floor(x)
    for ct in (t0, t0 + 1):
        for cy in (y0, y0 + 1):
            for cx in (x0, x0 + 1):
                w = (1 - abs(t - ct)) * (1 - abs(y - cy)) * (1 - abs(x - cx))
                if 0 <= ct < tt and 0 <= cy < hh and 0 <= cx < ww:
                    out += w * vol[:, ct, cy, cx].double()
    return out


@pytest.mark.parametrize("shape", [(3, 16, 12), (5, 16, 12), (3, 7, 5), (1, 4, 4)])
def test_zero_offsets_reproduce_the_volume_bit_for_bit(shape):
    vol = torch.randn(2, 4, *shape)
    out = sample_volume(vol, torch.zeros(2, *shape, 3))
    assert torch.equal(out, vol)


def test_known_offsets_give_the_hand_computed_interpolation():
    gen = torch.Generator().manual_seed(0)
    vol = torch.randn(1, 3, 3, 6, 5, generator=gen)
    offsets = torch.zeros(1, 3, 6, 5, 3)
    cases = {  # cell (t, y, x) -> offset (dt, dy, dx)
        (1, 2, 2): (0.5, 0.25, -0.75),
        (0, 0, 0): (-0.5, -0.5, 0.3),  # partly outside: the outside corners count as zero
        (2, 5, 4): (0.0, 0.6, 0.0),  # between the last row and the zero outside
        (1, 3, 1): (1.0, -2.0, 3.0),  # a whole-cell jump reads that cell exactly
        (0, 1, 1): (-1.5, 0.0, 0.0),  # entirely outside in time -> zero
    }
    for (t, y, x), off in cases.items():
        offsets[0, t, y, x] = torch.tensor(off)
    out = sample_volume(vol, offsets)
    for (t, y, x), (dt, dy, dx) in cases.items():
        expected = hand_trilinear(vol[0], t + dt, y + dy, x + dx)
        torch.testing.assert_close(out[0, :, t, y, x].double(), expected, rtol=1e-5, atol=1e-6)
    assert torch.equal(out[0, :, 1, 3, 1], vol[0, :, 2, 1, 4])
    assert torch.equal(out[0, :, 0, 1, 1], torch.zeros(3))
    untouched = torch.ones(3, 6, 5, dtype=torch.bool)
    for t, y, x in cases:
        untouched[t, y, x] = False
    assert torch.equal(out[0][:, untouched], vol[0][:, untouched])


def test_offsets_are_bounded_by_tanh_ranges():
    net = OffsetNetwork(dim=8, groups=2, kernel=3, range_t=0.5, range_xy=2.0)
    with torch.no_grad():
        net.pointwise.weight.normal_(0, 50.0)
    off = net(torch.randn(1, 8, 3, 4, 4))
    assert off.shape == (1, 2, 3, 4, 4, 3)
    assert off[..., 0].abs().max() <= 0.5 and off[..., 1:].abs().max() <= 2.0
    assert off[..., 1:].abs().max() > 1.9  # large inputs saturate near the bound


def _plain_attention(q, k, v, heads):
    """Multi-head attention of q (B, N, d) to k, v (B, M, d) by explicit softmax (M may differ)."""
    b, n, d = q.shape
    q = q.reshape(b, n, heads, d // heads).transpose(1, 2)
    k, v = (t.reshape(b, t.shape[1], heads, d // heads).transpose(1, 2) for t in (k, v))
    a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // heads), dim=-1) @ v
    return a.transpose(1, 2).reshape(b, n, d)


def _dsf(seed: int = 0, grid: TokenGrid | None = None, key_stride: int = 1) -> DeformableFusion:
    torch.manual_seed(seed)
    grid = grid or TokenGrid(3, 4, 3)
    m = DeformableFusion(embed_dim=10, dim=8, num_heads=4, groups=2, grid=grid, range_xy=1.5, key_stride=key_stride)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.3)
    return m


def test_each_offset_group_moves_the_keys_and_values_of_its_own_heads():
    m = _dsf(1)
    h = torch.randn(1, 36, 10)
    offsets = torch.zeros(1, 2, 3, 4, 3, 3)
    offsets[:, 1, ..., 2] = 1.0  # group 1 reads one cell to the right, group 0 stays
    k, v = m.sampled_keys_values(h, offsets)
    kv = (m.kv(h) + m.kv_bias).reshape(1, 3, 4, 3, 16)
    shifted = torch.cat([kv[..., 1:, :], m.kv_bias.expand(1, 3, 4, 1, 16)], dim=3).reshape(1, 36, 16)
    kv = kv.reshape(1, 36, 16)
    # heads 0-1 (channels 0-3 of K and of V) are group 0; heads 2-3 (channels 4-7) group 1
    torch.testing.assert_close(k[..., :4], kv[..., :4])
    torch.testing.assert_close(v[..., :4], kv[..., 8:12])
    torch.testing.assert_close(k[..., 4:], shifted[..., 4:8])
    torch.testing.assert_close(v[..., 4:], shifted[..., 12:16])


def test_offset_gradients_flow_through_sampling():
    m = _dsf(2)
    m(torch.randn(1, 36, 10)).square().sum().backward()
    assert m.offsets.depthwise.weight.grad.abs().sum() > 0
    assert m.offsets.pointwise.weight.grad.abs().sum() > 0


def test_low_precision_volumes_sample_with_float32_positions():
    vol = torch.randn(1, 2, 3, 4, 4)
    offsets = torch.full((1, 3, 4, 4, 3), 0.3)
    ref = sample_volume(vol, offsets)
    low = sample_volume(vol.bfloat16(), offsets.bfloat16())
    assert low.dtype == torch.bfloat16
    torch.testing.assert_close(low.float(), ref, rtol=2e-2, atol=2e-2)
    assert torch.equal(sample_volume(vol.bfloat16(), torch.zeros_like(offsets)), vol.bfloat16())


# --- key stride (DAT's reference-point downsampling) ---------------------------------------------


def _strided(seed: int = 0) -> DeformableFusion:
    return _dsf(seed, TokenGrid(3, 4, 6), key_stride=2)


def _block_means(x: torch.Tensor) -> torch.Tensor:
    """(B, 3*4*6, C) tokens -> (B, 3*2*3, C): the mean of every 2x2 block of cells, by reshaping."""
    b, _, c = x.shape
    return x.reshape(b, 3, 2, 2, 3, 2, c).mean(dim=(3, 5)).reshape(b, 18, c)


def test_key_stride_reference_points_are_block_centres():
    ref = _strided().reference_points()
    assert ref.shape == (3, 2, 3, 3)
    assert ref[1, 1, 2].tolist() == [1.0, 2.5, 4.5]  # block (rows 2-3, cols 4-5) of frame 1
    assert ref[0, 0, 0].tolist() == [0.0, 0.5, 0.5]
    offsets, attention = _strided().sampling(torch.randn(2, 72, 10))  # 18 keys for 72 queries
    assert offsets.shape == (2, 2, 3, 2, 3, 3) and attention.shape == (2, 4, 72, 18)
    torch.testing.assert_close(attention.sum(dim=-1), torch.ones(2, 4, 72))


@pytest.mark.parametrize("key_stride", [1, 2])
def test_zero_offsets_make_dsf_plain_cross_attention(key_stride):
    """Zero offsets: keys at the reference points. Stride 1: every cell's own K/V; stride 2: a
    block centre sampled bilinearly is the mean of its four cells, so keys are 2x2 block means."""
    m = _dsf(0, TokenGrid(3, 4, 6), key_stride)
    with torch.no_grad():
        m.offsets.pointwise.weight.zero_()
        m.offsets.pointwise.bias.zero_()
    h = torch.randn(2, 72, 10)
    kv = m.kv(h) if key_stride == 1 else _block_means(m.kv(h))
    k, v = (kv + m.kv_bias).chunk(2, dim=-1)
    expected = m.proj(_plain_attention(m.q(h), k, v, 4))
    torch.testing.assert_close(m(h), expected, rtol=1e-5, atol=1e-6)


def test_key_stride_samples_reference_plus_offset_by_hand():
    m = _strided(1)
    h = torch.randn(1, 72, 10)
    offsets = torch.zeros(1, 2, 3, 2, 3, 3)
    offsets[0, 1, 1, 0, 2] = torch.tensor([0.3, -0.7, 0.4])  # group 1, key (t=1, row 0, col 2)
    k, _ = m.sampled_keys_values(h, offsets)
    kv = m.kv(h).reshape(3, 4, 6, 16).permute(3, 0, 1, 2)  # (C, T, H, W), before the bias
    # key (1, 0, 2) is key index 1*6 + 0*3 + 2 = 8; its reference point is (1, 0.5, 4.5)
    at = hand_trilinear(kv, 1.3, 0.5 - 0.7, 4.5 + 0.4)
    torch.testing.assert_close(k[0, 8, 4:8].double(), at[4:8] + m.kv_bias[4:8].double(), rtol=1e-5, atol=1e-6)
    # group 0 of the same key is unmoved: the block mean
    torch.testing.assert_close(k[0, 8, :4], _block_means(m.kv(h))[0, 8, :4] + m.kv_bias[:4], rtol=1e-5, atol=1e-6)


def test_key_stride_offsets_come_from_block_averaged_queries():
    m = _strided(2)
    q = torch.randn(2, 72, 8)
    pooled = _block_means(q).reshape(2, 3, 2, 3, 8).permute(0, 4, 1, 2, 3)
    torch.testing.assert_close(m.predict_offsets(q), m.offsets(pooled), rtol=1e-5, atol=1e-6)


def test_key_stride_must_divide_the_grid():
    with pytest.raises(ValueError, match="key_stride 4 must be >= 1 and divide the 4x6"):
        DeformableFusion(embed_dim=10, dim=8, num_heads=4, groups=2, grid=TokenGrid(3, 4, 6), key_stride=4)
