"""ISCAS ``.bench``: figures against SOURCES.md, round trips, ABC equivalence, bad input."""
from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from circuits import CircuitBuilder, CotsimInputError, Kind, ParseError
from circuits import bench, blif
from circuits.io import load
from cotsim.cli import main
from conftest import (ABC, BENCHMARKS, EPFL_BLIF, ISCAS, ISCAS_UPPER, REPO, bench_id,
                            needs_abc, needs_benchmarks)
from oracles.circuit_cases import named_circuits
from oracles.equivalence import abc_cec
from oracles.gates import all_vectors, reference_evaluate, same_function

# Copied from SOURCES.md, section 2 (the published ISCAS-85 figures, checked there against
# Bryan 1988 and Hansen/Yalcin/Hayes 1999): PIs, POs, gates, depth, max fan-in, gate mix.
ISCAS_TABLE = {
    "c17": (5, 2, 6, 3, 2, "nand 6"),
    "c432": (36, 7, 160, 17, 9, "and 4, nand 79, nor 19, not 40, xor 18"),
    "c499": (41, 32, 202, 11, 5, "and 56, not 40, or 2, xor 104"),
    "c880": (60, 26, 383, 24, 4, "and 117, buf 26, nand 87, nor 61, not 63, or 29"),
    "c1355": (41, 32, 546, 24, 5, "and 56, buf 32, nand 416, not 40, or 2"),
    "c1908": (33, 25, 880, 40, 8, "and 63, buf 162, nand 377, nor 1, not 277"),
    "c2670": (233, 140, 1193, 32, 5, "and 333, buf 196, nand 254, nor 12, not 321, or 77"),
    "c3540": (50, 22, 1669, 47, 8, "and 498, buf 223, nand 298, nor 68, not 490, or 92"),
    "c5315": (178, 123, 2307, 49, 9, "and 718, buf 313, nand 454, nor 27, not 581, or 214"),
    "c6288": (32, 32, 2416, 124, 2, "and 256, nor 2128, not 32"),
    "c7552": (207, 108, 3512, 43, 5, "and 776, buf 534, nand 1028, nor 54, not 876, or 244"),
}
ISCAS_UPPER_TABLE = {
    "c17": (5, 2, 6, 3, 2, "nand 6"),
    "c432": (36, 7, 160, 17, 9, "and 4, nand 79, nor 19, not 40, xor 18"),
    "c499": (41, 32, 202, 11, 5, "and 56, not 40, or 2, xor 104"),
    "c880": (60, 26, 383, 24, 4, "and 117, buff 26, nand 87, nor 61, not 63, or 29"),
    "c1908": (33, 25, 880, 40, 8, "and 63, buff 162, nand 377, nor 1, not 277"),
    "c2670": (233, 140, 1269, 32, 5, "and 333, buff 272, nand 254, nor 12, not 321, or 77"),
    "c3540": (50, 22, 1669, 47, 8, "and 498, buff 223, nand 298, nor 68, not 490, or 92"),
    "c5315": (178, 123, 2307, 49, 9, "and 718, buff 313, nand 454, nor 27, not 581, or 214"),
    "c6288": (32, 32, 2416, 124, 2, "and 256, nor 2128, not 32"),
    "c7552": (207, 108, 3513, 43, 5, "and 776, buff 535, nand 1028, nor 54, not 876, or 244"),
}
ALL_ISCAS = ISCAS + ISCAS_UPPER


def _mix(text: str) -> dict[str, int]:
    mix = {}
    for part in text.split(","):
        kind, count = part.split()
        mix[{"buff": "BUF"}.get(kind, kind.upper())] = int(count)
    return mix


