"""``cotsim compile``: figures, files, --verify, --draw, --cot, refusals and exit codes."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from circuits.analysis import stats
from circuits.io import load
from conftest import needs_dot
from cotsim.cli import main
from transformer_sim.npz import save as save_model
from transformer_sim.random_model import random_model

KEYS = {"size", "depth", "max_fanin", "max_abs_weight", "inputs", "outputs"}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    m = random_model(3, 1, 1, 2, 2, 16, "paper:e=1,s=1", "exact", seed=3, check_prompts=4)
    save_model(m, folder / "m.npz")
    wide = random_model(2, 1, 1, 2, 2, 16, "float16", "iterative", seed=0, check_prompts=0)
    save_model(wide, folder / "wide.npz")
    return folder


def run(argv, capsys):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse's usage errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_compile_json_and_file(model_path, tmp_path, capsys):
    out_file = tmp_path / "c.json"
    code, out, err = run(["compile", model_path / "m.npz", "--seq-len", 4, "-o", out_file,
                          "--json"], capsys)
    assert code == 0 and err == ""
    figs = json.loads(out)
    assert KEYS <= set(figs)
    assert figs["inputs"] == 4 * 2 and figs["outputs"] == 3 and figs["sum"] == "exact"
    s = stats(load(out_file))  # the file holds the circuit the figures describe
    assert (s["gates"], s["depth"], s["max_fanin"]) == (figs["size"], figs["depth"],
                                                        figs["max_fanin"])
    # never overwritten without --force; the file is untouched
    before = out_file.read_bytes()
    code, _, err = run(["compile", model_path / "m.npz", "--seq-len", 5, "-o", out_file],
                       capsys)
    assert code == 2 and "--force" in err and err.count("\n") == 1
    assert out_file.read_bytes() == before
    code, _, _ = run(["compile", model_path / "m.npz", "--seq-len", 5, "-o", out_file,
                      "--force", "--sum", "iterative"], capsys)
    assert code == 0 and load(out_file).num_inputs == 10


def test_verify_and_cot(model_path, tmp_path, capsys):
    code, out, _ = run(["compile", model_path / "m.npz", "--seq-len", 3, "-o",
                        tmp_path / "c.blif", "--json", "--verify"], capsys)
    figs = json.loads(out)
    assert code == 0 and figs["verify"]["agrees"] and figs["verify"]["checked"] == 27
    code, out, _ = run(["compile", model_path / "m.npz", "--seq-len", 2, "--cot", 3, "-o",
                        tmp_path / "chain.json", "--json", "--verify"], capsys)
    figs = json.loads(out)
    assert code == 0 and figs["verify"]["agrees"] and figs["outputs"] == 3 * 2 + 1


def test_wide_format_refused(model_path, tmp_path, capsys):
    code, _, err = run(["compile", model_path / "wide.npz", "--seq-len", 8, "-o",
                        tmp_path / "w.json", "--json"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "paper formats only" in err  # IEEE: refused as such, before any estimate
    assert not (tmp_path / "w.json").exists()
    code, _, err = run(["compile", model_path / "m.npz", "--seq-len", 8, "-o",
                        tmp_path / "b.json", "--budget", "10"], capsys)
    assert code == 2 and "budget of 10 gates" in err


@pytest.mark.parametrize("argv, message", [
    (["--seq-len", "17"], "max_len 16"),
    (["--seq-len", "0"], "at least 1"),
    (["--seq-len", "2", "--sum", "fast"], "invalid choice"),
    (["--seq-len", "2", "--draw", "x.png"], "expected a .svg or .dot"),
])
def test_bad_arguments(model_path, tmp_path, capsys, argv, message):
    code, _, err = run(["compile", model_path / "m.npz", "-o", tmp_path / "x.json", *argv],
                       capsys)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "x.json").exists()


def test_missing_model_and_bad_output(tmp_path, model_path, capsys):
    code, _, err = run(["compile", tmp_path / "nope.npz", "--seq-len", 2, "-o",
                        tmp_path / "x.json"], capsys)
    assert code == 2 and "no such file" in err.lower()
    code, _, err = run(["compile", model_path / "m.npz", "--seq-len", 2, "-o",
                        tmp_path / "x.txt"], capsys)
    assert code == 2 and "unknown file format" in err


@needs_dot
def test_draw(model_path, tmp_path, capsys):
    code, _, _ = run(["compile", model_path / "m.npz", "--seq-len", 3, "-o",
                      tmp_path / "c.json", "--draw", tmp_path / "c.svg"], capsys)
    assert code == 0
    svg = (tmp_path / "c.svg").read_text()
    assert svg.lstrip().startswith("<?xml") or "<svg" in svg[:500]
    assert "layer0" in svg  # clustered by origin tag


def test_help_does_not_import_numba():
    code = ("import sys\nfrom cotsim.cli import main\ntry:\n    main(['compile', '--help'])\n"
            "except SystemExit:\n    pass\nprint('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip().endswith("False")
