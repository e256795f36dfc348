"""A 3-D articulated body: proportions and the forward kinematics that turns joint angles into
3-D points (the 17 PoseTrack joints plus the extra points needed to draw a body).

World frame: x to the image's right, y up, z away from the camera (metres). A person with yaw 0
faces the camera; their left side is then at +x. Everything is vectorised over frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pstpose.keypoints import JOINT_INDEX

# Extra (non-PoseTrack) points appended after the 17 joints.
PELVIS, NECK_BASE, HEAD_CENTER, L_TOE, R_TOE, L_HAND, R_HAND, L_EYE, R_EYE, NOSE_TIP = range(17, 27)
NUM_POINTS = 27

J = JOINT_INDEX
SIDES = ("left", "right")


@dataclass(frozen=True)
class BodyShape:
    """Segment lengths and widths in metres (already scaled to the person's height)."""

    thigh: float
    shin: float
    ankle_height: float
    hip_half: float
    torso: float  # pelvis to neck base
    torso_depth_half: float
    shoulder_half: float
    upper_arm: float
    forearm: float
    neck: float
    head_r: float  # horizontal head radius; the head is 1.15x taller than wide
    foot: float
    arm_w: float
    forearm_w: float
    thigh_w: float
    shin_w: float
    hand_r: float

    @property
    def leg(self) -> float:
        return self.thigh + self.shin


def sample_body(rng: np.random.Generator) -> BodyShape:
    """Varied adult-like proportions: height, limb ratios, build and head size all vary."""
    height = float(np.clip(rng.normal(1.72, 0.09), 1.5, 1.95))
    k = height / 1.72
    leg = rng.uniform(0.94, 1.06)
    arm = rng.uniform(0.94, 1.06)
    build = rng.uniform(0.85, 1.35)
    shoulders = rng.uniform(0.88, 1.12)
    head = rng.uniform(0.92, 1.1)
    return BodyShape(
        thigh=0.43 * k * leg,
        shin=0.42 * k * leg,
        ankle_height=0.08 * k,
        hip_half=0.095 * k * build**0.5,
        torso=0.53 * k,
        torso_depth_half=0.1 * k * build,
        shoulder_half=0.185 * k * shoulders,
        upper_arm=0.29 * k * arm,
        forearm=0.26 * k * arm,
        neck=0.07 * k,
        head_r=0.1 * k * head,
        foot=0.2 * k,
        arm_w=0.11 * k * build,
        forearm_w=0.088 * k * build,
        thigh_w=0.175 * k * build,
        shin_w=0.125 * k * build,
        hand_r=0.045 * k,
    )


@dataclass
class PoseTrack3D:
    """Per-frame pose parameters of one person (all arrays have T rows; [:, 0] left, [:, 1] right)."""

    root: np.ndarray  # (T, 3) ground point under the pelvis
    yaw: np.ndarray  # (T,)
    lift: np.ndarray  # (T,) extra pelvis height (jumps)
    lean: np.ndarray  # (T,) torso forward lean, radians
    hip_flex: np.ndarray  # (T, 2) thigh swing forward, radians
    hip_abd: np.ndarray  # (T, 2) thigh spread outward
    knee: np.ndarray  # (T, 2) knee flexion (shin folds backward)
    sh_flex: np.ndarray  # (T, 2) arm swing forward
    sh_abd: np.ndarray  # (T, 2) arm raise sideways (pi/2 = horizontal)
    elbow: np.ndarray  # (T, 2) elbow flexion
    elbow_up: np.ndarray  # (T, 2) 0: forearm folds forward, 1: folds upward
    head_yaw: np.ndarray  # (T,) head turn relative to the body


@dataclass
class Body3D:
    """Forward-kinematics output for T frames."""

    points: np.ndarray  # (T, NUM_POINTS, 3)
    forward: np.ndarray  # (T, 3) body facing direction
    left: np.ndarray  # (T, 3) the person's left
    torso_up: np.ndarray  # (T, 3)
    head_forward: np.ndarray  # (T, 3) face direction
    head_left: np.ndarray  # (T, 3)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _col(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)[:, None]


def heading_vectors(yaw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Facing direction and left direction for a yaw (0 = facing the camera)."""
    zeros = np.zeros_like(yaw)
    forward = np.stack([np.sin(yaw), zeros, -np.cos(yaw)], axis=-1)
    left = np.stack([np.cos(yaw), zeros, np.sin(yaw)], axis=-1)
    return forward, left


def forward_kinematics(shape: BodyShape, pose: PoseTrack3D) -> Body3D:
    """3-D points for every frame. The pelvis height is set so that the lower foot touches the
    ground (plus any jump lift), which makes knee bends crouch the body naturally."""
    T = len(pose.yaw)
    fwd, left = heading_vectors(pose.yaw)
    up = np.tile(np.array([0.0, 1.0, 0.0]), (T, 1))

    # vertical drop of each leg, to put the lower foot on the ground
    thigh_dir_y = np.cos(pose.hip_flex) * np.cos(pose.hip_abd)
    shin_dir_y = np.cos(pose.hip_flex - pose.knee) * np.cos(pose.hip_abd)
    drop = shape.thigh * thigh_dir_y + shape.shin * shin_dir_y
    pelvis_h = shape.ankle_height + drop.max(axis=1) + pose.lift
    pelvis = pose.root + up * _col(pelvis_h)

    torso_up = _unit(up * _col(np.cos(pose.lean)) + fwd * _col(np.sin(pose.lean)))
    neck_base = pelvis + torso_up * shape.torso
    pts = np.zeros((T, NUM_POINTS, 3))
    pts[:, PELVIS] = pelvis
    pts[:, NECK_BASE] = neck_base

    for s, sign in enumerate((1.0, -1.0)):  # left = +left vector, right = -left vector
        out = left * sign
        name = SIDES[s]
        hip = pelvis + out * shape.hip_half
        thigh_d = _unit(
            (-up * _col(np.cos(pose.hip_flex[:, s])) + fwd * _col(np.sin(pose.hip_flex[:, s])))
            * _col(np.cos(pose.hip_abd[:, s]))
            + out * _col(np.sin(pose.hip_abd[:, s]))
        )
        knee = hip + thigh_d * shape.thigh
        a = pose.hip_flex[:, s] - pose.knee[:, s]
        shin_d = _unit(
            (-up * _col(np.cos(a)) + fwd * _col(np.sin(a))) * _col(np.cos(pose.hip_abd[:, s]))
            + out * _col(np.sin(pose.hip_abd[:, s]))
        )
        ankle = knee + shin_d * shape.shin
        toe = ankle + fwd * shape.foot * 0.8 - up * shape.ankle_height * 0.6

        shoulder = neck_base - torso_up * (0.045 * shape.torso / 0.53) + out * shape.shoulder_half
        sf, sa = pose.sh_flex[:, s], pose.sh_abd[:, s]
        upper_d = _unit(
            (-torso_up * _col(np.cos(sf)) + fwd * _col(np.sin(sf))) * _col(np.cos(sa)) + out * _col(np.sin(sa))
        )
        elbow = shoulder + upper_d * shape.upper_arm
        bend_towards = _unit(fwd * _col(1.0 - pose.elbow_up[:, s]) + up * _col(pose.elbow_up[:, s]) + 1e-6)
        perp = bend_towards - upper_d * np.sum(bend_towards * upper_d, axis=1, keepdims=True)
        perp = np.where(np.linalg.norm(perp, axis=1, keepdims=True) < 1e-3, fwd, _unit(perp))
        e = _col(pose.elbow[:, s])
        fore_d = _unit(upper_d * np.cos(e) + perp * np.sin(e))
        wrist = elbow + fore_d * shape.forearm
        hand = wrist + fore_d * shape.hand_r * 1.6

        pts[:, J[f"{name}_hip"]] = hip
        pts[:, J[f"{name}_knee"]] = knee
        pts[:, J[f"{name}_ankle"]] = ankle
        pts[:, J[f"{name}_shoulder"]] = shoulder
        pts[:, J[f"{name}_elbow"]] = elbow
        pts[:, J[f"{name}_wrist"]] = wrist
        pts[:, L_TOE if s == 0 else R_TOE] = toe
        pts[:, L_HAND if s == 0 else R_HAND] = hand

    head_fwd, head_left = heading_vectors(pose.yaw + pose.head_yaw)
    r = shape.head_r
    head_center = neck_base + torso_up * shape.neck + up * (1.15 * r)
    pts[:, HEAD_CENTER] = head_center
    pts[:, J["head_bottom"]] = neck_base + torso_up * shape.neck * 0.55
    pts[:, J["head_top"]] = head_center + up * (1.0 * r)
    pts[:, J["nose"]] = head_center + head_fwd * (0.92 * r) - up * (0.15 * r)
    pts[:, NOSE_TIP] = head_center + head_fwd * (1.2 * r) - up * (0.2 * r)
    pts[:, J["left_ear"]] = head_center + head_left * r
    pts[:, J["right_ear"]] = head_center - head_left * r
    pts[:, L_EYE] = head_center + _unit(head_fwd + head_left * 0.45) * (0.9 * r) + up * (0.2 * r)
    pts[:, R_EYE] = head_center + _unit(head_fwd - head_left * 0.45) * (0.9 * r) + up * (0.2 * r)
    return Body3D(pts, fwd, left, torso_up, head_fwd, head_left)
