"""Hypothesis strategies for the transformer side, for property tests of your own
constructions: number formats, their values, models, prompts, automata and words.

They need Hypothesis (``pip install cotsim[test]``); nothing else in cotsim imports them.
Importing this module loads no Numba (drawing values of a wide format rounds with the
kernels, which load on first use).

Example: a model survives a round trip through its `.npz` bytes, in every format.

    from hypothesis import given
    from transformer_sim.npz import from_bytes, to_bytes
    from transformer_sim.strategies import float_formats, models

    @given(models(fmt=float_formats(("paper", "ieee", "float64"))))
    def test_npz_round_trip(model):
        assert from_bytes(to_bytes(model)) == model

The strategies shrink well: sizes are drawn before the contents, so a failing example
shrinks to few layers, heads and dimensions; a format shrinks to ``paper:e=0,s=1`` (or
``ieee:e=2,m=0``), a weight to 0 and then to the values of least magnitude, a DFA to few
states with every transition to ``q0``. Models and prompts are checked by the same
constructors users call (`Model`, `DFA`), so every drawn object is a valid input.
See docs/property-testing.md.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Sequence

import numpy as np
from hypothesis import strategies as st

from .automata import DFA
from .floatformat import (FAMILIES, IEEE_MAX_E, IEEE_MAX_M, IEEE_MIN_E, IEEE_ROUNDINGS,
                          NONFINITE_OVERFLOWS, NONFINITES, OVERFLOWS, PAPER_MAX_E, PAPER_MAX_S,
                          FloatFormat)
from .model import SUM_MODES, Layer, Model

#: formats with at most this many values are drawn from ``values()``; wider ones by
#: rounding drawn floats
ENUMERATE_LIMIT = 1 << 16
#: a range with more values than this is drawn through its spread (`spread_values`):
#: Hypothesis draws an index into a long list mostly from its start
SPREAD_LIMIT = 128
#: the spread of a range puts this many grid points between its ends
GRID = 32
#: the sparsities ``models(sparsity=None)`` picks from (shrinks towards the first)
SPARSITIES = (0.0, 0.5, 0.9)


# --------------------------------------------------------------------- formats
def float_formats(families: Sequence[str] = ("paper", "ieee"), max_bits: int = 8,
                  subnormals: bool | None = None, overflows: Sequence[str] | None = None,
                  roundings: Sequence[str] | None = None,
                  nonfinites: Sequence[str] | None = None) -> st.SearchStrategy[FloatFormat]:
    """A valid `FloatFormat` of one of ``families`` ("paper", "ieee", "float64"), whose
    bit patterns have at most ``max_bits`` bits (1 + e + 2s for paper, 1 + e + m for ieee;
    float64, the unrounded reference, is drawn as it is when listed).

    - paper: e from 0 and s from 1 (``paper:e=0,s=1`` is 3 bits);
    - ieee: e from 2 and m from 0, with ``subnormals`` (None: both, else as given),
      nonfinite one of ``nonfinites`` (what the top exponent holds: "ieee", "nan" as
      float8_e4m3fn, "none" as the FP6/FP4 formats), overflow one of ``overflows`` that
      the nonfinite allows, and rounding one of ``roundings`` (None: all).

    Shrinks towards the first family, the fewest bits, and IEEE's defaults (subnormals,
    inf and NaN at the top exponent, overflow to inf, round to nearest even).
    """
    families = tuple(families)
    if not families or any(f not in FAMILIES for f in families):
        raise ValueError(f"float_formats: families must be a non-empty selection of "
                         f"{', '.join(FAMILIES)}, got {families!r}")
    if not _is_int(max_bits):
        raise ValueError(f"float_formats: max_bits must be an integer, got {max_bits!r}")
    for fam in ("paper", "ieee"):
        if fam in families and max_bits < 3:
            raise ValueError(f"float_formats: the smallest {fam} format has 3 bits, "
                             f"max_bits is {max_bits}")
    if subnormals not in (None, True, False):
        raise ValueError(f"float_formats: subnormals must be None, True or False, "
                         f"got {subnormals!r}")
    overflows = _choices("overflows", overflows, tuple(OVERFLOWS))
    roundings = _choices("roundings", roundings, tuple(IEEE_ROUNDINGS))
    nonfinites = tuple(nf for nf in _choices("nonfinites", nonfinites, tuple(NONFINITES))
                       if set(NONFINITE_OVERFLOWS[nf]) & set(overflows))
    if not nonfinites:
        raise ValueError(f"float_formats: no nonfinite allows the overflows {overflows!r}")
    subs = (True, False) if subnormals is None else (subnormals,)
    parts = []
    for fam in dict.fromkeys(families):
        if fam == "paper":
            parts.append(_paper_formats(max_bits))
        elif fam == "ieee":
            parts.append(_ieee_formats(max_bits, subs, overflows, roundings, nonfinites))
        else:
            parts.append(st.just(FloatFormat.float64()))
    return st.one_of(parts)


def _choices(name: str, given: Sequence[str] | None, allowed: tuple[str, ...]
             ) -> tuple[str, ...]:
    if given is None:
        return allowed
    got = (given,) if isinstance(given, str) else tuple(given)
    if not got or any(g not in allowed for g in got):
        raise ValueError(f"float_formats: {name} must be a non-empty selection of "
                         f"{', '.join(allowed)}, got {given!r}")
    return got


def _paper_formats(max_bits: int) -> st.SearchStrategy[FloatFormat]:
    @st.composite
    def draw(data: st.DrawFn) -> FloatFormat:
        s = data(st.integers(1, min(PAPER_MAX_S, (max_bits - 1) // 2)))
        e = data(st.integers(0, min(PAPER_MAX_E, max_bits - 1 - 2 * s)))
        return FloatFormat.paper(e, s)
    return draw()


def _ieee_formats(max_bits: int, subs: tuple[bool, ...], overflows: tuple[str, ...],
                  roundings: tuple[str, ...], nonfinites: tuple[str, ...]
                  ) -> st.SearchStrategy[FloatFormat]:
    if max_bits < 4:                                     # "nan" needs a mantissa bit
        nonfinites = tuple(n for n in nonfinites if n != "nan")
        if not nonfinites:
            raise ValueError(f"float_formats: the smallest ieee format with nonfinite=nan "
                             f"has 4 bits, max_bits is {max_bits}")

    @st.composite
    def draw(data: st.DrawFn) -> FloatFormat:
        nf = data(st.sampled_from(nonfinites))
        m_min = 1 if nf == "nan" else 0
        e = data(st.integers(IEEE_MIN_E, min(IEEE_MAX_E, max_bits - 1 - m_min)))
        m = data(st.integers(m_min, min(IEEE_MAX_M, max_bits - 1 - e)))
        ovs = [o for o in NONFINITE_OVERFLOWS[nf] if o in overflows]   # default first
        # one draw whatever nf allows, so that shrinking nf to "ieee" shortens nothing
        ov = ovs[data(st.integers(0, len(overflows) - 1)) % len(ovs)]
        return FloatFormat.ieee(e, m, subnormals=data(st.sampled_from(subs)), overflow=ov,
                                rounding=data(st.sampled_from(roundings)), nonfinite=nf)
    return draw()


# --------------------------------------------------------------------- values
def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _as_format(fmt: Any, where: str) -> FloatFormat:
    if isinstance(fmt, FloatFormat):
        return fmt
    if isinstance(fmt, str):
        return FloatFormat.parse(fmt)  # FormatError is a ValueError
    raise ValueError(f"{where}: expected a FloatFormat or a format spec, got "
                     f"{type(fmt).__name__}")


@functools.lru_cache(maxsize=64)
def _binades(fmt: FloatFormat) -> tuple[tuple[int, int, int], ...]:
    """The non-negative values of ``fmt`` as a union of grids {S * 2^x : lo <= S <= hi}."""
    lo, hi = fmt.exponent_range
    if fmt.family == "paper":
        K = 4 ** fmt.s - 1
        return tuple((0, K, E - fmt.s) for E in range(lo, hi + 1))
    m = 52 if fmt.family == "float64" else fmt.m
    sub = fmt.family == "float64" or fmt.subnormals
    out = [(0, 2 ** m - 1 if sub else 0, lo - m)]
    out += [(2 ** m, 2 ** (m + 1) - 1, E - m) for E in range(lo, hi + 1)]
    if fmt.family == "ieee" and fmt.nonfinite == "nan":     # the top pattern is NaN
        out[-1] = (2 ** m, 2 ** (m + 1) - 2, hi - m)
    return tuple(out)


def _scaled(y: float, x: int) -> float:
    """y * 2^-x for y >= 0, inf where that leaves float64."""
    if y == 0.0:
        return 0.0
    return math.inf if math.frexp(y)[1] - x > 1000 else math.ldexp(y, -x)


def _floor_nonneg(fmt: FloatFormat, y: float) -> float:
    """The largest non-negative value of fmt that is <= y (y >= 0)."""
    best = 0.0
    for lo, hi, x in _binades(fmt):
        t = _scaled(y, x)
        S = hi if t >= hi else math.floor(t)
        if S >= lo:
            best = max(best, math.ldexp(S, x))
    return best


def _ceil_nonneg(fmt: FloatFormat, y: float) -> float | None:
    """The smallest non-negative value of fmt that is >= y (y >= 0); None above B."""
    best = None
    for lo, hi, x in _binades(fmt):
        t = _scaled(y, x)
        if t > hi:
            continue
        # y > 0 that underflows in the scaling still needs S >= 1
        v = math.ldexp(max(lo, math.ceil(t), 1 if y > 0 else 0), x)
        best = v if best is None else min(best, v)
    return best


def _at_least(fmt: FloatFormat, y: float) -> float | None:
    """The smallest value of fmt that is >= y, or None."""
    if y <= 0:
        return -_floor_nonneg(fmt, -y) + 0.0
    return _ceil_nonneg(fmt, y)


def _at_most(fmt: FloatFormat, y: float) -> float | None:
    """The largest value of fmt that is <= y, or None."""
    if y >= 0:
        return _floor_nonneg(fmt, y)
    c = _ceil_nonneg(fmt, -y)
    return None if c is None else -c


def _by_magnitude(values: Sequence[float]) -> list[float]:
    """0 first, then increasing magnitude, + before - (what Hypothesis shrinks towards)."""
    return sorted(values, key=lambda v: (abs(v), math.copysign(1.0, v) < 0))


def _has_negative_zero(fmt: FloatFormat) -> bool:
    return fmt.family != "paper"


def _bound(where: str, name: str, v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer,
                                                                np.floating)):
        raise ValueError(f"{where}: {name} must be a number, got {v!r}")
    if not math.isfinite(float(v)):
        raise ValueError(f"{where}: {name} must be finite, got {v!r}")
    return float(v)


def _range(where: str, fmt: FloatFormat, min_value: Any, max_value: Any, allow_zero: bool
           ) -> tuple[float, float, float | None]:
    """(lo, hi, nonzero): the least and greatest values of fmt in the asked range (default
    [-B, B]), and one of its nonzero values (None if it has none). ValueError when the
    range holds no value (no nonzero value, without ``allow_zero``)."""
    a = _bound(where, "min_value", min_value)
    b = _bound(where, "max_value", max_value)
    a = -fmt.max_value if a is None else a
    b = fmt.max_value if b is None else b
    if a > b:
        raise ValueError(f"{where}: min_value {a!r} > max_value {b!r}")
    lo, hi = _at_least(fmt, a), _at_most(fmt, b)
    if lo is None or hi is None or lo > hi:
        raise ValueError(f"{where}: no value of {fmt.spec} lies in [{a!r}, {b!r}]")
    tiny = fmt.min_positive
    pos = _at_least(fmt, max(a, tiny))
    neg = _at_most(fmt, min(b, -tiny))
    nonzero = pos if pos is not None and pos <= b else \
        neg if neg is not None and neg >= a else None
    if not allow_zero and nonzero is None:
        raise ValueError(f"{where}: the only value of {fmt.spec} in [{a!r}, {b!r}] is 0, "
                         "and allow_zero is False")
    return lo, hi, nonzero


def format_values(fmt: FloatFormat | str, min_value: float | None = None,
                  max_value: float | None = None, allow_zero: bool = True
                  ) -> st.SearchStrategy[float]:
    """A finite value of ``fmt`` (a member of F, so ``fmt.round(v) == v``) in
    ``[min_value, max_value]`` (default ``[-B, B]``), as a Python float.

    Formats with at most ``ENUMERATE_LIMIT`` values draw from ``fmt.values()``; wider
    ones round a drawn float to the format. IEEE and float64 zeros come with both signs
    (-0.0 is a value there), paper zeros are +0.0. A range of more than SPREAD_LIMIT
    values draws half the time from its spread (`spread_values`: the ends, the least
    magnitudes, grid points), so that the ends occur. Shrinks towards 0 (or the value of
    least magnitude in range). Raises ValueError when no value of ``fmt`` is in range.
    """
    fmt = _as_format(fmt, "format_values")
    lo, hi, nonzero = _range("format_values", fmt, min_value, max_value, allow_zero)
    spread = _spread(fmt, lo, hi, bool(allow_zero))
    if fmt.num_values <= ENUMERATE_LIMIT:
        pool = _pool(fmt, lo, hi, bool(allow_zero))
        if len(pool) <= SPREAD_LIMIT:
            return st.sampled_from(pool)
        return st.sampled_from(spread) | st.sampled_from(pool)
    paper = fmt.family == "paper"

    def member(x: float) -> float:
        r = float(fmt.round(np.array([x]))[0])
        if paper:
            r += 0.0  # no -0 in paper formats
        if r == 0.0 and not allow_zero:
            return nonzero  # type: ignore[return-value]
        return r

    return st.sampled_from(spread) | st.floats(lo, hi, allow_nan=False,
                                               allow_infinity=False).map(member)


@functools.lru_cache(maxsize=256)
def _pool(fmt: FloatFormat, lo: float, hi: float, allow_zero: bool) -> tuple[float, ...]:
    v = fmt.values()
    v = v[(v >= lo) & (v <= hi)]
    out = [float(x) for x in v if allow_zero or x != 0.0]
    if allow_zero and _has_negative_zero(fmt) and lo <= 0.0 <= hi:
        out.append(-0.0)
    return tuple(_by_magnitude(out))


def spread_values(fmt: FloatFormat | str, min_value: float | None = None,
                  max_value: float | None = None, allow_zero: bool = True
                  ) -> tuple[float, ...]:
    """Not a strategy: at most about 2 * GRID + 6 values of ``fmt`` spread over
    ``[min_value, max_value]`` (default ``[-B, B]``), least magnitude first: both ends,
    0 (both signs where the format has -0) or the values nearest to it, and for GRID - 1
    grid points x the largest value <= x and the value after it (so low significand bits
    occur too). For ``pytest.mark.parametrize``; `format_values` and `models` draw from
    it in wide ranges. Needs no Numba."""
    fmt = _as_format(fmt, "spread_values")
    lo, hi, _ = _range("spread_values", fmt, min_value, max_value, allow_zero)
    return _spread(fmt, lo, hi, bool(allow_zero))


@functools.lru_cache(maxsize=256)
def _spread(fmt: FloatFormat, lo: float, hi: float, allow_zero: bool) -> tuple[float, ...]:
    tiny = fmt.min_positive
    picks = {_at_least(fmt, lo), _at_most(fmt, hi), _at_least(fmt, max(lo, tiny)),
             _at_most(fmt, min(hi, -tiny)), _at_least(fmt, max(lo, 0.0)),
             _at_most(fmt, min(hi, 0.0))}
    for k in range(1, GRID):
        x = _at_most(fmt, lo + k / GRID * (hi - lo))
        if x is not None:
            picks |= {x, _at_least(fmt, math.nextafter(x, math.inf))}
    out = {v + 0.0 for v in picks if v is not None and lo <= v <= hi and
           (allow_zero or v != 0.0)}
    ordered = _by_magnitude(out)
    if 0.0 in out and _has_negative_zero(fmt):
        ordered.insert(1, -0.0)
    return tuple(ordered)


# --------------------------------------------------------------------- models
@functools.lru_cache(maxsize=256)
def _weight_pool(fmt: FloatFormat, bound: float) -> tuple[float, ...]:
    """The nonzero values of fmt with |v| <= bound, least magnitude first: all of them
    when they are few, else their spread (`spread_values`)."""
    if bound < fmt.min_positive:
        return ()
    b = _at_most(fmt, bound)
    if fmt.num_values <= ENUMERATE_LIMIT:
        pool = [v for v in _pool(fmt, -b, b, False)]
        if len(pool) <= SPREAD_LIMIT:
            return tuple(pool)
    return _spread(fmt, -b, b, False)


def _weights(pool: tuple[float, ...], sparsity: float, signed_zero: bool
             ) -> st.SearchStrategy[float]:
    """One weight: an exact zero with probability about ``sparsity`` (at least that of
    any one value of the pool), else a value of the pool. One integer per weight: 0 ..
    Z-1 are zeros (+0, -0 alternating where the format has -0), Z .. are the pool's
    values, so a weight shrinks to 0 whatever the sparsity, then to small values."""
    n = len(pool)
    if n == 0 or sparsity >= 1.0:
        return st.just(0.0)
    Z = max(1, round(sparsity / (1.0 - sparsity) * n))

    def weight(i: int) -> float:
        if i < Z:
            return -0.0 if signed_zero and i % 2 else 0.0
        return pool[i - Z]

    return st.integers(0, Z + n - 1).map(weight)


def _size(name: str, v: Any) -> tuple[int, int]:
    """An int n or a pair (lo, hi), 1 <= lo <= hi."""
    if _is_int(v):
        lo = hi = int(v)
    elif isinstance(v, (tuple, list)) and len(v) == 2 and all(_is_int(x) for x in v):
        lo, hi = int(v[0]), int(v[1])
    else:
        raise ValueError(f"models: {name} must be an integer or a pair (lo, hi) of "
                         f"integers, got {v!r}")
    if not 1 <= lo <= hi:
        raise ValueError(f"models: {name} needs 1 <= lo <= hi, got {v!r}")
    return lo, hi


def _format_strategy(fmt: Any, where: str) -> st.SearchStrategy[FloatFormat]:
    if fmt is None:
        return float_formats()
    if isinstance(fmt, st.SearchStrategy):
        return fmt
    return st.just(_as_format(fmt, where))


def models(fmt: FloatFormat | str | st.SearchStrategy[FloatFormat] | None = None,
           vocab: int | tuple[int, int] = (2, 4), layers: int | tuple[int, int] = (1, 2),
           heads: int | tuple[int, int] = (1, 2), d_model: int | tuple[int, int] = (1, 4),
           d_head: int | tuple[int, int] | None = None, d_ff: int | tuple[int, int] = (1, 4),
           max_len: int | tuple[int, int] = (1, 12), sum_mode: str | None = None,
           sparsity: float | None = None, max_abs: float = 1.0, max_abs_qk: float = 1.0
           ) -> st.SearchStrategy[Model]:
    """A valid `Model`: every weight is a value of its format.

    - ``fmt``: a `FloatFormat`, a spec string, a strategy of formats, or None for
      ``float_formats()``.
    - Sizes (``vocab``, ``layers``, ``heads``, ``d_model``, ``d_head``, ``d_ff``,
      ``max_len``): an int, or a pair (lo, hi) to draw from; ``d_head=None`` draws from
      1 .. the largest ``d_model``.
    - ``sum_mode``: "iterative", "exact", or None for either.
    - ``sparsity``: about this share of the weights are exact zeros (+0 and -0 where the
      format has -0), which the kernels special-case. 0.0 adds no zeros beyond 0's own
      share as a value (Hypothesis favours small draws, so that is still about 1 in 10).
      None draws one of ``SPARSITIES`` per model.
    - Magnitudes: every weight has |w| <= ``max_abs``; Wq and Wk have |w| <=
      ``max_abs_qk``, so that scores stay small, [exp(s)] rarely rounds to 0 and most
      prompts are defined. A bound below the format's smallest positive value gives zero
      weights. When there are many values below a bound, the weights come from their
      spread (`spread_values`: the ends, the least magnitudes, grid points and the
      values after them), so that they are spread over the range.

    Keep models small: each weight is one draw, and Hypothesis limits the data per example.
    """
    fmts = _format_strategy(fmt, "models")
    sizes = {name: _size(name, v) for name, v in (
        ("vocab", vocab), ("layers", layers), ("heads", heads), ("d_model", d_model),
        ("d_ff", d_ff), ("max_len", max_len))}
    sizes["d_head"] = _size("d_head", (1, sizes["d_model"][1]) if d_head is None else d_head)
    if sum_mode is not None and sum_mode not in SUM_MODES:
        raise ValueError(f"models: sum_mode must be None or one of {', '.join(SUM_MODES)}, "
                         f"got {sum_mode!r}")
    if sparsity is not None and (isinstance(sparsity, bool) or
                                 not isinstance(sparsity, (int, float)) or
                                 not 0.0 <= sparsity <= 1.0):
        raise ValueError(f"models: sparsity must be None or a number in [0, 1], "
                         f"got {sparsity!r}")
    for name, v in (("max_abs", max_abs), ("max_abs_qk", max_abs_qk)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v < math.inf:
            raise ValueError(f"models: {name} must be a finite number >= 0, got {v!r}")
    sums = st.sampled_from(SUM_MODES) if sum_mode is None else st.just(sum_mode)
    sparsities = st.sampled_from(SPARSITIES) if sparsity is None else st.just(float(sparsity))
    return _models(fmts, sums, sizes, sparsities, float(max_abs), float(max_abs_qk))


@st.composite
def _models(draw: st.DrawFn, fmts: st.SearchStrategy[FloatFormat],
            sums: st.SearchStrategy[str], sizes: dict[str, tuple[int, int]],
            sparsities: st.SearchStrategy[float], max_abs: float, max_abs_qk: float) -> Model:
    fmt = draw(fmts)
    if not isinstance(fmt, FloatFormat):
        raise ValueError(f"models: the fmt strategy drew {fmt!r}, not a FloatFormat")
    sum_mode = draw(sums)
    V, L, H, d, k, f, N = (draw(st.integers(*sizes[name])) for name in (
        "vocab", "layers", "heads", "d_model", "d_head", "d_ff", "max_len"))
    p = draw(sparsities)
    signed = _has_negative_zero(fmt)
    plain = _weights(_weight_pool(fmt, max_abs), p, signed)
    small = _weights(_weight_pool(fmt, max_abs_qk), p, signed)

    def array(shape: tuple[int, ...], elements: st.SearchStrategy[float] = plain
              ) -> np.ndarray:
        n = math.prod(shape)
        return np.array(draw(st.lists(elements, min_size=n, max_size=n)),
                        dtype=np.float64).reshape(shape)

    TE, PE = array((V, d)), array((N, d))
    lays = tuple(Layer(Wq=array((H, k, d), small), Wk=array((H, k, d), small),
                       Wv=array((H, k, d)), Wo=array((H, d, k)), W1=array((f, d)),
                       b1=array((f,)), W2=array((d, f)), b2=array((d,)))
                 for _ in range(L))
    return Model(fmt=fmt, sum_mode=sum_mode, TE=TE, PE=PE, Wout=array((V, d)),
                 bout=array((V,)), layers=lays)


def prompts(model: Model, min_len: int = 1, max_len: int | None = None,
            cot_steps: int = 1) -> st.SearchStrategy[list[int]]:
    """A prompt for ``model``: a list of token ids in 0 .. vocab-1, of length min_len ..
    max_len (default and cap: as long as the model allows). ``cot_steps`` = T leaves room
    for T CoT steps: n + T - 1 <= model.max_len, as `run_cot` needs. Shrinks towards
    short prompts of token 0."""
    if not isinstance(model, Model):
        raise ValueError(f"prompts: expected a Model, got {type(model).__name__}")
    for name, v in (("min_len", min_len), ("cot_steps", cot_steps)):
        if not _is_int(v) or v < 1:
            raise ValueError(f"prompts: {name} must be an integer >= 1, got {v!r}")
    room = model.max_len - (cot_steps - 1)
    if max_len is not None and (not _is_int(max_len) or max_len < min_len):
        raise ValueError(f"prompts: max_len must be an integer >= min_len = {min_len}, "
                         f"got {max_len!r}")
    if min_len > room:
        raise ValueError(f"prompts: a prompt of {min_len} tokens and {cot_steps} CoT steps "
                         f"needs max_len >= {min_len + cot_steps - 1}; the model has "
                         f"{model.max_len}")
    hi = room if max_len is None else min(int(max_len), room)
    return st.lists(st.integers(0, model.vocab - 1), min_size=min_len, max_size=hi)


def models_with_prompts(min_len: int = 1, max_prompt_len: int | None = None,
                        cot_steps: int = 1, **kwargs: Any
                        ) -> st.SearchStrategy[tuple[Model, list[int]]]:
    """(model, prompt): a model from ``models(**kwargs)`` and a prompt for it. The model's
    max_len is raised to at least min_len + cot_steps - 1 if needed."""
    if not _is_int(min_len) or min_len < 1 or not _is_int(cot_steps) or cot_steps < 1:
        raise ValueError("models_with_prompts: min_len and cot_steps must be integers >= 1")
    if max_prompt_len is not None and (not _is_int(max_prompt_len) or
                                       max_prompt_len < min_len):
        raise ValueError(f"models_with_prompts: max_prompt_len must be None or an integer "
                         f">= min_len = {min_len}, got {max_prompt_len!r}")
    need = min_len + cot_steps - 1
    lo, hi = _size("max_len", kwargs.pop("max_len", (1, 12)))
    kwargs["max_len"] = (max(lo, need), max(hi, need))
    return models(**kwargs).flatmap(lambda m: st.tuples(
        st.just(m), prompts(m, min_len, max_prompt_len, cot_steps)))


# --------------------------------------------------------------------- automata
def dfas(max_states: int = 6, max_symbols: int = 4, min_states: int = 1,
         min_symbols: int = 1) -> st.SearchStrategy[DFA]:
    """A random complete `DFA` named "random": states ``q0 ..``, symbols ``a0 ..``, a
    drawn start state and transition table. Shrinks to few states and symbols, start q0,
    every transition to q0."""
    for name, v in (("min_states", min_states), ("max_states", max_states),
                    ("min_symbols", min_symbols), ("max_symbols", max_symbols)):
        if not _is_int(v) or v < 1:
            raise ValueError(f"dfas: {name} must be an integer >= 1, got {v!r}")
    if min_states > max_states or min_symbols > max_symbols:
        raise ValueError("dfas: needs min_states <= max_states and min_symbols <= "
                         "max_symbols")

    @st.composite
    def draw(data: st.DrawFn) -> DFA:
        Q = data(st.integers(min_states, max_states))
        S = data(st.integers(min_symbols, max_symbols))
        start = data(st.integers(0, Q - 1))
        delta = data(st.lists(st.integers(0, Q - 1), min_size=Q * S, max_size=Q * S))
        return DFA("random", states=tuple(f"q{i}" for i in range(Q)),
                   alphabet=tuple(f"a{j}" for j in range(S)), start=f"q{start}",
                   delta=np.array(delta, dtype=np.int64).reshape(Q, S))

    return draw()


def words(dfa: DFA, max_len: int = 20, min_len: int = 1) -> st.SearchStrategy[list[str]]:
    """A word over ``dfa``'s alphabet (a list of symbol names), min_len .. max_len symbols,
    obeying the DFA's word rule where it has one (sqmod: a residue, then ``^2``s).
    Shrinks towards short words of the first symbol."""
    if not isinstance(dfa, DFA):
        raise ValueError(f"words: expected a DFA, got {type(dfa).__name__}")
    if not _is_int(min_len) or not _is_int(max_len) or not 0 <= min_len <= max_len:
        raise ValueError(f"words: needs integers 0 <= min_len <= max_len, got "
                         f"min_len={min_len!r}, max_len={max_len!r}")
    rule = dfa.word_rule
    if rule is None:
        return st.lists(st.sampled_from(dfa.alphabet), min_size=min_len, max_size=max_len)
    first = [a for a in dfa.alphabet if a in rule.first]
    rest = [a for a in dfa.alphabet if a in rule.rest]
    longest = max_len if rest else min(max_len, 1)
    if (min_len > 0 and not first) or min_len > longest:
        raise ValueError(f"words: the word rule of {dfa.name} ({rule.text}) allows no word "
                         f"of {min_len} .. {max_len} symbols")

    @st.composite
    def draw(data: st.DrawFn) -> list[str]:
        n = data(st.integers(min_len, longest if first else 0))
        if n == 0:
            return []
        return [data(st.sampled_from(first))] + data(
            st.lists(st.sampled_from(rest), min_size=n - 1, max_size=n - 1))

    return draw()


__all__ = ["float_formats", "format_values", "spread_values", "models", "prompts",
           "models_with_prompts", "dfas", "words", "ENUMERATE_LIMIT", "SPREAD_LIMIT", "GRID",
           "SPARSITIES"]
