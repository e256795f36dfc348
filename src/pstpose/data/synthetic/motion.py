"""Motion programs: walking, running, jumping, waving and turning, per-person speed, travel with
turn-arounds at the edges of the view, sudden fast bursts, and a panning, shaking camera.

All motion is planned up front for every frame (small arrays), so frames can later be rendered
one at a time in any order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pstpose.data.synthetic.presets import ACTIONS, SynthPreset
from pstpose.data.synthetic.skeleton import PoseTrack3D

FPS = 25.0
TRAVEL_SPEED = {"walk": 1.3, "run": 3.2, "jump": 0.3, "wave": 0.0, "turn": 0.15}  # m/s
CADENCE = {"walk": 0.95, "run": 1.45, "jump": 0.85, "wave": 2.0, "turn": 0.8}  # cycles/s
TURN_RATE = 1.8  # rad/s of the "turn" action
TURN_AROUND_FRAMES = 10


@dataclass(frozen=True)
class Camera:
    """Pinhole camera looking along +z, height ``cam_height`` above the ground; the horizon sits
    at ``horizon`` (fraction of the frame height). Per-frame pan/shake/roll is a 2-D similarity
    about the image centre applied after projection (a pan is a rotation, which shifts every depth
    equally)."""

    width: int
    height: int
    focal: float
    horizon: float
    cam_height: float
    pan_x: np.ndarray  # (T,) pixels
    shake: np.ndarray  # (T, 2) pixels
    roll: np.ndarray  # (T,) radians

    @property
    def cx(self) -> float:
        return (self.width - 1) / 2.0

    def affine(self, t: int) -> np.ndarray:
        """2x3 image transform of frame t (applied to projected points and the background)."""
        c, s = np.cos(self.roll[t]), np.sin(self.roll[t])
        cx, cy = self.cx, (self.height - 1) / 2.0
        tx = self.pan_x[t] + self.shake[t, 0]
        ty = self.shake[t, 1]
        return np.array([[c, -s, cx - c * cx + s * cy + tx], [s, c, cy - s * cx - c * cy + ty]])

    def project(self, points: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(..., 3) world points of frame t -> (..., 2) pixel coordinates and (...,) depths."""
        z = np.maximum(points[..., 2], 0.3)
        u = self.cx + self.focal * points[..., 0] / z
        v = self.horizon * self.height - self.focal * (points[..., 1] - self.cam_height) / z
        m = self.affine(t)
        uv = np.stack([u, v], axis=-1)
        return uv @ m[:, :2].T + m[:, 2], z


