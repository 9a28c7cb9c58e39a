"""One iterative sum of n terms: the constant-depth AND/OR/NOT circuit (``ac0_sum``,
Theorem 3.1) against the log-depth tree (``tree_sum``), built in the same run.

Every position's term ranges over the whole format (``word_sum_circuit`` with the
format's values, 0 first, so that the identity letter's decoder is a real table). Each
row is checked against the sequential iterative sum on 2,000 random words. Prints one
JSON line per (format, n):

    .venv/bin/python benchmarks/ac0_sum.py [SPEC:N,N,... ...]

default: paper:e=0,s=1 at n = 4, 8, 16, 24, 32; paper:e=1,s=1 and paper:e=0,s=2 at
n = 4, 8. ``seconds`` is CPU time of the build (the machine may be shared).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from circuits import evaluate  # noqa: E402
from circuits.analysis import depth  # noqa: E402
from transformer_sim import FloatFormat  # noqa: E402
from transformer_sim.compile.monoid import monoid_of  # noqa: E402
from transformer_sim.compile.sums_ac0 import (ac0_depth_bound, ac0_gates,  # noqa: E402
                                              word_sum_circuit)

DEFAULT = ["paper:e=0,s=1:4,8,16,24,32", "paper:e=1,s=1:4,8", "paper:e=0,s=2:4,8"]


def agrees(fmt: FloatFormat, circuit, letters: np.ndarray, n: int, samples: int = 2000) -> bool:
    rng = np.random.default_rng(0)
    w = max(1, (len(letters) - 1).bit_length())
    words = rng.integers(0, 2 ** w, (samples, n))
    X = ((words[:, :, None] >> np.arange(w)) & 1).reshape(samples, -1).astype(bool)
    Y = evaluate(circuit, X)
    got = fmt.decode((Y.astype(np.int64) << np.arange(Y.shape[1])).sum(axis=1))
    vals = letters[words % len(letters)]
    want = vals[:, 0]
    for k in range(1, n):
        want = fmt.add(want, vals[:, k])
    return bool(np.array_equal(got, want))


def measure(fmt: FloatFormat, n: int) -> dict:
    v = fmt.values()
    letters = np.concatenate([[0.0], v[v != 0]])
    row: dict = {"figure": "ac0_sum", "format": fmt.spec, "n": n}
    for name in ("ac0", "tree"):
        t = time.process_time()
        c = word_sum_circuit(fmt, n, letters, name)
        seconds = time.process_time() - t
        row[name] = {"gates": c.size, "wires": int(len(c.fanin)), "depth": depth(c),
                     "seconds": round(seconds, 2), "agrees": agrees(fmt, c, letters, n)}
    mon = monoid_of(fmt)
    row.update({"bound": ac0_depth_bound(fmt), "estimate": ac0_gates(n, fmt),
                "monoid": mon.size, "j_height": mon.j_height})
    return row


def main() -> None:
    for arg in sys.argv[1:] or DEFAULT:
        spec, ns = arg.rsplit(":", 1)
        fmt = FloatFormat.parse(spec)
        monoid_of(fmt)                              # enumerated once, outside the timing
        for n in map(int, ns.split(",")):
            print(json.dumps(measure(fmt, n)), flush=True)


if __name__ == "__main__":
    main()
