"""How far `cotsim prove` (Theorem 3.3 proven on every input, `transformer_sim.prove`) goes.

One JSON line per circuit (``"bench": "prove_speed"``): CoT steps T, the compiled proof
circuit's size and depth, the seconds spent compiling (wall and CPU of this process) and
in ABC, the peak memory, and the baseline measured in the same run: one CoT run of the
circuit's transformer on a random input (`run_cot`), times 2^n, the time a proof by
exhaustive simulation would take. Exits 1 if any circuit is not proven equal.

Run: .venv/bin/python benchmarks/prove_speed.py [CIRCUIT ...]
A CIRCUIT is a file, or random-G (a random circuit of G gates, inputs max(4, G // 10),
fan-in up to 3, the "general" basis, seed G). Default: c17 random-10 random-30.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import circuits  # noqa: E402
from circuits.families import random_circuit  # noqa: E402
from transformer_sim.constructions.circuit_cot import build_circuit_cot  # noqa: E402
from transformer_sim.cot import run_cot  # noqa: E402
from transformer_sim.prove import prove  # noqa: E402

BENCH = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks"
DEFAULT = ("c17", "random-10", "random-30")


def circuit_of(name: str):
    if name.startswith("random-"):
        g = int(name.split("-", 1)[1])
        return random_circuit(max(4, g // 10), g, max_fanin=3, basis="general", seed=g)
    path = Path(name)
    if not path.exists():
        path = BENCH / "iscas85" / f"{name}.bench"
    return circuits.load(str(path))


def one_run_seconds(c) -> float:
    cot = build_circuit_cot(c)
    x = np.random.default_rng(0).integers(0, 2, c.num_inputs)
    run_cot(cot.model, cot.prompt(x), 2, progress=False)  # kernels compiled / loaded
    t0 = time.perf_counter()
    run_cot(cot.model, cot.prompt(x), cot.cot_steps, progress=False)
    return time.perf_counter() - t0


def main(names) -> int:
    ok = True
    for name in names:
        c = circuit_of(name)
        cpu0 = time.process_time()
        p = prove(c)
        cpu = time.process_time() - cpu0
        run = one_run_seconds(c)
        ok &= p.equivalent
        print(json.dumps({
            "bench": "prove_speed", "circuit": name, "inputs": c.num_inputs,
            "outputs": c.num_outputs, "gates": c.size, "cot_steps": p.cot_steps,
            "equivalent": p.equivalent, "compiled_size": p.compiled_size,
            "compiled_depth": p.compiled_depth, "compile_seconds": round(p.compile_seconds, 1),
            "abc_seconds": round(p.abc_seconds, 2), "cpu_seconds": round(cpu, 1),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "baseline_one_run_seconds": round(run, 4),
            "baseline_exhaustive_seconds": float(f"{run * 2.0 ** c.num_inputs:.3g}"),
            "load": round(os.getloadavg()[0], 1),
            "machine": platform.machine()}), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or DEFAULT))
