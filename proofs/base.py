"""The theorem-check framework: the `Check` protocol, progress lines, and a runner.

A check builds its objects from the library, runs them, and returns a `CheckResult`
(`result.py`, re-exported here): a verdict (``holds`` or ``fails``) with the reason, a
table of what it measured, and figures. Nothing here proves anything by hand; a verdict
is what the runs showed.
"""
from __future__ import annotations

import importlib
import sys
import time
import traceback
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Protocol, Sequence

from .result import FAILS, HOLDS, CheckResult, Figures, Table
from .tables import render_result_text

__all__ = ["HOLDS", "FAILS", "Figures", "Table", "CheckResult", "Check", "ModuleCheck",
           "set_progress", "progress", "draw_figures", "run_safely", "main"]


class Check(Protocol):
    """A theorem check: a name, the claim it tests, and ``run(quick) -> CheckResult``."""

    name: str
    claim: str

    def run(self, quick: bool) -> CheckResult: ...


@dataclass(frozen=True)
class ModuleCheck:
    """A check module seen through the `Check` protocol."""

    name: str
    module: ModuleType

    @property
    def claim(self) -> str:
        return self.module.CLAIM

    def run(self, quick: bool) -> CheckResult:
        return self.module.run(quick=quick)


# -- progress --------------------------------------------------------------------------
_progress_enabled = False


def set_progress(enabled: bool) -> None:
    """Turn progress lines on stderr on or off (the CLI turns them on)."""
    global _progress_enabled
    _progress_enabled = bool(enabled)


def progress(message: str) -> None:
    """One progress line on stderr, when progress is on."""
    if _progress_enabled:
        print(f"  {message}", file=sys.stderr, flush=True)


# -- running -----------------------------------------------------------------------------
def draw_figures(draw: Callable[..., tuple[dict, dict]], *args: Any,
                 notes: list[str]) -> tuple[dict, dict]:
    """``draw(*args)`` -> (figures, captions); a figure that cannot be drawn is a note,
    never a verdict."""
    try:
        return draw(*args)
    except Exception as e:  # noqa: BLE001
        notes.append(f"figures skipped: {type(e).__name__}: {e}")
        return {}, {}


def run_safely(check: Check, quick: bool) -> CheckResult:
    """Run one check. An exception inside it becomes that check failing, with the
    exception as the reason (and the innermost frame, so that it can be found)."""
    start = time.monotonic()
    try:
        result = check.run(quick)
    except Exception as e:  # noqa: BLE001 - a broken check must not stop the others
        tb = traceback.extract_tb(e.__traceback__)
        where = f" (at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})" if tb else ""
        result = CheckResult(name=check.name, claim=check.claim, verdict=FAILS,
                             reason=f"the check raised {type(e).__name__}: {e}{where}",
                             quick=quick)
    seconds = time.monotonic() - start
    return CheckResult(**{**result.__dict__, "seconds": seconds, "quick": quick})


def main(name: str, argv: Sequence[str] | None = None) -> int:
    """``python -m proofs.<name> [--quick]``: print the table and the verdict; exit 0
    when the claim holds, 1 when it fails."""
    import argparse

    # the module by name, not `proofs.load`: the package imports this module
    check = ModuleCheck(name, importlib.import_module(f"{__package__}.{name}"))
    p = argparse.ArgumentParser(prog=f"python -m proofs.{name}", description=check.claim)
    p.add_argument("--quick", action="store_true", help="small instances only")
    args = p.parse_args(argv)
    set_progress(True)
    result = run_safely(check, args.quick)
    print(render_result_text(result))
    return 0 if result.holds else 1
