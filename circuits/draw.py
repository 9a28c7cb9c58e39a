"""Circuit diagrams: Graphviz DOT text, and SVG through Graphviz's ``dot`` program.

A circuit of at most ``max_gates`` gates is drawn gate by gate, layered by level
(``analysis.levels``): the inputs on top in file order, one row per level, the named
outputs at the bottom in file order. Gates tagged with an origin (``Circuit.tag_of``,
e.g. ``"layer0/attn/head1"``) are boxed in nested clusters, one per ``/``-separated part.

A larger circuit is drawn as a summary instead of a hairball: a table with one row per
level (or band of levels) giving a bar of its gates per kind, where its wires come from
(the level above, levels further up, the inputs) and the outputs taken there. A tagged
circuit is summarised per tag instead: one box per tag, in the nested clusters, with
arrows weighted by the number of wires between tags. See docs/drawing.md.

The DOT text depends on the circuit alone (and the options), so it is deterministic.
"""
from __future__ import annotations

import html
import math
import shutil
import subprocess
from collections import Counter, defaultdict
from typing import Sequence

import numpy as np

from .analysis import depth as circuit_depth
from .analysis import levels as circuit_levels
from .errors import CotsimInputError
from .ir import NULLARY, Circuit, Kind

DEFAULT_MAX_GATES = 400
DOT_TIMEOUT_S = 300
FONT = "Helvetica,Arial,sans-serif"

#: kind -> (shape, fill colour). A negated kind has a darker shade of its base colour and
#: a double border (``NEGATED``). Keep in step with the table in docs/drawing.md.
STYLE: dict[Kind, tuple[str, str]] = {
    Kind.INPUT: ("invhouse", "#b7e1b0"),
    Kind.CONST0: ("square", "#cfcfcf"),
    Kind.CONST1: ("square", "#cfcfcf"),
    Kind.BUF: ("box", "#e2e2e2"),
    Kind.NOT: ("ellipse", "#fff2a8"),
    Kind.AND: ("box", "#bcd4f6"),
    Kind.NAND: ("box", "#8db4ec"),
    Kind.OR: ("box", "#ffd8a8"),
    Kind.NOR: ("box", "#f9b46c"),
    Kind.XOR: ("box", "#dccbf2"),
    Kind.XNOR: ("box", "#b99be3"),
    Kind.MAJ: ("hexagon", "#f5b5b5"),
    Kind.THR: ("hexagon", "#f08f8f"),
}
NEGATED = frozenset({Kind.NAND, Kind.NOR, Kind.XNOR})
OUTPUT_FILL = "#a9d3ee"
#: THR gates with at most this many fan-ins get their weights written on the edges.
EDGE_WEIGHT_LABELS_MAX_FANIN = 6
#: at most this many weights are listed inside a THR box
WEIGHTS_SHOWN = 8
#: the summary draws at most this many level boxes; deeper circuits get bands of levels
SUMMARY_MAX_ROWS = 48


# -- escaping ---------------------------------------------------------------------------
def _clean(s: str) -> str:
    """Control characters (newlines included) would break a line of DOT; show them as ?."""
    return "".join(c if c.isprintable() else "?" for c in str(s))


