"""Frame sources (video files, frame folders, globs, single images) and the clip ring buffer.

Two modes: a *video* (a video file, or a folder/glob of frames of one size) is a stream whose
keyframes get clips of their neighbours; an *image set* (one photo, or a folder/glob of photos of
different sizes) is independent images, each its own clip. ``open_source`` decides by that rule
(``mode="auto"``) or as told (``"video"`` / ``"images"``).

Every source decodes each frame exactly once and yields it as a BGR uint8 array (OpenCV's
order). ``iter_clips`` turns that stream into clips of 2ξ+1 frames around each keyframe while
holding at most 2ξ+1 decoded frames, so memory does not grow with the length of the video.
"""

from __future__ import annotations

import glob as globlib
import os
import re
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pstpose.media import ImageFileError, read_image

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
DEFAULT_IMAGE_FPS = 25.0  # frame folders carry no rate; PoseTrack videos are ~25-30 fps


class SourceError(ValueError):
    """An input cannot be read as frames; the message names the path and the problem."""


@dataclass(frozen=True)
class SourceFrame:
    """One decoded frame: its 0-based position, the BGR image and (for image sources) its file."""

    index: int
    image: np.ndarray
    path: Path | None = None


class FrameSource(ABC):
    """A stream of equally sized BGR frames with a known rate and size."""

    independent: bool = False  # True for an image set: no clips across images, no tracking
    path: str
    fps: float
    width: int
    height: int
    num_frames: int | None  # None when the container does not say

    @property
    def name(self) -> str:
        """A short name for output files (video stem, folder name or image stem)."""
        return Path(self.path).stem or "frames"

    @abstractmethod
    def __iter__(self) -> Iterator[SourceFrame]: ...

    def _check_size(self, image: np.ndarray, where: str) -> None:
        h, w = image.shape[:2]
        if (w, h) != (self.width, self.height):
            raise SourceError(
                f"{where}: frame is {w}x{h} but the first frame of {self.path} is "
                f"{self.width}x{self.height}; all frames of a video must have one size (images of several sizes are independent photos: source mode 'images')"
            )


