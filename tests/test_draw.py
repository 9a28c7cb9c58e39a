"""Diagrams: the DOT text is parsed and laid out by Graphviz itself (``dot -Tjson``), and
its layout is checked against the circuit: every wire drawn, levels in rows, inputs on
top and outputs at the bottom in file order, tags as nested clusters, names shown
verbatim, and summaries whose counts add up to the published ISCAS figures."""
from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits import CircuitBuilder, CotsimInputError
from circuits import draw as draw_mod
from circuits.draw import dump, to_dot
from circuits.ir import NULLARY
from circuits.strategies import circuits as random_circuits
from conftest import BENCHMARKS, REPO, needs_benchmarks, needs_dot

C17 = BENCHMARKS / "iscas85" / "c17.bench"
C432 = BENCHMARKS / "iscas85" / "c432.bench"
C7552 = BENCHMARKS / "iscas85" / "c7552.bench"


# -- helpers: Graphviz as the parser ---------------------------------------------------
def graphviz(dot_text: str, fmt: str = "json") -> tuple[bytes, str]:
    p = subprocess.run(["dot", f"-T{fmt}"], input=dot_text.encode(), capture_output=True,
                       timeout=120, check=True)
    return p.stdout, p.stderr.decode()


def layout(dot_text: str) -> dict:
    """Nodes (name -> (x, y, label)), edges (tail, head, attrs) and clusters
    (name -> (label, node names, child cluster names)), as Graphviz read them."""
    out, err = graphviz(dot_text)
    assert err == "", err  # no warnings either
    g = json.loads(out)
    objs = g["objects"]
    nodes, clusters = {}, {}
    for o in objs:
        if "nodes" in o or "subgraphs" in o or o["name"].startswith("cluster"):
            if o["name"].startswith("cluster"):
                clusters[o["name"]] = (o.get("label"),
                                       {objs[k]["name"] for k in o.get("nodes", [])},
                                       {objs[k]["name"] for k in o.get("subgraphs", [])})
            continue
        x, y = (float(v) for v in o["pos"].split(","))
        nodes[o["name"]] = (x, y, o.get("label", ""))
    edges = [(objs[e["tail"]]["name"], objs[e["head"]]["name"], e) for e in g.get("edges", [])]
    return {"nodes": nodes, "edges": edges, "clusters": clusters, "label": g.get("label")}


def svg_texts(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)
    return [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.text]


def simple_levels(c) -> list[int]:
    """Levels by the definition, written independently of circuits.analysis."""
    lv: list[int] = []
    for i in range(c.num_nodes):
        fins = [lv[j] for j in c.fanins(i).tolist()]
        lv.append(0 if c.kind(i) in NULLARY else 1 + max(fins))
    return lv


def load_bench(path):
    from circuits import load
    return load(path)


# -- the full diagram --------------------------------------------------------------------
def check_full_layout(c, lay) -> None:
    nodes, edges = lay["nodes"], lay["edges"]
    gates = [i for i in range(c.num_nodes)]
    assert {f"n{i}" for i in gates} | {f"o{k}" for k in range(c.num_outputs)} == set(nodes)
    # every wire, once per fan-in slot, and every output
    drawn = Counter((t, h) for t, h, e in edges if e.get("style") != "invis")
    want = Counter((f"n{j}", f"n{i}") for i in range(c.num_inputs, c.num_nodes)
                   for j in c.fanins(i).tolist())
    want.update((f"n{o}", f"o{k}") for k, o in enumerate(c.output_ids.tolist()))
    assert drawn == want
    y = {name: v[1] for name, v in nodes.items()}
    x = {name: v[0] for name, v in nodes.items()}
    ins = [f"n{i}" for i in range(c.num_inputs)]
    outs = [f"o{k}" for k in range(c.num_outputs)]
    # inputs in one row on top, outputs in one row at the bottom, both in file order
    if ins:
        assert len({y[n] for n in ins}) == 1
        assert all(y[n] >= max(y.values()) for n in ins)
        assert [x[n] for n in ins] == sorted(x[n] for n in ins)
    if outs:
        assert len({y[n] for n in outs}) == 1
        assert all(y[n] <= min(y.values()) for n in outs)
        assert [x[n] for n in outs] == sorted(x[n] for n in outs)
    # every wire points down (Graphviz's y grows upwards)
    for (t, h) in want:
        assert y[t] > y[h]


