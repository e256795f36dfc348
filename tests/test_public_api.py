"""The curated public API: every name in ``pstpose.__all__`` resolves, is documented and typed."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pstpose


def test_all_names_resolve_to_their_owners():
    assert set(pstpose.__all__) == {"__version__", *pstpose._EXPORTS}
    for name, module in pstpose._EXPORTS.items():
        obj = getattr(pstpose, name)
        assert obj.__module__.startswith(module), (name, obj.__module__)


def test_public_callables_have_docstrings_and_annotated_signatures():
    for name in pstpose._EXPORTS:
        obj = getattr(pstpose, name)
        assert inspect.getdoc(obj), f"pstpose.{name} has no docstring"
        func = obj.__init__ if inspect.isclass(obj) else obj
        if func is object.__init__ or not inspect.isfunction(func):
            continue  # dataclass-generated or builtin initialisers carry their fields' annotations
        params = [
            p
            for p in inspect.signature(func).parameters.values()
            if p.name not in ("self", "cls") and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        ]
        missing = [p.name for p in params if p.annotation is inspect.Parameter.empty]
        assert not missing, f"pstpose.{name}: parameters without type hints: {missing}"


def test_importing_pstpose_does_not_import_torch():
    """The CLI's --help and light commands stay fast: names load on first use."""
    code = (
        "import sys, pstpose; assert 'torch' not in sys.modules, 'torch imported'; pstpose.PSTPose; "
        "assert 'torch' in sys.modules"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_unknown_names_raise_attribute_error():
    try:
        pstpose.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
