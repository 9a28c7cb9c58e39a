"""The paper's experiments: task oracles and encodings, the JAX model against the
simulator, deterministic and resumable training, finite-precision evaluation, and the
CLI's bad-input cases. Every model here is tiny and trains for a few steps: the cost is
JAX's compilation, done once per shape (the training step is cached per configuration).
"""
from __future__ import annotations

import itertools
import json
import os
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("jax")  # the `experiments` extra; CI installs it with `.[test]`

from circuits import CircuitBuilder  # noqa: E402
from circuits import evaluate as circuit_eval  # noqa: E402
from circuits.errors import CotsimInputError  # noqa: E402
from cotsim.cli import main  # noqa: E402
from experiments import tasks as T  # noqa: E402
from experiments.evaluate import _teacher_forced_tokens, evaluate, in_format  # noqa: E402
from experiments.tasks import MAX_N, parse_task  # noqa: E402
from experiments.train import TrainingDiverged, train  # noqa: E402
from transformer_sim import FloatFormat  # noqa: E402
from transformer_sim.npz import load  # noqa: E402

PERMS = list(itertools.permutations(range(5)))  # lexicographic, as the encoding says


# --- tasks: encodings and oracles ---------------------------------------------------
def test_parse_task_and_vocabularies():
    assert parse_task("modadd:7").sep == 7 and parse_task("modadd:7").vocab == 8
    assert parse_task("s5").sep == 120 and parse_task("s5").vocab == 121
    sq = parse_task("sqmod:11")
    assert (sq.n_symbols, sq.sep, sq.vocab) == (12, 12, 13)
    isq = parse_task("isq:64")  # numbers 0..63, "^2" 64, "=" 65
    assert (isq.n_symbols, isq.sep, isq.vocab, isq.prompt_len(8)) == (65, 65, 66, 10)
    assert parse_task("isq").spec == f"isq:{T.ISQ_DEFAULT_M}"
    cvp = parse_task("cvp")
    assert cvp.sep == T.CVP_GATE0 + MAX_N == 134 and cvp.spec == "cvp"
    assert cvp.prompt_len(32) == 129


@pytest.mark.parametrize("spec", ["foo", "modadd", "modadd:", "modadd:1", "modadd:x",
                                  "sqmod:-3", "sqmod:2.5", "s5:3", "cvp:4", "modadd:999999",
                                  "isq:", "isq:3", "isq:x", "isq:70000"])
def test_parse_task_rejects(spec):
    with pytest.raises(CotsimInputError) as e:
        parse_task(spec)
    assert "\n" not in str(e.value)


def test_s5_ids_and_known_word():
    assert PERMS[0] == (0, 1, 2, 3, 4) and PERMS[119] == (4, 3, 2, 1, 0)
    perms, compose = T.s5_tables()
    assert [tuple(p) for p in perms.tolist()] == PERMS
    # 10234 (id 24) then 02134 (id 6): x -> g2[q[x]] gives 20134 (id 48)
    assert PERMS.index((1, 0, 2, 3, 4)) == 24 and PERMS.index((0, 2, 1, 3, 4)) == 6
    assert compose[0, 24] == 24 and compose[24, 6] == PERMS.index((2, 0, 1, 3, 4)) == 48


def _s5_oracle(word):
    q = (0, 1, 2, 3, 4)
    out = []
    for g in word:
        p = PERMS[g]
        q = tuple(p[q[x]] for x in range(5))
        out.append(PERMS.index(q))
    return out


def _cvp_decode(prompt, n):
    """Decode cvp tokens (DESIGN: kind, operand, operand, own id a gate) into a
    `circuits` circuit, constant gates as inputs, every gate an output; and the
    constants' values."""
    b = CircuitBuilder(strash=False, fold=False)
    nodes, bits = [], []
    for i in range(n):
        kind, a, c, own = (int(t) for t in prompt[4 * i:4 * i + 4])
        assert own == 6 + i  # the gate's own id
        if kind in (0, 1):
            assert a == c == T.CVP_NONE
            nodes.append(b.input(f"g{i}"))
            bits.append(bool(kind))
            continue
        ia = a - T.CVP_GATE0
        assert 0 <= ia < i
        if kind == T.CVP_NOT:
            assert c == T.CVP_NONE
            nodes.append(b.NOT(nodes[ia]))
        else:
            ib = c - T.CVP_GATE0
            assert 0 <= ib < i
            nodes.append((b.AND if kind == T.CVP_AND else b.OR)(nodes[ia], nodes[ib]))
    for i, node in enumerate(nodes):
        b.output(f"o{i}", node)
    return b.build(), bits


