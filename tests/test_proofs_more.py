"""The theorem checks no_cot_is_constant_depth, cot_upper_bound, regular_languages_by_cot
and precision_limits: each holds in quick mode, and each fails, with a reason that says
where, when it is handed a broken object."""
from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import proofs
from proofs import cot_upper_bound as cub
from proofs import no_cot_is_constant_depth as ncd
from proofs import precision_limits as pl
from proofs import regular_languages_by_cot as rlc
from proofs.base import FAILS, HOLDS

from conftest import REPO

NEW = ("no_cot_is_constant_depth", "cot_upper_bound", "regular_languages_by_cot",
       "precision_limits")


@pytest.fixture(scope="module")
def quick():
    return {r.name: r for r in proofs.run_checks(NEW, quick=True)}


def _rows(result):
    return [dict(zip(result.table.columns, row)) for row in result.table.rows]


def test_registered_in_order():
    names = proofs.names()
    assert all(n in names for n in NEW)
    for n in NEW:
        assert proofs.load(n).claim


def test_each_quick_check_holds(quick):
    for name in NEW:
        r = quick[name]
        assert r.verdict == HOLDS, f"{name}: {r.reason}"
        assert r.table.rows and r.figures
        for fig, content in r.figures.items():
            if fig.endswith(".svg"):
                text = content.decode() if isinstance(content, bytes) else content
                assert "<svg" in text


# -- no_cot_is_constant_depth ---------------------------------------------------------------
def test_no_cot_table(quick):
    result = quick["no_cot_is_constant_depth"]
    rows = _rows(result)
    subjects = {(s.label, s.construction): s for s in ncd.default_subjects()}
    by = {}
    for r in rows:
        by.setdefault((r["model"], r["sums"]), []).append(r)
    assert set(by) == set(subjects)
    assert all(r["agrees"] is True for r in rows)
    for key, rs in by.items():
        s = subjects[key]
        assert [r["n"] for r in rs] == ncd._lengths(s, True, None)
        bounds = {r["depth bound"] for r in rs}
        if s.constant_depth:
            flat = [r["depth"] for r in rs if s.flat_from is None or r["n"] >= s.flat_from]
            assert len(flat) >= 2 and max(flat) - min(flat) <= s.depth_slack, key
            assert flat[-1] <= max(flat[:-1]), key
            assert len(bounds) == 1 and all(r["depth"] <= r["depth bound"] for r in rs), key
    # Theorem 3.1: AND/OR/NOT only, paper:e=0,s=1, up to n = 24; Theorem 3.2 up to n = 64
    ac0 = [r for r in rows if r["sums"] == "ac0"]
    assert ac0 and all(r["basis"] == "AC0" for r in ac0) and max(r["n"] for r in ac0) >= 24
    assert max(r["n"] for r in rows if r["sums"] == "tc0") >= 64
    assert all(r["basis"] == "TC0" for r in rows if r["sums"] == "exact")
    # Theorem 3.2 with O(log n) bits: the format grows with n, the circuits stay TC0
    logn = [r for r in rows if r["row"] == "Theorem 3.2, O(log n) bits"]
    assert [r["n"] for r in logn] == list(ncd.LOG_BITS_QUICK)
    assert all(r["basis"] == "TC0" for r in logn)
    assert any("n = 32 in paper:e=0,s=5, arithmetic:" in n and "n = 8 in paper:e=0,s=3"
               in n for n in result.notes)
    # the majority model's tree depth is 3 log2 n + 9 in paper:e=1,s=1 (docs/compiler.md)
    tree = by[("majority, paper:e=1,s=1", "tree")]
    assert all(r["depth"] == 3 * int(math.log2(r["n"])) + 9 for r in tree)
    assert any("3*log2(n) + 9" in n for n in result.notes)
    assert any("ac0 against the naive tree" in n for n in result.notes)
    assert any(name.endswith("_circuit.svg") for name in result.figures)


