"""Frame sources and the clip ring buffer."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest

from pstpose.inference.sources import (
    ClipWindow,
    SourceError,
    SourceFrame,
    VideoSource,
    iter_clips,
    natural_key,
    open_source,
)


def _frames(n, h=48, w=64):
    """Frames whose pixel values encode their index (exact in PNG, recognisable in video)."""
    return [np.full((h, w, 3), 10 + 20 * i, dtype=np.uint8) for i in range(n)]


def _write_folder(folder, frames, names=None, ext=".png"):
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(frames):
        name = names[i] if names else f"{i:04d}{ext}"
        assert cv2.imwrite(str(folder / name), image)
    return folder


# --- folders, globs, images ----------------------------------------------------------------


def test_natural_sort_of_folder(tmp_path):
    names = ["f1.png", "f10.png", "f2.png", "f9.png"]
    frames = _frames(4)
    _write_folder(tmp_path / "seq", frames, names)
    (tmp_path / "seq" / "notes.txt").write_text("ignored")
    src = open_source(tmp_path / "seq", fps=12)
    assert src.num_frames == 4 and (src.width, src.height) == (64, 48) and src.fps == 12
    assert src.name == "seq"
    got = [(f.index, f.path.name, int(f.image[0, 0, 0])) for f in src]
    assert got == [(0, "f1.png", 10), (1, "f2.png", 50), (2, "f9.png", 70), (3, "f10.png", 30)]
    assert sorted(["a10", "a2", "a1"], key=natural_key) == ["a1", "a2", "a10"]


def test_glob_and_single_image(tmp_path):
    _write_folder(tmp_path / "seq", _frames(3))
    src = open_source(str(tmp_path / "seq" / "*.png"))
    assert [int(f.image[0, 0, 0]) for f in src] == [10, 30, 50]
    assert src.name == "seq"
    single = open_source(tmp_path / "seq" / "0001.png")
    frames = list(single)
    assert len(frames) == 1 and int(frames[0].image[0, 0, 0]) == 30
    assert single.fps == 25.0


def test_grayscale_image_becomes_bgr(tmp_path):
    cv2.imwrite(str(tmp_path / "g.png"), np.full((20, 30), 77, np.uint8))
    (frame,) = list(open_source(tmp_path / "g.png"))
    assert frame.image.shape == (20, 30, 3) and (frame.image == 77).all()


def test_empty_folder_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match=r"empty.*contains no files"):
        open_source(tmp_path / "empty")


def test_folder_without_images_names_what_it_found(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_text("x")
    with pytest.raises(SourceError, match=r"docs.*no image files.*readme.txt"):
        open_source(tmp_path / "docs")


def test_glob_matching_nothing(tmp_path):
    with pytest.raises(SourceError, match="matches no files"):
        open_source(str(tmp_path / "*.jpg"))


def test_missing_path(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        open_source(tmp_path / "nothing.mp4")


def test_frames_of_different_sizes(tmp_path):
    folder = _write_folder(tmp_path / "seq", _frames(2))
    cv2.imwrite(str(folder / "0002.png"), np.zeros((30, 30, 3), np.uint8))
    assert open_source(folder).independent  # several sizes: photos, unless told it is a video
    src = open_source(folder, mode="video")
    it = iter(src)
    next(it), next(it)
    with pytest.raises(SourceError, match=r"0002.png.*30x30.*64x48"):
        next(it)


def test_corrupt_image_file_named(tmp_path):
    folder = _write_folder(tmp_path / "seq", _frames(2))
    (folder / "0002.png").write_bytes(b"not a png at all")
    with pytest.raises(SourceError, match=r"0002.png: not a readable image"):
        list(open_source(folder))


def test_non_image_single_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(SourceError, match=r"notes.txt: not a readable video"):
        open_source(path)


# --- videos ---------------------------------------------------------------------------------


def test_video_decodes_all_frames_with_fps(tmp_path, synth):
    frames = _frames(7, 64, 96)
    path = synth.write_video(tmp_path / "v.mp4", frames, fps=12)
    src = open_source(path)
    assert isinstance(src, VideoSource) and src.backend == "av"
    assert (src.width, src.height) == (96, 64) and src.fps == pytest.approx(12)
    decoded = list(src)
    assert [f.index for f in decoded] == list(range(7))
    # lossy codec: mean intensity still identifies each frame
    assert [round((float(f.image.mean()) - 10) / 20) for f in decoded] == list(range(7))
    assert src.name == "v"


def test_video_cv2_backend_agrees(tmp_path, synth):
    path = synth.write_video(tmp_path / "v.mp4", _frames(5, 64, 96), fps=10)
    av_frames = [f.image for f in VideoSource(path, backend="av")]
    cv_src = VideoSource(path, backend="cv2")
    cv_frames = [f.image for f in cv_src]
    assert len(cv_frames) == len(av_frames) == 5
    assert cv_src.fps == pytest.approx(10)
    assert max(np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(av_frames, cv_frames)) < 3


def test_truncated_video_is_a_clear_error(tmp_path, synth):
    path = synth.write_video(tmp_path / "v.mp4", _frames(10, 64, 96))
    data = path.read_bytes()
    bad = tmp_path / "cut.mp4"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=r"cut.mp4"):
        list(open_source(bad))


def test_video_cut_mid_stream_is_a_clear_error(tmp_path):
    """With the index at the front (faststart) a cut file opens; the missing frames must be noticed."""
    import av

    rng = np.random.default_rng(0)
    path = tmp_path / "fs.mp4"
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for _ in range(20):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8), format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = path.read_bytes()
    cut = tmp_path / "fscut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    assert len(list(open_source(path))) == 20
    src = open_source(cut)
    with pytest.raises(SourceError, match=r"fscut.mp4: video is truncated: the container lists 20 frames"):
        list(src)


def test_garbage_video_is_a_clear_error(tmp_path):
    bad = tmp_path / "noise.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 255, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(SourceError, match=r"noise.mp4: not a readable video"):
        open_source(bad)


# --- ring buffer ------------------------------------------------------------------------------


def _source_frames(n):
    return (SourceFrame(i, np.full((2, 2, 3), i, np.uint8)) for i in range(n))


@pytest.mark.parametrize("n,xi", [(1, 1), (2, 2), (5, 1), (6, 2), (9, 3), (4, 0)])
def test_clips_replicate_edges(n, xi):
    clips = list(iter_clips(_source_frames(n), xi))
    assert [c.index for c in clips] == list(range(n))
    for c in clips:
        want = [min(max(c.index + d, 0), n - 1) for d in range(-xi, xi + 1)]
        assert [int(f[0, 0, 0]) for f in c.frames] == want
        assert int(c.key.image[0, 0, 0]) == c.index


def test_window_never_holds_more_than_clip_length():
    xi = 2
    window = ClipWindow(xi)
    emitted = []
    for frame in _source_frames(50):
        emitted += [c.index for c in window.push(frame)]
        assert len(window) <= 2 * xi + 1
    emitted += [c.index for c in window.finish()]
    assert emitted == list(range(50))


def test_window_rejects_out_of_order_frames():
    window = ClipWindow(1)
    window.push(SourceFrame(0, np.zeros((1, 1, 3), np.uint8)))
    with pytest.raises(ValueError, match="in order"):
        window.push(SourceFrame(2, np.zeros((1, 1, 3), np.uint8)))


_RSS_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from pstpose.inference.sources import SourceFrame, iter_clips
    n = int(sys.argv[1])
    def frames():
        for i in range(n):
            yield SourceFrame(i, np.full((480, 640, 3), i % 255, np.uint8))
    total = 0
    for clip in iter_clips(frames(), 2):
        total += int(clip.frames[2][0, 0, 0])
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """
)


def test_streaming_memory_is_flat_in_video_length(tmp_path):
    """Peak RSS for 300 frames of 640x480 stays within 20 MB of that for 30 frames (each frame
    is 0.9 MB, so holding all of them would add ~250 MB)."""
    script = tmp_path / "rss.py"
    script.write_text(_RSS_SCRIPT)

    def peak_kb(n):
        out = subprocess.run([sys.executable, str(script), str(n)], capture_output=True, text=True, check=True)
        return int(out.stdout.strip())

    short, long = peak_kb(30), peak_kb(300)
    assert long - short < 20_000, (short, long)
