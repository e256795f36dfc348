"""The ``pstpose`` command. Thin: each subcommand lives in ``pstpose.commands.<name>`` with
``add_arguments(parser)`` and ``run(args) -> int``, imported only when used so that
``pstpose --help`` stays fast."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

# name -> one-line summary. Each has a module pstpose.commands.<name> (dashes become underscores).
COMMANDS: dict[str, str] = {
    "demo": "generate a synthetic clip, run predict on it and print its mAP",
    "predict": "estimate poses in a video, a frame folder, a glob or an image",
    "train": "train a model from a config",
    "test": "run a model over a dataset's val split and evaluate it",
    "eval": "evaluate PoseTrack prediction files against ground truth (per-joint mAP)",
    "synth": "generate a synthetic video pose dataset in PoseTrack18 format",
    "export": "export a model to ONNX and check it against PyTorch",
    "ablate": "train and evaluate a study's variants x seeds (resumable) and summarise them",
    "explain": "pictures of what DFE, FCG and DSF do for one joint of one person clip",
    "info": "versions, devices and model presets",
}


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help that states each option's default, except where there is nothing to state (flags,
    options without a default, or a help text that already says it)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default in (None, False, argparse.SUPPRESS)
            or not action.option_strings
            or isinstance(default, list)
        ):
            return text
        return f"{text} (default: {default})"


class CLIError(Exception):
    """An error for the user: printed as one line, exit status 2."""


def _available_commands() -> dict[str, str]:
    out = {}
    for name, summary in COMMANDS.items():
        spec = importlib.util.find_spec(f"pstpose.commands.{name.replace('-', '_')}")
        if spec is not None:
            out[name] = summary
    return out


def build_parser(argv: list[str]) -> tuple[argparse.ArgumentParser, object | None]:
    from pstpose import __version__

    parser = argparse.ArgumentParser(
        prog="pstpose", description="PSTPose video pose estimation: train, evaluate, predict."
    )
    parser.add_argument("--version", action="version", version=f"pstpose {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = _available_commands()
    wanted = next((a for a in argv if not a.startswith("-")), None)
    module = None
    for name, summary in commands.items():
        p = sub.add_parser(name, help=summary, description=summary, formatter_class=DefaultsHelpFormatter)
        if name == wanted:  # only the chosen command's module (and its imports) is loaded
            module = importlib.import_module(f"pstpose.commands.{name.replace('-', '_')}")
            module.add_arguments(p)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    from pstpose.errors import OptionError
    from pstpose.io import OutputError

    argv = list(sys.argv[1:] if argv is None else argv)
    parser, module = build_parser(argv)
    args = parser.parse_args(argv)
    if module is None:
        parser.print_help()
        return 0 if not argv else 2
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OptionError as exc:  # a parameter's name is the flag's name
        print(f"pstpose {args.command}: error: {exc.as_flag()}", file=sys.stderr)
        return 2
    except (CLIError, FileNotFoundError, ValueError, OutputError) as exc:
        # Library code raises these with messages written for users (file and problem named).
        print(f"pstpose {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the file system refused something no reader anticipated: name the path
        where = exc.filename if exc.filename is not None else "a file"
        print(f"pstpose {args.command}: error: cannot access {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
