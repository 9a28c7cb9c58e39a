"""The theorem-check framework and its first checks (proofs/)."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import proofs
from cotsim.cli import main
from proofs import cot_simulates_circuits as csc
from proofs import rounding_is_counter_free as rcf
from proofs.base import FAILS, HOLDS, CheckResult, Table, run_safely
from proofs.tables import render_html, render_markdown, render_text

from conftest import REPO, needs_benchmarks


# -- the quick checks hold ------------------------------------------------------------------
# The other registered checks run in tests/test_proofs_more.py; running them here too
# would only double the time.
OWN = ["rounding_is_counter_free", "cot_simulates_circuits"]


@pytest.fixture(scope="module")
def quick_results():
    return {r.name: r for r in proofs.run_checks(OWN, quick=True)}


def test_the_first_checks_hold_in_quick_mode(quick_results):
    assert list(quick_results) == OWN and set(OWN) <= set(proofs.names())
    for r in quick_results.values():
        assert r.verdict == HOLDS, f"{r.name}: {r.reason}"
        assert r.table.columns and r.table.rows


def test_rounding_table_contrasts_z2(quick_results):
    r = quick_results["rounding_is_counter_free"]
    cols = r.table.columns
    rows = {row[0]: dict(zip(cols, row)) for row in r.table.rows}
    assert rows["Z2"]["aperiodic"] is False and rows["Z2"]["max period"] == 2
    papers = [v for k, v in rows.items() if k.startswith("paper:")]
    assert papers and all(v["all monotone"] and v["aperiodic"] for v in papers)
    # paper:e=0,s=1 is 7 points; its closure is small enough to enumerate in full
    assert rows["paper:e=0,s=1"]["|F|"] == 7


@needs_benchmarks
def test_cot_check_covers_every_token_and_the_width_bound(quick_results):
    r = quick_results["cot_simulates_circuits"]
    cols = r.table.columns
    rows = [dict(zip(cols, row)) for row in r.table.rows]
    assert {"c17", "c432"} <= {row["circuit"] for row in rows}
    for row in rows:
        assert row["tokens checked"] == row["inputs run"] * row["T (CoT steps)"]
        assert row["every token agrees"] is True
        assert row["d_model"] <= 14 * np.log2(row["n"] + row["T (CoT steps)"])
    assert len({(row["layers"], row["heads"], row["format"]) for row in rows}) == 1
    c17 = next(row for row in rows if row["circuit"] == "c17")
    assert c17["inputs run"] == 32  # exhaustive
    assert any(name.endswith("_attention.svg") for name in r.figures)


# -- a broken construction makes the check fail --------------------------------------------
def _c17_only():
    from proofs.cot_simulates_circuits import iscas

    inst = iscas(["c17"])
    if not inst:
        pytest.skip("no ISCAS-85 benchmarks")
    return inst


def _perturbed_build(edit):
    from transformer_sim.constructions.circuit_cot import build_circuit_cot

    def build(circuit):
        cot = build_circuit_cot(circuit)
        arrays = {"PE": cot.model.PE.copy(), "W1": cot.model.layers[0].W1.copy()}
        edit(cot, arrays)
        layer = dataclasses.replace(cot.model.layers[0], W1=arrays["W1"])
        model = dataclasses.replace(cot.model, PE=arrays["PE"], layers=(layer,))
        return dataclasses.replace(cot, model=model)

    return build


def test_wrong_truth_table_in_one_pe_entry_fails():
    def edit(cot, a):
        p = cot.program.num_inputs  # the position where step 0 is computed
        t = cot.layout.T
        a["PE"][p, t:t + 4] = 1 - a["PE"][p, t:t + 4]  # NAND -> AND

    r = csc.run(instances=_c17_only(), build=_perturbed_build(edit))
    assert r.verdict == FAILS
    assert "step 0" in r.reason and "G10gat" in r.reason and "direct evaluation" in r.reason


def test_one_perturbed_mlp_weight_fails():
    def edit(cot, a):
        a["W1"][3, cot.layout.A] = -a["W1"][3, cot.layout.A]

    r = csc.run(instances=_c17_only(), build=_perturbed_build(edit))
    assert r.verdict == FAILS and "c17, input" in r.reason


def test_an_internal_gate_error_is_caught_even_when_outputs_agree():
    """Every token is compared, not only the outputs: a wrong value of a gate that no
    output depends on still fails the check."""
    from circuits import CircuitBuilder
    from proofs.cot_simulates_circuits import Instance

    b = CircuitBuilder(strash=False, fold=False)
    x, y = b.inputs(["x", "y"])
    b.AND(x, y)  # dead gate, step 0
    b.output("o", b.OR(x, y))
    circuit = b.build()

    def edit(cot, a):
        p = cot.program.num_inputs
        t = cot.layout.T
        a["PE"][p, t:t + 4] = 1 - a["PE"][p, t:t + 4]

    good = csc.run(instances=[Instance("dead", circuit)])
    assert good.verdict == HOLDS, good.reason
    bad = csc.run(instances=[Instance("dead", circuit)],
                                            build=_perturbed_build(edit))
    assert bad.verdict == FAILS and "step 0" in bad.reason


# -- rounding_is_counter_free on injected generator sets --------------------------------------
def test_non_monotone_generators_fail():
    # m = (0, 2, 0) is aperiodic (m^2 = m^3 = 0) but not monotone
    fam = rcf.Generators("bent", np.array([[0, 2, 0], [0, 1, 2]]), True, "injected")
    r = rcf.run(families=[fam, rcf.mod_generators(2)])
    assert r.verdict == FAILS
    assert "bent: generator" in r.reason and "not monotone" in r.reason


def test_a_group_among_counter_free_generators_fails():
    fam = rcf.Generators("swap", np.array([[1, 0, 2]]), True, "injected")
    r = rcf.run(families=[fam])
    assert r.verdict == FAILS and "period 2" in r.reason


def test_blind_aperiodicity_test_would_fail():
    fam = rcf.Generators("not a group", np.array([[0, 0]]), False, "injected")
    r = rcf.run(families=[fam])
    assert r.verdict == FAILS and "blind" in r.reason


def test_rounding_generators_match_the_format():
    from transformer_sim import FloatFormat

    g = rcf.rounding_generators(1, 1)
    v = FloatFormat.paper(1, 1).values()
    a, x = 3, 5
    assert v[g.maps[a, x]] == FloatFormat.paper(1, 1).add(v[x], v[a])
    assert g.points == len(v) == 11


def _naive_closure(maps):
    n = len(maps[0])
    ident = tuple(range(n))
    seen, todo = {ident}, [ident]
    while todo:
        m = todo.pop()
        for g in maps:
            c = tuple(g[m[x]] for x in range(n))
            if c not in seen:
                seen.add(c)
                todo.append(c)
    return seen


def _naive_index_period(m):
    n = len(m)
    powers = [tuple(range(n))]
    while True:
        powers.append(tuple(m[x] for x in powers[-1]))
        last = powers[-1]
        for k in range(1, len(powers) - 1):
            if powers[k] == last:
                return k, len(powers) - 1 - k


maps_strategy = st.integers(1, 5).flatmap(lambda n: st.lists(
    st.lists(st.integers(0, n - 1), min_size=n, max_size=n), min_size=1, max_size=3))


@given(maps_strategy)
def test_closure_and_index_period_match_naive(maps):
    mono = rcf.closure(np.array(maps), cap=10_000)
    assert mono.complete
    got = {tuple(int(v) for v in row) for row in mono.elements}
    assert got == _naive_closure(maps)
    assert len(got) == len(mono.elements)
    idx, per = rcf.index_period(mono.elements)
    for row, k, p in zip(mono.elements, idx, per):
        assert (int(k), int(p)) == _naive_index_period(tuple(int(v) for v in row))


def test_closure_cap_is_reported():
    g = rcf.rounding_generators(0, 2)
    mono = rcf.closure(g.maps, cap=100)
    assert not mono.complete and len(mono.elements) > 100
    r = rcf.run(families=[g, rcf.mod_generators(2)], cap=100)
    assert r.verdict == HOLDS and any("Capped" in n for n in r.notes)
    assert any(str(row[4]).startswith(">=") for row in r.table.rows)


# -- the framework -----------------------------------------------------------------------------
class _Raises:
    name = "raises"
    claim = "nothing"

    def run(self, quick):
        raise ZeroDivisionError("boom")


def test_an_exception_inside_a_check_is_that_check_failing():
    r = run_safely(_Raises(), quick=True)
    assert r.verdict == FAILS and "ZeroDivisionError: boom" in r.reason


def test_other_checks_still_run_after_one_breaks(monkeypatch):
    monkeypatch.setitem(proofs.REGISTRY, "broken", "no_such_module")
    results = proofs.run_checks(["broken", "rounding_is_counter_free"], quick=True)
    assert [r.verdict for r in results] == [FAILS, HOLDS]
    assert "ModuleNotFoundError" in results[0].reason


def test_check_result_validates_verdict():
    with pytest.raises(ValueError):
        CheckResult("x", "claim", "maybe", "why")


def test_table_renderers():
    t = Table(("name", "n", "ok"), [("a|b", 3, True), ("<c>", 12, False)])
    text = render_text(t).splitlines()
    assert text[0].split() == ["name", "n", "ok"] and text[2].split()[-1] == "yes"
    assert text[2].index("3") == text[3].index("12") + 1  # numbers right-aligned
    md = render_markdown(t)
    assert "a\\|b" in md and "---:" in md
    h = render_html(t)
    assert "&lt;c&gt;" in h and 'class="no"' in h
    with pytest.raises(ValueError):
        Table(("a", "b"), [(1,)])


# -- the command line ---------------------------------------------------------------------------
def test_cli_unknown_name_is_one_line_exit_2(capsys):
    assert main(["check", "no_such_check"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_such_check" in err[0] and "rounding_is_counter_free" in err[0]


def test_cli_json_and_exit_status(capsys, monkeypatch):
    assert main(["check", "rounding_is_counter_free", "--quick", "--json"]) == 0
    out = capsys.readouterr()
    rec = json.loads(out.out.strip())
    assert rec["name"] == "rounding_is_counter_free" and rec["verdict"] == "holds"
    assert "rounding_is_counter_free" in out.err  # progress on stderr

    def failing(quick=True):
        return CheckResult("rounding_is_counter_free", rcf.CLAIM, FAILS, "injected")
    monkeypatch.setattr(rcf, "run", failing)
    assert main(["check", "rounding_is_counter_free"]) == 1
    table = capsys.readouterr().out
    assert "fails" in table and "injected" in table


def test_python_dash_m_runs_one_check():
    proc = subprocess.run([sys.executable, "-m", "proofs.rounding_is_counter_free", "--quick"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "verdict: HOLDS" in proc.stdout and "paper:e=0,s=1" in proc.stdout
