"""Entry point of the ``cotsim`` console script.

Each subcommand lives in ``cotsim/commands/<name>.py`` with ``register(subparsers)`` and
``run(args) -> int``. Command modules import nothing heavy at module level, so that
``cotsim stats``, ``convert``, ``draw`` and ``--help`` start without Numba.

Exit status: 0 success, 1 a check or comparison failed, 2 bad input or usage.
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand -> module under cotsim.commands
COMMANDS = {
    "stats": "stats",
    "eval": "evaluate",
    "convert": "convert",
    "draw": "draw",
    "model": "model",
    "cot": "cot",
    "compile": "compile",
    "check": "check",
    "demo": "demo",
    "experiment": "experiment",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="cotsim", description="Circuits, finite-precision transformers, "
                     "and chain of thought, checked bit for bit.")
    parser.add_argument("--version", action="version", version=f"cotsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module in COMMANDS.items():
        try:
            mod = importlib.import_module(f"cotsim.commands.{module}")
        except ModuleNotFoundError as e:
            if e.name == f"cotsim.commands.{module}":
                continue  # not built yet
            raise
        mod.register(sub, name)
    return parser


def main(argv: list[str] | None = None) -> int:
    from circuits.errors import CotsimInputError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.run(args) or 0)
    except CotsimInputError as e:
        print(f"cotsim {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cotsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
