"""Point-in-polygon for ignore regions: *strictly* inside, the boundary excluded.

The official tool deletes a joint when the region polygon "contains" it, which excludes
points on an edge or vertex; a joint on the border is kept. Even-odd crossing rule over all
edges at once (points x edges), so a frame's joints are tested in one numpy pass.
"""

from __future__ import annotations

import numpy as np


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
    cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
    on_edge = (
        (cross == 0)
        & (px >= np.minimum(ax, bx)) & (px <= np.maximum(ax, bx))
        & (py >= np.minimum(ay, by)) & (py <= np.maximum(ay, by))
    )
    straddles = (ay > py) != (by > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = ax + (py - ay) * (bx - ax) / (by - ay)
    crossings = np.count_nonzero(straddles & (px < x_cross), axis=1)
    return (crossings % 2 == 1) & ~on_edge.any(axis=1)


def inside_any(points: np.ndarray, polygons: list[np.ndarray]) -> np.ndarray:
    """(N,) bool: strictly inside at least one of ``polygons``."""
    out = np.zeros(len(points), dtype=bool)
    for poly in polygons:
        out |= strictly_inside(points, poly)
    return out
