"""The row maximum of the stable softmax, m_i = max_j s_ij: exact (a maximum needs no
rounding). Its own module because both kernels use it, `forward` and `lanes`, and
`forward` imports `lanes`."""
from __future__ import annotations

from numba import njit


@njit(cache=True)
def row_max(s, n):
    """max of s[:n] (exact), NaN when one of them is NaN (as np.max)."""
    m = s[0]
    for j in range(n):
        x = s[j]
        if x != x:
            return x
        if x > m:
            m = x
    return m