def check_rows_by_level(c, lay) -> None:
    """Gates of one level share a row; a deeper level is a lower row."""
    y = {name: v[1] for name, v in lay["nodes"].items()}
    lv = simple_levels(c)
    rows: dict[int, set] = {}
    for i in range(c.num_inputs, c.num_nodes):
        if c.kind(i) not in NULLARY:
            rows.setdefault(lv[i], set()).add(y[f"n{i}"])
    assert all(len(s) == 1 for s in rows.values())
    heights = [rows[k].pop() for k in sorted(rows)]
    assert heights == sorted(heights, reverse=True)


@needs_dot
@needs_benchmarks
def test_c17_is_drawn_gate_by_gate():
    c = load_bench(C17)
    text = to_dot(c, title="c17")
    lay = layout(text)
    check_full_layout(c, lay)
    check_rows_by_level(c, lay)
    assert lay["label"] == "c17: 5 inputs, 2 outputs, 6 gates, depth 3"  # SOURCES.md
    shown = " ".join(svg_texts(dump(c, fmt="svg")))
    for name in ("G1gat", "G7gat", "G10gat", "G19gat", "G22gat", "G23gat"):
        assert name in shown
    assert shown.count("NAND") == 6


@needs_dot
@needs_benchmarks
def test_c432_is_drawn_gate_by_gate():
    c = load_bench(C432)
    assert c.size == 160 <= draw_mod.DEFAULT_MAX_GATES
    lay = layout(to_dot(c, title="c432"))
    check_full_layout(c, lay)
    check_rows_by_level(c, lay)
    assert lay["label"] == "c432: 36 inputs, 7 outputs, 160 gates, depth 17"


@needs_dot
@settings(max_examples=25)
@given(random_circuits(basis="general", max_gates=14, max_inputs=5))
def test_random_circuits_lay_out_cleanly(c):
    lay = layout(to_dot(c))
    check_full_layout(c, lay)
    check_rows_by_level(c, lay)


TAGS = ["a", "a/b", "a/c", "a/b/x", "d", None]


@needs_dot
@settings(max_examples=20)
@given(random_circuits(basis="general", max_gates=14, max_inputs=4), st.data())
def test_random_tagged_circuits_cluster_correctly(c, data):
    import numpy as np
    from circuits.ir import Circuit
    picks = data.draw(st.lists(st.sampled_from(TAGS), min_size=c.num_nodes,
                               max_size=c.num_nodes))
    names = [t for t in TAGS if t]
    tags = np.array([-1 if i < c.num_inputs or t is None else names.index(t)
                     for i, t in enumerate(picks)], dtype=np.int32)
    c = Circuit(c.kinds, c.fanin_ptr, c.fanin, c.weights, c.thresholds, c.input_names,
                c.output_ids, c.output_names, c.node_names, tags, tuple(names))
    lay = layout(to_dot(c))
    check_full_layout(c, lay)
    check_rows_by_level(c, lay)  # rows line up across clusters too
    for label, members, _ in lay["clusters"].values():
        assert members  # no empty cluster is drawn
    # every tagged node sits in the cluster of each part of its tag, and nowhere else
    by_path: dict[str, set] = {}
    for i in range(c.num_inputs, c.num_nodes):
        t = c.tag_of(i)
        parts = t.split("/") if t else []
        for k in range(1, len(parts) + 1):
            by_path.setdefault("/".join(parts[:k]), set()).add(f"n{i}")
    assert sorted(map(sorted, (v[1] for v in lay["clusters"].values()))) == \
        sorted(map(sorted, by_path.values()))
    # the summary per tag lays out cleanly, and its arrows count every wire across tags
    summary = layout(to_dot(c, max_gates=0))
    if c.size and any(c.tag_of(i) for i in range(c.num_nodes)):
        group = {i: ("in" if i < c.num_inputs else
                     "const" if c.kind(i) in NULLARY else c.tag_of(i) or "")
                 for i in range(c.num_nodes)}
        across = sum(1 for i in range(c.num_inputs, c.num_nodes) for j in c.fanins(i).tolist()
                     if group[i] != group[j])
        drawn = sum(int(e["label"]) for t, h, e in summary["edges"] if h != "g_out")
        assert drawn == across


