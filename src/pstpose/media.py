"""Image and video files: the one image reader and the one video encoder of the package.

Both the data pipeline (training crops, the synthetic generator) and inference (frame sources,
overlay videos) decode and encode through this module, so a frame is read the same way when a
model is trained as when it is run, and every mp4 the package writes follows one policy. It sits
below ``data`` and ``inference`` and imports neither.

* ``read_image(path, order)``: any OpenCV-readable image as (H, W, 3) uint8 in the colour order
  the caller names (``"bgr"`` is OpenCV's, ``"rgb"`` the model's). Grey and alpha images become
  three channels; 16-bit images are scaled to 8 bits by their maximum. The pixels are the
  file's as stored (no EXIF rotation), so annotations made on the stored frame stay aligned.
* ``VideoWriter`` / ``write_video``: BGR frames to an mp4, written atomically
  (``pstpose.io.atomic_path``): H.264 through PyAV, falling back to MPEG-4 part 2, then
  OpenCV's mp4v.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Literal

import numpy as np

from pstpose.io import OutputError, atomic_path

ColorOrder = Literal["bgr", "rgb"]
COLOR_ORDERS: tuple[str, ...] = ("bgr", "rgb")

PYAV_CODECS = ("libx264", "h264", "mpeg4")
DEFAULT_FPS = 25.0  # used when a caller has no rate (or a non-positive one)
DEFAULT_CRF = 23  # H.264 quality of overlay videos: small files, artefacts hard to see
DEFAULT_PRESET = "veryfast"


class ImageFileError(FileNotFoundError):
    """An image file is missing or cannot be decoded; the message names the file. A
    FileNotFoundError either way: for the caller both mean "this frame is not there"."""


# --- images -------------------------------------------------------------------------------------


def _three_channels(image: np.ndarray) -> np.ndarray:
    import cv2

    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


MAX_FPS = 1000.0
MAX_IMAGE_PIXELS = 1 << 30  # OpenCV's own default limit (CV_IO_MAX_IMAGE_PIXELS), stated here
MAX_IMAGE_FILE_BYTES = 1 << 30


def read_image(path: str | Path, order: ColorOrder) -> np.ndarray:
    """Decode an image file to an (H, W, 3) uint8 array in colour ``order`` ("bgr" or "rgb").

    The order has no default: a caller that meant the other one would get silently swapped
    colours. Raises ImageFileError naming the file when it is missing or cannot be decoded.
    """
    import cv2

    if order not in COLOR_ORDERS:
        raise ValueError(f"colour order must be one of {list(COLOR_ORDERS)}, got {order!r}")
    from pstpose.inputs import InputFileError, read_bytes

    path = Path(path)
    try:
        raw = read_bytes(path, "image file", MAX_IMAGE_FILE_BYTES)  # regular files only: no FIFO blocks
    except FileNotFoundError:
        raise ImageFileError(f"{path}: no such image file") from None
    except InputFileError as exc:
        raise ImageFileError(str(exc)) from None
    data = np.frombuffer(raw, dtype=np.uint8)  # not cv2.imread: any path the OS can open
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except cv2.error:  # OpenCV refuses headers beyond its pixel limit with an exception
        raise ImageFileError(
            f"{path}: image is larger than the reader's limit of {MAX_IMAGE_PIXELS} pixels, or its header is corrupt"
        ) from None
    if image is None:
        raise ImageFileError(f"{path}: not a readable image (empty, corrupt or unsupported format)")
    if image.shape[0] * image.shape[1] > MAX_IMAGE_PIXELS:
        raise ImageFileError(
            f"{path}: {image.shape[1]}x{image.shape[0]} pixels is over the limit of {MAX_IMAGE_PIXELS}"
        )
    if image.dtype != np.uint8:  # 16-bit PNG/TIFF
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(1, int(image.max())))
    image = _three_channels(image)
    if order == "rgb":
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image


def image_size(path: str | Path) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG from its header alone (a few bytes, no decoding); None
    for other formats or a header this cannot parse (the caller then decodes the image).

    Deciding whether a folder of photos is one video needs every image's size; reading headers
    keeps that to milliseconds for thousands of files.
    """
    import struct

    from pstpose.inputs import is_regular_file

    path = Path(path)
    if not is_regular_file(path):
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(26)
            if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
                w, h = struct.unpack(">II", head[16:24])
                return int(w), int(h)
            if head[:2] != b"\xff\xd8":
                return None
            fh.seek(2)
            for _ in range(10_000):  # markers until a start-of-frame
                marker = fh.read(2)
                while len(marker) == 2 and marker[0] == 0xFF and marker[1] == 0xFF:  # fill bytes
                    marker = marker[1:] + fh.read(1)
                if len(marker) < 2 or marker[0] != 0xFF:
                    return None
                kind = marker[1]
                if kind in (0xD8, 0x01) or 0xD0 <= kind <= 0xD7:  # markers without a length
                    continue
                length = struct.unpack(">H", fh.read(2))[0]
                if 0xC0 <= kind <= 0xCF and kind not in (0xC4, 0xC8, 0xCC):  # SOFn
                    _, h, w = struct.unpack(">BHH", fh.read(5))
                    return (int(w), int(h)) if w and h else None
                fh.seek(length - 2, 1)
    except (OSError, struct.error):
        return None
    return None


