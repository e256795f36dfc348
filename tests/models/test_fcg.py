"""FCG's DPC-KNN (Eq. 4-5), merge and cluster attention against brute-force versions."""

from __future__ import annotations

import math

import numpy as np
import torch

from pstpose.models.fcg import (
    ClusterGuidance,
    density_peaks,
    dpc_knn,
    merge_clusters,
    merge_weights,
    pairwise_sq_distances,
)


def brute_force_dpc(x: np.ndarray, num_clusters: int, knn: int):
    """Eq. 4-5 by loops, with the documented tie rules. x: (N, C) -> rho, delta, gamma, centres, assignment."""
    n, c = x.shape
    d = np.array([[math.sqrt(((x[i] - x[j]) ** 2).sum() / c) for j in range(n)] for i in range(n)])
    rho = np.empty(n)
    for i in range(n):
        others = sorted(d[i, j] for j in range(n) if j != i)
        rho[i] = math.exp(-sum(v * v for v in others[:knn]) / knn)
    delta = np.empty(n)
    for i in range(n):
        denser = [d[i, j] for j in range(n) if rho[j] > rho[i] or (rho[j] == rho[i] and j < i)]
        delta[i] = min(denser) if denser else d[i].max()
    gamma = rho * delta
    centres = sorted(range(n), key=lambda i: -gamma[i])[:num_clusters]
    assignment = []
    for i in range(n):
        if i in centres:
            assignment.append(centres.index(i))
        else:  # nearest centre; on a tie the centre of higher gamma rank
            assignment.append(min(range(num_clusters), key=lambda m: (d[i, centres[m]], m)))
    return rho, delta, gamma, centres, np.array(assignment)


def test_dpc_knn_matches_brute_force_on_random_tokens():
    x = torch.randn(3, 40, 6, generator=torch.Generator().manual_seed(0))
    dist = pairwise_sq_distances(x)
    rho, delta, gamma = density_peaks(dist, knn=5)
    centres, assignment = dpc_knn(x, num_clusters=7, knn=5)
    for b in range(3):
        ref = brute_force_dpc(x[b].double().numpy(), 7, 5)
        np.testing.assert_allclose(rho[b].numpy(), ref[0], rtol=1e-5)
        np.testing.assert_allclose(delta[b].numpy(), ref[1], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(gamma[b].numpy(), ref[2], rtol=1e-5, atol=1e-6)
        assert centres[b].tolist() == ref[3]
        assert assignment[b].tolist() == ref[4].tolist()


def test_dpc_knn_tie_rules_on_exact_integer_tokens():
    """Integer tokens make every distance exact: duplicates and symmetric points tie for real."""
    pts = [[0, 0], [0, 0], [4, 0], [4, 0], [0, 4], [4, 4], [2, 2], [2, 2], [8, 8], [8, 0], [0, 8], [6, 2], [2, 0]]
    x = torch.tensor(pts, dtype=torch.float32)[None]
    rho, delta, _gamma = density_peaks(pairwise_sq_distances(x), knn=2)
    centres, assignment = dpc_knn(x, num_clusters=3, knn=2)
    ref = brute_force_dpc(np.array(pts, dtype=np.float64), 3, 2)
    np.testing.assert_allclose(rho[0].numpy(), ref[0], rtol=1e-6)
    np.testing.assert_allclose(delta[0].numpy(), ref[1], rtol=1e-6)
    assert centres[0].tolist() == ref[3]
    assert assignment[0].tolist() == ref[4].tolist()
    # The later copy of a duplicate is "less dense" than the earlier one and sits at distance 0.
    assert delta[0, 1] == 0 and delta[0, 3] == 0 and delta[0, 7] == 0
    # Token 12 = (2, 0) is equidistant (2) from the centres (0, 0), (4, 0) and (2, 2): it joins
    # the one of highest gamma rank.
    d_to_centres = pairwise_sq_distances(x)[0, 12, centres[0]]  # exact: integer coordinates
    tied = (d_to_centres == d_to_centres.min()).nonzero().flatten().tolist()
    assert len(tied) == 3 and assignment[0, 12] == 0


def test_clustering_is_per_sample_and_without_gradient():
    x = torch.randn(4, 30, 5, requires_grad=True)
    centres, assignment = dpc_knn(x, 6, 3)
    assert not centres.requires_grad and not assignment.requires_grad
    for b in range(4):
        c1, a1 = dpc_knn(x[b : b + 1], 6, 3)
        assert torch.equal(c1[0], centres[b]) and torch.equal(a1[0], assignment[b])
    # Every cluster holds its own centre.
    for b in range(4):
        assert assignment[b, centres[b]].tolist() == list(range(6))


def test_merge_weights_are_a_softmax_within_each_cluster():
    gen = torch.Generator().manual_seed(2)
    scores = torch.randn(2, 25, generator=gen) * 5
    assignment = torch.randint(0, 4, (2, 25), generator=gen)
    assignment[:, :4] = torch.arange(4)  # no empty cluster
    w = merge_weights(scores, assignment, 4)
    sums = torch.zeros(2, 4, dtype=w.dtype).scatter_add(1, assignment, w)
    torch.testing.assert_close(sums, torch.ones(2, 4))
    for b in range(2):
        for m in range(4):
            members = (assignment[b] == m).nonzero().flatten()
            e = np.exp(scores[b, members].double().numpy())
            np.testing.assert_allclose(w[b, members].numpy(), e / e.sum(), rtol=1e-5)
    tokens = torch.randn(2, 25, 3, generator=gen)
    merged = merge_clusters(tokens, w, assignment, 4)
    for b in range(2):
        for m in range(4):
            sel = assignment[b] == m
            torch.testing.assert_close(merged[b, m], (tokens[b, sel] * w[b, sel, None]).sum(0))


def test_cluster_guidance_gives_each_token_its_clusters_attention_output():
    torch.manual_seed(0)
    fcg = ClusterGuidance(embed_dim=8, dim=8, num_heads=2, num_clusters=5, knn=3)
    with torch.no_grad():
        fcg.proj.weight.normal_()
        fcg.proj.bias.normal_()
    h = torch.randn(2, 20, 8)
    out = fcg(h)
    _, assignment = dpc_knn(h, 5, 3)
    w = merge_weights(fcg.score(h).squeeze(-1), assignment, 5)
    clusters = merge_clusters(h, w, assignment, 5)
    for b in range(2):
        q = fcg.q(clusters[b]).reshape(5, 2, 4).transpose(0, 1)
        k, v = (t.reshape(20, 2, 4).transpose(0, 1) for t in fcg.kv(h[b]).chunk(2, dim=-1))
        att = torch.softmax(q @ k.transpose(1, 2) / 2.0, dim=-1) @ v  # scale 1/sqrt(4)
        per_cluster = fcg.proj(att.transpose(0, 1).reshape(5, 8))
        torch.testing.assert_close(out[b], per_cluster[assignment[b]], rtol=1e-5, atol=1e-6)


def test_merge_is_differentiable_through_the_scores():
    torch.manual_seed(1)
    fcg = ClusterGuidance(embed_dim=8, dim=8, num_heads=2, num_clusters=4, knn=3)
    with torch.no_grad():
        fcg.proj.weight.normal_()
    h = torch.randn(1, 16, 8, requires_grad=True)
    fcg(h).square().sum().backward()
    assert fcg.score.weight.grad.abs().sum() > 0 and h.grad.abs().sum() > 0
