"""Every code block of README.md and docs/*.md runs, so that the commands, paths and sizes the
documentation shows stay true.

How a fenced block is treated depends on its language (the word after the opening fence):

* ``python``: executed. The blocks of one Markdown file run in order, in one namespace per file,
  with a temporary working directory per file as the current directory. Tracebacks name the
  Markdown file and line.
* ``bash``, ``sh``, ``shell``, ``console``: each command runs in that same directory, in order
  (lines ending in ``\\`` are joined, ``#`` comments dropped; in ``console`` blocks only the lines
  after a ``$`` prompt). ``pstpose ...`` runs through ``pstpose.cli.main`` and must return 0;
  ``python ...`` runs as a subprocess and must exit 0; any other program is an error unless a
  marker skips it. After a ``pstpose`` command with ``--out X``, X must exist, and so must every
  path under X that the line's comment names (``# out/walk.json + out/walk.overlay.mp4``).
* ``json``: must parse.
* ``text`` and any other language: output, trees, diagrams; not executed.
* no language at all: refused (``test_every_block_names_its_language``), so that nothing
  runnable escapes by accident.

Markers are HTML comments (invisible when rendered) on the lines just above a block (blank lines
may separate them from it); several may stack:

* ``<!-- docs-test: skip (reason) -->``: the block does not run (installs, downloads, GPUs,
  hours of training, schemas with placeholders). The reason is required and shown by pytest.
* ``<!-- docs-test: skip-line "TEXT" (reason) -->``: shell lines containing TEXT do not run.
* ``<!-- docs-test: args "TEXT" ARG ... -->``: shell lines containing TEXT get ARGs appended
  (later options override earlier ones), to shorten long commands.
* ``<!-- docs-test: replace "OLD" "NEW" -->``: OLD becomes NEW in the block before it runs
  (absolute paths such as ``/tmp/...`` or ``/data/...``, huge frame counts).
* ``<!-- docs-test: given NAME ... -->``: the snippet uses names it does not define (``model``,
  ``frames``, ...); the test supplies them (GIVEN below says what each one is).
* ``<!-- docs-test: expect EXPRESSION -->``: after the block, EXPRESSION is evaluated in its
  namespace and must be true (pins the sizes a snippet's comments state).
* ``<!-- docs-test: synopsis -->``: the block is a command synopsis (``[--opt A|B]``): every
  ``--option`` must be one ``pstpose <command>`` accepts, and listed alternatives must be among
  the option's choices when it has fixed choices.
* ``<!-- docs-test: signature MODULE -->``: the block lists API signatures (``Name(a, *, b=1)``,
  ``Name.method(...)``); each must match the object of that name in MODULE: parameter names,
  order, keyword-only parts and literal defaults.

Every skip-line, args and replace marker must match its block, so stale markers fail too.

The working directory of a file holds only the inputs its runnable blocks name (INPUTS below),
made once per test session from generated data: a short synthetic video (``my_video.mp4``,
``walk.mp4``), two photos of different sizes (``photos/``), a small synthetic PoseTrack18
dataset (``posetrack18/``, also ``data/posetrack18/`` where the shipped PoseTrack configs are
used) with predictions for its val split (``preds/``; ``gt/`` + ``pred/`` as the evaluation
page names them), the frames of its val video (``frames/``) with detections (``dets.json``),
model folders (``runs/pt18-b`` with a trainer ``best.pt``, ``runs/pstpose-b``: the shipped tiny
weights), a ViTPose-B checkpoint in the mmpose layout with random weights (``vitpose-b.pth``)
and the committed study file with its results (``studies/``).

One test case per block, named ``file:line`` of the opening fence. A case run on its own (``-k``)
first runs the earlier blocks of its file, whose results it may need. After a file's last block
its namespace is dropped, and its folder too when every block passed. The longest blocks
(SLOW_BLOCKS) are marked ``slow``; all of it takes about three minutes on two CPU cores.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]

SHELL_LANGUAGES = frozenset({"bash", "sh", "shell", "console"})
EXECUTED_LANGUAGES = frozenset({"python", "json", *SHELL_LANGUAGES})
MARKER_KINDS = ("skip", "skip-line", "args", "replace", "given", "expect", "synopsis", "signature")

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<body>.*?)\s*-->\s*$")


# --- reading the Markdown ---------------------------------------------------------------------


@dataclass(frozen=True)
class Marker:
    kind: str
    args: tuple[str, ...] = ()
    reason: str = ""
    expression: str = ""


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence; the code starts on the next line
    language: str
    code: str
    markers: tuple[Marker, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(REPO_ROOT).as_posix()}:{self.line}"

    def markers_of(self, kind: str) -> list[Marker]:
        return [m for m in self.markers if m.kind == kind]

    @property
    def skip_reason(self) -> str | None:
        skips = self.markers_of("skip")
        return skips[0].reason if skips else None

    @property
    def is_synopsis(self) -> bool:
        return bool(self.markers_of("synopsis"))

    @property
    def is_signature(self) -> bool:
        return bool(self.markers_of("signature"))

    @property
    def executed(self) -> bool:
        """Runs as code (python, shell, json), whether or not a marker skips it."""
        return self.language in EXECUTED_LANGUAGES and not self.is_synopsis and not self.is_signature


def _split_reason(rest: str) -> tuple[str, str]:
    """``'"TEXT" (why)'`` -> ``('"TEXT"', 'why')``: the reason is the parenthesised tail, found
    outside quotes so that a quoted TEXT may hold parentheses."""
    quote = ""
    for i, char in enumerate(rest):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "(" and rest.rstrip().endswith(")"):
            return rest[:i].strip(), rest[i + 1 : rest.rstrip().rfind(")")].strip()
    return rest.strip(), ""


def parse_marker(body: str, where: str, problems: list[str]) -> Marker | None:
    """One ``docs-test:`` comment -> Marker; a malformed one is added to ``problems``."""
    kind, _, rest = body.partition(" ")
    rest = rest.strip()
    if kind not in MARKER_KINDS:
        problems.append(f"{where}: unknown docs-test marker {kind!r} (known: {', '.join(MARKER_KINDS)})")
        return None
    if kind == "expect":
        if not rest:
            problems.append(f"{where}: 'expect' needs an expression")
            return None
        return Marker(kind, expression=rest)
    reason = ""
    if kind in ("skip", "skip-line"):
        rest, reason = _split_reason(rest)
        if not reason:
            problems.append(f"{where}: '{kind}' needs a reason in parentheses, e.g. (downloads weights)")
            return None
    try:
        args = tuple(shlex.split(rest))
    except ValueError as exc:
        problems.append(f"{where}: cannot split the arguments of '{kind}': {exc}")
        return None
    wanted = {
        "skip": (0, 0),
        "skip-line": (1, 1),
        "args": (2, None),
        "replace": (2, 2),
        "given": (1, None),
        "signature": (1, 1),
    }
    low, high = wanted.get(kind, (0, 0))
    if len(args) < low or (high is not None and len(args) > high):
        problems.append(f"{where}: '{kind}' takes {low}{'+' if high is None else ''} arguments, got {list(args)}")
        return None
    if kind == "given":
        unknown = [name for name in args if name not in GIVEN]
        if unknown:
            problems.append(f"{where}: 'given' names {unknown} that the test does not supply (GIVEN: {sorted(GIVEN)})")
            return None
    return Marker(kind, args, reason)


def parse_markdown(path: Path) -> tuple[list[Block], list[str]]:
    """Fenced code blocks of a Markdown file with their markers, and the problems found."""
    lines = path.read_text(encoding="utf-8").splitlines()
    rel = path.relative_to(REPO_ROOT).as_posix()
    blocks: list[Block] = []
    problems: list[str] = []
    pending: list[Marker] = []
    pending_line = 0
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence:
            indent = len(fence["indent"])
            mark = fence["fence"]
            closing = re.compile(rf"^[ \t]*{re.escape(mark[0])}{{{len(mark)},}}[ \t]*$")
            j = i + 1
            body: list[str] = []
            while j < len(lines) and not closing.match(lines[j]):
                text = lines[j]
                body.append(text[min(indent, len(text) - len(text.lstrip())) :])
                j += 1
            if j == len(lines):
                problems.append(f"{rel}:{i + 1}: code block never closed")
            info = fence["info"].strip()
            language = info.split()[0].lower() if info else ""
            blocks.append(Block(path, i + 1, language, "\n".join(body) + "\n", tuple(pending)))
            pending = []
            i = j + 1
            continue
        marker = MARKER.match(lines[i])
        if marker:
            parsed = parse_marker(marker["body"], f"{rel}:{i + 1}", problems)
            if parsed is not None:
                pending.append(parsed)
                pending_line = pending_line or i + 1
        elif lines[i].strip() and pending:
            problems.append(f"{rel}:{pending_line}: docs-test marker not directly above a code block")
            pending, pending_line = [], 0
        if not pending:
            pending_line = 0
        i += 1
    if pending:
        problems.append(f"{rel}:{pending_line}: docs-test marker not directly above a code block")
    return blocks, problems


# --- inputs the snippets name -------------------------------------------------------------------


@dataclass
class Assets:
    """Generated once per session; working directories get copies of what they name."""

    root: Path
    dataset: Path  # a synthetic PoseTrack18 dataset: 1 train + 1 val video
    val_name: str
    video: Path  # an mp4 of `clip`
    clip: Any  # the rendered SyntheticSequence behind `video`
    weights: Path  # the shipped default weights (a pretrained folder)


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dst)


def _noisy_predictions(assets: Assets, out: Path) -> None:
    """Prediction files for the dataset's val split: the GT joints moved by ~2 px, scored, with
    the GT track ids (so that AP and tracking scores are defined)."""
    from pstpose.data.posetrack import load_sequences
    from pstpose.data.records import Frame, Person, Sequence
    from pstpose.metrics.writers import write_posetrack18

    rng = np.random.default_rng(0)
    for gt in load_sequences(assets.dataset / "annotations" / "val"):
        frames = []
        for frame in gt.frames:
            persons = []
            for p in frame.persons:
                keypoints = p.keypoints.copy()
                keypoints[:, :2] += rng.normal(0.0, 2.0, (len(keypoints), 2))
                scores = rng.uniform(0.4, 1.0, len(keypoints))
                persons.append(Person(keypoints, np.ones(len(keypoints), bool), p.track_id, scores, p.bbox, score=1.0))
            frames.append(Frame(frame.file_name, frame.frame_index, persons, frame.is_labeled, frame.image_id))
        write_posetrack18(out / f"{gt.name}.json", Sequence(gt.name, frames, "pt18"), gt=gt)


def _detections(assets: Assets, path: Path) -> None:
    """A COCO detection file for the val video's labelled frames: image ids for `pstpose test`,
    bare frame names for `pstpose predict frames/` (a copy of that video's frames)."""
    from pstpose.data.posetrack import load_sequence

    gt = load_sequence(assets.dataset / "annotations" / "val" / f"{assets.val_name}.json")
    rows = [
        {
            "image_id": frame.image_id,
            "file_name": Path(frame.file_name).name,
            "category_id": 1,
            "bbox": [round(float(v), 2) for v in person.bbox],
            "score": 0.9,
        }
        for frame in gt.frames
        for person in frame.persons
    ]
    path.write_text(json.dumps(rows))


def _photos(assets: Assets, out: Path) -> None:
    """Two photos of different sizes (so `predict photos/` reads them as independent images)."""
    import cv2

    out.mkdir(parents=True, exist_ok=True)
    first, second = assets.clip.frames[0], assets.clip.frames[-1]
    cv2.imwrite(str(out / "street.jpg"), first)
    cv2.imwrite(str(out / "portrait.png"), cv2.resize(second[:, 40:280], (300, 360)))


def _trainer_folder(assets: Assets, out: Path) -> None:
    """A run folder as users have them: pretrained files plus the trainer's best.pt (the shipped
    weights inside a PoseTrack18 experiment configuration)."""
    from pstpose.config import experiment_from_dict, load_yaml, to_dict
    from pstpose.config.experiment import resolve_config_path
    from pstpose.engine.training_state import save_training_state
    from pstpose.models import load_model

    _copy(assets.weights, out)
    model = load_model(assets.weights)
    experiment = load_yaml(resolve_config_path("posetrack18_vitpose-b"))
    experiment["model"] = to_dict(model.config)
    config = to_dict(experiment_from_dict(experiment))
    save_training_state(out / "best.pt", {"model": model.state_dict(), "config": config, "epoch": 20})


def _vitpose_b_checkpoint(assets: Assets, path: Path) -> None:
    """A ViTPose-B checkpoint in ViTPose's own (mmpose 0.x) layout, random weights."""
    import torch

    from pstpose import build_model

    torch.manual_seed(0)
    model = build_model("vitpose-b")
    state = {}
    for key, value in model.state_dict().items():
        if key.startswith("backbone."):
            state[key] = value
        elif key.startswith("head."):
            state["keypoint_head." + key[len("head.") :]] = value
    torch.save({"state_dict": state}, path)


def _study(assets: Assets, out: Path) -> None:
    """The committed study file and its finished results (no checkpoints, no pictures)."""
    (out / "studies").mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO_ROOT / "studies" / "synthetic_ablation.yaml", out / "studies" / "synthetic_ablation.yaml")
    source = REPO_ROOT / "studies" / "synthetic_ablation"
    for item in source.rglob("*"):
        if item.is_file() and item.suffix not in (".pt", ".png"):
            with contextlib.suppress(FileNotFoundError):  # a running study renames its files
                _copy(item, out / "studies" / "synthetic_ablation" / item.relative_to(source))


