"""CoT speed of the circuit construction (Theorem 3.3) through the generic forward pass.

Every figure is one JSON line (``"bench": "cot_speed"``). Each run checks its CoT output
against direct evaluation of the circuit (``agrees``).

- ``circuit``: CoT steps, total seconds and steps/s for ISCAS c7552 and the EPFL
  multiplier, with the default kernel (for the default format paper:e=0,s=3 that is the
  fixed-point k-space kernel of forward.py).
- ``kernels``: the same run with each kernel (fixed-point, general with zero-term skips,
  plain general) on the smaller circuits, in the same process, with the speed-up.
- ``ladder``: random circuits of growing T (default kernel), then ``growth``: the slope of
  log(seconds) against log(T) by least squares over the ladder. A decoding step at
  position t costs O(t d_head) for the attention, so the expectation is about 2.

Run: .venv/bin/python benchmarks/cot_speed.py [--quick] [--skip-multiplier]
Kernels compile (or load from the cache) before anything is timed.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from circuits import evaluate, load  # noqa: E402
from circuits.families import random_circuit  # noqa: E402
from transformer_sim.constructions.circuit_cot import build_circuit_cot  # noqa: E402
from transformer_sim.cot import run_cot  # noqa: E402

BENCH = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks"
#: kernel name -> the `Decoder` options (fast, skips) that select it
KERNELS = {"fixed-point": {"fast": True, "skips": True},
           "general+skips": {"fast": False, "skips": True},
           "general": {"fast": False, "skips": False}}


def emit(**fig) -> None:
    print(json.dumps({"bench": "cot_speed", **fig}), flush=True)


def run(circuit, kernel: str = "fixed-point", seed: int = 0) -> dict:
    """One CoT run of the circuit's construction; seconds, steps and agreement."""
    options = KERNELS[kernel]
    cc = build_circuit_cot(circuit)
    x = np.random.default_rng(seed).integers(0, 2, circuit.num_inputs)
    prompt = cc.prompt(x)
    run_cot(cc.model, prompt, 2, progress=False, **options)  # compile / load kernels
    t0 = time.perf_counter()
    trace = run_cot(cc.model, prompt, cc.cot_steps, progress=False, **options)
    sec = time.perf_counter() - t0
    want = [int(v) for v in evaluate(circuit, x[None].astype(bool))[0]]
    return {"T": cc.cot_steps, "seconds": round(sec, 4),
            "steps_per_s": round(cc.cot_steps / sec, 1), "d_model": cc.model.d_model,
            "d_head": cc.model.d_head, "format": cc.model.fmt.spec,
            "agrees": cc.read_outputs(trace.tokens) == want and not trace.undefined}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small ladder, no multiplier")
    ap.add_argument("--skip-multiplier", action="store_true")
    ap.add_argument("--general-max-t", type=int, default=1000,
                    help="largest T to run the general kernels on")
    a = ap.parse_args()
    common = {"machine": platform.machine(), "python": platform.python_version()}

    big = [("iscas85/c7552.bench", "c7552")]
    if not (a.quick or a.skip_multiplier):
        big.append(("epfl/arithmetic/multiplier.aig", "multiplier"))
    for path, name in big:
        emit(figure="circuit", circuit=name, kernel="default", **run(load(BENCH / path)),
             **common)

    small = [(name, load(BENCH / "iscas85" / f"{name}.bench")) for name in
             ("c17", "c432", "c880")]
    small += [(f"random{n}", random_circuit(32, n, basis="general", seed=1))
              for n in (250, 500, 1000) if n <= a.general_max_t]
    for name, c in small:
        figs = {k: run(c, k) for k in KERNELS}
        base = figs["general"]["seconds"]
        for k, f in figs.items():
            emit(figure="kernels", circuit=name, kernel=k,
                 speedup_vs_general=round(base / max(f["seconds"], 1e-9), 1), **f, **common)

    sizes = [250, 500, 1000, 2000, 4000] if a.quick else \
        [500, 1000, 2000, 4000, 8000, 16000, 32000]
    Ts, secs = [], []
    for n in sizes:
        f = run(random_circuit(64, n, basis="general", seed=2))
        emit(figure="ladder", circuit=f"random{n}", kernel="default", **f, **common)
        Ts.append(f["T"])
        secs.append(f["seconds"])
    # the smallest runs are dominated by fixed costs: fit on the upper half of the ladder
    half = len(Ts) // 2
    slope = np.polyfit(np.log(Ts[half:]), np.log(secs[half:]), 1)[0]
    slope_all = np.polyfit(np.log(Ts), np.log(secs), 1)[0]
    emit(figure="growth", kernel="default", exponent=round(float(slope), 3),
         fit_T=Ts[half:], exponent_all=round(float(slope_all), 3), **common)
    return 0


if __name__ == "__main__":
    sys.exit(main())
