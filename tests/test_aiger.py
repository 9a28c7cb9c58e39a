"""AIGER reading and writing: the EPFL figures of SOURCES.md, round trips through .aag,
.aig and .json checked by simulation and by ABC's ``cec``, and bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits import CircuitBuilder, CotsimInputError, Kind, ParseError, evaluate, load, save
from circuits.aiger import dump, parse
from circuits.io import load_file
from conftest import ABC, EPFL_AIG, ISCAS, ISCAS_UPPER, bench_id, needs_abc
from cotsim.cli import main
from oracles.equivalence import abc_cec
from oracles.gates import reference_evaluate

# SOURCES.md section 2, EPFL table: PIs, POs, AIG ANDs (header A), AIG depth (in ANDs).
EPFL_TABLE = {
    "arithmetic/adder": (256, 129, 1020, 255),
    "arithmetic/bar": (135, 128, 3336, 12),
    "arithmetic/max": (512, 130, 2865, 287),
    "arithmetic/multiplier": (128, 128, 27062, 274),
    "arithmetic/sin": (24, 25, 5416, 225),
    "random_control/arbiter": (256, 129, 11839, 87),
    "random_control/cavlc": (10, 11, 693, 16),
    "random_control/ctrl": (7, 26, 174, 10),
    "random_control/dec": (8, 256, 304, 3),
    "random_control/i2c": (147, 142, 1342, 20),
    "random_control/int2float": (11, 7, 260, 16),
    "random_control/priority": (128, 8, 978, 250),
    "random_control/router": (60, 30, 257, 54),
    "random_control/voter": (1001, 1, 13758, 70),
}


def epfl_key(p: Path) -> str:
    return f"{p.parent.name}/{p.stem}"


def test_every_epfl_aig_is_in_the_table():
    assert sorted(epfl_key(p) for p in EPFL_AIG) == sorted(EPFL_TABLE)


@pytest.mark.parametrize("path", EPFL_AIG, ids=bench_id)
def test_epfl_stats_match_sources(path):
    s = load_file(path).file_stats
    pis, pos, ands, aig_depth = EPFL_TABLE[epfl_key(path)]
    assert (s["inputs"], s["outputs"], s["gates"], s["depth"]) == (pis, pos, ands, aig_depth)
    assert s["kinds"] == {"AND": ands} and s["max_fanin"] == 2 and s["basis"] == "fanin2"


def test_stats_cli_prints_the_file_figures(capsys):
    path = next(p for p in EPFL_AIG if p.stem == "adder")
    assert main(["stats", str(path), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["inputs"], figures["outputs"], figures["gates"], figures["depth"]) == \
        EPFL_TABLE["arithmetic/adder"]


# -- small files with known meaning ---------------------------------------------------------

def truth(c) -> list[list[int]]:
    n = c.num_inputs
    X = np.array([[(r >> i) & 1 for i in range(n)] for r in range(1 << n)], dtype=bool)
    return reference_evaluate(c, X.reshape(-1, n)).astype(int).tolist()


def test_ascii_and_gate_with_symbols():
    c = parse(b"aag 3 2 0 1 1\n2\n4\n6\n6 2 4\ni0 x\ni1 y\no0 x_and_y\nc\nanything\n",
              "and.aag").circuit
    assert c.input_names == ("x", "y") and c.output_names == ("x_and_y",)
    assert truth(c) == [[0], [0], [0], [1]]  # rows: x is bit 0, y is bit 1


def test_binary_and_gate_and_default_names():
    # AND 6 = 4 & 2: deltas 6 - 4 = 2 and 4 - 2 = 2.
    c = parse(b"aig 3 2 0 1 1\n6\n\x02\x02", "and.aig").circuit
    assert c.input_names == ("i0", "i1") and c.output_names == ("o0",)
    assert truth(c) == [[0], [0], [0], [1]]


def test_constants_and_inverters():
    # outputs: false, true, NOT x, x; an OR as NOT(AND(NOT x, NOT y)).
    loaded = parse(b"aag 3 2 0 5 1\n2\n4\n0\n1\n3\n2\n7\n6 3 5\n", "c.aag")
    c = loaded.circuit
    assert truth(c) == [[0, 1, 1, 0, 0], [0, 1, 0, 1, 1], [0, 1, 1, 0, 1], [0, 1, 0, 1, 1]]
    assert loaded.file_stats["gates"] == 1 and loaded.file_stats["depth"] == 1


def test_one_not_per_inverted_variable():
    c = parse(b"aag 4 2 0 2 2\n2\n4\n9\n3\n6 3 5\n8 3 6\n", "n.aag").circuit
    kinds = [c.kind(v) for v in range(c.num_nodes)]
    assert kinds.count(Kind.NOT) == 3  # NOT x, NOT y, NOT (AND 8): each once


def test_ascii_ands_may_come_in_any_order():
    c = parse(b"aag 4 2 0 1 2\n2\n4\n8\n8 6 2\n6 2 4\n", "fwd.aag").circuit
    assert truth(c) == [[0], [0], [0], [1]]


def test_header_extension_with_zero_properties_is_accepted():
    c = parse(b"aag 3 2 0 1 1 0 0 0 0\n2\n4\n6\n6 2 4\n", "z.aag").circuit
    assert truth(c) == [[0], [0], [0], [1]]


def test_writer_round_trips_names_and_writes_a_comment():
    b = CircuitBuilder()
    x, y, z = b.inputs(["a b", "y", "z"])  # a name with a space is legal in AIGER
    b.output("maj", b.MAJ(x, y, z))
    b.output("const", b.const(1))
    c = b.build()
    for fmt in ("aag", "aig"):
        data = dump(c, fmt=fmt)
        assert b"\nc\n" in data and b"cotsim" in data.split(b"\nc\n", 1)[1]
        back = parse(data, f"x.{fmt}").circuit
        assert back.input_names == c.input_names and back.output_names == c.output_names
        assert truth(back) == truth(c)


# -- round trips over the benchmarks -------------------------------------------------------

def roundtrip_cases():
    return [pytest.param(p, id=bench_id(p)) for p in ISCAS + ISCAS_UPPER + EPFL_AIG]


def random_vectors(n: int, batch: int = 512, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((batch, n)) < rng.random((batch, 1))  # rows of varied density


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Each benchmark converted once per module: path -> {ext: written file}."""
    cache: dict[Path, dict[str, Path]] = {}
    folder = tmp_path_factory.mktemp("roundtrip")

    def get(path: Path) -> dict[str, Path]:
        if path not in cache:
            original = load(path)
            stem = bench_id(path).replace("/", "_")
            cache[path] = {}
            for ext in (".aag", ".aig", ".json"):
                save(original, folder / f"{stem}{ext}")
                cache[path][ext] = folder / f"{stem}{ext}"
        return cache[path]

    return get