def _build_input(name: str, assets: Assets, workdir: Path) -> None:
    """Put input ``name`` into ``workdir`` (idempotent)."""
    target = workdir / name.rstrip("/")
    if target.exists():
        return
    if name in ("my_video.mp4", "walk.mp4"):
        _copy(assets.video, target)
    elif name == "photos/":
        _photos(assets, target)
    elif name == "frames/":
        _copy(assets.dataset / "images" / "val" / assets.val_name, target)
    elif name == "dets.json":
        _detections(assets, target)
    elif name in ("posetrack18/", "data/posetrack18/"):
        _copy(assets.dataset, target)
    elif name in ("preds/", "pred/"):
        target.mkdir(parents=True)
        _noisy_predictions(assets, target)
    elif name == "gt/":
        _copy(assets.dataset / "annotations" / "val", target)
    elif name == "runs/pt18-b/":
        _trainer_folder(assets, target)
    elif name == "runs/pstpose-b/":
        _copy(assets.weights, target)
    elif name == "vitpose-b.pth":
        _vitpose_b_checkpoint(assets, target)
    elif name == "studies/":
        _study(assets, workdir)
    else:
        raise KeyError(name)


# input name -> texts whose presence in a file's runnable code calls for it
INPUTS: dict[str, tuple[str, ...]] = {
    "my_video.mp4": ("my_video.mp4",),
    "walk.mp4": ("walk.mp4",),
    "photos/": ("photos/",),
    "frames/": ("frames/",),
    "dets.json": ("dets.json",),
    "posetrack18/": ("posetrack18/annotations",),
    "data/posetrack18/": ("posetrack18_vitpose",),  # the shipped PoseTrack configs' data.root
    "preds/": ("preds/",),
    "gt/": ('"gt/"',),
    "pred/": ('"pred/"',),
    "runs/pt18-b/": ("runs/pt18-b",),
    "runs/pstpose-b/": ("runs/pstpose-b",),
    "vitpose-b.pth": ("vitpose-b.pth",),
    "studies/": ("studies/synthetic_ablation.yaml",),
}


