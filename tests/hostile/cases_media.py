"""Hostile media and box files for ``pstpose predict``: files that are not what their names say,
images with absurd headers, folders with traps, and detection files broken one field at a time."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np

from tests.hostile.builders import box_file, frames_folder, write_json
from tests.hostile.harness import Case


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` pixels, with almost no data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def _predict(folder: Path, source: Path | str, *extra: str) -> list[str]:
    boxes = box_file(folder)
    return [
        "predict",
        str(source),
        "--detector",
        f"boxes:{boxes}",
        "--out",
        str(folder / "out"),
        "--no-progress",
        *extra,
    ]


def _source_case(name: str, make, names, expect: str = "error", check=None) -> Case:
    return Case(
        "media",
        name,
        lambda folder: _predict(folder, make(folder)),
        expect=expect,
        names=lambda f: list(names),
        outputs=lambda f: [f / "out"] if expect == "error" else [],
        check=check,
    )


def _file(name: str, data: bytes):
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return make


def _truncated_video(folder: Path) -> Path:
    from pstpose.media import write_video

    frames = [np.full((96, 128, 3), 40 * i, dtype=np.uint8) for i in range(6)]
    path = folder / "clip.mp4"
    write_video(path, frames, fps=25)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


def _folder_with(folder: Path, name: str, make_trap) -> Path:
    frames = frames_folder(folder)
    make_trap(frames / name)
    return frames


def _image(folder: Path, name: str, image: np.ndarray) -> Path:
    path = folder / name
    cv2.imwrite(str(path), image)
    return path


def _json_written(folder: Path, stdout: str) -> None:
    files = list((folder / "out").rglob("*.json"))
    assert files, "no JSON written"
    for path in files:
        json.loads(path.read_text())


CASES: list[Case] = [
    _source_case("empty-mp4", _file("clip.mp4", b""), ("clip.mp4",)),
    _source_case("text-named-mp4", _file("clip.mp4", b"this is not a video\n" * 50), ("clip.mp4",)),
    _source_case("truncated-mp4", _truncated_video, ("clip.mp4",)),
    _source_case("png-header-100000-square", lambda f: _png_header_only(f / "big.png", 100_000, 100_000), ("big.png",)),
    _source_case("png-header-zero-width", lambda f: _png_header_only(f / "zero.png", 0, 64), ("zero.png",)),
    _source_case("empty-jpg", _file("photo.jpg", b""), ("photo.jpg",)),
    _source_case("gif-named-jpg", _file("photo.jpg", b"GIF89a" + b"\x00" * 64), ("photo.jpg",)),
    _source_case("missing-source", lambda f: f / "nowhere.mp4", ("nowhere.mp4",)),
    _source_case("glob-matches-nothing", lambda f: str(f / "*.nothing"), ("*.nothing",)),
    _source_case("name-too-long", lambda f: f / ("v" * 300 + ".mp4"), ("v" * 40,)),
    _source_case("empty-folder", lambda f: (f / "frames").mkdir() or f / "frames", ("frames",)),
    _source_case("folder-named-mp4", lambda f: (f / "clip.mp4").mkdir() or f / "clip.mp4", ("clip.mp4",)),
    _source_case("fifo-named-mp4", lambda f: os.mkfifo(f / "clip.mp4") or f / "clip.mp4", ("clip.mp4",)),
    _source_case(
        "dev-zero-named-mp4", lambda f: (f / "clip.mp4").symlink_to("/dev/zero") or f / "clip.mp4", ("clip.mp4",)
    ),
    _source_case("folder-with-fifo-frame", lambda f: _folder_with(f, "000009.jpg", os.mkfifo), ("000009.jpg",)),
    _source_case(
        "folder-with-empty-frame",
        lambda f: _folder_with(f, "000001.jpg", lambda p: p.write_bytes(b"")),
        ("000001.jpg",),
    ),
    _source_case(
        "folder-with-text-frame",
        lambda f: _folder_with(f, "000002.jpg", lambda p: p.write_text("not an image")),
        ("000002.jpg",),
    ),
    _source_case(
        "grayscale-png",
        lambda f: _image(f, "gray.png", np.full((96, 128), 120, dtype=np.uint8)),
        (),
        expect="ok",
        check=_json_written,
    ),
    _source_case(
        "sixteen-bit-png",
        lambda f: _image(f, "deep.png", np.full((96, 128, 3), 40000, dtype=np.uint16)),
        (),
        expect="ok",
        check=_json_written,
    ),
    _source_case(
        "rgba-png",
        lambda f: _image(f, "alpha.png", np.full((96, 128, 4), 200, dtype=np.uint8)),
        (),
        expect="ok",
        check=_json_written,
    ),
    _source_case(
        "one-pixel-image",
        lambda f: _image(f, "dot.png", np.zeros((1, 1, 3), dtype=np.uint8)),
        (),
        expect="ok",
        check=_json_written,
    ),
]


# --- detection (box) files -------------------------------------------------------------------------


def _boxes_case(name: str, content, names=("boxes.json",), filename: str = "boxes.json", expect="error") -> Case:
    def build(folder: Path) -> list[str]:
        frames = frames_folder(folder)
        path = folder / filename
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            write_json(path, content)
        return [
            "predict",
            str(frames),
            "--detector",
            f"boxes:{path}",
            "--out",
            str(folder / "out"),
            "--no-progress",
        ]

    return Case("box-files", name, build, expect=expect, names=lambda f: list(names), outputs=lambda f: [f / "out"])


def _det(**fields) -> list[dict]:
    base = {"image_id": 0, "category_id": 1, "bbox": [20, 10, 60, 80], "score": 0.9}
    base.update(fields)
    return [base]


CASES += [
    _boxes_case("not-json", b"[{image_id: 0"),
    _boxes_case("empty-file", b""),
    _boxes_case("top-level-object", {"detections": []}),
    _boxes_case("entry-not-object", [1, 2, 3]),
    _boxes_case("bbox-strings", _det(bbox=["20", "10", "60", "80"]), ("boxes.json", "bbox")),
    _boxes_case("bbox-short", _det(bbox=[20, 10, 60]), ("boxes.json", "bbox")),
    _boxes_case("bbox-bool", _det(bbox=[True, 10, 60, 80]), ("boxes.json", "bbox")),
    _boxes_case("bbox-negative-width", _det(bbox=[20, 10, -60, 80]), ("boxes.json", "bbox")),
    _boxes_case(
        "bbox-nan",
        b'[{"image_id": 0, "category_id": 1, "bbox": [NaN, 10, 60, 80], "score": 0.9}]',
        ("boxes.json", "bbox"),
    ),
    _boxes_case("score-string", _det(score="high"), ("boxes.json", "score")),
    _boxes_case(
        "score-nan",
        b'[{"image_id": 0, "category_id": 1, "bbox": [20, 10, 60, 80], "score": NaN}]',
        ("boxes.json", "score"),
    ),
    _boxes_case("image-id-list", _det(image_id=[0]), ("boxes.json", "image_id")),
    _boxes_case("image-id-float", _det(image_id=0.5), ("boxes.json", "image_id")),
    _boxes_case("deeply-nested", ("[" * 100_000 + "]" * 100_000).encode()),
    _boxes_case("is-a-folder", lambda p: p.mkdir()),
    _boxes_case("is-a-fifo", lambda p: os.mkfifo(p)),
    _boxes_case("mot-garbage", b"1,1,a,b,c,d,0.9\n", ("boxes.txt", "line 1"), filename="boxes.txt"),
    _boxes_case("mot-too-few-columns", b"1,1,20,10\n", ("boxes.txt", "line 1"), filename="boxes.txt"),
    _boxes_case("mot-nan", b"1,1,nan,10,60,80,0.9\n", ("boxes.txt", "line 1"), filename="boxes.txt"),
    _boxes_case("mot-negative-frame", b"-5,1,20,10,60,80,0.9\n", ("boxes.txt", "line 1"), filename="boxes.txt"),
]
