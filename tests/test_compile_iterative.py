"""Whole models compiled with the constant-depth iterative constructions (Theorems 3.1
and 3.2): ``--iterative tc0`` (fixed point, threshold gates) and ``--iterative ac0``
(AND/OR/NOT only), against the simulator on every prompt, against the log-depth tree by
ABC's ``cec``, through ``cotsim compile``, and their refusals.

The sum-level tests (every walk, every word, Hypothesis) are in test_sums_tc0.py and
test_sums_ac0.py; here the constructions run inside the compiler's Walker, on random
models nobody tuned them to."""
from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pytest

from circuits import evaluate
from circuits.analysis import basis
from circuits.errors import CotsimInputError
from circuits.io import load, save
from conftest import needs_abc, run_cli
from oracles.equivalence import abc_cec
from transformer_sim.compile import compile_model
from transformer_sim.compile.budget import depth_bound, resolve_iterative
from transformer_sim.compile.chain import compile_chain
from transformer_sim.compile.examples import majority_model
from transformer_sim.compile.driver import input_bits
from transformer_sim.compile.verify import expected, prompts, verify
from transformer_sim.npz import save as save_model
from transformer_sim.random_model import random_model


def rand(fmt: str, seed: int, vocab: int = 3, max_len: int = 16, d: int = 2):
    return random_model(vocab, 1, 1, d, 2, max_len, fmt, "iterative", seed=seed,
                        check_prompts=0)


def next_tokens(model, n: int, steps: int = 1, max_exhaustive: int = 1 << 16) -> set[int]:
    """The simulator's next tokens (the last step's for a chain) on the prompts that
    ``verify`` tries at length n (undefined left out)."""
    toks, _ = prompts(model.vocab, n, max_exhaustive)
    return set(expected(model, toks, steps)[:, -1].tolist()) - {-1}


@lru_cache(maxsize=None)
def varying_seed(fmt: str, n: int, k: int, vocab: int = 3, max_len: int = 16) -> int:
    """The k-th seed (0, 1, 2, ... searched in order) whose random model's next token
    varies over the prompts of length n: a model that answers one token everywhere
    would let a constant circuit pass."""
    found = -1
    for seed in range(200):
        if len(next_tokens(rand(fmt, seed, vocab, max_len), n)) > 1:
            found += 1
            if found == k:
                return seed
    raise AssertionError(f"no {k + 1} varying models in {fmt} at n = {n}")


def outputs_vary(circuit, vocab: int, n: int, max_exhaustive: int = 1 << 16) -> bool:
    """Is the circuit's next-token output non-constant over the prompts verify tries?"""
    toks, _ = prompts(vocab, n, max_exhaustive)
    out = evaluate(circuit, input_bits(toks, vocab))
    return len({tuple(row) for row in out.tolist()}) > 1


@pytest.mark.parametrize("k", [0, 1, 2])
@pytest.mark.parametrize("fmt,iterative,n", [("paper:e=0,s=1", "ac0", 4),
                                             ("paper:e=0,s=1", "tc0", 5),
                                             ("paper:e=0,s=2", "tc0", 5),
                                             ("paper:e=0,s=3", "tc0", 4),
                                             ("paper:e=1,s=1", "ac0", 3)])
def test_every_prompt_agrees(fmt, iterative, n, k):
    model = rand(fmt, varying_seed(fmt, n, k))
    assert len(next_tokens(model, n)) > 1
    cm = compile_model(model, n, iterative=iterative, budget=10 ** 7)
    assert cm.iterative == iterative
    v = verify(cm)
    assert v.exhaustive and v.agrees, v.mismatches
    assert cm.circuit.size / 2 <= cm.estimate <= 2 * cm.circuit.size
    assert cm.figures()["depth"] <= cm.depth_bound
    want = "AC0" if iterative == "ac0" else "TC0"
    assert basis(cm.circuit) in (want, "fanin2") or (want == "TC0" and
                                                     basis(cm.circuit) == "AC0")
    if iterative == "ac0":
        assert basis(cm.circuit) in ("AC0", "fanin2")  # no threshold gate anywhere


def test_two_layers_and_heads_agree():
    m = random_model(2, 2, 2, 2, 2, 16, "paper:e=0,s=1", "iterative", seed=4, check_prompts=0)
    assert len(next_tokens(m, 4)) > 1
    for it in ("tc0", "ac0"):
        cm = compile_model(m, 4, iterative=it, budget=10 ** 7)
        v = verify(cm)
        assert v.exhaustive and v.agrees, (it, v.mismatches)
        assert cm.figures()["depth"] <= cm.depth_bound


def test_chain_agrees_with_run_cot():
    m = rand("paper:e=0,s=2", 5, vocab=2)
    assert len(next_tokens(m, 3, steps=3)) > 1
    cc = compile_chain(m, 3, 3, iterative="tc0")
    v = verify(cc)
    assert v.agrees, v.mismatches
    assert cc.iterative == "tc0" and cc.figures()["depth"] <= cc.depth_bound


