"""Small building blocks shared by the backbone and the refinement modules."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DropPath(nn.Module):
    """Stochastic depth: drop a whole residual branch per sample while training."""

    def __init__(self, rate: float = 0.0) -> None:
        super().__init__()
        self.rate = float(rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.rate == 0.0 or not self.training:
            return x
        keep = 1.0 - self.rate
        mask = torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device) < keep
        return x * mask.to(x.dtype) / keep


class FeedForward(nn.Module):
    """Two-layer GELU MLP ``fc2(gelu(fc1(x)))`` (the ViT/ViTPose MLP, also used by the refiners)."""

    def __init__(self, dim: int, hidden: int, out_dim: int | None = None) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim if out_dim is None else out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, N, H*D) -> (B, H, N, D)."""
    b, n, c = x.shape
    return x.reshape(b, n, num_heads, c // num_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, N, D) -> (B, N, H*D)."""
    b, h, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, h * d)


def head_rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """RMS normalisation over the last dim with a learned scale (written out: exports anywhere)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight


def zero_init_(module: nn.Linear | nn.Conv3d) -> None:
    """Zero a layer's weight and bias so that the residual branch it ends starts as exactly 0."""
    nn.init.zeros_(module.weight)
    if module.bias is not None:
        nn.init.zeros_(module.bias)


def trunc_normal_init_(module: nn.Module, std: float = 0.02) -> None:
    """ViT initialisation: truncated-normal linear weights, zero biases, unit LayerNorms."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class TokenGrid:
    """The clip's token layout: ``frames`` x ``height`` x ``width`` tokens, frame-major."""

    def __init__(self, frames: int, height: int, width: int) -> None:
        self.frames, self.height, self.width = frames, height, width

    @property
    def num_tokens(self) -> int:
        return self.frames * self.height * self.width

    @property
    def tokens_per_frame(self) -> int:
        return self.height * self.width


class RefinementBlock(nn.Module):
    """Pre-norm residual block around a token mixer, followed by a pre-norm residual MLP.

    ``x + mixer(LN(x))`` then ``+ mlp(LN(.))``. The mixer's output projection and the MLP's
    ``fc2`` start at zero, so a fresh block is the identity map: with ViTPose weights the model
    starts exactly at ViTPose.
    """

    def __init__(self, embed_dim: int, mixer: nn.Module, mlp_hidden: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dim, eps=eps)
        self.mixer = mixer
        self.norm2 = nn.LayerNorm(embed_dim, eps=eps)
        self.mlp = FeedForward(embed_dim, mlp_hidden)
        trunc_normal_init_(self.mlp)
        zero_init_(self.mlp.fc2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mixer(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class SpatiotemporalSelfAttention(nn.Module):
    """Standard multi-head self-attention over all clip tokens at a reduced width.

    The ablation "Baseline" (paper Table 4) puts this mixer where DFE, FCG and DSF would be.
    """

    def __init__(self, embed_dim: int, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(embed_dim, 3 * dim)
        self.proj = nn.Linear(dim, embed_dim)
        trunc_normal_init_(self)
        zero_init_(self.proj)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        q, k, v = (split_heads(t, self.num_heads) for t in self.qkv(h).chunk(3, dim=-1))
        return self.proj(merge_heads(F.scaled_dot_product_attention(q, k, v)))
