"""Progress bars for long single runs: tqdm on stderr, only when stderr is a terminal.

Piped or redirected output gets no bar (scripts and tests read clean stderr). tqdm is
imported only when a bar is shown, so importing this module costs nothing.

Use::

    with progress_bar(total, "cot") as bar:
        for ...:
            bar.update(1)          # or bar.set(done)
"""
from __future__ import annotations

import sys
from typing import Any

#: runs shorter than this many units never show a bar
MIN_TOTAL = 256


class ProgressBar:
    """A tqdm bar, or nothing when ``enabled`` is false. ``update(k)`` advances by k,
    ``set(done)`` moves to ``done``; both are cheap when disabled."""

    def __init__(self, total: int, desc: str, enabled: bool, unit: str = "step"):
        self.total = int(total)
        self.done = 0
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            # a terminal that reports 0 columns (a fresh pty) would get an empty bar
            sized = _stderr_columns() > 0
            self._bar = tqdm(total=self.total, desc=desc, unit=unit, file=sys.stderr,
                             leave=False, dynamic_ncols=sized, ncols=None if sized else 80,
                             nrows=None if sized else 24, mininterval=0.2)

    @property
    def enabled(self) -> bool:
        return self._bar is not None

    def update(self, k: int = 1) -> None:
        self.done += k
        if self._bar is not None:
            self._bar.update(k)

    def set(self, done: int) -> None:
        if done > self.done:
            self.update(done - self.done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_bar(total: int, desc: str, enabled: bool | None = None,
                 unit: str = "step", min_total: int = MIN_TOTAL) -> ProgressBar:
    """A bar over ``total`` units labelled ``desc``. ``enabled`` None: shown only when
    stderr is a terminal and ``total >= min_total``; True/False force it."""
    if enabled is None:
        enabled = total >= min_total and _stderr_is_terminal()
    return ProgressBar(total, desc, bool(enabled), unit)


def _stderr_columns() -> int:
    import os

    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 0


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False