def _cvp_oracle(prompt, n):
    """Evaluate the decoded circuit with `circuits.evaluate`: an oracle independent of
    the generator's own evaluation."""
    circuit, bits = _cvp_decode(prompt, n)
    out = circuit_eval(circuit, np.array([bits], dtype=bool))
    return out[0].astype(int).tolist()


@settings(max_examples=20)
@given(kind=st.sampled_from(["modadd:7", "modadd:2", "s5", "sqmod:11", "sqmod:97", "cvp",
                              "isq:4", "isq:64", "isq:1000", "isq:65536"]),
       n=st.integers(1, 32), seed=st.integers(0, 2**32 - 1))
def test_oracles(kind, n, seed):
    task = parse_task(kind)
    s = task.sample(np.random.default_rng(seed), n, 6)
    assert s.prompts.shape == (6, task.prompt_len(n)) and s.chains.shape == (6, n)
    assert (s.prompts[:, -1] == task.sep).all() and (s.answers == s.chains[:, -1]).all()
    assert (s.prompts[:, :-1] < task.sep).all() and (s.chains < task.n_answers).all()
    for prompt, chain in zip(s.prompts.tolist(), s.chains.tolist()):
        xs = prompt[:-1]
        if task.kind == "modadd":
            want = [sum(xs[:i + 1]) % task.P for i in range(n)]
        elif task.kind == "s5":
            want = _s5_oracle(xs)
        elif task.kind == "sqmod":
            assert xs[1:] == [task.P] * (n - 1)  # R, then n-1 "^2"
            want = [pow(xs[0], 2 ** i, task.P) for i in range(n)]
        elif task.kind == "isq":
            p, r = xs[0], xs[1]  # p, r, then n-1 "^2"
            assert len(xs) == n + 1 and xs[2:] == [task.P] * (n - 1)
            assert 3 <= p < task.P and all(p % q for q in range(2, p)) and 0 <= r < p
            want = [pow(r, 2 ** i, p) for i in range(n)]
        else:
            want = _cvp_oracle(prompt, n)
        assert chain == want


def test_settings_inputs_targets_masks():
    task = parse_task("modadd:5")
    s = task.sample(np.random.default_rng(1), 4, 3)
    cot = task.make_batch("cot", s)
    assert cot.inputs.shape == (3, 8) == (3, task.seq_len("cot", 4))
    assert (cot.inputs[:, :5] == s.prompts).all() and (cot.inputs[:, 5:] == s.chains[:, :3]).all()
    assert (cot.targets[:, 4:] == s.chains).all() and (cot.mask[:, 4:] == 1).all()
    assert cot.mask[:, :4].sum() == 0 and cot.answer_pos == 7
    hint = task.make_batch("hint", s)
    assert (hint.inputs == s.prompts).all()  # the chain is never fed back
    # the paper's n labels: c_1..c_3 at x_1..x_3, the answer c_4 at "=", none at x_4
    assert (hint.targets[:, :3] == s.chains[:, :3]).all()
    assert (hint.targets[:, 4] == s.answers).all()
    assert list(np.flatnonzero(hint.mask[0])) == [0, 1, 2, 4] == list(hint.chain_pos)
    base = task.make_batch("base", s)
    assert (base.inputs == s.prompts).all() and base.mask.sum() == 3
    assert (base.targets[:, 4] == s.answers).all() and (base.mask[:, 4] == 1).all()
    cvp = parse_task("cvp")
    h = cvp.make_batch("hint", cvp.sample(np.random.default_rng(2), 3, 2))
    assert list(np.flatnonzero(h.mask[0])) == [3, 7, 12]  # own ids of g0, g1; "="
    isq = parse_task("isq:16")
    h = isq.make_batch("hint", isq.sample(np.random.default_rng(2), 3, 2))
    assert list(np.flatnonzero(h.mask[0])) == [1, 2, 4]  # r, the first "^2"; "="


