"""Strict point-in-polygon used for ignore regions."""

from __future__ import annotations

import numpy as np
import pytest

from pstpose.metrics.polygons import inside_any, strictly_inside


def test_square_interior_edge_vertex_outside():
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]])
    pts = np.array([[5, 5], [10, 5], [0, 0], [5, 10], [11, 5], [-1, -1], [9.999, 0.001]])
    assert strictly_inside(pts, square).tolist() == [True, False, False, False, False, False, True]


U_SHAPE = [(0, 0), (9, 0), (9, 9), (6, 9), (6, 3), (3, 3), (3, 9), (0, 9)]
CLOSED_TRIANGLE = [(1, 1), (8, 2), (4, 8), (1, 1)]  # first vertex repeated, as some files do


@pytest.mark.parametrize("poly", [U_SHAPE, CLOSED_TRIANGLE])
def test_against_winding_number_on_a_grid(pt, poly):
    """Half-integer grid: many points fall exactly on edges and vertices."""
    grid = np.array([(x / 2, y / 2) for x in range(-2, 22) for y in range(-2, 22)])
    got = strictly_inside(grid, np.array(poly, float))
    want = [pt.winding_inside(x, y, poly) for x, y in grid]
    assert got.tolist() == want
    assert 0 < sum(want) < len(grid)


def test_degenerate_and_several_polygons():
    assert strictly_inside(np.array([[1.0, 1.0]]), np.array([[0, 0], [5, 5]])).tolist() == [False]
    polys = [np.array([[0, 0], [2, 0], [2, 2], [0, 2]]), np.array([[10, 10], [12, 10], [12, 12]])]
    pts = np.array([[1, 1], [11.5, 10.5], [5, 5]])
    assert inside_any(pts, polys).tolist() == [True, True, False]


def test_batched_by_group_equals_per_frame(pt):
    """The all-frames-at-once version against the per-polygon one, tiny chunks included."""
    from pstpose.metrics.polygons import inside_by_group

    rng = np.random.default_rng(5)
    polys = [(g, np.array(U_SHAPE, float) + g) for g in range(0, 12, 2)]
    polys += [(4, np.array(CLOSED_TRIANGLE, float)), (7, np.array([[0, 0], [1, 1]], float))]
    pts = np.round(rng.uniform(-1, 22, size=(400, 2)) * 2) / 2
    groups = rng.integers(0, 12, size=400)
    want = np.array([inside_any(p[None], [poly for g, poly in polys if g == grp])[0] for p, grp in zip(pts, groups)])
    assert want.any() and not want.all()
    for max_pairs in (7, 2_000_000):
        np.testing.assert_array_equal(inside_by_group(pts, groups, polys, max_pairs=max_pairs), want)
