"""Image degradations: motion blur in proportion to velocity (per person and for the camera),
defocused frames, lighting drift and flicker, sensor noise. JPEG artefacts come from the JPEG
quality the frames are written with (see ``SyntheticSequence.jpeg_quality``).

Degradations never move anything: the annotated joints stay where the shapes were drawn.
"""

from __future__ import annotations

import cv2
import numpy as np

from pstpose.data.synthetic.parts import PERSON_LABEL_STRIDE
from pstpose.data.synthetic.scene import NOISE_PAD, NOISE_SCALE, ScenePlan
from pstpose.keypoints import NUM_JOINTS

MAX_BLUR = 31  # longest blur kernel, pixels


def line_kernel(velocity: np.ndarray, length: float) -> np.ndarray | None:
    """A normalised line kernel along ``velocity`` of the given length (None when negligible)."""
    length = min(float(length), MAX_BLUR)
    if length < 1.5:
        return None
    size = int(np.ceil(length)) | 1
    k = np.zeros((size, size), np.float32)
    d = velocity / max(float(np.linalg.norm(velocity)), 1e-9) * (length - 1) / 2
    c = np.array([size // 2, size // 2], np.float64)
    cv2.line(k, tuple(int(round(v)) for v in c - d), tuple(int(round(v)) for v in c + d), 1.0, 1, cv2.LINE_AA)
    return k / k.sum()


def disk_kernel(radius: float) -> np.ndarray:
    r = max(radius, 0.5)
    size = int(np.ceil(r)) * 2 + 1
    yy, xx = np.mgrid[:size, :size] - size // 2
    k = np.clip(r + 0.5 - np.hypot(xx, yy), 0, 1).astype(np.float32)
    return k / k.sum()


def person_velocity(plan: ScenePlan, idx: int, t: int) -> np.ndarray:
    """Mean 2-D joint displacement (pixels per frame) of a person around frame t."""
    uv = plan.people[idx].uv
    if plan.frames < 2:
        return np.zeros(2)
    a, b = (t - 1, t) if t > 0 else (0, 1)
    return (uv[b, :NUM_JOINTS] - uv[a, :NUM_JOINTS]).mean(axis=0)


def motion_blur_people(image: np.ndarray, labels: np.ndarray, plan: ScenePlan, t: int) -> None:
    """Blur each person along their own velocity, in place, blending with their soft mask."""
    strength = plan.preset.motion_blur
    if strength <= 0:
        return
    h, w = labels.shape
    owners = labels // PERSON_LABEL_STRIDE  # person index + 1, 0 for background/occluders
    for idx in range(len(plan.people)):
        kernel = line_kernel(
            person_velocity(plan, idx, t), strength * float(np.linalg.norm(person_velocity(plan, idx, t)))
        )
        if kernel is None:
            continue
        ys, xs = np.nonzero(owners == idx + 1)
        if len(xs) == 0:
            continue
        pad = kernel.shape[0]
        x0, x1 = max(int(xs.min()) - pad, 0), min(int(xs.max()) + pad + 1, w)
        y0, y1 = max(int(ys.min()) - pad, 0), min(int(ys.max()) + pad + 1, h)
        roi = image[y0:y1, x0:x1].astype(np.float32)
        mask = (owners[y0:y1, x0:x1] == idx + 1).astype(np.float32)
        soft = cv2.filter2D(mask, -1, kernel, borderType=cv2.BORDER_REPLICATE)[..., None]
        smeared = cv2.filter2D(roi * mask[..., None], -1, kernel, borderType=cv2.BORDER_REPLICATE)
        out = roi * (1 - soft) + smeared
        image[y0:y1, x0:x1] = np.clip(out + 0.5, 0, 255).astype(np.uint8)


def camera_blur(image: np.ndarray, plan: ScenePlan, t: int) -> np.ndarray:
    cam = plan.camera
    if plan.preset.motion_blur <= 0 or plan.frames < 2:
        return image
    a, b = (t - 1, t) if t > 0 else (0, 1)
    v = np.array([cam.pan_x[b] - cam.pan_x[a], 0.0]) + (cam.shake[b] - cam.shake[a])
    kernel = line_kernel(v, plan.preset.motion_blur * float(np.linalg.norm(v)))
    return image if kernel is None else cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT)


def apply_degradations(
    image: np.ndarray, labels: np.ndarray, plan: ScenePlan, t: int, rng: np.random.Generator
) -> np.ndarray:
    """All degradations of frame t, in a fixed order; ``rng`` is frame t's own stream."""
    preset = plan.preset
    scale = plan.height / 288.0
    # draw every random number first, in a fixed order, whatever is enabled
    defocus = rng.random() < preset.defocus_prob
    flicker = rng.random() < preset.flicker_prob
    flicker_gain = rng.uniform(0.55, 1.45)
    noise_dy, noise_dx = (int(v) for v in rng.integers(0, NOISE_PAD + 1, size=2))
    noise_sign = 1.0 if rng.random() < 0.5 else -1.0
    motion_blur_people(image, labels, plan, t)
    image = camera_blur(image, plan, t)
    if defocus:
        image = cv2.filter2D(image, -1, disk_kernel(preset.defocus_sigma * scale), borderType=cv2.BORDER_REFLECT)
    gain = 1.0 + preset.lighting * np.sin(2 * np.pi * t / plan.light_period + plan.light_phase)
    if flicker:
        gain *= flicker_gain
    lut = np.clip(np.arange(256, dtype=np.float64)[:, None] * gain * plan.color_gain[None, :], 0, 255)
    lut = lut.astype(np.uint8).reshape(256, 1, 3)
    image = cv2.LUT(image, lut)
    if preset.noise_sigma > 0:
        # a random crop of the video's noise bank, with a random sign: white-looking noise at a
        # fraction of the cost of drawing fresh normal numbers every frame
        bank = plan.noise_bank[noise_dy : noise_dy + plan.height, noise_dx : noise_dx + plan.width]
        scale = noise_sign * preset.noise_sigma / NOISE_SCALE
        noisy = cv2.scaleAdd(bank.astype(np.float32), scale, image.astype(np.float32))
        image = cv2.convertScaleAbs(np.maximum(noisy, 0.0, out=noisy))  # round and saturate to uint8
    return image
