"""Lookup tables as depth-2 AND/OR logic: a decoder of minterms feeding ORs.

An operation on a few bundles is a table over the product of their domains. Row r of
the table is one combination of operand values; its minterm is the AND of one literal
per key bit of each operand (``Bundle.key_bits``; NOT gates give the negated literals).
Output bit j is the OR of the minterms of the rows where that bit is 1. Exactly one
row's minterm is 1 on any valid input, so a bit that is 1 on every row is the constant 1.
Minterms over the same operands are built once and shared by every table that reads
them (and structural hashing shares equal gates across tables).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .bundles import Bundle, Expr, Term, as_expr, evaluate, grid, grid_size
from .context import Ctx


def literals(ctx: Ctx, x: Bundle) -> list[tuple[int, ...]]:
    """Per domain entry of ``x``: the literals that are 1 exactly on that entry."""
    if x._lits is None:
        keys = x.key_bits()
        b = ctx.b
        x._lits = [tuple(x.bits[j] if (int(code) >> j) & 1 else b.NOT(x.bits[j]) for j in keys)
                   for code in x.codes.tolist()]
    return x._lits


def minterms(ctx: Ctx, operands: Sequence[Bundle]) -> list[int]:
    """One minterm node per row of the operands' grid (first operand slowest)."""
    key = tuple(id(op) for op in operands)
    hit = ctx.minterm_cache.get(key)
    if hit is not None:
        return hit[0]
    ctx.reserve(grid_size(operands))
    idx, _ = grid(operands)
    lits = [literals(ctx, op) for op in operands]
    b = ctx.b
    one = None
    out = []
    for row in idx.tolist():
        ls = [l for k, i in enumerate(row) for l in lits[k][i]]
        if not ls:
            one = b.const(1) if one is None else one
            out.append(one)
        else:
            out.append(b.AND(*ls))
    ctx.minterm_cache[key] = (out, tuple(operands))  # the operands keep the ids alive
    return out


def or_columns(ctx: Ctx, rows: list[int], matrix: np.ndarray) -> list[int]:
    """Column j: the OR of the row nodes where ``matrix[:, j]`` is set."""
    b = ctx.b
    out = []
    for j in range(matrix.shape[1]):
        col = matrix[:, j]
        if not col.any():
            out.append(b.const(0))
        elif col.all():
            out.append(b.const(1))
        else:
            out.append(b.OR(*[rows[r] for r in np.flatnonzero(col).tolist()]))
    return out


def code_bits(codes: np.ndarray, width: int) -> np.ndarray:
    """(rows, width) 0/1 matrix of the codes' bits, least significant first."""
    return ((np.asarray(codes, dtype=np.int64)[:, None] >> np.arange(width)) & 1).astype(bool)


def table_bits(ctx: Ctx, operands: Sequence[Bundle], matrix: np.ndarray) -> list[int]:
    """Output bits given as a (rows, bits) matrix over the operands' grid."""
    return or_columns(ctx, minterms(ctx, operands), np.asarray(matrix, dtype=bool))


def table(ctx: Ctx, term: Term) -> Bundle:
    """The bundle of an expression's value (a bundle is returned as it is)."""
    if isinstance(term, Bundle):
        return term
    expr: Expr = as_expr(term)
    idx, out = evaluate(expr)
    if np.all(out == out[0]):
        return ctx.const(float(out[0]))
    values, inverse = np.unique(out, return_inverse=True)
    codes = ctx.encode(values)
    for k, op in enumerate(expr.operands):  # the code of one operand: no gates
        if op.width == ctx.width and np.array_equal(codes[inverse], op.codes[idx[:, k]]):
            return op
    bits = table_bits(ctx, expr.operands, code_bits(codes[inverse], ctx.width))
    return Bundle(tuple(bits), values, codes)


def thermometer_code(ctx: Ctx, vals: np.ndarray, ge: Sequence[int | bool]) -> Bundle:
    """The bundle of a value in ``vals`` (sorted) given ge[k] = [value >= vals[k + 1]]
    (nested: ge[0] >= ge[1] >= ...; a bool is a constant): bit j of the code is
    b_j(vals[0]) + sum_k (b_j(vals[k+1]) - b_j(vals[k])) ge[k], which is 0 or 1, so one
    THR with weights +-1 at the steps where bit j changes."""
    b = ctx.b
    t = [b.const(int(x)) if isinstance(x, bool) else x for x in ge]
    codes = ctx.encode(vals)
    cb = code_bits(codes, ctx.width).astype(np.int64)
    out = []
    for j in range(ctx.width):
        col = cb[:, j]
        diffs = np.diff(col)
        nz = np.flatnonzero(diffs)
        if len(nz) == 0:
            out.append(b.const(int(col[0])))
        else:
            out.append(b.THR([t[k] for k in nz.tolist()], diffs[nz].tolist(), 1 - int(col[0])))
    return Bundle(tuple(out), vals, codes)
