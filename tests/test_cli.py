import subprocess
import sys

from pstpose.cli import main


def test_help_lists_commands(capsys):
    assert main([]) == 0
    assert "info" in capsys.readouterr().out


def test_info_runs_without_building_models(capsys):
    assert main(["info", "--no-params"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "vitpose-h" in out and "cpu" in out


def test_module_entry_point():
    res = subprocess.run([sys.executable, "-m", "pstpose", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and "pstpose" in res.stdout
