"""experiments.agreement: a trained model's tokens, JAX against the simulator (issue 15).

The two compute the same decoder with the same stable softmax in different summation
orders, so they may differ only at near ties. A tiny model trained here must agree on
every position of every held-out prompt, and the comparison must be able to see a
disagreement (a JAX forward pass with one logit pair swapped)."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("jax")

from conftest import run_cli  # noqa: E402
from experiments import agreement as A  # noqa: E402
from experiments import model_jax  # noqa: E402
from experiments.train import train  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("agree") / "run"
    train("modadd:3", "cot", 3, 2, d_model=16, heads=2, d_ff=16, steps=60, batch=32,
          out_dir=out, progress=False, eval_samples=16)
    return out / "model.npz"


def test_a_trained_model_agrees_token_for_token(tiny):
    r = A.agreement(tiny, "modadd:3", "cot", 3, samples=200, seed=4)
    assert r["samples"] == 200 and r["positions"] == 3 + 1 + 2  # prompt, then c_1, c_2
    assert r["distinct_tokens"] > 1  # the greedy token varies: agreement is not trivial
    assert r["teacher_forced_agree"] == 1.0 and r["token_disagreements"] == 0
    assert r["free_running_agree"] == 1.0 and r["near_ties"] == [] and r["undefined"] == 0


def test_a_disagreement_is_seen_and_reported(tiny, monkeypatch):
    forward = model_jax.forward

    def swapped(params, tokens):  # JAX's logits with the top two swapped at (0, 1)
        import jax.numpy as jnp

        lg = forward(params, tokens)
        top = jnp.argsort(lg[0, 1])[-2:]
        return lg.at[0, 1, top].set(lg[0, 1, top[::-1]])

    monkeypatch.setattr(model_jax, "forward", swapped)
    r = A.agreement(tiny, "modadd:3", "cot", 3, samples=50, seed=4)
    assert r["token_disagreements"] == 1 and r["teacher_forced_agree"] == 1 - 1 / 50
    (tie,) = r["near_ties"]
    assert (tie["instance"], tie["position"]) == (0, 1) and tie["jax"] != tie["simulator"]
    assert tie["simulator_gap_ulps"] > 0


def test_gap_in_ulps():
    one = float(np.spacing(np.float32(4.0)))
    assert A._gap_ulps(np.array([1.0, 4.0, 4.0 - 3 * one])) == 3.0
    assert A._gap_ulps(np.array([2.0, 2.0])) == 0.0


def test_cli(tiny, capsys):
    code, out, err = run_cli(capsys, "experiment", "agree", tiny, "--task", "modadd:3",
                             "--setting", "cot", "--n", "3", "--samples", "40", "--json")
    assert code == 0, err
    assert json.loads(out)["teacher_forced_agree"] == 1.0
    code, _, err = run_cli(capsys, "experiment", "agree", tiny, "--task", "s5",
                           "--setting", "cot", "--n", "3")
    assert code == 2 and err.count("\n") == 1 and "vocabulary" in err
    code, _, err = run_cli(capsys, "experiment", "agree", tiny, "--task", "modadd:3",
                           "--setting", "cot", "--n", "3", "--min-agree", "2")
    assert code == 2 and "--min-agree" in err
