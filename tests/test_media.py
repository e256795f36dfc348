"""The one image reader and the one video encoder (``pstpose.media``): colour order, odd inputs,
errors that name the file, codec fallbacks and atomic output."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pstpose.data.frames import FrameCache, FrameFileError
from pstpose.data.synthetic import render_sequence
from pstpose.inference.sources import SourceError, open_source
from pstpose.media import ImageFileError, VideoWriter, read_image, write_video

# --- images -------------------------------------------------------------------------------------


def _write_rgb(path, rgb):
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def test_read_image_returns_the_colour_order_asked_for(tmp_path):
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0] = 200  # red
    rgb[1, 2] = (10, 20, 30)
    _write_rgb(tmp_path / "a.png", rgb)
    out = read_image(tmp_path / "a.png", "rgb")
    assert out.dtype == np.uint8 and out.shape == (4, 6, 3)
    np.testing.assert_array_equal(out, rgb)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png", "bgr"), rgb[..., ::-1])
    with pytest.raises(ValueError, match=r"colour order must be one of \['bgr', 'rgb'\], got 'RGB'"):
        read_image(tmp_path / "a.png", "RGB")


def test_grey_alpha_and_16_bit_images_become_three_channel_uint8(tmp_path):
    cv2.imwrite(str(tmp_path / "g.png"), np.full((3, 5), 77, np.uint8))
    grey = read_image(tmp_path / "g.png", "rgb")
    assert grey.shape == (3, 5, 3) and (grey == 77).all()
    bgra = np.zeros((2, 2, 4), np.uint8)
    bgra[..., 0], bgra[..., 3] = 255, 10  # blue, nearly transparent: the alpha is dropped
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png", "rgb")[0, 0], (0, 0, 255))
    deep = np.array([[0, 1000], [2000, 4000]], np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), deep)
    out = read_image(tmp_path / "d.png", "bgr")
    assert out.dtype == np.uint8 and out[1, 1, 0] == 255 and out[0, 1, 0] == 64  # scaled by the maximum


def test_missing_and_corrupt_images_name_the_file(tmp_path):
    with pytest.raises(ImageFileError, match=r"nope\.jpg: no such image file"):
        read_image(tmp_path / "nope.jpg", "rgb")
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ImageFileError, match=r"bad\.jpg: not a readable image"):
        read_image(tmp_path / "bad.jpg", "bgr")


def test_training_frames_and_inference_sources_decode_the_same_pixels(tmp_path):
    """The data pipeline (RGB) and the frame sources (BGR) read a frame through one reader."""
    rgb = np.random.default_rng(0).integers(0, 255, (8, 10, 3), dtype=np.uint8)
    _write_rgb(tmp_path / "000000.jpg", rgb)
    trained_on = FrameCache(capacity=1).get(tmp_path / "000000.jpg")
    (predicted_on,) = [f.image for f in open_source(tmp_path)]
    np.testing.assert_array_equal(trained_on, predicted_on[..., ::-1])
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "000000.jpg").write_bytes(b"")
    with pytest.raises(FrameFileError, match=r"000000\.jpg: not a readable image"):
        FrameCache(capacity=1).get(tmp_path / "bad" / "000000.jpg")
    with pytest.raises(SourceError, match=r"000000\.jpg: not a readable image"):
        open_source(tmp_path / "bad")


# --- video --------------------------------------------------------------------------------------


def _frames(n, w, h):
    return [np.full((h, w, 3), (30 * i) % 255, np.uint8) for i in range(n)]


def _decode(path):
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream, [f.to_ndarray(format="bgr24") for f in container.decode(stream)]


@pytest.mark.parametrize(
    "codecs,expected",
    [(("libx264", "h264", "mpeg4"), "libx264"), (("no-such-codec", "mpeg4"), "mpeg4"), ((), "cv2-mp4v")],
)
def test_video_writer_codecs_and_fallbacks(tmp_path, codecs, expected):
    path = tmp_path / "o.mp4"
    with VideoWriter(path, fps=10, codecs=codecs) as writer:
        for f in _frames(6, 64, 48):
            writer.write(f)
    assert writer.codec == expected
    assert len(_decode(path)[1]) == 6
    assert [p.name for p in tmp_path.iterdir()] == ["o.mp4"]


def test_video_writer_odd_size_and_fps(tmp_path):
    path = tmp_path / "odd.mp4"
    with VideoWriter(path, fps=12.5) as writer:
        for f in _frames(5, 65, 47):
            writer.write(f)
    stream, frames = _decode(path)
    assert float(stream.average_rate) == pytest.approx(12.5)
    assert len(frames) == 5 and frames[0].shape == (48, 66, 3)


def test_video_writer_no_partial_file(tmp_path):
    path = tmp_path / "o.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(path, fps=10) as writer:
            writer.write(_frames(1, 64, 48)[0])
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="differs"):
        with VideoWriter(path, fps=10) as writer:
            writer.write(_frames(1, 64, 48)[0])
            writer.write(_frames(1, 32, 48)[0])
    assert list(tmp_path.iterdir()) == []


def test_write_video_roundtrip(tmp_path):
    seq = render_sequence(seed=4, frames=6, height=96, width=128)
    path = write_video(tmp_path / "clip.mp4", iter(seq.frames), fps=seq.fps)
    stream, decoded = _decode(path)
    assert stream.codec_context.name == "h264" and float(stream.average_rate) == pytest.approx(seq.fps)
    assert len(decoded) == 6 and decoded[0].shape == (96, 128, 3)
    assert np.abs(decoded[3].astype(int) - seq.frames[3]).mean() < 12
    odd = write_video(tmp_path / "odd.mp4", [np.zeros((5, 7, 3), np.uint8)])  # padded like any video
    assert _decode(odd)[1][0].shape == (6, 8, 3)
    with pytest.raises(ValueError, match="none.mp4: no frames to write"):
        write_video(tmp_path / "none.mp4", [])
    assert not (tmp_path / "none.mp4").exists()


@pytest.mark.parametrize("fps", [float("inf"), float("nan"), 0.0, -5.0, 1e9])
def test_video_writer_falls_back_from_impossible_rates(tmp_path, fps):
    """A rate read from a hostile file's metadata must neither spin nor encode: the default is used."""
    from pstpose.media import DEFAULT_FPS

    path = tmp_path / "v.mp4"
    with VideoWriter(path, fps=fps) as writer:
        for i in range(3):
            writer.write(np.full((64, 64, 3), 60 * i, dtype=np.uint8))
    assert writer.fps == DEFAULT_FPS
    assert open_source(path).fps == pytest.approx(DEFAULT_FPS, rel=0.01)
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]  # no temporary file left


def test_image_beyond_the_pixel_limit_is_refused_by_name(tmp_path):
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path = tmp_path / "huge.png"
    header = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\x00" * 16))  # a few bytes of data behind a 3.6-gigapixel header
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + idat + chunk(b"IEND", b""))
    with pytest.raises(
        ImageFileError, match=r"huge\.png: image is larger than the reader's limit of 1073741824 pixels"
    ):
        read_image(path, "rgb")
