"""Exhaustive truth tables of circuits with few inputs.

Row r of a truth table is the input vector whose input i is bit i of r (input 0 is the
least significant bit), so row 0b101 sets inputs 0 and 2. Rows are evaluated 64 to a word
by the bit-parallel kernel of ``simulate``; the packed form keeps them that way: row r is
bit r % 64 of word r // 64.
"""
from __future__ import annotations

import numpy as np

from .errors import CotsimInputError
from .ir import Circuit

#: Circuits with more inputs than this get no truth table (2^24 rows).
MAX_INPUTS = 24
#: The unpacked (rows, outputs) bool table may take at most this many bytes.
MAX_TABLE_BYTES = 1 << 30

# Word patterns of inputs 0..5 inside one word of 64 consecutive rows.
_LOW_PATTERNS = np.array([0xAAAAAAAAAAAAAAAA, 0xCCCCCCCCCCCCCCCC, 0xF0F0F0F0F0F0F0F0,
                          0xFF00FF00FF00FF00, 0xFFFF0000FFFF0000, 0xFFFFFFFF00000000],
                         dtype=np.uint64)


def _check(circuit: Circuit) -> None:
    if circuit.num_inputs > MAX_INPUTS:
        raise CotsimInputError(f"a truth table of {circuit.num_inputs} inputs has "
                               f"2^{circuit.num_inputs} rows; the limit is {MAX_INPUTS} inputs")


def exhaustive_words(n: int) -> np.ndarray:
    """(n, max(1, 2^n / 64)) uint64: every n-bit vector once, row r in lane r.
    Lanes at or past 2^n (only when n < 6) repeat earlier rows."""
    if not 0 <= n <= MAX_INPUTS:
        raise CotsimInputError(f"exhaustive inputs need 0 <= n <= {MAX_INPUTS}, got {n}")
    words = max(1, (1 << n) >> 6)
    out = np.empty((n, words), dtype=np.uint64)
    index = np.arange(words, dtype=np.int64)
    for i in range(n):
        if i < 6:
            out[i] = _LOW_PATTERNS[i]
        else:
            out[i] = np.where((index >> (i - 6)) & 1, ~np.uint64(0), np.uint64(0))
    return out


def truth_table_words(circuit: Circuit) -> np.ndarray:
    """(outputs, max(1, 2^n / 64)) uint64: output j on row r is bit r % 64 of word r // 64.
    When n < 6, only the low 2^n bits of the single word are rows."""
    from .simulate import simulate_words

    _check(circuit)
    return simulate_words(circuit, exhaustive_words(circuit.num_inputs))


def truth_table(circuit: Circuit) -> np.ndarray:
    """(2^n, outputs) bool, where row r sets input i to bit i of r."""
    from .simulate import unpack

    _check(circuit)
    rows = 1 << circuit.num_inputs
    if rows * circuit.num_outputs > MAX_TABLE_BYTES:
        raise CotsimInputError(f"a truth table of {rows} rows by {circuit.num_outputs} "
                               f"outputs is too large to unpack; use truth_table_words")
    return unpack(truth_table_words(circuit), rows)
