"""Figures of a circuit's CoT run: the circuit with each gate's step and token, the
attention pattern of every step, and the width of the construction against log2(n + T)."""
from __future__ import annotations

import math
import shutil

import numpy as np

from .svg import heatmaps, line_chart


def trace_dot(circuit, cot, trace, title: str) -> str:
    """DOT text of the (lowered) circuit: every input with its bit and position, every
    gate with "step k = v", every output with its read-out step and token."""
    from circuits.draw import FONT, OUTPUT_FILL, STYLE, hesc, quote
    from circuits.ir import Kind

    prog = cot.program
    seq = trace.sequence
    n, T = prog.num_inputs, prog.cot_steps
    step_of = {node: s for s, node in enumerate(prog.step_node) if node >= 0}
    out = ["digraph cot {",
           f"  graph [fontname={quote(FONT)}, fontsize=15, labelloc=t, rankdir=TB, "
           f"nodesep=0.25, ranksep=0.4, label={quote(title)}];",
           f"  node [fontname={quote(FONT)}, fontsize=11, style=filled, margin=\"0.08,0.04\"];",
           "  edge [color=\"#555555\", arrowsize=0.6];"]

    def value(pos: int) -> str:
        return str(seq[pos]) if pos < len(seq) else "?"

    out.append("  { rank=same;")
    for i in range(n):
        shape, fill = STYLE[Kind.INPUT]
        lab = f"<<b>{hesc(circuit.name_of(i))} = {value(1 + i)}</b><br/>" \
              f"<font point-size=\"9\">position {1 + i}</font>>"
        out.append(f"    n{i} [shape={shape}, fillcolor={quote(fill)}, label={lab}];")
    out.append("  }")
    for node in range(n, circuit.num_nodes):
        kind = circuit.kind(node)
        shape, fill = STYLE[kind]
        s = step_of.get(node)
        v = value(prog.position_of_node(node)) if s is not None else "?"
        what = f"<b>step {s} = {v}</b>" if s is not None else \
            "<font point-size=\"9\">no step: folded into its readers</font>"
        lab = (f"<{kind.name} <font point-size=\"9\">{hesc(circuit.name_of(node))}</font>"
               f"<br/>{what}>")
        pen = "penwidth=2.2, color=\"#1a5fb4\"" if v == "1" else "penwidth=1"
        out.append(f"  n{node} [shape=box, style=\"rounded,filled\", fillcolor={quote(fill)}, "
                   f"{pen}, label={lab}];")
        for j in dict.fromkeys(int(x) for x in circuit.fanins(node)):
            out.append(f"  n{j} -> n{node};")
    out.append("  { rank=same;")
    for k, (name, o) in enumerate(zip(prog.output_names, circuit.output_ids.tolist())):
        s = T - prog.num_outputs + k
        lab = (f"<<b>{hesc(name)} = {value(1 + n + s)}</b><br/>"
               f"<font point-size=\"9\">read-out step {s}</font>>")
        out.append(f"    o{k} [shape=invhouse, fillcolor={quote(OUTPUT_FILL)}, label={lab}];")
    out.append("  }")
    for k, o in enumerate(circuit.output_ids.tolist()):
        out.append(f"  n{o} -> o{k} [style=dashed];")
    out.append("}")
    return "\n".join(out) + "\n"


def trace_svg(circuit, cot, trace, label: str) -> str | None:
    """The trace diagram as SVG, or None when Graphviz's dot is missing."""
    if shutil.which("dot") is None:
        return None
    from circuits.draw import render

    bits = "".join(str(t) for t in trace.prompt[1:])
    dot = trace_dot(circuit, cot, trace, f"{label}: CoT trace on input {bits}")
    return render(dot, "svg").decode("utf-8")


def _token_labels(cot, trace) -> list[str]:
    """What the token at each position read is: BOS, an input, or a step's value."""
    prog = cot.program
    n = prog.num_inputs
    out = []
    for p in range(len(trace.attention)):
        if p == 0:
            out.append("0 BOS")
        elif p <= n:
            out.append(f"{p} {prog.node_labels[p - 1][0]}")
        else:
            out.append(f"{p} {_step_name(prog, p - 1 - n)}")
    return out


def _step_name(prog, s: int) -> str:
    node = prog.step_node[s]
    if node >= 0:
        return prog.node_labels[node][0]
    return "out " + prog.output_names[s - (prog.cot_steps - prog.num_outputs)]


def _row_labels(cot, trace) -> list[str]:
    """What is computed at each position: step s is computed at position n + s."""
    prog = cot.program
    n = prog.num_inputs
    return [f"{p}: prompt" if p < n else f"{p}: step {p - n} {_step_name(prog, p - n)}"
            for p in range(len(trace.attention))]


def attention_heatmap(cot, trace, label: str, bits: str) -> str:
    """One heat map per head of layer 0: row p = the position where a step is computed
    (its token lands at p + 1), column j = the position attended to, labelled by the
    token there."""
    H = trace.attention[0].shape[1]
    mats = [trace.attention_matrix(0, h) for h in range(H)]
    return heatmaps(mats, [f"head {h} (fetches input {'ab'[h] if h < 2 else h})"
                           for h in range(H)],
                    _row_labels(cot, trace), _token_labels(cot, trace),
                    f"{label}: attention of every CoT step (input {bits})")


def width_chart(results: list[dict], C: int) -> str:
    xs = np.array([math.log2(r["n"] + r["T"]) for r in results])
    ys = np.array([r["d_model"] for r in results])
    # 8 + 6 ceil(L) as an exact staircase over the plotted range
    lo, hi = max(1.75, float(xs.min()) - 0.5), float(xs.max()) + 0.5
    knots = [lo] + [float(k) for k in range(math.ceil(lo), math.ceil(hi))] + [hi]
    gx, gy = [], []
    for a, b in zip(knots, knots[1:]):
        v = 8 + 6 * math.ceil(a + 1e-12)
        gx += [a, b]
        gy += [v, v]
    series = [("instances", xs, ys, "points"),
              ("8 + 6 ceil(L)", np.array(gx), np.array(gy), "line"),
              (f"{C} L (bound)", np.array([lo, hi]), C * np.array([lo, hi]), "dashed")]
    return line_chart(series, "Embedding width of the circuit CoT transformer",
                      "L = log2(n + T)", "d_model", steps=False)
