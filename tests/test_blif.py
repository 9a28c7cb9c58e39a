"""Combinational BLIF: EPFL figures against SOURCES.md, cover mapping, round trips, ABC
equivalence, bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits import CircuitBuilder, Kind, ParseError
from circuits import blif
from circuits.io import load, load_file
from cotsim.cli import main
from conftest import BENCHMARKS, EPFL_BLIF, ISCAS, ISCAS_UPPER, bench_id, needs_abc, \
    needs_benchmarks
from oracles.circuit_cases import named_circuits
from oracles.equivalence import abc_cec
from oracles.gates import all_vectors, reference_evaluate, same_function

# Copied from SOURCES.md, section 2 (EPFL): PIs, POs, BLIF .names, AIG depth (computed there
# from the .aig files, in AND nodes).
EPFL_TABLE = {
    "adder": (256, 129, 1020, 255),
    "bar": (135, 128, 3336, 12),
    "max": (512, 130, 2865, 287),
    "multiplier": (128, 128, 27062, 274),
    "sin": (24, 25, 5416, 225),
    "arbiter": (256, 129, 11839, 87),
    "cavlc": (10, 11, 693, 16),
    "ctrl": (7, 26, 175, 10),
    "dec": (8, 256, 304, 3),
    "i2c": (147, 142, 1357, 20),
    "int2float": (11, 7, 260, 16),
    "priority": (128, 8, 978, 250),
    "router": (60, 30, 284, 54),
    "voter": (1001, 1, 13758, 70),
}


@needs_benchmarks
def test_every_table_row_has_a_file():
    assert sorted(p.stem for p in EPFL_BLIF) == sorted(EPFL_TABLE)


@needs_benchmarks
@pytest.mark.parametrize("path", EPFL_BLIF, ids=bench_id)
def test_stats_match_sources(path: Path, capsys):
    pis, pos, names, aig_depth = EPFL_TABLE[path.stem]
    assert main(["stats", str(path), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert (got["inputs"], got["outputs"], got["gates"]) == (pis, pos, names)
    assert sum(got["kinds"].values()) == names
    assert got["max_fanin"] <= 2 and got["max_abs_weight"] == 0
    # In these files every .names is one AIG AND, a buffer or a constant, and the extra
    # buffers lie off the longest paths: the .names depth equals the AIG depth.
    assert got["depth"] == aig_depth


# -- how covers map to gates -------------------------------------------------------------

def one_cover(header: str, rows: list[str]):
    ins = header.split()[:-1]
    text = ".model t\n.inputs " + " ".join(ins) + "\n.outputs y\n.names " + header + "\n" + \
        "\n".join(rows) + "\n.end\n"
    return blif.parse(text.encode(), "t.blif")


COVERS = [  # (.names header, rows, IR kinds in order after the inputs, class)
    ("y", [], ["CONST0"], "CONST0"),
    ("y", ["1"], ["CONST1"], "CONST1"),
    ("y", ["0"], ["CONST0"], "CONST0"),
    ("a y", ["1 1"], ["BUF"], "BUF"),
    ("a y", ["0 1"], ["NOT"], "NOT"),
    ("a y", ["1 0"], ["NOT"], "NOT"),
    ("a y", ["0 0"], ["BUF"], "BUF"),
    ("a b y", ["11 1"], ["AND"], "AND"),
    ("a b y", ["00 1"], ["NOR"], "AND"),
    ("a b y", ["10 1"], ["NOT", "AND"], "AND"),
    ("a b y", ["11 0"], ["NAND"], "OR"),
    ("a b y", ["00 0"], ["OR"], "OR"),
    ("a b y", ["01 0"], ["NOT", "NAND"], "OR"),
    ("a b y", ["1- 1"], ["BUF"], "BUF"),
    ("a b y", ["-- 1"], ["CONST1"], "CONST1"),
    ("a b y", ["-- 0"], ["CONST0"], "CONST0"),
    ("a b y", ["01 1", "10 1"], ["XOR"], "XOR"),
    ("a b y", ["00 1", "11 1"], ["XNOR"], "XNOR"),
    ("a b y", ["01 0", "10 0"], ["XNOR"], "XNOR"),
    ("a b c y", ["001 1", "010 1", "100 1", "111 1"], ["XOR"], "XOR"),
    ("a b y", ["1- 1", "-1 1"], ["OR"], "SOP"),
    ("a b y", ["1- 0", "-0 0"], ["NOT", "NOR"], "SOP"),
    ("a b c y", ["11- 1", "0-1 1"], ["AND", "NOT", "AND", "OR"], "SOP"),
]


@pytest.mark.parametrize("header, rows, kinds, klass", COVERS)
def test_cover_maps_to_small_gates(header, rows, kinds, klass):
    loaded = one_cover(header, rows)
    c = loaded.circuit
    assert [c.kind(i).name for i in range(c.num_inputs, c.num_nodes)] == kinds
    assert loaded.file_stats["kinds"] == {klass: 1}
    assert loaded.file_stats["gates"] == 1
    assert c.name_of(int(c.output_ids[0])) == "y"  # the last node carries the name
    # and the function is the cover's, by the definition of on-set and off-set rows
    assert_cover_function(header, rows, c)


def cover_value(rows: list[str], bits) -> bool:
    if not rows:
        return False
    out = rows[0].split()[-1] == "1"
    planes = [r.split()[0] if len(r.split()) == 2 else "" for r in rows]
    hit = any(all(p == "-" or int(p) == b for p, b in zip(plane, bits)) for plane in planes)
    return hit if out else not hit


def assert_cover_function(header: str, rows: list[str], c) -> None:
    k = len(header.split()) - 1
    X = all_vectors(k)
    got = reference_evaluate(c, X)[:, 0]
    want = [cover_value(rows, x.astype(int).tolist()) for x in X]
    assert got.tolist() == want


@st.composite
def covers(draw):
    k = draw(st.integers(0, 4))
    on = draw(st.sampled_from("01"))
    planes = draw(st.lists(st.text("01-", min_size=k, max_size=k), max_size=6))
    if k == 0:
        planes = planes[:1]
    return " ".join("abcd"[:k]) + " y" if k else "y", [f"{p} {on}" if k else on for p in planes]


@given(covers())
def test_random_covers_keep_their_function(cover):
    header, rows = cover
    loaded = one_cover(header, rows)
    assert_cover_function(header, rows, loaded.circuit)
    back = blif.parse(blif.dump(loaded.circuit), "rt.blif").circuit
    assert same_function(loaded.circuit, back)


def test_continuations_comments_brackets_crlf():
    text = (b"# a comment\r\n.model top  # trailing comment\r\n.inputs op[0] \\\r\n op[1]\r\n"
            b".outputs y[0] \\\n  z\n.names op[0] op[1] \\\n y[0]\n10 1\n.names z\n1\n.end\n")
    c = blif.parse(text, "x.blif").circuit
    assert c.input_names == ("op[0]", "op[1]") and c.output_names == ("y[0]", "z")
    assert reference_evaluate(c, all_vectors(2)).tolist() == \
        [[False, True], [False, True], [True, True], [False, True]]


# -- round trips -------------------------------------------------------------------------

@needs_benchmarks
@pytest.mark.parametrize("path", EPFL_BLIF, ids=bench_id)
def test_epfl_round_trip_is_exact(path: Path):
    loaded = load_file(path)
    data = blif.dump(loaded.circuit)
    again = blif.parse(data, "rt.blif")
    assert again.circuit == loaded.circuit and again.circuit.node_names == \
        loaded.circuit.node_names
    assert again.file_stats == loaded.file_stats
    assert blif.dump(again.circuit) == data  # deterministic, a fixed point


@needs_benchmarks
@pytest.mark.parametrize("path", ISCAS + ISCAS_UPPER, ids=bench_id)
def test_iscas_to_blif_and_back_is_exact(path: Path):
    c = load(path)
    back = blif.parse(blif.dump(c), "rt.blif")
    assert back.circuit == c
    # one .names per gate: the BLIF figures are the .bench figures
    assert back.file_stats["gates"] == c.size and back.file_stats["inputs"] == c.num_inputs


@given(named_circuits())
def test_random_circuit_round_trip(c):
    assert same_function(c, blif.parse(blif.dump(c), "rt.blif").circuit)


@settings(max_examples=20)
@given(st.integers(9, 12), st.data())
def test_wide_gates_are_lowered_and_exact(k, data):
    b = CircuitBuilder(strash=False, fold=False)
    xs = b.inputs([f"x{i}" for i in range(k)])
    ws = data.draw(st.lists(st.integers(-5, 5), min_size=k, max_size=k))
    t = data.draw(st.integers(-10, 10))
    b.output("p", b.gate(Kind.XOR, xs))
    b.output("q", b.gate(Kind.XNOR, xs[:9]))
    b.output("m", b.gate(Kind.MAJ, xs))
    b.output("t", b.gate(Kind.THR, xs, ws, t))
    b.output("s", b.gate(Kind.THR, xs[:10], ws[:10], t))  # fits one cover
    c = b.build()
    back = blif.parse(blif.dump(c), "rt.blif").circuit
    X = np.array(data.draw(st.lists(st.lists(st.booleans(), min_size=k, max_size=k),
                                    min_size=1, max_size=32)), dtype=bool)
    Xi = X.astype(int)
    want = np.stack([Xi.sum(1) % 2 == 1, Xi[:, :9].sum(1) % 2 == 0, 2 * Xi.sum(1) >= k,
                     Xi @ np.array(ws) >= t, Xi[:, :10] @ np.array(ws[:10]) >= t], axis=1)
    assert (reference_evaluate(back, X) == want).all()


# -- ABC equivalence ---------------------------------------------------------------------

@needs_abc
@needs_benchmarks
@pytest.mark.parametrize("path", EPFL_BLIF + ISCAS + ISCAS_UPPER, ids=bench_id)
def test_abc_proves_blif_writer(path: Path, tmp_path: Path):
    out = tmp_path / (path.stem + ".blif")
    out.write_bytes(blif.dump(load(path)))
    assert "Networks are equivalent" in abc_cec(path, out)


@needs_abc
@needs_benchmarks
def test_abc_sees_a_broken_copy(tmp_path: Path):
    path = BENCHMARKS / "epfl" / "random_control" / "int2float.blif"
    text = blif.dump(load(path)).decode()
    out = tmp_path / "broken.blif"
    out.write_text(text.replace("\n11 1\n", "\n11 0\n", 1))
    assert "NOT EQUIVALENT" in abc_cec(path, out)


# -- bad input ---------------------------------------------------------------------------

HEAD = ".model t\n.inputs a b\n.outputs y\n"
BAD = [  # (text, line, words in the message)
    (HEAD + ".names a b y\n11 1\n", 5, "no .end"),
    (HEAD + ".latch a y 0\n.end\n", 4, "sequential"),
    (HEAD + ".subckt f x=a y=y\n.end\n", 4, "hierarchical"),
    (HEAD + ".gate and2 A=a B=b O=y\n.end\n", 4, "hierarchical"),
    (HEAD + ".names a b y\n11 1\n.end\n.model u\n", 7, "second .model"),
    (HEAD + ".model u\n.end\n", 4, "second .model"),
    (HEAD + ".names a b y\n11 1\n.end\n.names y\n", 7, "after .end"),
    (HEAD + ".names a b y\n11 1\n00 0\n.end\n", 6, "mixes"),
    (HEAD + ".names a b y\n1 1\n.end\n", 5, "does not fit"),
    (HEAD + ".names a b y\n111 1\n.end\n", 5, "does not fit"),
    (HEAD + ".names a b y\n1x 1\n.end\n", 5, "does not fit"),
    (HEAD + ".names a b y\n11 2\n.end\n", 5, "does not fit"),
    (HEAD + ".names a b y\n11\n.end\n", 5, "does not fit"),
    (HEAD + ".names y\n1 1\n.end\n", 5, "without inputs"),
    (HEAD + "11 1\n.end\n", 4, "outside a .names"),
    (HEAD + ".names\n.end\n", 4, "at least an output"),
    (HEAD + ".names a q y\n11 1\n.end\n", 4, "never defined"),
    (HEAD + ".names a b y\n11 1\n.names a y\n1 1\n.end\n", 6, "defined twice"),
    (HEAD + ".names a b a\n11 1\n.end\n", 4, "primary input"),
    (HEAD + ".names a z y\n11 1\n.names y b z\n11 1\n.end\n", 4, "cycle"),
    (HEAD + ".names a b y\n11 1\n.frobnicate\n.end\n", 6, "unknown directive"),
    (HEAD + ".names a b\\ y\n11 1\n.end\n", 4, "bad signal name"),
    (".model t\n.inputs a\n.end\n", 3, "no .outputs"),
    ("", 1, "no .end"),
    (HEAD + ".names a b \\", 4, "continuation"),
    (HEAD + ".names a b y\n\xff1 1\n.end\n", 5, "UTF-8"),
]


@pytest.mark.parametrize("text, line, words", BAD)
def test_bad_input_names_file_and_line(text: str, line: int, words: str):
    with pytest.raises(ParseError) as err:
        blif.parse(text.encode("latin-1"), "bad.blif")
    assert str(err.value).startswith(f"bad.blif:{line}: "), str(err.value)
    assert words in str(err.value)
    assert "\n" not in str(err.value)


def test_cli_bad_file_one_line_exit_2(tmp_path: Path, capsys):
    bad = tmp_path / "bad.blif"
    bad.write_text(HEAD + ".latch a y 0\n.end\n")
    assert main(["stats", str(bad), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert f"{bad}:4:" in captured.err and "sequential" in captured.err


def test_outputs_that_are_inputs_or_repeated():
    c = blif.parse((HEAD.replace(".outputs y", ".outputs a y y b") +
                    ".names a b y\n01 1\n.end\n").encode(), "x.blif").circuit
    text = blif.dump(c)
    assert b".outputs a y y b\n" in text
    back = blif.parse(text, "x.blif").circuit
    assert back == c
    X = all_vectors(2)
    assert (reference_evaluate(back, X) == np.stack(
        [X[:, 0], ~X[:, 0] & X[:, 1], ~X[:, 0] & X[:, 1], X[:, 1]], axis=1)).all()


def test_output_renamed_gets_a_buffer():
    b = CircuitBuilder(strash=False, fold=False)
    a, c = b.inputs(["a", "c"])
    g = b.gate(Kind.AND, [a, c], name="y")
    b.output("o1", g)
    b.output("o2", g)
    b.output("o3", a)
    text = blif.dump(b.build()).decode()
    assert ".names a c o1\n11 1" in text
    assert ".names o1 o2\n1 1" in text and ".names a o3\n1 1" in text
