"""Evaluation throughput: gate evaluations per second, Numba kernel vs NumPy per gate.

For each circuit, 2^16 random input vectors (1024 uint64 words per input) go through
``circuits.simulate.simulate_words`` twice in the same run: with the Numba kernel
(blocks of words, all gates per block) and with the NumPy engine (one NumPy operation
per gate over all words, packed uint64 words too). Gate evaluations = gates x vectors,
where gates = IR nodes other than inputs and constants (for AIGER files, that counts the
NOT nodes the reader makes of inverted edges, as well as the ANDs). Each figure is the
best of several timed runs after a warm-up call. Both engines must agree bit for bit.

Run single-threaded (the kernel uses no threads):

    NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/eval_throughput.py

Prints one JSON line per figure: circuit, method, gates, vectors, seconds,
gate_evals_per_s, speedup (over NumPy), and file_gates / file_gate_evals_per_s, the same
with the file's own gate count (AIGER: AND nodes only, as in SOURCES.md).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from circuits.io import load_file  # noqa: E402
from circuits.simulate import simulate_words  # noqa: E402

BENCHMARKS = Path(os.environ.get("COTSIM_SHARED", REPO.parent / "shared")) / "benchmarks"
CIRCUITS = ["iscas85/c7552.bench", "epfl/arithmetic/multiplier.aig",
            "epfl/random_control/voter.aig"]


def best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--log2-vectors", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=7, help="timed runs of the kernel")
    ap.add_argument("--numpy-repeats", type=int, default=3)
    ap.add_argument("--block", type=int, default=None, help="words per kernel pass")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("circuits", nargs="*", default=CIRCUITS,
                    help="paths under the benchmarks folder")
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    vectors = 1 << args.log2_vectors
    for rel in args.circuits:
        loaded = load_file(BENCHMARKS / rel)
        c = loaded.circuit
        file_gates = (loaded.file_stats or {}).get("gates", c.size)
        words = rng.integers(0, 1 << 64, size=(c.num_inputs, vectors // 64), dtype=np.uint64,
                             endpoint=False)
        kernel = simulate_words(c, words, engine="numba", block=args.block)  # warm-up
        baseline = simulate_words(c, words, engine="numpy")
        if not np.array_equal(kernel, baseline):
            print(f"{rel}: the engines disagree", file=sys.stderr)
            return 1
        t_numpy = best_time(lambda: simulate_words(c, words, engine="numpy"),
                            args.numpy_repeats)
        t_numba = best_time(lambda: simulate_words(c, words, engine="numba", block=args.block),
                            args.repeats)
        evals = c.size * vectors
        for method, t in (("numpy-per-gate", t_numpy), ("numba-blocked", t_numba)):
            print(json.dumps({"circuit": rel, "method": method, "gates": c.size,
                              "vectors": vectors, "seconds": round(t, 6),
                              "gate_evals_per_s": float(f"{evals / t:.4g}"),
                              "speedup": round(t_numpy / t, 2), "file_gates": file_gates,
                              "file_gate_evals_per_s": float(f"{file_gates * vectors / t:.4g}")}),
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
