import subprocess
import sys

import pytest

from pstpose.cli import main


def test_help_lists_commands(capsys):
    assert main([]) == 0
    assert "info" in capsys.readouterr().out


def test_info_runs_without_building_models(capsys):
    assert main(["info", "--no-params"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "vitpose-h" in out and "cpu" in out


def test_info_names_the_default_weights_and_their_input(capsys):
    """The path printed loads as --weights, and the input size printed is the model's own."""
    from pstpose.models import load_model

    assert main(["info", "--no-params"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("weights "))
    path = line.split()[1]
    model = load_model(path)
    h, w = model.config.image_size
    assert f"input {h}x{w} H x W" in line and f"{2 * model.config.frames_per_side + 1} frames" in line


def test_module_entry_point():
    res = subprocess.run([sys.executable, "-m", "pstpose", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and "pstpose" in res.stdout


@pytest.mark.parametrize("command", ["predict", "test", "export", "eval", "train"])
def test_help_states_defaults(command, capsys):
    """Every option with a default says it in --help (flags and default-less options do not)."""
    import argparse
    import importlib

    from pstpose.cli import DefaultsHelpFormatter

    parser = argparse.ArgumentParser(formatter_class=DefaultsHelpFormatter)
    importlib.import_module(f"pstpose.commands.{command}").add_arguments(parser)
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for action in parser._actions:
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS) and action.help:
            if not isinstance(action.default, list):
                assert "default" in " ".join(action.help.split()) or f"(default: {action.default})" in text, action.dest
