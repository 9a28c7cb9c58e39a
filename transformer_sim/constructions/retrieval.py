"""Exact retrieval by attention in finite precision: the margins of a format.

A head that must fetch position a scores every position j by a sum of terms that are all
<= 0 (DESIGN.md, "CoT"): one pair of dimensions per address bit, the query holding
(-c, 0) where the wanted bit is 0 and (0, c) where it is 1, the key holding (b, b - 1).
A match scores exactly 0, a mismatch at most -c. Rounding is monotone, so a partial sum
never rises again, and clipping at -B keeps it <= -c as long as c <= B. If [exp(-c)] = 0
in the format, every [exp(s)] with s <= -c is 0 too, so the softmax is exactly one-hot:
Z = [exp(0)] = 1 and the fetched value is v_a itself.

`retrieval_margins` finds the smallest such c for a format and checks everything else
the constructions rely on (small integers and 1/2 exact, no clipping in the MLP), or
says why the format is too coarse.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from ..floatformat import FloatFormat

#: The format every construction uses unless told otherwise: fixed point with a 6-bit
#: significand (e = 0 fixes the exponent at -1). Its values are k/16 for |k| <= 63, so
#: B = 3.9375; c = 3.5 gives exp(-3.5) = 0.030 < 1/32, half the smallest positive value.
DEFAULT_SPEC = "paper:e=0,s=3"


class FormatTooCoarse(ModelError):
    """The format cannot carry a construction exactly."""


@dataclass(frozen=True)
class RetrievalMargins:
    fmt: FloatFormat
    c: float  # the mismatch penalty per address bit
    exp_minus_c: float  # exp(-c) before rounding
    rounded_exp_minus_c: float  # [exp(-c)] = 0
    max_value: float  # B
    min_positive: float
    largest_integer_needed: int

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("format", self.fmt.spec),
            ("B = largest value", f"{self.max_value:g}"),
            ("smallest positive value", f"{self.min_positive:g}"),
            ("mismatch penalty c", f"{self.c:g}"),
            ("exp(-c)", f"{self.exp_minus_c:.6g}"),
            ("[exp(-c)]", f"{self.rounded_exp_minus_c:g}"),
            ("[exp(0)]", "1"),
            ("c <= B", str(self.c <= self.max_value)),
            (f"integers -{self.largest_integer_needed}..{self.largest_integer_needed} and 1/2 "
             "exact", "yes"),
        ]


def retrieval_margins(fmt: FloatFormat, largest_integer: int = 3) -> RetrievalMargins:
    """The margins of ``fmt``, or `FormatTooCoarse` naming what fails."""
    hint = f"; the default {DEFAULT_SPEC} works for every circuit size"
    needed = np.array([0.5, 1.0] + [float(k) for k in range(-largest_integer,
                                                            largest_integer + 1)])
    if not np.all(fmt.round(needed) == needed):
        raise FormatTooCoarse(f"format {fmt.spec} cannot hold the integers "
                              f"-{largest_integer}..{largest_integer} and 1/2 exactly{hint}")
    if fmt.round(np.array([math.exp(0.0)]))[0] != 1.0:
        raise FormatTooCoarse(f"format {fmt.spec}: [exp(0)] != 1{hint}")
    if fmt.overflow == "nan":
        # a score's sum of -c terms may pass -B; it must become -inf or -B ([exp] = 0),
        # not NaN, which would make the whole softmax NaN
        raise FormatTooCoarse(f"format {fmt.spec}: an overflow gives NaN, so a long "
                              f"score could make attention NaN; add ,overflow=saturate{hint}")
    # c is the smallest value >= 1 of the format whose [exp(-c)] is 0: among all values
    # when the format is small enough to enumerate, else among the integers.
    B = float(fmt.max_value)
    if fmt.num_values <= 1 << 16:
        vals = fmt.values()
        candidates = vals[(vals >= 1.0) & (vals <= B)]
    else:
        candidates = np.arange(1.0, min(B, 4096.0) + 1.0)
        candidates = candidates[fmt.round(candidates) == candidates]
    c = None
    zero = fmt.round(np.exp(-candidates)) == 0.0
    if zero.any():
        c = float(candidates[np.argmax(zero)])
    if c is None or c > B:
        raise FormatTooCoarse(f"format {fmt.spec}: no value c <= B = {B:g} has [exp(-c)] = 0, "
                              f"so attention cannot be one-hot{hint}")
    return RetrievalMargins(fmt=fmt, c=c, exp_minus_c=math.exp(-c),
                            rounded_exp_minus_c=float(fmt.round(np.array([math.exp(-c)]))[0]),
                            max_value=B, min_positive=float(fmt.min_positive),
                            largest_integer_needed=largest_integer)


def address_bits(num_positions: int) -> int:
    """Bits of a binary position code for positions 0 .. num_positions-1 (at least 1)."""
    return max(1, int(num_positions - 1).bit_length())


def key_code(position: int, m: int) -> np.ndarray:
    """(b, b - 1) for each of the m bits of ``position``, least significant first."""
    out = np.empty(2 * m)
    for j in range(m):
        b = (position >> j) & 1
        out[2 * j], out[2 * j + 1] = b, b - 1
    return out


def query_code(position: int, m: int, c: float) -> np.ndarray:
    """(-c, 0) where the wanted bit is 0, (0, c) where it is 1: every product with a key
    code is <= 0, and all are 0 exactly at the wanted position."""
    out = np.zeros(2 * m)
    for j in range(m):
        if (position >> j) & 1:
            out[2 * j + 1] = c
        else:
            out[2 * j] = -c
    return out


def margins_table(specs: tuple[str, ...] = (DEFAULT_SPEC, "paper:e=1,s=2", "float16",
                                            "bfloat16", "e5m2")) -> str:
    """A Markdown table of the retrieval margins of some formats (for the docs)."""
    lines = ["| format | B | smallest positive | c | exp(-c) | [exp(-c)] |",
             "|---|---|---|---|---|---|"]
    for spec in specs:
        m = retrieval_margins(FloatFormat.parse(spec))
        lines.append(f"| `{spec}` | {m.max_value:g} | {m.min_positive:g} | {m.c:g} | "
                     f"{m.exp_minus_c:.4g} | {m.rounded_exp_minus_c:g} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(margins_table())