NASTY = ['opcode[0]', 'a"b', 'back\\slash', '<tag>&amp;', '{x; y}', '-> z', 'α≥β',
         'end\\', '"', "cluster_0"]


@needs_dot
def test_names_are_escaped_and_shown_verbatim():
    b = CircuitBuilder(strash=False, fold=False)
    xs = b.inputs(NASTY[:5])
    g1 = b.gate("AND", xs[:2], name=NASTY[5])
    g2 = b.gate("OR", [g1, xs[2]], name=NASTY[6])
    g3 = b.gate("XOR", [g2, xs[3], xs[4]], name=NASTY[7])
    b.output(NASTY[8], g3)
    b.output(NASTY[9], xs[0])
    c = b.build()
    text = to_dot(c, title='t"i\\tle')
    lay = layout(text)
    check_full_layout(c, lay)
    shown = svg_texts(dump(c, fmt="svg", title='t"i\\tle'))
    assert shown[0] == 't"i\\tle: 5 inputs, 2 outputs, 3 gates, depth 3'
    for name in NASTY:
        assert name in shown, name


def test_control_characters_cannot_break_the_dot_text():
    b = CircuitBuilder()
    x = b.input("a\nb")
    b.output("y\r", b.NOT(x))
    text = to_dot(b.build())
    assert "a\nb" not in text and "y\r" not in text
    assert "a?b" in text


@needs_dot
def test_threshold_and_majority_labels():
    b = CircuitBuilder(strash=False, fold=False)
    x, y, z = b.inputs(["x", "y", "z"])
    t = b.THR([x, y, z], [2, -1, 1], 3)
    m = b.MAJ(x, y, z, t)
    b.output("t", t)
    b.output("m", m)
    c = b.build()
    texts = svg_texts(dump(c, fmt="svg"))
    assert "THR ≥3" in texts and "[2,-1,1]" in texts
    assert "MAJ" in texts and "≥2 of 4" in texts
    lay = layout(to_dot(c))
    weights = {(t_, h): e.get("label") for t_, h, e in lay["edges"] if h == "n3"}
    assert weights == {("n0", "n3"): "2", ("n1", "n3"): "-1", ("n2", "n3"): "1"}


@needs_dot
def test_tags_become_nested_clusters():
    b = CircuitBuilder(strash=False, fold=False)
    x = b.inputs(["x0", "x1", "x2"])
    b.set_tag("layer0/attn/head0")
    h0 = b.AND(x[0], x[1])
    b.set_tag("layer0/attn/head1")
    h1 = b.OR(x[1], x[2])
    b.set_tag("layer0/mlp")
    m = b.MAJ(h0, h1, x[0])
    b.set_tag("layer1")
    z = b.XOR(m, x[2])
    b.set_tag(None)
    b.output("y", b.NOT(z))
    c = b.build()
    lay = layout(to_dot(c))
    check_full_layout(c, lay)
    check_rows_by_level(c, lay)
    by_label = {v[0]: v for v in lay["clusters"].values()}
    name_of = {v[0]: k for k, v in lay["clusters"].items()}
    assert set(by_label) == {"layer0", "attn", "head0", "head1", "mlp", "layer1"}
    assert by_label["head0"][1] == {f"n{h0}"}
    assert by_label["head1"][1] == {f"n{h1}"}
    assert by_label["attn"][1] == {f"n{h0}", f"n{h1}"}
    assert by_label["attn"][2] == {name_of["head0"], name_of["head1"]}
    assert by_label["layer0"][1] == {f"n{h0}", f"n{h1}", f"n{m}"}
    assert by_label["layer0"][2] == {name_of["attn"], name_of["mlp"]}
    assert by_label["layer1"][1] == {f"n{z}"}
    untagged = f"n{c.output_ids[0]}"
    assert all(untagged not in v[1] for v in lay["clusters"].values())


