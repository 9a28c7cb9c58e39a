"""Figures and tables of a sweep (`experiments.sweep`), in the paper's layout.

`write_report(sweep_dir, out_dir=None)` reads ``results.jsonl`` and writes, atomically
and all together, into ``sweep_dir/report/`` unless ``out_dir`` is given:

- ``accuracy_vs_n_jax.svg``: the same layout for the trained model in JAX (float32, the
  softmax's row maximum subtracted, as it was trained): the paper's setting;
- ``accuracy_vs_n.svg``: the paper's Figure layout. Accuracy against n, one panel per
  task, one line per setting and depth (colour: setting; marker and dash: depth), in the
  reference format (`reference_format`: float32 when the sweep has it), averaged over
  seeds; chance as a grey dotted line;
- ``accuracy_heatmap.svg``: the same numbers as heat maps (a row per setting and depth,
  a column per n), each cell with its Wilson 95% interval over the held-out prompts;
  the figures of accuracy against n shade that interval around each line;
- ``accuracy_vs_format.svg``: for each trained model (task, setting, n, depth), its
  accuracy in every format of the sweep, formats ordered by bit width: the precision each
  model needs;
- ``depth_vs_cot.svg``, when the sweep has cot settings of two strides K or more (cot,
  cot:K): depth against CoT length, a heat map per task and n of the paper's metric in
  the reference format, against the CoT tokens n/K (columns) and the depth (rows);
- ``report.md``: the same numbers as tables, each accuracy against n with its Wilson
  95% intervals (`experiments.intervals`: over the held-out prompts, and over seeds
  where a cell has two or more) (accuracy against n; depth against CoT
  length; accuracy per format with the smallest format that keeps the model's accuracy;
  training time and steps/s).

The formats are those of results.jsonl and, where `experiments.precision` has run, of
precision.jsonl (`read_all_results`).

"Accuracy" is the paper's metric (`METRIC`): for cot every chain token right under
teacher forcing, for base and hint the answer; the model run by the simulator in the
format. The tables also give the free-running accuracy (the answer at the end of the
model's own chain) and the share of undefined prompts (Z = 0).

matplotlib is imported only when a figure is drawn (Agg backend, SVG output).
"""
from __future__ import annotations

import io
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from circuits.errors import CotsimInputError

from .intervals import fmt_interval, samples_interval, seeds_interval
from .sweep import read_all_results, read_results
from .tasks import SETTINGS, cot_stride

