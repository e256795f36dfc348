"""The hostile-input harness: run one ``pstpose`` command on a prepared input and judge the outcome.

A case builds its inputs in a fresh folder and names the command line. The harness runs the
command in this process (``pstpose.cli.main``) under a time limit and classifies what happened:

* ``error``: exit status 2 and a short message (at most two lines, no traceback) that names the
  thing at fault (a path or a flag, given by the case); no output the case lists exists
  afterwards, and no input file changed;
* ``ok``: exit status 0, and the case's own check of the result passes (so a bad value that is
  accepted must also give the right answer, never a silently wrong one).

Anything else (an exception escaping ``main``, a hang, a partial output, a changed input, a
message that names nothing) is a failure of the case.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TIME_LIMIT_S = 60


class Hang(Exception):
    pass


@dataclass
class Case:
    """One hostile input. ``build(folder)`` writes the inputs and returns the command line."""

    family: str
    name: str
    build: Callable[[Path], list[str]]
    expect: str = "error"  # "error" or "ok"
    names: Callable[[Path], list[str]] | None = None  # what the message must mention (all of)
    outputs: Callable[[Path], list[Path]] = lambda folder: []  # must not exist after an error
    check: Callable[[Path, str], None] | None = None  # for "ok": checks the result (folder, stdout)
    skip: str | None = None

    @property
    def id(self) -> str:
        return f"{self.family}:{self.name}"


@dataclass
class Outcome:
    status: int | None
    stdout: str
    stderr: str
    crashed: BaseException | None = None
    changed_inputs: list[str] = field(default_factory=list)


def _digest(folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _on_alarm(signum, frame):
    raise Hang(f"no answer within {TIME_LIMIT_S} s")


def run_case(case: Case, folder: Path) -> Outcome:
    from pstpose.cli import main

    argv = case.build(folder)
    before = _digest(folder)
    out, err = io.StringIO(), io.StringIO()
    status: int | None = None
    crashed = None
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(TIME_LIMIT_S)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main([str(a) for a in argv])
            except SystemExit as exc:  # argparse refusing an argument: exit 2 with a usage line
                status = exc.code if isinstance(exc.code, int) else 2
    except BaseException as exc:  # anything escaping main is a traceback for a user
        crashed = exc
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    after = _digest(folder)
    changed = [p for p, h in before.items() if after.get(p) != h]
    return Outcome(status, out.getvalue(), err.getvalue(), crashed, changed)


def error_lines(stderr: str) -> list[str]:
    """The lines that make up the error: the last ``error:`` line and what follows it."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    for i in range(len(lines) - 1, -1, -1):
        if "error:" in lines[i]:
            return lines[i:]
    return lines


def judge(case: Case, folder: Path, outcome: Outcome) -> list[str]:
    """The problems with ``outcome`` (empty: the case passes)."""
    problems = []
    if outcome.crashed is not None:
        kind = "hang" if isinstance(outcome.crashed, Hang) else "traceback"
        return [f"{kind}: {type(outcome.crashed).__name__}: {outcome.crashed}"]
    if outcome.changed_inputs:
        problems.append(f"inputs changed: {outcome.changed_inputs}")
    if "Warning:" in outcome.stderr:  # a library's warning (numpy, torch) is not a message for users
        problems.append(f"a Python warning reached the user: {outcome.stderr.strip()[-300:]!r}")
    if case.expect == "ok":
        if outcome.status != 0:
            problems.append(f"expected success, got exit {outcome.status}: {outcome.stderr.strip()[-400:]}")
        elif case.check is not None:
            try:
                case.check(folder, outcome.stdout)
            except AssertionError as exc:
                problems.append(f"silent wrong result: {exc}")
        return problems
    if outcome.status == 0:
        problems.append("silent acceptance: exit 0 where an error was expected")
        return problems
    if outcome.status != 2:
        problems.append(f"exit status {outcome.status}, expected 2")
    lines = error_lines(outcome.stderr)
    message = "\n".join(lines)
    if "Traceback" in outcome.stderr:
        problems.append("traceback printed")
    if not lines or len(lines) > 2:
        problems.append(f"message is not one or two lines: {outcome.stderr.strip()[-600:]!r}")
    if case.names is not None:
        wanted = case.names(folder)
        missing = [w for w in wanted if w not in message]
        if missing:
            problems.append(f"message does not name {missing}: {message!r}")
    left = [str(p) for p in case.outputs(folder) if p.exists()]
    if left:
        problems.append(f"partial outputs left: {left}")
    return problems
