"""Automaton -> CoT transformer: every emitted state token against the automaton, and the
automata themselves against independent implementations."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles.automata import oracle, perm_oracle

from circuits.errors import CotsimInputError
from transformer_sim.automata import DFA, MAX_P, AutomatonError, automaton, modp, parity, s5, \
    sqmod, symmetric
from transformer_sim.constructions.automaton_cot import MAX_WORD, automaton_margins, \
    build_automaton_cot, minimum_fixed_point_format, run_automaton_cot
from transformer_sim.constructions.retrieval import DEFAULT_SPEC, FormatTooCoarse
from transformer_sim.floatformat import FloatFormat

# Minutes at the forward pass's current speed: run with COTSIM_SLOW=1.

PERMS5 = ["".join(p) for p in itertools.permutations("01234")]


# --- independent oracles: tests/oracles/automata.py -----------------------------------------

def random_word(name: str, n: int, rng: np.random.Generator) -> list[str]:
    if name == "s5":
        return [PERMS5[i] for i in rng.integers(0, 120, n)]
    if name.startswith("sqmod:"):
        return [str(rng.integers(0, int(name[6:])))] + ["^2"] * (n - 1)
    size = 2 if name == "parity" else int(name.split(":")[1])
    return [str(x) for x in rng.integers(0, size, n)]


def cot_states(name: str, word: list[str], fmt=None, **kw) -> list:
    cot = build_automaton_cot(automaton(name), len(word), fmt, **kw)
    trace = cot.run(word, progress=False)
    assert not trace.undefined
    return cot.states_of(trace.tokens)


# --- the automata ------------------------------------------------------------------------

@settings(max_examples=40)
@given(name=st.sampled_from(["parity", "modp:2", "modp:5", "modp:13", "s5", "sqmod:7",
                             "sqmod:11", "sqmod:64"]),
       n=st.integers(1, 30), seed=st.integers(0, 2**32 - 1))
def test_shipped_automata_match_oracles(name, n, seed):
    word = random_word(name, n, np.random.default_rng(seed))
    assert automaton(name).run(word) == [type(s)(s) for s in oracle(name, word)]


def test_contract_examples():
    assert s5().run(["10234"]) == ["10234"]
    assert s5().start == "01234"
    assert s5().num_states == s5().num_symbols == 120
    assert sqmod(7).run(["3", "^2", "^2"]) == [3, 2, 4]  # 3, 9 mod 7, 81 mod 7
    assert parity().run(["1", "1", "0", "1"]) == [1, 0, 0, 1]
    assert modp(5).run(["4", "3"]) == [4, 2]


@pytest.mark.parametrize("kwargs, match", [
    (dict(delta=np.array([[0, 1]])), "shape"),                       # a state has no row
    (dict(delta=np.array([[0, 2], [1, 0]])), "outside the state indices"),
    (dict(delta=np.array([[0, -1], [1, 0]])), "outside the state indices"),
    (dict(delta=np.array([[0, 0.5], [1, 0]])), "integers"),
    (dict(states=(0, 0)), "appears twice"),
    (dict(states=(1, "1")), "appears twice"),
    (dict(alphabet=("a", "a")), "appears twice"),
    (dict(alphabet=("a", "b,c")), "without commas"),
    (dict(start=7), "start state"),
    (dict(states=()), "no states"),
])
def test_dfa_validation(kwargs, match):
    args = dict(name="t", states=(0, 1), alphabet=("a", "b"), start=0,
                delta=np.array([[0, 1], [1, 0]]))
    args.update(kwargs)
    with pytest.raises(AutomatonError, match=match) as err:
        DFA(**args)
    assert isinstance(err.value, CotsimInputError)


def test_permutation_automaton_is_checked():
    good = symmetric(3)
    delta = np.array(good.delta)
    delta[0, 1] = (delta[0, 1] + 1) % 6
    with pytest.raises(AutomatonError, match="is not x -> g"):
        DFA("bad", good.states, good.alphabet, good.start, delta, permutation_degree=3)


def test_dfa_is_immutable():
    d = parity()
    with pytest.raises(ValueError):
        d.delta[0, 0] = 1
    with pytest.raises(AttributeError):
        d.start = 1


@pytest.mark.parametrize("name, word, message", [
    ("parity", "0,1,x", "symbol 'x' at position 3 is not in the alphabet of parity: 0, 1"),
    ("parity", "0,,1", "an empty symbol at position 2 is not in the alphabet of parity"),
    ("parity", "", "the word is empty"),
    ("modp:3", "0,3", "symbol '3' at position 2 is not in the alphabet of modp:3: 0, 1, 2"),
    ("s5", "01234,01235", "symbol '01235' at position 2 is not in the alphabet of s5: the "
                          "120 permutations of 01234"),
    ("sqmod:7", "^2,^2", "symbol '^2' at position 1: a word of sqmod:7 is a start residue R "
                         "in 0..6 followed by symbols ^2"),
    ("sqmod:7", "3,^2,4", "symbol '4' at position 3"),
    ("sqmod:7", "9", "symbol '9' at position 1 is not in the alphabet"),
])
def test_word_errors(name, word, message):
    with pytest.raises(AutomatonError) as err:
        automaton(name).parse_word(word)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name, match", [
    ("s6", "unknown automaton 's6'"), ("modp", "needs a modulus"), ("modp:1", "from 2 to"),
    ("modp:x", "from 2 to"), (f"sqmod:{MAX_P + 1}", "from 2 to"), ("sqmod:-3", "from 2 to"),
    ("", "unknown automaton"),
])
def test_bad_automaton_names(name, match):
    with pytest.raises(AutomatonError, match=match):
        automaton(name)


def test_parse_word_strips_spaces():
    assert parity().parse_word(" 1, 0 ,1") == ("1", "0", "1")


# --- the construction --------------------------------------------------------------------

@settings(max_examples=40)
@given(name=st.sampled_from(["parity", "modp:2", "modp:3", "modp:7", "s5", "sqmod:5",
                             "sqmod:13"]),
       n=st.integers(1, 24), seed=st.integers(0, 2**32 - 1))
def test_cot_states_equal_automaton(name, n, seed):
    word = random_word(name, n, np.random.default_rng(seed))
    assert cot_states(name, word) == automaton(name).run(word)


@st.composite
def random_dfas(draw):
    Q = draw(st.integers(1, 6))
    S = draw(st.integers(1, 5))
    delta = draw(st.lists(st.lists(st.integers(0, Q - 1), min_size=S, max_size=S),
                          min_size=Q, max_size=Q))
    start = draw(st.integers(0, Q - 1))
    return DFA("random", states=tuple(f"q{i}" for i in range(Q)),
               alphabet=tuple(f"a{j}" for j in range(S)), start=f"q{start}",
               delta=np.array(delta))


@settings(max_examples=40)
@given(dfa=random_dfas(), data=st.data())
def test_random_dfas(dfa, data):
    word = data.draw(st.lists(st.sampled_from(dfa.alphabet), min_size=1, max_size=20))
    cot = build_automaton_cot(dfa, len(word))
    trace = cot.run(word)
    assert cot.states_of(trace.tokens) == dfa.run(word)


FORMATS = ["paper:e=0,s=3", "paper:e=0,s=5", "paper:e=1,s=2", "paper:e=2,s=2", "bfloat16",
           "float16", "e5m2", "ieee:e=2,m=1", "float64"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("sum_mode", ["iterative", "exact"])
def test_formats_and_sum_modes(fmt, sum_mode):
    rng = np.random.default_rng(len(fmt))
    for name in ("parity", "modp:3", "s5", "sqmod:11"):
        word = random_word(name, 17, rng)
        assert cot_states(name, word, fmt, sum_mode=sum_mode) == automaton(name).run(word)


@settings(max_examples=15)
@given(n=st.integers(1, 20), seed=st.integers(0, 2**32 - 1))
def test_structured_and_generic_mlp_agree_on_s3(n, seed):
    dfa = symmetric(3)
    word = [dfa.alphabet[i] for i in np.random.default_rng(seed).integers(0, 6, n)]
    a = build_automaton_cot(dfa, n, structured=True)
    b = build_automaton_cot(dfa, n, structured=False)
    assert a.model.d_ff == 27 and b.model.d_ff == 36
    ta, tb = a.run(word), b.run(word)
    assert ta.tokens == tb.tokens
    assert a.states_of(ta.tokens) == dfa.run(word)


def test_attention_is_exactly_one_hot_on_the_symbol():
    word = random_word("s5", 9, np.random.default_rng(3))
    cot = build_automaton_cot(s5(), 9)
    trace = cot.run(word, record_attention=True)
    n = 9
    for t in range(1, n + 1):  # step t is computed at position n + t - 1 and reads w_t
        a = trace.attention[n + t - 1][0, 0]
        want = np.zeros(n + t)
        want[t] = 1.0
        assert np.array_equal(a, want)


@pytest.mark.parametrize("name", ["parity", "s5"])
def test_long_word(name):
    """A few hundred symbols: one model, one run, every state token checked."""
    n = 300
    word = random_word(name, n, np.random.default_rng(11))
    assert cot_states(name, word) == [type(s)(s) for s in oracle(name, word)]


@pytest.mark.parametrize("name", ["parity", "s5"])
def test_word_of_ten_thousand_symbols(name):
    """10^4 symbols through the generic forward pass, in the same format as short words."""
    n = 10_000
    word = random_word(name, n, np.random.default_rng(12))
    assert cot_states(name, word) == [type(s)(s) for s in oracle(name, word)]


def test_same_format_and_shape_for_every_length():
    shapes = []
    for n in (1, 2, 7, 100, 2000):
        cot = build_automaton_cot(s5(), n)
        m = cot.model
        assert m.fmt.spec == DEFAULT_SPEC
        assert (m.n_layers, m.heads, m.d_ff, m.vocab) == (1, 1, 125, 241)
        assert m.max_len == 2 * n
        bits = max(1, (2 * n - 1).bit_length())
        assert m.d_model == 100 + 4 * bits  # only the address codes grow
        shapes.append(m.d_model)
    assert shapes == sorted(shapes)


def test_margins_refuse_too_coarse_formats():
    assert minimum_fixed_point_format() == DEFAULT_SPEC
    for spec in ("paper:e=0,s=1", "paper:e=0,s=2"):
        with pytest.raises(FormatTooCoarse, match="narrowest fixed-point format that carries "
                                                  "the automaton construction is paper:e=0,s=3"):
            build_automaton_cot(parity(), 4, spec)
    with pytest.raises(FormatTooCoarse):
        run_automaton_cot("parity", "1,0", "paper:e=0,s=2")
    rows = dict(automaton_margins(DEFAULT_SPEC).rows())
    assert rows["[exp(-c)]"] == "0" and rows["mismatch penalty c"] == "3.5"


def test_margins_are_computed_in_the_format():
    m = automaton_margins(FloatFormat.parse(DEFAULT_SPEC))
    assert m.mlp_sums == (2.0, 1.0, 0.0, -1.0)
    assert m.perm_wrong_logit == -2.0
    F = FloatFormat.parse(DEFAULT_SPEC)
    assert F.exp(np.array([-m.retrieval.c]))[0] == 0.0  # one-hot softmax
    assert F.exp(np.array([-m.retrieval.c + 0.0625]))[0] > 0.0  # c is the smallest such


# --- the library entry point of `cotsim cot --automaton` ----------------------------------

def test_run_automaton_cot_json():
    out = run_automaton_cot("s5", "10234,01243,43210")
    assert set(out) == {"states", "final", "cot_steps", "layers", "heads", "d_model",
                        "format", "agrees"}
    assert out["states"] == perm_oracle(["10234", "01243", "43210"])
    assert out["final"] == out["states"][-1]
    assert (out["cot_steps"], out["layers"], out["heads"]) == (3, 1, 1)
    assert out["format"] == DEFAULT_SPEC and out["agrees"] is True
    json.dumps(out)
    out = run_automaton_cot("sqmod:7", "3,^2,^2")
    assert out["states"] == [3, 2, 4] and out["final"] == 4
    out = run_automaton_cot("parity", "1,1,0,1", fmt="bfloat16")
    assert out["states"] == [1, 0, 0, 1] and out["format"] == "ieee:e=8,m=7"


@pytest.mark.parametrize("name, word", [
    ("nope", "1"), ("modp:0", "1"), ("parity", "2"), ("sqmod:5", "^2"), ("s5", "1234"),
    ("parity", ""),
])
def test_run_automaton_cot_bad_input(name, word):
    with pytest.raises(CotsimInputError):
        run_automaton_cot(name, word)


def test_word_length_limit():
    with pytest.raises(AutomatonError, match="word length"):
        build_automaton_cot(parity(), MAX_WORD + 1)
    with pytest.raises(AutomatonError, match="word length"):
        build_automaton_cot(parity(), 0)
