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
- 128 + N after signal N (SIGINT 130, SIGTERM 143, SIGHUP 129): all three raise in the
  main thread, so temporary files are removed and clusters shut down alike; one line.
"""
from __future__ import annotations

import argparse
import errno
import functools
import importlib
import os
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


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C's KeyboardInterrupt so that the same cleanup
    runs (`circuits.atomic` removes its temporary files, sweeps close their cluster)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


#: the signal that interrupted this process, once one has (SIGINT, SIGTERM, SIGHUP)
_interrupted: list[int] = []


def _on_signal(signum: int, frame) -> None:
    _interrupted.append(signum)
    if len(_interrupted) != 2:  # a second signal must not cut the cleanup short; a third may
        import signal

        raise KeyboardInterrupt if signum == signal.SIGINT else Terminated(signum)


def _quiet_unraisable(hook):
    """An interrupt that lands in a finaliser or a callback is reported by Python as
    "Exception ignored ..." and then lost; `_interrupted` remembers it instead."""
    def quiet(info) -> None:
        if isinstance(info.exc_value, KeyboardInterrupt):
            return
        hook(info)
    return quiet


def _install_signal_handlers():
    """SIGINT, SIGTERM and SIGHUP all raise in the main thread, so that every exit path
    cleans up alike; only where Python's default would apply (not under a caller that
    set its own handler). Returns the function that puts the previous handlers back."""
    import signal
    import threading

    before: dict = {}
    hook = sys.unraisablehook
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None and signal.getsignal(sig) in (signal.SIG_DFL,
                                                             signal.default_int_handler):
                before[sig] = signal.signal(sig, _on_signal)
    sys.unraisablehook = _quiet_unraisable(hook)

    def restore() -> None:
        for sig, handler in before.items():
            signal.signal(sig, handler)
        sys.unraisablehook = hook
    return restore


class _ClosedStdout:
    """Standard output when the process started without one (``cotsim stats x >&-``):
    writing to it is an error, not silence."""

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def flush(self) -> None:
        pass


class _NamedStdout:
    """Standard output whose write errors (a full disk, a closed descriptor) name
    ``<stdout>``, so that the one error line says where the write failed."""

    def __init__(self, stream):
        self._stream = stream

    def _call(self, name: str, *a):
        try:
            return getattr(self._stream, name)(*a)
        except OSError as e:
            if not isinstance(e, BrokenPipeError) and not e.filename:
                e.filename = "<stdout>"
            raise

    def write(self, text: str) -> int:
        return self._call("write", text)

    def flush(self) -> None:
        self._call("flush")

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _interrupted_status() -> int:
    import signal

    signum = _interrupted[0] if _interrupted else signal.SIGINT
    what = ("interrupted" if signum == signal.SIGINT
            else f"terminated ({signal.Signals(signum).name})")
    print(f"cotsim: {what}", file=sys.stderr)
    return 128 + signum


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        _chosen(parser, args).print_help(sys.stderr)
        return 2
    prefix = f"cotsim {args.command}"
    _interrupted.clear()
    restore = _install_signal_handlers()
    stdout = sys.stdout
    sys.stdout = _NamedStdout(_ClosedStdout() if stdout is None else stdout)
    try:
        status = int(args.run(args) or 0)
        sys.stdout.flush()  # a full disk or a closed stdout is an error, not success
        if _interrupted:  # an interrupt that Python swallowed in a finaliser
            return _interrupted_status()
        return status
    except KeyboardInterrupt:
        return _interrupted_status()
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except Exception as e:  # MemoryError and OSError are Exceptions too
        if isinstance(e, OSError) and e.filename == "<stdout>":
            _silence_stdout()  # Python's own flush at exit would fail again
        status, message = _failure(e, prefix, args.debug)
        if args.debug:
            import traceback

            traceback.print_exception(type(e), e, e.__traceback__)
        print(message, file=sys.stderr)
        return status
    finally:
        sys.stdout = stdout
        restore()


def _chosen(parser: argparse.ArgumentParser, args: argparse.Namespace
            ) -> argparse.ArgumentParser:
    """The parser of the command named on the line (``cotsim experiment`` alone shows
    the help of ``experiment``, not the top level's)."""
    command = getattr(args, "command", None)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return parser


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so that Python's own flush at exit cannot fail again
    ("Exception ignored ... BrokenPipeError")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


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
