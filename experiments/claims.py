"""The paper's qualitative claims (Section 4), judged on a sweep's numbers.

Each claim is checked on the paper's metric in the reference format (float32), averaged
over seeds, per (task, n, depth) where the sweep has the settings it needs:

1. ``cot_beats``: on the inherently serial tasks (s5, isq, cvp), at low depth (the
   sweep's smallest depth), cot beats both base and hint by at least `MARGIN`;
2. ``modadd_parallel``: on modadd, base and cot are about equal (within `MARGIN`) at
   every n and depth;
3. ``hint_helps``: hint is at least base (down to `MARGIN`) at every task, n and depth.

`MARGIN` is 10 points: a sweep evaluates tens of prompts per format (48 in
experiments/paper.toml), where one prompt is 2 points and the binomial standard error at
an accuracy of 50% is 7 points; a smaller margin would call noise a result.

Every cell is reported, and a claim is *reproduced* when it holds at every cell checked,
*not reproduced* when it fails at every cell, and *partly* otherwise. The notes say
where all three settings solve a task (a claim of separation cannot show there) and
where cot fails too.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

#: a difference of accuracy that counts (see the module docstring)
MARGIN = 0.10
#: the tasks the paper calls inherently serial (the part of the spec before ':')
SERIAL = ("s5", "isq", "cvp")
#: a model "solves" its task at this accuracy
SOLVED = 0.9


@dataclass(frozen=True)
class Cell:
    """One (task, n, depth) of a claim: the accuracies used and whether it holds."""

    task: str
    n: int
    layers: int
    acc: dict[str, float]
    holds: bool
    note: str = ""


@dataclass(frozen=True)
class Verdict:
    """A claim: its statement, the cells checked, and ``verdict`` (reproduced, not
    reproduced, partly, or no data)."""

    claim: str
    statement: str
    cells: tuple[Cell, ...]

    @property
    def verdict(self) -> str:
        if not self.cells:
            return "no data"
        held = sum(c.holds for c in self.cells)
        if held == len(self.cells):
            return "reproduced"
        return "not reproduced" if held == 0 else "partly"


def _family(task: str) -> str:
    return task.split(":", 1)[0]


def _table(rows: Sequence[dict[str, Any]], ref: str, metric: str
           ) -> dict[tuple, dict[str, float]]:
    """(task, n, layers) -> {setting: accuracy averaged over seeds} in ``ref``."""
    acc: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["format"] == ref and r.get(metric) is not None:
            acc[(r["task"], r["n"], r["layers"])][r["setting"]].append(r[metric])
    return {k: {s: float(np.mean(v)) for s, v in d.items()} for k, d in acc.items()}


def judge(rows: Sequence[dict[str, Any]], ref: str, metric: str = "teacher_forced"
          ) -> list[Verdict]:
    """The three claims on ``rows`` (result lines) in format ``ref``."""
    table = _table(rows, ref, metric)
    keys = sorted(table)
    depth = {}
    for task, n, L in keys:
        depth[task] = min(depth.get(task, L), L)

    beats, parallel, hint = [], [], []
    for task, n, L in keys:
        a = table[(task, n, L)]
        fam = _family(task)
        if fam in SERIAL and L == depth[task] and {"cot", "base", "hint"} <= set(a):
            other = max(a["base"], a["hint"])
            ok = a["cot"] >= other + MARGIN
            note = ""
            if min(a.values()) >= SOLVED:
                note = "all three settings solve it"
            elif a["cot"] < SOLVED:
                note = "cot does not solve it either" if not ok else "cot below 90%"
            beats.append(Cell(task, n, L, dict(a), ok, note))
        if fam == "modadd" and {"cot", "base"} <= set(a):
            parallel.append(Cell(task, n, L, dict(a), abs(a["cot"] - a["base"]) <= MARGIN))
        if {"hint", "base"} <= set(a):
            hint.append(Cell(task, n, L, dict(a), a["hint"] >= a["base"] - MARGIN))
    m = f"{100 * MARGIN:.0f} points"
    return [
        Verdict("cot_beats", "CoT beats base and hint on S5, isq and cvp at low depth "
                f"(cot >= max(base, hint) + {m}, at the sweep's smallest depth)",
                tuple(beats)),
        Verdict("modadd_parallel", f"base is about equal to cot on modadd (within {m})",
                tuple(parallel)),
        Verdict("hint_helps", f"hint >= base (down to {m})", tuple(hint)),
    ]


def markdown(verdicts: Sequence[Verdict]) -> list[str]:
    """The claims as markdown lines: a verdict each, then its cells."""
    out = []
    for v in verdicts:
        out += [f"**{v.statement}: {v.verdict}.**", ""]
        if not v.cells:
            continue
        out += ["| task | n | L | base | cot | hint | holds | note |",
                "|---|---|---|---|---|---|---|---|"]
        for c in v.cells:
            cells = [("-" if c.acc.get(s) is None else f"{100 * c.acc[s]:.1f}")
                     for s in ("base", "cot", "hint")]
            out.append(f"| {c.task} | {c.n} | {c.layers} | " + " | ".join(cells)
                       + f" | {'yes' if c.holds else 'no'} | {c.note} |")
        out.append("")
    return out
