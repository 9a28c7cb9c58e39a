"""``FloatFormat``: a finite-precision number format, as a frozen value object.

Two families (see docs/float-formats.md):

* ``paper(e, s)``: the paper's Definitions 3.1-3.3. Values S * 2^(E - s) with
  integer |S| <= 2^(2s) - 1 and -2^max(0,e-1) <= E <= 2^e - 1 - 2^max(0,e-1).
  Round to nearest, ties to the smaller magnitude, clip beyond +-B, no inf/NaN.
* ``ieee(exponent_bits, mantissa_bits, ...)``: IEEE-754-like binary formats, with
  inf and NaN at the top exponent (IEEE) or, as ``ml_dtypes``' "fn" formats, with NaN
  only or neither (``nonfinite=``); ``NAMES`` has float16, bfloat16 and the FP8, FP6
  and FP4 formats under ``ml_dtypes``' names.

plus ``float64()``, the unrounded reference. This module imports no Numba: the
kernels in ``fparith`` are loaded on the first call that needs them.

The parameter vector ``params`` (float64, length ``NPARAMS``) is what every
Numba kernel takes as ``P``; its layout is in ``params.py``.
"""
from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import FormatError
from .params import (EMAX, EMIN, F64, FAMILY, IEEE, KPAPER, MANT, MAXV, MINPOS, NF_IEEE,
                     NF_NAN, NF_NONE, NONFIN, NPARAMS, OV_INF, OV_NAN, OV_SATURATE, OVERFLOW,
                     PAPER, R_AWAY, R_EVEN, R_TIES_ZERO, R_ZERO, ROUNDING, SUBN)

IEEE_ROUNDINGS = {"nearest_even": R_EVEN, "toward_zero": R_ZERO, "nearest_away": R_AWAY}
PAPER_ROUNDING = "nearest_ties_to_zero"
OVERFLOWS = {"inf": OV_INF, "saturate": OV_SATURATE, "nan": OV_NAN}
#: ieee: what the top exponent field holds. "ieee": inf and NaN; "nan": numbers, except
#: the all-ones pattern, NaN (ml_dtypes' float8_e4m3fn); "none": numbers only (the FP6
#: and FP4 formats). Each allows the overflows listed, the first being the default.
NONFINITES = {"ieee": NF_IEEE, "nan": NF_NAN, "none": NF_NONE}
NONFINITE_OVERFLOWS = {"ieee": ("inf", "saturate"), "nan": ("nan", "saturate"),
                       "none": ("saturate",)}
FAMILIES = ("paper", "ieee", "float64")

# Limits that keep every value, and every exact intermediate, inside float64
# with at most 52 significant bits (see fparith's docstring).
PAPER_MAX_E, PAPER_MAX_S = 10, 25
IEEE_MIN_E, IEEE_MAX_E, IEEE_MAX_M = 2, 10, 51
MAX_ENUMERATED = 1 << 22

NAMES = {
    "float16": "ieee:e=5,m=10",
    "bfloat16": "ieee:e=8,m=7",
    "e5m2": "ieee:e=5,m=2",
    "float32": "ieee:e=8,m=23",
    "float64": "float64",
    # ml_dtypes' names; each rounds as ml_dtypes converts float64 to it
    "float8_e4m3fn": "ieee:e=4,m=3,nonfinite=nan",
    "float8_e4m3": "ieee:e=4,m=3",
    "float8_e3m4": "ieee:e=3,m=4",
    "float8_e5m2": "ieee:e=5,m=2",
    "float6_e2m3fn": "ieee:e=2,m=3,nonfinite=none",
    "float6_e3m2fn": "ieee:e=3,m=2,nonfinite=none",
    "float4_e2m1fn": "ieee:e=2,m=1,nonfinite=none",
}
#: options a name may take after a comma, e.g. ``float8_e4m3fn,overflow=saturate``
NAME_OPTIONS = ("subnormals", "overflow", "rounding")
_SPEC_HELP = ("expected paper:e=E,s=S, ieee:e=E,m=M[,nonfinite=ieee|nan|none][,subnormals=0|1]"
              "[,overflow=inf|nan|saturate][,rounding=nearest_even|toward_zero|nearest_away], "
              "or one of " + ", ".join(NAMES) + " (an ieee name may add ,overflow=..., "
              ",rounding=... or ,subnormals=...)")


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _kernels():
    from . import fparith          # Numba is imported here, on first use only
    return fparith


