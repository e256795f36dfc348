"""The plan of one synthetic video: camera path, people (body, look, motion, projected points),
static occluders, background canvas and the per-video degradation settings.

Everything random about a video is drawn here from its seed, once; rendering a frame afterwards
only needs the plan, the frame index and a per-frame random stream derived from the seed, so
frames can be rendered lazily, in any order, with identical results.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pstpose.data.synthetic.appearance import Appearance, sample_appearance
from pstpose.data.synthetic.background import add_clutter, make_background
from pstpose.data.synthetic.motion import Camera, PersonMotion, make_camera, plan_person
from pstpose.data.synthetic.presets import SynthPreset
from pstpose.data.synthetic.skeleton import Body3D, BodyShape, forward_kinematics, sample_body

MAX_PEOPLE = 60
NOISE_PAD = 32
NOISE_SCALE = 32.0  # the noise bank stores N(0, 1) * NOISE_SCALE as int8
OCCLUDER_KINDS = ("pole", "crate", "bush", "wall", "sign")


@dataclass
class PersonPlan:
    track_id: int
    shape: BodyShape
    look: Appearance
    motion: PersonMotion
    body: Body3D
    uv: np.ndarray  # (T, NUM_POINTS, 2) projected points, camera motion included
    depth: np.ndarray  # (T, NUM_POINTS) distance along the optical axis


@dataclass(frozen=True)
class Occluder:
    kind: str
    x: float
    z: float
    width: float
    height: float
    color: tuple[int, int, int]


@dataclass
class ScenePlan:
    seed: int
    frames: int
    height: int
    width: int
    preset_name: str
    preset: SynthPreset
    camera: Camera
    people: list[PersonPlan]
    occluders: list[Occluder]
    background: np.ndarray  # canvas larger than the frame
    background_kind: str
    canvas_offset: tuple[float, float]  # frame pixel (0, 0) sits at this canvas pixel with no pan
    jpeg_quality: int
    color_gain: np.ndarray  # (3,) per-channel white balance of this video
    light_period: float
    light_phase: float
    noise_bank: np.ndarray  # (H + NOISE_PAD, W + NOISE_PAD, 3) int8 unit-ish noise, cropped per frame


def project_all(camera: Camera, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, P, 3) world points -> (T, P, 2) pixels with every frame's camera motion, and depths."""
    z = np.maximum(points[..., 2], 0.3)
    u = camera.cx + camera.focal * points[..., 0] / z
    v = camera.horizon * camera.height - camera.focal * (points[..., 1] - camera.cam_height) / z
    mats = np.stack([camera.affine(t) for t in range(points.shape[0])])  # (T, 2, 3)
    uv = np.stack([u, v], axis=-1)
    return np.einsum("tpk,tjk->tpj", uv, mats[:, :, :2]) + mats[:, None, :, 2], z


def _occluder(rng: np.random.Generator, camera: Camera, preset: SynthPreset) -> Occluder:
    kind = str(rng.choice(OCCLUDER_KINDS))
    z = rng.uniform(preset.depth[0] - 0.3, 0.5 * (preset.depth[0] + preset.depth[1]))
    u = rng.uniform(0.1, 0.9) * camera.width
    x = (u - camera.cx) * z / camera.focal
    size = {
        "pole": (rng.uniform(0.12, 0.3), rng.uniform(2.0, 3.5)),
        "crate": (rng.uniform(0.5, 1.0), rng.uniform(0.5, 1.0)),
        "bush": (rng.uniform(0.7, 1.4), rng.uniform(0.6, 1.1)),
        "wall": (rng.uniform(1.2, 2.5), rng.uniform(0.6, 1.1)),
        "sign": (rng.uniform(0.5, 0.9), rng.uniform(1.6, 2.2)),
    }[kind]
    if kind == "bush":
        color = (int(rng.integers(20, 60)), int(rng.integers(90, 170)), int(rng.integers(20, 70)))
    else:
        color = tuple(int(v) for v in rng.integers(30, 220, size=3))
    return Occluder(kind, float(x), float(z), float(size[0]), float(size[1]), color)  # type: ignore[arg-type]


def plan_scene(
    seed: int, frames: int, height: int, width: int, preset: SynthPreset, preset_name: str, people: int | None = None
) -> ScenePlan:
    """Draw everything random about one video from ``seed``."""
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    if height < 32 or width < 32:
        raise ValueError(f"frame size must be at least 32x32, got {width}x{height}")
    if people is not None and not 0 <= people <= MAX_PEOPLE:
        raise ValueError(f"people must be between 0 and {MAX_PEOPLE}, got {people}")
    rng = np.random.default_rng([seed, 7919])
    camera = make_camera(rng, frames, height, width, preset)
    n_people = int(rng.integers(preset.people[0], preset.people[1] + 1)) if people is None else people

    plans: list[PersonPlan] = []
    for track_id in range(n_people):
        shape = sample_body(rng)
        look = sample_appearance(rng)
        motion = plan_person(rng, frames, camera, preset, shape.leg)
        body = forward_kinematics(shape, motion.pose)
        uv, depth = project_all(camera, body.points)
        plans.append(PersonPlan(track_id, shape, look, motion, body, uv, depth))

    n_occ = int(rng.integers(preset.occluders[0], preset.occluders[1] + 1))
    occluders = [_occluder(rng, camera, preset) for _ in range(n_occ)]

    scale = height / 288.0
    reach = float(np.abs(camera.pan_x).max() + np.abs(camera.shake).max()) + 0.05 * max(height, width) + 8
    pad_x, pad_y = int(reach) + 4, int(np.abs(camera.shake[:, 1]).max() + 0.05 * max(height, width)) + 8
    canvas_h, canvas_w = height + 2 * pad_y, width + 2 * pad_x
    background, kind = make_background(rng, canvas_h, canvas_w, pad_y + camera.horizon * height)
    add_clutter(rng, background, preset.clutter, min(preset.limb_distractors, preset.clutter), scale)

    q_lo, q_hi = preset.jpeg_quality
    return ScenePlan(
        seed=seed,
        frames=frames,
        height=height,
        width=width,
        preset_name=preset_name,
        preset=preset,
        camera=camera,
        people=plans,
        occluders=occluders,
        background=background,
        background_kind=kind,
        canvas_offset=(float(pad_x), float(pad_y)),
        jpeg_quality=int(rng.integers(q_lo, q_hi + 1)),
        color_gain=rng.uniform(0.92, 1.08, size=3),
        light_period=float(rng.uniform(30, 90)),
        light_phase=float(rng.uniform(0, 2 * np.pi)),
        noise_bank=np.clip(
            rng.standard_normal((height + NOISE_PAD, width + NOISE_PAD, 3), dtype=np.float32) * NOISE_SCALE, -127, 127
        ).astype(np.int8),
    )


def frame_rng(plan: ScenePlan, t: int) -> np.random.Generator:
    """The random stream of frame t alone: noise, flicker and defocus never depend on which other
    frames were rendered before."""
    return np.random.default_rng([plan.seed, 104729, t])