#: the result field plotted as "accuracy" (the paper's metric)
METRIC = "teacher_forced"
#: the same metric of the trained model in JAX (float32, row maximum subtracted in the
#: softmax), on its own held-out samples: the paper's setting
JAX_METRIC = "train_accuracy"
#: a format keeps a model's accuracy when it loses at most this much against the reference
KEEP_TOLERANCE = 0.02
COLOURS = {"base": "#1f77b4", "cot": "#d62728", "hint": "#2ca02c"}
#: cot:K, by the bit length of K (2: purple, 4: orange, ...)
COT_K_COLOURS = ("#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
MARKERS = ("o", "s", "^", "D", "v", "P")
DASHES = ("-", "--", "-.", ":", (0, (3, 1, 1, 1)), (0, (5, 2)))

Model = tuple  # (task, setting, n, layers)


def reference_format(rows: Sequence[dict[str, Any]]) -> str:
    """The format of the accuracy-against-n figure: float32 when present, else the widest
    format of the sweep."""
    fmts = _formats(rows)
    for name in ("float32", "ieee:e=8,m=23"):
        if name in fmts:
            return name
    return fmts[-1]


def _formats(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The sweep's formats, narrowest first (bit width, then name)."""
    from .evaluate import parse_format

    fmts = {r["format"] for r in rows}
    return sorted(fmts, key=lambda f: (parse_format(f).bit_width, f))


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def _by(rows: Sequence[dict[str, Any]], field: str, *keys: str) -> dict[tuple, float | None]:
    """``field`` averaged over seeds, per value of ``keys``."""
    groups: dict[tuple, list] = defaultdict(list)
    for r in rows:
        groups[tuple(r[k] for k in keys)].append(r.get(field))
    return {k: _mean(v) for k, v in groups.items()}


def _order(values) -> list:
    return sorted(set(values), key=lambda v: (str(type(v)), v))


def _tasks(rows: Sequence[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for r in rows:
        if r["task"] not in seen:
            seen.append(r["task"])
    return seen


def _colour(setting: str) -> str:
    if setting in COLOURS:
        return COLOURS[setting]
    K = cot_stride(setting) or 0
    return COT_K_COLOURS[K.bit_length() % len(COT_K_COLOURS)]


def _settings(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The settings of ``rows``: base, cot, hint, then cot:K by K."""
    have = {r["setting"] for r in rows}
    return [s for s in SETTINGS if s in have] + sorted(
        (s for s in have if s not in SETTINGS), key=lambda s: cot_stride(s) or 0)


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def _figure(panels: int, width_each: float = 3.6, height: float = 3.2):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_each * panels + 1.6, height), dpi=100, layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    return fig, axes


def _rc():
    import matplotlib

    return matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "cotsim",
                                  "font.family": "sans-serif", "font.size": 9})


def accuracy_vs_n_svg(rows: Sequence[dict[str, Any]], fmt: str | None = None,
                      metric: str = METRIC) -> str:
    """Accuracy against n: one panel per task, one line per setting and depth.
    ``metric``: `METRIC` (the simulator in ``fmt``) or `JAX_METRIC` (the trained model in
    JAX, float32 with the row maximum subtracted)."""
    fmt = fmt or reference_format(rows)
    sel = [r for r in rows if r["format"] == fmt]
    acc = _by(sel, metric, "task", "setting", "layers", "n")
    cells = _group(sel, "task", "setting", "layers", "n")
    count = "eval_samples" if metric == JAX_METRIC else "samples"
    chance = _by(sel, "chance", "task", "n")
    tasks = _tasks(sel)
    with _rc():
        fig, axes = _figure(len(tasks))
        for ax, task in zip(axes, tasks):
            mine = [r for r in sel if r["task"] == task]
            ns = _order(r["n"] for r in mine)
            for setting in _settings(mine):
                for i, L in enumerate(_order(r["layers"] for r in mine)):
                    xs = [n for n in ns if acc.get((task, setting, L, n)) is not None]
                    if not xs:
                        continue
                    ax.plot(xs, [acc[(task, setting, L, n)] for n in xs],
                            color=_colour(setting), marker=MARKERS[i % len(MARKERS)],
                            linestyle=DASHES[i % len(DASHES)], label=f"{setting} L={L}")
                    ivs = [samples_interval(cells[(task, setting, L, n)], metric, count)
                           for n in xs]
                    if all(iv is not None for iv in ivs):  # Wilson 95%, held-out prompts
                        ax.fill_between(xs, [iv[0] for iv in ivs], [iv[1] for iv in ivs],
                                        color=_colour(setting), alpha=0.10, linewidth=0)
            ch = [(n, chance.get((task, n))) for n in ns if chance.get((task, n)) is not None]
            if ch:
                ax.plot([c[0] for c in ch], [c[1] for c in ch], color="0.6", linestyle=":",
                        marker="_", markersize=14, label="chance")
            ax.set_title(task)
            ax.set_xlabel("n")
            ax.set_ylim(-0.03, 1.03)
            ax.set_xticks(ns)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("accuracy (JAX, float32)" if metric == JAX_METRIC
                           else f"accuracy ({fmt}, simulator)")
        handles, labels = axes[0].get_legend_handles_labels()
        for ax in axes[1:]:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                if lab not in labels:
                    handles.append(h), labels.append(lab)
        fig.legend(handles, labels, loc="outside right center", fontsize=8)
        return _svg(fig)


def accuracy_heatmap_svg(rows: Sequence[dict[str, Any]], fmt: str | None = None,
                         metric: str = METRIC) -> str:
    """Accuracy as heat maps: one panel per task, a row per setting and depth, a column
    per n; each cell gives the accuracy in percent (averaged over seeds) and under it the
    Wilson 95% interval over the held-out prompts (`experiments.intervals`)."""
    fmt = fmt or reference_format(rows)
    sel = [r for r in rows if r["format"] == fmt]
    acc = _by(sel, metric, "task", "setting", "layers", "n")
    cells = _group(sel, "task", "setting", "layers", "n")
    count = "eval_samples" if metric == JAX_METRIC else "samples"
    tasks = _tasks(sel)
    with _rc():
        height = max(2.4, 0.32 * max(len(_settings([r for r in sel if r["task"] == t]))
                                     * len(_order(r["layers"] for r in sel)) for t in tasks)
                     + 1.2)
        fig, axes = _figure(len(tasks), width_each=2.9, height=height)
        im = None
        for ax, task in zip(axes, tasks):
            mine = [r for r in sel if r["task"] == task]
            ns = _order(r["n"] for r in mine)
            ys = [(s, L) for s in _settings(mine) for L in _order(r["layers"] for r in mine)
                  if any(acc.get((task, s, L, n)) is not None for n in ns)]
            grid = np.array([[np.nan if acc.get((task, s, L, n)) is None
                              else acc[(task, s, L, n)] for n in ns] for s, L in ys])
            im = ax.imshow(np.ma.masked_invalid(grid), vmin=0, vmax=1, cmap="viridis",
                           aspect="auto")
            for i, (s, L) in enumerate(ys):
                for j, n in enumerate(ns):
                    v = grid[i, j]
                    if not np.isfinite(v):
                        continue
                    iv = samples_interval(cells[(task, s, L, n)], metric, count)
                    text = f"{100 * v:.0f}" + (f"\n{fmt_interval(iv, 0)}" if iv else "")
                    ax.text(j, i, text, ha="center", va="center", fontsize=6.5,
                            linespacing=0.95, color="w" if v < 0.6 else "k")
            ax.set_xticks(range(len(ns)), [str(n) for n in ns])
            ax.set_yticks(range(len(ys)), [f"{s} L={L}" for s, L in ys])
            ax.set_xlabel("n")
            ax.set_title(task)
        if im is not None:
            fig.colorbar(im, ax=list(axes), shrink=0.8,
                         label="accuracy (JAX, float32)" if metric == JAX_METRIC
                         else f"accuracy ({fmt}, simulator)")
        return _svg(fig)


def accuracy_vs_format_svg(rows: Sequence[dict[str, Any]]) -> str:
    """Accuracy against format, narrowest first: one panel per task, one line per
    trained model (setting, depth, n)."""
    fmts = _formats(rows)
    acc = _by(rows, METRIC, "task", "setting", "layers", "n", "format")
    tasks = _tasks(rows)
    with _rc():
        fig, axes = _figure(len(tasks), width_each=max(3.6, 0.55 * len(fmts)), height=3.6)
        for ax, task in zip(axes, tasks):
            mine = [r for r in rows if r["task"] == task]
            ns = _order(r["n"] for r in mine)
            for setting in _settings(mine):
                for i, L in enumerate(_order(r["layers"] for r in mine)):
                    for j, n in enumerate(ns):
                        # a model evaluated in some formats only (the precision
                        # ladder takes the solved ones): its points, joined
                        xy = [(i, acc.get((task, setting, L, n, f)))
                              for i, f in enumerate(fmts)]
                        xy = [(x, y) for x, y in xy if y is not None]
                        if not xy:
                            continue
                        ax.plot([x for x, _ in xy], [y for _, y in xy],
                                color=_colour(setting),
                                marker=MARKERS[i % len(MARKERS)],
                                linestyle=DASHES[i % len(DASHES)],
                                alpha=0.35 + 0.65 * (j + 1) / len(ns),
                                label=f"{setting} L={L} n={n}")
            ax.set_title(task)
            ax.set_xticks(range(len(fmts)))
            ax.set_xticklabels(fmts, rotation=60, ha="right", fontsize=7)
            ax.set_ylim(-0.03, 1.03)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6, ncols=2 if len(ax.get_lines()) > 8 else 1)
        axes[0].set_ylabel("accuracy")
        return _svg(fig)


def tradeoff_grids(rows: Sequence[dict[str, Any]], fmt: str, metric: str = METRIC
                   ) -> list[tuple[str, int, list[int], list[int], np.ndarray]]:
    """Depth against CoT length: per (task, n) with cot settings of two strides or
    more, (task, n, CoT tokens n/K ascending, depths ascending, accuracy grid
    [depth, tokens] averaged over seeds, NaN where no run)."""
    sel = [r for r in rows if r["format"] == fmt and cot_stride(r["setting"])]
    acc = _by(sel, metric, "task", "n", "setting", "layers")
    out = []
    for task in _tasks(sel):
        for n in _order(r["n"] for r in sel if r["task"] == task):
            mine = [r for r in sel if r["task"] == task and r["n"] == n]
            strides = sorted({cot_stride(r["setting"]) for r in mine}, reverse=True)
            if len(strides) < 2:
                continue
            depths = _order(r["layers"] for r in mine)
            grid = np.full((len(depths), len(strides)), np.nan)
            for i, L in enumerate(depths):
                for j, K in enumerate(strides):
                    v = acc.get((task, n, "cot" if K == 1 else f"cot:{K}", L))
                    grid[i, j] = np.nan if v is None else v
            out.append((task, n, [n // K for K in strides], depths, grid))
    return out


def tradeoff_svg(rows: Sequence[dict[str, Any]], fmt: str | None = None,
                 metric: str = METRIC) -> str | None:
    """Heat maps of `tradeoff_grids`, one panel per (task, n); None when there are none."""
    fmt = fmt or reference_format(rows)
    grids = tradeoff_grids(rows, fmt, metric)
    if not grids:
        return None
    with _rc():
        fig, axes = _figure(len(grids), width_each=3.4, height=3.0)
        for ax, (task, n, tokens, depths, grid) in zip(axes, grids):
            im = ax.imshow(np.ma.masked_invalid(grid), origin="lower", vmin=0, vmax=1,
                           cmap="viridis", aspect="auto")
            for i in range(len(depths)):
                for j in range(len(tokens)):
                    if np.isfinite(grid[i, j]):
                        ax.text(j, i, f"{100 * grid[i, j]:.0f}", ha="center", va="center",
                                fontsize=7, color="w" if grid[i, j] < 0.6 else "k")
            ax.set_xticks(range(len(tokens)), [str(t) for t in tokens])
            ax.set_yticks(range(len(depths)), [str(L) for L in depths])
            ax.set_xlabel("CoT tokens n/K")
            ax.set_title(f"{task}, n = {n}")
        axes[0].set_ylabel("depth L")
        fig.colorbar(im, ax=list(axes), shrink=0.8,
                     label="accuracy (JAX, float32)" if metric == JAX_METRIC
                     else f"accuracy ({fmt}, simulator)")
        return _svg(fig)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def _or_dash(v: Any) -> str:
    return "-" if v is None else str(v)


def smallest_keeping(rows: Sequence[dict[str, Any]], model: Model, ref: str
                     ) -> str | None:
    """The narrowest format in which ``model`` (task, setting, n, layers) keeps its
    accuracy in ``ref`` up to `KEEP_TOLERANCE` (averaged over seeds); None when no
    format of the sweep does."""
    acc = _by(rows, METRIC, "task", "setting", "n", "layers", "format")
    base = acc.get((*model, ref))
    if base is None:
        return None
    for f in _formats(rows):
        a = acc.get((*model, f))
        if a is not None and a >= base - KEEP_TOLERANCE:
            return f
    return None


def _group(rows: Sequence[dict[str, Any]], *keys: str) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list] = defaultdict(list)
    for r in rows:
        groups[tuple(r[k] for k in keys)].append(r)
    return groups


def interval_text(rows: Sequence[dict[str, Any]], metric: str = METRIC) -> str:
    """The Wilson 95% intervals of one cell's ``rows`` (its seeds), in percent: over the
    held-out prompts (pooled), then over seeds where there are two or more; empty when
    the prompt counts are unknown."""
    count = "eval_samples" if metric == JAX_METRIC else "samples"
    out = fmt_interval(samples_interval(rows, metric, count))
    if len([r for r in rows if r.get(metric) is not None]) >= 2:
        out += " seeds " + fmt_interval(seeds_interval(rows, metric))
    return out.strip()


def accuracy_tables(rows: Sequence[dict[str, Any]], ref: str, jax: bool = False
                    ) -> list[tuple[str, list[str], list[list[str]]]]:
    """Per task: (task, header, rows) of the accuracy-against-n table in ``ref``; a cell
    is "paper's metric / free-running accuracy" in percent, by the simulator, or with
    ``jax`` the same two of the JAX model, then the paper's metric's Wilson 95%
    intervals (`interval_text`); the last row is chance."""
    sel = [r for r in rows if r["format"] == ref]
    metric = JAX_METRIC if jax else METRIC
    acc = _by(sel, metric, "task", "setting", "layers", "n")
    cells = _group(sel, "task", "setting", "layers", "n")
    if jax:  # JAX's free-running answer is measured for cot; elsewhere it is the answer
        sel = [r if cot_stride(r["setting"]) else {**r, "train_free_running_accuracy":
                                                r.get(JAX_METRIC)} for r in sel]
    free = _by(sel, "train_free_running_accuracy" if jax else "accuracy",
               "task", "setting", "layers", "n")
    chance = _by(sel, "chance", "task", "n")
    tables = []
    for task in _tasks(sel):
        mine = [r for r in sel if r["task"] == task]
        ns = _order(r["n"] for r in mine)
        body = [[setting, str(L)] + [(f"{_pct(acc.get((task, setting, L, n)))} / "
                                      f"{_pct(free.get((task, setting, L, n)))} "
                                      + interval_text(cells.get((task, setting, L, n), []),
                                                      metric)).strip() for n in ns]
                for setting in _settings(mine) for L in _order(r["layers"] for r in mine)]
        body.append(["chance", ""] + [_pct(chance.get((task, n))) for n in ns])
        tables.append((task, ["setting", "L"] + [f"n={n}" for n in ns], body))
    return tables


def markdown(rows: Sequence[dict[str, Any]], figures: Sequence[str] = ()) -> str:
    """The report's tables (and links to ``figures``) as markdown."""
    ref = reference_format(rows)
    fmts = _formats(rows)
    out = ["# Sweep report", "",
           f"{len({(r['task'], r['setting'], r['n'], r['layers'], r['seed']) for r in rows})}"
           f" runs, {len(fmts)} formats. Accuracy is the paper's metric (cot: every chain "
           "token right under teacher forcing; base and hint: the answer), in percent, "
           "the trained model run by the simulator in the format, averaged over seeds.", ""]
    out += [f"![{Path(f).stem}]({f})" for f in figures] + [""]
    out += ["## Accuracy against n", "",
            "Each cell: the paper's metric / free-running answer accuracy (cot: the last "
            "token of the model's own chain; base and hint: the answer, so both numbers "
            "agree), then the Wilson 95% interval of the paper's metric over the "
            "held-out prompts (and over seeds, where a cell has two or more). First the "
            "trained model in JAX (float32, the softmax with its row "
            "maximum subtracted, as it was trained: the paper's setting), on its own "
            "held-out samples; then the same model run by the simulator in "
            f"{ref}, which does not subtract the maximum (DESIGN.md), on the sweep's "
            "held-out prompts.", ""]
    for jax in (True, False):
        out += [f"### {'JAX, float32' if jax else f'The simulator, {ref}'}", ""]
        for task, header, body in accuracy_tables(rows, ref, jax):
            out += [f"**{task}**", "", "| " + " | ".join(header) + " |",
                    "|" + "---|" * len(header)]
            out += ["| " + " | ".join(cells) + " |" for cells in body]
            out.append("")
    grids = tradeoff_grids(rows, ref)
    if grids:
        out += ["## Depth against CoT length", "",
                "The paper's metric in percent, the simulator in " + ref + ", for cot:K: "
                "the model emits n/K tokens c_K, c_2K, ..., c_n, composing K symbols per "
                "token. Rows: depth L; columns: CoT tokens n/K.", ""]
        for task, n, tokens, depths, grid in grids:
            out += [f"**{task}, n = {n}**", "",
                    "| L | " + " | ".join(f"n/K = {t}" for t in tokens) + " |",
                    "|---|" + "---|" * len(tokens)]
            out += [f"| {L} | " + " | ".join("-" if not np.isfinite(v) else _pct(v)
                                             for v in grid[i]) + " |"
                    for i, L in enumerate(depths)]
            out.append("")
    from .claims import MARGIN, judge, markdown as claims_markdown

    out += ["## The paper's claims", "",
            f"Judged by `experiments.claims` on the paper's metric: a difference counts from "
            f"{100 * MARGIN:.0f} points on; a claim is reproduced when it holds at every "
            "cell, partly when at some. Twice: on the JAX model (the paper's setting), "
            f"then on the simulator in {ref}.", ""]
    for jax in (True, False):
        out += [f"### {'JAX, float32' if jax else f'The simulator, {ref}'}", ""]
        out += claims_markdown(judge(rows, ref, JAX_METRIC if jax else METRIC))
    allacc = _by(rows, METRIC, "task", "setting", "n", "layers", "format")
    undef = _by(rows, "undefined", "task", "setting", "n", "layers", "format")
    over = _by(rows, "attention_overflow", "task", "setting", "n", "layers", "format")
    models = _order((r["task"], r["setting"], r["n"], r["layers"]) for r in rows)
    out += ["## Accuracy against format", "",
            f"Formats narrowest first. *keeps* is the narrowest format whose accuracy is "
            f"within {100 * KEEP_TOLERANCE:.0f} points of {ref}. A cell with *u* gives the "
            "share of undefined prompts (Z = 0) in percent, *o* the share whose attention "
            "overflowed (some a_ij NaN or infinite: [exp(s)] = inf in an IEEE format).", "",
            "| task | setting | n | L | " + " | ".join(fmts) + " | keeps |",
            "|---|---|---|---|" + "---|" * (len(fmts) + 1)]
    for m in models:
        cells = []
        for f in fmts:
            a, u, o = allacc.get((*m, f)), undef.get((*m, f)), over.get((*m, f))
            cells.append(_pct(a) + (f" (u {_pct(u)})" if u else "")
                         + (f" (o {_pct(o)})" if o else ""))
        keep = smallest_keeping(rows, m, ref) or "none"
        out.append(f"| {m[0]} | {m[1]} | {m[2]} | {m[3]} | " + " | ".join(cells)
                   + f" | {keep} |")
    out += ["", "## Training", "",
            "*seconds*: the training loop's wall time; *CPU s*: its CPU time (recorded "
            "since December 2026); *load*: the machine's 1-minute load average as it ended; "
            "*first step*: its first step, mostly JAX's compilation; *steps/s*: the "
            "compiled step's rate (the later steps).", "",
            "| run | steps | seconds | CPU s | load | first step (s) | steps/s | "
            "JAX accuracy (float32) |",
            "|---|---|---|---|---|---|---|---|"]
    seen = set()
    for r in rows:
        if r["run"] in seen:
            continue
        seen.add(r["run"])
        load = r.get("load")
        out.append(f"| {r['run']} | {r.get('steps')} | {r.get('train_seconds')} | "
                   f"{_or_dash(r.get('train_cpu_seconds'))} | "
                   f"{load[0] if load else '-'} | "
                   f"{r.get('first_step_seconds', '-')} | {r.get('steps_per_second')} | "
                   f"{_pct(r.get('train_accuracy'))} |")
    secs = [r.get("train_seconds") or 0 for r in rows if r["format"] == fmts[0]]
    out += ["", f"Training time in all: {sum(secs):.0f} s over {len(seen)} runs.", ""]
    return "\n".join(out)


def write_report(sweep_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None
                 ) -> list[Path]:
    """Write the figures and ``report.md`` of a sweep; their paths."""
    from circuits.atomic import write_atomic_many

    sweep_dir = Path(sweep_dir)
    if not os.path.lexists(sweep_dir / "sweep.json"):
        raise CotsimInputError(f"{sweep_dir}: not a sweep folder (no sweep.json)")
    rows = read_all_results(sweep_dir)
    if not rows:
        raise CotsimInputError(f"{sweep_dir}: no finished runs yet (results.jsonl is "
                               "empty); run the sweep first")
    out = Path(out_dir) if out_dir is not None else sweep_dir / "report"
    if out.exists() and not out.is_dir():
        raise CotsimInputError(f"{out}: exists and is not a folder")
    figures = {"accuracy_vs_n_jax.svg": accuracy_vs_n_svg(rows, metric=JAX_METRIC),
               "accuracy_vs_n.svg": accuracy_vs_n_svg(rows),
               "accuracy_heatmap.svg": accuracy_heatmap_svg(rows),
               "accuracy_vs_format.svg": accuracy_vs_format_svg(rows)}
    tradeoff = tradeoff_svg(rows)
    if tradeoff is not None:
        figures["depth_vs_cot.svg"] = tradeoff
    files = [(out / name, text) for name, text in figures.items()]
    files.append((out / "report.md", markdown(rows, list(figures))))
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        write_atomic_many(files)
    except BaseException:
        if made:
            try:
                out.rmdir()
            except OSError:
                pass
        raise
    return [p for p, _ in files]