@settings(max_examples=30)
@given(kind=st.sampled_from(["modadd:7", "s5", "isq:64", "sqmod:11", "cvp"]),
       n=st.integers(1, 32), k=st.integers(1, 32), seed=st.integers(0, 2**32 - 1))
def test_cot_k_chains(kind, n, k, seed):
    """cot:K reads the prompt and c_K, c_2K, ..., c_{n-K}, and is trained on c_K, c_2K,
    ..., c_n, from "=" on; a K that does not divide n is refused in one line."""
    task = parse_task(kind)
    K = [d for d in range(1, n + 1) if n % d == 0][k % sum(n % d == 0 for d in range(1, n + 1))]
    s = task.sample(np.random.default_rng(seed), n, 3)
    setting = f"cot:{K}"
    b = task.make_batch(setting, s)
    p, m = task.prompt_len(n), n // K
    want = np.stack([[c[i] for i in range(K - 1, n, K)] for c in s.chains.tolist()])
    assert want.shape == (3, m) and (want[:, -1] == s.answers).all()
    assert b.inputs.shape == (3, p + m - 1) == (3, task.seq_len(setting, n))
    assert (b.inputs[:, :p] == s.prompts).all() and (b.inputs[:, p:] == want[:, :-1]).all()
    assert list(b.chain_pos) == list(range(p - 1, p + m - 1)) == list(np.flatnonzero(b.mask[0]))
    assert (b.targets[:, b.chain_pos] == want).all() and b.answer_pos == p + m - 2
    assert (T.emitted(setting, s.chains) == want).all()
    if K == 1:  # cot:1 is cot
        c = task.make_batch("cot", s)
        assert T.check_setting("cot:1") == "cot"
        assert all((getattr(b, f) == getattr(c, f)).all() for f in ("inputs", "targets", "mask"))
    if K == n:  # cot:n emits only the answer, after "="
        assert b.inputs.shape[1] == p and list(b.chain_pos) == [p - 1]
    h = task.make_batch("hint", s)  # the paper's n labels, the last (the answer) at "="
    assert (h.mask.sum(axis=1) == n).all() and len(h.chain_pos) == n
    assert h.chain_pos[-1] == p - 1 and (h.targets[:, h.chain_pos] == s.chains).all()
    assert (np.diff(h.chain_pos) > 0).all() and (h.inputs == s.prompts).all()
    bad = next((d for d in range(2, n + 2) if n % d), None)
    with pytest.raises(CotsimInputError, match="does not divide") as e:
        task.make_batch(f"cot:{bad}", s)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("setting", ["cot:0", "cot:x", "cot:", "cot:129", "cott", "hint:2"])
def test_bad_settings(setting):
    with pytest.raises(CotsimInputError, match="setting") as e:
        T.check_setting(setting, 4)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("n", [0, -1, MAX_N + 1, True, 2.0])
def test_n_out_of_range(n):
    with pytest.raises(CotsimInputError, match="out of range"):
        parse_task("s5").sample(np.random.default_rng(0), n, 1)


def test_chance():
    assert parse_task("modadd:7").chance(5) == pytest.approx(1 / 7)
    # squares mod 7 from R uniform: 0 -> 0, {1, 6} -> 1, {2, 5} -> 4, {3, 4} -> 2
    assert parse_task("sqmod:7").chance(2) == pytest.approx(2 / 7)
    assert 0.45 < parse_task("cvp").chance(8) < 0.6


@pytest.mark.parametrize("M,n", [(4, 1), (4, 3), (16, 1), (16, 2), (16, 5), (64, 8),
                                 (100, 3), (100, 16)])
def test_isq_chance_by_enumeration(M, n):
    """The closed form (the mean over primes of gcd(2^(n-1), p-1)/p) against counting
    every (p, r) with Python's pow: p uniform over the primes in [3, M), r over 0..p-1."""
    primes = [p for p in range(3, M) if all(p % q for q in range(2, p))]
    share = {}
    for p in primes:
        for r in range(p):
            a = pow(r, 2 ** (n - 1), p)
            share[a] = share.get(a, 0) + 1 / (p * len(primes))
    assert parse_task(f"isq:{M}").chance(n) == pytest.approx(max(share.values()), rel=1e-12)