# --- names the test supplies (marker `given`) ---------------------------------------------------


def _given_frames(workdir: Path, assets: Assets) -> list[np.ndarray]:
    """The first 2ξ+1 = 3 BGR frames of the synthetic clip (keyframe: frame 1)."""
    return [frame.copy() for frame in assets.clip.frames[:3]]


def _given_boxes(workdir: Path, assets: Assets) -> np.ndarray:
    """(N, 5) xyxy + score: the ground-truth boxes of the keyframe (frame 1) of the clip."""
    rows = [[*p.bbox[:2], p.bbox[0] + p.bbox[2], p.bbox[1] + p.bbox[3], 1.0] for p in assets.clip.persons[1]]
    return np.asarray(rows, dtype=np.float64)


def _given_clip(workdir: Path, assets: Assets) -> Any:
    """A random ImageNet-normalised-like clip (1, 3, 3, 256, 192), the vitpose-b input."""
    import torch

    return torch.randn(1, 3, 3, 256, 192, generator=torch.Generator().manual_seed(0))


def _given_cfg(workdir: Path, assets: Assets) -> Any:
    """The `synthetic_tiny_hires` experiment with data.root = the working directory's dataset."""
    from pstpose.config import apply_overrides, load_experiment

    _build_input("posetrack18/", assets, workdir)
    return apply_overrides(load_experiment("synthetic_tiny_hires"), ["data.root=posetrack18", "data.workers=0"])


