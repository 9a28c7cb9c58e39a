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

#: the format names a --format accepts (transformer_sim.floatformat.NAMES), for help texts
FORMAT_HELP = ("paper:e=E,s=S, ieee:e=E,m=M[,...], float16, bfloat16, e5m2, float32, "
               "float64, or an ml_dtypes name: float8_e4m3fn, float8_e4m3, float8_e3m4, "
               "float8_e5m2, float6_e2m3fn, float6_e3m2fn, float4_e2m1fn (NAME,overflow="
               "saturate saturates; see docs/float-formats.md)")


def check_output(src: str | None, dst: str, force: bool, what: str = "input file",
                 exts: tuple[str, ...] | None = None) -> None:
    """Fail early, before any work: an unknown output format (``exts``: the extensions
    allowed, default the circuit formats), an output that is a folder or lies in no
    folder, an existing output without --force, or an output that is the input itself
    (inputs are never modified)."""
    from circuits.errors import CotsimInputError
    from circuits.io import extension

    if exts is None:
        extension(dst)
    else:
        ext = os.path.splitext(dst)[1].lower()
        if ext not in exts:
            raise CotsimInputError(f"{dst}: expected a {' or '.join(exts)} file, not "
                                   f"{ext or 'a name without extension'}")
    if os.path.isdir(dst):
        raise CotsimInputError(f"{dst}: is a folder; name a file to write")
    folder = os.path.dirname(os.path.abspath(dst))
    if not os.path.isdir(folder):
        raise CotsimInputError(f"{dst}: folder {folder} does not exist")
    if os.path.lexists(dst):
        if not force:
            raise CotsimInputError(f"{dst}: exists; pass --force to overwrite it")
        if (src is not None and os.path.exists(src) and os.path.exists(dst)  # not dangling
                and os.path.samefile(src, dst)):
            raise CotsimInputError(f"{dst}: is the {what}; write somewhere else")
