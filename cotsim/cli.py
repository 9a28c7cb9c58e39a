"""Entry point of the ``cotsim`` console script.

Each subcommand lives in ``cotsim/commands/<name>.py`` with ``register(subparsers)`` and
``run(args) -> int``. Command modules import nothing heavy at module level, so that
``cotsim stats``, ``convert``, ``draw`` and ``--help`` start without Numba.

Exit status:

- 0 success;
- 1 a check or comparison failed;
- 2 bad input or usage, and the environment refusing (no memory, a full disk, a folder
  that cannot be written): one line on stderr, any partial output removed;
- 3 an internal error, i.e. a bug in cotsim: one line on stderr naming the exception; the
  global ``--debug`` flag adds the traceback.
"""
from __future__ import annotations

import argparse
import functools
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
    "prove": "prove",
    "check": "check",
    "demo": "demo",
    "experiment": "experiment",
}

#: exit status of an unexpected exception (a bug), distinct from 1 (a check failed) and
#: 2 (bad input)
EXIT_INTERNAL = 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="cotsim", description="Circuits, finite-precision transformers, "
                     "and chain of thought, checked bit for bit.")
    parser.add_argument("--version", action="version", version=f"cotsim {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of an error (for bug reports)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module in COMMANDS.items():
        importlib.import_module(f"cotsim.commands.{module}").register(sub, name)
    return parser


def _one_line(text: str) -> str:
    """A message on one line: no error may spill over several lines of stderr."""
    return " ".join(str(text).split()) or "(no message)"


def _environment_error(e: BaseException) -> str:
    """The one-line message of a MemoryError or an OSError (ENOSPC, EACCES, ...)."""
    if isinstance(e, MemoryError):
        return "out of memory" + (f" ({e})" if str(e) else "")
    assert isinstance(e, OSError)
    what = e.strerror or str(e) or type(e).__name__
    return f"{e.filename}: {what}" if e.filename else what


@functools.cache
def _parser() -> argparse.ArgumentParser:
    """One parser per process: building it costs more than most commands (tests and
    scripts call `main` in a loop)."""
    return build_parser()


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    prefix = f"cotsim {args.command}"
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("cotsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # MemoryError and OSError are Exceptions too
        status, message = _failure(e, prefix, args.debug)
        if args.debug:
            import traceback

            traceback.print_exception(type(e), e, e.__traceback__)
        print(message, file=sys.stderr)
        return status


def _failure(e: Exception, prefix: str, debug: bool) -> tuple[int, str]:
    """The exit status and the one stderr line for an exception out of a command."""
    from circuits.errors import CotsimInputError

    if isinstance(e, CotsimInputError):
        return 2, f"{prefix}: error: {_one_line(str(e))}"
    if isinstance(e, (MemoryError, OSError)):  # the environment refuses: not a bug
        return 2, f"{prefix}: error: {_one_line(_environment_error(e))}"
    hint = "" if debug else " (run with --debug for the traceback)"
    return (EXIT_INTERNAL,
            f"{prefix}: internal error: {type(e).__name__}: {_one_line(str(e))}{hint}")
