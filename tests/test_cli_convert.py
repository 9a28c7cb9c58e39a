"""``cotsim convert`` and ``cotsim draw``: formats from extensions, ABC-checked
conversions, outputs never clobbered without --force, one-line errors, and no Numba."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from circuits import CircuitBuilder, load, save
from circuits.draw import DEFAULT_MAX_GATES, to_dot
from conftest import ABC, BENCHMARKS, REPO, needs_abc, needs_benchmarks, needs_dot
from cotsim.cli import main
from cotsim.commands import draw as draw_cmd

C17 = BENCHMARKS / "iscas85" / "c17.bench"
C432 = BENCHMARKS / "iscas85" / "c432.bench"


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def small_json(tmp_path):
    b = CircuitBuilder()
    x, y, z = b.inputs(["x", "y", "z"])
    b.output("maj", b.MAJ(x, y, z))
    b.output("t", b.THR([x, y, z], [2, -1, 1], 2))
    path = tmp_path / "small.json"
    save(b.build(), path)
    return path


def abc_equivalent(a, b) -> bool:
    p = subprocess.run([ABC, "-c", f"cec {a} {b}"], capture_output=True, text=True,
                       timeout=120)
    return "Networks are equivalent" in p.stdout


@needs_abc
@needs_benchmarks
@pytest.mark.parametrize("src", [C17, C432], ids=lambda p: p.name)
def test_conversions_are_equivalent_by_abc(capsys, tmp_path, src):
    j, bench, aig, blif = (tmp_path / f"x.{e}" for e in ("json", "bench", "aig", "blif"))
    assert cli(capsys, "convert", src, j) == (0, "", "")
    assert cli(capsys, "convert", j, bench) == (0, "", "")
    assert cli(capsys, "convert", bench, aig) == (0, "", "")
    assert cli(capsys, "convert", aig, blif) == (0, "", "")
    for f in (bench, aig, blif):
        assert abc_equivalent(src, f), f
    back = load(j)
    assert back == load(src) and back.input_names == load(src).input_names


@needs_benchmarks
def test_draw_dot_is_the_library_diagram(capsys, tmp_path):
    out = tmp_path / "c17.dot"
    assert cli(capsys, "draw", C17, "-o", out) == (0, "", "")
    assert out.read_text() == to_dot(load(C17), title="c17")
    out2 = tmp_path / "t.dot"
    assert cli(capsys, "draw", C17, "-o", out2, "--title", "T", "--max-gates", "2")[0] == 0
    assert out2.read_text() == to_dot(load(C17), title="T", max_gates=2)
    assert "summary per level (over --max-gates 2)" in out2.read_text()


@needs_dot
def test_draw_and_convert_write_svg(capsys, tmp_path):
    src = small_json(tmp_path)
    for cmd in (["draw", src, "-o", tmp_path / "a.svg"], ["convert", src, tmp_path / "b.svg"]):
        assert cli(capsys, *cmd) == (0, "", "")
    for name in ("a.svg", "b.svg"):
        assert (tmp_path / name).read_bytes().lstrip().startswith(b"<?xml")


def test_existing_output_is_never_touched_without_force(capsys, tmp_path):
    src = small_json(tmp_path)
    for cmd, out in ((["convert", src], tmp_path / "o.bench"),
                     (["draw", src, "-o"], tmp_path / "o.dot")):
        out.write_text("precious")
        os.utime(out, (1_000_000, 1_000_000))
        rc, so, err = cli(capsys, *cmd, out)
        assert rc == 2 and so == ""
        assert err.count("\n") == 1 and "--force" in err
        assert out.read_text() == "precious" and out.stat().st_mtime == 1_000_000
        assert cli(capsys, *cmd, out, "--force")[0] == 0
        assert out.read_text() != "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.bench", "o.dot", "small.json"]


def test_the_input_is_never_overwritten(capsys, tmp_path):
    src = small_json(tmp_path)
    before = src.read_bytes()
    rc, _, err = cli(capsys, "convert", src, src, "--force")
    assert rc == 2 and "input" in err
    assert src.read_bytes() == before


@pytest.mark.parametrize("argv,message", [
    (["convert", "{src}", "{tmp}/x.txt"], "unknown file format '.txt'"),
    (["convert", "{tmp}/x.v", "{tmp}/x.json"], "unknown file format '.v'"),
    (["convert", "{tmp}/none.bench", "{tmp}/x.json"], "no such file"),
    (["convert", "{src}", "{tmp}/no/such/folder/x.json"], "does not exist"),
    (["convert", "{tmp}/x.svg", "{tmp}/x.json"], "output-only"),
    (["draw", "{src}", "-o", "{tmp}/x.bench"], "draw writes .svg or .dot"),
    (["draw", "{src}", "-o", "{tmp}/x.png"], "unknown file format '.png'"),
    (["draw", "{src}", "-o", "{tmp}/x.dot", "--max-gates", "-3"], "--max-gates"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, tmp_path, argv, message):
    src = small_json(tmp_path)
    (tmp_path / "x.svg").write_text("<svg/>")
    argv = [a.format(src=src, tmp=tmp_path) for a in argv]
    rc, out, err = cli(capsys, *argv)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.json", "x.svg"]


def test_a_malformed_input_is_one_line(capsys, tmp_path):
    bad = tmp_path / "bad.bench"
    bad.write_text("INPUT(a)\nOUTPUT(y)\ny = AND(a, b)\n")
    for argv in (["convert", bad, tmp_path / "y.json"], ["draw", bad, "-o", tmp_path / "y.dot"]):
        rc, _, err = cli(capsys, *argv)
        assert rc == 2 and err.count("\n") == 1 and "bad.bench:3" in err, err


def test_draw_default_matches_the_library():
    assert draw_cmd.DEFAULT_MAX_GATES == DEFAULT_MAX_GATES


@pytest.mark.parametrize("command", ["convert", "draw"])
def test_convert_and_draw_do_not_import_numba(tmp_path, command):
    src = small_json(tmp_path)
    out = tmp_path / ("out.bench" if command == "convert" else "out.dot")
    args = [str(src), str(out)] if command == "convert" else [str(src), "-o", str(out)]
    code = ("import sys; from cotsim.cli import main; "
            f"rc = main([{command!r}] + {args!r}); "
            "assert rc == 0, rc; "
            "assert 'numba' not in sys.modules, 'numba was imported'; print('ok')")
    p = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0 and p.stdout == "ok\n", p.stderr
    assert out.exists()