def _flip_output_gate(circuit, output):
    """The circuit with the gate driving ``output`` changed: AND <-> OR (else the
    threshold of a THR/MAJ raised by one)."""
    from circuits.ir import Kind

    node = int(circuit.output_ids[circuit.output_names.index(output)])
    kinds = circuit.kinds.copy()
    thresholds = circuit.thresholds.copy()
    k = Kind(int(kinds[node]))
    if k == Kind.AND:
        kinds[node] = int(Kind.OR)
    elif k == Kind.OR:
        kinds[node] = int(Kind.AND)
    else:
        assert k in (Kind.THR, Kind.MAJ), k
        thresholds[node] += 1
    return dataclasses.replace(circuit, kinds=kinds, thresholds=thresholds)


def _majority(sum_mode="exact", fmt="paper:e=1,s=1", iterative="tree"):
    from transformer_sim.compile.examples import majority_model

    return ncd.Subject("majority", lambda L: majority_model(L, fmt, sum_mode), sum_mode,
                       sum_mode == "exact", iterative=iterative)


def test_one_changed_gate_in_the_compiled_circuit_fails():
    def tamper(cm):
        return dataclasses.replace(cm, circuit=_flip_output_gate(cm.circuit, "tok0"))

    r = ncd.run(subjects=[_majority()], lengths=(4, 8), tamper=tamper)
    assert r.verdict == FAILS
    assert "majority (exact) n = 4" in r.reason and "disagrees with the simulator" in r.reason


def test_growing_depth_claimed_constant_fails():
    s = dataclasses.replace(_majority("iterative"), constant_depth=True)
    r = ncd.run(subjects=[s], lengths=(4, 8, 16))
    assert r.verdict == FAILS and "depth is not constant" in r.reason
    assert "15 at n = 4" in r.reason


def test_log_bits_row_demands_that_its_depth_stopped_growing():
    """The O(log n)-bit row allows its depth to move by ``depth_slack`` levels, never to
    grow at the largest n nor to spread wider (its verdict on measured ladders)."""
    row = next(s for s in ncd.default_subjects() if s.at is not None)
    assert row.depth_slack == 2 and row.arith == "auto"

    def judge(depths):
        ms = [{"n": n, "depth": d, "bound": 391, "size": 100 * n, "wires": 400 * n,
               "basis": "TC0", "format": "paper:e=0,s=3", "arith_ops": {}}
              for n, d in zip((8, 16, 32, 64), depths)]
        return ncd._judge(row, ms, [])

    assert judge([150, 150, 150, 149]) == []
    assert any("still grows at n = 64" in p for p in judge([150, 150, 149, 151]))
    assert any("not constant in n (within 2 levels)" in p for p in judge([147, 150, 150, 149]))
    assert any("exceeds the bound" in p for p in judge([150, 150, 150, 392]))


def test_theorem_rows_fail_when_their_depth_grows():
    """The Theorem 3.1 row, its circuits swapped for the tree's (whose depth grows past
    n = 16), must fail on the flatness it claims from n = 16 on."""
    row = next(s for s in ncd.default_subjects() if s.iterative == "ac0")
    r = ncd.run(subjects=[dataclasses.replace(row, iterative="tree")], lengths=(16, 24))
    assert r.verdict == FAILS and "depth is not constant in n from n = 16 on" in r.reason
    # and an AC0 row that gets threshold gates fails on its basis
    tc0 = dataclasses.replace(row, iterative="tc0")
    r = ncd.run(subjects=[tc0], lengths=(8, 16))
    assert r.verdict == FAILS and "is TC0, not AC0" in r.reason


def test_blind_contrast_fails():
    s = dataclasses.replace(_majority("exact"), constant_depth=False)
    r = ncd.run(subjects=[s], lengths=(8, 16))
    assert r.verdict == FAILS and "blind" in r.reason