@pytest.mark.parametrize("path", roundtrip_cases())
def test_round_trip_keeps_function(path, written):
    original = load(path)
    X = random_vectors(original.num_inputs)
    want = evaluate(original, X)
    back = {ext: load(f) for ext, f in written(path).items()}
    for ext, c in back.items():
        assert c.input_names == original.input_names
        assert c.output_names == original.output_names
        assert np.array_equal(evaluate(c, X), want), ext
    if original.num_nodes <= 5000:  # the slow plain-Python oracle, on a few vectors
        few = X[:4]
        for c in back.values():
            assert np.array_equal(reference_evaluate(c, few), reference_evaluate(original, few))
    assert back[".json"] == original  # JSON keeps the structure exactly
    # The two AIGER flavours hold the same graph, so ABC's check of the .aig covers the .aag.
    assert back[".aag"] == back[".aig"]
    if path.suffix == ".aig":  # an AIG written back keeps its figures
        assert load_file(written(path)[".aig"]).file_stats == load_file(path).file_stats


@needs_abc
@pytest.mark.parametrize("path", roundtrip_cases())
def test_written_aig_is_equivalent_by_abc(path, written, tmp_path):
    assert "Networks are equivalent" in abc_cec(path, written(path)[".aig"])
    # ABC reads no .aag: convert our .aag to .aig with our own code and compare that too.
    save(load(written(path)[".aag"]), tmp_path / "from_aag.aig")
    assert "Networks are equivalent" in abc_cec(path, tmp_path / "from_aag.aig")


