"""Exact inference throughput against the machine's limit, in one run (issue 15).

Model: a random model of the trained S5 CoT shape (vocab 121, d_model 128, 4 heads of
32, d_ff 512), 1 layer, then 2 layers, the stable softmax, iterative sums; 1,024
random prompts of 17 tokens, each run position by position (the argmax after every
position: teacher-forced next-token passes). For each format (float32, bfloat16,
float16, paper:e=3,s=4, and float8_e4m3fn where this checkout's FloatFormat parses it)
the columns are, one JSON line each:

- ``decoder``: the one-prompt `forward.Decoder` (KV cache) as it was before the lane
  kernel (``Decoder(model, lanes=False)``: the general kernel with zero-term skips, no
  fast rounding route), timed on --decoder-prompts prompts and scaled to all of them: the
  baseline of issue 15's goal;
- ``decoder_lanes``: today's one-prompt `Decoder`, which takes the lane kernel, on one
  core, timed on min(--prompts, 64) prompts and scaled;
- ``batched_before``: `batch.run_batch(..., lanes=False)`, the batched path before the
  lane kernel (`forward._step` on the fast rounding route), timed on --decoder-prompts
  prompts and scaled;
- ``batched``: `batch.run_batch` on all the prompts at once (threads over the cores,
  the lane kernel); its tokens are checked equal to those of every column above on their
  timed subsets;
- ``jax`` (float32 only, for scale): `experiments.model_jax.forward` under `jax.jit`,
  the whole batch; a different summation order, so not the same arithmetic;
- ``native`` (float32 only): a plain Numba loop in native float32 doing the same
  operations in the same order (the machine's limit for exact float32 semantics), over
  the same threads; ``same_tokens`` is the share of its tokens equal to the batched ones.

Every timed column also has ``cpu_ops_per_s`` (rounded_ops / CPU seconds), and every
ratio line ``cpu_ratio`` beside ``ratio``: on a shared machine the CPU-time figures are the
steadier ones.

``rounded_ops`` counts every +, -, *, / and exp of DESIGN.md's evaluation order (sums of n
terms: n - 1 additions; biases and residual additions included; ReLU and the maximum
not counted). ``ops_per_s`` is rounded_ops / wall seconds; ``cpu_seconds`` (all threads)
and the load average (``os.getloadavg()``, before and after) are printed beside, since
the machine is shared. Ratio lines: batched / decoder per format, and for float32
native / batched, with the goals of issue 15 (>= 20x, >= 2e8 ops/s for IEEE formats,
float32 within 3x of native).

Run: .venv/bin/python benchmarks/forward_throughput.py [--prompts 1024] [--layers 1,2]
     [--decoder-prompts 16] [--format FMT ...]
Kernels compile (or load from the cache) before anything is timed.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transformer_sim.batch import THREADS, run_batch  # noqa: E402
from transformer_sim.floatformat import FloatFormat  # noqa: E402
from transformer_sim.forward import Decoder  # noqa: E402
from transformer_sim.random_model import random_model  # noqa: E402

FORMATS = ["float32", "bfloat16", "float16", "paper:e=3,s=4", "float8_e4m3fn"]


def emit(**fig) -> None:
    print(json.dumps({"bench": "forward_throughput", **fig}), flush=True)


def rounded_ops(model, n: int) -> int:
    """+, -, *, / and exp of one prompt of n tokens, every position (iterative sums)."""
    d, k, H, f, V = model.d_model, model.d_head, model.heads, model.d_ff, model.vocab
    stable = model.softmax == "stable"
    total = 0
    for t in range(n):
        j = t + 1                                   # keys at position t
        total += d                                  # h = [TE + PE]
        per_head = (3 * k * (2 * d - 1)             # q, k, v
                    + j * (2 * k - 1)               # scores
                    + (j if stable else 0) + j      # [s - m], [exp]
                    + (j - 1) + j                   # Z, a = [e / Z]
                    + k * (2 * j - 1)               # o
                    + d * (2 * k - 1))              # u = Wo o
        per_layer = (H * per_head + d * (H - 1) + d     # heads summed, residual
                     + f * (2 * d - 1) + f              # W1 h + b1
                     + d * (2 * f - 1) + d + d)         # W2 r + b2, residual
        total += model.n_layers * per_layer
        total += V * (2 * d - 1) + V                # read-out
    return total


# --- the native float32 loop --------------------------------------------------------------
@njit(nogil=True, cache=True)
def _nmv(W, x, out):
    """out[r] = ((W[r,0] x[0] + W[r,1] x[1]) + ...) in float32."""
    for r in range(W.shape[0]):
        acc = W[r, 0] * x[0]
        for c in range(1, W.shape[1]):
            acc = acc + W[r, c] * x[c]
        out[r] = acc


@njit(nogil=True, cache=True)
def _native(tokens, lo, hi, TE, PE, Wq, Wk, Wv, Wo, W1, b1, W2, b2, Wout, bout, preds):
    L, H, k, d = Wq.shape
    f = W1.shape[1]
    n = tokens.shape[1]
    K = np.zeros((L, H, n, k), dtype=np.float32)
    Vc = np.zeros((L, H, k, n), dtype=np.float32)
    h = np.empty(d, dtype=np.float32)
    q = np.empty(k, dtype=np.float32)
    v = np.empty(k, dtype=np.float32)
    o = np.empty(k, dtype=np.float32)
    e = np.empty(n, dtype=np.float32)
    U = np.empty((H, d), dtype=np.float32)
    z = np.empty(f, dtype=np.float32)
    m = np.empty(d, dtype=np.float32)
    lg = np.empty(Wout.shape[0], dtype=np.float32)
    for b in range(lo, hi):
        for t in range(n):
            tok = tokens[b, t]
            for c in range(d):
                h[c] = TE[tok, c] + PE[t, c]
            for l in range(L):
                for hd in range(H):
                    _nmv(Wq[l, hd], h, q)
                    _nmv(Wk[l, hd], h, K[l, hd, t])
                    _nmv(Wv[l, hd], h, v)
                    for c in range(k):
                        Vc[l, hd, c, t] = v[c]
                    mx = np.float32(-np.inf)
                    for j in range(t + 1):
                        s = q[0] * K[l, hd, j, 0]
                        for c in range(1, k):
                            s = s + q[c] * K[l, hd, j, c]
                        e[j] = s
                        if s > mx:
                            mx = s
                    for j in range(t + 1):
                        e[j] = np.float32(math.exp(np.float64(e[j] - mx)))
                    Z = e[0]
                    for j in range(1, t + 1):
                        Z = Z + e[j]
                    for j in range(t + 1):
                        e[j] = e[j] / Z
                    for c in range(k):
                        acc = e[0] * Vc[l, hd, c, 0]
                        for j in range(1, t + 1):
                            acc = acc + e[j] * Vc[l, hd, c, j]
                        o[c] = acc
                    _nmv(Wo[l, hd], o, U[hd])
                for c in range(d):
                    acc = U[0, c]
                    for hd in range(1, H):
                        acc = acc + U[hd, c]
                    h[c] = h[c] + acc
                _nmv(W1[l], h, z)
                for r in range(f):
                    z[r] = max(z[r] + b1[l, r], np.float32(0.0))
                _nmv(W2[l], z, m)
                for c in range(d):
                    h[c] = h[c] + (m[c] + b2[l, c])
            _nmv(Wout, h, lg)
            best = 0
            for v_ in range(lg.shape[0]):
                lg[v_] = lg[v_] + bout[v_]
                if lg[v_] > lg[best]:
                    best = v_
            preds[b, t] = best


def native_run(model, prompts: np.ndarray) -> np.ndarray:
    s = model.stacked
    f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
    arrays = [f32(a) for a in (model.TE, model.PE, s["Wq"], s["Wk"], s["Wv"], s["Wo"],
                               s["W1"], s["b1"], s["W2"], s["b2"], model.Wout, model.bout)]
    preds = np.full(prompts.shape, -1, dtype=np.int64)
    B = prompts.shape[0]
    cuts = np.linspace(0, B, THREADS + 1).astype(int)
    with ThreadPoolExecutor(THREADS) as pool:
        for fut in [pool.submit(_native, prompts, int(a), int(b), *arrays, preds)
                    for a, b in zip(cuts, cuts[1:]) if b > a]:
            fut.result()
    return preds


# --- timing ----------------------------------------------------------------------------------
def timed(fn):
    load0 = os.getloadavg()[0]
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0, (load0, os.getloadavg()[0])


def decoder_preds(model, prompts, lanes: bool = False) -> np.ndarray:
    out = np.empty(prompts.shape, dtype=np.int64)
    for b, p in enumerate(prompts):
        dec = Decoder(model, capacity=p.size, lanes=lanes)
        for t, tok in enumerate(p):
            out[b, t] = dec.push(int(tok))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=1024)
    ap.add_argument("--length", type=int, default=17)
    ap.add_argument("--decoder-prompts", type=int, default=16)
    ap.add_argument("--layers", default="1,2")
    ap.add_argument("--format", dest="formats", action="append", default=None,
                    metavar="FMT", help="repeat for each (default: the five above)")
    a = ap.parse_args()
    common = {"prompts": a.prompts, "length": a.length, "threads": THREADS,
              "cpus": os.cpu_count(), "machine": platform.machine(),
              "python": platform.python_version()}
    rng = np.random.default_rng(0)
    prompts = rng.integers(0, 121, size=(a.prompts, a.length))
    sub = prompts[:a.decoder_prompts]
    for L in (int(x) for x in a.layers.split(",")):
        base = random_model(vocab=121, layers=L, heads=4, d_model=128, d_ff=512,
                            max_len=a.length, fmt="float32", seed=1, softmax="stable",
                            check_prompts=0)
        ops = rounded_ops(base, a.length) * a.prompts
        for spec in a.formats or FORMATS:
            try:
                fmt = FloatFormat.parse(spec)
            except ValueError as e:
                emit(layers=L, format=spec, skipped=f"FloatFormat.parse: {e}", **common)
                continue
            model = base.in_format(fmt)
            row = {"layers": L, "format": fmt.spec, "rounded_ops": ops, **common}
            run_batch(model, prompts[:2])                     # compile / load
            run_batch(model, prompts[:2], lanes=False)
            decoder_preds(model, prompts[:1])
            decoder_preds(model, prompts[:1], lanes=True)
            scale = a.prompts / len(sub)
            ref, w, c, load = timed(lambda: decoder_preds(model, sub))
            dec = (w * scale, c * scale)
            emit(column="decoder", seconds=dec[0], cpu_seconds=dec[1], ops_per_s=ops / dec[0],
                 cpu_ops_per_s=ops / dec[1], timed_prompts=len(sub), load=load, **row)
            sub2 = prompts[:min(a.prompts, 64)]
            got, w, c, load = timed(lambda: decoder_preds(model, sub2, lanes=True))
            assert np.array_equal(got[:len(sub)], ref), "decoder (lanes) != decoder"
            s2 = a.prompts / len(sub2)
            emit(column="decoder_lanes", seconds=w * s2, cpu_seconds=c * s2,
                 ops_per_s=ops / (w * s2), cpu_ops_per_s=ops / (c * s2),
                 timed_prompts=len(sub2), load=load, **row)
            old, w, c, load = timed(lambda: run_batch(model, sub, lanes=False))
            assert np.array_equal(old.preds, ref), "batched (before) != decoder"
            before = (w * scale, c * scale)
            emit(column="batched_before", seconds=before[0], cpu_seconds=before[1],
                 ops_per_s=ops / before[0], cpu_ops_per_s=ops / before[1],
                 timed_prompts=len(sub), load=load, **row)
            res, w, c, load = timed(lambda: run_batch(model, prompts))
            assert np.array_equal(res.preds[:len(sub)], ref), "batched != decoder"
            assert np.array_equal(res.preds[:len(sub2)], got), "batched != decoder (lanes)"
            emit(column="batched", seconds=w, cpu_seconds=c, ops_per_s=ops / w,
                 cpu_ops_per_s=ops / c, load=load,
                 tokens_vary=len(set(res.preds[:, -1].tolist())), **row)
            emit(column="ratio_batched_over_decoder", ratio=dec[0] / w, cpu_ratio=dec[1] / c,
                 goal=20.0, goal_met=dec[0] / w >= 20.0, **row)
            emit(column="ratio_batched_over_batched_before", ratio=before[0] / w,
                 cpu_ratio=before[1] / c, **row)
            if fmt.spec.startswith("ieee"):
                emit(column="goal_ops_per_s", ops_per_s=ops / w, cpu_ops_per_s=ops / c,
                     goal=2e8, goal_met=ops / w >= 2e8, **row)
            if spec != "float32":
                continue
            native_run(base, prompts[:2])
            nat, w2, c2, load = timed(lambda: native_run(base, prompts))
            emit(column="native", seconds=w2, cpu_seconds=c2, ops_per_s=ops / w2,
                 cpu_ops_per_s=ops / c2, load=load,
                 same_tokens=float(np.mean(nat == res.preds)), **row)
            emit(column="ratio_batched_over_native", ratio=w / w2, cpu_ratio=c / c2,
                 goal=3.0, goal_met=w / w2 <= 3.0, **row)
            try:
                import jax
                import jax.numpy as jnp

                from experiments.model_jax import forward, from_model
            except ImportError as e:
                emit(column="jax", skipped=str(e), **row)
                continue
            fwd = jax.jit(forward)
            params = from_model(base)
            xs = jnp.asarray(prompts, jnp.int32)
            fwd(params, xs).block_until_ready()
            best = None
            for _ in range(3):
                _, w3, c3, load = timed(lambda: fwd(params, xs).block_until_ready())
                best = (w3, c3, load) if best is None or w3 < best[0] else best
            emit(column="jax", seconds=best[0], cpu_seconds=best[1], ops_per_s=ops / best[0],
                 cpu_ops_per_s=ops / best[1], load=best[2],
                 note="different summation order: for scale only", **row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
