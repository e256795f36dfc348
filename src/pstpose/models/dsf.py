"""DSF: deformable spatiotemporal fusion (paper Eq. 7-9).

Queries Q = F2 W_Q. An offset network on the query volume (T x h x w: depthwise 3-D conv ->
LayerNorm -> GELU -> 1x1 conv) predicts, per token and offset group, (dt, dy, dx) bounded by
``range * tanh``. Keys and values are taken from F2 sampled at the reference points P (every
token's own cell) plus these offsets by trilinear interpolation, and the queries cross-attend to
them. Offset group g supplies the sampling positions for the keys/values of the heads in group g.

Sampling is linear in the features, so sampling F2 and then projecting equals projecting F2 to
K|V (bias-free) and sampling that: we do the latter (2*dim channels instead of C) and add the
K|V bias afterwards.

Key stride r (``key_stride``, DAT's downsampling factor; 1 by default): the reference points P are
every token's own cell when r = 1, else the centres of r x r blocks of cells (r*i + (r-1)/2), so
there are r^2 fewer keys than queries and the offset network runs on the query volume averaged
over each block. With r = 1 every query can already reach every cell, so offsets only re-sample
what other keys hold; with r > 1 the few keys must be put where the information is.

Sampling mode ``per_query`` (Deformable DETR's form; ``shared`` is the default above): every
query samples its own ``points`` positions in each of the T frames around its own cell, offset by
(dy, dx) predicted from that query, and attends over those T*points samples only. A query then
sees nothing of a neighbouring frame beyond its offsets' reach, so to use a joint that moved the
offsets must follow it; with ``shared`` sampling every query already reaches every cell.

Sampling convention: positions are token-cell indices (t, y, x); cell i is the sample at index i;
outside the volume the features are zero. ``grid_sample`` runs with ``align_corners=False`` on the
volume zero-padded (at the far end) to power-of-two sizes: then every normalised coordinate of an
integer cell, (2i + 1) / size - 1, is a dyadic rational, the un-normalisation inside grid_sample
is exact in floating point, and zero offsets reproduce the input bit for bit.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from pstpose.models.layers import TokenGrid, merge_heads, split_heads, trunc_normal_init_, zero_init_

SAMPLING_MODES = ("shared", "per_query")


def _next_pow2(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


def pad_to_pow2(volume: torch.Tensor) -> torch.Tensor:
    """Zero-pad the last three dims (T, H, W) at their far end to powers of two (any rank, one copy)."""
    t, h, w = (int(s) for s in volume.shape[-3:])  # static sizes (also under ONNX tracing)
    return F.pad(volume, (0, _next_pow2(w) - w, 0, _next_pow2(h) - h, 0, _next_pow2(t) - t))


def sample_padded(
    padded: torch.Tensor, size: tuple[int, int, int], offsets: torch.Tensor, stride: int = 1
) -> torch.Tensor:
    """``sample_volume`` on a volume already passed through ``pad_to_pow2``; ``size`` = the (T, H, W)
    of the reference grid, whose point (t, i, j) sits at cell (t, stride*i + (stride-1)/2, ...).

    ``offsets`` (B, T, H, W, 3), or (B, T, H, W, S, 3) for S samples per reference point, which
    come back as (B, C, T, H*W, S)."""
    t, h, w = size
    tp, hp, wp = padded.shape[-3:]
    # Positions in float32 even under mixed precision: bf16 would round them to ~1/30 of a cell.
    dtype = torch.promote_types(padded.dtype, torch.float32)
    per_point = offsets.dim() == 6
    offsets = offsets.to(dtype)
    if per_point:  # (B, T, H, W, S, 3) -> (B, T, H*W, S, 3) with the reference index per H*W row
        offsets = offsets.reshape(offsets.shape[0], t, h * w, offsets.shape[-2], 3)
    dt, dy, dx = offsets.unbind(dim=-1)
    centre = (stride - 1) / 2.0
    ti = torch.arange(t, dtype=dtype, device=offsets.device)[:, None, None]
    yi = (torch.arange(h, dtype=dtype, device=offsets.device) * stride + centre)[None, :, None]
    xi = (torch.arange(w, dtype=dtype, device=offsets.device) * stride + centre)[None, None, :]
    if per_point:  # each of the H*W rows of reference points carries its S samples along the last dim
        yi, xi = yi.expand(1, h, w).reshape(1, h * w, 1), xi.expand(1, h, w).reshape(1, h * w, 1)
    grid = torch.stack(
        [
            (2.0 * (xi + dx) + 1.0) / wp - 1.0,
            (2.0 * (yi + dy) + 1.0) / hp - 1.0,
            (2.0 * (ti + dt) + 1.0) / tp - 1.0,
        ],
        dim=-1,
    )
    sampled = F.grid_sample(padded.to(dtype), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return sampled.to(padded.dtype)


def sample_volume(volume: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Trilinear sampling of ``volume`` (B, C, T, H, W) at every cell + ``offsets`` (B, T, H, W, 3).

    Offsets are (dt, dy, dx) in cells; points outside the volume read zeros. Returns (B, C, T, H, W).
    """
    t, h, w = (int(s) for s in volume.shape[2:])
    return sample_padded(pad_to_pow2(volume), (t, h, w), offsets)