def _given_sequences(split: str) -> Callable[[Path, Assets], Any]:
    def load(workdir: Path, assets: Assets) -> Any:
        from pstpose.data.posetrack import load_sequences

        _build_input("posetrack18/", assets, workdir)
        return load_sequences(workdir / "posetrack18" / "annotations" / split)

    load.__doc__ = f"The Sequence records of the dataset's {split} split."
    return load


def _given_detections(workdir: Path, assets: Assets) -> dict[int, np.ndarray]:
    """{image_id: (N, 5) [x, y, w, h, score]}: the val split's ground-truth boxes, scored 0.9."""
    from pstpose.data.posetrack import load_sequences

    out = {}
    for seq in load_sequences(assets.dataset / "annotations" / "val"):
        for frame in seq.frames:
            if frame.persons:
                out[frame.image_id] = np.asarray([[*p.bbox, 0.9] for p in frame.persons])
    return out


def _given_model(workdir: Path, assets: Assets) -> Any:
    """The shipped default model (`pstpose.models.load_model()`), in eval mode."""
    from pstpose.models import load_model

    return load_model().eval()


GIVEN: dict[str, Callable[[Path, Assets], Any]] = {
    "model": _given_model,
    "frames": _given_frames,
    "boxes": _given_boxes,
    "clip": _given_clip,
    "cfg": _given_cfg,
    "sequences": _given_sequences("train"),
    "val_sequences": _given_sequences("val"),
    "detections": _given_detections,
    "epochs": lambda workdir, assets: 1,  # one pass over the loader
    "t": lambda workdir, assets: 0,  # a frame index
}


