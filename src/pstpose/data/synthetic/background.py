"""Procedural backgrounds (no downloads): streets, rooms, parks and photographic-like noise
textures, with clutter painted on them, including limb-like distractors that look like arms and
legs but carry no annotation.

A background is one canvas per video, larger than the frame so the camera can pan over it.
"""

from __future__ import annotations

import cv2
import numpy as np

from pstpose.data.synthetic.appearance import SKIN_TONES, shades

KINDS: tuple[str, ...] = ("street", "room", "park", "texture")


def fractal_noise(rng: np.random.Generator, height: int, width: int, octaves: int = 5, base: int = 4) -> np.ndarray:
    """Value noise in [0, 1]: random grids upsampled with cubic interpolation, summed over
    octaves with halving weights (a cheap stand-in for photographic texture)."""
    out = np.zeros((height, width), np.float32)
    weight, total = 1.0, 0.0
    for o in range(octaves):
        cells = base * 2**o
        gh, gw = max(2, height * cells // max(height, width)), max(2, width * cells // max(height, width))
        grid = rng.random((gh + 1, gw + 1), dtype=np.float32)
        out += weight * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        total += weight
        weight *= 0.5
    out /= total
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def _tint(noise: np.ndarray, dark: np.ndarray, light: np.ndarray) -> np.ndarray:
    return (dark[None, None] + noise[..., None] * (light - dark)[None, None]).astype(np.float32)


def _random_color(rng: np.random.Generator, lo: int = 30, hi: int = 230) -> np.ndarray:
    return rng.integers(lo, hi, size=3).astype(np.float32)


def make_background(rng: np.random.Generator, height: int, width: int, horizon_y: float) -> tuple[np.ndarray, str]:
    """A (height, width, 3) uint8 BGR canvas; ``horizon_y`` is the horizon row in the canvas."""
    kind = str(rng.choice(KINDS))
    h_row = int(np.clip(horizon_y, 0, height - 1))
    noise = fractal_noise(rng, height, width)
    fine = fractal_noise(rng, height, width, octaves=3, base=24)
    if kind == "texture":
        img = _tint(noise, _random_color(rng, 10, 120), _random_color(rng, 120, 250))
        img += (fine[..., None] - 0.5) * 40
    else:
        if kind == "street":
            top = _tint(noise, np.float32([200, 170, 140]), np.float32([250, 225, 200]))
            ground = _tint(fine, np.float32([70, 72, 75]), np.float32([130, 130, 135]))
        elif kind == "room":
            wall = _random_color(rng, 90, 220)
            top = _tint(noise, wall * 0.75, wall)
            ground = _tint(fine, np.float32([40, 70, 110]), np.float32([90, 130, 170]))
        else:  # park
            top = _tint(noise, np.float32([210, 170, 120]), np.float32([255, 230, 200]))
            ground = _tint(fine, np.float32([30, 90, 40]), np.float32([80, 160, 90]))
        img = np.concatenate([top[:h_row], ground[h_row:]], axis=0)
        if kind == "street":
            _buildings(rng, img, h_row)
        elif kind == "room":
            _planks(rng, img, h_row)
            cv2.line(img, (0, h_row), (width, h_row), (40, 40, 40), 3)
        else:
            _trees(rng, img, h_row)
    return np.clip(img, 0, 255).astype(np.uint8), kind


def _buildings(rng: np.random.Generator, img: np.ndarray, h_row: int) -> None:
    x = -int(rng.integers(0, 40))
    width = img.shape[1]
    while x < width:
        w = int(rng.integers(50, 160))
        top = int(rng.integers(max(1, h_row // 6), max(2, h_row - 10)))
        color = _random_color(rng, 60, 200)
        cv2.rectangle(img, (x, top), (x + w, h_row), color.tolist(), -1)
        win = (color * 0.45).tolist()
        for wy in range(top + 8, h_row - 12, 22):
            for wx in range(x + 8, x + w - 12, 20):
                cv2.rectangle(img, (wx, wy), (wx + 9, wy + 12), win, -1)
        x += w + int(rng.integers(0, 20))


def _planks(rng: np.random.Generator, img: np.ndarray, h_row: int) -> None:
    height, width = img.shape[:2]
    step = int(rng.integers(14, 30))
    for y in range(h_row + step, height, step):
        cv2.line(img, (0, y), (width, y), (30, 50, 80), 1)
    for _ in range(int(rng.integers(1, 4))):  # posters / windows on the wall
        x0, y0 = int(rng.integers(0, width - 40)), int(rng.integers(0, max(1, h_row - 60)))
        cv2.rectangle(
            img,
            (x0, y0),
            (x0 + int(rng.integers(30, 90)), y0 + int(rng.integers(25, 60))),
            _random_color(rng).tolist(),
            -1,
        )


def _trees(rng: np.random.Generator, img: np.ndarray, h_row: int) -> None:
    width = img.shape[1]
    for _ in range(int(rng.integers(4, 10))):
        cx = int(rng.integers(0, width))
        r = int(rng.integers(15, 45))
        cv2.line(img, (cx, h_row), (cx, h_row - r), (30, 50, 70), max(2, r // 5))
        green = (float(rng.integers(20, 70)), float(rng.integers(90, 160)), float(rng.integers(20, 80)))
        cv2.circle(img, (cx, h_row - r - r // 2), r, green, -1, cv2.LINE_AA)


def add_clutter(rng: np.random.Generator, img: np.ndarray, count: int, limb_like: int, scale: float) -> None:
    """Paint ``count`` clutter shapes, ``limb_like`` of which are shaded limb-like chains."""
    height, width = img.shape[:2]
    for i in range(count):
        x, y = int(rng.integers(0, width)), int(rng.integers(height // 4, height))
        if i < limb_like:
            _limb_distractor(rng, img, (x, y), scale)
            continue
        color = _random_color(rng).tolist()
        kind = int(rng.integers(0, 4))
        size = int(rng.integers(6, 40) * scale) + 2
        if kind == 0:
            cv2.circle(img, (x, y), size // 2, color, -1, cv2.LINE_AA)
        elif kind == 1:
            cv2.rectangle(img, (x, y), (x + size, y + int(size * rng.uniform(0.3, 1.5))), color, -1)
        elif kind == 2:
            angle = float(rng.uniform(0, 180))
            cv2.ellipse(img, (x, y), (size, max(2, size // 3)), angle, 0, 360, color, -1, cv2.LINE_AA)
        else:
            pts = (np.array([x, y]) + rng.normal(0, size, size=(int(rng.integers(3, 6)), 2))).astype(np.int32)
            cv2.polylines(img, [pts], False, color, max(1, size // 10), cv2.LINE_AA)


def _limb_distractor(rng: np.random.Generator, img: np.ndarray, start: tuple[int, int], scale: float) -> None:
    """Two or three shaded capsules joined end to end, in skin or clothing colours."""
    if rng.random() < 0.5:
        color = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]
    else:
        color = tuple(int(v) for v in _random_color(rng))
    dark, base, light = shades(color)  # type: ignore[arg-type]
    p = np.array(start, dtype=np.float64)
    angle = rng.uniform(0, 2 * np.pi)
    width = rng.uniform(5, 16) * scale
    for _ in range(int(rng.integers(2, 4))):
        length = rng.uniform(2.5, 4.5) * width
        q = p + length * np.array([np.cos(angle), np.sin(angle)])
        a, b = tuple(int(v) for v in p), tuple(int(v) for v in q)
        cv2.line(img, a, b, dark, max(1, int(width)), cv2.LINE_AA)
        cv2.line(img, a, b, base, max(1, int(width * 0.65)), cv2.LINE_AA)
        cv2.line(img, a, b, light, max(1, int(width * 0.25)), cv2.LINE_AA)
        p = q
        angle += rng.uniform(-1.2, 1.2)
