"""The transformer side's public Hypothesis strategies: what they draw is valid (the
constructors accept it, every weight is a value of its format, prompts are in range), the
constraints hold, every option can be drawn, failures shrink small. Then real properties
run with them: the incremental decoder against the full recompute, the automaton and
circuit constructions against direct evaluation, and the worked example of
docs/property-testing.md, run from the doc itself."""
from __future__ import annotations

import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

import circuits.strategies as circuit_strategies
import transformer_sim.strategies as S
from circuits import Kind
from circuits.builder import CircuitBuilder
from circuits.strategies import circuits_with_inputs
from oracles.gates import reference_evaluate
from transformer_sim.automata import DFA, automaton
from transformer_sim.constructions.automaton_cot import automaton_margins, build_automaton_cot
from transformer_sim.constructions.circuit_cot import build_circuit_cot
from transformer_sim.constructions.retrieval import FormatTooCoarse, retrieval_margins
from transformer_sim.cot import run_cot
from transformer_sim.errors import ModelUndefined
from transformer_sim.floatformat import MAX_ENUMERATED, FloatFormat
from transformer_sim.forward import Decoder, forward_full
from transformer_sim.model import LAYER_ARRAYS, SUM_MODES, Model
from transformer_sim.random_model import random_model
from transformer_sim.strategies import (dfas, float_formats, format_values, models,
                                        models_with_prompts, prompts, words)

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "property-testing.md"
ALL_FAMILIES = ("paper", "ieee", "float64")
FIND = settings(database=None, max_examples=2000, derandomize=True, deadline=None,
                suppress_health_check=list(HealthCheck))
REACH = settings(FIND, phases=[Phase.generate])  # any example will do: no shrinking


def rebuilt(m: Model) -> Model:
    """The same arrays through the Model constructor again, which validates them."""
    return Model(fmt=m.fmt, sum_mode=m.sum_mode, TE=m.TE, PE=m.PE, Wout=m.Wout, bout=m.bout,
                 layers=tuple({n: getattr(lay, n) for n in LAYER_ARRAYS} for lay in m.layers))


def weights(m: Model) -> np.ndarray:
    return np.concatenate([a.ravel() for a in m.named_arrays().values()])


def carries(check):
    def ok(fmt: FloatFormat) -> bool:
        try:
            check(fmt)
            return True
        except FormatTooCoarse:
            return False
    return ok


# -- formats ------------------------------------------------------------------------------
@given(data=st.data())
def test_formats_honour_families_bits_and_options(data):
    fams = data.draw(st.lists(st.sampled_from(ALL_FAMILIES), min_size=1, unique=True))
    bits = data.draw(st.integers(3, 14))
    sub = data.draw(st.sampled_from([None, True, False]))
    ovs = data.draw(st.lists(st.sampled_from(["inf", "saturate"]), min_size=1, unique=True))
    rds = data.draw(st.lists(st.sampled_from(["nearest_even", "toward_zero", "nearest_away"]),
                             min_size=1, unique=True))
    f = data.draw(float_formats(fams, max_bits=bits, subnormals=sub, overflows=ovs,
                                roundings=rds))
    assert f.family in fams
    assert FloatFormat.parse(f.spec) == f  # a valid format, and its spec round-trips
    if f.family != "float64":
        assert f.bit_width <= bits
    if f.family == "ieee":
        assert f.overflow in ovs and f.rounding in rds
        assert sub is None or f.subnormals == sub


def test_formats_honour_nonfinites():
    only = float_formats(("ieee",), max_bits=8, nonfinites=("nan",))
    f = find(only, lambda f: True, settings=FIND)
    assert f == FloatFormat.ieee(2, 1, nonfinite="nan")   # nan needs m >= 1
    f = find(float_formats(("ieee",), overflows=("saturate",), nonfinites=("none",)),
             lambda f: f.bit_width >= 6, settings=FIND)
    assert f == FloatFormat.ieee(2, 3, nonfinite="none")  # as float6_e2m3fn
    with pytest.raises(ValueError, match="no nonfinite allows"):
        float_formats(("ieee",), overflows=("inf",), nonfinites=("none",))


