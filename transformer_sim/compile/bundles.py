"""Values as bundles of bits, and lazy expressions over them.

A ``Bundle`` is a value of the compiled circuit: its bits (node ids, least significant
first) hold the value's code, for a float the bit pattern ``FloatFormat.encode`` gives it.
The compiler also knows, at compile time, the finite set of values the bundle can take
on valid inputs (its *domain*): a token bundle can take V values, an embedding at most
V, a sum at most |F|. Every lookup table is enumerated over the domains of its operands
only, which is how constant weights and small vocabularies fold away.

An ``Expr`` is a value not yet turned into bits: a function of a few bundles. A
consumer (a sum, a comparison, a division) fuses it into its own lookup table, which
saves the two levels of a separate table.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence, Union

import numpy as np


@dataclass(eq=False)
class Bundle:
    """Bits of a value, and the values (with their codes) it can take."""

    bits: tuple[int, ...]
    values: np.ndarray   # float64, one entry per possible value
    codes: np.ndarray    # int64, the bit pattern of each value (same order)
    _lits: list | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float64)
        self.codes = np.asarray(self.codes, dtype=np.int64)
        if self.values.shape != self.codes.shape or self.values.ndim != 1 or not len(self.values):
            raise ValueError("a bundle needs one code per value, and at least one value")

    @property
    def width(self) -> int:
        return len(self.bits)

    @property
    def size(self) -> int:
        """How many values the bundle can take."""
        return len(self.values)

    @property
    def is_const(self) -> bool:
        return len(self.values) == 1

    def key_bits(self) -> list[int]:
        """Bit positions that tell the domain's codes apart (greedy, from the top):
        a minterm needs literals on these positions only."""
        keep = list(range(self.width))
        for j in reversed(range(self.width)):
            trial = [k for k in keep if k != j]
            mask = sum(1 << k for k in trial)
            if len(np.unique(self.codes & mask)) == len(self.codes):
                keep = trial
        return keep



@dataclass(frozen=True, eq=False)
class Expr:
    """``fn(*operand values)``: vectorised over flat float64 arrays, one per operand."""

    fn: Callable[..., np.ndarray]
    operands: tuple[Bundle, ...]


Term = Union[Bundle, Expr]


def _identity(x: np.ndarray) -> np.ndarray:
    return x


def as_expr(term: Term) -> Expr:
    return term if isinstance(term, Expr) else Expr(_identity, (term,))


def grid(operands: Sequence[Bundle]) -> tuple[np.ndarray, list[np.ndarray]]:
    """All combinations of the operands' domain entries, first operand slowest.

    Returns the (rows, k) index array and, per operand, its values along the rows."""
    sizes = [op.size for op in operands]
    idx = np.indices(sizes).reshape(len(sizes), -1).T if sizes else np.zeros((1, 0), int)
    vals = [op.values[idx[:, i]] for i, op in enumerate(operands)]
    return idx, vals


def grid_size(operands: Sequence[Bundle]) -> int:
    out = 1
    for op in operands:
        out *= op.size
    return out


def evaluate(expr: Expr) -> tuple[np.ndarray, np.ndarray]:
    """(index rows, values) of ``expr`` over its operands' grid."""
    idx, vals = grid(expr.operands)
    out = np.asarray(expr.fn(*vals), dtype=np.float64).reshape(-1)
    if out.shape[0] != idx.shape[0]:
        out = np.broadcast_to(out, (idx.shape[0],)).copy()
    return idx, out
