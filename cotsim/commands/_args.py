"""Argument types shared by the subcommands."""
from __future__ import annotations

import argparse
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
