"""One iterative sum of n terms: the constant-depth AND/OR/NOT circuit (``ac0_sum``,
Theorem 3.1) against the log-depth tree (``tree_sum``), built in the same run.

Every position's term ranges over the whole format (``word_sum_circuit`` with the
format's values, 0 first, so that the identity letter's decoder is a real table), or
over K letters with ``@K`` (0 and K-1 evenly spaced nonzero values). Each row is
checked against the sequential iterative sum on 2,000 random words. Prints one JSON
line per (format, n, letters):

    .venv/bin/python benchmarks/ac0_sum.py [SPEC:N,N,...[@K] ...]

default: paper:e=0,s=1 at n = 4, 8, 16, 24, 32; paper:e=1,s=1 at n = 4, 8;
paper:e=0,s=2 at n = 4, and at n = 4, 8 over 4 letters (over all 31 letters n = 8 is
estimated at 7.1 million gates, beyond this machine's memory with the Python builder).
``seconds`` is CPU time of the build (the machine may be shared).
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

DEFAULT = ["paper:e=0,s=1:4,8,16,24,32", "paper:e=1,s=1:4,8", "paper:e=0,s=2:4",
           "paper:e=0,s=2:4,8@4"]


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


def letter_set(fmt: FloatFormat, K: int | None) -> np.ndarray:
    v = fmt.values()
    nonzero = v[v != 0]
    if K is not None:
        nonzero = nonzero[np.linspace(0, len(nonzero) - 1, K - 1).round().astype(int)]
    return np.concatenate([[0.0], nonzero])


def measure(fmt: FloatFormat, n: int, K: int | None) -> dict:
    letters = letter_set(fmt, K)
    row: dict = {"figure": "ac0_sum", "format": fmt.spec, "n": n, "letters": len(letters)}
    for name in ("ac0", "tree"):
        t = time.process_time()
        c = word_sum_circuit(fmt, n, letters, name)
        seconds = time.process_time() - t
        row[name] = {"gates": c.size, "wires": int(len(c.fanin)), "depth": depth(c),
                     "seconds": round(seconds, 2), "agrees": agrees(fmt, c, letters, n)}
    mon = monoid_of(fmt)
    row.update({"bound": ac0_depth_bound(fmt), "monoid": mon.size, "j_height": mon.j_height})
    if K is None:                       # the estimate assumes every value at every position
        row["estimate"] = ac0_gates(n, fmt)
    return row


def main() -> None:
    for arg in sys.argv[1:] or DEFAULT:
        spec, ns = arg.rsplit(":", 1)
        ns, _, k = ns.partition("@")
        fmt = FloatFormat.parse(spec)
        monoid_of(fmt)                              # enumerated once, outside the timing
        for n in map(int, ns.split(",")):
            print(json.dumps(measure(fmt, n, int(k) if k else None)), flush=True)


if __name__ == "__main__":
    main()
