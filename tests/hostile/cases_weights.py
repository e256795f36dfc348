"""Hostile weights for ``pstpose predict --weights``: broken pretrained folders, tensors of other
dtypes or with NaN, trainer files that are not, and a pickle payload that must never run."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import torch

from tests.hostile.builders import box_file, frames_folder
from tests.hostile.harness import Case


def _default_folder() -> Path:
    from pstpose.weights import default_weights

    return default_weights()


def _copy_default(folder: Path) -> Path:
    target = folder / "weights"
    shutil.copytree(_default_folder(), target)
    return target


def _state(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def _save(path: Path, state: dict[str, torch.Tensor]) -> None:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, str(path / "model.safetensors"))


def _predict(folder: Path, weights: Path | str) -> list[str]:
    frames = frames_folder(folder)
    boxes = box_file(folder)
    return [
        "predict",
        str(frames),
        "--detector",
        f"boxes:{boxes}",
        "--weights",
        str(weights),
        "--out",
        str(folder / "out"),
        "--no-progress",
    ]


def _keypoints(out: Path) -> np.ndarray:
    files = sorted(out.rglob("*.json"))
    assert files, f"no JSON under {out}"
    values = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "keypoints" and isinstance(value, list):
                    values.append(np.asarray(value, dtype=float).ravel())
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in files:
        walk(json.loads(path.read_text()))
    assert values, "no keypoints in the JSON"
    return np.concatenate(values)


def _same_as_rounded(dtype: torch.dtype, tolerance_px: float = 1e-3):
    """The result equals that of the default weights rounded through ``dtype`` and kept in float32
    (an independent route to what loading a ``dtype`` checkpoint must give), on the same input."""

    def check(folder: Path, stdout: str) -> None:
        from pstpose.cli import main

        rounded = folder / "rounded"
        shutil.copytree(_default_folder(), rounded)
        _save(rounded, {k: v.to(dtype).float() if v.is_floating_point() else v for k, v in _state(rounded).items()})
        reference = folder / "reference"
        frames, boxes = folder / "frames", folder / "boxes.json"
        argv = ["predict", str(frames), "--detector", f"boxes:{boxes}", "--weights", str(rounded)]
        assert main([*argv, "--out", str(reference), "--no-progress"]) == 0
        got, want = _keypoints(folder / "out"), _keypoints(reference)
        assert got.shape == want.shape, (got.shape, want.shape)
        assert np.max(np.abs(got - want)) <= tolerance_px, f"max difference {np.max(np.abs(got - want))} px"

    return check


def _weights_case(name: str, make, names, expect: str = "error", check=None, outputs=None) -> Case:
    return Case(
        "weights",
        name,
        lambda folder: _predict(folder, make(folder)),
        expect=expect,
        names=lambda f: list(names),
        check=check,
        outputs=outputs or (lambda f: [f / "out"]),
    )


def _cast(dtype: torch.dtype):
    def make(folder: Path) -> Path:
        path = _copy_default(folder)
        _save(path, {k: v.to(dtype) if v.is_floating_point() else v for k, v in _state(path).items()})
        return path

    return make


def _edit_state(edit):
    def make(folder: Path) -> Path:
        path = _copy_default(folder)
        state = _state(path)
        edit(state)
        _save(path, state)
        return path

    return make


def _first_float_key(state: dict[str, torch.Tensor]) -> str:
    return next(k for k, v in sorted(state.items()) if v.is_floating_point() and v.numel() > 1)


def _nan(state):
    key = _first_float_key(state)
    state[key] = state[key].clone()
    state[key].view(-1)[0] = float("nan")


def _to_int(state):
    key = _first_float_key(state)
    state[key] = state[key].to(torch.int32)


def _drop_one(state):
    state.pop(_first_float_key(state))


def _extra(state):
    state["surprise.weight"] = torch.zeros(3)


def _wrong_shape(state):
    key = _first_float_key(state)
    state[key] = torch.zeros(7, 7)


def _edit_config(edit):
    def make(folder: Path) -> Path:
        path = _copy_default(folder)
        config = path / "config.json"
        text = edit(json.loads(config.read_text()))
        config.write_text(text if isinstance(text, str) else json.dumps(text))
        return path

    return make


def _set_model_key(key: str, value):
    def edit(data):
        data["model"]["backbone"][key] = value
        return data

    return edit


def _file(name: str, data: bytes):
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return make


class _Payload:
    """Unpickling this runs ``os.system``: the file must be refused without running it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _payload(container: str):
    """A payload in each container a user may pass: a trainer .pt, an mmpose .pth (beside real
    numpy arrays in an mmengine ``meta``, and as a tensor's value), a transformers folder's .bin."""

    def make(folder: Path) -> Path:
        marker = folder / "PAYLOAD_RAN"
        evil = _Payload(marker)
        if container == "pt":
            path, obj = folder / "evil.pt", {"model": evil, "config": {}}
        elif container == "pth":
            path, obj = folder / "evil.pth", {"model": evil, "config": {}}
        elif container == "pth-meta":
            meta = {"seed": np.int64(3), "sigmas": np.ones(17, np.float32), "hook": evil}
            path, obj = folder / "evil.pth", {"meta": meta, "state_dict": {"backbone.pos_embed": torch.zeros(1, 2, 4)}}
        elif container == "pth-tensor":
            path, obj = folder / "evil.pth", {"state_dict": {"backbone.blocks.0.norm1.weight": evil}}
        else:  # a transformers folder whose weights are a .bin
            (folder / "evil").mkdir()
            (folder / "evil" / "config.json").write_text('{"model_type": "vitpose"}')
            path, obj = folder / "evil", {"backbone.encoder.layer.0.mlp.fc1.weight": evil}
        target = path / "pytorch_model.bin" if path.is_dir() else path
        if container == "pt":
            torch.save(obj, target)
        else:
            with open(target, "wb") as fh:
                pickle.dump(obj, fh)
        return path

    return make


