"""Figures of a circuit: size, depth, fan-in, weights, counts per kind, and its basis."""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

import numpy as np

from .ir import AC0_KINDS, NULLARY, TC0_KINDS, Circuit, Kind


def levels(circuit: Circuit, counted: Iterable[Kind] | None = None) -> np.ndarray:
    """Level of every node: inputs and constants are 0; a gate is 1 + its deepest fan-in,
    where only gates of the ``counted`` kinds add a level (default: every gate, BUF too,
    as in the ISCAS tables)."""
    kinds = circuit.kinds
    if counted is None:
        adds = ~np.isin(kinds, [int(k) for k in NULLARY])
    else:
        adds = np.isin(kinds, [int(k) for k in counted])
    ptr = circuit.fanin_ptr.tolist()
    fanin = circuit.fanin.tolist()
    add = adds.astype(np.int64).tolist()
    lv = [0] * circuit.num_nodes
    for i in range(circuit.num_inputs, circuit.num_nodes):
        a, b = ptr[i], ptr[i + 1]
        m = 0
        for j in range(a, b):
            v = lv[fanin[j]]
            if v > m:
                m = v
        lv[i] = m + add[i]
    return np.asarray(lv, dtype=np.int64)


def depth(circuit: Circuit, counted: Iterable[Kind] | None = None) -> int:
    """Longest input-to-output path, in gates (see ``levels``)."""
    if circuit.num_outputs == 0:
        return 0
    return int(levels(circuit, counted)[circuit.output_ids].max())


def max_fanin(circuit: Circuit) -> int:
    ar = np.diff(circuit.fanin_ptr)
    return int(ar.max()) if len(ar) else 0


def max_abs_weight(circuit: Circuit) -> int:
    """Largest |weight| of a THR gate (MAJ counts as weight 1; 0 with no threshold gates)."""
    thr = np.flatnonzero(circuit.kinds == Kind.THR)
    best = 1 if np.any(circuit.kinds == Kind.MAJ) else 0
    for g in thr:
        w = circuit.fanin_weights(g)
        if len(w):
            best = max(best, int(np.abs(w).max()))
    return best


def kind_counts(circuit: Circuit) -> dict[str, int]:
    """Gates per kind (inputs and constants left out), in the order of ``Kind``."""
    c = Counter(int(k) for k in circuit.kinds)
    return {Kind(k).name: c[k] for k in sorted(c) if Kind(k) not in NULLARY}


def basis(circuit: Circuit) -> str:
    """The smallest basis the circuit lives in: ``"fanin2"`` (AND/OR/NOT, fan-in <= 2),
    ``"AC0"`` (AND/OR/NOT, any fan-in), ``"TC0"`` (adds MAJ/THR), or ``"general"``
    (NAND/NOR/XOR/XNOR as primitives: each expands into the bases above)."""
    present = {Kind(int(k)) for k in np.unique(circuit.kinds)}
    if present <= AC0_KINDS:
        return "fanin2" if max_fanin(circuit) <= 2 else "AC0"
    if present <= TC0_KINDS:
        return "TC0"
    return "general"


def stats(circuit: Circuit) -> dict[str, Any]:
    """The figures of ``cotsim stats``."""
    return {
        "inputs": circuit.num_inputs,
        "outputs": circuit.num_outputs,
        "gates": circuit.size,
        "depth": depth(circuit),
        "max_fanin": max_fanin(circuit),
        "max_abs_weight": max_abs_weight(circuit),
        "kinds": kind_counts(circuit),
        "basis": basis(circuit),
    }