# --- video --------------------------------------------------------------------------------------


def _even(n: int) -> int:
    return n + (n % 2)


class VideoWriter:
    """Write BGR frames of one size at ``fps`` to an mp4; use as a context manager.

    yuv420p needs even sizes, so odd frames are padded by one black row/column. ``crf`` and
    ``preset`` tune the H.264 encoders (``preset=None`` keeps the encoder's own). ``codec`` is
    the codec actually used (known after the first frame). The file appears under its name only
    when the ``with`` block ends without an error.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        codecs: tuple[str, ...] = PYAV_CODECS,
        allow_cv2: bool = True,
        *,
        crf: int = DEFAULT_CRF,
        preset: str | None = DEFAULT_PRESET,
    ):
        self.path = Path(path)
        # A rate from a file's metadata can be 0, NaN or infinite: fall back rather than encode
        # (or loop) at an impossible rate. Rates given by a user are checked where they are given.
        usable = fps is not None and math.isfinite(float(fps)) and 0 < float(fps) <= MAX_FPS
        self.fps = float(fps) if usable else DEFAULT_FPS
        self.codecs = codecs
        self.allow_cv2 = allow_cv2
        self.crf = int(crf)
        self.preset = preset
        self.codec: str | None = None
        self.frames_written = 0
        self._stack = contextlib.ExitStack()
        self._tmp: Path | None = None
        self._container = None
        self._stream = None
        self._cv2_writer = None
        self._size: tuple[int, int] | None = None  # (width, height) of the input frames

    def __enter__(self) -> VideoWriter:
        self._tmp = self._stack.enter_context(atomic_path(self.path))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self._finish()
            else:
                self._abort()
        finally:
            self._stack.__exit__(exc_type, exc, tb)

    # --- encoders ------------------------------------------------------------------------
    def _h264_options(self) -> dict[str, str]:
        options = {"crf": str(self.crf)}
        if self.preset is not None:
            options["preset"] = self.preset
        return options

    def _open_pyav(self, codec: str, first: np.ndarray) -> bool:
        import av

        container = None
        try:
            container = av.open(str(self._tmp), "w", format="mp4")
            stream = container.add_stream(codec, rate=Fraction(self.fps).limit_denominator(1001))
            stream.width, stream.height = _even(first.shape[1]), _even(first.shape[0])
            stream.pix_fmt = "yuv420p"
            if codec in ("libx264", "h264"):
                stream.options = self._h264_options()
            self._container, self._stream, self.codec = container, stream, codec
            self._encode_pyav(first)
            return True
        except Exception:
            if container is not None:
                with contextlib.suppress(Exception):
                    container.close()
            self._container = self._stream = self.codec = None
            return False

    def _encode_pyav(self, image: np.ndarray) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def _open_cv2(self, first: np.ndarray) -> bool:
        import cv2

        size = (_even(first.shape[1]), _even(first.shape[0]))
        writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, size)
        if not writer.isOpened():
            return False
        self._cv2_writer, self.codec = writer, "cv2-mp4v"
        writer.write(first)
        return True

    # --- public ----------------------------------------------------------------------------
    def write(self, image_bgr: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 BGR frame; every frame must have the first one's size."""
        if self._tmp is None:
            raise RuntimeError("use VideoWriter as a context manager")
        image = np.asarray(image_bgr)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"{self.path}: video frames must be (H, W, 3) uint8 BGR, got {image.shape} {image.dtype}")
        if self._size is None:
            self._size = (image.shape[1], image.shape[0])
        elif self._size != (image.shape[1], image.shape[0]):
            raise ValueError(f"{self.path}: frame size {image.shape[1]}x{image.shape[0]} differs from {self._size}")
        h, w = image.shape[:2]
        if (w % 2) or (h % 2):
            image = np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)))
        if self.codec is None:
            opened = any(self._open_pyav(codec, image) for codec in self.codecs)
            if not opened and self.allow_cv2:
                opened = self._open_cv2(image)
            if not opened:
                raise OutputError(
                    f"{self.path}: no video encoder could be opened (tried {', '.join(self.codecs)}, mp4v)"
                )
        elif self._cv2_writer is not None:
            self._cv2_writer.write(image)
        else:
            self._encode_pyav(image)
        self.frames_written += 1

    def _finish(self) -> None:
        if self._container is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
        elif self._cv2_writer is not None:
            self._cv2_writer.release()
        else:
            raise OutputError(f"{self.path}: no frames to write")

    def _abort(self) -> None:
        with contextlib.suppress(Exception):
            if self._container is not None:
                self._container.close()
            if self._cv2_writer is not None:
                self._cv2_writer.release()


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float = DEFAULT_FPS,
    *,
    crf: int = 18,
    preset: str | None = None,
) -> Path:
    """Encode BGR uint8 frames (any iterable, consumed once) to an mp4 with ``VideoWriter``.

    The defaults (CRF 18, the encoder's own preset) favour fidelity over size: this is how the
    synthetic videos the predictor is tested on are made. Returns the path.
    """
    path = Path(path)
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise ValueError(f"{path}: no frames to write")
    with VideoWriter(path, fps, crf=crf, preset=preset) as writer:
        for image in itertools.chain([first], it):
            writer.write(image)
    return path
