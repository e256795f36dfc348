"""Hostile numbers and paths on the command line: NaN, infinities, out-of-range and absurd sizes,
outputs that are folders or sit under files. Every case must be refused before any work."""

from __future__ import annotations

from pathlib import Path

from tests.hostile.builders import box_file, frames_folder
from tests.hostile.harness import Case


def _predict(name: str, *extra: str, names: tuple[str, ...]) -> Case:
    def build(folder: Path) -> list[str]:
        frames = frames_folder(folder)
        boxes = box_file(folder)
        return ["predict", str(frames), "--detector", f"boxes:{boxes}", "--out", str(folder / "out"), *extra]

    return Case("cli-numbers", f"predict-{name}", build, names=lambda f: list(names), outputs=lambda f: [f / "out"])


def _cmd(command: str, name: str, argv, names: tuple[str, ...], outputs=lambda f: []) -> Case:
    return Case(
        "cli-numbers",
        f"{command}-{name}",
        lambda folder: [command, *argv(folder)],
        names=lambda f: list(names),
        outputs=outputs,
    )


def _demo(name: str, *extra: str, names: tuple[str, ...]) -> Case:
    return _cmd(
        "demo", name, lambda f: ["--out", str(f / "demo"), "--no-progress", *extra], names, lambda f: [f / "demo"]
    )


def _synth(name: str, *extra: str, names: tuple[str, ...]) -> Case:
    return _cmd("synth", name, lambda f: [str(f / "synth"), *extra], names, lambda f: [f / "synth"])


def _export(name: str, *extra: str, names: tuple[str, ...]) -> Case:
    return _cmd(
        "export",
        name,
        lambda f: ["--preset", "tiny", "--out", str(f / "m.onnx"), *extra],
        names,
        lambda f: [f / "m.onnx"],
    )


def _test(name: str, *extra: str, names: tuple[str, ...]) -> Case:
    return _cmd(
        "test",
        name,
        lambda f: ["synthetic_tiny", "--weights", str(f / "w"), "--out", str(f / "t"), *extra],
        names,
        lambda f: [f / "t"],
    )


CASES: list[Case] = [
    _predict("det-thr-nan", "--det-thr", "nan", names=("--det-thr",)),
    _predict("det-thr-negative", "--det-thr", "-0.5", names=("--det-thr",)),
    _predict("det-thr-above-one", "--det-thr", "2", names=("--det-thr",)),
    _predict("kpt-thr-nan", "--kpt-thr", "nan", names=("--kpt-thr",)),
    _predict("kpt-thr-inf", "--kpt-thr", "inf", names=("--kpt-thr",)),
    _predict("fps-inf", "--fps", "inf", names=("--fps",)),
    _predict("fps-zero", "--fps", "0", names=("--fps",)),
    _predict("fps-negative", "--fps", "-25", names=("--fps",)),
    _predict("fps-nan", "--fps", "nan", names=("--fps",)),
    _predict("batch-size-zero", "--batch-size", "0", names=("--batch-size",)),
    _predict("batch-size-beyond-maxsize", "--batch-size", str(2**70), names=("--batch-size",)),
    _predict("batch-size-word", "--batch-size", "four", names=("--batch-size",)),
    _predict("detect-every-zero", "--detect-every", "0", names=("--detect-every",)),
    _predict("frames-per-side-negative", "--frames-per-side", "-1", names=("--frames-per-side",)),
    _predict("frames-per-side-huge", "--frames-per-side", "100000", names=("--frames-per-side",)),
    _predict("device-unknown", "--device", "tpu", names=("--device",)),
    _predict("weights-empty", "--weights", "", names=("weights",)),
    _demo("frames-zero", "--frames", "0", names=("--frames",)),
    _demo("frames-huge", "--frames", "1000000", names=("--frames",)),
    _demo("height-huge", "--height", "100000", names=("--height",)),
    _demo("width-odd", "--width", "301", names=("--width",)),
    _demo("seed-negative", "--seed", "-1", names=("--seed",)),
    _demo(
        "clip-too-large-for-memory",
        "--frames",
        "10000",
        "--height",
        "4096",
        "--width",
        "4096",
        names=("--frames", "GiB"),
    ),
    _demo("detector-unknown", "--detector", "yolo", names=("--detector",)),
    _synth("videos-zero", "--videos", "0", names=("--videos",)),
    _synth("videos-huge", "--videos", "1000000000", names=("--videos",)),
    _synth("frames-zero", "--frames", "0", names=("--frames",)),
    _synth("height-huge", "--height", "1000000", names=("--height",)),
    _synth("width-tiny", "--width", "8", names=("--width",)),
    _synth("workers-zero", "--workers", "0", names=("--workers",)),
    _synth("workers-huge", "--workers", "100000", names=("--workers",)),
    _synth("val-videos-negative", "--val-videos", "-3", names=("--val-videos",)),
    _synth(
        "dataset-larger-than-the-disk",
        "--videos",
        "90000",
        "--frames",
        "5000",
        "--height",
        "4096",
        "--width",
        "4096",
        names=("GiB", "free"),
    ),
    _export("batch-size-zero", "--batch-size", "0", names=("--batch-size",)),
    _export("batch-size-huge", "--batch-size", "1000000000", names=("--batch-size",)),
    _export("opset-ancient", "--opset", "1", names=("opset",)),
    _export("opset-future", "--opset", "999", names=("opset",)),
    _test("batch-size-zero", "--batch-size", "0", names=("--batch-size",)),
    _test("workers-negative", "--workers", "-1", names=("--workers",)),
    _test("max-samples-zero", "--max-samples", "0", names=("--max-samples",)),
    _test("box-threshold-nan", "--box-threshold", "nan", names=("--box-threshold",)),
]