def natural_key(text: str) -> list:
    """Sort key that orders 'frame2' before 'frame10'."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def read_source_image(path: str | Path) -> np.ndarray:
    """One image of an image source as BGR uint8 (``pstpose.media.read_image``); SourceError
    naming the file when it is missing or cannot be decoded."""
    try:
        return read_image(path, "bgr")  # the order every source yields
    except ImageFileError as exc:
        raise SourceError(str(exc)) from None


class ImageSequenceSource(FrameSource):
    """An ordered list of image files (a folder, a glob or one image)."""

    def __init__(self, files: list[Path], path: str, fps: float = DEFAULT_IMAGE_FPS, name: str | None = None):
        if not files:
            raise SourceError(f"{path}: no image files")
        if not fps > 0:
            raise SourceError(f"{path}: fps must be positive, got {fps}")
        self.files = files
        self.path = path
        self.fps = float(fps)
        self.num_frames = len(files)
        self._name = name
        first = read_source_image(files[0])
        self.height, self.width = first.shape[:2]

    @property
    def name(self) -> str:
        return self._name or super().name

    def __iter__(self) -> Iterator[SourceFrame]:
        for index, file in enumerate(self.files):
            image = read_source_image(file)
            self._check_size(image, str(file))
            yield SourceFrame(index, image, file)


class ImageSetSource(FrameSource):
    """Independent photos of any sizes (a folder, a glob or one photo): each image is its own
    clip (edge frames replicated, as at a video's ends) and persons are not tracked across them.

    ``width``/``height`` are None: every image has its own. ``relative_names`` are the paths
    below the images' common folder, used to name per-image outputs without collisions.
    """

    independent = True

    def __init__(self, files: list[Path], path: str, name: str | None = None):
        if not files:
            raise SourceError(f"{path}: no image files")
        self.files = files
        self.path = path
        self.fps = DEFAULT_IMAGE_FPS
        self.num_frames = len(files)
        self.width = self.height = None  # type: ignore[assignment]
        self._name = name
        common = Path(os.path.commonpath([str(f.resolve().parent) for f in files]))
        self.relative_names = [f.resolve().relative_to(common) for f in files]

    @property
    def name(self) -> str:
        return self._name or super().name

    def __iter__(self) -> Iterator[SourceFrame]:
        for index, file in enumerate(self.files):
            yield SourceFrame(index, read_source_image(file), file)


def _one_size(files: list[Path]) -> bool:
    """Whether every image has the first one's size (headers where possible, else decoded)."""
    from pstpose.media import image_size

    first = None
    for file in files:
        size = image_size(file)
        if size is None:
            try:
                h, w = read_source_image(file).shape[:2]
            except SourceError:
                return True  # unreadable: the video reader names it at its turn
            size = (w, h)
        if first is None:
            first = size
        elif size != first:
            return False
    return True


SOURCE_MODES = ("auto", "video", "images")


class VideoSource(FrameSource):
    """A video file decoded with PyAV (OpenCV's VideoCapture when PyAV cannot open it)."""

    def __init__(self, path: str | Path, backend: str = "auto"):
        self.path = str(path)
        if not Path(path).is_file():
            raise SourceError(f"{path}: no such file")
        if backend not in ("auto", "av", "cv2"):
            raise ValueError(f"unknown video backend {backend!r}")
        errors = []
        self.backend = None
        if backend in ("auto", "av"):
            try:
                self._probe_av()
                self.backend = "av"
            except ImportError:
                errors.append("PyAV is not installed")
            except Exception as exc:  # av.error.* — the container or stream is unusable
                errors.append(f"PyAV: {exc}")
        if self.backend is None and backend in ("auto", "cv2"):
            try:
                self._probe_cv2()
                self.backend = "cv2"
            except SourceError as exc:
                errors.append(f"OpenCV: {exc}")
        if self.backend is None:
            raise SourceError(f"{path}: not a readable video ({'; '.join(errors)})")

    # --- PyAV ------------------------------------------------------------------------------
    def _probe_av(self) -> None:
        import av

        with av.open(self.path) as container:
            if not container.streams.video:
                raise SourceError("no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            self.fps = float(rate) if rate else DEFAULT_IMAGE_FPS
            self.num_frames = int(stream.frames) or None
            # The codec context's size can be 0 before decoding; decode the first frame to know.
            first = next(container.decode(stream), None)
            if first is None:
                raise SourceError("the video stream has no decodable frames")
            self.width, self.height = first.width, first.height

    def _iter_av(self) -> Iterator[SourceFrame]:
        import av

        index = 0
        try:
            with av.open(self.path) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for frame in container.decode(stream):
                    image = frame.to_ndarray(format="bgr24")
                    self._check_size(image, f"{self.path} frame {index}")
                    yield SourceFrame(index, image)
                    index += 1
        except av.error.FFmpegError as exc:
            raise SourceError(
                f"{self.path}: video is truncated or corrupt after {index} decoded frames ({exc})"
            ) from None
        if self.num_frames is not None and index < self.num_frames:
            raise SourceError(
                f"{self.path}: video is truncated: the container lists {self.num_frames} frames "
                f"but only {index} could be decoded"
            )

    # --- OpenCV ----------------------------------------------------------------------------
    def _probe_cv2(self) -> None:
        import cv2

        cap = cv2.VideoCapture(self.path)
        try:
            if not cap.isOpened():
                raise SourceError("cannot open")
            ok, image = cap.read()
            if not ok or image is None:
                raise SourceError("no decodable frames")
            self.height, self.width = image.shape[:2]
            fps = cap.get(cv2.CAP_PROP_FPS)
            self.fps = float(fps) if fps and fps > 0 else DEFAULT_IMAGE_FPS
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            self.num_frames = count if count > 0 else None
        finally:
            cap.release()

    def _iter_cv2(self) -> Iterator[SourceFrame]:
        import cv2

        cap = cv2.VideoCapture(self.path)
        try:
            index = 0
            while True:
                ok, image = cap.read()
                if not ok:
                    break
                self._check_size(image, f"{self.path} frame {index}")
                yield SourceFrame(index, image)
                index += 1
        finally:
            cap.release()

    def __iter__(self) -> Iterator[SourceFrame]:
        return self._iter_av() if self.backend == "av" else self._iter_cv2()


def _image_files(candidates: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    images, others = [], []
    for p in candidates:
        if p.is_dir():
            continue
        # Anything else named like an image is a frame: a FIFO or a broken link among the frames
        # is reported by the reader, not skipped (a skipped frame shifts every later one).
        (images if p.suffix.lower() in IMAGE_EXTENSIONS else others).append(p)
    images.sort(key=lambda p: natural_key(str(p)))
    return images, others


def _no_images_message(where: str, others: list[Path]) -> str:
    if not others:
        return f"{where}: contains no files"
    shown = ", ".join(p.name for p in others[:3]) + (" ..." if len(others) > 3 else "")
    return (
        f"{where}: no image files ({len(others)} other file(s): {shown}); "
        f"images need one of {', '.join(sorted(IMAGE_EXTENSIONS))}"
    )


def open_source(
    source: str | Path, fps: float | None = None, video_backend: str = "auto", mode: str = "auto"
) -> FrameSource:
    """Open a video file, a folder of frames, a glob pattern or a single image.

    ``mode``: ``"auto"`` reads a video file as a video, one photo as an image set, and a folder or
    glob as a video when all its images have one size, else as an image set; ``"video"`` or
    ``"images"`` force it (a video file is always a video). ``fps`` sets the rate of image
    sources (default 25) and overrides a video's own rate.
    """
    if mode not in SOURCE_MODES:
        raise SourceError(f"{source}: mode must be one of {', '.join(SOURCE_MODES)}, got {mode!r}")
    text = str(source)
    path = Path(source)
    files: list[Path] = []
    name = None
    if path.is_dir():
        files, others = _image_files(path.iterdir())
        if not files:
            raise SourceError(_no_images_message(f"folder {path}", others))
        name = path.resolve().name
    elif path.is_file():
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            src: FrameSource = VideoSource(path, backend=video_backend)
            if fps is not None:
                if not fps > 0:
                    raise SourceError(f"{text}: fps must be positive, got {fps}")
                src.fps = float(fps)
            return src
        files = [path]
    elif globlib.has_magic(text):
        files, others = _image_files(Path(p) for p in globlib.glob(text, recursive=True))
        if not files:
            raise SourceError(_no_images_message(f"pattern {text}", others) if others else f"{text}: matches no files")
        name = Path(os.path.commonpath([str(f.parent) for f in files])).resolve().name
    else:
        raise SourceError(f"{text}: no such file, folder or matching glob")
    if mode == "images" or (mode == "auto" and ((len(files) == 1 and path.is_file()) or not _one_size(files))):
        return ImageSetSource(files, text, name=name)
    src = ImageSequenceSource(files, text, fps or DEFAULT_IMAGE_FPS, name=name)
    if fps is not None:
        if not fps > 0:
            raise SourceError(f"{text}: fps must be positive, got {fps}")
        src.fps = float(fps)
    return src


# --- clips -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    """The frames of one keyframe's clip: ``frames[frames_per_side]`` is the keyframe.

    Frames before the first / after the last frame of the source repeat the edge frame.
    """

    key: SourceFrame
    frames: tuple[np.ndarray, ...]

    @property
    def index(self) -> int:
        return self.key.index


class ClipWindow:
    """Ring buffer of the last 2ξ+1 frames; turns a frame stream into keyframe clips.

    ``push`` a frame and get the clips that became complete; ``finish`` at the end of the
    stream returns the last ξ clips (padded with the final frame). ``len(window)`` is the number
    of decoded frames held, never more than 2ξ+1.
    """

    def __init__(self, frames_per_side: int):
        if frames_per_side < 0:
            raise ValueError(f"frames_per_side must be >= 0, got {frames_per_side}")
        self.frames_per_side = frames_per_side
        self._buffer: deque[SourceFrame] = deque(maxlen=2 * frames_per_side + 1)
        self._next_key = 0  # index of the next keyframe to emit

    def __len__(self) -> int:
        return len(self._buffer)

    def _clip(self, key_index: int, last_index: int) -> Clip:
        first_held = self._buffer[0].index
        by_offset = {f.index - first_held: f for f in self._buffer}
        frames = []
        for t in range(key_index - self.frames_per_side, key_index + self.frames_per_side + 1):
            t = min(max(t, 0), last_index)
            frames.append(by_offset[t - first_held].image)
        return Clip(by_offset[key_index - first_held], tuple(frames))

    def push(self, frame: SourceFrame) -> list[Clip]:
        expected = self._buffer[-1].index + 1 if self._buffer else 0
        if frame.index != expected:
            raise ValueError(f"frames must arrive in order: expected index {expected}, got {frame.index}")
        self._buffer.append(frame)
        clips = []
        while self._next_key + self.frames_per_side <= frame.index:
            clips.append(self._clip(self._next_key, frame.index))
            self._next_key += 1
        return clips

    def finish(self) -> list[Clip]:
        if not self._buffer:
            return []
        last = self._buffer[-1].index
        clips = []
        while self._next_key <= last:
            clips.append(self._clip(self._next_key, last))
            self._next_key += 1
        return clips


def iter_clips(frames: Iterable[SourceFrame], frames_per_side: int) -> Iterator[Clip]:
    """Clips of 2ξ+1 frames for every frame of the stream, in order, with bounded memory."""
    window = ClipWindow(frames_per_side)
    for frame in frames:
        yield from window.push(frame)
    yield from window.finish()
