"""``cotsim model random|run|info`` through the CLI entry point."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_cli
from oracles.forward import undefined_at_position_one
from transformer_sim import FloatFormat, npz
from transformer_sim.cot import run_cot
from transformer_sim.errors import ModelUndefined
from transformer_sim.forward import next_token
from transformer_sim.random_model import random_model

ARGS = ["--vocab", "4", "--layers", "2", "--heads", "2", "--d-model", "6", "--d-ff", "5",
        "--max-len", "10", "--seed", "7"]


def cli(capsys, *argv):
    return run_cli(capsys, *argv)


@pytest.fixture
def model_file(tmp_path, capsys):
    path = tmp_path / "m.npz"
    code, out, err = cli(capsys, "model", "random", *ARGS, "--format", "bfloat16",
                         "-o", str(path))
    assert (code, out, err) == (0, "", "")
    return path


def test_random_writes_the_documented_model(model_file, tmp_path, capsys):
    want = random_model(vocab=4, layers=2, heads=2, d_model=6, d_ff=5, max_len=10,
                        fmt="bfloat16", sum_mode="iterative", seed=7)
    assert npz.load(model_file) == want
    other = tmp_path / "x.npz"
    assert cli(capsys, "model", "random", *ARGS, "--format", "paper:e=1,s=3", "--sum",
               "exact", "--d-head", "4", "-o", str(other))[0] == 0
    m = npz.load(other)
    assert (m.fmt.spec, m.sum_mode, m.d_head) == ("paper:e=1,s=3", "exact", 4)


def test_random_never_overwrites_without_force(model_file, capsys):
    before = model_file.read_bytes()
    code, out, err = cli(capsys, "model", "random", *ARGS, "--format", "float16",
                         "-o", str(model_file))
    assert code == 2 and "exists" in err and err.count("\n") == 1
    assert model_file.read_bytes() == before
    assert cli(capsys, "model", "random", *ARGS, "--format", "float16", "-o",
               str(model_file), "--force")[0] == 0
    assert npz.load(model_file).fmt.spec == "ieee:e=5,m=10"


def test_run_prints_next_tokens(model_file, capsys):
    model = npz.load(model_file)
    prompts = ["0,1,1,0", "3", "2,2,2,2,2,2,2,2,2,2", " 1, 0"]
    argv = ["model", "run", str(model_file)]
    for p in prompts:
        argv += ["--tokens", p]
    code, out, err = cli(capsys, *argv)
    want = [str(next_token(model, [int(t) for t in p.split(",")])) for p in prompts]
    assert (code, out.splitlines(), err) == (0, want, "")


def test_run_cot(model_file, capsys):
    model = npz.load(model_file)
    code, out, err = cli(capsys, "model", "run", str(model_file), "--tokens", "0,1",
                         "--tokens", "3,3,3", "--cot", "7")
    want = [",".join(map(str, run_cot(model, p, 7).tokens)) for p in ([0, 1], [3, 3, 3])]
    assert (code, out.splitlines(), err) == (0, want, "")
    assert all(len(line.split(",")) == 7 for line in out.splitlines())


def test_run_prints_undefined_and_carries_on(tmp_path, capsys):
    model = undefined_at_position_one()
    path = tmp_path / "u.npz"
    npz.save(model, path)
    with pytest.raises(ModelUndefined):
        next_token(model, [0, 1])
    code, out, err = cli(capsys, "model", "run", str(path), "--tokens", "0", "--tokens",
                         "0,1", "--tokens", "1")
    assert (code, out.splitlines(), err) == (0, ["1", "undefined", "1"], "")
    code, out, err = cli(capsys, "model", "run", str(path), "--tokens", "0", "--tokens",
                         "1,1", "--cot", "3")
    assert (code, out.splitlines()) == (0, ["1,undefined", "undefined"])


def test_run_tokens_file_is_one_batch(model_file, tmp_path, capsys):
    """--tokens-file: one prompt a line (lengths differ; blank lines and comments
    skipped), after the --tokens; the same lines as the one-prompt library calls, also
    with --cot and --json, and the next tokens vary over the prompts."""
    model = npz.load(model_file)
    rng = np.random.default_rng(5)
    prompts = [rng.integers(0, 4, size=int(rng.integers(1, 7))).tolist() for _ in range(30)]
    f = tmp_path / "prompts.txt"
    f.write_text("# prompts\n" + "\n".join(",".join(map(str, p)) for p in prompts[1:])
                 + "\n\n")
    argv = ["model", "run", str(model_file), "--tokens", ",".join(map(str, prompts[0])),
            "--tokens-file", str(f)]
    code, out, err = cli(capsys, *argv)
    want = [str(next_token(model, p)) for p in prompts]
    assert (code, out.splitlines(), err) == (0, want, "")
    assert len(set(want)) > 1
    code, out, err = cli(capsys, *argv, "--cot", "4", "--json")
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["tokens"] for r in records] == prompts
    assert [r["cot"] for r in records] == [list(run_cot(model, p, 4).tokens) for p in prompts]
    assert not any("undefined" in r for r in records)


@pytest.mark.parametrize("text, message", [
    ("0,1\n0,x\n", "prompts.txt:2: '0,x': 'x' is not a token id"),
    ("0,1\n\n1,9\n", "prompts.txt:3: token 9 at position 1 is outside the vocabulary"),
    ("0\n" + ",".join(["1"] * 11) + "\n", "prompts.txt:2: sequence of 11 tokens"),
])
def test_run_tokens_file_bad_line(model_file, tmp_path, capsys, text, message):
    f = tmp_path / "prompts.txt"
    f.write_text(text)
    code, out, err = cli(capsys, "model", "run", str(model_file), "--tokens-file", str(f))
    assert code == 2 and out == "" and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_info(model_file, capsys):
    code, out, err = cli(capsys, "model", "info", str(model_file), "--json")
    info = json.loads(out)
    assert code == 0 and info["format"] == "ieee:e=8,m=7" and info["d_head"] == 3
    assert info["params"] == npz.load(model_file).n_params
    code, out, err = cli(capsys, "model", "info", str(model_file))
    assert code == 0 and "layers.0.Wq" in out and "(2, 3, 6)" in out


@pytest.mark.parametrize("argv, message", [
    (["--tokens", "0,a"], "'a' is not a token id"),
    (["--tokens", "0,,1"], "an empty entry is not a token id"),
    (["--tokens", ""], "an empty entry is not a token id"),
    (["--tokens", "-1"], "'-1' is not a token id"),
    (["--tokens", "0,4"], "token 4 at position 1 is outside the vocabulary 0..3"),
    (["--tokens", ",".join(["1"] * 11)], "longer than max_len 10"),
    (["--tokens", "0,1,2", "--cot", "9"], "3 tokens + 8 fed-back CoT tokens = 11 positions"),
])
def test_run_bad_input(model_file, capsys, argv, message):
    code, out, err = cli(capsys, "model", "run", str(model_file), *argv)
    assert code == 2 and out == "" and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_input_one_line_exit_2(model_file, tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    arrays = {n: np.array(a) for n, a in npz.load(model_file).named_arrays().items()}
    arrays["layers.1.W1"] = np.zeros((5, 7))
    meta = np.array(json.dumps(npz.load(model_file).meta()))
    np.savez(bad, meta=meta, **arrays)
    cases = [
        (["model", "run", str(bad), "--tokens", "0"], "'layers.1.W1' has shape (5, 7)"),
        (["model", "info", str(bad)], "'layers.1.W1' has shape (5, 7)"),
        (["model", "run", str(tmp_path / "nope.npz"), "--tokens", "0"], "cannot read"),
        (["model", "random", *ARGS, "--format", "paper:e=1", "-o", str(tmp_path / "a.npz")],
         "paper:e=1"),
        (["model", "random", *ARGS, "--format", "float17", "-o", str(tmp_path / "a.npz")],
         "float17"),
        (["model", "random", *ARGS, "--format", "float16", "-o",
          str(tmp_path / "no" / "a.npz")], "does not exist"),
        (["model", "random", *ARGS[:-2], "--seed", "x", "--format", "float16", "-o",
          str(tmp_path / "a.npz")], "'x' is not an integer"),
        (["model", "run", str(model_file), "--tokens", "0", "--cot", "0"], "at least 1"),
        (["model", "run", str(model_file)], "--tokens"),
        (["model", "run", str(model_file), "--tokens-file", str(tmp_path / "none.txt")],
         "none.txt"),
    ]
    for argv, message in cases:
        code, out, err = cli(capsys, *argv)
        assert code == 2 and message in err and err.count("\n") == 1, (argv, err)
        assert "Traceback" not in err
    assert not (tmp_path / "a.npz").exists()


def test_run_in_another_format(model_file, capsys):
    """--format: the weights rounded to FMT and every operation in FMT, exactly what
    Model.in_format gives the library (checked against NumPy's float16 for the rounding
    of the weights)."""
    model = npz.load(model_file)
    low = model.in_format(FloatFormat.parse("float16"))
    assert np.array_equal(low.TE, model.TE.astype(np.float16).astype(np.float64))
    prompts = [[0, 1, 1, 2], [2, 2, 0], [1]]
    code, out, err = cli(capsys, "model", "run", str(model_file), "--format", "float16",
                         *[a for p in prompts for a in ("--tokens", ",".join(map(str, p)))])
    assert code == 0 and err == ""
    want = []
    for p in prompts:
        try:
            want.append(str(next_token(low, p)))
        except ModelUndefined:
            want.append("undefined")
    assert out.split() == want
    code, _, err = cli(capsys, "model", "run", str(model_file), "--format", "paper:e=9",
                       "--tokens", "0")
    assert code == 2 and err.count("\n") == 1 and "--format" in err


def test_float32_is_a_format_name():
    f = FloatFormat.parse("float32")
    x = np.random.default_rng(0).standard_normal(10 ** 5) * 1e3
    assert np.array_equal(f.round(x), x.astype(np.float32).astype(np.float64))
