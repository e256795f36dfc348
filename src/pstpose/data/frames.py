"""Frame files: neighbour path naming and a per-worker LRU cache of decoded RGB frames.

PoseTrack names every frame of a video by its number: PoseTrack18/21 as ``%06d`` counting from
0 (``000000.jpg``), PoseTrack17 as ``%08d`` counting from 1 (``00000001.jpg``). Annotation files
list only some frames, so the neighbours of a keyframe are usually *derived* from the keyframe's
own file name. The digit width and the numbering base are read from that name (the files are
the authority); the format only settles the width of a number written without leading zeros.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path

import numpy as np

from pstpose.media import ImageFileError, read_image

# format -> (digit width, number of frame index 0)
FRAME_NAMING: dict[str, tuple[int, int]] = {"pt17": (8, 1), "pt18": (6, 0), "pt21": (6, 0)}

_NUMBERED_STEM = re.compile(r"^(?P<prefix>.*?)(?P<digits>\d+)$")


class FrameFileError(FileNotFoundError):
    """A frame image is missing or cannot be decoded; the message names the file."""


class FrameNamingError(ValueError):
    """A frame file name does not carry a frame number from which neighbours can be named."""


def neighbour_file_name(file_name: str, frame_index: int, target_index: int, fmt: str | None = None) -> str:
    """The file name of frame ``target_index`` of the video whose frame ``frame_index`` is ``file_name``.

    The number in the stem of ``file_name`` minus ``frame_index`` gives the numbering base (0 for
    PoseTrack18/21, 1 for PoseTrack17); a stem with a leading zero (or exactly the format's
    width) gives the zero-padded width. Raises FrameNamingError when the stem ends in no number
    or the base would make a frame number negative.
    """
    if target_index == frame_index:
        return file_name
    path = Path(file_name)
    match = _NUMBERED_STEM.match(path.stem)
    if match is None:
        raise FrameNamingError(
            f"{file_name}: frame file name has no frame number, cannot name neighbour frame {target_index}"
        )
    digits = match["digits"]
    base = int(digits) - frame_index
    number = base + target_index
    if base < 0 or number < 0:
        raise FrameNamingError(
            f"{file_name}: frame number {int(digits)} does not fit frame index {frame_index} "
            f"(neighbour {target_index} would be number {number})"
        )
    format_width = FRAME_NAMING.get(fmt or "", (None, None))[0]
    padded = digits.startswith("0") or len(digits) == format_width
    width = len(digits) if padded else 0
    name = f"{match['prefix']}{number:0{width}d}{path.suffix}"
    return file_name[: len(file_name) - len(path.name)] + name


class FrameCache:
    """Least-recently-used cache of decoded RGB frames, keyed by path.

    Neighbouring clips share frames (a clip of 3 frames overlaps the next keyframe's clip, and
    every person of a keyframe uses the same frames), so a small cache saves most decodes. Each
    DataLoader worker holds its own copy: nothing is shared between processes. Cached arrays are
    read-only so that no caller can corrupt a later clip.
    """

    def __init__(self, capacity: int):
        if capacity < 0:
            raise ValueError(f"frame cache capacity must be >= 0, got {capacity}")
        self.capacity = capacity
        self._frames: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._frames)

    def get(self, path: str | Path) -> np.ndarray:
        key = str(path)
        frame = self._frames.get(key)
        if frame is not None:
            self._frames.move_to_end(key)
            self.hits += 1
            return frame
        self.misses += 1
        try:
            frame = read_image(key, "rgb")  # the model's colour order
        except ImageFileError as exc:
            raise FrameFileError(str(exc)) from None
        frame.setflags(write=False)
        if self.capacity > 0:
            self._frames[key] = frame
            while len(self._frames) > self.capacity:
                self._frames.popitem(last=False)
        return frame

    def clear(self) -> None:
        self._frames.clear()