@needs_abc
def test_abc_notices_a_wrong_aig(tmp_path):
    # The oracle itself: swapping two outputs must be caught.
    path = next(p for p in ISCAS if p.stem == "c432")
    c = load(path)
    ids = c.output_ids.copy()
    ids[[0, 1]] = ids[[1, 0]]
    save(c.with_outputs(ids, c.output_names), tmp_path / "bad.aig")
    assert "NOT EQUIVALENT" in abc_cec(path, tmp_path / "bad.aig")


# -- bad input --------------------------------------------------------------------------------

BAD_ASCII = [
    ("agg 1 0 0 0 0\n", 1, "not an AIGER file"),
    ("aag 1 2\n", 1, "malformed header"),
    ("aag 1 x 0 0 0\n", 1, "malformed header"),
    ("aag 2 1 1 0 0\n2\n4 2\n", 1, "latches"),
    ("aag 1 1 0 0 0 1\n2\n", 1, "not supported"),
    ("aag 1 2 0 0 0\n2\n4\n", 1, "less than I + L + A"),
    ("aag 3 2 0 1 1\n2\n4\n6\n", 5, "file ends where AND 0 of 1"),
    ("aag 3 2 0 1 1\n2\n4\n", 4, "file ends where output 0 of 1"),
    ("aag 3 2 0 1 1\n2\n4\n9\n6 2 4\n", 4, "out of range"),
    ("aag 3 2 0 1 1\n2\n4\n6\n6 2 8\n", 5, "out of range"),
    ("aag 3 2 0 1 1\n3\n4\n6\n6 2 4\n", 2, "must be even"),
    ("aag 3 2 0 1 1\n2\n2\n6\n6 2 4\n", 3, "defined twice"),
    ("aag 3 2 0 1 1\n2\n4\n6\n7 2 4\n", 5, "must be even"),
    ("aag 3 2 0 1 1\n2\n4\n6\n4 2 2\n", 5, "defined twice"),
    ("aag 4 2 0 1 1\n2\n4\n6\n6 2 8\n", 5, "never defined"),
    ("aag 4 2 0 1 1\n2\n4\n8\n6 2 4\n", 4, "never defined"),
    ("aag 4 2 0 1 2\n2\n4\n6\n6 2 8\n8 6 4\n", 5, "combinational cycle"),
    ("aag 3 2 0 1 1\n2\n4\n6\n6 2\n", 5, "expected an AND"),
    ("aag 3 2 0 1 1\n2\n4\n6\n6 2 4\ni2 x\n", 6, "names no input"),
    ("aag 3 2 0 1 1\n2\n4\n6\n6 2 4\nq0 x\n", 6, "malformed entry"),
    ("aag 3 2 0 1 1\n2\n4\n6\n6 2 4\ni0\n", 6, "malformed entry"),
    ("aag 3 2 0 1 1\n2\n4\n6\n6 2 4\ni0 a\ni0 b\n", 7, "named twice"),
    ("aag 3 2 0 1 1\n2\n4\n6\n6 2 4\nl0 q\n", 6, "latch symbol"),
    ("aag 3 2 0 1 1\n2\n4\n6\n6 2 4\ni0 a\ni1 a\n", None, "both named 'a'"),
]


