"""`cotsim prove` (Theorem 3.3 proven on every input by ABC) and `cot --save-model`.

The prover compiles the CoT transformer's T steps into one circuit and has ABC ``cec``
compare it with the circuit. The tests check that it proves true claims (c17, random
circuits) and that it sees false ones: a mutated reference, a tampered transformer, and
a transformer whose outputs have the right low bit but are not bits (BOS for 0).
"""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

import circuits
from circuits.families import random_circuit
from transformer_sim.constructions.circuit_cot import BOS, build_circuit_cot
from transformer_sim.cot import run_cot
from transformer_sim.npz import load as load_model
from transformer_sim.prove import prove

from conftest import BENCHMARKS, needs_abc, needs_benchmarks, run_cli

C17 = BENCHMARKS / "iscas85" / "c17.bench"
MUTANT_LINE = ("G19gat = nand(G11gat, G7gat)", "G19gat = nor(G11gat, G7gat)")


def all_inputs(n: int) -> np.ndarray:
    return ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).astype(bool)


def cot_outputs(cot, X: np.ndarray) -> np.ndarray:
    """The read-out tokens of ``cot`` on every row of X (run token by token)."""
    return np.array([run_cot(cot.model, cot.prompt(x.astype(int)), cot.cot_steps,
                             progress=False).tokens[-cot.program.num_outputs:] for x in X])


@pytest.fixture(scope="module")
def mutant(tmp_path_factory):
    """c17 with one NAND turned into a NOR, checked by simulation to differ."""
    text = C17.read_text()
    assert MUTANT_LINE[0] in text
    path = tmp_path_factory.mktemp("mut") / "c17_mutant.bench"
    path.write_text(text.replace(*MUTANT_LINE))
    X = all_inputs(5)
    diff = circuits.evaluate(circuits.load(C17), X) != circuits.evaluate(circuits.load(path), X)
    assert diff.any(), "the mutation must change the function"
    return path


@needs_abc
@needs_benchmarks
def test_c17_is_proven():
    c = circuits.load(C17)
    p = prove(c)
    assert p.equivalent and p.counterexample is None
    assert p.cot_steps == 6 + 2 and p.inputs == 5 and p.outputs == 2
    assert p.compiled_size > 0 and p.compiled_depth > 0


@needs_abc
@pytest.mark.parametrize("gates,seed", [(10, 1), (6, 2)])
def test_random_circuits_are_proven(gates, seed):
    c = random_circuit(4, gates, max_fanin=3, basis="general", seed=seed)
    X = all_inputs(c.num_inputs)
    assert len(np.unique(circuits.evaluate(c, X), axis=0)) > 1, "a non-constant circuit"
    assert prove(c).equivalent


@needs_abc
@needs_benchmarks
def test_a_mutant_is_caught(mutant):
    c, m = circuits.load(C17), circuits.load(mutant)
    p = prove(c, m)
    assert not p.equivalent
    x = np.array([[ch == "1" for ch in p.counterexample]])
    assert (circuits.evaluate(c, x) != circuits.evaluate(m, x)).any()


@needs_abc
@needs_benchmarks
def test_a_tampered_transformer_is_caught():
    """One truth-table entry of one gate step flipped in the positional embedding: the
    transformer, not the reference, is wrong, and the proof must see it."""
    c = circuits.load(C17)
    cot = build_circuit_cot(c)
    lay, n = cot.layout, c.num_inputs
    PE = cot.model.PE.copy()
    step = 4  # the step of the first output gate
    PE[n + step, lay.T + 1] = 1 - PE[n + step, lay.T + 1]
    bad = replace(cot, model=replace(cot.model, PE=PE))
    X = all_inputs(5)
    assert (cot_outputs(bad, X) != circuits.evaluate(c, X)).any(), "the tamper must matter"
    assert not prove(c, cot=bad).equivalent


@needs_abc
@needs_benchmarks
def test_tokens_that_are_not_bits_are_caught():
    """A read-out that emits BOS (token 2, low bit 0) instead of 0: every low bit is still
    the circuit's output, so only the ``cot_malformed`` output can see it."""
    c = circuits.load(C17)
    cot = build_circuit_cot(c)
    bout = cot.model.bout.copy()
    bout[BOS] = 0.75  # beats token 0 (0.5), loses to token 1 (logit 1)
    bad = replace(cot, model=replace(cot.model, bout=bout))
    X = all_inputs(5)
    got = cot_outputs(bad, X)
    assert (got == BOS).any() and np.array_equal(got & 1, circuits.evaluate(c, X))
    assert not prove(c, cot=bad).equivalent


