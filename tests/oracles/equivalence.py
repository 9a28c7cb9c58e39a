"""Berkeley ABC as the equivalence oracle: ``cec`` on two circuit files."""
from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import ABC


def abc_cec(a: Path | str, b: Path | str) -> str:
    """ABC's combinational equivalence check of two files; its whole report. Callers
    look for "Networks are equivalent" or "NOT EQUIVALENT" (and skip without ABC:
    conftest's ``needs_abc``)."""
    r = subprocess.run([ABC, "-c", f"cec -n {a} {b}"], capture_output=True, text=True,
                       timeout=300)
    return r.stdout + r.stderr
