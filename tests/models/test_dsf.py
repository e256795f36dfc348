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


# --- per-query sampling (Deformable DETR's form) -------------------------------------------------


def _per_query(seed: int = 0, points: int = 2) -> DeformableFusion:
    torch.manual_seed(seed)
    m = DeformableFusion(
        embed_dim=10,
        dim=8,
        num_heads=4,
        groups=2,
        grid=TokenGrid(3, 4, 3),
        range_xy=1.5,
        sampling="per_query",
        points=points,
    )
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.3)
    return m


def test_per_query_offsets_start_on_rings_with_the_frame_steps():
    torch.manual_seed(0)
    m = DeformableFusion(10, 8, 4, 2, TokenGrid(3, 4, 3), range_xy=3.0, sampling="per_query", points=4)
    with torch.no_grad():
        m.offsets.pointwise.weight.zero_()
    off = m.predict_offsets(m.q(torch.randn(2, 36, 10)))
    assert off.shape == (2, 2, 3, 4, 3, 12, 3)  # (B, G, T, h, w, S = 3 frames x 4 points, 3)
    # sample (f, p) of a query in frame t: dt = f - t; (dy, dx) on the unit ring at 45 + 90p degrees
    for t in range(3):
        for f in range(3):
            for p in range(4):
                a = math.pi / 4 + p * math.pi / 2
                expected = torch.tensor([f - t, math.sin(a), math.cos(a)])
                torch.testing.assert_close(off[1, 1, t, 2, 0, 4 * f + p], expected, rtol=1e-5, atol=1e-6)


def test_per_query_samples_are_trilinear_at_the_query_cell_plus_offset():
    m = _per_query(3)
    h = torch.randn(1, 36, 10)
    gen = torch.Generator().manual_seed(1)
    offsets = torch.rand(1, 2, 3, 4, 3, 6, 3, generator=gen) * 3 - 1.5
    k, v = m.query_keys_values(h, offsets)
    assert k.shape == v.shape == (1, 4, 36, 6, 2)
    kv = m.kv(h).reshape(3, 4, 3, 16).permute(3, 0, 1, 2)  # (C = [K | V], T, H, W), before the bias
    for t, y, x, s in [(0, 0, 0, 0), (1, 2, 1, 4), (2, 3, 2, 5), (1, 1, 0, 3)]:
        n = t * 12 + y * 3 + x
        for head in range(4):
            g = head // 2  # heads 0-1 use group 0's offsets, heads 2-3 group 1's
            dt, dy, dx = offsets[0, g, t, y, x, s].tolist()
            at = hand_trilinear(kv, t + dt, y + dy, x + dx) + m.kv_bias.double()
            torch.testing.assert_close(k[0, head, n, s].double(), at[2 * head : 2 * head + 2], rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(
                v[0, head, n, s].double(), at[8 + 2 * head : 10 + 2 * head], rtol=1e-5, atol=1e-6
            )


def test_per_query_forward_is_attention_over_each_querys_own_samples():
    """The module's output against a loop: query by query, softmax over its samples' keys."""
    m = _per_query(4)
    h = torch.randn(2, 36, 10)
    with torch.no_grad():
        out = m(h)
        q = m.q(h)
        offsets = m.predict_offsets(q)
        kv = m.kv(h)
        expected = torch.zeros(2, 36, 8, dtype=torch.float64)
        for b in range(2):
            vol = kv[b].reshape(3, 4, 3, 16).permute(3, 0, 1, 2)
            for n in range(36):
                t, y, x = n // 12, (n % 12) // 3, n % 3
                for head in range(4):
                    g, sl = head // 2, slice(2 * head, 2 * head + 2)
                    samples = [
                        hand_trilinear(vol, t + o[0], y + o[1], x + o[2]) + m.kv_bias.double()
                        for o in offsets[b, g, t, y, x].tolist()
                    ]
                    keys = torch.stack([s[sl] for s in samples])
                    values = torch.stack([s[8:][sl] for s in samples])
                    w = torch.softmax(keys @ q[b, n, sl].double() / math.sqrt(2), dim=0)
                    expected[b, n, sl] = w @ values
        expected = m.proj(expected.float())
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
    _, attention = m.sampling(h)
    assert attention.shape == (2, 4, 36, 6)
    torch.testing.assert_close(attention.sum(-1), torch.ones(2, 4, 36))


def test_per_query_offset_gradients_flow():
    m = _per_query(5)
    m(torch.randn(1, 36, 10)).square().sum().backward()
    assert m.offsets.pointwise.weight.grad.abs().sum() > 0 and m.offsets.depthwise.weight.grad.abs().sum() > 0


def test_per_query_rejects_what_it_cannot_run():
    with pytest.raises(ValueError, match="sampling must be one of shared, per_query"):
        DeformableFusion(10, 8, 4, 2, TokenGrid(3, 4, 6), sampling="local")
    with pytest.raises(ValueError, match="per_query sampling needs key_stride 1"):
        DeformableFusion(10, 8, 4, 2, TokenGrid(3, 4, 6), key_stride=2, sampling="per_query")


@pytest.mark.parametrize("mode", ["shared", "per_query"])
def test_attended_positions_against_a_loop_over_samples(mode):
    """Per query and frame: the mean sampled (y, x) weighted by head-averaged attention times the
    sample's share of that frame, written as a plain loop over the samples."""
    m = _per_query(6) if mode == "per_query" else _dsf(6)
    with torch.no_grad():
        m.offsets.pointwise.weight.mul_(5.0)  # offsets well away from the reference points
    h = torch.randn(1, 36, 10)
    with torch.no_grad():
        offsets, attention = m.sampling(h)
        looked = m.attended_positions(h)
    assert looked.shape == (1, 3, 36, 2)
    for n in (0, 17, 35):
        t, y, x = n // 12, (n % 12) // 3, n % 3
        if mode == "per_query":
            samples = [
                (g, [t + o[0], y + o[1], x + o[2]]) for g in range(2) for o in offsets[0, g, t, y, x].double().tolist()
            ]
        for f in range(3):
            num, den = torch.zeros(2, dtype=torch.float64), 0.0
            if mode == "per_query":
                s_count = offsets.shape[-2]
                for i, (g, pos) in enumerate(samples):
                    heads = attention[0, 2 * g : 2 * g + 2, n, i % s_count].double().mean()
                    w = float(heads) / 2 * max(0.0, 1 - abs(pos[0] - f))
                    num += w * torch.tensor(pos[1:], dtype=torch.float64)
                    den += w
            else:
                for g in range(2):
                    for j in range(36):
                        tj, yj, xj = j // 12, (j % 12) // 3, j % 3
                        dt, dy, dx = offsets[0, g, tj, yj, xj].double().tolist()
                        heads = attention[0, 2 * g : 2 * g + 2, n, j].double().mean()
                        w = float(heads) / 2 * max(0.0, 1 - abs(tj + dt - f))
                        num += w * torch.tensor([yj + dy, xj + dx], dtype=torch.float64)
                        den += w
            torch.testing.assert_close(looked[0, f, n], num / den, rtol=1e-6, atol=1e-6)
