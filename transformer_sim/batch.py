"""Batched exact inference: many prompts through one model in one call.

Every prompt runs, position by position with its own KV cache, a step kernel that
computes what the one-prompt `forward.Decoder` computes, so its tokens are the
Decoder's bit for bit (tests/test_batch.py, tests/test_lanes.py check it):
- `lanes.lane_step` for iterative sums in a format on fparith's fast rounding route
  (`fparith.fast_params`: IEEE and paper formats of <= 25 bits, float32 included):
  the matrix-vector products row-interleaved for the vector unit, float32 in the
  hardware's float32 arithmetic, the others rounded by the fast route's bit-pattern
  rule without branches;
- the fixed-point k-space `forward._fx_step` for fixed point;
- `forward._step` with zero-term skips (and the fast route where it applies) otherwise.
What batching adds: the loop over prompts runs inside one Numba kernel (`_run_prompts`,
no Python per prompt or per token), one call per core on a contiguous share of the
prompts, in threads (the kernel releases the GIL), each with its own KV cache. (A
``numba.prange`` over the prompts computed the same tokens but ran the step kernel
about 10 times slower than a plain call, so threads it is.)

`run_batch(model, prompts, steps)` feeds each prompt, then ``steps - 1`` of its own
greedy tokens, and records for every position read the argmax after it (so the
teacher-forced next-token predictions at the prompt's positions and the free-running
CoT tokens after it), the first position where the pass is undefined (some Z_i = 0),
and whether some attention weight a_ij of a defined position is NaN or infinite (the
``attention_overflow`` of experiments/evaluate.py).
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numba import njit

from . import fparith
from .errors import ModelError
from .forward import (_MAX_PARTIALS, FxWeights, _argmax, _fx_step, _step, dense_weights,
                      fixed_point_weights, lane_params_of, layout_arg, weight_layout)
from .lanes import NATIVE, _unpack, lane_cache, lane_dtype, lane_step, lane_weights
from .model import Model

#: `_run_prompts`'s kernels
GENERAL, FIXED, LANES = 0, 1, 2

#: threads (each runs `_run_prompts` on a share of the prompts, with its own KV cache)
THREADS = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
              else (os.cpu_count() or 1))


@njit(cache=True)
def _overflowed(A, t):
    """Some a_tj (j <= t) of some layer and head is NaN or infinite."""
    for l in range(A.shape[0]):
        for hd in range(A.shape[1]):
            for j in range(t + 1):
                if not math.isfinite(A[l, hd, j]):
                    return True
    return False


@njit(cache=True, nogil=True)
def _run_prompts(toks, offs, lo, hi, steps, kernel, weights, fxw, layout, lw, R, proto,
                 mode, stable, P, cap, k, preds, undefined_at, overflow):
    """Prompts lo..hi-1, one after the other; prompt b is toks[offs[b]:offs[b + 1]]: feed
    it, then steps - 1 of its own argmax tokens. preds[b, t] = the argmax after position
    t; undefined_at[b] = the first position with Z = 0 (-1: none; preds stay -1 from
    there); overflow[b] as `_overflowed` over the defined positions. ``kernel``: LANES
    (`lanes.lane_step`, its weights ``lw``, lane parameters R, value type of ``proto``),
    FIXED (`_fx_step`) or GENERAL (`_step`). Releases the GIL: `run_batch` runs one call
    per core in threads."""
    L, H = weights[2].shape[0], weights[2].shape[1]
    V = weights[10].shape[0]
    d, f = weights[2].shape[3], weights[6].shape[1]
    lanes = kernel == LANES
    C = lane_cache(L, H, k, d, f, V, cap if lanes else 1, proto)
    g = _unpack(R)
    native = R[NATIVE] != 0.0
    # one cache for all; a prompt overwrites position t before reading it
    A = np.zeros((L, H, cap))
    logits = np.empty(V)
    K = np.zeros((L, H, cap, k))
    Vt = np.zeros((L, H, k, cap))
    fin = np.zeros((L, H, 2, cap), dtype=np.bool_)
    parts = np.empty(_MAX_PARTIALS + 2)
    sel = np.empty(cap + k, dtype=np.int64)
    Kc = np.zeros((L, H, k, cap))
    Vc = np.zeros((L, H, k, cap))
    S = np.empty(cap)
    NZj = np.empty(cap, dtype=np.int64)
    NZa = np.empty(cap)
    qi = np.empty(k, dtype=np.int64)
    for b in range(lo, hi):
        n = offs[b + 1] - offs[b]
        for t in range(n + steps - 1):
            tok = toks[offs[b] + t] if t < n else preds[b, t - 1]
            if lanes:
                code = lane_step(tok, t, weights, lw, C, stable, P, native, g, A, logits)
            elif kernel == FIXED:
                code = _fx_step(tok, t, fxw, layout, mode, stable, P, Kc, Vc, A, S,
                                NZj, NZa, qi, logits)
            else:
                code = _step(tok, t, weights, layout, mode, stable, P, K, Vt, A, fin,
                             logits, True, parts, sel)
            if code != 0:
                undefined_at[b] = t
                break
            if not overflow[b] and _overflowed(A, t):
                overflow[b] = True
            preds[b, t] = _argmax(logits)


@dataclass(frozen=True)
class BatchRun:
    """What `run_batch` computed, per prompt b (B prompts, ``steps`` CoT steps).

    - ``preds`` (B, W) int64: preds[b, t] is the greedy next token after positions
      0..t of prompt b's sequence (its prompt, then its own tokens); -1 where position t
      was not read (past the end, or from the undefined position on).
    - ``lengths`` (B,): the prompt lengths n_b.
    - ``undefined_at`` (B,): the first position where some Z_i = 0, or -1.
    - ``overflow`` (B,) bool: some a_ij of a defined position is NaN or infinite.
    """

    preds: np.ndarray
    lengths: np.ndarray
    steps: int
    undefined_at: np.ndarray
    overflow: np.ndarray

    @property
    def undefined(self) -> np.ndarray:
        """(B,) bool: the pass is undefined somewhere in the positions read."""
        return self.undefined_at >= 0

    @property
    def next_tokens(self) -> np.ndarray:
        """(B,) the greedy next token after each prompt; -1 where undefined."""
        return self.preds[np.arange(self.lengths.size), self.lengths - 1]

    def cot(self, b: int) -> tuple[list[int], bool]:
        """Prompt b's CoT tokens (the defined steps, as `cot.run_cot`'s ``tokens``) and
        whether a step was undefined."""
        n = int(self.lengths[b])
        row = self.preds[b, n - 1:n - 1 + self.steps]
        tokens = row[row >= 0].tolist()
        return tokens, bool(self.undefined_at[b] >= 0)

    def cot_tokens(self) -> np.ndarray:
        """(B, steps): every prompt's CoT tokens, -1 from its undefined step on."""
        idx = (self.lengths - 1)[:, None] + np.arange(self.steps)[None, :]
        return np.take_along_axis(self.preds, idx, axis=1)