@settings(max_examples=15)
@given(n=st.integers(1, 32), seed=st.integers(0, 2**32 - 1))
def test_cvp_depths_against_circuits(n, seed):
    """The depth `cvp_depths` reads off the tokens is the depth `circuits.analysis`
    computes on the decoded circuit, gate by gate."""
    from circuits.analysis import levels

    task = parse_task("cvp")
    s = task.sample(np.random.default_rng(seed), n, 4)
    d = T.cvp_depths(s.prompts)
    for prompt, mine in zip(s.prompts, d):
        circuit, _ = _cvp_decode(prompt, n)
        lv = levels(circuit)
        assert mine.tolist() == [int(lv[o]) for o in circuit.output_ids]


def test_cvp_depth_grows_with_n():
    """The generator's circuits get deeper with n (DESIGN), and stay balanced: the
    profile the docs tabulate."""
    prof = {n: T.cvp_profile(n, samples=4000) for n in (4, 8, 16, 32)}
    med = [prof[n]["depth_median"] for n in (4, 8, 16, 32)]
    assert med == sorted(med) and med[-1] >= 3 * med[0] and prof[32]["depth_min"] >= 4
    for p in prof.values():
        assert 0.5 <= p["chance"] < 0.56
        assert sum(p["depth_counts"].values()) == pytest.approx(1.0)
        assert p["depth_min"] <= p["depth_median"] <= p["depth_max"] <= p["n"] - 1
    assert prof[32]["chance"] == pytest.approx(parse_task("cvp").chance(32), abs=0.03)


# --- training -------------------------------------------------------------------------
TINY = dict(task="modadd:5", setting="cot", n=3, layers=1, d_model=16, heads=2, d_ff=32,
            steps=8, batch=16, lr=3e-3, seed=3, progress=False, checkpoint_every=3,
            eval_samples=64)
TIMING = ("seconds", "steps_per_second", "first_step_seconds", "resumed_from", "loss",
          "cpu_seconds", "load")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "run"
    metrics = train(out_dir=out, **TINY)
    return out, metrics


def _same(a, b):
    return {k: v for k, v in a.items() if k not in TIMING} == \
        {k: v for k, v in b.items() if k not in TIMING}


def test_train_writes_a_loadable_model(tiny_run):
    out, metrics = tiny_run
    assert sorted(os.listdir(out)) == ["metrics.json", "model.npz", "run.json"]
    for key in ("task", "setting", "n", "layers", "d_model", "steps", "seconds", "accuracy",
                "chance", "free_running_accuracy", "chain_accuracy", "steps_per_second"):
        assert key in metrics
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert metrics["steps_per_second"] > 0 and metrics["first_step_seconds"] > 0
    assert metrics["cpu_seconds"] > 0 and len(metrics["load"]) == 3
    model = load(out / "model.npz")
    assert model.fmt.spec == FloatFormat.ieee(8, 23).spec and model.sum_mode == "iterative"
    assert model.softmax == "stable"  # jax.nn.softmax subtracts the row maximum
    assert (model.vocab, model.max_len, model.d_model) == (6, 6, 16)
    assert (model.heads, model.d_head, model.d_ff, model.n_layers) == (2, 8, 32, 1)


def test_train_is_deterministic_and_resumes(tiny_run, tmp_path):
    out, metrics = tiny_run
    again = train(out_dir=tmp_path / "again", **TINY)
    assert _same(again, metrics)
    assert (tmp_path / "again" / "model.npz").read_bytes() == (out / "model.npz").read_bytes()
    # interrupted after 5 steps (checkpoint), then resumed: the same run, bit for bit
    part = train(out_dir=tmp_path / "resumed", stop_after=5, **TINY)
    assert part["finished"] is False and part["step"] == 5
    assert sorted(os.listdir(tmp_path / "resumed")) == ["checkpoint.npz", "run.json"]
    resumed = train(out_dir=tmp_path / "resumed", **TINY)
    assert resumed["resumed_from"] == 5 and _same(resumed, metrics)
    assert (tmp_path / "resumed" / "model.npz").read_bytes() == \
        (out / "model.npz").read_bytes()
    # another seed is another run
    other = train(out_dir=tmp_path / "other", **{**TINY, "seed": 4})
    assert (tmp_path / "other" / "model.npz").read_bytes() != (out / "model.npz").read_bytes()
    assert other["seed"] == 4
    # a finished run is not trained again
    assert train(out_dir=out, **TINY) == metrics


