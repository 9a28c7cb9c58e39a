"""Wilson 95% intervals for the accuracies of a sweep.

An accuracy is a share of right prompts, so its interval is the Wilson score interval of
a binomial proportion (Wilson 1927), which stays inside [0, 1] and is sound at 0% and
100%, where the normal approximation collapses to a point:

    centre = (p + z^2 / 2N) / (1 + z^2 / N),
    half   = z / (1 + z^2 / N) * sqrt(p (1 - p) / N + z^2 / 4N^2),

with p = k / N and z = 1.959964 (95%). Two intervals per cell of a table:

- *over held-out samples* (`samples_interval`): the prompts of every seed pooled,
  k = sum of right prompts, N = sum of prompts. It says how well the prompts measure
  the models that were trained;
- *over seeds* (`seeds_interval`): each seed's accuracy taken as one trial of weight 1,
  k = sum of the seeds' accuracies, N = the number of seeds. It says how much a fresh
  training could differ: with 2 seeds it is wide, as it must be.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

#: the 97.5% quantile of the standard normal
Z95 = 1.959963984540054


def wilson(k: float, n: float, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of k successes in n trials (k may be fractional)."""
    if n <= 0:
        raise ValueError(f"wilson: n = {n} trials; expected n > 0")
    if not 0 <= k <= n:
        raise ValueError(f"wilson: k = {k} is not in [0, n = {n}]")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # at k = 0 (k = n) the lower (upper) end is exactly 0 (1); rounding would miss it
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return lo, hi


def samples_interval(rows: Sequence[dict[str, Any]], metric: str,
                     samples: str = "samples") -> tuple[float, float] | None:
    """The Wilson interval of ``metric`` over the held-out prompts of ``rows`` (one cell:
    its seeds), pooled; None when a row lacks the metric or its prompt count."""
    k = n = 0.0
    for r in rows:
        a, s = r.get(metric), r.get(samples)
        if a is None or not s:
            return None
        k += round(a * s)
        n += s
    return wilson(k, n) if n else None


def seeds_interval(rows: Sequence[dict[str, Any]], metric: str
                   ) -> tuple[float, float] | None:
    """The Wilson interval of ``metric`` over the seeds of ``rows`` (one row a seed)."""
    vals = [r[metric] for r in rows if r.get(metric) is not None]
    return wilson(sum(vals), len(vals)) if vals else None


def fmt_interval(iv: tuple[float, float] | None, digits: int | None = None) -> str:
    """``[lo, hi]`` in percent, or empty. ``digits`` None: whole points, or one decimal
    when the interval is under 2 points wide (0.9% of 2,000 prompts is [0.6, 1.4], which
    whole points would print as [1, 1])."""
    if iv is None:
        return ""
    if digits is None:
        digits = 1 if iv[1] - iv[0] < 0.02 else 0
    return f"[{100 * iv[0]:.{digits}f}, {100 * iv[1]:.{digits}f}]"
