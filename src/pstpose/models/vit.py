"""The ViTPose backbone: a plain ViT with ViTPose's patch padding and pre-LN blocks.

Parameter names follow the mmpose/ViTPose layout (``patch_embed.proj``, ``pos_embed``,
``blocks.i.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}``, ``last_norm``) so that mmpose
checkpoints load with a prefix change only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pstpose.config import BackboneConfig
from pstpose.models.layers import DropPath, FeedForward, merge_heads, split_heads, trunc_normal_init_

# ViTPose pads its 16x16 patch convolution by 2 (padding = 4 + 2 * (ratio // 2 - 1), ratio 1),
# so that 256x192 gives 16x12 tokens.
PATCH_PADDING = 2


def token_grid_size(image_size: tuple[int, int], patch_size: int) -> tuple[int, int]:
    """Token rows and columns that the padded patch convolution produces for an image size."""
    h, w = image_size
    return (
        (h + 2 * PATCH_PADDING - patch_size) // patch_size + 1,
        (w + 2 * PATCH_PADDING - patch_size) // patch_size + 1,
    )


def resize_pos_embed(pos_embed: torch.Tensor, old_grid: tuple[int, int], new_grid: tuple[int, int]) -> torch.Tensor:
    """A (1, 1 + rows*cols, C) position table re-sampled from ``old_grid`` to ``new_grid``.

    Fine-tuning at another input size keeps what the table learnt about relative placement:
    the grid part is resized bicubically (``align_corners=False``, so cell centres map onto
    cell centres), the class-token slot is kept as it is.
    """
    rows, cols = old_grid
    if pos_embed.ndim != 3 or pos_embed.shape[0] != 1 or pos_embed.shape[1] != rows * cols + 1:
        raise ValueError(
            f"position table of shape {tuple(pos_embed.shape)} does not hold a {rows}x{cols} grid plus the class slot"
        )
    if tuple(old_grid) == tuple(new_grid):
        return pos_embed
    channels = pos_embed.shape[2]
    grid = pos_embed[:, 1:].reshape(1, rows, cols, channels).permute(0, 3, 1, 2).float()
    grid = nn.functional.interpolate(grid, size=tuple(new_grid), mode="bicubic", align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, new_grid[0] * new_grid[1], channels).to(pos_embed.dtype)
    return torch.cat([pos_embed[:, :1], grid], dim=1)


class PatchEmbed(nn.Module):
    def __init__(self, embed_dim: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size, padding=PATCH_PADDING)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(images).flatten(2).transpose(1, 2)  # (B, H'*W', C)


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int, qkv_bias: bool) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (split_heads(t, self.num_heads) for t in self.qkv(x).chunk(3, dim=-1))
        return self.proj(merge_heads(F.scaled_dot_product_attention(q, k, v)))


class Block(nn.Module):
    """Pre-LN transformer block: ``x + attn(LN(x))`` then ``x + mlp(LN(x))``."""

    def __init__(self, cfg: BackboneConfig, drop_path: float) -> None:
        super().__init__()
        dim = cfg.embed_dim
        self.norm1 = nn.LayerNorm(dim, eps=cfg.layer_norm_eps)
        self.attn = Attention(dim, cfg.num_heads, cfg.qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=cfg.layer_norm_eps)
        self.mlp = FeedForward(dim, int(dim * cfg.mlp_ratio))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class ViTBackbone(nn.Module):
    """Images (B, 3, H, W) -> final-LN tokens (B, H/16 * W/16, C)."""

    def __init__(self, cfg: BackboneConfig, image_size: tuple[int, int]) -> None:
        super().__init__()
        self.grid = token_grid_size(image_size, cfg.patch_size)
        self.patch_embed = PatchEmbed(cfg.embed_dim, cfg.patch_size)
        # ViTPose keeps a class-token slot in its position table and adds it to every token.
        self.pos_embed = nn.Parameter(torch.zeros(1, self.grid[0] * self.grid[1] + 1, cfg.embed_dim))
        rates = [cfg.drop_path_rate * i / max(cfg.depth - 1, 1) for i in range(cfg.depth)]
        self.blocks = nn.ModuleList(Block(cfg, rate) for rate in rates)
        self.last_norm = nn.LayerNorm(cfg.embed_dim, eps=cfg.layer_norm_eps)
        trunc_normal_init_(self)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(images)
        x = x + self.pos_embed[:, 1:] + self.pos_embed[:, :1]
        for block in self.blocks:
            x = block(x)
        return self.last_norm(x)