@needs_abc
@needs_benchmarks
def test_cli_prove(capsys, mutant, tmp_path):
    code, out, _ = run_cli(capsys, "prove", C17, "--json")
    r = json.loads(out)
    assert code == 0 and r["equivalent"] is True
    assert {"equivalent", "cot_steps", "compiled_size", "compiled_depth", "seconds"} <= set(r)
    code, out, _ = run_cli(capsys, "prove", C17, "--against", mutant, "--json")
    assert code == 1 and json.loads(out)["equivalent"] is False
    one = tmp_path / "one.bench"
    one.write_text("INPUT(a)\nOUTPUT(b)\nb = NOT(a)\n")
    code, out, err = run_cli(capsys, "prove", C17, "--against", one)
    assert code == 2 and "inputs" in err and len(err.strip().splitlines()) == 1


@needs_benchmarks
def test_cli_prove_without_abc(capsys, monkeypatch):
    monkeypatch.setenv("COTSIM_ABC", "no-such-abc-here")
    code, out, err = run_cli(capsys, "prove", C17)
    assert code == 2 and "COTSIM_ABC" in err and len(err.strip().splitlines()) == 1


@needs_benchmarks
def test_save_model_reloads_and_emits_the_same_tokens(capsys, tmp_path):
    m = tmp_path / "c17.npz"
    seen = set()
    for bits in ("10110", "01001", "11111"):
        code, out, _ = run_cli(capsys, "cot", C17, "--input", bits, "--json", "--trace",
                               "--save-model", m, "--force")
        assert code == 0
        want = [s["token"] for s in json.loads(out)["trace"]]
        prompt = ",".join(map(str, [BOS] + [int(ch) for ch in bits]))
        code, out, _ = run_cli(capsys, "model", "run", m, "--tokens", prompt, "--cot",
                               len(want))
        assert code == 0 and out.strip() == ",".join(map(str, want))
        seen.add(tuple(want))
    assert len(seen) > 1, "the prompts must give different token sequences"
    src = load_model(m).source
    c = circuits.load(C17)
    assert src["circuit"]["file"] == "c17.bench" and len(src["circuit"]["sha256"]) == 64
    assert src["prompt"] == ["BOS"] + list(c.input_names)
    assert src["input_positions"] == [1, 2, 3, 4, 5]
    assert src["outputs"] == list(c.output_names) and src["output_steps"] == [6, 7]
    code, _, err = run_cli(capsys, "cot", C17, "--input", "10110", "--save-model", m)
    assert code == 2 and "exists" in err


def test_save_model_of_an_automaton(capsys, tmp_path):
    m = tmp_path / "parity.npz"
    code, out, _ = run_cli(capsys, "cot", "--automaton", "parity", "--word", "1,0,1,1",
                           "--json", "--save-model", m)
    assert code == 0 and json.loads(out)["states"] == [1, 1, 0, 1]
    src = load_model(m).source
    assert src["automaton"] == "parity" and src["output_steps"] == [0, 1, 2, 3]
    S = src["tokens"]["states"][0]
    bos, sym = src["tokens"]["bos"], src["tokens"]["symbol_names"]
    prompt = ",".join(str(x) for x in [bos] + [sym.index(a) for a in "1011"])
    code, out, _ = run_cli(capsys, "model", "run", m, "--tokens", prompt, "--cot", 4)
    assert out.strip() == ",".join(str(S + q) for q in (1, 1, 0, 1))
    code, _, err = run_cli(capsys, "cot", "--automaton", "parity", "--word", "1",
                           "--save-model", tmp_path / "x.json")
    assert code == 2 and ".npz" in err


# -- the theorem check ---------------------------------------------------------------------

@needs_abc
@needs_benchmarks
def test_check_holds_and_sees_a_yes_man():
    from proofs import cot_proves_circuits as chk

    items = chk.instances((6,), ("c17",))
    assert [i.label for i in items] == ["c17", "random-6"]
    r = chk.run(items=items)
    assert r.holds, r.reason
    assert "mutant" in r.reason and len(r.table.rows) == 3

    def yes(circuit, against=None):  # proves everything: the mutant row must catch it
        p = prove(circuit)
        return replace(p, equivalent=True, counterexample=None)

    r = chk.run(items=items[:1], prover=yes)
    assert not r.holds and "differs" in r.reason
