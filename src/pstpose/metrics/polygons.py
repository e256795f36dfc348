"""Point-in-polygon for ignore regions: *strictly* inside, the boundary excluded.

The official tool deletes a joint when the region polygon "contains" it, which excludes
points on an edge or vertex; a joint on the border is kept. Even-odd crossing rule over all
edges at once (points x edges), so a frame's joints are tested in one numpy pass.
"""

from __future__ import annotations

import numpy as np


def _edge_tests(px, py, ax, ay, bx, by) -> tuple[np.ndarray, np.ndarray]:
    """Per (point, edge a→b): is the point on the edge, and does a ray to its left cross it
    (the even-odd rule's count)? Arrays broadcast against each other."""
    cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
    on_edge = (
        (cross == 0)
        & (px >= np.minimum(ax, bx))
        & (px <= np.maximum(ax, bx))
        & (py >= np.minimum(ay, by))
        & (py <= np.maximum(ay, by))
    )
    straddles = (ay > py) != (by > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = ax + (py - ay) * (bx - ax) / (by - ay)
    return on_edge, straddles & (px < x_cross)


def strictly_inside(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(N,) bool: which of ``points`` (N, 2) lie strictly inside ``polygon`` (M, 2)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    polygon = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(polygon) < 3 or len(points) == 0:
        return np.zeros(len(points), dtype=bool)
    ax, ay = polygon[:, 0], polygon[:, 1]
    nxt = np.roll(polygon, -1, axis=0)
    bx, by = nxt[:, 0], nxt[:, 1]
    px, py = points[:, :1], points[:, 1:]
    on_edge, crossing = _edge_tests(px, py, ax, ay, bx, by)
    crossings = np.count_nonzero(crossing, axis=1)
    return (crossings % 2 == 1) & ~on_edge.any(axis=1)


def inside_any(points: np.ndarray, polygons: list[np.ndarray]) -> np.ndarray:
    """(N,) bool: strictly inside at least one of ``polygons``."""
    out = np.zeros(len(points), dtype=bool)
    for poly in polygons:
        out |= strictly_inside(points, poly)
    return out


def inside_by_group(
    points: np.ndarray, groups: np.ndarray, polygons: list[tuple[int, np.ndarray]], max_pairs: int = 2_000_000
) -> np.ndarray:
    """(N,) bool: point i lies strictly inside some polygon of its own group (frame).

    ``polygons``: (group, (M, 2) vertices) pairs. Every (point, edge) pair of the same group is
    tested in one numpy pass (chunked by groups to bound memory); crossings and boundary hits are
    reduced per (point, polygon), so a point on one polygon's border but inside another counts.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    groups = np.asarray(groups, dtype=np.int64)
    result = np.zeros(len(points), dtype=bool)
    polys = [(int(g), np.asarray(p, dtype=np.float64).reshape(-1, 2)) for g, p in polygons]
    polys = [(g, p) for g, p in polys if len(p) >= 3]
    if not polys or len(points) == 0:
        return result
    polys.sort(key=lambda gp: gp[0])
    lengths = np.fromiter((len(p) for _, p in polys), dtype=np.int64, count=len(polys))
    edge_group = np.repeat(np.fromiter((g for g, _ in polys), dtype=np.int64, count=len(polys)), lengths)
    a = np.concatenate([p for _, p in polys])
    starts = np.cumsum(lengths) - lengths
    following = np.arange(1, len(a) + 1)
    following[starts + lengths - 1] = starts  # each polygon's last vertex joins its first
    b = a[following]
    first_edge = np.zeros(len(a), dtype=bool)
    first_edge[starts] = True
    # A point outside the bounding box of its group's polygons is inside none of them: only the
    # others go through the (point, edge) tests.
    subset = _within_group_bounds(points, groups, a, edge_group)
    if subset is not None:
        full_result, result = result, np.zeros(len(subset), dtype=bool)
        points, groups = points[subset], groups[subset]
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    uniq = np.unique(edge_group)
    p_lo = np.searchsorted(sorted_groups, uniq, side="left")
    p_hi = np.searchsorted(sorted_groups, uniq, side="right")
    e_lo = np.searchsorted(edge_group, uniq, side="left")
    e_hi = np.searchsorted(edge_group, uniq, side="right")
    n_p, n_e = p_hi - p_lo, e_hi - e_lo
    pairs = n_p * n_e
    cum = np.cumsum(pairs)
    begin = 0
    while begin < len(uniq):
        base = cum[begin - 1] if begin else 0
        end = max(int(np.searchsorted(cum, base + max_pairs, side="right")), begin + 1)
        sel = np.arange(begin, end)
        counts = pairs[sel]
        total = int(counts.sum())
        begin = end
        if total == 0:
            continue
        grp = np.repeat(sel, counts)
        local = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        k = local // n_e[grp]
        pi = order[p_lo[grp] + k]
        ei = e_lo[grp] + (local - k * n_e[grp])
        px, py = points[pi, 0], points[pi, 1]
        ax, ay, bx, by = a[ei, 0], a[ei, 1], b[ei, 0], b[ei, 1]
        on_edge, crossing = _edge_tests(px, py, ax, ay, bx, by)
        seg = np.flatnonzero(first_edge[ei])  # one segment per (point, polygon)
        n_cross = np.add.reduceat(crossing.astype(np.int64), seg)
        touched = np.maximum.reduceat(on_edge.astype(np.uint8), seg)
        inside = (n_cross % 2 == 1) & (touched == 0)
        result[pi[seg[inside]]] = True
    if subset is not None:
        full_result[subset] = result
        return full_result
    return result


def _within_group_bounds(
    points: np.ndarray, groups: np.ndarray, vertices: np.ndarray, vertex_group: np.ndarray
) -> np.ndarray | None:
    """Indices of the points inside (or on) the bounding box of all polygons of their group
    (``vertices`` sorted by ``vertex_group``); None for all points, also when a vertex is not
    finite (the crossing rule then has no such bound)."""
    if len(groups) == 0 or groups.min() < 0 or not np.isfinite(vertices).all():
        return None
    starts = np.flatnonzero(np.r_[True, vertex_group[1:] != vertex_group[:-1]])
    size = max(int(groups.max()), int(vertex_group[-1])) + 1
    lo = np.full((size, 2), np.inf)
    hi = np.full((size, 2), -np.inf)
    lo[vertex_group[starts]] = np.minimum.reduceat(vertices, starts)
    hi[vertex_group[starts]] = np.maximum.reduceat(vertices, starts)
    inside = ((points >= lo[groups]) & (points <= hi[groups])).all(axis=1)
    return np.flatnonzero(inside)
