"""FCG: fine-grained cluster guidance (paper Eq. 4-6).

1. DPC-KNN on the (normalised) tokens of each sample, fully batched and without gradient:
   d_ij = ||x_i - x_j|| / sqrt(C); rho_i = exp(-mean_{j in kNN(i)} d_ij^2) (Eq. 4, self excluded);
   delta_i = min_{j denser than i} d_ij, or max_j d_ij for the densest token (Eq. 5);
   gamma = rho * delta; the M tokens of largest gamma are the centres; every token joins its
   nearest centre. Ties: token j counts as denser than i when rho_j > rho_i, or rho_j == rho_i and
   j < i (so exactly one token is "densest"); equal gammas rank by token index (lower first);
   a token equidistant to two centres joins the one of
   higher gamma rank; each centre always joins its own cluster (no cluster is ever empty).
2. Differentiable merge: a learned score per token, softmax within its cluster, weighted sum of
   the tokens -> M cluster features.
3. Cluster attention (Eq. 6): clusters query all tokens. To keep N tokens for DSF, every token
   receives its cluster's attention output (through the zero-initialised output projection).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pstpose.models.layers import merge_heads, split_heads, trunc_normal_init_, zero_init_


def pairwise_sq_distances(x: torch.Tensor) -> torch.Tensor:
    """(B, N, C) -> (B, N, N) squared Euclidean distances / C, by one batched matmul.

    The diagonal is ~0 up to rounding; nothing below relies on it being exactly 0.
    """
    c = x.shape[-1]
    sq = (x * x).sum(dim=-1)
    pair = sq[:, :, None] + sq[:, None, :]
    return torch.baddbmm(pair, x, x.transpose(1, 2), beta=1.0 / c, alpha=-2.0 / c).clamp_min(0.0)


def density_peaks(sq_dist: torch.Tensor, knn: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eq. 4-5 from (B, N, N) squared distances -> (rho, delta, gamma), each (B, N).

    Everything N x N stays squared (same order as the distances); the square root is taken on
    the N chosen values only.
    """
    n = sq_dist.shape[-1]
    index = torch.arange(n, device=sq_dist.device)
    diagonal = index[:, None] == index[None, :]
    lower = index[None, :] < index[:, None]  # lower[i, j]: j < i
    inf = torch.tensor(float("inf"), dtype=sq_dist.dtype, device=sq_dist.device)
    nearest = torch.topk(torch.where(diagonal, inf, sq_dist), knn, dim=-1, largest=False).values
    rho = torch.exp(-nearest.mean(dim=-1))
    # denser[b, i, j]: token j is denser than token i (equal densities: the lower index wins).
    rho_i, rho_j = rho[:, :, None], rho[:, None, :]
    denser = (rho_j > rho_i) | (lower & (rho_j == rho_i))  # (bool `where` does not export)
    to_denser = torch.where(denser, sq_dist, inf).amin(dim=-1)
    delta_sq = torch.where(torch.isinf(to_denser), sq_dist.amax(dim=-1), to_denser)
    delta = torch.sqrt(delta_sq)
    return rho, delta, rho * delta


def top_ranked(score: torch.Tensor, k: int) -> torch.Tensor:
    """Indices (B, k) of the k largest scores (B, N), equal scores ranked by lower index.

    Written with comparisons instead of topk/sort: topk's order of ties is unspecified on some
    devices and a stable sort does not export to ONNX.
    """
    n = score.shape[-1]
    index = torch.arange(n, device=score.device)
    lower = index[None, :] < index[:, None]
    s_i, s_j = score[:, :, None], score[:, None, :]
    ahead = (s_j > s_i) | (lower & (s_j == s_i))
    rank = ahead.sum(dim=-1)  # (B, N): how many tokens rank before token i; a permutation of 0..N-1
    slots = torch.arange(k, device=score.device)
    return (rank[:, :, None] == slots).to(score.dtype).argmax(dim=1)


@torch.no_grad()
def dpc_knn(x: torch.Tensor, num_clusters: int, knn: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cluster tokens (B, N, C) -> (centres (B, M) token indices by descending gamma, assignment (B, N))."""
    sq_dist = pairwise_sq_distances(x.float())
    _, _, gamma = density_peaks(sq_dist, knn)
    centres = top_ranked(gamma, num_clusters)
    to_centres = torch.gather(sq_dist, 2, centres[:, None, :].expand(-1, sq_dist.shape[1], -1))
    assignment = to_centres.argmin(dim=-1)
    cluster_ids = torch.arange(num_clusters, device=x.device).expand_as(centres)
    assignment = assignment.scatter(1, centres, cluster_ids)
    return centres, assignment


def merge_weights(scores: torch.Tensor, assignment: torch.Tensor, num_clusters: int) -> torch.Tensor:
    """Softmax of the token scores (B, N) within each cluster -> weights (B, N); they sum to 1 per cluster."""
    member = F.one_hot(assignment, num_clusters).to(torch.bool)  # (B, N, M)
    neg_inf = torch.tensor(float("-inf"), dtype=scores.dtype, device=scores.device)
    cluster_max = torch.where(member, scores[:, :, None], neg_inf).amax(dim=1)  # (B, M)
    exp = torch.exp(scores - torch.gather(cluster_max, 1, assignment))
    cluster_sum = torch.zeros_like(cluster_max).scatter_add(1, assignment, exp)
    return exp / torch.gather(cluster_sum, 1, assignment)


def merge_clusters(
    tokens: torch.Tensor, weights: torch.Tensor, assignment: torch.Tensor, num_clusters: int
) -> torch.Tensor:
    """Weighted sum of the tokens (B, N, C) of each cluster -> (B, M, C) (one-hot matmul)."""
    one_hot = F.one_hot(assignment, num_clusters).to(tokens.dtype)  # (B, N, M)
    return torch.bmm(one_hot.transpose(1, 2), tokens * weights[:, :, None])


class ClusterGuidance(nn.Module):
    """Token mixer of the FCG block: (B, N, C) normalised tokens -> (B, N, C) update."""

    def __init__(self, embed_dim: int, dim: int, num_heads: int, num_clusters: int, knn: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"FCG dim {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.num_clusters = num_clusters
        self.knn = knn
        self.score = nn.Linear(embed_dim, 1)
        self.q = nn.Linear(embed_dim, dim)
        self.kv = nn.Linear(embed_dim, 2 * dim)
        self.proj = nn.Linear(dim, embed_dim)
        trunc_normal_init_(self)
        zero_init_(self.proj)

    def clusters(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The DPC-KNN (centres, assignment) that ``forward`` uses for normalised tokens ``h``, for inspection."""
        return dpc_knn(h.detach(), self.num_clusters, self.knn)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        _, assignment = dpc_knn(h.detach(), self.num_clusters, self.knn)
        weights = merge_weights(self.score(h).squeeze(-1), assignment, self.num_clusters)
        clusters = merge_clusters(h, weights, assignment, self.num_clusters)  # (B, M, C)
        q = split_heads(self.q(clusters), self.num_heads)
        k, v = (split_heads(t, self.num_heads) for t in self.kv(h).chunk(2, dim=-1))
        out = self.proj(merge_heads(F.scaled_dot_product_attention(q, k, v)))  # (B, M, C)
        index = assignment[:, :, None].expand(-1, -1, out.shape[-1])
        return torch.gather(out, 1, index)  # each token gets its cluster's output