def cli_json(capsys, *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


@needs_benchmarks
def test_every_table_row_has_a_file():
    assert sorted(p.stem for p in ISCAS) == sorted(ISCAS_TABLE)
    assert sorted(p.stem for p in ISCAS_UPPER) == sorted(ISCAS_UPPER_TABLE)


@needs_benchmarks
@pytest.mark.parametrize("path", ALL_ISCAS, ids=bench_id)
def test_stats_match_sources(path: Path, capsys):
    table = ISCAS_UPPER_TABLE if path.parent.name == "variant_uppercase" else ISCAS_TABLE
    pis, pos, gates, depth, fanin, mix = table[path.stem]
    got = cli_json(capsys, "stats", str(path), "--json")
    assert (got["inputs"], got["outputs"], got["gates"], got["depth"], got["max_fanin"]) \
        == (pis, pos, gates, depth, fanin)
    assert got["kinds"] == _mix(mix)


@needs_benchmarks
def test_console_script_and_no_numba(tmp_path: Path):
    exe = REPO / ".venv" / "bin" / "cotsim"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "cotsim"]
    for path in (BENCHMARKS / "iscas85" / "c17.bench",
                 BENCHMARKS / "iscas85" / "variant_uppercase" / "c17.bench"):
        out = subprocess.run(cmd + ["stats", str(path), "--json"], capture_output=True,
                             text=True, check=True).stdout
        assert {k: json.loads(out)[k] for k in ("inputs", "outputs", "gates", "depth")} == \
            {"inputs": 5, "outputs": 2, "gates": 6, "depth": 3}
    # Reading and writing both formats must not import Numba (start-up time).
    code = ("import sys; from circuits import load, save; c = load(sys.argv[1]); "
            "save(c, sys.argv[2]); save(c, sys.argv[3]); load(sys.argv[3]); "
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(ISCAS[0]), str(tmp_path / "x.bench"),
                          str(tmp_path / "x.blif")], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip() == "False", out.stderr


@needs_benchmarks
def test_both_spellings_agree_on_c17():
    a = load(BENCHMARKS / "iscas85" / "c17.bench")
    b = load(BENCHMARKS / "iscas85" / "variant_uppercase" / "c17.bench")
    X = np.array(list(itertools.product([0, 1], repeat=5)), dtype=bool)
    assert (reference_evaluate(a, X) == reference_evaluate(b, X)).all()


def test_c17_function_by_hand():
    # c17 from its netlist: y22 = ~(~(1&3) & ~(2&~(3&6))), y23 = ~(~(2&~(3&6)) & ~(~(3&6)&7)).
    c = load(BENCHMARKS / "iscas85" / "c17.bench")
    for bits in itertools.product([0, 1], repeat=5):
        g1, g2, g3, g6, g7 = bits
        n11 = 1 - (g3 & g6)
        n16 = 1 - (g2 & n11)
        y22 = 1 - ((1 - (g1 & g3)) & n16)
        y23 = 1 - (n16 & (1 - (n11 & g7)))
        got = reference_evaluate(c, np.array([bits], dtype=bool))[0]
        assert got.tolist() == [bool(y22), bool(y23)]


# -- round trips -------------------------------------------------------------------------

@needs_benchmarks
@pytest.mark.parametrize("path", ALL_ISCAS, ids=bench_id)
def test_benchmark_round_trip_is_exact(path: Path):
    c = load(path)
    for dialect in ("abc", "cotsim"):
        back = bench.parse(bench.dump(c, dialect=dialect), "rt.bench").circuit
        assert back == c  # kinds, fan-ins, interface names and order
        assert back.node_names == c.node_names
    again = bench.dump(bench.parse(bench.dump(c), "rt.bench").circuit)
    assert again == bench.dump(c)  # deterministic, a fixed point


@given(named_circuits())
def test_random_circuit_round_trip(c):
    for dialect in ("abc", "cotsim"):
        back = bench.parse(bench.dump(c, dialect=dialect), "rt.bench").circuit
        assert same_function(c, back)
    back = bench.parse(bench.dump(c, dialect="cotsim"), "rt.bench").circuit
    # The cotsim dialect writes one line per gate; only outputs that cannot name their
    # driver get a buffer, and nothing else changes.
    _, buffers = bench.signal_names(c, bench.valid_name, ".bench")
    assert back.size == c.size + len(buffers)
    abc = bench.parse(bench.dump(c), "rt.bench").circuit
    assert all(len(abc.fanins(i)) == 2 for i in range(abc.num_nodes)
               if abc.kind(i) in (Kind.XOR, Kind.XNOR))
    assert not {Kind.MAJ, Kind.THR} & {abc.kind(i) for i in range(abc.num_nodes)}


