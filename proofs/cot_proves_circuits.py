"""Theorem 3.3 (arXiv v4), proven on every input for given circuits: the CoT transformer
of a circuit computes it.

`cot_simulates_circuits` runs the construction on sampled inputs. This check proves it:
for each circuit, `transformer_sim.prove.prove` compiles the T CoT steps of
`build_circuit_cot` into one circuit (bit for bit the finite-precision forward pass, with
the prompt's fixed token bits folded to constants), keeps the read-out tokens, and has
ABC ``cec`` show that they equal the circuit's outputs on all 2^n inputs, with every
forward pass defined and every read-out token a bit. As a contrast, the same transformer
against a mutant of the first circuit (one gate's kind changed, checked by simulation to
change the function) must be refused, with a counterexample that simulation confirms.

It holds when every circuit is proven equivalent and the mutant is not. Without ABC it
fails, saying so.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .base import FAILS, HOLDS, CheckResult, Table, progress
from .cot_simulates_circuits import ISCAS_DIR, Instance

NAME = "cot_proves_circuits"
CLAIM = ("Theorem 3.3, proven for given circuits: the T CoT steps of a circuit's CoT "
         "transformer, compiled into one circuit, equal the circuit on EVERY input (ABC "
         "cec), with every forward pass defined; a mutated reference is refused.")

QUICK_SIZES = (6, 10)
FULL_SIZES = (10, 30, 60)
QUICK_ISCAS = ("c17",)
FULL_ISCAS = ("c17", "c432")


def instances(sizes: Sequence[int], iscas_names: Sequence[str]) -> list[Instance]:
    import circuits
    from circuits.families import random_circuit

    out = [Instance(f.stem, circuits.load(str(f)))
           for f in (ISCAS_DIR / f"{name}.bench" for name in iscas_names) if f.exists()]
    out += [Instance(f"random-{g}", random_circuit(4, g, max_fanin=3, basis="general",
                                                   seed=g))
            for g in sizes]
    return out


def mutant(circuit):
    """``circuit`` with its first AND/NAND/OR/NOR gate whose change alters the function
    turned into its dual (AND <-> OR, NAND <-> NOR); None when none does."""
    import circuits
    from circuits.ir import Circuit, Kind

    dual = {Kind.AND: Kind.OR, Kind.OR: Kind.AND, Kind.NAND: Kind.NOR, Kind.NOR: Kind.NAND}
    n = circuit.num_inputs
    X = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).astype(bool) if n <= 16 else \
        np.random.default_rng(0).integers(0, 2, (4096, n)).astype(bool)
    want = circuits.evaluate(circuit, X)
    for node in range(n, circuit.num_nodes):
        kind = circuit.kind(node)
        if kind not in dual:
            continue
        kinds = circuit.kinds.copy()
        kinds[node] = int(dual[kind])
        m = Circuit(kinds, circuit.fanin_ptr, circuit.fanin, circuit.weights,
                    circuit.thresholds, circuit.input_names, circuit.output_ids,
                    circuit.output_names)
        if (circuits.evaluate(m, X) != want).any():
            return m, circuit.name_of(node), kind.name, dual[kind].name
    return None


def run(quick: bool = True, items: Sequence[Instance] | None = None,
        prover=None) -> CheckResult:
    """Prove each instance (quick: c17 and random circuits of 6 and 10 gates; full: c17,
    c432 and random circuits of 10, 30 and 60 gates), then refuse a mutant of the first.
    ``items`` and ``prover`` (default `transformer_sim.prove.prove`) replace the defaults
    (tests inject a prover that says yes to everything)."""
    from transformer_sim.prove import AbcMissing, find_abc, prove

    prover = prover or prove
    try:
        find_abc()
    except AbcMissing as e:
        return CheckResult(NAME, CLAIM, FAILS, str(e), quick=quick)
    items = list(items) if items is not None else \
        instances(QUICK_SIZES if quick else FULL_SIZES, QUICK_ISCAS if quick else FULL_ISCAS)
    rows, problems, proofs = [], [], []
    for inst in items:
        c = inst.circuit
        progress(f"{NAME}: {inst.label} ({c.size} gates)")
        p = prover(c)
        proofs.append(p)
        rows.append((inst.label, c.num_inputs, c.size, p.cot_steps, p.compiled_size,
                     p.compiled_depth, round(p.compile_seconds, 1), round(p.abc_seconds, 2),
                     "equivalent" if p.equivalent else f"NOT (input {p.counterexample})"))
        if not p.equivalent:
            problems.append(f"{inst.label}: ABC finds the compiled CoT unequal to the "
                            f"circuit (input {p.counterexample})")
    contrast = ""
    found = mutant(items[0].circuit) if items else None
    if found is None:
        problems.append("no gate of the first circuit could be mutated to change its function")
    else:
        m, gate, was, now = found
        progress(f"{NAME}: {items[0].label} against its mutant ({gate}: {was} -> {now})")
        p = prover(items[0].circuit, m)
        label = f"{items[0].label} vs mutant ({gate} {was}->{now})"
        rows.append((label, m.num_inputs, m.size, p.cot_steps, p.compiled_size,
                     p.compiled_depth, round(p.compile_seconds, 1), round(p.abc_seconds, 2),
                     "equivalent" if p.equivalent else f"NOT (input {p.counterexample})"))
        if p.equivalent:
            problems.append(f"{label}: proven equal to a circuit that differs from it")
        else:
            contrast = f"; against a mutant ({gate}: {was} -> {now}) it is refused"
    table = Table(("circuit", "n", "gates", "T (CoT steps)", "compiled size",
                   "compiled depth", "compile s", "ABC s", "ABC cec"), rows)
    notes = ("Compiled with the prompt's fixed bits as constants (BOS; the high bit of each "
             "input token), the input tokens' low bits wired to the primary inputs in "
             "order. The proof circuit's extra output cot_malformed (some step undefined, or "
             "a read-out token that is not a bit) must be 0 on every input.",
             f"Format {proofs[0].format}, iterative sums by {proofs[0].iterative}." if proofs
             else "")
    if problems:
        return CheckResult(NAME, CLAIM, FAILS, "; ".join(problems), table, quick=quick,
                           notes=tuple(n for n in notes if n))
    big = max(items, key=lambda i: i.circuit.size)
    reason = (f"ABC proves all {len(items)} circuits (up to {big.circuit.size} gates, "
              f"{max(p.cot_steps for p in proofs)} CoT steps) equal to their CoT "
              f"transformers on every input{contrast}")
    return CheckResult(NAME, CLAIM, HOLDS, reason, table, quick=quick,
                       notes=tuple(n for n in notes if n))


if __name__ == "__main__":
    import sys

    from .base import main
    sys.exit(main(NAME))
