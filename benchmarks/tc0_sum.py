"""One iterative sum of n terms: the constant-depth TC0 construction (``sums_tc0``, the
paper's Theorem 3.2) against the log-depth tree of map compositions (``sums.tree_sum``),
in the same run.

Each term is a free input over the whole format ("signed"), or over its values >= 0
("nonneg", a softmax denominator). For each construction and n the script builds the
sum into a fresh builder (hashing and folding on), checks the circuit on 2048 random
input vectors against FloatFormat.add applied left to right, and prints one JSON line:
{"figure", "format", "terms", "construction", "n", "gates", "depth", "wires", "seconds",
"checked"}; a build over the gate budget prints "refused" with the budget instead.

    .venv/bin/python benchmarks/tc0_sum.py [--formats paper:e=0,s=2,paper:e=0,s=3]
        [--n 8,16,32,64,128] [--terms signed,nonneg] [--budget 4000000]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import circuits  # noqa: E402
from circuits.analysis import depth  # noqa: E402
from circuits.builder import CircuitBuilder  # noqa: E402
from circuits.errors import CircuitTooLarge  # noqa: E402
from transformer_sim import FloatFormat  # noqa: E402
from transformer_sim.compile.bundles import Bundle  # noqa: E402
from transformer_sim.compile.context import Ctx  # noqa: E402
from transformer_sim.compile.sums import tree_sum  # noqa: E402
from transformer_sim.compile.sums_tc0 import tc0_sum  # noqa: E402

CONSTRUCTIONS = {"tc0": tc0_sum, "tree": tree_sum}


def build(fmt: FloatFormat, vals: np.ndarray, n: int, construction: str, budget: int):
    b = CircuitBuilder()
    ctx = Ctx(fmt, b, budget)
    codes = fmt.encode(vals).astype(np.int64)
    terms = [Bundle(tuple(b.inputs([f"x{i}_{j}" for j in range(fmt.bit_width)])), vals, codes)
             for i in range(n)]
    out = CONSTRUCTIONS[construction](ctx, terms)
    for j, bit in enumerate(out.bits):
        b.output(f"s{j}", bit)
    return b.build()


def check(fmt: FloatFormat, vals: np.ndarray, circuit, n: int, seed: int = 0) -> bool:
    """The circuit against ((p0 + p1) + p2) + ... by FloatFormat.add on random inputs
    (half of them with few nonzero terms, so that the walk also stays off the walls)."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(vals, size=(2048, n))
    picks[1024:] *= rng.random((1024, n)) < 2.0 / n
    X = ((fmt.encode(picks).astype(np.int64)[:, :, None] >> np.arange(fmt.bit_width)) & 1)
    Y = circuits.evaluate(circuit, X.reshape(2048, -1).astype(bool))
    got = (Y.astype(np.int64) << np.arange(Y.shape[1])).sum(axis=1)
    acc = picks[:, 0]
    for k in range(1, n):
        acc = fmt.add(acc, picks[:, k])
    return bool(np.array_equal(got, fmt.encode(acc).astype(np.int64)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--formats", default="paper:e=0,s=2;paper:e=0,s=3",
                    help="formats, separated by ';'")
    ap.add_argument("--n", default="8,16,32,64,128")
    ap.add_argument("--terms", default="signed,nonneg")
    ap.add_argument("--constructions", default="tc0,tree")
    ap.add_argument("--budget", type=int, default=4_000_000)
    args = ap.parse_args()
    warm = FloatFormat.paper(0, 1)  # first calls (imports, Numba) outside the timings
    for construction in CONSTRUCTIONS:
        check(warm, warm.values(), build(warm, warm.values(), 3, construction, 10 ** 6), 3)
    for spec in args.formats.split(";"):
        fmt = FloatFormat.parse(spec)
        for terms in args.terms.split(","):
            vals = fmt.values()
            vals = vals[vals >= 0] if terms == "nonneg" else vals
            for n in [int(x) for x in args.n.split(",")]:
                for construction in args.constructions.split(","):
                    row = {"figure": "tc0_sum", "format": spec, "terms": terms,
                           "construction": construction, "n": n}
                    t = time.perf_counter()
                    try:
                        c = build(fmt, vals, n, construction, args.budget)
                    except CircuitTooLarge:
                        row.update(refused=True, budget=args.budget,
                                   seconds=round(time.perf_counter() - t, 2))
                    else:
                        row.update(gates=c.size, depth=depth(c), wires=int(len(c.fanin)),
                                   seconds=round(time.perf_counter() - t, 2),
                                   checked=check(fmt, vals, c, n))
                    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