def test_dot_is_deterministic():
    def build():
        b = CircuitBuilder()
        x = b.inputs([f"x{i}" for i in range(6)])
        b.set_tag("a/b")
        t = b.THR(x[:4], [3, -2, 1, 1], 2)
        b.set_tag("a")
        m = b.MAJ(t, x[4], x[5])
        b.output("m", m)
        b.output("t", t)
        return b.build()
    c1, c2 = build(), build()
    assert to_dot(c1) == to_dot(c2) == to_dot(c1)
    assert to_dot(c1, max_gates=0) == to_dot(c2, max_gates=0)


# -- the summary -------------------------------------------------------------------------
def chain(n: int):
    b = CircuitBuilder(strash=False, fold=False)
    x, y = b.inputs(["x", "y"])
    v = x
    for i in range(n):
        v = b.AND(v, y) if i % 3 == 0 else b.NOT(v)
    b.output("v", v)
    b.output("y", y)
    return b.build()


def test_max_gates_is_the_switch_to_the_summary():
    c = chain(10)
    assert "summary" not in to_dot(c, max_gates=10)
    assert "summary per level (over --max-gates 9)" in to_dot(c, max_gates=9)
    with pytest.raises(CotsimInputError):
        to_dot(c, max_gates=-1)


def summary_rows(svg: bytes) -> dict[str, list[str]]:
    """The texts of each 'level ...' row of the summary table, in order."""
    texts = svg_texts(svg)
    rows: dict[str, list[str]] = {}
    cur = None
    for t in texts:
        if re.fullmatch(r"levels? \d+(–\d+)?", t):
            cur = t
            rows[cur] = []
        elif cur is not None:
            if t == "kinds:":
                break
            rows[cur].append(t)
    return rows