def quote(s: str) -> str:
    """A DOT double-quoted string that shows ``s`` literally (backslashes included)."""
    return '"' + _clean(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def hesc(s: str) -> str:
    """Escape text for a Graphviz HTML-like label."""
    return html.escape(_clean(s), quote=True)


def _shorten(s: str, n: int = 24) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


# -- public API -------------------------------------------------------------------------
def to_dot(circuit: Circuit, *, max_gates: int = DEFAULT_MAX_GATES,
           title: str | None = None) -> str:
    """The diagram as DOT text: gate by gate up to ``max_gates`` gates, else a summary."""
    if max_gates < 0:
        raise CotsimInputError(f"max_gates must be >= 0, not {max_gates}")
    if circuit.size > max_gates:
        return _Summary(circuit, max_gates, title).dot()
    return _Full(circuit, title).dot()


def dump(circuit: Circuit, fmt: str = "dot", max_gates: int = DEFAULT_MAX_GATES,
         title: str | None = None) -> bytes:
    """DOT text (``fmt="dot"``) or an SVG picture (``fmt="svg"``, needs Graphviz)."""
    text = to_dot(circuit, max_gates=max_gates, title=title)
    if fmt == "dot":
        return text.encode("utf-8")
    if fmt == "svg":
        return render(text, "svg")
    raise CotsimInputError(f"cannot draw to format {fmt!r}; use dot or svg")


def render(dot_text: str, fmt: str = "svg", timeout: float = DOT_TIMEOUT_S) -> bytes:
    """Lay out and render DOT text with Graphviz's ``dot -T<fmt>``."""
    exe = shutil.which("dot")
    if exe is None:
        raise CotsimInputError("Graphviz's dot program is not installed; install the Debian "
                               "package graphviz (or write .dot instead of .svg)")
    try:
        proc = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode("utf-8"),
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise CotsimInputError(f"Graphviz's dot took over {timeout:.0f} s; draw fewer gates "
                               "(a lower --max-gates gives a summary)") from None
    if proc.returncode != 0:
        why = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CotsimInputError("Graphviz's dot failed: " + (why[0] if why else
                                                             f"exit status {proc.returncode}"))
    return proc.stdout


def figures(circuit: Circuit) -> str:
    """One line of figures, for titles: inputs, outputs, gates, depth."""
    return (f"{_n(circuit.num_inputs, 'input')}, {_n(circuit.num_outputs, 'output')}, "
            f"{_n(circuit.size, 'gate')}, depth {circuit_depth(circuit)}")


# -- shared pieces ------------------------------------------------------------------------
def _graph_header(label: str) -> list[str]:
    return [
        "digraph circuit {",
        f"  graph [fontname={quote(FONT)}, fontsize=16, labelloc=t, label={quote(label)}, "
        "rankdir=TB, nodesep=0.2, ranksep=0.45, newrank=true, outputorder=edgesfirst];",
        f"  node [fontname={quote(FONT)}, fontsize=11, style=filled, penwidth=1.0, "
        "margin=\"0.06,0.03\", height=0.3, width=0.4];",
        f"  edge [fontname={quote(FONT)}, fontsize=9, color=\"#555555\", arrowsize=0.6];",
    ]


def _tag_path(tag: str | None) -> tuple[str, ...]:
    if not tag:
        return ()
    return tuple(p for p in tag.split("/") if p)


def _order_chain(ids: Sequence[str], indent: str) -> list[str]:
    """Invisible edges that keep a row of nodes in the given left-to-right order."""
    if len(ids) < 2:
        return []
    return [f"{indent}{' -> '.join(ids)} [style=invis];"]


# -- the full diagram ----------------------------------------------------------------------
class _Full:
    def __init__(self, circuit: Circuit, title: str | None):
        self.c = circuit
        self.title = title
        self.level = circuit_levels(circuit)

    def dot(self) -> str:
        c = self.c
        label = f"{self.title}: {figures(c)}" if self.title else figures(c)
        out = _graph_header(label)
        ni = c.num_inputs

        # inputs on top, in file order
        ins = [f"n{i}" for i in range(ni)]
        if ins:
            out.append("  subgraph inputs {")
            out.append("    rank=same;")
            out.extend(f"    {self._node(i)}" for i in range(ni))
            out.extend(_order_chain(ins, "    "))
            out.append("  }")

        # gates and constants, in clusters by tag
        tree = _TagTree()
        for i in range(ni, c.num_nodes):
            tree.add(_tag_path(c.tag_of(i)), i)
        out.extend(self._emit_tree(tree, "  "))

        # one row per level, across clusters (newrank=true allows that, and keeps a wire
        # that leaves a cluster and comes back from being drawn upwards)
        by_level: dict[int, list[int]] = defaultdict(list)
        for i in range(ni, c.num_nodes):
            if Kind(int(c.kinds[i])) not in NULLARY:
                by_level[int(self.level[i])].append(i)
        for lv in sorted(by_level):
            out.append(f"  {{ rank=same; {'; '.join(f'n{i}' for i in by_level[lv])}; }}")
        # constants go below the inputs' row, so that it is the top row (every other node
        # hangs below an input or a constant); newrank ignores rank=source
        if ins:
            for i in np.flatnonzero(np.isin(c.kinds, [int(Kind.CONST0), int(Kind.CONST1)])):
                out.append(f"  n0 -> n{i} [style=invis];")

        # outputs at the bottom, in file order
        outs = [f"o{k}" for k in range(c.num_outputs)]
        if outs:
            out.append("  subgraph outputs {")
            out.append("    rank=same;")
            for k, name in enumerate(c.output_names):
                out.append(f"    o{k} [shape=invhouse, fillcolor={quote(OUTPUT_FILL)}, "
                           f"label={_label(_b(hesc(name)))}, tooltip={quote('output ' + name)}];")
            out.extend(_order_chain(outs, "    "))
            out.append("  }")
            # the outputs' row goes below the deepest row (rank=sink ignores newrank)
            if by_level:
                deepest = by_level[max(by_level)][0]
                out.append(f"  n{deepest} -> o0 [style=invis];")
            elif ins:
                out.append("  n0 -> o0 [style=invis];")

        # wires
        for i in range(ni, c.num_nodes):
            out.extend(self._edges(i))
        for k, node in enumerate(c.output_ids.tolist()):
            out.append(f"  n{node} -> o{k};")
        out.append("}")
        return "\n".join(out) + "\n"

    def _emit_tree(self, tree: "_TagTree", indent: str) -> list[str]:
        out = [indent + self._node(i) for i in tree.nodes]
        for name, sub in tree.children.items():
            out.append(f"{indent}subgraph cluster_{sub.id} {{")
            out.append(f"{indent}  label={quote(name)}; tooltip={quote(sub.full)}; "
                       f"style=\"rounded,filled\"; fillcolor=\"{sub.fill}\"; "
                       "color=\"#888888\"; fontsize=12; labeljust=l;")
            out.extend(self._emit_tree(sub, indent + "  "))
            out.append(f"{indent}}}")
        return out

    def _node(self, i: int) -> str:
        c = self.c
        kind = Kind(int(c.kinds[i]))
        shape, fill = STYLE[kind]
        own = c.name_of(i) if (i < c.num_inputs or (c.node_names is not None
                                                     and c.node_names[i] is not None)) else None
        attrs = [f"shape={shape}", f"fillcolor={quote(fill)}"]
        if kind == Kind.INPUT:
            label = _b(hesc(own or ""))
            tip = f"input {i}: {own}"
        else:
            lines = self._kind_lines(i, kind)
            label = "<br/>".join(lines)
            if own:
                label += "<br/>" + _font(hesc(own), 8, "#333333")
            tip = f"{kind.name} {c.name_of(i)} (node {i}, level {int(self.level[i])})"
            tag = c.tag_of(i)
            if tag:
                tip += f" [{tag}]"
        if kind in NEGATED:
            attrs.append("peripheries=2")
        if kind in (Kind.CONST0, Kind.CONST1):
            attrs.append("width=0.3")
        if kind == Kind.NOT:
            attrs.append("margin=\"0.02,0.01\"")
        attrs.append(f"label={_label(label)}")
        attrs.append(f"tooltip={quote(tip)}")
        return f"n{i} [{', '.join(attrs)}];"

    def _kind_lines(self, i: int, kind: Kind) -> list[str]:
        c = self.c
        if kind == Kind.CONST0:
            return ["<b>0</b>"]
        if kind == Kind.CONST1:
            return ["<b>1</b>"]
        k = int(c.fanin_ptr[i + 1] - c.fanin_ptr[i])
        if kind == Kind.MAJ:
            return ["<b>MAJ</b>", f'<font point-size="9">≥{(k + 1) // 2} of {k}</font>']
        if kind == Kind.THR:
            ws = c.fanin_weights(i).tolist()
            shown = ",".join(str(w) for w in ws[:WEIGHTS_SHOWN])
            if len(ws) > WEIGHTS_SHOWN:
                shown += f",…(+{len(ws) - WEIGHTS_SHOWN})"
            return [f"<b>THR ≥{int(c.thresholds[i])}</b>",
                    f'<font point-size="9">[{hesc(shown)}]</font>']
        return [f"<b>{kind.name}</b>"]

    def _edges(self, i: int) -> list[str]:
        c = self.c
        kind = Kind(int(c.kinds[i]))
        fins = c.fanins(i).tolist()
        out = []
        label_weights = kind == Kind.THR and len(fins) <= EDGE_WEIGHT_LABELS_MAX_FANIN
        ws = c.fanin_weights(i).tolist()
        for j, w in zip(fins, ws):
            attrs = []
            if kind == Kind.THR and w < 0:
                attrs.append('color="#c0392b"')
                attrs.append("style=dashed")
            if label_weights:
                attrs.append(f"label={quote(str(w))}")
                attrs.append('fontcolor="#7b241c"')
            a = f" [{', '.join(attrs)}]" if attrs else ""
            out.append(f"  n{j} -> n{i}{a};")
        return out


class _TagTree:
    """Nested clusters from ``/``-separated tags, in order of first appearance."""

    FILLS = ("#f7f7fb", "#eef3f8", "#f8f3ec", "#eef6ee")

    def __init__(self, full: str = "", depth: int = 0, counter: list[int] | None = None):
        self.full = full
        self.depth = depth
        self.counter = counter if counter is not None else [0]
        self.id = self.counter[0]
        self.counter[0] += 1
        self.fill = self.FILLS[depth % len(self.FILLS)]
        self.nodes: list[int] = []
        self.children: dict[str, _TagTree] = {}

    def add(self, path: tuple[str, ...], node: int) -> None:
        t = self
        for part in path:
            if part not in t.children:
                full = f"{t.full}/{part}" if t.full else part
                t.children[part] = _TagTree(full, t.depth + 1, self.counter)
            t = t.children[part]
        t.nodes.append(node)


# -- the summary ---------------------------------------------------------------------------
KIND_ORDER = [Kind.BUF, Kind.NOT, Kind.AND, Kind.NAND, Kind.OR, Kind.NOR, Kind.XOR,
              Kind.XNOR, Kind.MAJ, Kind.THR]
BAR_WIDTH = 220  # points, for the widest row


class _Summary:
    """A table of levels (or bands of levels), or one box per tag with weighted arrows."""

    def __init__(self, circuit: Circuit, max_gates: int, title: str | None):
        self.c = circuit
        self.max_gates = max_gates
        self.title = title
        self.level = circuit_levels(circuit)
        self.depth = circuit_depth(circuit)
        tags = circuit.tags
        self.by_tag = tags is not None and bool(np.any(tags[circuit.num_inputs:] >= 0))

    def dot(self) -> str:
        c = self.c
        head = f"{self.title}: " if self.title else ""
        per = "tag" if self.by_tag else "level"
        label = (f"{head}{_n(c.size, 'gate')}, depth {self.depth}, "
                 f"{_n(c.num_inputs, 'input')}, {_n(c.num_outputs, 'output')} — summary per {per} "
                 f"(over --max-gates {self.max_gates})")
        out = _graph_header(label)
        out[1] = out[1].replace("ranksep=0.45", "ranksep=0.3")
        group, names = self._tag_groups() if self.by_tag else self._level_groups()
        self.group, self.names = group, names
        # wires: (source group, destination group) -> count; -1 inputs, -2 constants
        arity = np.diff(c.fanin_ptr)
        dst = group[np.repeat(np.arange(c.num_nodes), arity)]
        src = group[c.fanin]
        self.wires = Counter(zip(src.tolist(), dst.tolist()))
        out.extend(self._interface())
        if self.by_tag:
            out.extend(self._tag_boxes())
        else:
            out.extend(self._level_boxes())
        out.append("}")
        return "\n".join(out) + "\n"

    # -- groups: -1 inputs, -2 constants, 0.. boxes ---------------------------------------
    def _base_group(self) -> np.ndarray:
        c = self.c
        group = np.empty(c.num_nodes, dtype=np.int64)
        group[: c.num_inputs] = -1
        group[(c.kinds == Kind.CONST0) | (c.kinds == Kind.CONST1)] = -2
        return group

    def _level_groups(self) -> tuple[np.ndarray, list[str]]:
        c = self.c
        group = self._base_group()
        gates = ~np.isin(c.kinds, [int(k) for k in NULLARY])
        top = int(self.level.max()) if c.num_nodes else 0  # dead gates may lie deeper
        band = max(1, math.ceil(top / SUMMARY_MAX_ROWS))
        self.band = band
        group[gates] = (self.level[gates] - 1) // band
        names = []
        for r in range(math.ceil(top / band)):
            lo, hi = r * band + 1, min((r + 1) * band, top)
            names.append(f"level {lo}" if lo == hi else f"levels {lo}–{hi}")
        return group, names

    def _tag_groups(self) -> tuple[np.ndarray, list[str]]:
        c = self.c
        group = self._base_group()
        order: dict[str, int] = {}
        for i in range(c.num_inputs, c.num_nodes):
            if group[i] != -2:
                group[i] = order.setdefault(c.tag_of(i) or "", len(order))
        return group, list(order)

    # -- pieces --------------------------------------------------------------------------
    def _interface(self) -> list[str]:
        c = self.c
        names = _font(hesc(_name_span(c.input_names)), 9)
        out = [f"  g_in [shape=invhouse, fillcolor={quote(STYLE[Kind.INPUT][1])}, "
               f"label={_label(_b(_n(c.num_inputs, 'input')) + '<br/>' + names)}];"]
        nconst = int(np.count_nonzero(self.group == -2))
        if nconst:
            fed = sum(n for (a, _), n in self.wires.items() if a == -2)
            out.append(f"  g_const [shape=box, fillcolor={quote(STYLE[Kind.CONST0][1])}, "
                       f"label=<{_n(nconst, 'constant')}, {_n(fed, 'wire')}>];")
        if c.num_outputs:
            lv = self.level[c.output_ids]
            lo, hi = int(lv.min()), int(lv.max())
            where = f"level {lo}" if lo == hi else f"levels {lo}–{hi}"
            span = hesc(_name_span(c.output_names))
            direct = int(np.count_nonzero(self.group[c.output_ids] < 0))
            if direct:
                where += f" ({direct} straight from inputs or constants)"
            small = _font((span + "<br/>" if span else "") + f"taken at {where}", 9)
            out.append(f"  g_out [shape=invhouse, fillcolor={quote(OUTPUT_FILL)}, "
                       f"label={_label(_b(_n(c.num_outputs, 'output')) + '<br/>' + small)}];")
        return out

    def _box(self, g: int, title: str, extra: list[str], counts: list[Counter],
             widest: int, bold: bool) -> str:
        total = sum(counts[g].values())
        mix = " · ".join(f"{k.name} {counts[g][k]}" for k in KIND_ORDER if counts[g][k])
        rows = [f'<tr><td align="left"><b>{hesc(title)}</b>&#160;&#160;'
                f"{_n(total, 'gate')}</td></tr>",
                f'<tr><td align="left">{self._bar(counts[g], widest)}</td></tr>',
                f'<tr><td align="left"><font point-size="9">{hesc(mix)}</font></td></tr>']
        rows += [f'<tr><td align="left"><font point-size="9" color="#333333">{hesc(e)}'
                 "</font></td></tr>" for e in extra]
        label = ('<table border="0" cellborder="0" cellspacing="0" cellpadding="1">'
                 + "".join(rows) + "</table>")
        style = '"rounded,filled,bold"' if bold else '"rounded,filled"'
        return f'g{g} [shape=box, style={style}, fillcolor="#fbfbfb", label=<{label}>];'

    def _bar(self, counts: Counter, widest: int) -> str:
        """Coloured cells, one per kind, in proportion to the count; the widest group's
        bar is BAR_WIDTH long, so that the bars draw the circuit's profile."""
        total = sum(counts.values())
        widths, used = [], 0
        for k in KIND_ORDER:
            if counts[k]:
                # cumulative rounding: the cells add up to the bar's length exactly
                upto = sum(counts[j] for j in KIND_ORDER[:KIND_ORDER.index(k) + 1])
                w = max(1, round(BAR_WIDTH * upto / max(widest, 1)) - used)
                widths.append((k, w))
                used += w
        cells = [f'<td width="{w}" height="10" fixedsize="true" bgcolor="{STYLE[k][1]}"></td>'
                 for k, w in widths]
        if used < BAR_WIDTH:  # a blank filler keeps every bar's table the same width
            cells.append(f'<td width="{BAR_WIDTH - used}" height="10" fixedsize="true"></td>')
        return ('<table border="0" cellborder="0" cellspacing="0" cellpadding="0"><tr>'
                + "".join(cells) + "</tr></table>")

    def _counts(self) -> tuple[list[Counter], list[int], dict[int, list[str]]]:
        c = self.c
        counts = [Counter() for _ in self.names]
        fan = [0] * len(self.names)
        arity = np.diff(c.fanin_ptr).tolist()
        for i, (k, g) in enumerate(zip(c.kinds.tolist(), self.group.tolist())):
            if g >= 0:
                counts[g][Kind(k)] += 1
                fan[g] = max(fan[g], arity[i])
        outs: dict[int, list[str]] = defaultdict(list)
        for name, node in zip(c.output_names, c.output_ids.tolist()):
            outs[int(self.group[node])].append(name)
        return counts, fan, outs

    @staticmethod
    def _pen(n: int, most: int) -> str:
        return f"{0.6 + 3.4 * math.log1p(n) / math.log1p(max(most, 1)):.2f}"

    # -- per level -----------------------------------------------------------------------
    def _level_boxes(self) -> list[str]:
        """One table, a row per level: a histogram of the gates by kind, and where each
        level's wires come from. Arrows for every level pair would be a hairball."""
        counts, fan, outs = self._counts()
        widest = max((sum(x.values()) for x in counts), default=1)
        rows = len(self.names)
        into: list[Counter] = [Counter() for _ in range(rows)]
        for (a, b), n in self.wires.items():
            if b >= 0:
                into[b][a] += n
        def small(text: str) -> str:
            return _font(text, 9)

        head = ["", "gates", "gates per kind", "", "wires in: from the level above",
                "from levels further up", "from inputs", "max fan-in", "outputs taken"]
        if self.band > 1:
            head[4] = "wires in: from the band above"
            head[5] = "from further up"
            head.insert(5, "within the band")
        cells = "".join(f'<td align="left" valign="bottom">{small(_b(hesc(h)))}</td>'
                        for h in head)
        table = [f'<tr>{cells}</tr>']
        for g in range(rows):
            bg = "#f4f4f4" if g % 2 == 0 else "#ffffff"
            total = sum(counts[g].values())
            mix = " · ".join(f"{k.name} {counts[g][k]}" for k in KIND_ORDER if counts[g][k])
            above = into[g][g - 1] if g else 0
            further = sum(n for a, n in into[g].items() if 0 <= a < g - 1)
            nums = [above, further, into[g][-1]]
            if self.band > 1:
                nums.insert(1, into[g][g])
            taken = outs.get(g, [])
            taken_text = f"{len(taken)}: {_name_span(taken, 3)}" if taken else ""
            row = [("left", f"<b>{hesc(self.names[g])}</b>"), ("right", str(total)),
                   ("left", self._bar(counts[g], widest)), ("left", small(hesc(mix)))]
            row += [("right", str(n) if n else "·") for n in nums]
            row += [("right", str(fan[g])), ("left", small(hesc(taken_text)))]
            table.append("<tr>" + "".join(f'<td bgcolor="{bg}" align="{al}">{text}</td>'
                                          for al, text in row) + "</tr>")
        legend = "".join(f'<td bgcolor="{STYLE[k][1]}" border="1">{small(k.name)}</td>'
                         for k in KIND_ORDER if any(x[k] for x in counts))
        table.append(f'<tr><td colspan="{len(head)}" align="left"><table border="0" '
                     f'cellspacing="2" cellpadding="2"><tr><td>{small("kinds:")}</td>'
                     f"{legend}</tr></table></td></tr>")
        label = ('<table border="0" cellborder="0" cellspacing="0" cellpadding="3">'
                 + "".join(table) + "</table>")
        out = [f"  g_levels [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", "
               f"margin=0.1, label=<{label}>];"]
        from_in = sum(n for (a, _), n in self.wires.items() if a == -1)
        out.append(f"  g_in -> g_levels [label={quote(_n(from_in, 'wire'))}, penwidth=2];")
        if any(a == -2 for a, _ in self.wires):
            out.append("  g_const -> g_levels;")
        if self.c.num_outputs:
            out.append(f"  g_levels -> g_out [label={quote(_n(self.c.num_outputs, 'output'))}, "
                       "penwidth=2];")
        return out

    # -- per tag -------------------------------------------------------------------------
    def _tag_boxes(self) -> list[str]:
        counts, fan, outs = self._counts()
        widest = max((sum(x.values()) for x in counts), default=1)
        # a tag's box goes in its parent's cluster, or in its own cluster if deeper tags
        # open one (gates tagged "layer0" beside gates tagged "layer0/mlp")
        paths = [_tag_path(tag) for tag in self.names]
        opened = {p[:k] for p in paths for k in range(1, len(p))}
        tree = _TagTree()
        for g, p in enumerate(paths):
            tree.add(p if p in opened else p[:-1], g)
        out: list[str] = []

        def emit(t: _TagTree, indent: str) -> None:
            for g in t.nodes:
                tag = self.names[g]
                lv = self.level[self.group == g]
                lo, hi = int(lv.min()), int(lv.max())
                extra = [(f"level {lo}" if lo == hi else f"levels {lo}–{hi}")
                         + f"; max fan-in {fan[g]}; {_n(self.wires[(g, g)], 'wire')} within"]
                if outs.get(g):
                    extra.append(f"{_n(len(outs[g]), 'output')}: "
                                 f"{_name_span(outs[g], 3)}")
                title = _tag_path(tag)[-1] if tag else "(untagged)"
                out.append(indent + self._box(g, title, extra, counts, widest,
                                              bool(outs.get(g))))
            for name, sub in t.children.items():
                out.append(f"{indent}subgraph cluster_{sub.id} {{")
                out.append(f"{indent}  label={quote(name)}; tooltip={quote(sub.full)}; "
                           f"style=\"rounded,filled\"; fillcolor=\"{sub.fill}\"; "
                           "color=\"#888888\"; fontsize=12; labeljust=l;")
                emit(sub, indent + "  ")
                out.append(f"{indent}}}")

        emit(tree, "  ")
        pairs = Counter({k: n for k, n in self.wires.items() if k[0] != k[1]})
        for name, node in zip(self.c.output_names, self.c.output_ids.tolist()):
            pairs[(int(self.group[node]), -3)] += 1
        most = max(pairs.values(), default=1)
        ids = {-1: "g_in", -2: "g_const", -3: "g_out"}
        for (a, b), n in sorted(pairs.items()):
            out.append(f"  {ids.get(a, f'g{a}')} -> {ids.get(b, f'g{b}')} "
                       f"[label={quote(str(n))}, penwidth={self._pen(n, most)}];")
        return out


def _b(text: str) -> str:
    """Bold; Graphviz rejects an empty element, so empty text gives no element."""
    return f"<b>{text}</b>" if text else ""


def _font(text: str, size: int, color: str | None = None) -> str:
    if not text:
        return ""
    c = f' color="{color}"' if color else ""
    return f'<font point-size="{size}"{c}>{text}</font>'


def _label(html_text: str) -> str:
    """An HTML-like label; Graphviz rejects an empty one."""
    return f"<{html_text or ' '}>"


def _n(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _name_span(names: Sequence[str], k: int = 4) -> str:
    """``a, b, c, …, z`` for long lists of names."""
    names = [_shorten(n) for n in names]
    if len(names) <= k + 1:
        return ", ".join(names)
    return ", ".join(names[:k]) + ", …, " + names[-1]
