"""Bit-parallel evaluation of a Circuit.

Input vectors are packed 64 to a ``uint64`` word: vector ``v`` is bit ``v % 64`` of word
``v // 64``, so a signal over a batch is a row of words, and ``simulate_words`` maps the
``(inputs, W)`` words of a batch to the ``(outputs, W)`` words of its results.

Two engines compute the same thing:

- ``"numba"``: the kernels of ``simulate_kernels``, which walk the gates over a block of
  words at a time with the block's values in cache. This is the fast one (about 1e11
  gate evaluations a second on one core; see ``benchmarks/eval_throughput.py``).
- ``"numpy"``: one NumPy operation per gate over all words, with a (nodes, words) value
  table. It is 5 to 30 times slower, but needs no Numba import and no kernel loading
  (about half a second together), so in a fresh process it answers small and middling
  jobs sooner.

``"auto"`` (the default) takes NumPy only in a process that has not imported Numba yet,
and only for jobs within the bounds below, so that ``cotsim eval`` starts quickly;
everything else runs in Numba.
Both engines are checked against the plain-Python reference evaluator in the tests.
"""
from __future__ import annotations

import sys

import numpy as np

from .errors import CotsimInputError
from .ir import MAX_WEIGHT_SUM, Circuit, Kind  # noqa: F401 (MAX_WEIGHT_SUM: was here)
#: ``"auto"`` uses NumPy, while Numba is not imported yet, for circuits of at most this
#: many nodes (NumPy spends 2-4 us on each) ...
AUTO_NUMPY_MAX_NODES = 50_000
#: ... and at most this many node-words (nodes x words of 64 vectors: the size of the
#: NumPy engine's value table, 8 bytes each; 2e6 is 16 MB), so that its time stays under
#: the ~0.5 s it takes to import Numba and load a kernel from the cache ...
AUTO_NUMPY_MAX_NODE_WORDS = 2_000_000
#: ... and of at most this many MAJ/THR fan-in edge-words (the NumPy engine unpacks the
#: 64 lanes of each of them).
AUTO_NUMPY_MAX_THRESHOLD_EDGE_WORDS = 100_000

ENGINES = ("auto", "numba", "numpy")


# -- packing ------------------------------------------------------------------------------
def num_words(batch: int) -> int:
    return (batch + 63) // 64


def pack(X: np.ndarray) -> np.ndarray:
    """(batch, n) bool -> (n, ceil(batch/64)) uint64; vector v is bit v%64 of word v//64.
    Lanes past ``batch`` in the last word are 0."""
    X = np.asarray(X, dtype=bool)
    if X.ndim != 2:
        raise CotsimInputError(f"expected a (batch, inputs) array, got shape {X.shape}")
    batch, n = X.shape
    words = num_words(batch)
    padded = np.zeros((n, words * 64), dtype=bool)
    padded[:, :batch] = X.T
    packed = np.packbits(padded, axis=1, bitorder="little")  # (n, words*8) bytes
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64, copy=False)


def unpack(words: np.ndarray, batch: int) -> np.ndarray:
    """(m, W) uint64 -> (batch, m) bool; the inverse of ``pack`` (batch <= 64 W)."""
    words = np.ascontiguousarray(words, dtype="<u8")
    m = words.shape[0]
    if batch == 0 or m == 0:
        return np.zeros((batch, m), dtype=bool)
    bits = np.unpackbits(words.view(np.uint8), axis=1, count=batch, bitorder="little")
    return np.ascontiguousarray(bits.T).astype(bool)


# -- checks -------------------------------------------------------------------------------
def check_inputs(circuit: Circuit, X: np.ndarray) -> np.ndarray:
    """X as a (batch, inputs) bool array, or a CotsimInputError that says what is wrong."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise CotsimInputError(f"expected a (batch, {circuit.num_inputs}) array of input "
                               f"bits, got an array of shape {X.shape}")
    if X.shape[1] != circuit.num_inputs:
        raise CotsimInputError(f"the circuit has {circuit.num_inputs} inputs, but the input "
                               f"array has {X.shape[1]} columns")
    if X.dtype != bool:
        if X.size and not np.all((X == 0) | (X == 1)):
            raise CotsimInputError("input bits must be 0 or 1")
        X = X.astype(bool)
    return X


def _check_weights(circuit: Circuit) -> None:
    """Refuse THR gates whose sums would not fit the kernel's 63-bit counters."""
    thr = np.flatnonzero(circuit.kinds == Kind.THR)
    if len(thr) == 0:
        return
    arity = np.diff(circuit.fanin_ptr)
    bound = (float(np.abs(circuit.weights.astype(np.float64)).max(initial=0)) * int(arity.max())
             + float(np.abs(circuit.thresholds.astype(np.float64)).max(initial=0)))
    if bound < MAX_WEIGHT_SUM / 2:  # the common case: no gate can come near the limit
        return
    for g in thr.tolist():
        total = sum(abs(int(w)) for w in circuit.fanin_weights(g))
        if total + abs(int(circuit.thresholds[g])) >= MAX_WEIGHT_SUM:
            raise CotsimInputError(
                f"THR gate {circuit.name_of(g)}: the sum of |weights| and |threshold| is "
                f"2^61 or more, beyond the evaluator's 63-bit counters")