def make_camera(rng: np.random.Generator, frames: int, height: int, width: int, preset: SynthPreset) -> Camera:
    scale = height / 288.0
    pan_speed = preset.camera_pan * scale * rng.uniform(0.4, 1.0) * rng.choice([-1.0, 1.0])
    period = rng.uniform(40, 120)
    t = np.arange(frames)
    pan_velocity = pan_speed * np.cos(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    pan_x = np.cumsum(pan_velocity) - pan_velocity[0]
    shake = np.zeros((frames, 2))
    amp = preset.camera_shake * scale
    if amp > 0:
        noise = rng.normal(0, amp, size=(frames, 2))
        for i in range(1, frames):  # AR(1): shake is jerky but not white noise
            noise[i] = 0.5 * noise[i - 1] + 0.87 * noise[i]
        shake = noise
    roll = rng.normal(0, 0.004 * preset.camera_shake, size=frames) if preset.camera_shake > 0 else np.zeros(frames)
    return Camera(
        width=width,
        height=height,
        focal=1.5 * height,
        horizon=0.36,
        cam_height=1.2,
        pan_x=pan_x,
        shake=shake,
        roll=roll,
    )


@dataclass
class PersonMotion:
    action: str
    speed: float  # personal speed multiplier
    burst: tuple[int, int] | None  # [start, end) frames of the fast burst
    pose: PoseTrack3D


def _burst_multiplier(rng, frames: int, preset: SynthPreset) -> tuple[np.ndarray, tuple[int, int] | None]:
    mult = np.ones(frames)
    if preset.burst_prob <= 0 or rng.random() >= preset.burst_prob or frames < 3:
        return mult, None
    length = int(rng.integers(preset.burst_frames[0], preset.burst_frames[1] + 1))
    length = min(length, frames - 1)
    start = int(rng.integers(0, frames - length + 1))
    mult[start : start + length] = preset.burst_speed
    return mult, (start, start + length)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def plan_person(
    rng: np.random.Generator, frames: int, camera: Camera, preset: SynthPreset, leg_length: float
) -> PersonMotion:
    weights = np.asarray(preset.action_weights, dtype=np.float64)
    action = str(rng.choice(ACTIONS, p=weights / weights.sum()))
    speed = preset.speed * rng.uniform(0.75, 1.3)
    mult, burst = _burst_multiplier(rng, frames, preset)
    rate = speed * mult  # per-frame speed multiplier

    z_lo, z_hi = preset.depth
    z = rng.uniform(z_lo, z_hi)
    u0 = rng.uniform(0.15, 0.85) * camera.width
    x = (u0 - camera.cx - camera.pan_x[0]) * z / camera.focal
    if action in ("walk", "run"):
        side = rng.choice([-1.0, 1.0])
        yaw0 = side * (np.pi / 2 + rng.uniform(-0.7, 0.7))
    else:
        yaw0 = rng.uniform(-1.0, 1.0) if action == "wave" else rng.uniform(-np.pi, np.pi)
    turn_dir = rng.choice([-1.0, 1.0])

    root = np.zeros((frames, 3))
    yaw = np.zeros(frames)
    travel = TRAVEL_SPEED[action] / FPS
    cur_yaw, turning = yaw0, 0
    lunge = rng.uniform(-np.pi, np.pi)  # direction of a burst's sudden lunge for slow actions
    for t in range(frames):
        root[t] = (x, 0.0, z)
        yaw[t] = cur_yaw
        if action == "turn":
            cur_yaw += turn_dir * TURN_RATE / FPS * rate[t]
        step = travel * rate[t]
        vx, vz = np.sin(cur_yaw) * step, -np.cos(cur_yaw) * step
        if mult[t] > 1 and action in ("jump", "wave", "turn"):
            vx += np.cos(lunge) * 1.5 / FPS * rate[t]
            vz += np.sin(lunge) * 0.5 / FPS * rate[t]
        if turning > 0:
            cur_yaw += np.pi / TURN_AROUND_FRAMES
            turning -= 1
        elif action in ("walk", "run"):
            u = camera.cx + camera.focal * x / z + camera.pan_x[t]
            out_x = (u < 0.08 * camera.width and vx < 0) or (u > 0.92 * camera.width and vx > 0)
            out_z = (z < z_lo and vz < 0) or (z > z_hi and vz > 0)
            if out_x or out_z:
                turning = TURN_AROUND_FRAMES
        x, z = x + vx, float(np.clip(z + vz, z_lo * 0.9, z_hi * 1.1))

    phase = 2 * np.pi * (np.cumsum(CADENCE[action] * rate / FPS) + rng.uniform(0, 1))
    pose = _limb_angles(action, phase, frames, rng)
    pose.root = root
    pose.yaw = yaw
    return PersonMotion(action=action, speed=float(speed), burst=burst, pose=pose)


def _limb_angles(action: str, phase: np.ndarray, frames: int, rng: np.random.Generator) -> PoseTrack3D:
    z1 = np.zeros(frames)
    z2 = np.zeros((frames, 2))
    s, c = np.sin(phase), np.cos(phase)
    lr = np.stack([s, -s], axis=1)  # left leg leads on +sin
    swing = np.stack([np.maximum(c, 0), np.maximum(-c, 0)], axis=1)  # leg moving forward
    p = PoseTrack3D(
        root=np.zeros((frames, 3)),
        yaw=z1.copy(),
        lift=z1.copy(),
        lean=z1.copy(),
        hip_flex=z2.copy(),
        hip_abd=np.full((frames, 2), 0.04),
        knee=np.full((frames, 2), 0.08),
        sh_flex=z2.copy(),
        sh_abd=np.full((frames, 2), 0.1),
        elbow=np.full((frames, 2), 0.2),
        elbow_up=z2.copy(),
        head_yaw=z1.copy(),
    )
    if action == "walk":
        p.hip_flex = 0.42 * lr
        p.knee = 0.12 + 0.7 * swing**1.5
        p.sh_flex = -0.38 * lr
        p.elbow = 0.25 + 0.2 * (1 + lr) / 2
        p.lean = 0.04 + z1
    elif action == "run":
        p.hip_flex = 0.78 * lr + 0.1
        p.knee = 0.3 + 1.35 * swing
        p.sh_flex = -0.75 * lr
        p.elbow = np.full((frames, 2), 1.45)
        p.lean = 0.18 + z1
        p.lift = 0.07 * np.abs(np.cos(phase))
    elif action == "jump":
        cyc = (phase / (2 * np.pi)) % 1.0
        crouch = _smoothstep(cyc / 0.3) * (1 - _smoothstep((cyc - 0.3) / 0.08))
        land = _smoothstep((cyc - 0.72) / 0.1) * (1 - _smoothstep((cyc - 0.85) / 0.15))
        flight = np.clip((cyc - 0.3) / 0.42, 0, 1)
        bend = np.maximum(crouch, land)
        p.lift = 0.42 * np.sin(np.pi * flight) * (flight > 0) * (flight < 1)
        p.knee = np.stack([0.1 + 1.4 * bend] * 2, axis=1)
        p.hip_flex = np.stack([0.75 * bend] * 2, axis=1)
        p.lean = 0.35 * bend
        up = np.sin(np.pi * flight)
        p.sh_flex = np.stack([-0.6 * crouch + 2.7 * up] * 2, axis=1)
        p.sh_abd = np.stack([0.1 + 0.35 * up] * 2, axis=1)
        p.elbow = np.stack([0.3 + 0.3 * bend] * 2, axis=1)
    elif action == "wave":
        arm = int(rng.integers(0, 2))
        p.sh_abd[:, arm] = 1.35 + 0.15 * s
        p.elbow_up[:, arm] = 1.0
        p.elbow[:, arm] = 1.0 + 0.55 * s
        other = 1 - arm
        p.sh_flex[:, other] = 0.1 * np.sin(phase / 4)
        p.hip_abd = p.hip_abd + 0.05
        p.head_yaw = 0.3 * np.sin(phase / 5)
    elif action == "turn":
        p.hip_flex = 0.18 * lr
        p.knee = 0.1 + 0.35 * swing
        p.sh_flex = -0.2 * lr
        p.sh_abd = p.sh_abd + 0.1
    return p
