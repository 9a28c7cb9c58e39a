"""modp:P and sqmod:P beyond the one-hidden-unit-per-(state, symbol) table: binary state
codes (a four-layer carry-lookahead adder mod P, a one-layer squaring lookup), checked
token by token against plain-Python arithmetic, and the memory limit named up front."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.errors import CotsimInputError
from transformer_sim.automata import TABULATE_LIMIT, AutomatonError, automaton, modp, sqmod
from transformer_sim.constructions import automaton_cot as ac
from transformer_sim.constructions.automaton_cot import build_automaton_cot, run_automaton_cot


# --- the oracle: Python integers, no table, no NumPy -------------------------------------

def oracle(kind: str, P: int, word: list[str]) -> list[int]:
    out, q = [], 0
    for i, a in enumerate(word):
        if kind == "modp":
            q = (q + int(a)) % P
        else:
            q = int(a) if i == 0 else q * q % P
        out.append(q)
    return out


def word_of(kind: str, P: int, residues: list[int]) -> list[str]:
    if kind == "modp":
        return [str(r % P) for r in residues]
    return [str(residues[0] % P)] + ["^2"] * (len(residues) - 1)


def cot_states(kind: str, P: int, word: list[str], **kw) -> list:
    cot = build_automaton_cot(automaton(f"{kind}:{P}"), len(word), **kw)
    trace = cot.run(word, progress=False)
    assert not trace.undefined
    return cot.states_of(trace.tokens)


# --- the binary constructions at every size ----------------------------------------------

@settings(max_examples=60)
@given(kind=st.sampled_from(["modp", "sqmod"]),
       P=st.sampled_from([2, 3, 4, 5, 7, 8, 13, 16, 31, 32, 33, 64, 65, 97, 128, 255, 257]),
       residues=st.lists(st.integers(0, 10**6), min_size=1, max_size=14))
def test_binary_codes_match_python_arithmetic(kind, P, residues):
    word = word_of(kind, P, residues)
    assert cot_states(kind, P, word, structured=True) == oracle(kind, P, word)


@settings(max_examples=20)
@given(P=st.sampled_from([3, 7, 16, 33]), residues=st.lists(st.integers(0, 999),
                                                            min_size=1, max_size=12))
def test_carries_of_every_length(P, residues):
    """Words of P - 1s and 1s: the sum q + a runs through long carry chains and through
    every wrap-around at P."""
    word = [str((P - 1) if r % 2 else 1) for r in residues]
    assert cot_states("modp", P, word, structured=True) == oracle("modp", P, word)


@pytest.mark.parametrize("fmt", ["paper:e=1,s=2", "paper:e=0,s=5", "bfloat16", "e5m2",
                                 "float64"])
@pytest.mark.parametrize("sum_mode", ["iterative", "exact"])
def test_binary_codes_in_other_formats(fmt, sum_mode):
    rng = np.random.default_rng(len(fmt))
    for kind, P in (("modp", 97), ("sqmod", 101)):
        word = word_of(kind, P, [int(x) for x in rng.integers(0, P, 11)])
        got = cot_states(kind, P, word, structured=True, fmt=fmt, sum_mode=sum_mode)
        assert got == oracle(kind, P, word)


@pytest.mark.parametrize("P", [1009, 10007])
@pytest.mark.parametrize("kind", ["modp", "sqmod"])
def test_large_primes(kind, P):
    rng = np.random.default_rng(P)
    word = word_of(kind, P, [int(x) for x in rng.integers(1, P, 9)])
    out = run_automaton_cot(f"{kind}:{P}", ",".join(word))
    assert out["states"] == oracle(kind, P, word) and out["agrees"] is True
    assert out["layers"] == (4 if kind == "modp" else 1) and out["heads"] == 1


def test_table_up_to_p64_binary_beyond():
    assert build_automaton_cot(modp(64), 3).model.n_layers == 1
    assert build_automaton_cot(modp(64), 3).model.d_ff == 64 * 64
    big = build_automaton_cot(modp(65), 3)
    assert (big.model.n_layers, big.structured) == (4, True)
    # the adder's width grows as log^2 P, the embedding as log P
    m = 7  # bits of 0..64
    assert big.model.d_ff <= m * m + 3 * m + 2
    sq = build_automaton_cot(sqmod(1009), 3).model
    assert (sq.n_layers, sq.d_ff) == (1, 1009 + 10)


def test_large_automata_use_a_transition_function():
    d = modp(1025)  # 1025^2 > TABULATE_LIMIT
    assert 1025 * 1025 > TABULATE_LIMIT and d.delta is None
    assert d.run(["1024", "3", "1000"]) == [1024, 2, 1002]
    small = sqmod(31)
    assert small.delta is not None and small.delta[5, 31] == 25 and small.delta[5, 7] == 7


# --- the memory limit ----------------------------------------------------------------------

def test_memory_limit_is_named(monkeypatch):
    monkeypatch.setattr(ac, "MEMORY_BUDGET", 64 << 20)
    with pytest.raises(AutomatonError) as err:
        build_automaton_cot(modp(20011), 5)
    msg = str(err.value)
    assert "memory limit of 64 MiB" in msg and "allows modp:P up to P = " in msg
    limit = int(msg.rsplit("P = ", 1)[1])
    assert 1000 < limit < 20011
    build_automaton_cot(modp(limit), 5)  # the named P fits
    with pytest.raises(AutomatonError, match="memory limit"):
        build_automaton_cot(modp(limit + 1), 5)
    with pytest.raises(AutomatonError, match="sqmod:P up to"):
        build_automaton_cot(sqmod(20011), 5)


def test_memory_refusal_is_input_error():
    with pytest.raises(CotsimInputError, match="memory limit of 2.0 GiB"):
        run_automaton_cot("modp:300007", "1,2")


# --- word files ------------------------------------------------------------------------------

def test_word_text_commas_newlines_and_blank_lines():
    d = modp(5)
    assert d.parse_word_text("1,2\n\n3\n4,\n,0\r\n 2 , 1 \n", "w.txt") == \
        ("1", "2", "3", "4", "0", "2", "1")


@pytest.mark.parametrize("text, message", [
    ("1,2\n\n3,x\n", "w.txt:3: symbol 'x' at position 4 is not in the alphabet of modp:5"),
    ("1\n2,,3\n", "w.txt:2: an empty symbol at position 3"),
    ("\n\n", "w.txt: the word is empty"),
])
def test_word_text_errors(text, message):
    with pytest.raises(AutomatonError) as err:
        modp(5).parse_word_text(text, "w.txt")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_word_text_rule_errors_name_the_line():
    with pytest.raises(AutomatonError, match=r"^w:3: symbol '2' at position 3: a word of"):
        sqmod(7).parse_word_text("3\n^2\n2\n", "w")