def test_nan_loss_stops_naming_the_step(tmp_path):
    # only the learning rate differs from TINY: the compiled step is reused
    cfg = {**TINY, "lr": 1e30, "checkpoint_every": 1}
    with pytest.raises(TrainingDiverged, match=r"at step \d+ of 8") as e:
        train(out_dir=tmp_path / "nan", **cfg)
    assert "\n" not in str(e.value)
    files = os.listdir(tmp_path / "nan")
    assert "model.npz" not in files and "metrics.json" not in files
    # lr 1e30 blows the weights up within a few steps: the steps before it were finite,
    # and the last good checkpoint (finite parameters only) stays
    bad, kept = (int(x) for x in re.search(r"at step (\d+) of 8; the last good checkpoint "
                                           r"\(step (\d+)\)", str(e.value)).groups())
    assert 1 <= kept < bad
    with np.load(tmp_path / "nan" / "checkpoint.npz") as z:
        assert json.loads(z["meta"].item())["step"] == kept
        assert all(np.isfinite(z[k]).all() for k in z.files if k.startswith("params/"))


# --- the JAX forward against the simulator ---------------------------------------------
def _agreement(model, prompts):
    """Share of (prompt, position) pairs where the JAX argmax equals the simulator's
    float32 token, and the largest logit difference."""
    import jax
    import jax.numpy as jnp

    from experiments.model_jax import forward, from_model
    from transformer_sim.forward import Decoder

    jl = np.asarray(jax.jit(forward)(from_model(model), jnp.asarray(prompts, jnp.int32)))
    same, total, diff = 0, 0, 0.0
    for prompt, logits in zip(prompts, jl):
        dec = Decoder(model, capacity=len(prompt))
        for pos, tok in enumerate(prompt):
            sim = dec.push(int(tok))
            same += sim == int(np.argmax(logits[pos]))
            total += 1
            diff = max(diff, float(np.max(np.abs(dec.logits - logits[pos]))))
    return same / total, diff


def test_jax_forward_matches_the_simulator(tiny_run):
    from transformer_sim.random_model import random_model

    out, _ = tiny_run
    task = parse_task(TINY["task"])
    trained = load(out / "model.npz")
    batch = task.make_batch("cot", task.sample(np.random.default_rng(9), 3, 200))
    share, diff = _agreement(trained, batch.inputs)
    assert share >= 0.99 and diff < 1e-4
    rand = random_model(vocab=11, layers=2, heads=2, d_model=12, d_ff=24, max_len=10,
                        fmt=FloatFormat.ieee(8, 23), sum_mode="iterative", seed=5)
    prompts = np.random.default_rng(3).integers(0, 11, size=(100, 10))
    share, diff = _agreement(rand, prompts)
    assert share >= 0.99 and diff < 1e-4


# --- finite-precision evaluation -------------------------------------------------------
def test_evaluate_in_formats(tiny_run):
    out, metrics = tiny_run
    r = evaluate(out / "model.npz", TINY["task"], "cot", 3, "float32", samples=40, seed=1)
    assert r["samples"] == 40 and r["format"] == "ieee:e=8,m=23" and r["undefined"] == 0
    assert r["teacher_forced"] == r["chain_accuracy"]
    # the equivalence the docs claim: teacher forcing gets the whole chain right exactly
    # when the model's own chain is right
    model = load(out / "model.npz")
    task = parse_task(TINY["task"])
    s = task.sample(np.random.default_rng([2, 1]), 3, 40)
    full = sum(_decoder_teacher_forced(model, p, c) == 3 for p, c in zip(s.prompts, s.chains))
    assert full / 40 == r["teacher_forced"]
    batched = _teacher_forced_tokens(model, [np.asarray(p) for p in s.prompts],
                                     np.array(s.chains))
    assert batched.tolist() == [_decoder_teacher_forced(model, p, c)
                                for p, c in zip(s.prompts, s.chains)]
    for fmt in ("bfloat16", "paper:e=0,s=1", "e5m2"):
        q = evaluate(out / "model.npz", TINY["task"], "cot", 3, fmt, samples=20)
        assert 0 <= q["accuracy"] <= 1 - q["undefined"]
        assert q["format"] == FloatFormat.parse(fmt).spec
    rounded = in_format(model, FloatFormat.parse("bfloat16"))
    assert np.array_equal(rounded.TE, FloatFormat.parse("bfloat16").round(model.TE))


