"""Everyday-use interface of the CLI: word files for ``cot --automaton``, ``--json`` for
``eval`` and ``model run``, ``model`` alone, ``check`` quick by default, the check table
wrapped to the terminal, and progress bars only on a terminal."""
from __future__ import annotations

import io
import itertools
import json
import os
import pty
import subprocess
import sys

import numpy as np
import pytest
from oracles.forward import undefined_at_position_one

from cotsim.cli import build_parser
from proofs.tables import Table, render_text
from transformer_sim import npz
from transformer_sim.automata import s5
from transformer_sim.progress import progress_bar

from conftest import BENCHMARKS, needs_benchmarks, run_cli

PERMS5 = ["".join(p) for p in itertools.permutations("01234")]


def cli(capsys, *argv, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    return run_cli(capsys, *argv)


def s5_states(word: list[str]) -> list[str]:
    """Permutation composition in plain Python: reading g maps q to x -> g[q[x]]."""
    q, out = "01234", []
    for g in word:
        q = "".join(g[int(q[x])] for x in range(5))
        out.append(q)
    return out


def write_mixed(path, word: list[str], rng: np.random.Generator) -> None:
    """Symbols separated by commas, newlines, both, and blank lines."""
    parts = []
    for i, a in enumerate(word):
        parts.append(a)
        if i + 1 < len(word):
            parts.append([",", "\n", ",\n", "\n\n", " , "][int(rng.integers(0, 5))])
    path.write_text("".join(parts) + "\n")


# --- cot --automaton --word-file ------------------------------------------------------------

def test_word_file_equals_word(tmp_path, capsys):
    rng = np.random.default_rng(5)
    word = [PERMS5[i] for i in rng.integers(0, 120, 40)]
    f = tmp_path / "w.txt"
    write_mixed(f, word, rng)
    code, out, err = cli(capsys, "cot", "--automaton", "s5", "--word-file", str(f), "--json")
    assert (code, err) == (0, "")
    got = json.loads(out)
    assert got["states"] == s5_states(word) and got["agrees"] is True
    code, out2, _ = cli(capsys, "cot", "--automaton", "s5", "--word", ",".join(word),
                        "--json")
    assert out2 == out


def test_word_file_from_stdin(capsys, monkeypatch):
    code, out, err = cli(capsys, "cot", "--automaton", "modp:1009", "--word-file", "-",
                         "--json", stdin="1000\n1000,\n\n9\n", monkeypatch=monkeypatch)
    assert (code, err) == (0, "")
    assert json.loads(out)["states"] == [1000, 991, 1000]


@pytest.mark.parametrize("text, message", [
    ("1,0\n\n1,2\n", "w.txt:3: symbol '2' at position 4 is not in the alphabet of parity"),
    ("1,,0\n", "w.txt:1: an empty symbol at position 2"),
    ("\n \n", "w.txt: the word is empty"),
])
def test_word_file_errors_name_file_and_line(tmp_path, capsys, text, message):
    f = tmp_path / "w.txt"
    f.write_text(text)
    code, out, err = cli(capsys, "cot", "--automaton", "parity", "--word-file", str(f))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and message in err.replace(str(tmp_path) + os.sep, "")


@pytest.mark.parametrize("argv, message", [
    (["--automaton", "parity"], "one of --word W"),
    (["--automaton", "parity", "--word", "1", "--word-file", "x"], "one of --word W"),
    (["--automaton", "parity", "--word-file", "/nonexistent/w"], "/nonexistent/w: no such"),
])
def test_word_file_usage_errors(capsys, argv, message):
    code, out, err = cli(capsys, "cot", *argv)
    assert code == 2 and message in err and err.count("\n") == 1


def test_word_file_too_large_from_stdin(capsys, monkeypatch):
    from cotsim.commands import cot

    monkeypatch.setattr(cot, "MAX_WORD_FILE_BYTES", 100)
    code, _, err = cli(capsys, "cot", "--automaton", "parity", "--word-file", "-",
                       stdin="1,0\n" * 30, monkeypatch=monkeypatch)
    assert code == 2 and "<stdin>: more than 100 bytes" in err


def test_word_file_not_utf8(tmp_path, capsys):
    f = tmp_path / "w.bin"
    f.write_bytes(b"1,0\n\xff\n")
    code, _, err = cli(capsys, "cot", "--automaton", "parity", "--word-file", str(f))
    assert code == 2 and f"{f}:2: not text" in err


def test_sixty_thousand_symbol_word_file_parses(tmp_path):
    """60k S5 symbols (more than the shell's command line holds) in a mixed file."""
    from cotsim.commands.cot import _read_word_file

    rng = np.random.default_rng(60)
    word = [PERMS5[i] for i in rng.integers(0, 120, 60_000)]
    f = tmp_path / "w.txt"
    write_mixed(f, word, rng)
    assert list(_read_word_file(s5(), str(f))) == word


@pytest.mark.slow
def test_sixty_thousand_symbol_word_file_runs(tmp_path):
    """End to end through the CLI (about a minute)."""
    rng = np.random.default_rng(61)
    word = [PERMS5[i] for i in rng.integers(0, 120, 60_000)]
    f = tmp_path / "w.txt"
    write_mixed(f, word, rng)
    p = subprocess.run([sys.executable, "-m", "cotsim", "cot", "--automaton", "s5",
                        "--word-file", str(f), "--json"], capture_output=True, text=True)
    assert (p.returncode, p.stderr) == (0, "")
    got = json.loads(p.stdout)
    assert got["states"] == s5_states(word) and got["cot_steps"] == 60_000


# --- --json for eval and model run ------------------------------------------------------------

@needs_benchmarks
def test_eval_json(capsys, tmp_path):
    c17 = BENCHMARKS / "iscas85" / "c17.bench"
    f = tmp_path / "in.txt"
    f.write_text("# comment\n11111\n\n01010\n")
    code, plain, _ = cli(capsys, "eval", str(c17), "--input", "10101", "--inputs-file", str(f))
    code2, out, err = cli(capsys, "eval", str(c17), "--input", "10101", "--inputs-file",
                          str(f), "--json")
    assert (code, code2, err) == (0, 0, "")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["input"] for r in records] == ["10101", "11111", "01010"]
    assert [r["output"] for r in records] == plain.splitlines()
    assert all(set(r) == {"input", "output"} for r in records)