# --- outputs of the other commands ---------------------------------------------------------------


def _a_file(folder: Path, name: str = "taken") -> Path:
    path = folder / name
    path.write_text("a file")
    return path


def _out_case(command: str, name: str, argv, names, outputs=lambda f: []) -> Case:
    return Case(
        "cli-outputs", f"{command}-{name}", lambda f: [command, *argv(f)], names=lambda f: list(names), outputs=outputs
    )


CASES += [
    _out_case(
        "demo",
        "empty-weights-leaves-no-folder",
        lambda f: ["--out", str(f / "demo"), "--weights", "", "--no-progress"],
        ("weights",),
        outputs=lambda f: [f / "demo"],
    ),
    _out_case(
        "train",
        "missing-data-leaves-no-folder",
        lambda f: ["synthetic_tiny", "--output", str(f / "run"), "--set", f"data.root={f / 'nowhere'}"],
        ("nowhere",),
        outputs=lambda f: [f / "run"],
    ),
    _out_case(
        "train",
        "missing-init-weights-leaves-no-folder",
        lambda f: ["synthetic_tiny", "--output", str(f / "run"), "--set", f"train.init_weights={f / 'w.pt'}"],
        ("w.pt",),
        outputs=lambda f: [f / "run"],
    ),
    _out_case(
        "export",
        "opset-beyond-the-exporter",
        lambda f: ["--preset", "tiny", "--out", str(f / "m.onnx"), "--opset", "21"],
        ("opset 21",),
        outputs=lambda f: [f / "m.onnx"],
    ),
    _out_case(
        "predict",
        "out-is-a-file",
        lambda f: [str(frames_folder(f)), "--detector", f"boxes:{box_file(f)}", "--out", str(_a_file(f))],
        ("taken",),
    ),
    _out_case(
        "predict",
        "out-under-a-file",
        lambda f: [str(frames_folder(f)), "--detector", f"boxes:{box_file(f)}", "--out", str(_a_file(f) / "sub")],
        ("taken",),
    ),
    _out_case("demo", "out-is-a-file", lambda f: ["--out", str(_a_file(f)), "--no-progress"], ("taken",)),
    _out_case("export", "out-is-a-folder", lambda f: ["--preset", "tiny", "--out", str(f)], ("--out",)),
    _out_case(
        "export", "out-under-a-file", lambda f: ["--preset", "tiny", "--out", str(_a_file(f) / "m.onnx")], ("taken",)
    ),
    _out_case("synth", "out-is-a-file", lambda f: [str(_a_file(f)), "--videos", "1", "--frames", "2"], ("taken",)),
    _out_case(
        "synth",
        "contact-sheet-under-a-file",
        lambda f: [str(f / "ds"), "--videos", "1", "--frames", "2", "--contact-sheet", str(_a_file(f) / "s.png")],
        ("--contact-sheet", "taken"),
        outputs=lambda f: [f / "ds"],
    ),
    _out_case(
        "synth",
        "contact-sheet-is-a-folder",
        lambda f: [str(f / "ds"), "--videos", "1", "--frames", "2", "--contact-sheet", str(f)],
        ("--contact-sheet",),
        outputs=lambda f: [f / "ds"],
    ),
    _out_case(
        "train",
        "output-is-a-file",
        lambda f: ["synthetic_tiny", "--output", str(_a_file(f)), "--set", "train.epochs=1"],
        ("taken",),
    ),
]
