"""The Numba kernels of bit-parallel evaluation (see ``simulate`` for the layout).

The kernel walks the gates in topological order (the IR's node order) over a *block* of
words at a time, keeping the value buffer of one block in cache while every gate is
applied to it; the per-gate dispatch is spread over the block's words. The buffer has
one row per *live* node only (``assign_rows`` reuses the rows of dead nodes), so its size
follows the circuit's width rather than its size.

MAJ and THR are evaluated with bit-sliced counters: the weighted sum of the 64 lanes of a
word is kept as ``B`` words, word ``p`` holding bit ``p`` of every lane's sum, and compared
with the threshold bit by bit from the top. A negative weight w on x is turned into |w| on
NOT x, with the threshold raised by |w| (w x = w + |w| (1 - x)). Sums must stay below
2^61 (``simulate`` checks this before calling in).

Only this module imports Numba; ``circuits.simulate`` imports it on first use.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .ir import Kind

#: The block buffer (live rows x block words x 8 bytes) aims at this many bytes, about
#: half a typical per-core L2 cache. Longer blocks spread the per-gate dispatch (and the
#: loop set-up) over more words; the buffer must still stay in cache.
BUFFER_BYTES = 512 * 1024
#: The automatic block length stays within these bounds (in words of 64 vectors).
MIN_BLOCK, MAX_BLOCK = 16, 256

_CONST0, _CONST1 = int(Kind.CONST0), int(Kind.CONST1)
_BUF, _NOT = int(Kind.BUF), int(Kind.NOT)
_AND, _OR, _NAND, _NOR = int(Kind.AND), int(Kind.OR), int(Kind.NAND), int(Kind.NOR)
_XOR, _XNOR, _MAJ, _THR = int(Kind.XOR), int(Kind.XNOR), int(Kind.MAJ), int(Kind.THR)
_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True, nogil=True)
def _threshold(buf, d, fanin, weights, a, e, t, unit, acc, carry):
    """buf[d] = [sum_i w_i x_i >= t] lane by lane, with a bit-sliced counter in ``acc``
    (64, block) and a carry row (block,).
    With ``unit`` every weight is 1 (MAJ), whatever ``weights`` holds."""
    total = 0
    for j in range(a, e):
        w = 1 if unit else weights[j]
        if w < 0:
            total -= w
            t -= w
        else:
            total += w
    nb = buf.shape[1]
    if t <= 0:
        for b in range(nb):
            buf[d, b] = _ONES
        return
    if t > total:
        for b in range(nb):
            buf[d, b] = np.uint64(0)
        return
    nbits = 0
    while (total >> nbits) > 0:
        nbits += 1
    # acc[p, b]: bit p of the running sum in every lane of word b; whole rows at a time,
    # so that the loops over b vectorise
    for p in range(nbits):
        for b in range(nb):
            acc[p, b] = np.uint64(0)
    for j in range(a, e):
        w = 1 if unit else weights[j]
        f = fanin[j]
        flip = _ONES if w < 0 else np.uint64(0)
        if w < 0:
            w = -w
        p = 0
        while w > 0:  # add x * 2^p for every set bit p of w, rippling the carry up
            if w & 1:
                for b in range(nb):
                    carry[b] = buf[f, b] ^ flip
                for q in range(p, nbits):
                    for b in range(nb):
                        c = carry[b]
                        s = acc[q, b]
                        acc[q, b] = s ^ c
                        carry[b] = s & c
            w >>= 1
            p += 1
    # acc >= t, from the most significant bit down: gt collects "greater", eq "equal so far"
    for b in range(nb):
        gt = np.uint64(0)
        eq = _ONES
        for p in range(nbits - 1, -1, -1):
            if (t >> p) & 1:
                eq &= acc[p, b]
            else:
                gt |= eq & acc[p, b]
        buf[d, b] = gt | eq


@njit(cache=True, nogil=True)
def _gates(kinds, ptr, sfanin, weights, thresholds, dest, buf, first, acc, carry):
    """Apply gates ``first..N-1`` to the block in ``buf`` (inputs already filled in).
    Node g lives in row ``dest[g]`` of ``buf``; ``sfanin`` holds rows, not node ids."""
    nb = buf.shape[1]
    fanin = sfanin
    for g in range(first, kinds.shape[0]):
        k = kinds[g]
        d = dest[g]
        a = ptr[g]
        e = ptr[g + 1]
        if k == _AND or k == _NAND:
            f0 = fanin[a]
            if e - a == 2:
                f1 = fanin[a + 1]
                for b in range(nb):
                    buf[d, b] = buf[f0, b] & buf[f1, b]
            else:
                for b in range(nb):
                    buf[d, b] = buf[f0, b]
                for j in range(a + 1, e):
                    f = fanin[j]
                    for b in range(nb):
                        buf[d, b] &= buf[f, b]
            if k == _NAND:
                for b in range(nb):
                    buf[d, b] = ~buf[d, b]
        elif k == _OR or k == _NOR:
            f0 = fanin[a]
            if e - a == 2:
                f1 = fanin[a + 1]
                for b in range(nb):
                    buf[d, b] = buf[f0, b] | buf[f1, b]
            else:
                for b in range(nb):
                    buf[d, b] = buf[f0, b]
                for j in range(a + 1, e):
                    f = fanin[j]
                    for b in range(nb):
                        buf[d, b] |= buf[f, b]
            if k == _NOR:
                for b in range(nb):
                    buf[d, b] = ~buf[d, b]
        elif k == _NOT:
            f0 = fanin[a]
            for b in range(nb):
                buf[d, b] = ~buf[f0, b]
        elif k == _BUF:
            f0 = fanin[a]
            for b in range(nb):
                buf[d, b] = buf[f0, b]
        elif k == _XOR or k == _XNOR:
            f0 = fanin[a]
            for b in range(nb):
                buf[d, b] = buf[f0, b]
            for j in range(a + 1, e):
                f = fanin[j]
                for b in range(nb):
                    buf[d, b] ^= buf[f, b]
            if k == _XNOR:
                for b in range(nb):
                    buf[d, b] = ~buf[d, b]
        elif k == _CONST0:
            for b in range(nb):
                buf[d, b] = np.uint64(0)
        elif k == _CONST1:
            for b in range(nb):
                buf[d, b] = _ONES
        elif k == _MAJ:
            # MAJ over k inputs: 1 iff at least ceil(k/2) are 1
            _threshold(buf, d, fanin, weights, a, e, (e - a + 1) // 2, True, acc, carry)
        elif k == _THR:
            _threshold(buf, d, fanin, weights, a, e, thresholds[g], False, acc, carry)


@njit(cache=True, nogil=True)
def assign_rows(ptr, fanin, num_inputs, keep):
    """Give every node a row of the block buffer, reusing the rows of dead nodes.

    A node's row is free again once its last consumer has been computed, so the buffer
    holds only the nodes live at one time (the circuit's width, not its size) and stays
    in cache. Inputs get rows 0..n-1 (all are filled before the first gate); nodes in
    ``keep`` are never freed. A gate never shares a row with one of its own fan-ins.
    Returns (row per node, number of rows)."""
    n = ptr.shape[0] - 1
    last = np.arange(n)  # index of the last consumer; a node nobody reads dies at once
    for g in range(n):
        for j in range(ptr[g], ptr[g + 1]):
            f = fanin[j]
            if g > last[f]:
                last[f] = g
    for o in range(keep.shape[0]):
        last[keep[o]] = n
    for i in range(num_inputs):
        if last[i] == i:
            last[i] = n  # an unused input keeps its row: inputs are loaded together
    row = np.empty(n, dtype=np.int64)
    free = np.empty(n, dtype=np.int64)
    nfree = 0
    nrows = 0
    for g in range(n):
        if nfree > 0:  # last freed first: that row is likely still in cache
            nfree -= 1
            row[g] = free[nfree]
        else:
            row[g] = nrows
            nrows += 1
        for j in range(ptr[g], ptr[g + 1]):
            f = fanin[j]
            if last[f] == g:
                last[f] = -1  # freed once, even where f appears twice among the fan-ins
                free[nfree] = row[f]
                nfree += 1
        if last[g] == g:
            free[nfree] = row[g]
            nfree += 1
    return row, nrows


@njit(cache=True, nogil=True)
def simulate_blocks(kinds, ptr, fanin, weights, thresholds, num_inputs, in_words, keep, out,
                    block):
    """Evaluate ``in_words`` (n, W) ``block`` words at a time, and copy nodes ``keep`` into
    ``out`` (len(keep), W). W need not be a multiple of ``block``: the last block is
    padded with zeros. ``block <= 0`` picks a power of two that fits BUFFER_BYTES."""
    row, nrows = assign_rows(ptr, fanin, num_inputs, keep)
    if block <= 0:
        block = MIN_BLOCK
        while block < MAX_BLOCK and 2 * block * 8 * max(nrows, 1) <= BUFFER_BYTES:
            block *= 2
    block = max(1, min(block, in_words.shape[1]))
    sfanin = np.empty_like(fanin)
    for j in range(fanin.shape[0]):
        sfanin[j] = row[fanin[j]]
    total = in_words.shape[1]
    buf = np.empty((nrows, block), dtype=np.uint64)
    acc = np.empty((64, block), dtype=np.uint64)
    carry = np.empty(block, dtype=np.uint64)
    for w0 in range(0, total, block):
        nb = min(block, total - w0)
        for i in range(num_inputs):
            r = row[i]
            for b in range(nb):
                buf[r, b] = in_words[i, w0 + b]
            for b in range(nb, block):
                buf[r, b] = np.uint64(0)
        _gates(kinds, ptr, sfanin, weights, thresholds, row, buf, num_inputs, acc, carry)
        for o in range(keep.shape[0]):
            r = row[keep[o]]
            for b in range(nb):
                out[o, w0 + b] = buf[r, b]
