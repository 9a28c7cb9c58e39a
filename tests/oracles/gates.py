"""A plain-Python reference evaluator: one vector at a time, one gate at a time.

It is the oracle for the Numba kernels and is used only by the tests. It is written
from the gate definitions in DESIGN.md, with no NumPy tricks, so that it is easy to
read beside them. `all_vectors` and `same_function` compare two circuits on every
input vector with it.
"""
from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np

from circuits.ir import Circuit, Kind


def gate_value(kind: Kind, xs: Sequence[int], weights: Sequence[int], threshold: int) -> int:
    if kind == Kind.CONST0:
        return 0
    if kind == Kind.CONST1:
        return 1
    if kind == Kind.BUF:
        return xs[0]
    if kind == Kind.NOT:
        return 1 - xs[0]
    if kind == Kind.AND:
        return int(all(xs))
    if kind == Kind.OR:
        return int(any(xs))
    if kind == Kind.NAND:
        return 1 - int(all(xs))
    if kind == Kind.NOR:
        return 1 - int(any(xs))
    if kind == Kind.XOR:
        return sum(xs) % 2
    if kind == Kind.XNOR:
        return 1 - sum(xs) % 2
    if kind == Kind.MAJ:
        return int(2 * sum(xs) >= len(xs))  # at least ceil(k/2) ones
    if kind == Kind.THR:
        return int(sum(w * x for w, x in zip(weights, xs)) >= threshold)
    raise ValueError(f"no value for {kind!r}")


def reference_evaluate_one(circuit: Circuit, bits: Sequence[int]) -> list[int]:
    assert len(bits) == circuit.num_inputs
    values: list[int] = []
    for node in range(circuit.num_nodes):
        kind = Kind(int(circuit.kinds[node]))
        if kind == Kind.INPUT:
            values.append(int(bits[node]))
            continue
        fanins = [int(f) for f in circuit.fanins(node)]
        weights = [int(w) for w in circuit.fanin_weights(node)]
        xs = [values[f] for f in fanins]
        values.append(gate_value(kind, xs, weights, int(circuit.thresholds[node])))
    return [values[int(o)] for o in circuit.output_ids]


def reference_evaluate(circuit: Circuit, X: np.ndarray) -> np.ndarray:
    """(batch, inputs) bool -> (batch, outputs) bool, by the loop above."""
    X = np.asarray(X, dtype=bool)
    out = np.zeros((X.shape[0], circuit.num_outputs), dtype=bool)
    for r in range(X.shape[0]):
        out[r] = reference_evaluate_one(circuit, X[r].astype(int).tolist())
    return out


def all_vectors(n: int) -> np.ndarray:
    """(2^n, n) bool: every input vector, in counting order (the first input slowest)."""
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=bool).reshape(2 ** n, n)


def same_function(a: Circuit, b: Circuit) -> bool:
    """Same input and output names, and the same outputs on every input vector."""
    X = all_vectors(a.num_inputs)
    return a.input_names == b.input_names and a.output_names == b.output_names and \
        bool((reference_evaluate(a, X) == reference_evaluate(b, X)).all())
