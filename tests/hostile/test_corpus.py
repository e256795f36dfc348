"""The hostile-input corpus: every case ends in a clean error or a correct result.

Cases live in ``cases_*.py`` beside this file (one module per input family); the harness
(``harness.py``) runs each through ``pstpose.cli.main`` and judges it. See docs/bad-input.md for
what the package promises.
"""

from __future__ import annotations

import importlib
import os
from collections import Counter
from pathlib import Path

import pytest

from tests.hostile.harness import Case, judge, run_case

MODULES = sorted(p.stem for p in Path(__file__).parent.glob("cases_*.py"))


def _all_cases() -> list[Case]:
    cases: list[Case] = []
    for name in MODULES:
        cases += importlib.import_module(f"tests.hostile.{name}").CASES
    return cases


CASES = _all_cases()


def test_the_corpus_is_large_and_names_are_unique():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    assert len(CASES) >= 150, f"{len(CASES)} cases"
    assert len({case.family for case in CASES}) >= 6


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case(case: Case, tmp_path: Path, monkeypatch):
    if case.skip:
        pytest.skip(case.skip)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PSTPOSE_NO_PROGRESS", "1")
    folder = tmp_path / "case"
    folder.mkdir()
    outcome = run_case(case, folder)
    problems = judge(case, folder, outcome)
    assert problems == [], f"{case.id}: {problems}\nstderr: {outcome.stderr[-800:]}"


def test_the_judge_catches_what_it_must(tmp_path):
    """The harness itself: a traceback, a silent acceptance and a vague message are failures."""

    def crash(folder):
        return ["eval", "--gt", str(folder / "g"), "--pred", str(folder / "p")]

    vague = Case("self", "vague", crash, names=lambda f: ["this text is not in the message"])
    folder = tmp_path / "v"
    folder.mkdir()
    assert any("does not name" in p for p in judge(vague, folder, run_case(vague, folder)))
    accepted = Case("self", "accepted", lambda f: ["info", "--no-params"])
    folder = tmp_path / "a"
    folder.mkdir()
    assert judge(accepted, folder, run_case(accepted, folder)) == [
        "silent acceptance: exit 0 where an error was expected"
    ]
    assert os.environ.get("PSTPOSE_NO_PROGRESS") is None or True
