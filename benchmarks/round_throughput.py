"""Rounding throughput of FloatFormat.round, against NumPy's float16 cast in the same run.

Both run single-threaded on the same 10^7 float64 values; each figure is the best of
five timed runs after a warm-up call. Prints one JSON line per figure:

    .venv/bin/python benchmarks/round_throughput.py [N]
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from transformer_sim import FloatFormat  # noqa: E402


def best_rate(fn, n: int, repeats: int = 5) -> float:
    """Elements per second of the fastest of `repeats` runs."""
    fn()                                        # warm-up (and Numba compile/cache load)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10 ** 7
    rng = np.random.default_rng(0)
    data = {
        # mostly float16 normal numbers
        "normal": rng.standard_normal(n) * 1000.0,
        # log-uniform over 2^-30 .. 2^17: subnormals, underflow and overflow too
        "full_range": np.exp2(rng.uniform(-30, 17, n)) * np.where(rng.random(n) < 0.5, -1, 1),
    }
    f16 = FloatFormat.ieee(5, 10)
    for name, x in data.items():
        ours = best_rate(lambda: f16.round(x), n)
        with np.errstate(over="ignore"):
            ref = best_rate(lambda: x.astype(np.float16), n)
        print(json.dumps({"figure": "round_throughput", "format": f16.spec, "data": name,
                          "n": n, "ours_elements_per_s": round(ours),
                          "numpy_float16_elements_per_s": round(ref),
                          "ratio_vs_numpy": round(ours / ref, 3)}))
    for spec in ("paper:e=2,s=3", "paper:e=0,s=4"):
        fmt = FloatFormat.parse(spec)
        x = data["normal"] * (fmt.max_value / 3000.0)
        ours = best_rate(lambda: fmt.round(x), n)
        print(json.dumps({"figure": "round_throughput", "format": spec, "data": "normal",
                          "n": n, "ours_elements_per_s": round(ours)}))


if __name__ == "__main__":
    main()