# --- collecting the blocks ----------------------------------------------------------------------

ALL_BLOCKS: list[Block] = []
PARSE_PROBLEMS: list[str] = []
for _path in DOC_FILES:
    _blocks, _problems = parse_markdown(_path)
    ALL_BLOCKS += _blocks
    PARSE_PROBLEMS += _problems

CASES = [b for b in ALL_BLOCKS if b.executed]

# Blocks that take over ~10 s on two CPU cores (file, a text of the block): marked `slow`.
SLOW_BLOCKS = (
    ("README.md", "pstpose predict my_video.mp4"),
    ("docs/architecture.md", 'build_model("vitpose-b")'),
    ("docs/training.md", "pstpose train synthetic_tiny --set data.root"),
    ("docs/export.md", "pstpose export --weights"),
)


def _is_slow(block: Block) -> bool:
    return any(block.name.startswith(f"{file}:") and text in block.code for file, text in SLOW_BLOCKS)


SYNOPSES = [b for b in ALL_BLOCKS if b.is_synopsis]
SIGNATURES = [b for b in ALL_BLOCKS if b.is_signature]


def test_docs_were_found() -> None:
    assert (REPO_ROOT / "README.md").is_file() and len(DOC_FILES) > 5, DOC_FILES
    assert CASES, "no runnable code blocks found"


def test_markers_are_well_formed() -> None:
    assert not PARSE_PROBLEMS, "\n".join(PARSE_PROBLEMS)
    stale = [entry for entry in SLOW_BLOCKS if not any(_is_slow(b) and entry[1] in b.code for b in CASES)]
    assert not stale, f"SLOW_BLOCKS entries that match no block: {stale}"


def test_every_block_names_its_language() -> None:
    untagged = [b.name for b in ALL_BLOCKS if not b.language]
    assert not untagged, (
        "code blocks without a language (use text for output and trees, bash for commands, "
        f"python for code; see docs/README.md): {untagged}"
    )


# --- running them -------------------------------------------------------------------------------


