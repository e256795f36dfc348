"""Drawing poses: the joint set's skeleton, left/right colours, per-track boxes."""

from __future__ import annotations

import colorsys

import numpy as np

from pstpose.keypoints import POSETRACK, SIDE_COLORS_BGR, JointSet


def track_color(track_id: int | None) -> tuple[int, int, int]:
    """A stable, well-spread BGR colour for a track id (golden-ratio hue walk)."""
    if track_id is None or track_id < 0:
        return (200, 200, 200)
    hue = (track_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return (int(b * 255), int(g * 255), int(r * 255))


def draw_poses(
    image_bgr: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray | None = None,
    boxes: np.ndarray | None = None,
    track_ids: list[int] | np.ndarray | None = None,
    kpt_thr: float = 0.3,
    thickness: int | None = None,
    joints: JointSet = POSETRACK,
) -> np.ndarray:
    """Return a copy of ``image_bgr`` with poses drawn.

    keypoints: (N, K, 2) image coordinates in ``joints``' order; scores: (N, K) or None (all
    drawn); boxes: (N, 4) as [x1, y1, x2, y2] or None. Joints under ``kpt_thr`` and the set's
    never-annotated ones (PoseTrack's ears) are hidden.
    """
    import cv2

    out = np.ascontiguousarray(image_bgr.copy())
    k = len(joints)
    kpts = np.asarray(keypoints, dtype=np.float64).reshape(-1, k, 2)
    n = len(kpts)
    if scores is None:
        scores = np.ones((n, k))
    scores = np.asarray(scores, dtype=np.float64).reshape(n, k)
    if thickness is None:
        thickness = max(1, int(round(min(out.shape[:2]) / 240)))
    radius = thickness + 1
    for i in range(n):
        tid = None if track_ids is None else int(track_ids[i])
        visible = (scores[i] >= kpt_thr) & np.isfinite(kpts[i]).all(axis=1)
        visible[list(joints.unannotated)] = False
        if boxes is not None:
            x1, y1, x2, y2 = (int(round(v)) for v in boxes[i])
            color = track_color(tid)
            cv2.rectangle(out, (x1, y1), (x2, y2), color, thickness, cv2.LINE_AA)
            if tid is not None:
                label = f"id {tid}"
                scale = 0.4 * thickness
                (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
                # above the box, or inside its top edge when the box touches the image top
                top = y1 - th - 4 if y1 - th - 4 >= 0 else y1
                cv2.rectangle(out, (x1, top), (x1 + tw + 4, top + th + 4), color, -1)
                cv2.putText(
                    out, label, (x1 + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA
                )
        for a, b in joints.skeleton:
            if visible[a] and visible[b]:
                pa = tuple(int(round(v)) for v in kpts[i, a])
                pb = tuple(int(round(v)) for v in kpts[i, b])
                cv2.line(out, pa, pb, SIDE_COLORS_BGR[joints.limb_side(a, b)], thickness, cv2.LINE_AA)
        for j in np.flatnonzero(visible):
            p = tuple(int(round(v)) for v in kpts[i, j])
            cv2.circle(out, p, radius, SIDE_COLORS_BGR[joints.side(int(j))], -1, cv2.LINE_AA)
    return out


def contact_sheet(images: list[np.ndarray], columns: int = 4, pad: int = 4, background: int = 32) -> np.ndarray:
    """Tile equally sized or differently sized images (BGR) into one grid image."""
    if not images:
        raise ValueError("contact_sheet needs at least one image")
    h = max(im.shape[0] for im in images)
    w = max(im.shape[1] for im in images)
    columns = max(1, min(columns, len(images)))
    rows = (len(images) + columns - 1) // columns
    sheet = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, 3), background, dtype=np.uint8)
    for k, im in enumerate(images):
        r, c = divmod(k, columns)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        sheet[y : y + im.shape[0], x : x + im.shape[1]] = im
    return sheet


def clip_crops_sheet(crops_rgb: np.ndarray, pad: int = 4) -> np.ndarray:
    """The model's view of a batch: uint8 RGB crops (N, T, H, W, 3) (``crop_clips(...,
    normalize=False)``) as a BGR grid, one row per person, one column per clip frame."""
    crops = np.asarray(crops_rgb)
    if crops.ndim != 5 or crops.shape[-1] != 3 or crops.dtype != np.uint8:
        raise ValueError(f"expected uint8 crops (N, T, H, W, 3), got {crops.shape} {crops.dtype}")
    n, t = crops.shape[:2]
    images = [crops[i, j, ..., ::-1] for i in range(n) for j in range(t)]
    return contact_sheet(images, columns=t, pad=pad)