@needs_dot
def test_summary_of_a_deep_chain_uses_bands_of_levels():
    n = 3 * draw_mod.SUMMARY_MAX_ROWS + 5
    c = chain(n)
    rows = summary_rows(dump(c, fmt="svg", max_gates=10))
    band = -(-n // draw_mod.SUMMARY_MAX_ROWS)
    assert len(rows) == -(-n // band)
    assert list(rows)[0] == f"levels 1–{band}"
    assert sum(int(r[0]) for r in rows.values()) == n  # gates per row add up


@needs_dot
@needs_benchmarks
def test_summary_of_c7552_matches_the_published_figures():
    c = load_bench(C7552)
    svg = dump(c, fmt="svg", title="c7552")
    texts = svg_texts(svg)
    assert texts[0].startswith("c7552: 3512 gates, depth 43, 207 inputs, 108 outputs — "
                               "summary per level (over --max-gates 400)")
    rows = summary_rows(svg)
    assert list(rows) == [f"level {k}" for k in range(1, 44)]
    # per-level gate counts, against an independent computation of the levels
    lv = Counter(v for i, v in enumerate(simple_levels(c)) if c.kind(i) not in NULLARY)
    assert {k: int(rows[f"level {k}"][0]) for k in range(1, 44)} == dict(lv)
    # kinds per level add up to the SOURCES.md gate mix
    mix = Counter()
    for r in rows.values():
        for part in r[1].split(" · "):
            kind, n = part.split()
            mix[kind] += int(n)
    assert dict(mix) == {"AND": 776, "BUF": 534, "NAND": 1028, "NOR": 54, "NOT": 876,
                         "OR": 244}
    assert "108 outputs" in texts


@needs_dot
def test_summary_per_tag():
    b = CircuitBuilder(strash=False, fold=False)
    x = b.inputs([f"x{i}" for i in range(4)])
    b.set_tag("layer0/attn")
    a = [b.AND(x[i], x[i + 1]) for i in range(3)]
    b.set_tag("layer0/mlp")
    m = [b.THR(a, [1, 2, -1], 1), b.MAJ(*a)]
    b.set_tag("layer0")
    n = b.NOT(x[3])
    b.set_tag(None)
    b.output("y", b.OR(*m, n))
    c = b.build()
    text = to_dot(c, max_gates=2)
    assert "summary per tag" in text
    lay = layout(text)
    assert [(v[0], v[1]) for v in lay["clusters"].values()] == [("layer0", {"g0", "g1", "g2"})]
    wires = {(t, h): int(e["label"]) for t, h, e in lay["edges"]}
    # 6 wires from inputs into attn, 3+3 from attn to mlp, 1 into the NOT tagged layer0,
    # 2 + 1 into the untagged OR, which is the one output
    assert wires == {("g_in", "g0"): 6, ("g0", "g1"): 6, ("g_in", "g2"): 1, ("g1", "g3"): 2,
                     ("g2", "g3"): 1, ("g3", "g_out"): 1}
    texts = svg_texts(graphviz(text, "svg")[0])
    assert "(untagged)" in texts and "attn" in texts and "mlp" in texts


# -- SVG and errors ----------------------------------------------------------------------
@needs_dot
def test_svg_is_well_formed():
    svg = dump(chain(5), fmt="svg")
    assert ET.fromstring(svg).tag == "{http://www.w3.org/2000/svg}svg"


def test_missing_graphviz_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(draw_mod.shutil, "which", lambda name: None)
    with pytest.raises(CotsimInputError, match="install the Debian package graphviz"):
        dump(chain(3), fmt="svg")
    assert dump(chain(3), fmt="dot").startswith(b"digraph")  # DOT needs no Graphviz


def test_unknown_format():
    with pytest.raises(CotsimInputError):
        dump(chain(3), fmt="png")


@needs_dot
@pytest.mark.parametrize("what", ["no gates", "no outputs", "constants only", "no inputs",
                                  "empty names"])
def test_degenerate_circuits(what):
    b = CircuitBuilder(strash=False, fold=False)
    if what == "empty names":
        x = b.input("")
        b.output("", b.gate("NOT", [x], name=""))
    elif what != "no inputs":
        x = b.input("x")
    if what == "no gates":
        b.output("x", x)
    elif what == "no outputs":
        b.NOT(x)
    elif what == "constants only":
        b.output("one", b.const(1))
        b.output("zero", b.const(0))
    else:
        b.output("y", b.NOT(b.const(0)))
    c = b.build()
    for mg in (0, 100):
        _, err = graphviz(to_dot(c, max_gates=mg), "svg")
        assert err == ""
    check_full_layout(c, layout(to_dot(c)))


def test_the_colour_table_in_the_docs_matches_the_code():
    doc = (REPO / "docs" / "drawing.md").read_text()
    rows = re.findall(r"^\| ([A-Z0-9, ]+|output) \| [^|]+ \| [^|`]*`(#[0-9a-f]{6})` \|", doc, re.M)
    table = {}
    for kinds, colour in rows:
        for k in kinds.split(", "):
            table[k] = colour
    want = {k.name: fill for k, (_, fill) in draw_mod.STYLE.items()}
    want["output"] = draw_mod.OUTPUT_FILL
    assert table == want
