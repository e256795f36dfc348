"""Named difficulty presets: one typed dataclass of knobs, so a dataset can be described in a table.

Every knob is a plain number (or a pair for ranges) so that the summary JSON written beside a
generated dataset states exactly what made it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

ACTIONS: tuple[str, ...] = ("walk", "run", "jump", "wave", "turn")


@dataclass(frozen=True)
class SynthPreset:
    """Difficulty knobs of the synthetic generator.

    Speeds are multipliers of natural human speeds; pixel amounts are for a 288-pixel-high frame
    and scale with the frame height.
    """

    people: tuple[int, int] = (2, 4)  # people per video, inclusive range
    # relative weights of the actions in ACTIONS order (walk, run, jump, wave, turn)
    action_weights: tuple[float, float, float, float, float] = (4.0, 1.5, 1.0, 1.5, 1.5)
    speed: float = 1.0  # multiplier on limb cadence and on travel speed
    burst_prob: float = 0.15  # chance per person that the video contains a sudden fast burst
    burst_speed: float = 3.0  # speed multiplier during a burst
    burst_frames: tuple[int, int] = (4, 8)
    camera_pan: float = 0.5  # largest camera pan, pixels per frame
    camera_shake: float = 0.5  # camera shake, pixels (standard deviation)
    occluders: tuple[int, int] = (0, 1)  # static foreground occluders per video
    clutter: int = 12  # background clutter shapes per video
    limb_distractors: int = 3  # limb-like shapes among the clutter
    motion_blur: float = 0.5  # blur length as a fraction of a person's displacement per frame
    defocus_prob: float = 0.03  # chance per frame of a defocused frame
    defocus_sigma: float = 2.5  # defocus blur radius, pixels
    noise_sigma: float = 3.0  # Gaussian pixel noise, grey levels
    jpeg_quality: tuple[int, int] = (80, 92)  # written JPEG quality range (per video)
    lighting: float = 0.15  # amplitude of slow brightness changes (fraction)
    flicker_prob: float = 0.02  # chance per frame of a sudden brightness jump
    depth: tuple[float, float] = (3.0, 8.5)  # distance of people from the camera, metres

    def to_dict(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


STANDARD = SynthPreset()

PRESETS: dict[str, SynthPreset] = {
    "easy": dataclasses.replace(
        STANDARD,
        people=(1, 2),
        action_weights=(4.0, 0.0, 0.0, 2.0, 1.0),
        speed=0.6,
        burst_prob=0.0,
        camera_pan=0.0,
        camera_shake=0.0,
        occluders=(0, 0),
        clutter=4,
        limb_distractors=0,
        motion_blur=0.0,
        defocus_prob=0.0,
        noise_sigma=1.0,
        jpeg_quality=(92, 95),
        lighting=0.05,
        flicker_prob=0.0,
        depth=(3.0, 6.0),
    ),
    "standard": STANDARD,
    "rapid-motion": dataclasses.replace(
        STANDARD,
        action_weights=(1.0, 4.0, 2.0, 0.5, 1.0),
        speed=1.6,
        burst_prob=0.7,
        burst_speed=3.5,
        burst_frames=(4, 10),
        camera_pan=4.0,
        camera_shake=2.5,
        motion_blur=0.8,
    ),
    "occlusion": dataclasses.replace(STANDARD, people=(4, 7), occluders=(2, 4), depth=(3.0, 7.5)),
    "defocus": dataclasses.replace(STANDARD, defocus_prob=0.35, defocus_sigma=4.0),
    "clutter": dataclasses.replace(STANDARD, clutter=40, limb_distractors=14, noise_sigma=5.0),
}


def get_preset(name: str) -> SynthPreset:
    """The preset called ``name``; a clear error lists the known names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown synthetic preset {name!r}; known: {', '.join(PRESETS)}") from None