@given(st.lists(st.integers(-6, 6), min_size=1, max_size=6), st.integers(-20, 20))
def test_threshold_lowering_is_exact(weights, t):
    b = CircuitBuilder(strash=False, fold=False)
    xs = b.inputs([f"x{i}" for i in range(len(weights))])
    b.output("y", b.gate(Kind.THR, xs, weights, t))
    b.output("m", b.gate(Kind.MAJ, xs))
    c = b.build()
    low = bench.lower(c, xor_max=2, thr_max=0)
    X = all_vectors(len(weights))
    want = [(X.astype(int) @ np.array(weights) >= t),
            (2 * X.sum(axis=1) >= len(weights))]  # NumPy, straight from the definitions
    got = reference_evaluate(low, X)
    assert (got[:, 0] == want[0]).all() and (got[:, 1] == want[1]).all()


def test_extension_syntax_reads_back():
    text = (b"INPUT(a)\nINPUT(b)\nINPUT(c)\nOUTPUT(t)\nOUTPUT(m)\nOUTPUT(one)\nOUTPUT(zero)\n"
            b"OUTPUT(x)\nt = THR(2; a:1, b:-1, c:2)\nm = maj(a, b, c)\none = vdd\n"
            b"zero = CONST0()\nx = xnor(a, b, c)\n")
    c = bench.parse(text, "ext.bench").circuit
    X = all_vectors(3)
    a, b_, c_ = X[:, 0].astype(int), X[:, 1].astype(int), X[:, 2].astype(int)
    want = np.stack([a - b_ + 2 * c_ >= 2, a + b_ + c_ >= 2, np.ones(8, bool),
                     np.zeros(8, bool), (a + b_ + c_) % 2 == 0], axis=1)
    assert (reference_evaluate(c, X) == want).all()
    assert b"THR(2; a:1, b:-1, c:2)" in bench.dump(c, dialect="cotsim")


def test_writer_refuses_what_bench_cannot_say():
    b = CircuitBuilder(strash=False, fold=False)
    a, _ = b.inputs(["a", "a"])
    b.output("y", a)
    with pytest.raises(CotsimInputError, match="two inputs"):
        bench.dump(b.build())
    b = CircuitBuilder(strash=False, fold=False)
    a, c = b.inputs(["a", "c"])
    b.output("a", b.NOT(a))
    with pytest.raises(CotsimInputError, match="name of an input"):
        bench.dump(b.build())
    b = CircuitBuilder(strash=False, fold=False)
    a, c = b.inputs(["a", "c"])
    b.output("y", a)
    b.output("y", c)
    with pytest.raises(CotsimInputError, match="two different outputs"):
        bench.dump(b.build())
    b = CircuitBuilder(strash=False, fold=False)
    b.inputs(["a b"])
    b.output("y", 0)
    with pytest.raises(CotsimInputError, match="cannot be written"):
        bench.dump(b.build())
    with pytest.raises(CotsimInputError, match="dialect"):
        bench.dump(b.build(), dialect="verilog")


# -- ABC equivalence ---------------------------------------------------------------------

@needs_abc
@needs_benchmarks
@pytest.mark.parametrize("path", ALL_ISCAS + EPFL_BLIF, ids=bench_id)
def test_abc_proves_bench_writer(path: Path, tmp_path: Path):
    out = tmp_path / (path.stem + ".bench")
    out.write_bytes(bench.dump(load(path)))
    assert "Networks are equivalent" in abc_cec(path, out)


@needs_abc
@needs_benchmarks
def test_abc_sees_a_broken_copy(tmp_path: Path):
    """The check above can fail: one changed gate is caught."""
    path = BENCHMARKS / "iscas85" / "c432.bench"
    text = bench.dump(load(path)).decode()
    out = tmp_path / "broken.bench"
    out.write_text(text.replace("= NAND(", "= AND(", 1))
    assert "NOT EQUIVALENT" in abc_cec(path, out)


def truth_table_blif(c, path: Path) -> None:
    """An independent oracle file: one minterm cover per output, from the reference
    evaluator (written by hand here, not by cotsim's writer)."""
    X = all_vectors(c.num_inputs)
    Y = reference_evaluate(c, X)
    lines = [".model tt", ".inputs " + " ".join(c.input_names),
             ".outputs " + " ".join(c.output_names)]
    done = set(c.input_names)
    for j, name in enumerate(c.output_names):
        if name in done:
            continue
        done.add(name)
        rows = ["".join("1" if v else "0" for v in X[r]) + (" 1" if c.num_inputs else "1")
                for r in range(len(X)) if Y[r, j]]
        lines.append(f".names {' '.join(c.input_names) if rows else ''} {name}")
        lines += rows
    # ABC's BLIF reader aborts on a file without any .names: add an unused constant.
    path.write_text("\n".join(lines + [".names tt_unused", ".end"]) + "\n")