@dataclass(frozen=True, repr=False)
class FloatFormat:
    """A finite-precision format. Build it with ``paper``, ``ieee``, ``float64`` or ``parse``."""

    family: str
    e: int = 0                     # exponent bits (both families)
    s: int = 0                     # paper: the significand has 2s bits
    m: int = 0                     # ieee: stored mantissa bits (precision m + 1)
    subnormals: bool = True        # ieee only
    overflow: str | None = None    # ieee: see NONFINITE_OVERFLOWS; paper: "saturate"
    rounding: str | None = None    # ieee: see IEEE_ROUNDINGS; paper: PAPER_ROUNDING
    nonfinite: str | None = None   # ieee: see NONFINITES; paper: "none"; float64: "ieee"

    # ------------------------------------------------------------ validation
    def __post_init__(self) -> None:
        fam = self.family
        if fam not in FAMILIES:
            raise FormatError(f"unknown format family {fam!r}: {_SPEC_HELP}")
        for name in ("e", "s", "m"):
            if not _is_int(getattr(self, name)):
                raise FormatError(f"{fam} format: {name} must be an integer, "
                                  f"got {getattr(self, name)!r}")
            object.__setattr__(self, name, int(getattr(self, name)))
        if not isinstance(self.subnormals, (bool, np.bool_)):
            raise FormatError(f"{fam} format: subnormals must be True or False, "
                              f"got {self.subnormals!r}")
        object.__setattr__(self, "subnormals", bool(self.subnormals))
        if fam == "paper":
            self._check_paper()
        elif fam == "ieee":
            self._check_ieee()
        else:
            self._check_float64()

    def _set_default(self, name: str, value: str) -> None:
        if getattr(self, name) is None:
            object.__setattr__(self, name, value)

    def _check_paper(self) -> None:
        self._set_default("overflow", "saturate")
        self._set_default("rounding", PAPER_ROUNDING)
        self._set_default("nonfinite", "none")
        if self.nonfinite != "none":
            raise FormatError(f"paper format: has no inf or NaN (nonfinite is always "
                              f"'none'), got nonfinite={self.nonfinite!r}")
        if not 0 <= self.e <= PAPER_MAX_E:
            raise FormatError(f"paper format: e must be between 0 and {PAPER_MAX_E} "
                              f"(a wider exponent range leaves float64), got {self.e}")
        if not 1 <= self.s <= PAPER_MAX_S:
            raise FormatError(f"paper format: s must be between 1 and {PAPER_MAX_S} "
                              f"(exact rounding needs the 2s-bit significand plus two "
                              f"bits inside float64), got {self.s}")
        if self.m != 0:
            raise FormatError(f"paper format: has no parameter m (got m={self.m}); "
                              "its significand has 2s bits")
        if self.overflow != "saturate":
            raise FormatError(f"paper format: overflow is always 'saturate' (clip to +-B), "
                              f"got {self.overflow!r}")
        if self.rounding != PAPER_ROUNDING:
            raise FormatError(f"paper format: rounding is always {PAPER_ROUNDING!r}, "
                              f"got {self.rounding!r}")

    def _check_ieee(self) -> None:
        self._set_default("nonfinite", "ieee")
        if self.nonfinite not in NONFINITES:
            raise FormatError(f"ieee format: nonfinite must be one of "
                              f"{', '.join(NONFINITES)}, got {self.nonfinite!r}")
        allowed = NONFINITE_OVERFLOWS[self.nonfinite]
        self._set_default("overflow", allowed[0])
        self._set_default("rounding", "nearest_even")
        if not IEEE_MIN_E <= self.e <= IEEE_MAX_E:
            raise FormatError(f"ieee format: exponent_bits must be between {IEEE_MIN_E} and "
                              f"{IEEE_MAX_E}, got {self.e}")
        if not 0 <= self.m <= IEEE_MAX_M:
            raise FormatError(f"ieee format: mantissa_bits must be between 0 and "
                              f"{IEEE_MAX_M} (exact rounding needs one spare bit in "
                              f"float64), got {self.m}")
        if self.s != 0:
            raise FormatError(f"ieee format: has no parameter s (got s={self.s})")
        if self.overflow not in allowed:
            raise FormatError(f"ieee format: overflow must be one of {', '.join(allowed)}"
                              + ("" if self.nonfinite == "ieee" else
                                 f" with nonfinite={self.nonfinite}")
                              + f", got {self.overflow!r}")
        if self.nonfinite == "nan" and self.m == 0:
            raise FormatError("ieee format: nonfinite=nan needs mantissa_bits >= 1 (the NaN "
                              "is the top exponent with an all-ones mantissa)")
        if self.rounding not in IEEE_ROUNDINGS:
            raise FormatError(f"ieee format: rounding must be one of "
                              f"{', '.join(IEEE_ROUNDINGS)}, got {self.rounding!r}")

    def _check_float64(self) -> None:
        self._set_default("overflow", "inf")
        self._set_default("rounding", "nearest_even")
        self._set_default("nonfinite", "ieee")
        if (self.e, self.s, self.m, self.subnormals, self.overflow, self.rounding,
                self.nonfinite) != (0, 0, 0, True, "inf", "nearest_even", "ieee"):
            raise FormatError("float64 format takes no parameters")

    # ---------------------------------------------------------- constructors
    @classmethod
    def paper(cls, e: int, s: int) -> "FloatFormat":
        """The paper's format with e exponent bits and a 2s-bit significand."""
        return cls("paper", e=e, s=s)

    @classmethod
    def ieee(cls, exponent_bits: int, mantissa_bits: int, subnormals: bool = True,
             overflow: str | None = None, rounding: str = "nearest_even",
             nonfinite: str = "ieee") -> "FloatFormat":
        """An IEEE-754-like binary format with bias 2^(e-1) - 1. ``nonfinite``: what the
        top exponent holds ("ieee": inf and NaN; "nan": numbers and, at the all-ones
        pattern, NaN; "none": numbers). ``overflow`` defaults to "inf", "nan" and
        "saturate" for these three."""
        return cls("ieee", e=exponent_bits, m=mantissa_bits, subnormals=subnormals,
                   overflow=overflow, rounding=rounding, nonfinite=nonfinite)

    @classmethod
    def float64(cls) -> "FloatFormat":
        """The float64 reference: no rounding at all."""
        return cls("float64")

    @classmethod
    def parse(cls, spec: str) -> "FloatFormat":
        """Read ``paper:e=0,s=2``, ``ieee:e=5,m=10[,...]`` or a name (float16, ...), which
        for an ieee format may add options: ``float8_e4m3fn,overflow=saturate``."""
        if not isinstance(spec, str):
            raise FormatError(f"format spec must be a string, got {type(spec).__name__}")
        text = spec.strip()
        if not text:
            raise FormatError(f"empty format spec: {_SPEC_HELP}")
        name, comma, options = text.partition(",")
        name = name.strip()
        if name in NAMES:
            text = NAMES[name]
            if comma:
                if not text.startswith("ieee:"):
                    raise FormatError(f"format {spec!r}: {name} takes no options")
                for item in options.split(","):
                    key = item.partition("=")[0].strip()
                    if key not in NAME_OPTIONS:
                        raise FormatError(f"format {spec!r}: a name takes only "
                                          f"{', '.join(NAME_OPTIONS)} as options, "
                                          f"got {item.strip()!r}")
                text += "," + options
        if text == "float64":
            return cls.float64()
        fam, colon, rest = text.partition(":")
        if fam not in ("paper", "ieee"):
            raise FormatError(f"unknown format {spec!r}: {_SPEC_HELP}")
        if not colon or not rest.strip():
            example = "paper:e=0,s=2" if fam == "paper" else "ieee:e=5,m=10"
            raise FormatError(f"format {spec!r} needs parameters, e.g. {example}")
        kv: dict[str, str] = {}
        for item in rest.split(","):
            key, eq, val = (t.strip() for t in item.partition("="))
            if not eq or not key or not val:
                raise FormatError(f"format {spec!r}: expected key=value, got {item.strip()!r}")
            if key in kv:
                raise FormatError(f"format {spec!r}: {key} given twice")
            kv[key] = val
        allowed = ("e", "s") if fam == "paper" else ("e", "m", "nonfinite", "subnormals",
                                                     "overflow", "rounding")
        for key in kv:
            if key not in allowed:
                raise FormatError(f"format {spec!r}: unknown key {key!r} for {fam} "
                                  f"(allowed: {', '.join(allowed)})")
        for key in allowed[:2]:
            if key not in kv:
                raise FormatError(f"format {spec!r}: missing {key}=")

        def integer(key: str) -> int:
            shown = kv[key] if len(kv[key]) <= 20 else kv[key][:20] + "..."
            if not re.fullmatch(r"[+-]?\d+", kv[key]):
                raise FormatError(f"format {spec[:40]!r}: {key} must be an integer, "
                                  f"got {shown!r}")
            if not re.fullmatch(r"[+-]?\d{1,18}", kv[key]):  # int() refuses 4,300 digits
                raise FormatError(f"format {spec[:40]!r}: {key} must be an integer of at "
                                  f"most 18 digits, got {shown!r}")
            return int(kv[key])

        if fam == "paper":
            e, s = integer("e"), integer("s")
            build = lambda: cls.paper(e, s)  # noqa: E731
        else:
            sub = kv.get("subnormals", "1")
            if sub not in ("0", "1"):
                raise FormatError(f"format {spec!r}: subnormals must be 0 or 1, got {sub!r}")
            e, m = integer("e"), integer("m")
            build = lambda: cls.ieee(e, m, subnormals=sub == "1",  # noqa: E731
                                     overflow=kv.get("overflow"),
                                     rounding=kv.get("rounding", "nearest_even"),
                                     nonfinite=kv.get("nonfinite", "ieee"))
        try:
            return build()
        except FormatError as err:
            raise FormatError(f"format {spec!r}: {err}") from None

    # ------------------------------------------------------------ identity
    @property
    def spec(self) -> str:
        """The canonical spec string; ``FloatFormat.parse(f.spec) == f``."""
        if self.family == "float64":
            return "float64"
        if self.family == "paper":
            return f"paper:e={self.e},s={self.s}"
        out = f"ieee:e={self.e},m={self.m}"
        if self.nonfinite != "ieee":
            out += f",nonfinite={self.nonfinite}"
        if not self.subnormals:
            out += ",subnormals=0"
        if self.overflow != NONFINITE_OVERFLOWS[self.nonfinite][0]:
            out += f",overflow={self.overflow}"
        if self.rounding != "nearest_even":
            out += f",rounding={self.rounding}"
        return out

    def __str__(self) -> str:
        return self.spec

    def __repr__(self) -> str:
        return f"FloatFormat.parse({self.spec!r})"

    # ------------------------------------------------------------ numbers
    @property
    def exponent_bits(self) -> int:
        return self.e

    @property
    def mantissa_bits(self) -> int:
        """ieee: stored mantissa bits; paper: the significand's 2s bits."""
        return 2 * self.s if self.family == "paper" else self.m

    @property
    def exponent_range(self) -> tuple[int, int]:
        """(Emin, Emax): the paper's E range, or IEEE's normal exponents (1-bias, bias;
        up to bias + 1 when the top exponent field holds numbers, nonfinite != "ieee")."""
        if self.family == "paper":
            h = 2 ** max(0, self.e - 1)
            return -h, 2 ** self.e - 1 - h
        if self.family == "ieee":
            bias = 2 ** (self.e - 1) - 1
            return 1 - bias, bias + (self.nonfinite != "ieee")
        return -1022, 1023

    @property
    def max_value(self) -> float:
        """B: the largest finite value."""
        lo, hi = self.exponent_range
        if self.family == "paper":
            return math.ldexp(4 ** self.s - 1, hi - self.s)
        if self.family == "ieee":         # nonfinite=nan: the top significand is the NaN
            top = 2 ** (self.m + 1) - 1 - (self.nonfinite == "nan")
            return math.ldexp(top, hi - self.m)
        return sys.float_info.max

    @property
    def has_nan(self) -> bool:
        """Whether the format has a NaN (ieee with nonfinite != "none", m > 0; float64)."""
        return self.family == "float64" or (self.family == "ieee" and self.m > 0
                                            and self.nonfinite != "none")

    @property
    def has_inf(self) -> bool:
        """Whether the format has infinities (ieee with nonfinite="ieee"; float64)."""
        return self.family != "paper" and self.nonfinite == "ieee"

    def softmax_positions(self) -> int:
        """The largest number of positions a softmax can weigh above zero: a weight is at
        least the smallest positive value, and the weights sum to about 1 (no more than B
        when B < 1), so floor(min(1, B) / smallest positive), after Li and Cotterell
        (2025). Exact (a Python int). The rounded softmax can exceed it (a weight of 1/n
        rounds up to the smallest positive value; a saturated Z = B keeps every weight
        positive): see docs/float-formats.md."""
        from fractions import Fraction
        top = min(Fraction(1), Fraction(self.max_value))
        return math.floor(top / Fraction(self.min_positive))

    @property
    def min_positive(self) -> float:
        """The smallest positive value (a subnormal where the format has them)."""
        lo, _ = self.exponent_range
        if self.family == "paper":
            return math.ldexp(1.0, lo - self.s)
        if self.family == "ieee":
            return math.ldexp(1.0, lo - self.m if self.subnormals else lo)
        return 5e-324

    @property
    def is_fixed_point(self) -> bool:
        """True for paper formats with e = 0: one exponent, a uniform grid."""
        return self.family == "paper" and self.e == 0

    @property
    def bit_width(self) -> int:
        """Width of the bit patterns of ``encode``/``decode``."""
        if self.family == "paper":
            return 1 + self.e + 2 * self.s
        if self.family == "ieee":
            return 1 + self.e + self.m
        return 64

    @property
    def params(self) -> np.ndarray:
        """The parameter vector P taken by the Numba kernels (a fresh array)."""
        P = np.zeros(NPARAMS, dtype=np.float64)
        lo, hi = self.exponent_range
        if self.family == "float64":
            P[FAMILY] = F64
        elif self.family == "ieee":
            P[FAMILY], P[MANT], P[SUBN] = IEEE, self.m, float(self.subnormals)
            P[OVERFLOW], P[ROUNDING] = OVERFLOWS[self.overflow], IEEE_ROUNDINGS[self.rounding]
        else:
            P[FAMILY], P[MANT], P[SUBN] = PAPER, self.s, 0.0
            P[OVERFLOW], P[ROUNDING], P[KPAPER] = 1, R_TIES_ZERO, 4 ** self.s - 1
        P[NONFIN] = NONFINITES[self.nonfinite]
        P[EMIN], P[EMAX] = lo, hi
        P[MAXV], P[MINPOS] = self.max_value, self.min_positive
        return P

    @property
    def num_values(self) -> int:
        """The number of distinct finite values (zero counted once, no inf/NaN)."""
        lo, hi = self.exponent_range
        if self.family == "paper":
            K = 4 ** self.s - 1
            nonneg = K + 1 + (hi - lo) * (K + 1) // 2
        elif self.family == "ieee":
            nonneg = 1 + (hi - lo + 1) * 2 ** self.m + (2 ** self.m - 1 if self.subnormals else 0)
            nonneg -= self.nonfinite == "nan"
        else:
            nonneg = 2 ** 63 - 2 ** 52              # patterns 0 .. 0x7FEF...F: +0 and up
        return 2 * nonneg - 1

    def values(self) -> np.ndarray:
        """All finite values, sorted ascending (zero once). Refuses large formats."""
        n = self.num_values
        if n > MAX_ENUMERATED:
            raise FormatError(f"format {self.spec} has {n} values; values() enumerates at "
                              f"most {MAX_ENUMERATED}")
        lo, hi = self.exponent_range
        if self.family == "paper":
            K, s = 4 ** self.s - 1, self.s
            parts = [np.ldexp(np.arange(K + 1, dtype=np.float64), lo - s)]
            evens = np.arange(K + 1, 2 * K + 1, 2, dtype=np.float64)
            parts += [np.ldexp(evens, E - 1 - s) for E in range(lo + 1, hi + 1)]
        else:
            m = self.m
            parts = [np.zeros(1)]
            if self.subnormals:
                parts.append(np.ldexp(np.arange(1, 2 ** m, dtype=np.float64), lo - m))
            sig = np.arange(2 ** m, 2 ** (m + 1), dtype=np.float64)
            parts += [np.ldexp(sig, E - m) for E in range(lo, hi + 1)]
            if self.nonfinite == "nan":
                parts[-1] = parts[-1][:-1]          # the all-ones pattern is NaN
        pos = np.concatenate(parts)
        return np.concatenate([-pos[:0:-1], pos])

    # ------------------------------------------------------------ rounding
    def round(self, x: Any) -> np.ndarray:
        """Round float64 values to the format (vectorised; same shape, float64)."""
        arr = np.asarray(x, dtype=np.float64)
        out = np.empty(arr.size, dtype=np.float64)
        _kernels().round_array(np.ascontiguousarray(arr).reshape(-1), self.params, out)
        return out.reshape(arr.shape)

    def contains(self, x: Any) -> np.ndarray:
        """Elementwise: is x a value of the format? (-0.0 counts as 0 in paper formats)"""
        arr = np.asarray(x, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            ok = self.round(arr) == arr
        nan = np.isnan(arr)
        if nan.any():
            ok = np.where(nan, self.has_nan, ok)
        return ok

    is_representable = contains

    # ------------------------------------------------------------ bit patterns
    def _uint(self) -> type:
        for t in (np.uint8, np.uint16, np.uint32):
            if self.bit_width <= np.iinfo(t).bits:
                return t
        return np.uint64

    def encode(self, x: Any) -> np.ndarray:
        """Bit patterns (``bit_width`` bits, smallest unsigned dtype) of format values.

        ieee: sign | exponent field | mantissa, as IEEE-754 (top exponent = inf/NaN,
        NaN encodes as the quiet NaN with only the top mantissa bit set); with
        nonfinite="nan" the top exponent holds numbers and NaN is all ones (as
        ml_dtypes' float8_e4m3fn), with "none" it holds numbers only.
        paper: sign (1 bit) | E - Emin (e bits) | S (2s bits), with the canonical
        choice of the smallest E whose range holds |x|; zero is all zeros.
        ``decode(encode(x)) == x`` for every value; ``encode`` is injective.
        """
        arr = np.asarray(x, dtype=np.float64)
        bad = ~self.contains(arr)
        if bad.any():
            v = arr[bad].flat[0]
            raise FormatError(f"value {v!r} is not representable in {self.spec}")
        if self.family == "float64":
            return arr.view(np.uint64).copy()
        lo, hi = self.exponent_range
        sign = np.signbit(arr) if self.family == "ieee" else arr < 0
        a = np.abs(arr)
        bits = np.zeros(arr.shape, dtype=np.uint64)
        if self.family == "ieee":
            m = self.m
            top = (1 << self.e) - 1
            with np.errstate(invalid="ignore", divide="ignore"):
                fin = np.isfinite(a) & (a > 0)
                _, ex = np.frexp(np.where(fin, a, 1.0))
                E = ex.astype(np.int64) - 1
                normal = fin & (E >= lo)
                field = np.where(normal, E - lo + 1, 0)
                scale = np.where(normal, E - m, lo - m)
                frac = np.ldexp(np.where(fin, a, 0.0), -scale)
                frac = np.where(normal, frac - 2.0 ** m, frac)
            field = np.where(np.isfinite(a), field, top)
            nan_frac = 2.0 ** m - 1 if self.nonfinite == "nan" else 2.0 ** (m - 1) if m else 0.0
            frac = np.where(np.isnan(a), nan_frac, frac)
            frac = np.where(np.isinf(a), 0.0, frac)
            bits = (field.astype(np.uint64) << np.uint64(m)) | frac.astype(np.uint64)
            width = self.e + m
        else:
            s = self.s
            K = 4 ** s - 1
            E = np.full(arr.shape, lo, dtype=np.int64)
            for Ei in range(hi, lo - 1, -1):        # smallest E with a <= M_E
                E = np.where(a <= math.ldexp(K, Ei - s), Ei, E)
            S = np.ldexp(a, -(E - s))
            bits = (((E - lo).astype(np.uint64)) << np.uint64(2 * s)) | S.astype(np.uint64)
            width = self.e + 2 * s
        bits = bits | (sign.astype(np.uint64) << np.uint64(width))
        return bits.astype(self._uint())

    def decode(self, bits: Any) -> np.ndarray:
        """The values of bit patterns (inverse of ``encode``).

        paper: every pattern is valid (several may give one value; -0 gives 0).
        ieee: patterns with no value in this format (subnormals when they are off,
        inf when overflow saturates) raise FormatError. The top exponent decodes as the
        format's ``nonfinite`` says.
        """
        b = np.asarray(bits)
        if b.dtype.kind not in "ui":
            raise FormatError(f"bit patterns must be integers, got dtype {b.dtype}")
        if (b < 0).any() or (self.bit_width < 64 and (b >> self.bit_width).any()):
            raise FormatError(f"bit pattern wider than {self.bit_width} bits for {self.spec}")
        b = b.astype(np.uint64)
        if self.family == "float64":
            return b.view(np.float64).copy()
        lo, hi = self.exponent_range
        if self.family == "ieee":
            m, top = self.m, (1 << self.e) - 1
            neg = (b >> np.uint64(self.e + m)) & np.uint64(1)
            field = ((b >> np.uint64(m)) & np.uint64(top)).astype(np.int64)
            frac = (b & np.uint64((1 << m) - 1)).astype(np.float64)
            val = np.where(field == 0, np.ldexp(frac, lo - m),
                           np.ldexp(frac + 2.0 ** m, field - 1 + lo - m))
            if self.nonfinite == "ieee":
                special = field == top
                val = np.where(special, np.where(frac == 0, np.inf, np.nan), val)
            else:
                special = np.zeros(b.shape, dtype=bool)    # no inf pattern
                if self.nonfinite == "nan":
                    val = np.where((field == top) & (frac == 2.0 ** m - 1), np.nan, val)
            unused = (special & (frac == 0) & (self.overflow == "saturate")) | \
                     ((field == 0) & (frac != 0) & (not self.subnormals))
            if unused.any():
                raise FormatError(f"bit pattern {int(b[unused].flat[0]):#x} has no value in "
                                  f"{self.spec}")
        else:
            s = self.s
            neg = (b >> np.uint64(self.e + 2 * s)) & np.uint64(1)
            field = ((b >> np.uint64(2 * s)) & np.uint64((1 << self.e) - 1)).astype(np.int64)
            S = (b & np.uint64((1 << 2 * s) - 1)).astype(np.float64)
            val = np.ldexp(S, field + lo - s)
            neg = neg & (S != 0)
        return np.where(neg.astype(bool), -val, val)

    # ------------------------------------------------------------ arithmetic
    def _binary(self, op: int, a: Any, b: Any) -> np.ndarray:
        A, Bv = np.broadcast_arrays(np.asarray(a, dtype=np.float64),
                                    np.asarray(b, dtype=np.float64))
        out = np.empty(A.size, dtype=np.float64)
        _kernels().binary_array(op, np.ascontiguousarray(A).reshape(-1),
                                np.ascontiguousarray(Bv).reshape(-1), self.params, out)
        return out.reshape(A.shape)

    def add(self, a: Any, b: Any) -> np.ndarray:
        """[a + b], elementwise."""
        return self._binary(0, a, b)

    def sub(self, a: Any, b: Any) -> np.ndarray:
        """[a - b], elementwise."""
        return self._binary(1, a, b)

    def mul(self, a: Any, b: Any) -> np.ndarray:
        """[a * b], elementwise."""
        return self._binary(2, a, b)

    def div(self, a: Any, b: Any) -> np.ndarray:
        """[a / b], elementwise; a zero divisor raises DivisionByZero (a model error)."""
        from .errors import DivisionByZero
        if (np.asarray(b, dtype=np.float64) == 0).any():
            raise DivisionByZero(f"division by zero in {self.spec} arithmetic")
        return self._binary(3, a, b)

    def _unary(self, op: int, x: Any) -> np.ndarray:
        arr = np.asarray(x, dtype=np.float64)
        out = np.empty(arr.size, dtype=np.float64)
        _kernels().unary_array(op, np.ascontiguousarray(arr).reshape(-1), self.params, out)
        return out.reshape(arr.shape)

    def exp(self, x: Any) -> np.ndarray:
        """[exp(x)], elementwise."""
        return self._unary(0, x)

    def relu(self, x: Any) -> np.ndarray:
        """[max(x, 0)], elementwise."""
        return self._unary(1, x)

    def sum(self, v: Any, mode: str | int = "iterative") -> float:
        """The sum of a 1-d array in ``iterative`` (0) or ``exact`` (1) mode."""
        k = _kernels()
        arr = np.ascontiguousarray(v, dtype=np.float64).reshape(-1)
        fn = k.sum_exact if sum_mode(mode) == 1 else k.sum_iterative
        return float(fn(arr, self.params))

    def dot(self, w: Any, x: Any, mode: str | int = "iterative") -> float:
        """sum over c of [w[c] * x[c]] in the given sum mode."""
        W = np.ascontiguousarray(w, dtype=np.float64).reshape(-1)
        X = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
        if W.shape != X.shape:
            raise FormatError(f"dot of vectors of lengths {W.size} and {X.size}")
        return float(_kernels().dot(W, X, sum_mode(mode), self.params))


def sum_mode(mode: str | int) -> int:
    """0 for "iterative", 1 for "exact" (ints 0/1 pass through)."""
    if mode in ("iterative", 0):
        return 0
    if mode in ("exact", 1):
        return 1
    raise FormatError(f"sum mode must be 'iterative' or 'exact', got {mode!r}")
