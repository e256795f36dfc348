"""How a person looks: skin, hair and clothing colours, shirt patterns, and the left-side marks.

Left and right must be tellable apart from the pixels alone, or a pose model cannot learn which
wrist is which. Two cues are used, both consistent across every person:
* the face: eyes and nose are drawn on the facing side of the head, hair covers the back;
* asymmetric clothing: the LEFT upper arm and the LEFT thigh always carry a bright band, and the
  left shoe is always lighter than the right one.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

Color = tuple[int, int, int]  # BGR

SKIN_TONES: tuple[Color, ...] = (
    (189, 208, 241),
    (160, 189, 228),
    (128, 160, 205),
    (96, 132, 180),
    (70, 100, 145),
    (48, 70, 104),
)
HAIR_COLORS: tuple[Color, ...] = (
    (20, 20, 25),
    (25, 40, 70),
    (40, 70, 110),
    (90, 150, 200),
    (150, 150, 150),
    (30, 60, 150),
)
BAND_COLORS: tuple[Color, ...] = ((245, 245, 245), (40, 230, 250), (250, 250, 120))
PATTERNS: tuple[str, ...] = ("plain", "stripes", "checks", "dots")


@dataclass(frozen=True)
class Appearance:
    skin: Color
    hair: Color
    shirt: Color
    shirt_pattern: str
    pattern_color: Color
    short_sleeves: bool
    pants: Color
    shorts: bool
    band: Color  # the left-side mark
    shoe_left: Color
    shoe_right: Color


def _hsv(h: float, s: float, v: float) -> Color:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return (int(b * 255), int(g * 255), int(r * 255))


def _jitter(rng: np.random.Generator, c: Color, amount: int) -> Color:
    return tuple(int(np.clip(v + rng.integers(-amount, amount + 1), 0, 255)) for v in c)  # type: ignore[return-value]


def sample_appearance(rng: np.random.Generator) -> Appearance:
    skin = _jitter(rng, SKIN_TONES[int(rng.integers(len(SKIN_TONES)))], 12)
    shirt_h = rng.random()
    shirt = _hsv(shirt_h, rng.uniform(0.25, 0.9), rng.uniform(0.3, 0.9))
    pattern_color = _hsv(shirt_h + rng.uniform(0.3, 0.7), rng.uniform(0.2, 0.8), rng.uniform(0.5, 1.0))
    pants = _hsv(rng.random(), rng.uniform(0.1, 0.7), rng.uniform(0.15, 0.6))
    dark_shoe = _jitter(rng, (30, 30, 35), 15)
    return Appearance(
        skin=skin,
        hair=_jitter(rng, HAIR_COLORS[int(rng.integers(len(HAIR_COLORS)))], 10),
        shirt=shirt,
        shirt_pattern=str(rng.choice(PATTERNS)),
        pattern_color=pattern_color,
        short_sleeves=bool(rng.random() < 0.4),
        pants=pants,
        shorts=bool(rng.random() < 0.25),
        band=BAND_COLORS[int(rng.integers(len(BAND_COLORS)))],
        shoe_left=_jitter(rng, (215, 215, 215), 20),
        shoe_right=dark_shoe,
    )


@lru_cache(maxsize=4096)
def shades(color: Color) -> tuple[Color, Color, Color]:
    """(shadow, base, highlight) versions of a colour, for the three-layer limb shading."""
    c = np.asarray(color, dtype=np.float64)
    dark = tuple(int(v) for v in np.clip(c * 0.55, 0, 255))
    light = tuple(int(v) for v in np.clip(c * 1.2 + 25, 0, 255))
    return dark, tuple(int(v) for v in c), light  # type: ignore[return-value]