def _decoder_teacher_forced(model, prompt, chain) -> int:
    """How many of c_1..c_n the one-prompt Decoder predicts when fed the true chain."""
    from transformer_sim.errors import ModelUndefined
    from transformer_sim.forward import Decoder

    dec = Decoder(model, capacity=len(prompt) + len(chain) - 1)
    good = 0
    try:
        pred = dec.extend(prompt)
        for i, c in enumerate(chain):
            good += pred == c
            if i + 1 < len(chain):
                pred = dec.push(int(c))
    except ModelUndefined:
        pass
    return good


def _score_model(task, score: float) -> "Model":
    """One layer, one head, d = 1: every token embeds as sqrt(score), Wq = Wk = Wv = 1,
    so every attention score s_ij is ``score``; MLP and read-out zero."""
    from transformer_sim.model import Layer, Model

    V, N = task.vocab, task.seq_len("cot", 3)
    one = np.ones((1, 1, 1))
    layer = Layer(Wq=one, Wk=one, Wv=one, Wo=one, W1=np.zeros((1, 1)), b1=np.zeros(1),
                  W2=np.zeros((1, 1)), b2=np.zeros(1))
    return Model(fmt=FloatFormat.ieee(8, 23), sum_mode="iterative",
                 TE=np.full((V, 1), np.sqrt(score)), PE=np.zeros((N, 1)),
                 Wout=np.zeros((V, 1)), bout=np.zeros(V), layers=(layer,))


@pytest.mark.parametrize("setting", ["base", "cot"])
def test_attention_overflow_is_reported(setting):
    """Scores of 16: exp(16) = 8.9e6 is finite in float32 and bfloat16, inf in float16
    (largest 65504), so there Z = inf and a_ij = inf/inf = NaN on every prompt; the
    paper's formats saturate and never overflow."""
    task = parse_task("modadd:3")
    model = _score_model(task, 16.0)
    for fmt, expected in (("float32", 0.0), ("bfloat16", 0.0), ("float16", 1.0),
                          ("paper:e=3,s=4", 0.0)):
        r = evaluate(model, task, setting, 3, fmt, samples=4)
        assert r["attention_overflow"] == expected, (fmt, r)
    assert evaluate(_score_model(task, 9.0), task, setting, 3, "float16",
                    samples=4)["attention_overflow"] == 0.0  # exp(9) = 8103 < 65504


def test_score_extremes_of_the_jax_model():
    """Every score of the hand-built model is 16: both extremes are 16. A second layer
    reads positions whose PE makes the scores differ; the extremes are the plain max and
    min-of-row-max of scores computed here with NumPy."""
    from experiments.model_jax import from_model, score_extremes

    task = parse_task("modadd:3")
    params = from_model(_score_model(task, 16.0))
    toks = np.array([[0, 1, 2, 3], [2, 2, 1, 3]])
    assert np.allclose(np.asarray(score_extremes(params, toks)), [[16.0, 16.0]])
    params = dict(params)
    params["PE"] = np.arange(params["PE"].size, dtype=np.float32).reshape(
        params["PE"].shape) / 4
    h = 4.0 + np.asarray(params["PE"])[:4, 0]  # d = 1: the residual stream at layer 0
    s = np.outer(h, h)
    expect = [s[np.tril_indices(4)].max(), min(s[i, :i + 1].max() for i in range(4))]
    assert np.allclose(np.asarray(score_extremes(params, toks[:1])), [expect])


# --- the command line ------------------------------------------------------------------
def _cli(capsys, *argv):
    code = main(list(argv))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_train_and_eval(tiny_run, tmp_path, capsys):
    out, metrics = tiny_run
    args = ["experiment", "train", "--task", "modadd:5", "--setting", "cot", "--n", "3",
            "--layers", "1", "--d-model", "16", "--heads", "2", "--d-ff", "32", "--steps", "8",
            "--batch", "16", "--lr", "3e-3", "--seed", "3", "--checkpoint-every", "3",
            "--eval-samples", "64", "--json", "-o", str(tmp_path / "runs" / "cli")]
    code, stdout, _ = _cli(capsys, *args)
    assert code == 0  # runs/ did not exist: train creates missing parents (issue 18)
    assert (tmp_path / "runs" / "cli" / "model.npz").is_file()
    got = json.loads(stdout)
    assert list(got)[:9] == ["task", "setting", "n", "layers", "d_model", "steps", "seconds",
                             "accuracy", "chance"]
    assert _same(got, metrics)
    code, stdout, _ = _cli(capsys, "experiment", "eval", str(out / "model.npz"), "--task",
                           "modadd:5", "--setting", "cot", "--n", "3", "--format",
                           "bfloat16", "--samples", "10", "--json")
    assert code == 0
    assert json.loads(stdout)["format"] == "ieee:e=8,m=7"