class OffsetNetwork(nn.Module):
    """Query volume (B, dim, T, h, w) -> bounded offsets (B, groups, T, h, w, 3) in cells."""

    def __init__(
        self, dim: int, groups: int, kernel: int, range_t: float, range_xy: float, outputs_per_group: int = 3
    ) -> None:
        super().__init__()
        self.groups = groups
        self.depthwise = nn.Conv3d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.act = nn.GELU()
        self.pointwise = nn.Linear(dim, outputs_per_group * groups)  # the 1x1x1 conv, applied channels-last
        self.range_t, self.range_xy = float(range_t), float(range_xy)

    def raw(self, query_volume: torch.Tensor) -> torch.Tensor:
        """(B, T, h, w, outputs) before bounding."""
        x = self.depthwise(query_volume).permute(0, 2, 3, 4, 1)  # (B, T, h, w, dim), channels-last
        return self.pointwise(self.act(self.norm(x)))

    def forward(self, query_volume: torch.Tensor) -> torch.Tensor:
        raw = self.raw(query_volume)  # (B, T, h, w, 3G)
        b, t, h, w, _ = raw.shape
        raw = raw.reshape(b, t, h, w, self.groups, 3).permute(0, 4, 1, 2, 3, 5)
        bounded = torch.tanh(raw)
        return torch.stack(
            [bounded[..., 0] * self.range_t, bounded[..., 1] * self.range_xy, bounded[..., 2] * self.range_xy], dim=-1
        )


class QueryOffsetNetwork(OffsetNetwork):
    """Query volume (B, dim, T, h, w) -> per query, group and sample the offsets (B, G, T, h, w, S, 3)
    in cells, S = frames * points: sample (f, p) lies in frame f (dt = f - the query's frame, fixed)
    at the query's cell + (dy, dx), bounded by ``range_xy * tanh``.

    The biases start the ``points`` samples of a frame on a ring of one cell (half the range when
    that is smaller) around the query, as Deformable DETR spreads its initial points: identical
    samples would receive identical gradients."""

    def __init__(self, dim: int, groups: int, kernel: int, range_xy: float, frames: int, points: int) -> None:
        super().__init__(dim, groups, kernel, 0.0, range_xy, outputs_per_group=2 * frames * points)
        self.frames, self.points = frames, points

    def forward(self, query_volume: torch.Tensor) -> torch.Tensor:
        raw = self.raw(query_volume)  # (B, T, h, w, G*F*P*2)
        b, t, h, w, _ = raw.shape
        s = self.frames * self.points
        spatial = torch.tanh(raw.reshape(b, t, h, w, self.groups, s, 2).permute(0, 4, 1, 2, 3, 5, 6)) * self.range_xy
        steps = torch.arange(self.frames, dtype=spatial.dtype, device=spatial.device)
        steps = steps[None, :] - torch.arange(t, dtype=spatial.dtype, device=spatial.device)[:, None]  # (T, F)
        dt = steps[:, None, None, :, None].expand(t, h, w, self.frames, self.points).reshape(t, h, w, s)
        return torch.cat([dt.expand(b, self.groups, t, h, w, s)[..., None], spatial], dim=-1)