def _split_comment(line: str) -> tuple[str, str]:
    """``cmd --x 1  # note`` -> (``cmd --x 1``, ``note``); a ``#`` inside quotes is not a comment."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1 :].strip()
    return line.rstrip(), ""


def shell_commands(code: str, language: str) -> list[str]:
    """Logical command lines of a shell block: continuations joined, prompts removed (console)."""
    commands: list[str] = []
    current = ""
    for raw in code.splitlines():
        line = raw.rstrip()
        if language == "console" and not current:
            if not line.lstrip().startswith("$ "):
                continue  # output
            line = line.lstrip()[2:]
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        commands.append(current + line)
        current = ""
    if current:
        commands.append(current)
    return [c for c in commands if c.strip()]


def _option(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _claimed_paths(args: list[str], comment: str) -> list[str]:
    """Paths under the command's --out folder that the comment says it writes."""
    out = _option(args, "--out")
    if out is None or not comment:
        return []
    top = Path(out).parts[0]
    return [tok.rstrip(",;:)") for tok in comment.split() if tok.startswith(top + "/")]


def run_pstpose(args: list[str], where: str) -> None:
    from pstpose.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as exc:  # argparse refusing the line
            code = exc.code if isinstance(exc.code, int) else 1
    sys.stdout.write(out.getvalue())
    sys.stderr.write(err.getvalue())
    if code != 0:
        tail = "\n".join((out.getvalue() + err.getvalue()).strip().splitlines()[-15:])
        pytest.fail(f"{where}: `pstpose {shlex.join(args)}` exited with {code}:\n{tail}", pytrace=False)


class DocRun:
    """The state of one Markdown file's run: its working directory, namespace and outcomes."""

    def __init__(self, path: Path, workdir: Path, assets: Assets):
        self.path = path
        self.workdir = workdir
        self.assets = assets
        self.blocks = [b for b in CASES if b.path == path]
        self.namespace: dict[str, Any] = {"__name__": f"docs:{path.name}"}
        self.outcomes: dict[int, str | None] = {}  # block line -> None (passed) or the error
        self.prepared = False

    def prepare(self) -> None:
        if self.prepared:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        code = "".join(self.code(b) for b in self.blocks if b.skip_reason is None)
        for name, triggers in INPUTS.items():
            if any(t in code for t in triggers):
                _build_input(name, self.assets, self.workdir)
        self.prepared = True

    @staticmethod
    def code(block: Block) -> str:
        code = block.code
        for marker in block.markers_of("replace"):
            old, new = marker.args
            if old not in code:
                pytest.fail(f"{block.name}: replace marker: {old!r} is not in the block", pytrace=False)
            code = code.replace(old, new)
        return code

    def run(self, block: Block) -> None:
        self.prepare()
        for earlier in self.blocks:
            if earlier.line >= block.line:
                break
            if earlier.line not in self.outcomes and earlier.skip_reason is None:
                try:
                    self._execute(earlier)
                    self.outcomes[earlier.line] = None
                except (Exception, SystemExit, pytest.fail.Exception) as exc:
                    self.outcomes[earlier.line] = f"{type(exc).__name__}: {exc}"
        if block.line in self.outcomes:  # ran already, as an earlier block of another case
            if self.outcomes[block.line] is not None:
                pytest.fail(self.outcomes[block.line], pytrace=False)
            return
        failed = [line for line, error in self.outcomes.items() if error is not None]
        try:
            self._execute(block)
        except BaseException as exc:
            self.outcomes[block.line] = f"{type(exc).__name__}: {exc}"
            if failed:
                exc.add_note(f"(earlier blocks of this file failed, lines {failed}; this may follow from them)")
            raise
        self.outcomes[block.line] = None
        if block is [b for b in self.blocks if b.skip_reason is None][-1]:
            self.finish()

    def finish(self) -> None:
        """After the page's last block: free its objects (models) and, when every block passed,
        its folder (a page may write hundreds of MB, and pytest keeps old temporary folders)."""
        self.namespace.clear()
        if all(error is None for error in self.outcomes.values()):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _execute(self, block: Block) -> None:
        code = self.code(block)
        if block.language == "python":
            self._python(block, code)
        elif block.language == "json":
            try:
                json.loads(code)
            except json.JSONDecodeError as exc:
                pytest.fail(f"{block.name}: not valid JSON: {exc}", pytrace=False)
        else:
            self._shell(block, code)

    def _python(self, block: Block, code: str) -> None:
        for marker in block.markers_of("given"):
            for name in marker.args:
                self.namespace[name] = GIVEN[name](self.workdir, self.assets)
        source = "\n" * block.line + code  # keeps the Markdown's line numbers in tracebacks
        exec(compile(source, str(block.path), "exec"), self.namespace)
        for marker in block.markers_of("expect"):
            value = eval(marker.expression, self.namespace)
            assert value, f"{block.name}: expected `{marker.expression}` after the block"

    def _shell(self, block: Block, code: str) -> None:
        used: set[int] = set()
        markers = block.markers_of("skip-line") + block.markers_of("args")
        for line in shell_commands(code, block.language):
            command, comment = _split_comment(line)
            if not command.strip():
                continue
            skip = next((m for m in block.markers_of("skip-line") if m.args[0] in command), None)
            if skip is not None:
                used.add(id(skip))
                continue
            args = shlex.split(command)
            for marker in block.markers_of("args"):
                if marker.args[0] in command:
                    used.add(id(marker))
                    args += list(marker.args[1:])
            if any(token in ("|", "||", "&&", ";", ">", ">>", "<") for token in args):
                pytest.fail(f"{block.name}: shell syntax beyond one command per line: {command}", pytrace=False)
            if args[0] == "pstpose":
                run_pstpose(args[1:], block.name)
                claimed = [p for p in [_option(args, "--out")] if p] + _claimed_paths(args, comment)
                missing = [p for p in claimed if not (self.workdir / p).exists()]
                assert not missing, f"{block.name}: `{command}` did not write {missing}"
            elif args[0] == "python":
                done = subprocess.run([sys.executable, *args[1:]], cwd=self.workdir, capture_output=True, text=True)
                assert done.returncode == 0, f"{block.name}: `{command}` failed:\n{done.stderr[-2000:]}"
            else:
                pytest.fail(
                    f"{block.name}: `{args[0]}` cannot run in the docs test; add "
                    f'<!-- docs-test: skip-line "{args[0]}" (reason) --> above the block',
                    pytrace=False,
                )
        stale = [m.args[0] for m in markers if id(m) not in used]
        assert not stale, f"{block.name}: markers match no command line: {stale}"


