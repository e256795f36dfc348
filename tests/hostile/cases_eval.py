"""Hostile inputs for ``pstpose eval``: PoseTrack17/18 files broken one field at a time, files that
are not files, and outputs that would overwrite inputs."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.hostile.builders import SEQ, eval_pair, mean_ap, pt17_gt, pt17_pred, pt18_gt, pt18_pred
from tests.hostile.harness import Case

FILE = f"{SEQ}.json"


def _argv(g: Path, p: Path, *extra: str) -> list[str]:
    return ["eval", "--gt", str(g), "--pred", str(p), *extra]


def _mutated(
    name: str,
    mutate: Callable[[Any], Any],
    *,
    target: str = "gt",
    fmt: str = "pt18",
    names: tuple[str, ...] = (),
    expect: str = "error",
    family: str = "eval-json",
    check=None,
) -> Case:
    """A case whose GT (or prediction) document is ``mutate(valid document)`` (in place or returned)."""

    def build(folder: Path) -> list[str]:
        gt = pt17_gt() if fmt == "pt17" else pt18_gt()
        pred = pt17_pred(gt) if fmt == "pt17" else pt18_pred(gt)
        doc = gt if target == "gt" else pred
        out = mutate(doc)
        doc = doc if out is None else out
        g, p = eval_pair(folder, gt=doc if target == "gt" else gt, pred=doc if target == "pred" else pred, fmt=fmt)
        return _argv(g, p)

    if check is None and expect == "ok":
        check = lambda folder, stdout: _assert_map(stdout, 100.0)  # noqa: E731
    return Case(family, f"{fmt}-{target}-{name}", build, expect=expect, names=lambda f: [FILE, *names], check=check)


def _assert_map(stdout: str, expected: float) -> None:
    got = mean_ap(stdout)
    assert abs(got - expected) < 1e-6, f"mAP {got}, expected {expected}"


def _set(path: str, value: Any) -> Callable[[Any], None]:
    """Set ``doc[a][0][b] = value`` for ``path`` = ``a.0.b``."""

    def mutate(doc: Any) -> None:
        parts = path.split(".")
        node = doc
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _delete(path: str) -> Callable[[Any], None]:
    def mutate(doc: Any) -> None:
        parts = path.split(".")
        node = doc
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[parts[-1]]

    return mutate


def _raw(data: bytes) -> Callable[[Any], bytes]:
    return lambda doc: data


def _keypoint(value: Any, index: int = 0) -> Callable[[Any], None]:
    def mutate(doc: Any) -> None:
        doc["annotations"][0]["keypoints"][index] = value

    return mutate


def _json_text_case(name: str, text: str, *, names: tuple[str, ...] = ()) -> Case:
    """A GT file whose text is given verbatim (for literals JSON encoders refuse to write)."""
    return _mutated(name, _raw(text.encode()), names=names)


VALID = json.dumps(pt18_gt())
DEEP = "[" * 200_000 + "]" * 200_000

CASES: list[Case] = [
    # --- not JSON, or JSON of the wrong shape
    _mutated("not-json", _raw(b"{this is not json")),
    _mutated("empty-file", _raw(b"")),
    _mutated("truncated", _raw(VALID[: len(VALID) // 2].encode())),
    _mutated("invalid-utf8", _raw(b'{"images": "\xfd\xfe"}'), names=("UTF-8",)),
    _mutated("utf16", _raw(VALID.encode("utf-16")), names=("UTF-8",)),
    _mutated("utf8-bom", _raw(b"\xef\xbb\xbf" + VALID.encode()), expect="ok"),
    _mutated("deeply-nested", _raw(DEEP.encode()), names=("nested",)),
    _mutated("deeply-nested-object", _raw(('{"a":' * 100_000 + "1" + "}" * 100_000).encode()), names=("nested",)),
    _mutated("top-level-list", lambda doc: []),
    _mutated("top-level-string", lambda doc: "annotations"),
    _mutated("top-level-null", _raw(b"null")),
    _mutated("top-level-number", lambda doc: 3),
    _mutated("neither-format", lambda doc: {"frames": []}),
    # --- PoseTrack18 GT fields
    _mutated("no-annotations-key", _delete("annotations"), names=("annotations",)),
    _mutated("annotations-object", _set("annotations", {}), names=("annotations",)),
    _mutated("annotations-string", _set("annotations", "none"), names=("annotations",)),
    _mutated("no-images-key", _delete("images"), names=("images",)),
    _mutated("images-object", _set("images", {"0": {}}), names=("images",)),
    _mutated("image-is-int", _set("images.0", 7), names=("images[0]",)),
    _mutated("image-id-list", _set("images.0.id", [1, 2]), names=("id",)),
    _mutated("image-id-string", _set("images.0.id", "abc"), names=("id",)),
    _mutated("image-id-float", _set("images.0.id", 1.5), names=("id",)),
    _mutated("image-id-bool", _set("images.0.id", True), names=("id",)),
    _mutated(
        "image-id-missing", lambda doc: [doc["images"][0].pop(k) for k in ("id", "frame_id")] and None, names=("id",)
    ),
    _mutated("image-id-from-frame-id", _delete("images.0.id"), expect="ok"),
    _mutated("image-id-duplicate", _set("images.1.id", 10_000_010_000), names=("id",)),
    _mutated("is-labeled-string-false", _set("images.0.is_labeled", "false"), names=("is_labeled",)),
    _mutated("is-labeled-two", _set("images.0.is_labeled", 2), names=("is_labeled",)),
    _mutated("is-labeled-list", _set("images.0.is_labeled", [True]), names=("is_labeled",)),
    _mutated("nframes-list", _set("images.0.nframes", [3]), names=("nframes",)),
    _mutated("nframes-string", _set("images.0.nframes", "abc"), names=("nframes",)),
    _mutated("file-name-int", _set("images.0.file_name", 5), names=("file_name",)),
    _mutated("file-name-missing", _delete("images.0.file_name"), names=("file_name",)),
    _mutated("ignore-x-not-list", _set("images.0.ignore_regions_x", 5), names=("ignore_regions_x",)),
    _mutated(
        "ignore-x-y-lengths",
        lambda doc: doc["images"][0].update(ignore_regions_x=[[1, 50, 50]], ignore_regions_y=[[1, 1]]),
        names=("ignore region",),
    ),
    _mutated(
        "ignore-string-coordinate",
        lambda doc: doc["images"][0].update(ignore_regions_x=[[1, "a", 50]], ignore_regions_y=[[1, 1, 50]]),
        names=("ignore_regions",),
    ),
    _mutated("annotation-is-list", _set("annotations.0", [1, 2]), names=("annotations[0]",)),
    _mutated("keypoints-object", _set("annotations.0.keypoints", {"nose": [1, 2]}), names=("keypoints",)),
    _mutated("keypoints-string", _set("annotations.0.keypoints", "1,2,3"), names=("keypoints",)),
    _mutated("keypoints-missing", _delete("annotations.0.keypoints"), names=("keypoints",)),
    _mutated("keypoints-null", _set("annotations.0.keypoints", None), names=("keypoints",)),
    _mutated("keypoint-string", _keypoint("12"), names=("keypoints",)),
    _mutated("keypoint-bool", _keypoint(True), names=("keypoints",)),
    _mutated("keypoint-nested", _keypoint([1.0, 2.0]), names=("keypoints",)),
    _mutated("keypoint-null", _keypoint(None), names=("keypoints",)),
    _mutated(
        "keypoints-length-50", lambda doc: doc["annotations"][0]["keypoints"].pop() and None, names=("keypoints",)
    ),
    _json_text_case(
        "keypoint-nan", VALID.replace('"keypoints": [60.0', '"keypoints": [NaN', 1), names=("annotations[0]",)
    ),
    _json_text_case(
        "keypoint-inf", VALID.replace('"keypoints": [60.0', '"keypoints": [1e400', 1), names=("annotations[0]",)
    ),
    _mutated("image-id-ref-list", _set("annotations.0.image_id", [10_000_010_000]), names=("image_id",)),
    _mutated("image-id-ref-unknown", _set("annotations.0.image_id", 5), names=("image_id",)),
    _mutated("track-id-list", _set("annotations.0.track_id", [0]), expect="ok"),  # AP ignores ids: a warning
    _mutated("track-id-string", _set("annotations.0.track_id", "zero"), expect="ok"),
    _mutated("head-box-string", _set("annotations.0.bbox_head", "0 0 30 30"), names=("bbox_head",)),
    _mutated("head-box-short", _set("annotations.0.bbox_head", [1, 2, 3]), names=("bbox_head",)),
    _mutated("head-box-bool", _set("annotations.0.bbox_head", [True, 0, 30, 30]), names=("bbox_head",)),
    _mutated("head-box-missing", _delete("annotations.0.bbox_head"), names=("bbox_head",)),
    # --- predictions
    _mutated("scores-strings", _set("annotations.0.scores", ["0.5"] * 17), target="pred", names=("scores",)),
    _mutated("scores-short", _set("annotations.0.scores", [0.5] * 3), target="pred", names=("scores",)),
    _mutated("scores-object", _set("annotations.0.scores", {"nose": 1}), target="pred", names=("scores",)),
    _mutated("keypoints-object", _set("annotations.0.keypoints", {}), target="pred", names=("keypoints",)),
    _mutated("keypoint-bool", _keypoint(False), target="pred", names=("keypoints",)),
    _mutated("no-annotations-key", _delete("annotations"), target="pred", names=("annotations",)),
    _mutated("top-level-list", lambda doc: [], target="pred"),
    _mutated(
        "no-scores",
        lambda doc: [a.pop("scores") for a in doc["annotations"]] and None,
        target="pred",
        expect="ok",
    ),
    # --- PoseTrack17 annolists
    _mutated("annolist-object", _set("annolist", {}), fmt="pt17", names=("annolist",)),
    _mutated("annolist-empty", _set("annolist", []), fmt="pt17", names=("annolist",)),
    _mutated("annorect-string", _set("annolist.0.annorect", "none"), fmt="pt17", names=("annorect",)),
    _mutated("point-x-string", _set("annolist.0.annorect.0.annopoints.0.point.0.x", ["12"]), fmt="pt17", names=("x",)),
    _mutated("point-x-nested", _set("annolist.0.annorect.0.annopoints.0.point.0.x", [[12]]), fmt="pt17", names=("x",)),
    _mutated("point-x-bool", _set("annolist.0.annorect.0.annopoints.0.point.0.x", [True]), fmt="pt17", names=("x",)),
    _mutated(
        "point-id-out-of-range", _set("annolist.0.annorect.0.annopoints.0.point.0.id", [99]), fmt="pt17", names=("id",)
    ),
    _mutated(
        "point-id-string", _set("annolist.0.annorect.0.annopoints.0.point.0.id", ["nose"]), fmt="pt17", names=("id",)
    ),
    _mutated("is-labeled-string", _set("annolist.0.is_labeled", ["false"]), fmt="pt17", names=("is_labeled",)),
    _mutated("image-missing", _delete("annolist.0.image"), fmt="pt17", names=("image",)),
    _mutated("head-rect-string", _set("annolist.0.annorect.0.x1", ["a"]), fmt="pt17", names=("x1",)),
    _mutated(
        "pred-score-string",
        _set("annolist.0.annorect.0.annopoints.0.point.0.score", ["hi"]),
        fmt="pt17",
        target="pred",
        names=("score",),
    ),
]


# --- paths that are not what they claim to be --------------------------------------------------


def _pred_replaced(name: str, make: Callable[[Path], None], names: tuple[str, ...] = (FILE,)) -> Case:
    def build(folder: Path) -> list[str]:
        g, p = eval_pair(folder)
        (p / FILE).unlink()
        make(p / FILE)
        return _argv(g, p)

    return Case("eval-paths", name, build, names=lambda f: list(names))


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dir(path: Path) -> None:
    path.mkdir()


def _dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _dangling(path: Path) -> None:
    path.symlink_to(path.parent / "nowhere.json")


def _gt_is(name: str, make: Callable[[Path], Path], names: Callable[[Path], list[str]]) -> Case:
    def build(folder: Path) -> list[str]:
        _, p = eval_pair(folder)
        return _argv(make(folder), p)

    return Case("eval-paths", name, build, names=names)


def _empty_dir(folder: Path) -> Path:
    (folder / "empty").mkdir()
    return folder / "empty"


def _single_files(folder: Path) -> list[str]:
    g, p = eval_pair(folder)
    return _argv(g / FILE, p / FILE)


CASES += [
    _pred_replaced("pred-file-is-fifo", _fifo),
    _pred_replaced("pred-file-is-directory", _dir),
    _pred_replaced("pred-file-is-dev-zero", _dev_zero),
    _pred_replaced("pred-file-dangling-symlink", _dangling),
    _gt_is("gt-missing", lambda f: f / "no_such_dir", lambda f: ["no_such_dir"]),
    _gt_is("gt-empty-dir", _empty_dir, lambda f: ["empty"]),
    _gt_is("gt-name-too-long", lambda f: f / ("x" * 300), lambda f: ["x" * 40]),
    _gt_is(
        "gt-only-other-files",
        lambda f: (f / "other").mkdir() or ((f / "other" / "a.txt").write_text("hi") and f / "other"),
        lambda f: ["other"],
    ),
    Case("eval-paths", "single-files", _single_files, expect="ok", check=lambda f, out: _assert_map(out, 100.0)),
]


# --- outputs ----------------------------------------------------------------------------------


def _out_case(name: str, extra: Callable[[Path, Path, Path], list[str]], names, outputs=lambda f: []) -> Case:
    def build(folder: Path) -> list[str]:
        g, p = eval_pair(folder)
        return _argv(g, p, *extra(folder, g, p))

    return Case("eval-outputs", name, build, names=names, outputs=outputs)


def _under_a_file(folder: Path) -> Path:
    (folder / "plain.txt").write_text("a file, not a folder")
    return folder / "plain.txt" / "tables.csv"


CASES += [
    _out_case("out-is-gt-file", lambda f, g, p: ["--out", str(g / FILE)], lambda f: ["--out", FILE]),
    _out_case("out-is-pred-file", lambda f, g, p: ["--out", str(p / FILE)], lambda f: ["--out", FILE]),
    _out_case("csv-is-gt-file", lambda f, g, p: ["--csv", str(g / FILE)], lambda f: ["--csv", FILE]),
    _out_case("out-is-gt-folder", lambda f, g, p: ["--out", str(g)], lambda f: ["--out"]),
    _out_case(
        "out-is-existing-folder",
        lambda f, g, p: (f / "res").mkdir() or ["--out", str(f / "res")],
        lambda f: ["--out", "res"],
    ),
    _out_case(
        "csv-under-a-file-with-out",
        lambda f, g, p: ["--out", str(f / "results.json"), "--csv", str(_under_a_file(f))],
        lambda f: ["--csv", "plain.txt"],
        outputs=lambda f: [f / "results.json"],
    ),
    _out_case(
        "markdown-same-as-out",
        lambda f, g, p: ["--out", str(f / "r.json"), "--markdown", str(f / "r.json")],
        lambda f: ["--markdown", "--out"],
        outputs=lambda f: [f / "r.json"],
    ),
]
