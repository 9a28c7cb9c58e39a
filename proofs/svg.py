"""Small hand-written SVG figures: a line chart and attention heat maps. No plotting
library; every figure is a self-contained SVG string (with its namespace, so that it
also opens as a file)."""
from __future__ import annotations

import html
import math
from typing import Sequence

import numpy as np

FONT = "Helvetica,Arial,sans-serif"
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


def _esc(s: str) -> str:
    return html.escape(str(s), quote=True)


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    first = math.ceil(lo / step) * step
    out, t = [], first
    while t <= hi + 1e-9 * step:
        out.append(round(t, 10))
        t += step
    return out


def line_chart(series: Sequence[tuple], title: str, xlabel: str, ylabel: str,
               steps: bool = False, width: int = 640, height: int = 360) -> str:
    """Series of (label, xs, ys[, style]) with style "line" (default), "points" or
    "dashed". ``steps`` draws each line as a step function (held until the next x)."""
    ml, mr, mt, mb = 62, 150, 34, 46
    pw, ph = width - ml - mr, height - mt - mb
    xs_all = np.concatenate([np.asarray(s[1], float) for s in series])
    ys_all = np.concatenate([np.asarray(s[2], float) for s in series])
    x0, x1 = float(xs_all.min()), float(xs_all.max())
    y0, y1 = float(ys_all.min()), float(ys_all.max())
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y1 = y0 + 1
    pad = 0.04 * (y1 - y0)
    y0, y1 = y0 - pad, y1 + pad

    def X(x: float) -> float:
        return ml + (x - x0) / (x1 - x0) * pw

    def Y(y: float) -> float:
        return mt + (1 - (y - y0) / (y1 - y0)) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{ml + pw / 2}" y="20" text-anchor="middle" font-size="13" '
           f'font-weight="bold">{_esc(title)}</text>']
    for t in _ticks(x0, x1):
        out.append(f'<line x1="{X(t):.1f}" y1="{mt}" x2="{X(t):.1f}" y2="{mt + ph}" '
                   'stroke="#eeeeee"/>')
        out.append(f'<text x="{X(t):.1f}" y="{mt + ph + 14}" text-anchor="middle">{t:g}</text>')
    for t in _ticks(y0, y1):
        out.append(f'<line x1="{ml}" y1="{Y(t):.1f}" x2="{ml + pw}" y2="{Y(t):.1f}" '
                   'stroke="#eeeeee"/>')
        out.append(f'<text x="{ml - 6}" y="{Y(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    out.append(f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="none" '
               'stroke="#888888"/>')
    out.append(f'<text x="{ml + pw / 2}" y="{height - 8}" text-anchor="middle">'
               f'{_esc(xlabel)}</text>')
    out.append(f'<text transform="translate(14,{mt + ph / 2}) rotate(-90)" '
               f'text-anchor="middle">{_esc(ylabel)}</text>')
    for k, s in enumerate(series):
        label, xs, ys = s[0], np.asarray(s[1], float), np.asarray(s[2], float)
        style = s[3] if len(s) > 3 else "line"
        colour = COLOURS[k % len(COLOURS)]
        order = np.argsort(xs, kind="stable")
        xs, ys = xs[order], ys[order]
        if style == "points":
            out += [f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="3.5" fill="{colour}"/>'
                    for x, y in zip(xs, ys)]
        else:
            pts = []
            for i, (x, y) in enumerate(zip(xs, ys)):
                if steps and i:
                    pts.append(f"{X(x):.1f},{Y(ys[i - 1]):.1f}")
                pts.append(f"{X(x):.1f},{Y(y):.1f}")
            dash = ' stroke-dasharray="6,4"' if style == "dashed" else ""
            out.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{colour}" '
                       f'stroke-width="1.8"{dash}/>')
        ly = mt + 8 + 18 * k
        out.append(f'<line x1="{ml + pw + 12}" y1="{ly}" x2="{ml + pw + 32}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="3"/>')
        out.append(f'<text x="{ml + pw + 38}" y="{ly + 4}">{_esc(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _shade(v: float) -> str:
    """0 -> white, 1 -> dark blue."""
    v = min(max(v, 0.0), 1.0)
    r = round(255 - v * (255 - 23))
    g = round(255 - v * (255 - 70))
    b = round(255 - v * (255 - 140))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmaps(matrices: Sequence[np.ndarray], titles: Sequence[str],
             row_labels: Sequence[str], col_labels: Sequence[str], title: str,
             cell: int = 18) -> str:
    """Side-by-side heat maps of square matrices in [0, 1] (NaN: not drawn), with the
    row and column labels on the first map. Cells carry the value as a tooltip."""
    P = matrices[0].shape[0]
    lab = 8 + 7 * max((len(s) for s in row_labels), default=1)
    top = 40 + 7 * max((len(s) for s in col_labels), default=1)
    gap = 40
    w_map = P * cell
    width = lab + len(matrices) * (w_map + gap)
    height = top + P * cell + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="10">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="8" y="16" font-size="13" font-weight="bold">{_esc(title)}</text>']
    for k, (M, t) in enumerate(zip(matrices, titles)):
        x0 = lab + k * (w_map + gap)
        out.append(f'<text x="{x0 + w_map / 2}" y="{top - 6 - 7 * max(len(s) for s in col_labels)}"'
                   f' text-anchor="middle" font-size="11" font-weight="bold">{_esc(t)}</text>')
        for j, cl in enumerate(col_labels):
            cx = x0 + j * cell + cell / 2 + 3
            out.append(f'<text transform="translate({cx:.1f},{top - 4}) rotate(-60)">'
                       f'{_esc(cl)}</text>')
        for i in range(P):
            y = top + i * cell
            if k == 0:
                out.append(f'<text x="{lab - 4}" y="{y + cell * 0.7:.1f}" text-anchor="end">'
                           f'{_esc(row_labels[i])}</text>')
            for j in range(P):
                v = M[i, j]
                if np.isnan(v):
                    continue
                out.append(f'<rect x="{x0 + j * cell}" y="{y}" width="{cell}" height="{cell}" '
                           f'fill="{_shade(float(v))}" stroke="#dddddd" stroke-width="0.5">'
                           f'<title>{_esc(row_labels[i])} attends {_esc(col_labels[j])}: '
                           f'{float(v):g}</title></rect>')
    out.append(f'<text x="8" y="{height - 10}" font-size="10" fill="#555555">row: the '
               'position computing a step; column: the position attended to; dark = weight 1'
               '</text>')
    out.append("</svg>")
    return "\n".join(out)
