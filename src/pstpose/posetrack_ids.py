"""PoseTrack's naming of videos and frames, declared once.

PoseTrack18/21 name a sequence by its 6-digit video id (``009473_mpii_test``) and give the
frame of video ``v`` with number ``f`` the image id ``1`` + ``v`` as 6 digits + ``f`` as 4
digits (frame 12 of video 009473 is 10094730012). Readers, prediction writers, box-file lookups
and the synthetic generator all derive ids from here, so they agree with each other and with
the real files. The module imports nothing of the package: any layer may use it.
"""

from __future__ import annotations

import re

VIDEO_ID_DIGITS = 6
FRAME_DIGITS = 4
MAX_VIDEO_ID = 10**VIDEO_ID_DIGITS - 1
MAX_FRAMES = 10**FRAME_DIGITS  # frames a video can have: its numbers are 0 .. MAX_FRAMES - 1

_LEADING_VIDEO_ID = re.compile(rf"(\d{{{VIDEO_ID_DIGITS}}})")


def leading_video_id(name: str) -> str | None:
    """The 6-digit video id a sequence or folder name starts with (``009473_mpii_test`` →
    ``"009473"``), or None when the name does not start with six digits."""
    match = _LEADING_VIDEO_ID.match(name)
    return match.group(1) if match else None


def video_id_text(video_id: int) -> str:
    """A video number written as PoseTrack writes it: six digits, zero-padded."""
    if not 0 <= int(video_id) <= MAX_VIDEO_ID:
        raise ValueError(f"video id must have at most {VIDEO_ID_DIGITS} digits, got {video_id}")
    return f"{int(video_id):0{VIDEO_ID_DIGITS}d}"


def posetrack_image_id(video_id: int, frame: int) -> int:
    """PoseTrack18/21 image id of frame number ``frame`` of video ``video_id``.

    Raises ValueError for a video id above six digits or a frame number outside 0..9999: the
    id would silently be another frame's (of another video).
    """
    if not 0 <= int(frame) < MAX_FRAMES:
        raise ValueError(
            f"frame number {frame} does not fit the {FRAME_DIGITS}-digit frame field of a "
            f"PoseTrack image id (0..{MAX_FRAMES - 1})"
        )
    return int(f"1{video_id_text(video_id)}{int(frame):0{FRAME_DIGITS}d}")