@given(st.lists(st.integers(-50, 50), min_size=4, max_size=7), st.integers(0, 2))
def test_fit_polynomial_matches_numpy(ys, degree):
    xs = list(range(1, len(ys) + 1))
    fit = ncd.fit_polynomial(xs, ys, degree)
    want = np.polyfit(xs, ys, degree)[::-1]
    got = [float(fit.expr.coeff(fit.var, k)) if k else float(fit.expr.subs(fit.var, 0))
           for k in range(degree + 1)]
    assert np.allclose(got, want, atol=1e-6)


def test_held_out_fit_rejects_exponential_growth():
    xs = [4, 8, 16, 32, 64]
    assert min(h.error for h in ncd.held_out_fits(xs, [2 ** (x // 4) for x in xs])) > 0.5
    assert min(h.error for h in ncd.held_out_fits(xs, [3 * x * x + 7 for x in xs])) < 1e-9


# -- cot_upper_bound -------------------------------------------------------------------------
def test_cot_upper_bound_table(quick):
    r = quick["cot_upper_bound"]
    rows = _rows(r)
    maj = [row for row in rows if row["model"] == "majority, exact"]
    assert [row["T (CoT steps)"] for row in maj] == list(cub.QUICK_STEPS)
    assert all(row["agrees with run_cot"] is True for row in rows)
    assert all(row["chain size"] <= row["sum of step sizes"] for row in rows)
    # exactly linear from T = 2 on: equal increments per step
    sizes = {row["T (CoT steps)"]: row["chain size"] for row in maj}
    per = (sizes[8] - sizes[2]) / 6
    assert all(sizes[T] == sizes[2] + per * (T - 2) for T in sizes if T >= 2)
    assert "linear in T" in r.reason


def test_chain_with_a_changed_gate_fails():
    def tamper(cc):
        return dataclasses.replace(cc, circuit=_flip_output_gate(cc.circuit, "step1_tok0"))

    s = cub.Subject("majority, exact", _majority().make, 4, True)
    r = cub.run(subjects=[s], steps=(2,), tamper=tamper)
    assert r.verdict == FAILS and "T = 2" in r.reason and "disagrees with run_cot" in r.reason


def test_chain_of_a_model_with_a_perturbed_weight_fails():
    """The circuit is compiled from the model; a model that differs in one embedding
    weight from the one the chain was compiled for must be caught by run_cot."""
    def tamper(cc):
        m = cc.model
        TE = m.TE.copy()
        TE[1, 1] = -TE[1, 1]
        return dataclasses.replace(cc, model=dataclasses.replace(m, TE=TE))

    s = cub.Subject("majority, exact", _majority().make, 4, True)
    r = cub.run(subjects=[s], steps=(1, 2), tamper=tamper)
    assert r.verdict == FAILS and "disagrees with run_cot" in r.reason


def test_superlinear_chain_claimed_linear_fails():
    s = dataclasses.replace(cub.default_subjects()[1], linear=True)  # iterative majority
    r = cub.run(subjects=[s], steps=(2, 3, 4, 12))
    assert r.verdict == FAILS and "not linear in T" in r.reason


# -- regular_languages_by_cot ----------------------------------------------------------------
def test_regular_languages_table(quick):
    rows = _rows(quick["regular_languages_by_cot"])
    assert {r["automaton"] for r in rows} == {"parity", f"modp:{rlc.MODP}", "s5",
                                            f"sqmod:{rlc.SQMOD}"}
    assert {r["word length"] for r in rows} == set(rlc.QUICK_LENGTHS)
    assert len({r["format"] for r in rows}) == 1
    assert all(r["layers"] == 1 and r["heads"] == 1 for r in rows)
    for r in rows:
        assert r["tokens checked"] == r["CoT steps"] == r["word length"]
        assert r["address bits m"] == math.ceil(math.log2(2 * r["word length"]))
        assert r["every token agrees"] is True


def test_oracles_are_right_on_small_words():
    assert rlc._parity_oracle(list("1101")) == [1, 0, 0, 1]
    assert rlc._modp_oracle(5)(["3", "4", "1"]) == [3, 2, 3]
    assert rlc._sqmod_oracle(7)(["3", "^2", "^2"]) == [3, 2, 4]
    # reading g maps q to x -> g[q[x]]: the 3-cycle 12034, its square 20134, then the identity
    g = "12034"
    assert rlc._s5_oracle([g, g, g]) == ["12034", "20134", "01234"]


def test_wrong_dfa_transition_fails():
    from transformer_sim.automata import DFA

    bad = DFA("parity", states=(0, 1), alphabet=("0", "1"), start=0,
              delta=np.array([[0, 1], [1, 1]]))  # 1 then 1 should go back to 0
    task = dataclasses.replace(rlc.default_tasks()[0], dfa=bad)
    r = rlc.run(tasks=[task], lengths=(10,))
    assert r.verdict == FAILS
    assert "parity, 10 symbols: CoT step" in r.reason and "the oracle says 0" in r.reason


def test_a_format_outside_the_claim_fails():
    """The claim is constant-precision fixed point: an IEEE format is rejected."""
    r = rlc.run(tasks=rlc.default_tasks()[:1], lengths=(10,), fmt="bfloat16")
    assert r.verdict == FAILS and "not a fixed-size paper format" in r.reason


# -- precision_limits ------------------------------------------------------------------------
def test_bfloat16_limit_is_derived(quick):
    import ml_dtypes

    rows = _rows(quick["precision_limits"])
    bf = next(r for r in rows if str(r["format"]).startswith("bfloat16"))
    p = ml_dtypes.finfo(ml_dtypes.bfloat16).nmant + 1
    assert bf["uniform-attention limit N"] == 2 ** p + 1 == 257
    assert bf["first failing n (forward pass)"] == 257 and bf["as predicted"] is True
    log_rows = [r for r in rows if r["precision"] == "O(log n)"]
    assert {r["n"] for r in log_rows} == set(pl.QUICK_LOG_NS)
    assert all(r["first failing n (forward pass)"] == "none" for r in log_rows)


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_ieee_count_threshold_is_two_to_the_p_plus_one(m):
    from transformer_sim import FloatFormat

    fmt = FloatFormat.ieee(5, m)
    assert pl.collision_threshold(fmt, "count") == 2 ** (m + 1) + 1
    assert pl.collision_threshold(fmt, "parity") == 2 ** (m + 1) + 1


def test_bf16_limit_by_ml_dtypes():
    assert pl.bf16_limit_ml_dtypes() == 257


def test_wrong_threshold_claim_fails():
    def late(fmt, task):
        return pl.collision_threshold(fmt, task) + 1

    r = pl.run(log_ns=(8,), formats=("e5m2",), tasks=("count",), predict=late, big=None)
    assert r.verdict == FAILS
    assert "first fails at n = 9" in r.reason and "predicts n* = 10" in r.reason

    def early(fmt, task):
        return pl.collision_threshold(fmt, task) - 1

    r = pl.run(log_ns=(8,), formats=("e5m2",), tasks=("parity",), predict=early, big=None)
    assert r.verdict == FAILS and "exact for every n <= 8" in r.reason


def test_constant_format_claimed_as_log_precision_fails():
    from transformer_sim import FloatFormat

    r = pl.run(log_ns=(24,), formats=(), log_format=lambda n: FloatFormat.parse("e5m2"),
               big=None)
    assert r.verdict == FAILS
    assert "O(log n) precision: count at n = 24 in ieee:e=5,m=2 answers" in r.reason


def test_python_dash_m_runs_a_new_check():
    proc = subprocess.run([sys.executable, "-m", "proofs.regular_languages_by_cot", "--quick"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "verdict: HOLDS" in proc.stdout and "s5" in proc.stdout