def _choose(engine: str, circuit: Circuit, words: int) -> str:
    if engine not in ENGINES:
        raise CotsimInputError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    if engine != "auto":
        return engine
    if "numba" in sys.modules:  # the kernel is cheap to reach: it is the faster engine
        return "numba"
    counted = np.isin(circuit.kinds, [int(Kind.MAJ), int(Kind.THR)])
    threshold_edges = int(np.diff(circuit.fanin_ptr)[counted].sum())
    small = (circuit.num_nodes <= AUTO_NUMPY_MAX_NODES
             and circuit.num_nodes * words <= AUTO_NUMPY_MAX_NODE_WORDS
             and threshold_edges * words <= AUTO_NUMPY_MAX_THRESHOLD_EDGE_WORDS)
    return "numpy" if small else "numba"


# -- the NumPy engine ---------------------------------------------------------------------
def _numpy_all_nodes(circuit: Circuit, words: np.ndarray) -> np.ndarray:
    """(nodes, W) uint64: every node's words, one NumPy operation per gate."""
    n, W = circuit.num_inputs, words.shape[1]
    vals = np.empty((circuit.num_nodes, W), dtype=np.uint64)
    vals[:n] = words
    kinds = circuit.kinds.tolist()
    ptr = circuit.fanin_ptr.tolist()
    fanin = circuit.fanin
    for g in range(n, circuit.num_nodes):
        k, a, e = kinds[g], ptr[g], ptr[g + 1]
        out = vals[g]
        if k == Kind.CONST0:
            out[:] = 0
        elif k == Kind.CONST1:
            out[:] = ~np.uint64(0)
        elif k == Kind.BUF:
            out[:] = vals[fanin[a]]
        elif k == Kind.NOT:
            np.invert(vals[fanin[a]], out=out)
        elif k in (Kind.AND, Kind.NAND, Kind.OR, Kind.NOR, Kind.XOR, Kind.XNOR):
            op = (np.bitwise_and if k in (Kind.AND, Kind.NAND) else
                  np.bitwise_or if k in (Kind.OR, Kind.NOR) else np.bitwise_xor)
            if e - a == 2:
                op(vals[fanin[a]], vals[fanin[a + 1]], out=out)
            else:
                op.reduce(vals[fanin[a:e]], axis=0, out=out)
            if k in (Kind.NAND, Kind.NOR, Kind.XNOR):
                np.invert(out, out=out)
        elif k in (Kind.MAJ, Kind.THR):
            # unpack the lanes, weigh them, and pack the comparison again
            lanes = np.unpackbits(vals[fanin[a:e]].astype("<u8").view(np.uint8), axis=1,
                                  bitorder="little").astype(np.int64)
            if k == Kind.MAJ:
                hit = 2 * lanes.sum(axis=0) >= e - a
            else:
                hit = circuit.weights[a:e] @ lanes >= circuit.thresholds[g]
            out[:] = np.packbits(hit, bitorder="little").view("<u8")
        else:  # pragma: no cover - the IR admits no other kind
            raise ValueError(f"no evaluation rule for kind {k}")
    return vals


# -- the public face ----------------------------------------------------------------------
def simulate_words(circuit: Circuit, words: np.ndarray, nodes: np.ndarray | None = None,
                   *, engine: str = "auto", block: int | None = None) -> np.ndarray:
    """(inputs, W) uint64 -> (outputs, W) uint64, or the rows of ``nodes`` if given.

    ``engine`` is ``"auto"``, ``"numba"`` or ``"numpy"`` (see the module notes);
    ``block`` (words per pass of the Numba kernel; default: sized to fit the cache)
    changes speed only, never the result.
    """
    words = np.ascontiguousarray(words, dtype=np.uint64)
    if words.ndim != 2 or words.shape[0] != circuit.num_inputs:
        raise CotsimInputError(f"expected ({circuit.num_inputs}, words) input words, "
                               f"got shape {words.shape}")
    _check_weights(circuit)
    keep = circuit.output_ids if nodes is None else np.ascontiguousarray(nodes, dtype=np.int64)
    if keep.ndim != 1 or (len(keep) and (keep.min() < 0 or keep.max() >= circuit.num_nodes)):
        raise CotsimInputError("node ids must be a list of existing nodes")
    W = words.shape[1]
    if W == 0 or len(keep) == 0:
        return np.zeros((len(keep), W), dtype=np.uint64)
    if _choose(engine, circuit, W) == "numpy":
        return _numpy_all_nodes(circuit, words)[keep]
    from .simulate_kernels import simulate_blocks

    out = np.empty((len(keep), W), dtype=np.uint64)
    simulate_blocks(circuit.kinds, circuit.fanin_ptr, circuit.fanin, circuit.weights,
                    circuit.thresholds, circuit.num_inputs, words, keep, out,
                    int(block or 0))
    return out


def evaluate(circuit: Circuit, X: np.ndarray, *, engine: str = "auto") -> np.ndarray:
    """(batch, inputs) bool -> (batch, outputs) bool. Column i of X is primary input i."""
    X = check_inputs(circuit, X)
    return unpack(simulate_words(circuit, pack(X), engine=engine), X.shape[0])


def evaluate_nodes(circuit: Circuit, X: np.ndarray, *, engine: str = "auto") -> np.ndarray:
    """(batch, inputs) bool -> (batch, nodes) bool: the value of every node."""
    X = check_inputs(circuit, X)
    nodes = np.arange(circuit.num_nodes, dtype=np.int64)
    return unpack(simulate_words(circuit, pack(X), nodes, engine=engine), X.shape[0])
