"""Whole models compiled with arithmetic on the bits (``compile_model(arith=...)``,
``fixed_arith``) instead of two-operand lookup tables: against the simulator on every
prompt, with the next token varying; against the table route by ABC's ``cec``; the
O(log n)-bit family takes the arithmetic route; refusals."""
from __future__ import annotations

import pytest

from circuits.errors import CotsimInputError
from circuits.io import save
from conftest import needs_abc
from oracles.equivalence import abc_cec
from test_compile_iterative import next_tokens, outputs_vary, rand, varying_seed
from transformer_sim.compile import compile_model
from transformer_sim.compile.budget import depth_bound
from transformer_sim.compile.verify import verify
from transformer_sim.random_model import random_model

KINDS = {"mul", "add", "quot", "ge"}


@pytest.mark.parametrize("k", [0, 2])  # (the 2nd varying model of s = 3 has constant Z_i)
@pytest.mark.parametrize("fmt,n", [("paper:e=0,s=2", 4), ("paper:e=0,s=3", 4)])
def test_every_route_by_arithmetic_agrees(fmt, n, k):
    """arith="always": every product, sum, softmax quotient and argmax comparison of two
    variable values is arithmetic; the circuit agrees with the forward pass on every
    prompt, and the next token varies over them."""
    model = rand(fmt, varying_seed(fmt, n, k))
    assert len(next_tokens(model, n)) > 1
    cm = compile_model(model, n, iterative="tc0", arith="always", budget=10 ** 7)
    # in s = 2 these models' Z_i saturate (a constant: the quotient is a table of s_ij)
    need = KINDS if fmt.endswith("s=3") else KINDS - {"quot"}
    assert need <= set(cm.extra["arith_ops"]), cm.extra["arith_ops"]
    v = verify(cm)
    assert v.exhaustive and v.agrees, v.mismatches
    assert outputs_vary(cm.circuit, model.vocab, n)
    assert cm.figures()["depth"] <= cm.depth_bound
    assert cm.circuit.size / 2 <= cm.estimate <= 2 * cm.circuit.size


@pytest.mark.parametrize("sum_mode,iterative", [("iterative", "tree"), ("exact", "auto")])
def test_other_sums_read_arithmetic_values(sum_mode, iterative):
    model = rand("paper:e=0,s=2", varying_seed("paper:e=0,s=2", 4, 0))
    cm = compile_model(model, 4, sum_mode=sum_mode, iterative=iterative, arith="always",
                       budget=10 ** 7)
    assert cm.extra["arith_ops"]["mul"] > 0
    v = verify(cm)
    assert v.exhaustive and v.agrees, v.mismatches


def test_two_layers_and_heads_agree():
    m = random_model(2, 2, 2, 2, 2, 16, "paper:e=0,s=2", "iterative", seed=4,
                     check_prompts=0)
    assert len(next_tokens(m, 4)) > 1
    for arith in ("auto", "always"):
        cm = compile_model(m, 4, iterative="tc0", arith=arith, budget=10 ** 7)
        if arith == "always":
            assert set(cm.extra["arith_ops"]) == KINDS, cm.extra["arith_ops"]
        v = verify(cm)
        assert v.exhaustive and v.agrees, (arith, v.mismatches)
        assert cm.figures()["depth"] <= cm.depth_bound


def test_log_bits_family_takes_the_arithmetic_route():
    """The O(log n)-bit family (the check's row): with arith="auto" its large
    two-operand operations are arithmetic, and the circuit agrees on every prompt."""
    from proofs.no_cot_is_constant_depth import log_bits_at, log_bits_base

    m = log_bits_at(log_bits_base(16), 8)
    cm = compile_model(m, 8, iterative="tc0", arith="auto")
    ops = cm.extra["arith_ops"]
    assert ops.get("add", 0) > 0, ops  # (the quotient from n = 16 on: docs/compiler.md)
    always = compile_model(m, 8, iterative="tc0", arith="always")
    # (Z_(n-1) saturates at B here: the softmax weights are a table of s_ij alone)
    assert {"mul", "add", "ge"} <= set(always.extra["arith_ops"]), always.extra
    v = verify(always)
    assert v.exhaustive and v.agrees, v.mismatches
    assert len(next_tokens(m, 8)) > 1
    v = verify(cm)
    assert v.exhaustive and v.agrees, v.mismatches
    tables = compile_model(m, 8, iterative="tc0")
    assert cm.circuit.size < tables.circuit.size


@needs_abc
def test_arithmetic_equals_tables_by_abc(tmp_path):
    m = rand("paper:e=0,s=2", varying_seed("paper:e=0,s=2", 3, 0, vocab=2), vocab=2)
    a = compile_model(m, 3, iterative="tc0", arith="always").circuit
    t = compile_model(m, 3, iterative="tc0").circuit
    assert outputs_vary(a, 2, 3) and outputs_vary(t, 2, 3)  # not two constants
    save(a, tmp_path / "arith.aig")
    save(t, tmp_path / "tables.aig")
    assert "Networks are equivalent" in abc_cec(tmp_path / "arith.aig",
                                                tmp_path / "tables.aig")


def test_bound_is_free_of_n_and_s():
    from proofs.no_cot_is_constant_depth import log_bits_at, log_bits_base

    base = log_bits_base(64)
    bounds = {depth_bound(log_bits_at(base, n), n, "iterative", iterative="tc0",
                          arith="auto") for n in (8, 16, 32, 64)}
    assert len(bounds) == 1, bounds


def test_refusals():
    wide = random_model(2, 1, 1, 2, 2, 8, "paper:e=1,s=1", "iterative", seed=0,
                        check_prompts=0)
    with pytest.raises(CotsimInputError, match="fixed point"):
        compile_model(wide, 4, iterative="tree", arith="auto")
    with pytest.raises(CotsimInputError, match="expected one of"):
        compile_model(wide, 4, arith="sometimes")


def test_chain_and_cli(tmp_path, capsys):
    import json

    from conftest import run_cli
    from transformer_sim.compile.chain import compile_chain
    from transformer_sim.npz import save as save_model

    m = rand("paper:e=0,s=3", varying_seed("paper:e=0,s=3", 3, 0, vocab=2), vocab=2)
    cc = compile_chain(m, 3, 2, iterative="tc0", arith="always")
    assert cc.extra["arith_ops"] and cc.arith == "always"
    v = verify(cc)
    assert v.agrees, v.mismatches
    save_model(m, tmp_path / "m.npz")
    code, out, err = run_cli(capsys, "compile", tmp_path / "m.npz", "--seq-len", "4",
                             "--iterative", "tc0", "--arith", "always", "-o",
                             tmp_path / "c.json", "--verify", "--json")
    assert code == 0, err
    figs = json.loads(out)
    assert figs["arith"] == "always" and figs["basis"] == "TC0"
    assert figs["verify"]["agrees"] and figs["depth"] <= figs["depth_bound"]
    wide = random_model(2, 1, 1, 2, 2, 8, "paper:e=1,s=1", "iterative", seed=0,
                        check_prompts=0)
    save_model(wide, tmp_path / "w.npz")
    code, out, err = run_cli(capsys, "compile", tmp_path / "w.npz", "--seq-len", "4",
                             "--arith", "auto", "-o", tmp_path / "w.json")
    assert code == 2 and err.count("\n") == 1 and "fixed point" in err

