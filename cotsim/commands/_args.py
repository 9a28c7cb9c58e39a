"""Argument types shared by the subcommands."""
from __future__ import annotations

import argparse
import os
from typing import Callable


def int_at_least(lo: int) -> Callable[[str], int]:
    """An argparse type: an integer >= lo, else one clear usage error."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"{text!r} must be at least {lo}")
        return v
    return parse


positive = int_at_least(1)


def check_output(src: str, dst: str, force: bool, what: str = "input file") -> None:
    """Fail early, before any work: an unknown output format, an existing output without
    --force, or an output that is the input itself (inputs are never modified)."""
    from circuits.errors import CotsimInputError
    from circuits.io import extension

    extension(dst)
    if os.path.lexists(dst):
        if not force:
            raise CotsimInputError(f"{dst}: exists; pass --force to overwrite it")
        if os.path.exists(src) and os.path.samefile(src, dst):
            raise CotsimInputError(f"{dst}: is the {what}; write somewhere else")
