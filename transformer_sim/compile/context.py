"""The compiler's working state: the circuit builder, the format, and the size guard."""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from circuits.builder import CircuitBuilder
from circuits.errors import CircuitTooLarge

from ..floatformat import FloatFormat
from .bundles import Bundle


class Ctx:
    """One compilation: gates go into ``b``; values are rounded to ``fmt``.

    ``limit`` bounds the number of nodes: every table asks ``reserve`` before it
    enumerates its rows, so that a compilation that would outgrow the budget stops
    before it allocates, never by running out of memory. ``slack``: the budget bounds the
    final (swept) circuit, so the compiler lets ``slack`` times as many gates be made."""

    def __init__(self, fmt: FloatFormat, builder: CircuitBuilder, limit: int,
                 adder: str = "thermometer", iterative: str = "tree"):
        self.fmt = fmt
        self.adder = adder  # exact sums: "thermometer" (sums.exact_sum) or "blockwise"
        self.iterative = iterative  # iterative sums over positions: "tree", "tc0" or "ac0"
        # two-operand operations: "tables" (lookup tables) or "auto" (arithmetic on the
        # bits where it is smaller, fixed point only: ``fixed_arith``)
        self.arith = "tables"
        self.arith_ops: Counter[str] = Counter()  # operations built by arithmetic
        self.b = builder
        self.limit = int(limit)
        self.slack = 1
        self.width = fmt.bit_width
        self.fvalues = fmt.values()
        self.minterm_cache: dict[tuple[int, ...], tuple[list[int], tuple[Bundle, ...]]] = {}
        self._consts: dict[float, Bundle] = {}

    @contextmanager
    def tag(self, name: str) -> Iterator[None]:
        self.b.set_tag(name)
        try:
            yield
        finally:
            self.b.set_tag(None)

    def reserve(self, rows: int) -> None:
        if self.b.num_nodes + rows > self.limit * self.slack:
            over = "" if self.slack == 1 else (f" (the guard allows {self.slack}x that in "
                                                "gates made before dead ones are swept)")
            raise CircuitTooLarge(
                f"compilation stopped at {self.b.num_nodes} gates: the next table needs "
                f"{rows} more, over the budget of {self.limit} gates{over}; use a shorter "
                f"sequence or a larger --budget")

    def encode(self, values: np.ndarray) -> np.ndarray:
        return self.fmt.encode(values).astype(np.int64)

    def const(self, value: float) -> Bundle:
        hit = self._consts.get(value)  # one bundle per constant: encoding costs
        if hit is None:
            code = int(self.encode(np.array([value]))[0])
            bits = tuple(self.b.const((code >> j) & 1) for j in range(self.width))
            hit = self._consts[value] = Bundle(bits, np.array([value]), np.array([code]))
        return hit
