"""Compiler speed: compile time, gate count and depth against n, and evaluation time.

Models (all 1 layer, 1 head, d = 2, vocab 2, format paper:e=1,s=1):
- ``random``: ``random_model(seed=...)`` in the given sum mode;
- ``majority``: ``transformer_sim.compile.examples.majority_model`` (non-degenerate at
  every n: its circuit computes a clipped majority vote);
- ``random-wide``, ``majority-wide``: the same in --wide-format (paper:e=6,s=1, a 2^65
  fixed-point range: the thermometer is refused, exact sums take the block-wise adder;
  exact mode only). Each row says which adder compiled it.

Iterative sums are compiled by the log-depth tree here (``--theorems`` for the
constant-depth constructions). For each model, sum mode and n in --lengths: the compile time (best of --repeat), the
circuit's size, depth and max fan-in, and the compiler's estimate. For the largest n:
the time to evaluate 2^16 random prompts with ``circuits.evaluate`` (best of 3, after a
warm-up call), and, as the baseline in the same run, the simulator
(``transformer_sim.forward.next_token``) on the first --baseline of those prompts,
scaled per prompt; the two must agree. Targets: n = 64 compiles in <= 60 s and
evaluates 2^16 prompts in <= 5 s.

    .venv/bin/python benchmarks/compile_speed.py

``--theorems`` measures the constant-depth constructions of iterative sums instead
(issue 9's figures), each row compiled in a child process so that its peak memory is its
own, and checked against the simulator on random prompts:

- ``tc0`` (Theorem 3.2): a random 1-layer, 1-head, d = 2 model in paper:e=0,s=2 and
  paper:e=0,s=3 at n = 8 .. 64 (target: n = 64 in <= 60 s and 8 GiB), with the ``tree``
  construction of the same model at the same n as the baseline (or its refusal by the
  budget, with the estimate);
- ``ac0`` (Theorem 3.1): the same kind of model in paper:e=0,s=1 at n = 4 .. 24 (32 with
  --ac0-max-n 32; target: n = 24 in <= 10 minutes and 12 GiB) and in paper:e=1,s=1 and
  paper:e=0,s=2 at n = 4 and 8, with |M|, the J-height, the depth bound, and the tree
  baseline.

    .venv/bin/python benchmarks/compile_speed.py --theorems

``--theorems --log-bits``: Theorem 3.2 in its own regime, the check's family (one model's
weights in paper:e=0,s=ceil(log2 n)) at n = 8 .. 64 with tc0 and arithmetic on the bits
(``--arith auto``, the check's route; ``--arith tables`` for the lookup tables alone;
target: n = 64 in at most 10 minutes and 8 GiB).

One JSON line per figure.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import circuits  # noqa: E402
from transformer_sim.compile import compile_model, input_bits  # noqa: E402
from transformer_sim.compile.examples import majority_model  # noqa: E402
from transformer_sim.errors import ModelUndefined  # noqa: E402
from transformer_sim.forward import next_token  # noqa: E402
from transformer_sim.random_model import random_model  # noqa: E402

FORMAT = "paper:e=1,s=1"
#: the format name of the O(log n)-bit family (proofs.no_cot_is_constant_depth)
LOG_BITS = "paper:e=0,s=ceil(log2 n)"


def build(name: str, mode: str, max_len: int, seed: int, wide: str):
    fmt = wide if name.endswith("-wide") else FORMAT
    if name.startswith("majority"):
        return majority_model(max_len, fmt, mode)
    return random_model(2, 1, 1, 2, 2, max_len, fmt, mode, seed=seed)


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def _child(conn, fmt: str, n: int, iterative: str, seed: int, budget: int, samples: int,
           arith_mode: str = "auto"):
    """Compile and verify one row; send back its figures and this process's peak RSS."""
    import resource

    from circuits.errors import CotsimInputError
    from transformer_sim.compile.verify import verify

    arith = "tables"
    if fmt == LOG_BITS:  # Theorem 3.2's own regime: the check's family, s(n) = ceil(log2 n)
        from proofs.no_cot_is_constant_depth import log_bits_at, log_bits_base

        model = log_bits_at(log_bits_base(64), n)
        arith = arith_mode  # the check's route: arithmetic on the bits (fixed_arith)
    else:
        model = random_model(2, 1, 1, 2, 2, 64, fmt, "iterative", seed=seed, check_prompts=0)
    try:
        t = time.perf_counter()
        cm = compile_model(model, n, iterative=iterative, budget=budget, arith=arith)
        seconds = time.perf_counter() - t
    except CotsimInputError as e:  # the budget's refusal, up front
        conn.send({"refused": str(e)})
        return
    v = verify(cm, max_exhaustive=1 << 8, samples=samples, seed=n)
    figs = cm.figures()
    conn.send({"format": model.fmt.spec, "seconds": round(seconds, 2), "size": figs["size"],
               "depth": figs["depth"],
               "depth_bound": cm.depth_bound, "basis": figs["basis"],
               "wires": int(len(cm.circuit.fanin)), "estimate": cm.estimate,
               "checked": v.checked, "agrees": v.agrees, "arith": cm.arith,
               "arith_ops": cm.extra.get("arith_ops", {}),
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024})