@pytest.fixture(scope="session")
def doc_assets(tmp_path_factory: pytest.TempPathFactory) -> Assets:
    from pstpose.data.synthetic import generate_dataset, render_sequence
    from pstpose.media import write_video
    from pstpose.weights import DEFAULT_WEIGHTS

    root = tmp_path_factory.mktemp("docs_assets")
    dataset = root / "posetrack18"
    generate_dataset(dataset, videos=1, val_videos=1, frames=12, seed=5)
    val_name = sorted(p.stem for p in (dataset / "annotations" / "val").glob("*.json"))[0]
    clip = render_sequence(seed=21, frames=8, height=288, width=384)
    video = write_video(root / "clip.mp4", clip.frames, fps=clip.fps)
    return Assets(root, dataset, val_name, video, clip, Path(DEFAULT_WEIGHTS))


@pytest.fixture(scope="session")
def doc_runs(tmp_path_factory: pytest.TempPathFactory, doc_assets: Assets) -> dict[Path, DocRun]:
    base = tmp_path_factory.mktemp("docs_run")
    folders = {path: path.relative_to(REPO_ROOT).with_suffix("").as_posix().replace("/", "_") for path in DOC_FILES}
    return {path: DocRun(path, base / folders[path], doc_assets) for path in DOC_FILES}


@pytest.mark.parametrize(
    "block", [pytest.param(b, id=b.name, marks=[pytest.mark.slow] if _is_slow(b) else []) for b in CASES]
)
def test_code_block_runs(block: Block, doc_runs: dict[Path, DocRun], monkeypatch: pytest.MonkeyPatch) -> None:
    if block.skip_reason is not None:
        pytest.skip(f"{block.name}: {block.skip_reason}")
    run = doc_runs[block.path]
    run.prepare()
    monkeypatch.chdir(run.workdir)
    run.run(block)


# --- synopses -----------------------------------------------------------------------------------


def _subparser(command: str) -> argparse.ArgumentParser:
    from pstpose.cli import build_parser

    parser, _ = build_parser([command])
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    raise AssertionError(f"`pstpose {command}` is not a command")