def test_every_format_option_is_reachable():
    for fam in ALL_FAMILIES:
        find(float_formats(ALL_FAMILIES), lambda f, fam=fam: f.family == fam, settings=REACH)
    ieee = float_formats(("ieee",), max_bits=10)
    for r in ("nearest_even", "toward_zero", "nearest_away"):
        find(ieee, lambda f, r=r: f.rounding == r, settings=REACH)
    find(ieee, lambda f: f.overflow == "saturate", settings=REACH)
    for nf, ov in (("nan", "nan"), ("nan", "saturate"), ("none", "saturate")):
        find(ieee, lambda f, nf=nf, ov=ov: (f.nonfinite, f.overflow) == (nf, ov),
             settings=REACH)
    find(ieee, lambda f: not f.subnormals, settings=REACH)
    for fam in ("paper", "ieee"):
        find(float_formats((fam,), max_bits=9), lambda f: f.bit_width == 9, settings=REACH)
    find(float_formats(("paper",)), lambda f: f.is_fixed_point and f.s == 3, settings=REACH)


def test_formats_shrink_to_the_smallest():
    assert find(float_formats(), lambda f: True, settings=FIND) == FloatFormat.paper(0, 1)
    f = find(float_formats(("ieee",), max_bits=12), lambda f: f.bit_width >= 6, settings=FIND)
    assert f == FloatFormat.ieee(2, 3)  # fewest exponent bits, IEEE defaults
    f = find(float_formats(("ieee",)), lambda f: f.rounding == "toward_zero", settings=FIND)
    assert f == FloatFormat.ieee(2, 0, rounding="toward_zero")


# -- values -------------------------------------------------------------------------------
def _check_value(fmt: FloatFormat, v: float, a: float, b: float, allow_zero: bool) -> None:
    assert isinstance(v, float) and math.isfinite(v)
    assert a <= v <= b
    assert fmt.contains(np.array([v]))[0]
    assert allow_zero or v != 0.0
    if fmt.family == "paper":
        assert not (v == 0.0 and math.copysign(1.0, v) < 0)  # no -0 in paper formats


def _bounds(data, fmt: FloatFormat) -> tuple[float | None, float | None]:
    B = fmt.max_value
    bound = st.none() | st.floats(-1.5 * B, 1.5 * B, allow_infinity=False)
    a = data.draw(bound, label="min_value")
    b = data.draw(bound, label="max_value")
    if a is not None and b is not None and a > b:
        a, b = b, a
    return a, b


def _values_oracle(data, fmt: FloatFormat) -> None:
    """format_values against the format's own enumeration: it refuses exactly the empty
    ranges, and what it draws is in range and in F."""
    a, b = _bounds(data, fmt)
    allow_zero = data.draw(st.booleans(), label="allow_zero")
    lo = -fmt.max_value if a is None else a
    hi = fmt.max_value if b is None else b
    vals = fmt.values()
    inside = vals[(vals >= lo) & (vals <= hi) & (allow_zero | (vals != 0.0))]
    if inside.size == 0:
        with pytest.raises(ValueError, match="format_values"):
            format_values(fmt, a, b, allow_zero)
        return
    v = data.draw(format_values(fmt, a, b, allow_zero), label="value")
    _check_value(fmt, v, lo, hi, allow_zero)
    assert v in inside


@given(fmt=float_formats(max_bits=12), data=st.data())
def test_values_of_small_formats(fmt, data):
    _values_oracle(data, fmt)


@settings(max_examples=25)
@given(fmt=float_formats(max_bits=22).filter(
    lambda f: S.ENUMERATE_LIMIT < f.num_values <= MAX_ENUMERATED), data=st.data())
def test_values_of_wide_formats(fmt, data):
    _values_oracle(data, fmt)  # the rounding path, still checked by enumeration


@given(data=st.data())
def test_values_of_float64(data):
    fmt = FloatFormat.float64()
    a, b = _bounds(data, fmt)
    v = data.draw(format_values(fmt, a, b))
    _check_value(fmt, v, -fmt.max_value if a is None else a, fmt.max_value if b is None else b,
                 True)