@needs_abc
@settings(max_examples=25)
@given(named_circuits(min_inputs=1))
def test_abc_proves_random_circuits(tmp_path_factory, c):
    assume(c.num_nodes > c.num_inputs)  # the same ABC abort, see truth_table_blif
    tmp = tmp_path_factory.mktemp("abc")
    truth_table_blif(c, tmp / "tt.blif")
    (tmp / "c.bench").write_bytes(bench.dump(c))
    (tmp / "c.blif").write_bytes(blif.dump(c))
    for name in ("c.bench", "c.blif"):
        report = abc_cec(tmp / "tt.blif", tmp / name)
        assert "Networks are equivalent" in report, report


# -- bad input ---------------------------------------------------------------------------

HEAD = "INPUT(a)\nINPUT(b)\nOUTPUT(y)\n"
BAD = [  # (text, line, words in the message)
    (HEAD + "y = AND(a, b\n", 4, "cannot read"),
    (HEAD + "y = AND(a, b) junk\n", 4, "cannot read"),
    (HEAD + "y AND(a, b)\n", 4, "cannot read"),
    (HEAD + "y = FOO(a, b)\n", 4, "unknown gate"),
    (HEAD + "y = NOT(a, b)\n", 4, "exactly 1 input"),
    (HEAD + "y = AND()\n", 4, "at least 1 input"),
    (HEAD + "y = AND(a, , b)\n", 4, "fan-in"),
    (HEAD + "y = AND(a, q)\n", 4, "never defined"),
    (HEAD + "y = AND(a, b)\ny = OR(a, b)\n", 5, "defined twice"),
    (HEAD + "a = NOT(b)\ny = AND(a, b)\n", 4, "primary input"),
    (HEAD + "y = AND(a, z)\nz = OR(y, b)\n", 4, "cycle"),
    (HEAD + "y = DFF(a)\n", 4, "sequential"),
    (HEAD + "y = THR(a:1, b:1)\n", 4, "THR"),
    (HEAD + "y = THR(x; a:1, b:1)\n", 4, "threshold"),
    (HEAD + "y = THR(1; a, b:1)\n", 4, "signal:weight"),
    (HEAD + "y = THR(1; a:99999999999999999999)\n", 4,
     "THR weight of 'a' 99999999999999999999 is over the limit: |weights| + |threshold| "
     "of a THR gate must stay below 2^61"),
    ("INPUT(a)\nINPUT(a)\nOUTPUT(a)\n", 2, "declared twice"),
    ("INPUT(a)\nOUTPUT(q)\n", 2, "never defined"),
    ("", 1, "no OUTPUT"),
    ("# only a comment\nINPUT(a)\n", 2, "no OUTPUT"),
    (HEAD + "y = AND(a, b)\n\xff\n", 5, "UTF-8"),
]


@pytest.mark.parametrize("text, line, words", BAD)
def test_bad_input_names_file_and_line(text: str, line: int, words: str):
    data = text.encode("latin-1")
    with pytest.raises(ParseError) as err:
        bench.parse(data, "bad.bench")
    assert str(err.value).startswith(f"bad.bench:{line}: "), str(err.value)
    assert words in str(err.value)
    assert "\n" not in str(err.value)


def test_crlf_and_case_are_accepted():
    text = b"input(a)\r\nInput(b)\r\noutput(y)\r\ny = Nand(a, b)  # comment\r\n"
    c = bench.parse(text, "x.bench").circuit
    assert c.input_names == ("a", "b") and c.kind(2) == Kind.NAND


def test_cli_bad_file_one_line_exit_2(tmp_path: Path, capsys):
    bad = tmp_path / "bad.bench"
    bad.write_text(HEAD + "y = NOT(a, b)\n")
    assert main(["stats", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}:4:" in err and "Traceback" not in err
    exe = REPO / ".venv" / "bin" / "cotsim"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "cotsim"]
    run = subprocess.run(cmd + ["stats", str(bad)], capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert "Traceback" not in run.stderr