@pytest.mark.parametrize("block", SYNOPSES, ids=[b.name for b in SYNOPSES])
def test_synopsis_matches_the_parser(block: Block) -> None:
    head = re.match(r"\s*pstpose\s+([a-z][\w-]*)", block.code)
    assert head, f"{block.name}: a synopsis starts with `pstpose COMMAND`"
    options = _subparser(head[1])._option_string_actions
    flags = re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", block.code)
    unknown = sorted({f for f in flags if f not in options})
    assert not unknown, f"{block.name}: `pstpose {head[1]}` has no options {unknown}"
    wrong = []
    for flag, values in re.findall(r"(--[a-z][a-z0-9-]*)[ =]([\w.:-]+(?:\|[\w.:-]+)+)", block.code):
        choices = options[flag].choices
        if choices is None:
            continue
        for value in values.split("|"):
            if value != "..." and value.lower() == value and value not in choices:
                wrong.append(f"{flag} {value} (choices: {sorted(choices)})")
    assert not wrong, f"{block.name}: values the parser refuses: {wrong}"


# --- signatures ---------------------------------------------------------------------------------


def signature_entries(code: str) -> list[str]:
    """``Name(params) -> ret`` entries of a signature block, continuation lines joined and
    comments dropped; an entry starts at a line without indentation."""
    entries: list[str] = []
    for line in code.splitlines():
        text, _ = _split_comment(line)
        if not text.strip():
            continue
        if text[0].isspace() and entries:
            entries[-1] += " " + text.strip()
        else:
            entries.append(text.strip())
    return entries


def _documented_parameters(entry: str, where: str) -> tuple[str, list[tuple[str, str, str | None]]]:
    """``Name.attr(a, b=1, *, c=None) -> X`` -> ("Name.attr", [(name, kind, default source)])."""
    import ast

    name, _, rest = entry.partition("(")
    depth, end = 1, None
    for i, char in enumerate(rest):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            end = i
            break
    assert end is not None, f"{where}: unbalanced parentheses in `{entry}`"
    tree = ast.parse(f"def _({rest[:end]}): pass")
    args = tree.body[0].args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params = [(a.arg, "POSITIONAL_OR_KEYWORD", d and ast.unparse(d)) for a, d in zip(positional, defaults, strict=True)]
    if args.vararg:
        params.append((args.vararg.arg, "VAR_POSITIONAL", None))
    params += [
        (a.arg, "KEYWORD_ONLY", d and ast.unparse(d)) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    if args.kwarg:
        params.append((args.kwarg.arg, "VAR_KEYWORD", None))
    return name.strip(), params


@pytest.mark.parametrize("block", SIGNATURES, ids=[b.name for b in SIGNATURES])
def test_signatures_match_the_code(block: Block) -> None:
    import ast
    import importlib
    import inspect

    module = importlib.import_module(block.markers_of("signature")[0].args[0])
    problems = []
    entries = signature_entries(block.code)
    assert entries, f"{block.name}: no signatures found"
    for entry in entries:
        dotted, documented = _documented_parameters(entry, block.name)
        target: Any = module
        for part in dotted.split("."):
            target = getattr(target, part)
        # a class documents its constructor, a method is documented without self
        actual = [p for p in inspect.signature(target).parameters.values() if p.name != "self"]
        actual_view = [(p.name, p.kind.name.replace("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")) for p in actual]
        documented_view = [(name, kind) for name, kind, _ in documented]
        if actual_view != documented_view:
            problems.append(f"{dotted}: parameters {documented_view}, the code has {actual_view}")
            continue
        for (name, _, default), param in zip(documented, actual, strict=True):
            has_default = param.default is not inspect.Parameter.empty
            if (default is None) == has_default:
                problems.append(f"{dotted}({name}): default {default!r} documented, the code has {param.default!r}")
            elif default is not None:
                try:
                    value = ast.literal_eval(default)
                except ValueError:
                    continue  # an expression the docs spell out (a constant's name)
                if value != param.default:
                    problems.append(f"{dotted}({name}): default {default} documented, the code has {param.default!r}")
    assert not problems, f"{block.name}: " + "; ".join(problems)
