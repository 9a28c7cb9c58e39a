"""The theorem-check framework: a check's result, the `Check` protocol, and a runner.

A check builds its objects from the library, runs them, and returns a `CheckResult`: a
verdict (``holds`` or ``fails``) with the reason, a table of what it measured, and
figures. Nothing here proves anything by hand; a verdict is what the runs showed.
"""
from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence

HOLDS, FAILS = "holds", "fails"

#: figure name -> content. The name's extension says what it is: ``.svg`` (text or
#: bytes), ``.png`` (bytes), anything else is shown as preformatted text.
Figures = Mapping[str, "bytes | str"]


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(str(c) for c in self.columns))
        object.__setattr__(self, "rows", tuple(tuple(r) for r in self.rows))
        for r in self.rows:
            if len(r) != len(self.columns):
                raise ValueError(f"table row {r!r} has {len(r)} cells, expected "
                                 f"{len(self.columns)}")


@dataclass(frozen=True)
class CheckResult:
    """What one theorem check found.

    ``verdict`` is ``"holds"`` or ``"fails"``; ``reason`` says why in one or two
    sentences. ``notes`` are extra lines (margins, constants, caveats). ``captions`` maps
    a figure's name to its caption.
    """

    name: str
    claim: str
    verdict: str
    reason: str
    table: Table = field(default_factory=lambda: Table((), ()))
    figures: Figures = field(default_factory=dict)
    captions: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    quick: bool = True
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.verdict not in (HOLDS, FAILS):
            raise ValueError(f"verdict must be {HOLDS!r} or {FAILS!r}, got {self.verdict!r}")

    @property
    def holds(self) -> bool:
        return self.verdict == HOLDS

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "claim": self.claim, "verdict": self.verdict,
                "reason": self.reason, "quick": self.quick, "seconds": round(self.seconds, 3),
                "notes": list(self.notes),
                "table": {"columns": list(self.table.columns),
                          "rows": [[_jsonable(v) for v in r] for r in self.table.rows]},
                "figures": sorted(self.figures)}


def _jsonable(v: Any) -> Any:
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if hasattr(v, "item"):  # NumPy scalars
        return v.item()
    return str(v)


class Check(Protocol):
    """A theorem check: a name, the claim it tests, and ``run(quick) -> CheckResult``."""

    name: str
    claim: str

    def run(self, quick: bool) -> CheckResult: ...


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

    from . import load
    from .tables import render_result_text

    p = argparse.ArgumentParser(prog=f"python -m proofs.{name}",
                                description=load(name).claim)
    p.add_argument("--quick", action="store_true", help="small instances only")
    args = p.parse_args(argv)
    set_progress(True)
    result = run_safely(load(name), args.quick)
    print(render_result_text(result))
    return 0 if result.holds else 1
