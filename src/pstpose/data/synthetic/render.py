"""Drawing one frame of a planned scene: background, static occluders and people, every body
part sorted by depth and painted far-to-near, into the colour frame and the label map.

Depth sorting is per body part (not per person), so one person's arm can pass in front of
another's torso while the rest of them is behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from pstpose.data.synthetic import parts as P
from pstpose.data.synthetic.painter import Painter
from pstpose.data.synthetic.scene import Occluder, PersonPlan, ScenePlan
from pstpose.data.synthetic.skeleton import (
    HEAD_CENTER,
    L_EYE,
    L_HAND,
    L_TOE,
    NECK_BASE,
    NOSE_TIP,
    PELVIS,
    R_EYE,
    R_HAND,
    R_TOE,
)
from pstpose.keypoints import JOINT_INDEX as J

# Depth biases (metres) that settle ties between parts of one body: the head is in front of its
# own neck and torso, hands and feet in front of the limb they end.
PART_BIAS = {
    P.HEAD: -0.12,
    P.NECK: 0.06,
    P.TORSO: 0.0,
    P.L_HAND: -0.01,
    P.R_HAND: -0.01,
    P.L_FOOT: -0.01,
    P.R_FOOT: -0.01,
}


@dataclass
class DrawnFrame:
    image: np.ndarray  # (H, W, 3) uint8 BGR, before degradations
    labels: np.ndarray | None  # (H, W) uint16 label map
    label_depth: dict[int, float]  # depth of every drawn label (person parts and occluders)


def background_frame(plan: ScenePlan, t: int) -> np.ndarray:
    """The background as the camera sees it in frame t (pan, shake and roll applied)."""
    m = plan.camera.affine(t).copy()
    ox, oy = plan.canvas_offset
    m[:, 2] -= m[:, :2] @ np.array([ox, oy])  # canvas pixel -> frame pixel
    return cv2.warpAffine(
        plan.background, m, (plan.width, plan.height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def draw_frame(plan: ScenePlan, t: int, with_labels: bool = True) -> DrawnFrame:
    image = background_frame(plan, t)
    labels = np.zeros((plan.height, plan.width), np.uint16) if with_labels else None
    painter = Painter(image, labels)
    items: list[tuple[float, int, int, Callable[[], None]]] = []
    label_depth: dict[int, float] = {}
    for k, occ in enumerate(plan.occluders):
        label = P.occluder_label(k)
        label_depth[label] = occ.z
        items.append((occ.z, 0, label, lambda occ=occ, label=label: _draw_occluder(painter, plan, t, occ, label)))
    for idx, person in enumerate(plan.people):
        for depth, part, fn in _person_items(painter, plan, t, idx, person):
            label = P.person_label(idx, part)
            label_depth[label] = depth
            items.append((depth, 1, label, fn))
    # far to near; ties broken deterministically by label
    for _, _, _, fn in sorted(items, key=lambda it: (-it[0], it[1], it[2])):
        fn()
    return DrawnFrame(image, labels, label_depth)


def _person_items(painter: Painter, plan: ScenePlan, t: int, idx: int, person: PersonPlan):
    cam = plan.camera
    uv, z = person.uv[t], person.depth[t]
    shape, look = person.shape, person.look
    px = cam.focal / z  # pixels per metre at each point

    def depth_of(*pts: int, part: int) -> float:
        return float(np.mean([z[p] for p in pts])) + PART_BIAS.get(part, 0.0)

    def limb(a: int, b: int, width_m: float, color, part: int, band=None):
        radius = 0.5 * width_m * 0.5 * (px[a] + px[b])
        label = P.person_label(idx, part)

        def fn():
            painter.capsule(uv[a], uv[b], radius, color, label)
            if band is not None and radius >= 1.0:
                painter.poly(_band_quad(uv[a], uv[b], radius), band)

        return depth_of(a, b, part=part), part, fn

    sleeve = look.shirt
    fore = look.skin if look.short_sleeves else look.shirt
    shin = look.skin if look.shorts else look.pants
    items = [
        limb(J["left_shoulder"], J["left_elbow"], shape.arm_w, sleeve, P.L_UPPER_ARM, band=look.band),
        limb(J["left_elbow"], J["left_wrist"], shape.forearm_w, fore, P.L_FOREARM),
        limb(J["right_shoulder"], J["right_elbow"], shape.arm_w, sleeve, P.R_UPPER_ARM),
        limb(J["right_elbow"], J["right_wrist"], shape.forearm_w, fore, P.R_FOREARM),
        limb(J["left_hip"], J["left_knee"], shape.thigh_w, look.pants, P.L_THIGH, band=look.band),
        limb(J["left_knee"], J["left_ankle"], shape.shin_w, shin, P.L_SHIN),
        limb(J["right_hip"], J["right_knee"], shape.thigh_w, look.pants, P.R_THIGH),
        limb(J["right_knee"], J["right_ankle"], shape.shin_w, shin, P.R_SHIN),
        limb(J["left_ankle"], L_TOE, shape.shin_w * 0.9, look.shoe_left, P.L_FOOT),
        limb(J["right_ankle"], R_TOE, shape.shin_w * 0.9, look.shoe_right, P.R_FOOT),
        limb(J["left_wrist"], L_HAND, shape.hand_r * 2, look.skin, P.L_HAND),
        limb(J["right_wrist"], R_HAND, shape.hand_r * 2, look.skin, P.R_HAND),
        limb(NECK_BASE, HEAD_CENTER, shape.head_r * 0.85, look.skin, P.NECK),
    ]
    items.append(
        (depth_of(PELVIS, NECK_BASE, part=P.TORSO), P.TORSO, lambda: _draw_torso(painter, plan, t, idx, person))
    )
    items.append((depth_of(HEAD_CENTER, part=P.HEAD), P.HEAD, lambda: _draw_head(painter, plan, t, idx, person)))
    return items


def _band_quad(a: np.ndarray, b: np.ndarray, radius: float) -> np.ndarray:
    """A band across a limb, between 40% and 58% of its length, kept inside its outline."""
    axis = b - a
    n = float(np.linalg.norm(axis))
    if n < 1e-6:
        return np.array([a, a, a])
    across = np.array([-axis[1], axis[0]]) / n * 0.85 * radius
    p0, p1 = a + 0.4 * axis, a + 0.58 * axis
    return np.array([p0 - across, p0 + across, p1 + across, p1 - across])


def _to_camera(plan: ScenePlan, point: np.ndarray) -> np.ndarray:
    d = np.array([0.0, plan.camera.cam_height, 0.0]) - point
    return d / max(np.linalg.norm(d), 1e-9)


def _draw_torso(painter: Painter, plan: ScenePlan, t: int, idx: int, person: PersonPlan) -> None:
    shape, body, look = person.shape, person.body, person.look
    pts3 = body.points[t]
    fwd, left, up = body.forward[t], body.left[t], body.torso_up[t]
    top = pts3[NECK_BASE] - up * (0.05 * shape.torso / 0.53)
    bottom = pts3[PELVIS] - up * 0.03
    corners = []
    for center, half_w, half_d in (
        (top, shape.shoulder_half * 1.02, shape.torso_depth_half * 0.8),
        (bottom, shape.hip_half + 0.5 * shape.thigh_w, shape.torso_depth_half),
    ):
        for sw in (-1, 1):
            for sd in (-1, 1):
                corners.append(center + left * sw * half_w + fwd * sd * half_d)
    uv, _ = plan.camera.project(np.array(corners), t)
    hull = cv2.convexHull(uv.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    label = P.person_label(idx, P.TORSO)
    painter.shaded_poly(hull, look.shirt, label)
    k = plan.camera.focal / float(person.depth[t][PELVIS])
    axis = person.uv[t][NECK_BASE] - person.uv[t][PELVIS]
    angle = float(np.arctan2(axis[1], axis[0]))
    painter.pattern(hull, look.shirt_pattern, look.pattern_color, 0.07 * k, angle)
    # trousers cover the bottom of the torso
    belt = bottom + up * 0.14 * shape.torso / 0.53
    low = []
    for center, half_d in ((bottom, shape.torso_depth_half), (belt, shape.torso_depth_half * 0.95)):
        for sw in (-1, 1):
            for sd in (-1, 1):
                low.append(center + left * sw * (shape.hip_half + 0.5 * shape.thigh_w) + fwd * sd * half_d)
    low_uv, _ = plan.camera.project(np.array(low), t)
    low_hull = cv2.convexHull(low_uv.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    painter.shaded_poly(low_hull, look.pants, label)
    if np.dot(fwd, _to_camera(plan, pts3[NECK_BASE])) > 0.35:  # neckline: the front of the shirt
        neck = top + fwd * shape.torso_depth_half * 0.8
        tri = np.array([neck + left * 0.06, neck - left * 0.06, neck - up * 0.11])
        tri_uv, _ = plan.camera.project(tri, t)
        painter.poly(tri_uv, look.skin)


def _draw_head(painter: Painter, plan: ScenePlan, t: int, idx: int, person: PersonPlan) -> None:
    shape, body, look = person.shape, person.body, person.look
    pts3, uv = body.points[t], person.uv[t]
    k = plan.camera.focal / float(person.depth[t][HEAD_CENTER])
    r = shape.head_r * k
    angle = float(np.degrees(plan.camera.roll[t]))
    label = P.person_label(idx, P.HEAD)
    center = uv[HEAD_CENTER]
    dark, base = tuple(int(v * 0.6) for v in look.skin), look.skin
    painter.ellipse(center, (r, 1.15 * r), angle, dark, label)
    painter.ellipse(center + np.array([-0.12, -0.12]) * r, (0.82 * r, 0.97 * r), angle, base)
    hf = body.head_forward[t]
    to_cam = _to_camera(plan, pts3[HEAD_CENTER])
    facing = float(np.dot(hf, to_cam))
    if facing < -0.25:  # seen from behind: hair covers the head
        painter.ellipse(center, (0.96 * r, 1.1 * r), angle, look.hair)
        return
    # hair cap: above and behind the face
    back = pts3[HEAD_CENTER] - hf * 0.35 * shape.head_r + np.array([0, 0.42 * shape.head_r, 0])
    back_uv, _ = plan.camera.project(back[None], t)
    painter.ellipse(back_uv[0], (0.9 * r, 0.75 * r), angle, look.hair, label)
    hl = body.head_left[t]
    for eye, _sign in ((L_EYE, 1.0), (R_EYE, -1.0)):
        direction = pts3[eye] - pts3[HEAD_CENTER]
        if np.dot(direction / np.linalg.norm(direction), to_cam) > 0.15:
            painter.ellipse(uv[eye], (max(0.8, 0.14 * r), max(0.8, 0.14 * r)), 0.0, (25, 25, 30))
    if facing > -0.1:  # nose and mouth on the facing side
        nose_base, _ = plan.camera.project((pts3[HEAD_CENTER] + hf * 0.6 * shape.head_r)[None], t)
        painter.line(nose_base[0], uv[NOSE_TIP], max(1.0, 0.3 * r), tuple(int(v * 0.8) for v in look.skin), label)
        mouth = pts3[HEAD_CENTER] + hf * 0.88 * shape.head_r - np.array([0, 0.5 * shape.head_r, 0])
        ends, _ = plan.camera.project(np.array([mouth + hl * 0.3 * shape.head_r, mouth - hl * 0.3 * shape.head_r]), t)
        if facing > 0.3:
            painter.line(ends[0], ends[1], max(1.0, 0.1 * r), (60, 60, 150))


def _draw_occluder(painter: Painter, plan: ScenePlan, t: int, occ: Occluder, label: int) -> None:
    cam = plan.camera
    hw = occ.width / 2

    def quad(x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
        pts = np.array([[x0, y0, occ.z], [x1, y0, occ.z], [x1, y1, occ.z], [x0, y1, occ.z]])
        return cam.project(pts, t)[0]

    if occ.kind == "pole":
        painter.shaded_poly(quad(occ.x - hw, occ.x + hw, 0, occ.height), occ.color, label)
    elif occ.kind == "sign":
        painter.shaded_poly(quad(occ.x - 0.05, occ.x + 0.05, 0, occ.height), (90, 90, 90), label)
        painter.shaded_poly(quad(occ.x - hw, occ.x + hw, occ.height * 0.62, occ.height), occ.color, label)
    elif occ.kind in ("crate", "wall"):
        q = quad(occ.x - hw, occ.x + hw, 0, occ.height)
        painter.shaded_poly(q, occ.color, label)
        line_color = tuple(int(v * 0.5) for v in occ.color)
        thick = max(1.0, cam.focal / occ.z * 0.03)
        if occ.kind == "crate":
            painter.line(q[0], q[2], thick, line_color)
            painter.line(q[1], q[3], thick, line_color)
        else:
            for f in (0.33, 0.66):
                painter.line(q[0] + f * (q[3] - q[0]), q[1] + f * (q[2] - q[1]), thick, line_color)
    else:  # bush: overlapping blobs
        k = cam.focal / occ.z
        base_uv, _ = cam.project(np.array([[occ.x, 0.0, occ.z]]), t)
        for dx, dy, rr in ((0.0, 0.45, 0.5), (-0.3, 0.3, 0.35), (0.3, 0.32, 0.38), (0.0, 0.75, 0.3)):
            c = base_uv[0] + np.array([dx * occ.width * k, -dy * occ.height * k])
            painter.ellipse(
                c,
                (rr * occ.width * k, rr * occ.height * k * 0.9),
                0.0,
                tuple(int(v * (0.8 + 0.4 * dy)) for v in occ.color),
                label,
            )