BAD_TRAIN = [
    (["--task", "foo"], "unknown"),
    (["--task", "modadd:1"], "P must be"),
    (["--task", "sqmod:x"], "P must be"),
    (["--n", "0"], "out of range"),
    (["--n", "129"], "out of range"),
    (["--layers", "0"], "out of range"),
    (["--layers", "17"], "out of range"),
    (["--setting", "cott"], "setting"),
    (["--heads", "3"], "multiple"),
]


@pytest.mark.parametrize("change,message", BAD_TRAIN)
def test_cli_train_bad_input(change, message, tmp_path, capsys):
    opts = {"--task": "s5", "--setting": "cot", "--n": "4", "--layers": "1"}
    opts.update(dict(zip(change[::2], change[1::2])))
    out = tmp_path / "out"
    code, stdout, err = _cli(capsys, "experiment", "train", *itertools.chain(*opts.items()),
                             "-o", str(out))
    assert code == 2 and stdout == "" and message in err
    assert err.count("\n") == 1 and not out.exists()


def test_cli_train_refuses_another_runs_folder(tiny_run, tmp_path, capsys):
    out, _ = tiny_run
    before = {f: (out / f).read_bytes() for f in os.listdir(out)}
    code, _, err = _cli(capsys, "experiment", "train", "--task", "modadd:5", "--setting", "cot",
                        "--n", "3", "--layers", "1", "--steps", "9", "-o", str(out))
    assert code == 2 and "another run" in err and err.count("\n") == 1
    assert {f: (out / f).read_bytes() for f in os.listdir(out)} == before
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    code, _, err = _cli(capsys, "experiment", "train", "--task", "s5", "--setting", "cot",
                        "--n", "3", "--layers", "1", "-o", str(foreign))
    assert code == 2 and "no run.json" in err and os.listdir(foreign) == ["notes.txt"]


def test_cli_eval_bad_input(tiny_run, capsys):
    out, _ = tiny_run
    model = str(out / "model.npz")
    base = ["experiment", "eval", model, "--setting", "cot", "--n", "3"]
    cases = [(["--task", "s5", "--format", "float32"], "vocabulary"),
             (["--task", "modadd:5", "--format", "float99"], "unknown format"),
             (["--task", "modadd:5", "--format", "float32", "--n", "5"], "too short"),
             (["--task", "bar", "--format", "float32"], "unknown")]
    for extra, message in cases:
        code, stdout, err = _cli(capsys, *base, *extra)
        assert code == 2 and stdout == "" and message in err and err.count("\n") == 1


def test_hint_end_to_end(tmp_path):
    """One step of cvp with hints runs end to end: shapes, masks, eval (cot is the tiny
    run above; base differs from hint only in the mask, see test_settings_...)."""
    task, setting = "cvp", "hint"
    out = tmp_path / "run"
    m = train(task, setting, 3, 1, d_model=8, heads=1, d_ff=8, steps=1, batch=4,
              out_dir=out, progress=False, eval_samples=8)
    assert m["finished"] and 0 <= m["accuracy"] <= 1 and m["task"] == task
    r = evaluate(out / "model.npz", task, setting, 3, "float16", samples=4)
    assert 0 <= r["accuracy"] <= 1 and r["samples"] == 4


