"""``cotsim eval``: output against the reference evaluator, bit order, inputs files, errors."""
from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from circuits import CircuitBuilder, Kind, load, save
from cotsim.cli import main
from conftest import BENCHMARKS, REPO
from oracles.gates import reference_evaluate

C17 = BENCHMARKS / "iscas85" / "c17.bench"
needs_c17 = pytest.mark.skipif(not C17.exists(), reason=f"no {C17}")


def run_eval(capsys, *argv: str) -> tuple[int, list[str], str]:
    code = main(["eval", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def bits(row) -> str:
    return "".join("1" if v else "0" for v in row)


def expected_lines(circuit, vectors: list[str]) -> list[str]:
    X = np.array([[ch == "1" for ch in v] for v in vectors], dtype=bool)
    X = X.reshape(len(vectors), circuit.num_inputs)
    return [bits(r) for r in reference_evaluate(circuit, X)]


@pytest.fixture
def tc0_json(tmp_path: Path) -> Path:
    """A small circuit of every kind, MAJ and THR included, saved as JSON."""
    b = CircuitBuilder(strash=False, fold=False)
    a, c, d, e = b.inputs(["a", "c", "d", "e"])
    one = b.const(1)
    m = b.MAJ(a, c, d, e)
    t = b.THR([a, c, d, one], [3, -2, 1, -1], 1)
    x = b.gate(Kind.XNOR, [m, t, e])
    n = b.gate(Kind.NOR, [a, x])
    b.output("n", n)
    b.output("m", m)
    b.output("c_again", c)
    b.output("t", t)
    path = tmp_path / "tc0.json"
    save(b.build(), path)
    return path


def test_every_vector_against_reference(capsys, tc0_json):
    circuit = load(tc0_json)
    vectors = ["".join(p) for p in itertools.product("01", repeat=circuit.num_inputs)]
    code, lines, err = run_eval(capsys, tc0_json, *itertools.chain.from_iterable(
        ("--input", v) for v in vectors))
    assert (code, err) == (0, "")
    assert lines == expected_lines(circuit, vectors)


@needs_c17
def test_c17_inputs_file_with_comments_and_blank_lines(capsys, tmp_path):
    circuit = load(C17)
    vectors = ["".join(p) for p in itertools.product("01", repeat=5)]
    f = tmp_path / "in.txt"
    f.write_text("# all 32 vectors of c17\n\n" + "\n".join(f"  {v}  " for v in vectors)
                 + "\n\n# end\n")
    code, lines, err = run_eval(capsys, C17, "--inputs-file", f)
    assert (code, err) == (0, "")
    assert lines == expected_lines(circuit, vectors)


def test_bit_order_is_file_order(capsys, tmp_path):
    # inputs declared b, a; outputs declared z, y: character i is input i, and the
    # printed bits follow the OUTPUT lines
    f = tmp_path / "order.bench"
    f.write_text("INPUT(b)\nINPUT(a)\nOUTPUT(z)\nOUTPUT(y)\n"
                 "y = BUF(a)\nz = AND(a, w)\nw = NOT(b)\n")
    circuit = load(f)
    assert circuit.input_names == ("b", "a") and circuit.output_names == ("z", "y")
    code, lines, _ = run_eval(capsys, f, "--input", "01", "--input", "10", "--input", "11")
    assert code == 0
    # "01": b=0, a=1 -> z = a AND NOT b = 1, y = a = 1
    assert lines == ["11", "00", "01"]
    assert lines == expected_lines(circuit, ["01", "10", "11"])


def test_inputs_then_file_in_order_and_stdin(capsys, tc0_json, tmp_path, monkeypatch):
    import io

    circuit = load(tc0_json)
    f = tmp_path / "in.txt"
    f.write_text("1111\n0000\n")
    code, lines, _ = run_eval(capsys, tc0_json, "--input", "1010", "--inputs-file", f,
                              "--input", "0101")
    assert code == 0
    assert lines == expected_lines(circuit, ["1010", "0101", "1111", "0000"])

    stdin = io.TextIOWrapper(io.BytesIO(b"0110\n# skip\n1001\n"))
    monkeypatch.setattr(sys, "stdin", stdin)
    code, lines, _ = run_eval(capsys, tc0_json, "--inputs-file", "-")
    assert code == 0 and lines == expected_lines(circuit, ["0110", "1001"])


def test_zero_input_and_zero_output_circuits(capsys, tmp_path):
    b = CircuitBuilder(strash=False, fold=False)
    b.output("one", b.const(1))
    b.output("zero", b.const(0))
    p = tmp_path / "k.json"
    save(b.build(), p)
    code, lines, _ = run_eval(capsys, p, "--input", "")
    assert (code, lines) == (0, ["10"])

    b = CircuitBuilder()
    b.inputs(["a", "b"])
    p = tmp_path / "none.json"
    save(b.build(), p)
    code, lines, _ = run_eval(capsys, p, "--input", "01", "--input", "11")
    assert (code, lines) == (0, ["", ""])


@pytest.mark.parametrize("args, where", [
    (["--input", "1010", "--input", "101"], "--input #2"),
    (["--input", "10a0"], "--input #1"),
    (["--input", "10 10"], "--input #1"),
    ([], "--input BITS or --inputs-file"),
])
def test_bad_bit_strings(capsys, tc0_json, args, where):
    code, lines, err = run_eval(capsys, tc0_json, *args)
    assert code == 2 and lines == []
    assert err.count("\n") == 1 and where in err and "Traceback" not in err


def test_bad_line_in_inputs_file_names_file_and_line(capsys, tc0_json, tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("# header\n1010\n\n10102\n")
    code, lines, err = run_eval(capsys, tc0_json, "--inputs-file", f)
    assert code == 2 and lines == []
    assert err.count("\n") == 1 and f"{f}:4:" in err and "5" in err
    assert f.read_text() == "# header\n1010\n\n10102\n"  # never modified


def test_missing_files(capsys, tc0_json, tmp_path):
    code, _, err = run_eval(capsys, tmp_path / "nope.bench", "--input", "1")
    assert code == 2 and "no such file" in err and err.count("\n") == 1
    code, _, err = run_eval(capsys, tc0_json, "--inputs-file", tmp_path / "nope.txt")
    assert code == 2 and "no such file" in err and err.count("\n") == 1


def test_console_script_end_to_end(tc0_json):
    """The installed entry point, as scripts call it: stdout lines, exit codes."""
    exe = Path(sys.executable).with_name("cotsim")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "cotsim"]
    ok = subprocess.run(cmd + ["eval", str(tc0_json), "--input", "1100", "--input", "0011"],
                        cwd=REPO, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stderr == ""
    assert ok.stdout.splitlines() == expected_lines(load(tc0_json), ["1100", "0011"])
    bad = subprocess.run(cmd + ["eval", str(tc0_json), "--input", "11"], cwd=REPO,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "--input #1" in bad.stderr
