"""CoT decoding speed: the KV-cache decoder against a full recompute, in the same run.

Model: a random model (2 layers, d_model 64, 4 heads of 16, d_ff 256, vocab 16) in one
format (default bfloat16, iterative sums). Figures, one JSON line each:

- ``incremental_decode``: run_cot for --steps tokens (KV cache), tokens/s overall.
- ``step_cost`` at each prefix length T: seconds for one decoding step at position T,
  with the cache (mean over 32 steps at T) and by full recompute (one forward_full on
  T + 1 tokens: best of 3, or one run for T > 512), and their ratio. The full
  recompute costs O(T^2 d) per step, the cached step O(T d + d^2), so the ratio grows
  about linearly in T.
- ``full_decode``: greedy decoding of --full-steps tokens by full recompute at every
  step (no cache) against the decoder, same prompt, same tokens (checked), tokens/s.

Run: .venv/bin/python benchmarks/cot_decode.py [--steps 4096] [--format bfloat16]
Kernels compile (or load from the cache) before anything is timed.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from transformer_sim.cot import run_cot  # noqa: E402
from transformer_sim.forward import Decoder, forward_full  # noqa: E402
from transformer_sim.random_model import random_model  # noqa: E402


def emit(**fig) -> None:
    print(json.dumps({"bench": "cot_decode", **fig}), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4096)
    ap.add_argument("--format", default="bfloat16")
    ap.add_argument("--sum", default="iterative", choices=("iterative", "exact"))
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--prefixes", default="256,512,1024,2048")
    ap.add_argument("--full-steps", type=int, default=128)
    a = ap.parse_args()

    model = random_model(vocab=16, layers=a.layers, heads=a.heads, d_model=a.d_model,
                         d_ff=4 * a.d_model, max_len=a.steps + 1, fmt=a.format,
                         sum_mode=a.sum, seed=1)
    common = {"format": model.fmt.spec, "sum": a.sum, "layers": a.layers,
              "heads": a.heads, "d_model": a.d_model, "d_head": model.d_head,
              "d_ff": model.d_ff, "machine": platform.machine(),
              "python": platform.python_version()}
    prompt = [1]
    run_cot(model, prompt, 4)  # compile / load kernels
    forward_full(model, [1, 2, 3])

    t0 = time.perf_counter()
    trace = run_cot(model, prompt, a.steps, progress=False)
    dt = time.perf_counter() - t0
    emit(figure="incremental_decode", steps=a.steps, seconds=round(dt, 3),
         tokens_per_s=round(a.steps / dt, 1), undefined=trace.undefined, **common)
    seq = list(trace.sequence)

    for T in (int(x) for x in a.prefixes.split(",")):
        if T + 33 > len(seq):
            continue
        dec = Decoder(model, capacity=T + 33)
        dec.extend(seq[:T])
        t0 = time.perf_counter()
        for tok in seq[T:T + 32]:
            dec.push(tok)
        cached = (time.perf_counter() - t0) / 32
        full = []
        for _ in range(3 if T <= 512 else 1):  # long recomputes take minutes
            t0 = time.perf_counter()
            forward_full(model, seq[:T + 1])
            full.append(time.perf_counter() - t0)
        emit(figure="step_cost", position=T, cached_step_s=cached, full_step_s=min(full),
             ratio=round(min(full) / cached, 1), **common)

    n = a.full_steps
    t0 = time.perf_counter()
    cur = list(prompt)
    for _ in range(n):
        cur.append(forward_full(model, cur).token)
    full_dt = time.perf_counter() - t0
    t0 = time.perf_counter()
    inc = run_cot(model, prompt, n, progress=False)
    inc_dt = time.perf_counter() - t0
    assert tuple(cur[1:]) == inc.tokens, "full recompute and KV cache disagree"
    emit(figure="full_decode", steps=n, full_tokens_per_s=round(n / full_dt, 1),
         cached_tokens_per_s=round(n / inc_dt, 1), speedup=round(full_dt / inc_dt, 1),
         same_tokens=True, **common)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