def test_every_kind_of_value_is_reachable():
    for spec in ("paper:e=1,s=2", "float16", "paper:e=0,s=12", "float64"):
        fmt = FloatFormat.parse(spec)
        vals = format_values(fmt)
        for want in (lambda v: v == fmt.max_value, lambda v: v == -fmt.max_value,
                     lambda v: 0 < v < 1, lambda v: v == 0.0):
            find(vals, want, settings=REACH)
        if fmt.family != "paper":
            find(vals, lambda v: v == 0.0 and math.copysign(1.0, v) < 0, settings=REACH)
    # narrow ranges whose ends are no values: their least value, enumerated and wide
    for spec, a, b, one in (("paper:e=0,s=2", 0.3, 0.45, 0.25 + 0.125),
                            ("paper:e=0,s=12", 0.3, 0.3 + 2 ** -12, 0.300048828125)):
        fmt = FloatFormat.parse(spec)
        assert find(format_values(fmt, a, b), lambda v: True, settings=FIND) == \
            float(fmt.round(np.array([one]))[0])


@given(fmt=float_formats(ALL_FAMILIES, max_bits=14), data=st.data())
def test_spread_values(fmt, data):
    a, b = _bounds(data, fmt)
    allow_zero = data.draw(st.booleans())
    try:
        values = S.spread_values(fmt, a, b, allow_zero)
    except ValueError:
        with pytest.raises(ValueError):
            format_values(fmt, a, b, allow_zero)  # the same range is refused there
        return
    lo = -fmt.max_value if a is None else a
    hi = fmt.max_value if b is None else b
    assert 1 <= len(values) <= 2 * S.GRID + 6
    for v in values:
        _check_value(fmt, v, lo, hi, allow_zero)
    assert [abs(v) for v in values] == sorted(abs(v) for v in values)
    if fmt.num_values <= S.ENUMERATE_LIMIT:  # the ends are the range's own ends
        vals = fmt.values()
        inside = vals[(vals >= lo) & (vals <= hi) & (allow_zero | (vals != 0.0))]
        assert min(values) == inside.min() and max(values) == inside.max()
        if allow_zero and 0.0 in inside and fmt.family == "ieee":
            assert any(v == 0 and math.copysign(1, v) < 0 for v in values)


def test_values_shrink_towards_zero_or_the_least_magnitude():
    assert find(format_values("float16"), lambda v: True, settings=FIND) == 0.0
    assert find(format_values("float16", allow_zero=False), lambda v: True,
                settings=FIND) == 2.0 ** -24
    assert find(format_values("paper:e=1,s=2", 0.7, 3), lambda v: True, settings=FIND) == 0.75
    assert find(format_values("float16", -3.0, -1.5), lambda v: True, settings=FIND) == -1.5


# -- models -------------------------------------------------------------------------------
def _range(data, name: str, lo: int, hi: int) -> tuple[int, int]:
    a = data.draw(st.integers(lo, hi), label=f"{name} lo")
    return a, data.draw(st.integers(a, hi), label=f"{name} hi")


@settings(max_examples=40)
@given(data=st.data())
def test_models_are_valid_and_honour_their_constraints(data):
    sizes = {"vocab": _range(data, "vocab", 1, 4), "layers": _range(data, "layers", 1, 2),
             "heads": _range(data, "heads", 1, 2), "d_model": _range(data, "d_model", 1, 3),
             "d_head": _range(data, "d_head", 1, 3), "d_ff": _range(data, "d_ff", 1, 3),
             "max_len": _range(data, "max_len", 1, 6)}
    fmt = data.draw(st.none() | float_formats(ALL_FAMILIES, max_bits=16), label="fmt")
    sum_mode = data.draw(st.sampled_from([None, *SUM_MODES]), label="sum_mode")
    sparsity = data.draw(st.sampled_from([None, 0.0, 0.3, 0.9, 1.0]), label="sparsity")
    max_abs = data.draw(st.sampled_from([0.0, 0.25, 1.0, 3.0]), label="max_abs")
    max_abs_qk = data.draw(st.sampled_from([0.0, 0.5, 2.0]), label="max_abs_qk")
    m = data.draw(models(fmt=fmt, sum_mode=sum_mode, sparsity=sparsity, max_abs=max_abs,
                         max_abs_qk=max_abs_qk, **sizes))
    assert rebuilt(m) == m
    for arr in m.named_arrays().values():
        assert fmt_contains_all(m.fmt, arr)
    got = {"vocab": m.vocab, "layers": m.n_layers, "heads": m.heads, "d_model": m.d_model,
           "d_head": m.d_head, "d_ff": m.d_ff, "max_len": m.max_len}
    for name, (lo, hi) in sizes.items():
        assert lo <= got[name] <= hi, name
    assert fmt is None or m.fmt == fmt
    assert sum_mode is None or m.sum_mode == sum_mode
    for name, arr in m.named_arrays().items():
        assert np.abs(arr).max() <= (max_abs_qk if name.endswith(("Wq", "Wk")) else max_abs)
    w = weights(m)
    if sparsity == 1.0:
        assert not w.any()
    if m.fmt.family == "paper":
        assert not np.signbit(w[w == 0.0]).any()