def _row(fmt: str, n: int, iterative: str, seed: int, budget: int, samples: int,
         arith_mode: str = "auto") -> dict:
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(send, fmt, n, iterative, seed, budget, samples,
                                         arith_mode))
    p.start()
    out = recv.recv() if recv.poll(3600) else {"error": "no answer in an hour"}
    p.join()
    return out


def theorems(args) -> None:
    from transformer_sim.compile.monoid import monoid_of
    from transformer_sim.floatformat import FloatFormat

    if args.log_bits:
        for n in (8, 16, 24, 32, 64):
            emit(figure="theorem", construction="tc0", row="tc0, O(log n) bits", n=n,
                 **_row(LOG_BITS, n, "tc0", args.seed, args.theorem_budget, args.samples,
                        args.arith))
        return
    rows = [("tc0", "paper:e=0,s=2", n) for n in (8, 16, 32, 64)]
    rows += [("tc0", "paper:e=0,s=3", n) for n in (8, 16, 32, 64)]
    rows += [("ac0", "paper:e=0,s=1", n) for n in (4, 8, 16, 24, 32) if n <= args.ac0_max_n]
    rows += [("ac0", f, n) for f in ("paper:e=1,s=1", "paper:e=0,s=2") for n in (4, 8)]
    for construction, fmt, n in rows:
        extra = {}
        if construction == "ac0":
            mon = monoid_of(FloatFormat.parse(fmt))
            extra = {"monoid": mon.size, "j_height": mon.j_height}
        for it in (construction, "tree"):
            r = _row(fmt, n, it, args.seed, args.theorem_budget, args.samples)
            emit(figure="theorem", construction=it, row=construction, format=fmt, n=n,
                 **extra, **r)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="4,8,16,32,64")
    ap.add_argument("--modes", default="exact,iterative")
    ap.add_argument("--models", default="random,majority,random-wide,majority-wide")
    ap.add_argument("--wide-format", default="paper:e=6,s=1")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--prompts", type=int, default=1 << 16)
    ap.add_argument("--baseline", type=int, default=4096)
    ap.add_argument("--theorems", action="store_true",
                    help="the tc0/ac0 constructions of iterative sums (see above)")
    ap.add_argument("--arith", choices=("tables", "auto"), default="auto",
                    help="with --log-bits: compile_model's arith (default auto)")
    ap.add_argument("--log-bits", action="store_true",
                    help="with --theorems: only Theorem 3.2's O(log n)-bit family (tc0)")
    ap.add_argument("--ac0-max-n", type=int, default=24)
    ap.add_argument("--theorem-budget", type=int, default=4 * 10 ** 7)
    ap.add_argument("--samples", type=int, default=500)
    args = ap.parse_args()
    if args.theorems:
        theorems(args)
        return
    lengths = [int(x) for x in args.lengths.split(",")]
    compile_model(majority_model(4), 2)  # load the format kernels once, outside the timing
    for name in args.models.split(","):
        for mode in args.modes.split(","):
            if name.endswith("-wide") and mode != "exact":
                continue
            model = build(name, mode, max(lengths), args.seed, args.wide_format)
            fmt = model.fmt.spec
            compiled = None
            for n in lengths:
                best = float("inf")
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    compiled = compile_model(model, n, budget=10 ** 8, iterative="tree")
                    best = min(best, time.perf_counter() - t)
                figs = compiled.figures()
                emit(figure="compile", model=name, sum=mode, format=fmt, n=n,
                     adder=compiled.adder, iterative=compiled.iterative,
                     seconds=round(best, 3), size=figs["size"],
                     depth=figs["depth"], max_fanin=figs["max_fanin"],
                     max_abs_weight=figs["max_abs_weight"], estimate=compiled.estimate)
            n = lengths[-1]
            rng = np.random.default_rng(args.seed)
            toks = rng.integers(0, 2, size=(args.prompts, n))
            X = input_bits(toks, 2)
            circuits.evaluate(compiled.circuit, X[:64])  # warm-up (kernel load)
            best = float("inf")
            for _ in range(3):
                t = time.perf_counter()
                out = circuits.evaluate(compiled.circuit, X)
                best = min(best, time.perf_counter() - t)
            k = min(args.baseline, args.prompts)
            t = time.perf_counter()
            want = []
            for p in toks[:k]:
                try:
                    want.append(next_token(model, p))
                except ModelUndefined:
                    want.append(-1)
            sim = (time.perf_counter() - t) / k * args.prompts
            got = np.where(out[:k, -1], -1, out[:k, 0].astype(int))
            emit(figure="evaluate", model=name, sum=mode, format=fmt, n=n,
                 prompts=args.prompts, seconds=round(best, 4),
                 simulator_seconds_est=round(sim, 3), speedup=round(sim / best, 1),
                 agrees=bool(np.array_equal(got, np.array(want))), size=compiled.circuit.size)


if __name__ == "__main__":
    main()
