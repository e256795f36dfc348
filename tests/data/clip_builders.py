"""Hand-made records and frame files for the data-pipeline tests (no reader involved)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pstpose.data.records import Frame, Person, Sequence
from pstpose.keypoints import JOINT_INDEX, NUM_JOINTS


def make_person(center=(320.0, 240.0), height=200.0, track_id=0, bbox=True, absent=("left_ear", "right_ear")):
    """A standing person: joints spread over ``height`` pixels around ``center``, v = 1."""
    cx, cy = center
    rel = {  # (dx, dy) in units of height
        "nose": (0.0, -0.40),
        "head_bottom": (0.0, -0.33),
        "head_top": (0.0, -0.48),
        "left_ear": (0.03, -0.40),
        "right_ear": (-0.03, -0.40),
        "left_shoulder": (0.12, -0.28),
        "right_shoulder": (-0.12, -0.28),
        "left_elbow": (0.16, -0.12),
        "right_elbow": (-0.16, -0.12),
        "left_wrist": (0.18, 0.02),
        "right_wrist": (-0.18, 0.02),
        "left_hip": (0.08, 0.02),
        "right_hip": (-0.08, 0.02),
        "left_knee": (0.09, 0.25),
        "right_knee": (-0.09, 0.25),
        "left_ankle": (0.10, 0.47),
        "right_ankle": (-0.10, 0.47),
    }
    kps = np.zeros((NUM_JOINTS, 3))
    for name, (dx, dy) in rel.items():
        kps[JOINT_INDEX[name]] = (cx + dx * height, cy + dy * height, 1.0)
    present = np.ones(NUM_JOINTS, bool)
    for name in absent:
        present[JOINT_INDEX[name]] = False
        kps[JOINT_INDEX[name]] = 0.0
    box = None
    if bbox:
        box = np.array([cx - 0.25 * height, cy - 0.5 * height, 0.5 * height, 1.0 * height])
    return Person(keypoints=kps, present=present, track_id=track_id, bbox=box)


def pt18_name(seq: str, index: int, ext: str = "jpg") -> str:
    return f"images/val/{seq}/{index:06d}.{ext}"


def make_sequence(
    name="000001_test", nframes=5, labeled=(2,), persons=None, fmt="pt18", ext="jpg", width=640, height=480
):
    """A sequence listing only its labeled frames (as real PoseTrack files do)."""
    persons = persons if persons is not None else [make_person()]
    frames = []
    for i in labeled:
        file_name = pt18_name(name, i, ext) if fmt != "pt17" else f"images/{name}/{i + 1:08d}.{ext}"
        frames.append(
            Frame(
                file_name=file_name, frame_index=i, persons=list(persons), image_id=1000 + i, width=width, height=height
            )
        )
    return Sequence(name=name, frames=frames, format=fmt, nframes=nframes)


def write_frames(
    root: Path, sequence: Sequence, images: dict[int, np.ndarray] | None = None, width=640, height=480
) -> None:
    """Write every frame of the video (0..nframes-1) named like the keyframes, RGB input."""
    ref = sequence.frames[0]
    stem_digits = Path(ref.file_name).stem
    base = int(stem_digits) - ref.frame_index
    folder = root / Path(ref.file_name).parent
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(sequence.nframes):
        if images is not None and i in images:
            rgb = images[i]
        else:
            rgb = np.full((height, width, 3), (20 * i) % 256, np.uint8)
        path = folder / f"{base + i:0{len(stem_digits)}d}{Path(ref.file_name).suffix}"
        assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