def fmt_contains_all(fmt: FloatFormat, arr: np.ndarray) -> bool:
    return bool(np.all(fmt.contains(arr)) and np.all(np.isfinite(arr)))


def test_d_head_defaults_to_the_d_model_range():
    find(models(d_model=3), lambda m: m.d_head == 3, settings=REACH)
    find(models(d_model=(1, 2)), lambda m: m.d_head == 2 and m.d_model == 1, settings=REACH)


#: statistical checks: a fixed sample whatever the profile
SAMPLE = settings(database=None, derandomize=True, deadline=None,
                  suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("p,lo,hi", [(0.0, 0.0, 0.25), (0.5, 0.3, 0.7), (0.9, 0.75, 1.0)])
def test_sparsity_sets_the_share_of_zero_weights(p, lo, hi):
    shares: list[float] = []

    @settings(SAMPLE, max_examples=15)
    @given(models(fmt="float16", sparsity=p, d_model=4, d_ff=4, d_head=4, max_len=8))
    def draw(m):
        shares.append(float((weights(m) == 0.0).mean()))

    draw()
    assert lo <= np.mean(shares) <= hi  # at 0.0, zero is one value of about 130


def test_every_model_feature_is_reachable():
    for mode in SUM_MODES:
        find(models(), lambda m, mode=mode: m.sum_mode == mode, settings=REACH)
    for size, most in (("vocab", 4), ("n_layers", 2), ("heads", 2), ("d_model", 4),
                       ("d_head", 4), ("d_ff", 4), ("max_len", 12)):
        find(models(), lambda m, size=size, most=most: getattr(m, size) == most,
             settings=REACH)
    find(models(fmt="float16"), lambda m: (np.signbit(weights(m)) & (weights(m) == 0)).any(),
         settings=REACH)  # a -0 weight
    find(models(), lambda m: (weights(m) == 0).any() and (weights(m) != 0).any(),
         settings=REACH)
    find(models(fmt="paper:e=0,s=3"), lambda m: Decoder(m).kernel == "fixed-point",
         settings=REACH)
    find(models(fmt="float16"), lambda m: Decoder(m).kernel == "general+skips",
         settings=REACH)


def _defined(case) -> bool:
    model, prompt = case
    try:
        forward_full(model, prompt)
        return True
    except ModelUndefined:
        return False


def test_most_prompts_are_defined_and_undefined_ones_can_be_drawn():
    outcomes: list[bool] = []

    @settings(SAMPLE, max_examples=150)
    @given(models_with_prompts())
    def draw(case):
        outcomes.append(_defined(case))

    draw()
    assert np.mean(outcomes) >= 0.8  # the defaults keep scores small
    find(models_with_prompts(max_abs_qk=4.0), lambda c: not _defined(c), settings=REACH)


SMALLER = {"vocab": (2, 3), "d_model": (1, 3), "d_ff": (1, 3), "max_len": (1, 6)}


def test_models_shrink_to_the_smallest():
    m = find(models(**SMALLER), lambda m: m.n_layers == 2, settings=FIND)
    assert (m.vocab, m.heads, m.d_model, m.d_head, m.d_ff, m.max_len) == (2, 1, 1, 1, 1, 1)
    assert m.fmt == FloatFormat.paper(0, 1) and m.sum_mode == "iterative"
    assert not weights(m).any()
    m = find(models(**SMALLER), lambda m: m.bout.any(), settings=FIND)
    w = weights(m)
    assert m.n_layers == 1 and np.count_nonzero(w) == 1
    assert np.count_nonzero(m.bout) == 1 and w.max() == m.fmt.min_positive


# -- prompts ------------------------------------------------------------------------------
@given(data=st.data())
def test_prompts_fit_the_model(data):
    model = data.draw(models(max_len=(3, 10)))
    steps = data.draw(st.integers(1, 3))
    lo = data.draw(st.integers(1, model.max_len - steps + 1))
    hi = data.draw(st.none() | st.integers(lo, 14))
    p = data.draw(prompts(model, lo, hi, cot_steps=steps))
    assert all(isinstance(t, int) and 0 <= t < model.vocab for t in p)
    assert lo <= len(p) <= model.max_len - steps + 1 and (hi is None or len(p) <= hi)
    model.check_tokens(p, extra_positions=steps - 1)  # the model's own validation


def small_model(vocab: int = 2, max_len: int = 3) -> Model:
    return random_model(vocab, 1, 1, 2, 2, max_len, "paper:e=0,s=2", check_prompts=0)


def test_prompts_reach_every_token_and_the_longest_length():
    model = small_model(vocab=3, max_len=5)
    find(prompts(model), lambda p: len(p) == 5 and set(p) == {0, 1, 2}, settings=REACH)
    assert find(prompts(model), lambda p: True, settings=FIND) == [0]


@settings(max_examples=10)
@given(models_with_prompts(min_len=4, cot_steps=3, max_len=(1, 2), max_prompt_len=5))
def test_models_with_prompts_make_room_for_the_prompt(case):
    m, p = case
    assert m.max_len == 6 and len(p) == 4


# -- automata -----------------------------------------------------------------------------
@given(lo=st.integers(1, 4), hi=st.integers(4, 7), slo=st.integers(1, 3),
       shi=st.integers(3, 5), data=st.data())
def test_dfas_and_words(lo, hi, slo, shi, data):
    dfa = data.draw(dfas(max_states=hi, max_symbols=shi, min_states=lo, min_symbols=slo))
    assert lo <= dfa.num_states <= hi and slo <= dfa.num_symbols <= shi
    assert DFA(dfa.name, dfa.states, dfa.alphabet, dfa.start, dfa.delta).num_states \
        == dfa.num_states
    n = data.draw(st.integers(0, 8))
    w = data.draw(words(dfa, max_len=n + 3, min_len=n))
    assert n <= len(w) <= n + 3
    assert len(dfa.run(w)) == len(w)  # run checks every symbol


@pytest.mark.parametrize("name", ["parity", "modp:5", "s5", "sqmod:7"])
@given(data=st.data())
def test_words_of_shipped_automata_obey_their_rules(name, data):
    dfa = automaton(name)
    w = data.draw(words(dfa, max_len=6))
    assert 1 <= len(w) <= 6
    dfa.check_word(w)  # raises on a symbol the word rule forbids


def test_automata_reach_their_extremes_and_shrink():
    find(dfas(max_states=5, max_symbols=3),
         lambda d: d.num_states == 5 and d.num_symbols == 3 and d.start == "q4"
         and (d.delta == 4).any(), settings=REACH)
    d = find(dfas(), lambda d: d.num_states >= 3, settings=FIND)
    assert (d.num_states, d.num_symbols, d.start) == (3, 1, "q0") and not d.delta.any()
    w = find(words(automaton("sqmod:7"), max_len=5), lambda w: len(w) >= 3, settings=FIND)
    assert w == ["0", "^2", "^2"]


# -- bad arguments --------------------------------------------------------------------------
BAD = {
    "no family": lambda: float_formats(()),
    "unknown family": lambda: float_formats(("posit",)),
    "too few bits": lambda: float_formats(max_bits=2),
    "bits not int": lambda: float_formats(max_bits=8.0),
    "subnormals": lambda: float_formats(subnormals="yes"),
    "overflow": lambda: float_formats(overflows=("wrap",)),
    "rounding": lambda: float_formats(roundings=()),
    "values: format": lambda: format_values(3),
    "values: spec": lambda: format_values("paper:e=0"),
    "values: order": lambda: format_values("float16", 2.0, 1.0),
    "values: nan": lambda: format_values("float16", math.nan),
    "values: empty": lambda: format_values("paper:e=1,s=1", 1.1, 1.4),
    "values: only zero": lambda: format_values("paper:e=0,s=1", -0.2, 0.2, allow_zero=False),
    "values: above B": lambda: format_values("paper:e=0,s=1", 2.0, 3.0),
    "spread: empty": lambda: S.spread_values("paper:e=1,s=1", 1.1, 1.4),
    "models: size": lambda: models(vocab=0),
    "models: pair": lambda: models(layers=(2, 1)),
    "models: type": lambda: models(heads="2"),
    "models: d_head": lambda: models(d_head=(0, 2)),
    "models: sum": lambda: models(sum_mode="kahan"),
    "models: sparsity": lambda: models(sparsity=1.5),
    "models: max_abs": lambda: models(max_abs=-1.0),
    "models: max_abs_qk": lambda: models(max_abs_qk=math.inf),
    "models: fmt": lambda: models(fmt=16),
    "prompts: model": lambda: prompts("model"),
    "prompts: min_len": lambda: prompts(small_model(), min_len=0),
    "prompts: too long": lambda: prompts(small_model(), min_len=4),
    "prompts: no room": lambda: prompts(small_model(), min_len=2, cot_steps=3),
    "prompts: max < min": lambda: prompts(small_model(), min_len=2, max_len=1),
    "pairs: max_prompt_len": lambda: models_with_prompts(min_len=3, max_prompt_len=2),
    "dfas: zero": lambda: dfas(max_states=0),
    "dfas: order": lambda: dfas(min_symbols=3, max_symbols=2),
    "words: dfa": lambda: words("parity"),
    "words: order": lambda: words(automaton("parity"), max_len=1, min_len=2),
    "words: closed rule": lambda: words(dfa_without_first()),
}


def dfa_without_first() -> DFA:
    """A DFA whose word rule lets no symbol open a word."""
    from transformer_sim.automata import WordRule
    return DFA("closed", states=("q0",), alphabet=("a",), start="q0", delta=np.zeros((1, 1)),
               word_rule=WordRule(first=frozenset(), rest=frozenset({"a"}), text="nothing"))


@pytest.mark.parametrize("make", list(BAD.values()), ids=list(BAD))
def test_bad_arguments_fail_at_once_with_a_clear_value_error(make):
    with pytest.raises(ValueError) as err:
        make()
    assert "\n" not in str(err.value) and len(str(err.value)) > 10


def test_importing_the_strategies_loads_no_numba():
    code = ("import sys, transformer_sim.strategies as s; s.float_formats(); "
            "s.models(fmt='float16'); assert 'numba' not in sys.modules, 'numba'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


# -- properties run with the strategies -------------------------------------------------
def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.tobytes() == b.tobytes()


@settings(max_examples=30)
@given(qk=st.sampled_from([1.0, 4.0]), data=st.data())
def test_decoder_equals_full_recompute(qk, data):
    model, prompt = data.draw(models_with_prompts(fmt=float_formats(ALL_FAMILIES, 10),
                                                  max_abs_qk=qk))
    for kw in ({}, {"fast": False, "skips": False}):
        dec = Decoder(model, **kw)
        for t, tok in enumerate(prompt):
            try:
                nxt = dec.push(tok)
            except ModelUndefined as e:
                with pytest.raises(ModelUndefined) as full:
                    forward_full(model, prompt[:t + 1])
                assert str(full.value) == str(e)
                break
            full = forward_full(model, prompt[:t + 1])
            assert _same_bits(dec.logits, full.logits) and nxt == full.token


AUTOMATON_FORMATS = float_formats(max_bits=9).filter(carries(automaton_margins))
CIRCUIT_FORMATS = float_formats(max_bits=9).filter(carries(retrieval_margins))


@settings(max_examples=25)
@given(dfa=dfas(max_states=5, max_symbols=4), fmt=AUTOMATON_FORMATS,
       sum_mode=st.sampled_from(SUM_MODES), data=st.data())
def test_automaton_construction_runs_random_dfas(dfa, fmt, sum_mode, data):
    word = data.draw(words(dfa, max_len=12), label="word")
    cot = build_automaton_cot(dfa, len(word), fmt, sum_mode=sum_mode)
    trace = cot.run(word)
    assert not trace.undefined, trace.reason
    assert cot.states_of(trace.tokens) == dfa.run(word)


@settings(max_examples=20)
@given(case=circuits_with_inputs(max_inputs=4, max_gates=10, max_batch=3),
       fmt=CIRCUIT_FORMATS, sum_mode=st.sampled_from(SUM_MODES))
def test_circuit_construction_evaluates_random_circuits(case, fmt, sum_mode):
    circuit, X = case
    cot = build_circuit_cot(circuit, fmt, sum_mode=sum_mode)
    want = reference_evaluate(circuit, X).astype(int)
    for x, y in zip(X.astype(int), want):
        trace = run_cot(cot.model, cot.prompt(x), cot.cot_steps, progress=False)
        assert not trace.undefined, trace.reason
        assert cot.read_outputs(trace.tokens) == y.tolist()


@pytest.mark.parametrize("kind", [Kind.AND, Kind.OR, Kind.NAND, Kind.NOR, Kind.XOR, Kind.XNOR])
def test_circuit_construction_one_input_gates(kind):
    """Found by the test above under HYPOTHESIS_PROFILE=dev: a fan-in-1 XOR is x (parity),
    not f(x, x)."""
    b = CircuitBuilder(strash=False, fold=False)
    x = b.inputs(["x0"])
    b.output("y0", b.gate(kind, [x[0]]))
    circuit = b.build()
    cot = build_circuit_cot(circuit)
    X = np.array([[False], [True]])
    want = reference_evaluate(circuit, X).astype(int)
    for x, y in zip(X.astype(int), want):
        trace = run_cot(cot.model, cot.prompt(x), cot.cot_steps, progress=False)
        assert cot.read_outputs(trace.tokens) == y.tolist()


# -- the worked example of docs/property-testing.md, run from the doc -------------------------
def doc_files() -> dict[str, str]:
    """The doc's ```python blocks whose first line is ``# NAME.py``: the user's files
    (conftest.py aside: loading its profile here would replace the suite's)."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    out = {}
    for block in blocks:
        head = re.match(r"# (\w+\.py)\n", block)
        if head and head.group(1) != "conftest.py":
            out[head.group(1)] = block
    return out


def load_doc_tests(tmp_path: Path, files: dict[str, str]) -> list:
    """Write the user's files to tmp_path, import the test modules, return their tests."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    found = []
    for name in files:
        if name.startswith("test_"):
            spec = importlib.util.spec_from_file_location(name[:-3], tmp_path / name)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            found += [getattr(module, a) for a in dir(module) if a.startswith("test_")]
    return found


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    """tmp_path on sys.path; the user's modules are forgotten before and after."""
    names = [n[:-3] for n in doc_files()]
    for n in names:
        sys.modules.pop(n, None)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for n in names:
        sys.modules.pop(n, None)


def test_the_doc_examples_run_and_their_properties_hold(user_dir):
    files = doc_files()
    assert {"copy_offset.py", "test_copy_offset.py", "test_more_properties.py"} <= set(files)
    tests = load_doc_tests(user_dir, files)
    assert len(tests) == 4
    for test in tests:
        test()  # Hypothesis runs it under the active profile (tests/conftest.py)


def test_the_doc_example_catches_a_wrong_construction(user_dir):
    """The doc's property is not vacuous: with the offset off by one it fails."""
    files = doc_files()
    bad = files["copy_offset.py"].replace("max(0, p - offset)", "max(0, p - offset - 1)")
    assert bad != files["copy_offset.py"]
    [test] = load_doc_tests(user_dir, {"copy_offset.py": bad,
                                       "test_copy_offset.py": files["test_copy_offset.py"]})
    with pytest.raises(AssertionError):
        test()


def test_the_doc_conftest_block_compiles():
    blocks = re.findall(r"```python\n(# conftest\.py\n.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 1 and "derandomize=True, deadline=None" in blocks[0]
    compile(blocks[0], "conftest.py", "exec")


def test_the_doc_lists_every_exported_strategy():
    text = DOC.read_text()
    for mod in (S, circuit_strategies):
        for name in mod.__all__:
            if callable(getattr(mod, name)):
                assert f"`{name}(" in text, name
