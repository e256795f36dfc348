"""Overlay video output: H.264 through PyAV, falling back to MPEG-4 part 2, then OpenCV's mp4v.

The file is written under a temporary name beside the target and renamed when closed without
error (``pstpose.io.atomic_path``), so an interrupted run leaves no partial video.
"""

from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path

import numpy as np

from pstpose.io import OutputError, atomic_path

PYAV_CODECS = ("libx264", "h264", "mpeg4")


def _even(n: int) -> int:
    return n + (n % 2)


class VideoWriter:
    """Write BGR frames of one size at ``fps``; use as a context manager.

    yuv420p needs even sizes, so odd frames are padded by one black row/column. ``codec`` is
    the codec actually used (known after the first frame).
    """

    def __init__(self, path: str | Path, fps: float, codecs: tuple[str, ...] = PYAV_CODECS, allow_cv2: bool = True):
        self.path = Path(path)
        self.fps = float(fps) if fps and fps > 0 else 25.0
        self.codecs = codecs
        self.allow_cv2 = allow_cv2
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

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._finish()
            else:
                self._abort()
        finally:
            self._stack.__exit__(exc_type, exc, tb)

    # --- encoders ------------------------------------------------------------------------
    def _open_pyav(self, codec: str, first: np.ndarray) -> bool:
        import av

        container = None
        try:
            container = av.open(str(self._tmp), "w", format="mp4")
            stream = container.add_stream(codec, rate=Fraction(self.fps).limit_denominator(1001))
            stream.width, stream.height = _even(first.shape[1]), _even(first.shape[0])
            stream.pix_fmt = "yuv420p"
            if codec in ("libx264", "h264"):
                stream.options = {"crf": "23", "preset": "veryfast"}
            self._container, self._stream, self.codec = container, stream, codec
            self._encode_pyav(first)
            return True
        except Exception:  # noqa: BLE001 - an encoder that cannot open here: try the next one
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
        if self._tmp is None:
            raise RuntimeError("use VideoWriter as a context manager")
        image = np.asarray(image_bgr)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"video frames must be (H, W, 3) uint8 BGR, got {image.shape} {image.dtype}")
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
                raise OutputError(f"{self.path}: no video encoder could be opened (tried {', '.join(self.codecs)}, mp4v)")
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