def test_model_run_json(tmp_path, capsys):
    path = tmp_path / "u.npz"
    npz.save(undefined_at_position_one(), path)
    code, plain, _ = cli(capsys, "model", "run", str(path), "--tokens", "0", "--tokens", "0,1")
    code2, out, err = cli(capsys, "model", "run", str(path), "--tokens", "0", "--tokens",
                          "0,1", "--json")
    assert (code, code2, err) == (0, 0, "")
    assert plain.splitlines() == ["1", "undefined"]
    assert [json.loads(x) for x in out.splitlines()] == [
        {"tokens": [0], "next": 1}, {"tokens": [0, 1], "next": None, "undefined": True}]
    code, out, _ = cli(capsys, "model", "run", str(path), "--tokens", "0", "--tokens", "1,1",
                       "--cot", "3", "--json")
    assert code == 0
    assert [json.loads(x) for x in out.splitlines()] == [
        {"tokens": [0], "cot": [1], "undefined": True},
        {"tokens": [1, 1], "cot": [], "undefined": True}]


def test_model_run_json_cot_defined(tmp_path, capsys):
    path = tmp_path / "m.npz"
    assert cli(capsys, "model", "random", "--vocab", "5", "--layers", "1", "--heads", "1",
               "--d-model", "4", "--d-ff", "4", "--max-len", "8", "--format", "float64",
               "--seed", "3", "-o", str(path))[0] == 0
    _, plain, _ = cli(capsys, "model", "run", str(path), "--tokens", "0,1", "--cot", "4")
    _, out, _ = cli(capsys, "model", "run", str(path), "--tokens", "0,1", "--cot", "4",
                    "--json")
    rec = json.loads(out)
    assert rec == {"tokens": [0, 1], "cot": [int(t) for t in plain.strip().split(",")]}


# --- model alone, check quick by default --------------------------------------------------------

def test_model_without_action_prints_model_help(capsys):
    code, out, err = cli(capsys, "model")
    assert (code, out) == (2, "")
    assert err.startswith("usage: cotsim model") and "random" in err and "info" in err
    assert "COMMAND" not in err  # not the top-level help


@pytest.mark.parametrize("argv, quick", [(["check"], True), (["check", "--quick"], True),
                                         (["check", "--full"], False),
                                         (["demo"], True), (["demo", "--full"], False)])
def test_check_and_demo_are_quick_by_default(argv, quick):
    assert build_parser().parse_args(argv).quick is quick


def test_check_quick_and_full_exclude_each_other(capsys):
    code, _, err = cli(capsys, "check", "--quick", "--full")
    assert code == 2 and "not allowed with" in err


# --- the check table on a terminal --------------------------------------------------------------

def test_reason_column_wraps_to_width():
    reason = ("every token agrees with the oracle at every word length; " * 5).strip()
    t = Table(("check", "verdict", "seconds", "reason"),
              [("regular_languages_by_cot", "holds", "1.5", reason), ("x", "fails", "0.1", "short")])
    lines = render_text(t, width=80).splitlines()
    assert max(map(len, lines)) <= 80 and len(lines) > 4
    words = " ".join(line[lines[0].index("reason"):].strip() for line in lines[2:-1])
    assert words == reason  # nothing lost, in order
    assert render_text(t) == render_text(t, width=10_000)  # no wrapping when it fits
    assert max(map(len, render_text(t).splitlines())) > 250


# --- progress bars ------------------------------------------------------------------------------

def test_progress_bar_only_when_asked_or_on_a_terminal(monkeypatch):
    assert not progress_bar(10_000, "x").enabled  # pytest's stderr is no terminal
    assert not progress_bar(10, "x", enabled=None).enabled
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    monkeypatch.setattr(buf, "isatty", lambda: True, raising=False)
    with progress_bar(1000, "cot") as bar:
        assert bar.enabled
        bar.set(500)
        bar.update(500)
    assert "cot" in buf.getvalue() and bar.done == 1000
    assert not progress_bar(100, "short").enabled  # below MIN_TOTAL


def _cot_cli(stderr, tmp_path) -> subprocess.Popen:
    f = tmp_path / "w.txt"
    f.write_text("\n".join("10"[i % 2] for i in range(3000)))
    return subprocess.Popen([sys.executable, "-m", "cotsim", "cot", "--automaton", "parity",
                             "--word-file", str(f), "--json"], stdout=subprocess.PIPE,
                            stderr=stderr)


def test_cot_shows_a_bar_on_a_terminal(tmp_path):
    master, slave = pty.openpty()
    p = _cot_cli(slave, tmp_path)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    out, _ = p.communicate()
    os.close(master)
    assert p.returncode == 0 and json.loads(out)["agrees"] is True
    assert b"cot:" in seen and b"/3000" in seen


def test_cot_has_no_bar_when_piped(tmp_path):
    p = _cot_cli(subprocess.PIPE, tmp_path)
    out, err = p.communicate()
    assert p.returncode == 0 and err == b""