@pytest.mark.parametrize("text,line,fragment", BAD_ASCII)
def test_bad_ascii_names_the_line(text, line, fragment):
    with pytest.raises(ParseError) as err:
        parse(text.encode(), "bad.aag")
    assert err.value.line == line
    assert fragment in err.value.message
    prefix = "bad.aag:" if line is None else f"bad.aag:{line}: "
    assert str(err.value).startswith(prefix) and "\n" not in str(err.value)


BAD_BINARY = [
    (b"aig 5 2 0 1 1\n6\n\x02\x02", None, "M = I + L + A"),
    (b"aig 3 2 0 1 1\n6\n\x00\x02", 16, "rhs0 < lhs"),
    (b"aig 3 2 0 1 1\n6\n\x07\x00", 16, "rhs0 < lhs"),
    (b"aig 3 2 0 1 1\n6\n\x02\x07", 16, "rhs1 negative"),
    (b"aig 3 2 0 1 1\n6\n\x02", 16, "AND section"),
    (b"aig 3 2 0 1 1\n6\n\x82\x82", 16, "file ends inside AND 0"),
    (b"aig 3 2 0 1 1\n6\n" + b"\xff" * 10 + b"\x01", 16, "longer than 9 bytes"),
    (b"aig 3 2 0 1 1\n6\n\x02\x02i0 a\nz\n", 23, "malformed entry"),
]


@pytest.mark.parametrize("data,offset,fragment", BAD_BINARY)
def test_bad_binary_names_the_byte_offset(data, offset, fragment):
    with pytest.raises(ParseError) as err:
        parse(data, "bad.aig")
    assert fragment in err.value.message
    if offset is None:
        assert err.value.line == 1
    else:
        assert f"byte offset {offset}:" in err.value.message
    assert "\n" not in str(err.value)


def test_cli_reports_bad_aiger_on_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.aag"
    bad.write_bytes(b"aag 4 2 0 1 1\n2\n4\n6\n6 2 8\n")
    before = bad.read_bytes()
    assert main(["stats", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}:5:" in err and "Traceback" not in err
    assert bad.read_bytes() == before


# -- fuzzing ------------------------------------------------------------------------------------

SMALL_AIG = next((p for p in EPFL_AIG if p.stem == "int2float"), None)


def mutations(data: bytes):
    edit = st.tuples(st.sampled_from(["set", "insert", "delete", "truncate"]),
                     st.integers(0, len(data) - 1), st.integers(0, 255))
    return st.lists(edit, min_size=1, max_size=4)


def apply(data: bytes, edits) -> bytes:
    buf = bytearray(data)
    for op, pos, value in edits:
        pos = min(pos, max(len(buf) - 1, 0))
        if op == "set" and buf:
            buf[pos] = value
        elif op == "insert":
            buf.insert(pos, value)
        elif op == "delete" and buf:
            del buf[pos]
        elif op == "truncate":
            del buf[pos:]
    return bytes(buf)


def survives_round_trip(c) -> None:
    X = random_vectors(c.num_inputs, 64, seed=1)
    for fmt in ("aag", "aig"):
        back = parse(dump(c, fmt=fmt), f"x.{fmt}").circuit
        assert back.input_names == c.input_names and back.output_names == c.output_names
        assert np.array_equal(evaluate(back, X), evaluate(c, X))


@pytest.mark.skipif(SMALL_AIG is None, reason="EPFL benchmarks missing")
@settings(max_examples=120)
@given(st.data())
def test_mutated_aig_and_aag_fail_cleanly_or_round_trip(data):
    original = SMALL_AIG.read_bytes()
    for source, name in ((original, "m.aig"), (dump(load(SMALL_AIG), fmt="aag"), "m.aag")):
        mutated = apply(source, data.draw(mutations(source)))
        try:
            c = parse(mutated, name).circuit
        except CotsimInputError as e:
            assert "\n" not in str(e) and str(e).startswith(name)
            continue
        survives_round_trip(c)
