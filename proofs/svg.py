"""SVG figures: line charts drawn by matplotlib (imported lazily, on the first chart, so
that commands that draw nothing never load it) and hand-written attention heat maps (each
cell carries its value as a tooltip). Every figure is a self-contained SVG string (with
its namespace, so that it also opens as a file)."""
from __future__ import annotations

import html
from typing import Sequence

import numpy as np

FONT = "Helvetica,Arial,sans-serif"
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


def _esc(s: str) -> str:
    return html.escape(str(s), quote=True)


def line_chart(series: Sequence[tuple], title: str, xlabel: str, ylabel: str,
               steps: bool = False, width: int = 640, height: int = 360,
               logx: bool | None = None, logy: bool | None = None) -> str:
    """A line chart drawn by matplotlib (SVG backend, text kept as text), as an SVG string.

    Series of (label, xs, ys[, style]) with style "line" (default), "points" or "dashed".
    ``steps`` draws each line as a step function (held until the next x). ``logx`` /
    ``logy``: None picks a log scale when every value is positive and they span more than
    two decades (sizes against n, times against T), False / True force it."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    xs_all = np.concatenate([np.asarray(s[1], float) for s in series])
    ys_all = np.concatenate([np.asarray(s[2], float) for s in series])
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "cotsim",
                                "font.family": "sans-serif", "font.size": 10}):
        fig = Figure(figsize=(width / 100, height / 100), dpi=100)
        ax = fig.add_subplot()
        for k, s in enumerate(series):
            label, xs, ys = s[0], np.asarray(s[1], float), np.asarray(s[2], float)
            style = s[3] if len(s) > 3 else "line"
            order = np.argsort(xs, kind="stable")
            xs, ys = xs[order], ys[order]
            colour = COLOURS[k % len(COLOURS)]
            # clip_on=False: the data lie inside the autoscaled axes, and an unclipped
            # figure refers to no url(#clip) (the report names no address at all)
            if style == "points":
                ax.plot(xs, ys, "o", color=colour, markersize=4, label=label, clip_on=False)
            else:
                ax.plot(xs, ys, color=colour, linewidth=1.8, label=label,
                        linestyle="--" if style == "dashed" else "-",
                        drawstyle="steps-post" if steps else "default",
                        marker="o" if len(xs) <= 12 and not steps else None, markersize=3,
                        clip_on=False)
        if _wants_log(xs_all, logx):
            ax.set_xscale("log")
        if _wants_log(ys_all, logy):
            ax.set_yscale("log")
        ax.set_title(title, fontsize=11, fontweight="bold")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", color="#e5e5e5", linewidth=0.8, clip_on=False)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)
        buf = io.StringIO()  # bbox "tight": the canvas grows to hold a long legend
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None,
                                                 "Format": None, "Type": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _wants_log(values: np.ndarray, forced: bool | None) -> bool:
    if forced is not None:
        return forced
    values = values[np.isfinite(values)]
    return bool(values.size) and bool(np.all(values > 0)) and \
        float(values.max()) / float(values.min()) > 100.0


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