def ring_bias(groups: int, frames: int, points: int, range_xy: float) -> torch.Tensor:
    """Pointwise bias putting each frame's ``points`` samples on a ring around the query (one cell,
    or half of ``range_xy`` if smaller; one point sits at the centre), in (G, F, P, (dy, dx)) order."""
    radius = 0.0 if points == 1 or range_xy <= 0 else min(1.0, 0.5 * range_xy)
    angle = 2.0 * math.pi * torch.arange(points, dtype=torch.float64) / points + math.pi / 4.0
    ring = torch.stack([radius * torch.sin(angle), radius * torch.cos(angle)], dim=-1)  # (P, 2) cells
    raw = torch.atanh(ring / range_xy) if range_xy > 0 else torch.zeros_like(ring)
    return raw.expand(groups, frames, points, 2).reshape(-1).float()


class DeformableFusion(nn.Module):
    """Token mixer of the DSF block: (B, N, C) normalised tokens -> (B, N, C) update."""

    def __init__(
        self,
        embed_dim: int,
        dim: int,
        num_heads: int,
        groups: int,
        grid: TokenGrid,
        kernel: int = 3,
        range_t: float = 1.0,
        range_xy: float = 2.0,
        key_stride: int = 1,
        sampling: str = "shared",
        points: int = 4,
    ) -> None:
        super().__init__()
        if dim % num_heads or num_heads % groups:
            raise ValueError(f"DSF: dim {dim}, heads {num_heads} and offset groups {groups} do not divide")
        if key_stride < 1 or grid.height % key_stride or grid.width % key_stride:
            raise ValueError(
                f"DSF: key_stride {key_stride} must be >= 1 and divide the {grid.height}x{grid.width} token grid"
            )
        if sampling not in SAMPLING_MODES:
            raise ValueError(f"DSF: sampling must be one of {', '.join(SAMPLING_MODES)}, got {sampling!r}")
        if sampling == "per_query" and (key_stride != 1 or points < 1):
            raise ValueError(f"DSF: per_query sampling needs key_stride 1 and points >= 1, got {key_stride}, {points}")
        self.dim, self.num_heads, self.groups = dim, num_heads, groups
        self.grid = grid
        self.key_stride = key_stride
        self.sampling_mode = sampling
        self.key_grid = TokenGrid(grid.frames, grid.height // key_stride, grid.width // key_stride)
        self.q = nn.Linear(embed_dim, dim)
        self.kv = nn.Linear(embed_dim, 2 * dim, bias=False)
        self.kv_bias = nn.Parameter(torch.zeros(2 * dim))
        if sampling == "per_query":
            self.offsets = QueryOffsetNetwork(dim, groups, kernel, range_xy, grid.frames, points)
        else:
            self.offsets = OffsetNetwork(dim, groups, kernel, range_t, range_xy)
        self.proj = nn.Linear(dim, embed_dim)
        trunc_normal_init_(self)
        # Small (not zero) offset weights: sampling starts next to its initial pattern (the
        # identity, or per_query's rings) while every parameter of the offset network receives
        # gradient from the first step on.
        nn.init.normal_(self.offsets.pointwise.weight, std=1e-3)
        if sampling == "per_query":
            with torch.no_grad():
                self.offsets.pointwise.bias.copy_(ring_bias(groups, grid.frames, points, range_xy))
        zero_init_(self.proj)

    @property
    def samples_per_query(self) -> int:
        """Keys each query attends over: every reference point (shared) or its own samples (per_query)."""
        if self.sampling_mode == "per_query":
            return self.grid.frames * self.offsets.points
        return self.key_grid.num_tokens

    def sampled_keys_values(self, h: torch.Tensor, offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """K and V (B, N_keys, dim) each, sampled per offset group at reference point + offset."""
        b = h.shape[0]
        g, d, grid, keys = self.groups, self.dim, self.grid, self.key_grid
        size = (grid.frames, grid.height, grid.width)
        key_size = (keys.frames, keys.height, keys.width)
        n = keys.num_tokens
        # Channels [K | V], heads in order -> group gi gets its heads' slice of K and of V:
        # (B, G, 2, d/G, T, h, w) as a view; padding it makes the one copy, then (B*G, 2d/G, ...).
        kv = self.kv(h).reshape(b, *size, 2, g, d // g).permute(0, 5, 4, 6, 1, 2, 3)
        padded = pad_to_pow2(kv)
        padded = padded.reshape(b * g, 2 * d // g, *padded.shape[-3:])
        sampled = sample_padded(padded, key_size, offsets.reshape(b * g, *key_size, 3), self.key_stride)
        sampled = sampled.reshape(b, g, 2, d // g, n).permute(0, 4, 2, 1, 3).reshape(b, n, 2 * d)
        sampled = sampled + self.kv_bias
        return sampled[..., :d], sampled[..., d:]

    def query_keys_values(self, h: torch.Tensor, offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-query sampling: K and V (B, heads, N, S, head_dim) each, query i's S samples at its
        own cell + ``offsets`` (B, G, T, h, w, S, 3)."""
        b = h.shape[0]
        g, d, grid = self.groups, self.dim, self.grid
        size = (grid.frames, grid.height, grid.width)
        n, s, heads = grid.num_tokens, offsets.shape[-2], self.num_heads
        kv = self.kv(h).reshape(b, *size, 2, g, d // g).permute(0, 5, 4, 6, 1, 2, 3)
        padded = pad_to_pow2(kv)
        padded = padded.reshape(b * g, 2 * d // g, *padded.shape[-3:])
        sampled = sample_padded(padded, size, offsets.reshape(b * g, *size, s, 3))  # (B*G, 2d/G, T, h*w, S)
        # (B, G, 2, heads/G, head_dim, N, S) -> (2, B, heads, N, S, head_dim)
        sampled = sampled.reshape(b, g, 2, heads // g, d // heads, n, s).permute(2, 0, 1, 3, 5, 6, 4)
        sampled = sampled.reshape(2, b, heads, n, s, d // heads)
        bias = self.kv_bias.reshape(2, 1, heads, 1, 1, d // heads)
        k, v = (sampled + bias).unbind(dim=0)
        return k, v

    def _per_query_attention(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Softmax weights (B, heads, N, S) of each query over its own samples."""
        q = split_heads(q, self.num_heads)
        scale = (self.dim // self.num_heads) ** -0.5
        return torch.softmax(torch.einsum("bhnd,bhnsd->bhns", q, k) * scale, dim=-1)

    def predict_offsets(self, q: torch.Tensor) -> torch.Tensor:
        """Queries (B, N, dim) -> offsets (B, G, T, h', w', 3) of the reference grid, in cells
        (per_query: (B, G, T, h, w, S, 3), S samples per query)."""
        g = self.grid
        # (B, N, d) is the channels-last layout of the (B, d, T, h, w) query volume: no copy.
        volume = q.reshape(q.shape[0], g.frames, g.height, g.width, self.dim).permute(0, 4, 1, 2, 3)
        if self.key_stride > 1:
            volume = F.avg_pool3d(volume, (1, self.key_stride, self.key_stride))
        return self.offsets(volume)

    def reference_points(self) -> torch.Tensor:
        """(T, h', w', 3) cell positions (t, y, x) of the reference points the offsets start from."""
        k, r = self.key_grid, self.key_stride
        t, y, x = torch.meshgrid(
            torch.arange(k.frames, dtype=torch.float32),
            torch.arange(k.height, dtype=torch.float32) * r + (r - 1) / 2.0,
            torch.arange(k.width, dtype=torch.float32) * r + (r - 1) / 2.0,
            indexing="ij",
        )
        return torch.stack([t, y, x], dim=-1)

    def sampling(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What ``forward`` samples and how each query weighs it, for inspection.

        Returns (offsets (B, G, T, h', w', 3) as (dt, dy, dx) in token cells, attention
        (B, heads, N, N_keys)): row i of a head in offset group g holds query i's softmax weights
        over the keys sampled at every reference point j + offsets[:, g, j] (``reference_points``;
        with key_stride 1, every cell). ``forward`` does not form the weights.
        Per-query sampling: offsets (B, G, T, h, w, S, 3) from each query's own cell, attention
        (B, heads, N, S) over its own S samples.
        """
        q = self.q(h)
        offsets = self.predict_offsets(q)
        if self.sampling_mode == "per_query":
            return offsets, self._per_query_attention(q, self.query_keys_values(h, offsets)[0])
        k, _ = self.sampled_keys_values(h, offsets)
        q, k = split_heads(q, self.num_heads), split_heads(k, self.num_heads)
        scale = (self.dim // self.num_heads) ** -0.5
        return offsets, torch.softmax((q @ k.transpose(-1, -2)) * scale, dim=-1)

    def attended_positions(self, h: torch.Tensor) -> torch.Tensor:
        """(B, T, N, 2): where each query's attention lands in each frame f, as a (y, x) cell position.

        The mean of the sampled positions weighted by the query's attention (averaged over heads)
        times each sample's trilinear share of frame f, max(0, 1 - |t - f|); NaN where no weight
        falls in f. Whether DSF follows motion is whether these move with the joints."""
        offsets, attention = self.sampling(h)
        b, _, n, m = attention.shape
        g, frames = self.groups, self.grid.frames
        weights = attention.reshape(b, g, -1, n, m).mean(dim=2).double()  # (B, G, N, M): heads of a group
        if self.sampling_mode == "per_query":
            t, y, x = torch.meshgrid(
                *(torch.arange(k, dtype=torch.float64) for k in (frames, self.grid.height, self.grid.width)),
                indexing="ij",
            )
            own = torch.stack([t, y, x], dim=-1).reshape(1, 1, n, 1, 3).to(offsets.device)
            positions = own + offsets.double().reshape(b, g, n, m, 3)  # (B, G, N, S, 3)
        else:
            reference = self.reference_points().double().to(offsets.device)
            positions = (reference + offsets.double()).reshape(b, g, 1, m, 3).expand(b, g, n, m, 3)
        steps = torch.arange(frames, dtype=torch.float64, device=offsets.device)
        share = (1.0 - (positions[..., 0, None] - steps).abs()).clamp(min=0.0)  # (B, G, N, M, T)
        mass = weights[..., None] * share
        total = torch.einsum("bgnmt,bgnmc->bntc", mass, positions[..., 1:])
        norm = mass.sum(dim=(1, 3))[..., None]  # (B, N, T, 1)
        looked = torch.where(norm > 0, total / norm.clamp(min=1e-300), torch.full_like(total, float("nan")))
        return looked.permute(0, 2, 1, 3)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        q = self.q(h)
        if self.sampling_mode == "per_query":
            k, v = self.query_keys_values(h, self.predict_offsets(q))
            weights = self._per_query_attention(q, k)
            return self.proj(merge_heads(torch.einsum("bhns,bhnsd->bhnd", weights, v)))
        k, v = self.sampled_keys_values(h, self.predict_offsets(q))
        q, k, v = (split_heads(x, self.num_heads) for x in (q, k, v))
        return self.proj(merge_heads(F.scaled_dot_product_attention(q, k, v)))