def _pack(model: Model, prompts: Sequence[Sequence[int]] | np.ndarray,
          steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The prompts as one int64 array and offsets, each checked as `Model.check_tokens`
    checks it (the same messages, naming the prompt)."""
    if isinstance(prompts, np.ndarray) and prompts.ndim == 2:
        arrs = list(prompts)
    else:
        arrs = [np.asarray(p) for p in prompts]
    if not arrs:
        raise ModelError("no prompts")
    lengths = np.array([a.size for a in arrs], dtype=np.int64)
    flat = np.concatenate(arrs) if lengths.sum() else np.zeros(0, dtype=np.int64)
    if (flat.dtype.kind not in "iu" or (lengths == 0).any() or
            (lengths + steps - 1 > model.max_len).any() or
            (flat.size and (flat.min() < 0 or flat.max() >= model.vocab)) or
            any(a.ndim != 1 for a in arrs)):
        for b, a in enumerate(arrs):
            try:
                model.check_tokens(a, extra_positions=steps - 1)
            except ModelError as e:
                raise ModelError(f"prompt {b + 1}: {e}") from None
    offs = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offs[1:])
    return np.ascontiguousarray(flat, dtype=np.int64), offs


def batch_kernel(model: Model, *, fast: bool = True, lanes: bool = True) -> str:
    """Which kernel `run_batch` runs the model with: "lanes" (`lanes.lane_step`, float32
    arithmetic for float32), "fixed-point" (`forward._fx_step`) or "general"
    (`forward._step`, zero-term skips)."""
    if fast and lanes and lane_params_of(model) is not None:
        return "lanes"
    return "fixed-point" if fast and fixed_point_weights(model) is not None else "general"


def run_batch(model: Model, prompts: Sequence[Sequence[int]] | np.ndarray, steps: int = 1,
              *, fast: bool = True, lanes: bool = True,
              threads: int | None = None) -> BatchRun:
    """Run every prompt, then ``steps - 1`` of its own greedy tokens (``steps`` = 1: the
    next token only), in one parallel kernel; see `BatchRun`. ``fast`` selects the fixed-
    point kernel and the fast rounding route where the format allows them, ``lanes``
    the lane kernel there (`batch_kernel` says which runs); they change the speed, never
    a result. Raises `ModelError` for a bad prompt (naming it) or steps < 1."""
    steps = int(steps)
    if steps < 1:
        raise ModelError(f"cot steps must be at least 1, got {steps}")
    toks, offs = _pack(model, prompts, steps)
    lengths = np.diff(offs)
    B = lengths.size
    width = int(lengths.max()) + steps - 1
    w = dense_weights(model)
    P = np.ascontiguousarray(model.fmt.params, dtype=np.float64)
    R = lane_params_of(model) if fast and lanes else None
    fx = fixed_point_weights(model) if fast and R is None else None
    e2, e1 = np.zeros((1, 1)), np.zeros(1)
    if fx is not None:
        kernel, fxw, layout = FIXED, tuple(fx[0]), layout_arg(fx[1])
    else:
        fxw = tuple(FxWeights(e2, e2, e2, e2, e1, e1))
        layout = layout_arg(weight_layout(w))
        if fast:
            P = fparith.fast_params(P)
        kernel = LANES if R is not None else GENERAL
    if R is not None:
        dt = lane_dtype(R)
        lw, proto = tuple(lane_weights(model, dt)), np.zeros(1, dtype=dt)
    else:  # unused: the lane kernel's arguments, as small as they come
        e4 = np.zeros((1, 1, 1, 1))
        lw, proto = (e4, e4, e4, e4, e2[None], e2[None], e2), e1
        R = np.zeros(12)
    preds = np.full((B, width), -1, dtype=np.int64)
    undefined_at = np.full(B, -1, dtype=np.int64)
    overflow = np.zeros(B, dtype=np.bool_)
    args = (steps, kernel, tuple(w), fxw, layout, lw, R, proto, model.sum_code,
            model.softmax_code == 1, P, width, model.d_head, preds, undefined_at, overflow)
    # contiguous shares of about equal token counts, one per thread
    nt = max(1, min(B, THREADS if threads is None else int(threads)))
    cum = np.cumsum(lengths + steps - 1)
    cuts = [0] + [int(np.searchsorted(cum, cum[-1] * i / nt)) for i in range(1, nt)] + [B]
    shares = [(lo, hi) for lo, hi in zip(cuts, cuts[1:]) if hi > lo]
    if len(shares) == 1:
        _run_prompts(toks, offs, 0, B, *args)
    else:
        with ThreadPoolExecutor(len(shares)) as pool:
            for f in [pool.submit(_run_prompts, toks, offs, lo, hi, *args)
                      for lo, hi in shares]:
                f.result()
    return BatchRun(preds=preds, lengths=lengths, steps=steps, undefined_at=undefined_at,
                    overflow=overflow)
