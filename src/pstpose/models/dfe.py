"""DFE: differential feature enhancement (paper Eq. 1-3).

Multi-head differential attention over all N = T*h*w clip tokens. Per head, the query and key
split into a positive and a negative half of d/2 channels each; the value keeps d channels:

    A = softmax(Q+ K+^T / sqrt(d/2)) V - lambda * softmax(Q- K-^T / sqrt(d/2)) V        (Eq. 2)
    lambda = exp(lq1 . lk1) - exp(lq2 . lk2) + lambda_init                              (Eq. 3)

Where the paper is silent we follow Differential Transformer: one lambda per layer shared by all
heads, lambda vectors ~ N(0, 0.1), each head's output RMS-normalised (learned scale shared by the
heads) and multiplied by (1 - lambda_init), and lambda_init = 0.8 - 0.6 exp(-0.3 (l - 1)) for a
layer at depth l (here l = backbone depth + 1: DFE is the layer right after the backbone).

``lambda_mode="channel"`` reads Eq. 3 as the paper's text does ("lambda ⊙"): the lambda vectors
have one entry per value channel of a head and their *element-wise* products give a vector
lambda = exp(lq1 ⊙ lk1) - exp(lq2 ⊙ lk2) + lambda_init, one weight per channel (shared by the
heads), instead of the dot products' single scalar.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from pstpose.models.layers import head_rms_norm, merge_heads, split_heads, trunc_normal_init_, zero_init_

LAMBDA_MODES = ("scalar", "channel")


def lambda_init_for_depth(depth: int) -> float:
    """Differential Transformer's lambda_init schedule for a layer at 1-based ``depth``."""
    return 0.8 - 0.6 * math.exp(-0.3 * (depth - 1))


class DifferentialAttention(nn.Module):
    """Token mixer of the DFE block: (B, N, C) normalised tokens -> (B, N, C) update."""

    def __init__(
        self, embed_dim: int, dim: int, num_heads: int, lambda_init: float, lambda_mode: str = "scalar"
    ) -> None:
        super().__init__()
        if lambda_mode not in LAMBDA_MODES:
            raise ValueError(f"DFE lambda_mode must be one of {', '.join(LAMBDA_MODES)}, got {lambda_mode!r}")
        self.lambda_mode = lambda_mode
        if dim % num_heads or (dim // num_heads) % 2:
            raise ValueError(f"DFE dim {dim} must split into {num_heads} heads of even size")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        half = self.head_dim // 2
        self.lambda_init = float(lambda_init)
        self.qk = nn.Linear(embed_dim, 2 * dim)  # [q | k]; per head [+ half | - half]
        self.v = nn.Linear(embed_dim, dim)
        size = half if lambda_mode == "scalar" else self.head_dim
        self.lambda_q1 = nn.Parameter(torch.zeros(size))
        self.lambda_k1 = nn.Parameter(torch.zeros(size))
        self.lambda_q2 = nn.Parameter(torch.zeros(size))
        self.lambda_k2 = nn.Parameter(torch.zeros(size))
        self.head_norm_weight = nn.Parameter(torch.ones(self.head_dim))
        self.proj = nn.Linear(dim, embed_dim)
        trunc_normal_init_(self)
        for p in (self.lambda_q1, self.lambda_k1, self.lambda_q2, self.lambda_k2):
            nn.init.normal_(p, mean=0.0, std=0.1)
        zero_init_(self.proj)

    def lambda_value(self) -> torch.Tensor:
        """Eq. 3: a 0-d tensor, or one weight per head channel (``head_dim``) in channel mode."""
        if self.lambda_mode == "channel":
            return (
                torch.exp(self.lambda_q1 * self.lambda_k1)
                - torch.exp(self.lambda_q2 * self.lambda_k2)
                + self.lambda_init
            )
        return (
            torch.exp(torch.dot(self.lambda_q1, self.lambda_k1))
            - torch.exp(torch.dot(self.lambda_q2, self.lambda_k2))
            + self.lambda_init
        )

    def differential_heads(self, h: torch.Tensor) -> torch.Tensor:
        """Eq. 2 per head, before the head norm: (B, N, C) -> (B, heads, N, head_dim)."""
        b, n, _ = h.shape
        heads, d, half = self.num_heads, self.head_dim, self.head_dim // 2
        # One copy lays q and k out as (q/k, +/-, B, heads, N, d/2). The fused attention kernels
        # want one head size for q, k and v, so the halves are zero-padded to d in that same
        # copy (zeros add nothing to q.k) and the 1/sqrt(d/2) scale is passed explicitly.
        qk = self.qk(h).reshape(b, n, 2, heads, 2, half).permute(2, 4, 0, 3, 1, 5)
        qk = F.pad(qk, (0, d - half))
        v = split_heads(self.v(h), heads)
        a_pos = F.scaled_dot_product_attention(qk[0, 0], qk[1, 0], v, scale=half**-0.5)
        a_neg = F.scaled_dot_product_attention(qk[0, 1], qk[1, 1], v, scale=half**-0.5)
        return a_pos - self.lambda_value() * a_neg

    def attention_maps(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The positive and negative softmax maps of Eq. 2, (B, heads, N, N) each, for inspection.

        ``forward`` never forms them (the fused kernels do not return weights); this reads the same
        q/k layout out explicitly. Rows are queries and sum to 1 over the N keys.
        """
        b, n, _ = h.shape
        heads, half = self.num_heads, self.head_dim // 2
        qk = self.qk(h).reshape(b, n, 2, heads, 2, half).permute(2, 4, 0, 3, 1, 5)
        scale = half**-0.5
        positive = torch.softmax((qk[0, 0] @ qk[1, 0].transpose(-1, -2)) * scale, dim=-1)
        negative = torch.softmax((qk[0, 1] @ qk[1, 1].transpose(-1, -2)) * scale, dim=-1)
        return positive, negative

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        # Differential Transformer's (1 - lambda_init) output scale, folded into the norm's scale.
        scale = self.head_norm_weight * (1.0 - self.lambda_init)
        return self.proj(merge_heads(head_rms_norm(self.differential_heads(h), scale)))