def _trainer_file(payload) -> callable:
    def make(folder: Path) -> Path:
        path = folder / "last.pt"
        torch.save(payload, path)
        return path

    return make


CASES: list[Case] = [
    _weights_case("float16", _cast(torch.float16), (), expect="ok", check=_same_as_rounded(torch.float16)),
    _weights_case("bfloat16", _cast(torch.bfloat16), (), expect="ok", check=_same_as_rounded(torch.bfloat16)),
    _weights_case("float64", _cast(torch.float64), (), expect="ok", check=_same_as_rounded(torch.float64)),
    _weights_case("nan-values", _edit_state(_nan), ("model.safetensors", "NaN")),
    _weights_case("int-tensor", _edit_state(_to_int), ("model.safetensors", "dtype")),
    _weights_case("missing-tensor", _edit_state(_drop_one), ("model.safetensors", "missing")),
    _weights_case("unexpected-tensor", _edit_state(_extra), ("model.safetensors", "surprise.weight")),
    _weights_case("wrong-shape", _edit_state(_wrong_shape), ("model.safetensors", "shape")),
    _weights_case("config-not-json", _edit_config(lambda d: "{oops"), ("config.json",)),
    _weights_case("config-list", _edit_config(lambda d: []), ("config.json",)),
    _weights_case(
        "config-width-string", _edit_config(_set_model_key("embed_dim", "big")), ("config.json", "embed_dim")
    ),
    _weights_case("config-depth-huge", _edit_config(_set_model_key("depth", 10**9)), ("config.json", "depth")),
    _weights_case(
        "config-heads-nan",
        _edit_config(lambda d: json.dumps(d).replace('"mlp_ratio": 4.0', '"mlp_ratio": NaN', 1)),
        ("config.json", "mlp_ratio"),
    ),
    _weights_case(
        "safetensors-truncated",
        lambda f: (
            lambda p: (p / "model.safetensors").write_bytes((p / "model.safetensors").read_bytes()[:1000]) and p
        )(_copy_default(f)),
        ("model.safetensors",),
    ),
    _weights_case("safetensors-garbage", _file("w.safetensors", b"\x00" * 64), ("w.safetensors",)),
    _weights_case("text-named-safetensors", _file("w.safetensors", b"hello\n"), ("w.safetensors",)),
    _weights_case("missing", lambda f: f / "nowhere", ("nowhere",)),
    _weights_case("empty-folder", lambda f: (f / "empty").mkdir() or f / "empty", ("empty",)),
    _weights_case("fifo", lambda f: os.mkfifo(f / "w.safetensors") or f / "w.safetensors", ("w.safetensors",)),
    _weights_case("random-bytes-pt", _file("last.pt", os.urandom(256)), ("last.pt",)),
    _weights_case("text-named-pt", _file("best.pt", b"not a checkpoint"), ("best.pt",)),
    _weights_case(
        "trainer-model-not-mapping",
        _trainer_file(
            {"format": "pstpose-training-state", "version": 1, "model": [1, 2], "config": {"model": {"preset": "tiny"}}}
        ),
        ("last.pt",),
    ),
    _weights_case("trainer-no-model", _trainer_file({"format": "pstpose-training-state", "version": 1}), ("last.pt",)),
    _weights_case("trainer-untagged-dict", _trainer_file({"weights": torch.zeros(2)}), ("last.pt",)),
]

# A pickle payload: refused with a one-line message, and the payload never runs.
for _container in ("pt", "pth", "pth-meta", "pth-tensor", "bin-folder"):
    CASES.append(
        Case(
            "weights",
            f"pickle-payload-{_container}",
            (lambda c: lambda folder: _predict(folder, _payload(c)(folder)))(_container),
            names=lambda f, c=_container: ["evil"],
            outputs=lambda f: [f / "out", f / "PAYLOAD_RAN"],
        )
    )