# --- isq, cvp and cot:K end to end; the optimiser ------------------------------------
def test_cot_k_trains_and_evaluates(tmp_path):
    """A few steps of isq with cot:2 at n = 4: the model reads prompt + n/K - 1 positions,
    JAX writes n/K chain tokens, and the simulator's teacher-forced metric is the share
    of prompts whose emitted chain c_2, c_4 is right under teacher forcing."""
    task, setting, n = "isq:16", "cot:2", 4
    out = tmp_path / "run"
    m = train(task, setting, n, 1, d_model=8, heads=1, d_ff=8, steps=2, batch=8,
              out_dir=out, progress=False, eval_samples=16)
    assert m["setting"] == setting and m["finished"] and "free_running_chain" in m
    model = load(out / "model.npz")
    t = parse_task(task)
    assert model.max_len == t.prompt_len(n) + n // 2 - 1 == 7 and model.vocab == 18
    r = evaluate(out / "model.npz", task, setting, n, "float32", samples=12, seed=1)
    s = t.sample(np.random.default_rng([2, 1]), n, 12)
    want = T.emitted(setting, s.chains)
    full = [_decoder_teacher_forced(model, p, c) for p, c in zip(s.prompts, want)]
    assert r["teacher_forced"] == sum(f == 2 for f in full) / 12 == r["chain_accuracy"]
    assert r["teacher_forced_tokens"] == sum(full) / 24
    with pytest.raises(CotsimInputError, match="does not divide"):
        evaluate(out / "model.npz", task, "cot:3", n, "float32", samples=2)
    with pytest.raises(CotsimInputError, match="does not divide"):
        train(task, "cot:3", n, 1, out_dir=tmp_path / "bad", progress=False)
    assert not (tmp_path / "bad").exists()


def test_optimizer_adam_is_recorded_and_used(tiny_run, tmp_path):
    out, metrics = tiny_run
    assert metrics["optimizer"] == "adamw" and metrics["weight_decay"] == 0.1
    adam = train(out_dir=tmp_path / "adam", optimizer="adam", **TINY)
    assert adam["optimizer"] == "adam" and adam["weight_decay"] == 0.0
    run = json.loads((tmp_path / "adam" / "run.json").read_text())
    assert run["optimizer"] == "adam" and run["weight_decay"] == 0.0
    # without weight decay the same steps give other weights
    assert (tmp_path / "adam" / "model.npz").read_bytes() != (out / "model.npz").read_bytes()
    with pytest.raises(CotsimInputError, match="adam has no weight decay"):
        train(out_dir=tmp_path / "x", optimizer="adam", weight_decay=0.1, **TINY)
    with pytest.raises(CotsimInputError, match="optimizer 'sgd'"):
        train(out_dir=tmp_path / "x", optimizer="sgd", **TINY)
    assert not (tmp_path / "x").exists()


def test_a_run_from_before_the_optimizer_option_is_still_found(tiny_run, tmp_path):
    import shutil

    out, metrics = tiny_run
    old = tmp_path / "old"
    shutil.copytree(out, old)
    cfg = json.loads((old / "run.json").read_text())
    del cfg["optimizer"]
    (old / "run.json").write_text(json.dumps(cfg))
    assert train(out_dir=old, **TINY) == metrics


@pytest.mark.parametrize("task,setting", [("isq:16", "cot"), ("cvp", "cot"),
                                          ("modadd:5", "cot:4"), ("cvp", "hint")])
def test_cli_train_new_tasks_and_settings(task, setting, tmp_path, capsys):
    """The acceptance commands, with a few steps: each prints its metrics."""
    code, stdout, err = _cli(capsys, "experiment", "train", "--task", task, "--setting",
                             setting, "--n", "8", "--layers", "1", "--d-model", "8",
                             "--heads", "1", "--d-ff", "8", "--steps", "2", "--batch", "4",
                             "--eval-samples", "8", "--optimizer", "adam", "--json",
                             "--no-progress", "-o", str(tmp_path / "run"))
    assert code == 0, err
    got = json.loads(stdout)
    assert (got["task"], got["setting"], got["n"], got["optimizer"]) == (task, setting, 8,
                                                                        "adam")
    assert 0 <= got["accuracy"] <= 1 and 0 < got["chance"] < 1


@pytest.mark.parametrize("change,message", [
    (["--setting", "cot:3"], "K = 3 does not divide n = 4"),
    (["--optimizer", "sgd"], "optimizer 'sgd': unknown"),
    (["--optimizer", "adam", "--weight-decay", "0.1"], "adam has no weight decay"),
    (["--task", "isq:3"], "M must be"),
])
def test_cli_train_bad_setting_or_optimizer(change, message, tmp_path, capsys):
    test_cli_train_bad_input(change, message, tmp_path, capsys)