def test_bounds_do_not_depend_on_n():
    """The constructions' bounds are free of n; the tree's grows."""
    for fmt, it in (("paper:e=0,s=1", "ac0"), ("paper:e=0,s=2", "tc0")):
        m = majority_model(128, fmt, "iterative")
        bounds = {depth_bound(m, n, "iterative", iterative=it) for n in (4, 16, 64, 128)}
        assert len(bounds) == 1, (fmt, it, bounds)
    m = majority_model(128, "paper:e=0,s=2", "iterative")
    assert depth_bound(m, 128, "iterative", iterative="tree") > \
        depth_bound(m, 4, "iterative", iterative="tree")


def test_tc0_depth_is_flat_on_a_random_model():
    """As the check demands: the depth stopped growing (the same at every n of the
    ladder from 16 on, after a smaller n below it), under the n-free bound, on a model
    whose next token varies at every n."""
    m = rand("paper:e=0,s=2", 4, vocab=2, max_len=32)
    ladder = (8, 16, 24, 32)
    depths = {}
    for n in ladder:
        cm = compile_model(m, n, iterative="tc0")
        assert len(next_tokens(m, n, max_exhaustive=1 << 8)) > 1, n
        assert outputs_vary(cm.circuit, m.vocab, n, 1 << 8), n
        depths[n] = cm.figures()["depth"]
    bound = depth_bound(m, ladder[-1], "iterative", iterative="tc0")
    assert max(depths.values()) <= bound, depths
    assert len({depths[n] for n in ladder if n >= 16}) == 1, depths


@needs_abc
@pytest.mark.parametrize("n", [3, 4])
def test_ac0_model_equals_tree_model_by_abc(n, tmp_path):
    m = rand("paper:e=0,s=1", varying_seed("paper:e=0,s=1", n, 0, vocab=2), vocab=2)
    a = compile_model(m, n, iterative="ac0").circuit
    t = compile_model(m, n, iterative="tree").circuit
    assert basis(a) in ("AC0", "fanin2") and basis(t) in ("AC0", "fanin2")
    # two constant circuits would be equivalent whatever the constructions do
    assert outputs_vary(a, 2, n) and outputs_vary(t, 2, n)
    save(a, tmp_path / "ac0.aig")
    save(t, tmp_path / "tree.aig")
    assert "Networks are equivalent" in abc_cec(tmp_path / "ac0.aig", tmp_path / "tree.aig")


def test_auto_picks_the_constant_depth_construction():
    e0s1 = majority_model(64, "paper:e=0,s=1", "iterative")
    assert resolve_iterative(e0s1, 8, "iterative") == "ac0"
    # beyond the budget ac0 gives way to tc0 (fixed point) ...
    assert resolve_iterative(e0s1, 64, "iterative", budget=10 ** 4) == "tc0"
    # ... and to the tree with exponent bits; exact sums use none of them
    wide = random_model(2, 1, 1, 2, 2, 8, "paper:e=2,s=2", "iterative", seed=0,
                        check_prompts=0)
    assert resolve_iterative(wide, 8, "iterative") == "tree"
    assert resolve_iterative(e0s1, 8, "exact") == "none"


def test_refusals_name_the_reason():
    e1 = rand("paper:e=1,s=1", 0)
    with pytest.raises(CotsimInputError, match="fixed-point.*leaves TC0 open"):
        compile_model(e1, 3, iterative="tc0")
    wide = random_model(2, 1, 1, 2, 2, 8, "paper:e=2,s=3", "iterative", seed=0,
                        check_prompts=0)
    with pytest.raises(CotsimInputError, match="ac0 .*out of reach"):
        compile_model(wide, 3, iterative="ac0")
    with pytest.raises(CotsimInputError, match="iterative construction 'fast'"):
        compile_model(e1, 3, iterative="fast")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("iter")
    e0s1 = rand("paper:e=0,s=1", varying_seed("paper:e=0,s=1", 4, 0, vocab=2), vocab=2)
    assert len(next_tokens(e0s1, 4)) > 1
    save_model(e0s1, folder / "e0s1.npz")
    save_model(rand("paper:e=1,s=1", 3, vocab=2), folder / "e1s1.npz")
    return folder


@pytest.mark.parametrize("it", ["tc0", "ac0", "tree"])
def test_cli_json_and_verify(models, tmp_path, capsys, it):
    code, out, err = run_cli(capsys, "compile", models / "e0s1.npz", "--seq-len", "4",
                             "--iterative", it, "-o", tmp_path / "c.json", "--verify",
                             "--json")
    assert code == 0, err
    figs = json.loads(out)
    assert figs["iterative"] == it and figs["sum"] == "iterative"
    assert figs["depth"] <= figs["depth_bound"]
    assert figs["verify"]["agrees"] and figs["verify"]["exhaustive"]
    assert figs["basis"] == basis(load(tmp_path / "c.json"))
    assert outputs_vary(load(tmp_path / "c.json"), 2, 4)
    assert figs["basis"] in (("TC0",) if it == "tc0" else ("AC0", "fanin2")) or \
        (it == "tc0" and figs["basis"] == "AC0")


def test_cli_refusal_is_one_line(models, tmp_path, capsys):
    out_file = tmp_path / "c.json"
    code, out, err = run_cli(capsys, "compile", models / "e1s1.npz", "--seq-len", "4",
                             "--iterative", "tc0", "-o", out_file)
    assert code == 2 and err.count("\n") == 1 and "TC0 open" in err
    assert not out_file.exists()
