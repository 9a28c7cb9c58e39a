"""Run a trained model in exact finite precision: the simulator, weights rounded to FMT.

`evaluate(model_path, task, setting, n, fmt)` loads the `.npz` with
`transformer_sim.npz.load`, rounds every weight to FMT (`in_format`), and runs all the
held-out prompts through the simulator as one batch (`transformer_sim.batch.run_batch`,
bit for bit the one-prompt `forward.Decoder` with its KV cache); for cot (cot:K) the
model writes its own chain. Prompts come from ``numpy.random.default_rng([2, seed])``, a stream that
training never draws from.

Reported:
- ``accuracy``: the answer is right (for cot and cot:K: the last token of the model's
  own chain, n/K tokens long);
- ``undefined``: the share of prompts on which the forward pass is undefined (some
  Z_i = 0, `ModelUndefined`); such a prompt counts as wrong everywhere;
- ``teacher_forced``: the paper's metric. For cot, every chain token is right when the
  true c_1..c_{i-1} are fed. This equals ``chain_accuracy``, that the model's own chain
  is right in full: up to the first wrong token both runs read the same tokens, so
  they make the same first mistake (or are undefined at the same step). For base and
  hint it is the answer accuracy;
- ``teacher_forced_tokens``: the share of chain tokens right under teacher forcing (cot);
- ``chain_accuracy``: cot (cot:K), the model's own chain is right in full; hint, its n
  labels (the last is the answer) are right; base, the answer;
- ``attention_overflow``: the share of prompts on whose free-running pass some attention
  weight a_ij is NaN or infinite. With the paper's softmax (no row maximum subtracted),
  in an IEEE format a score s > ln(largest value) makes [exp(s)] = inf, Z_i = inf and
  a_ij = inf/inf = NaN, which then spreads through the residual stream. The paper's
  formats saturate instead (never inf), so there it is always 0. Trained models carry
  the stable softmax (``experiment train`` writes it), where e_ij <= [exp(0)] = 1.
"""
from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from circuits.errors import CotsimInputError
from transformer_sim.floatformat import FloatFormat
from transformer_sim.model import Layer, Model

from .tasks import Task, check_setting, cot_stride, emitted, parse_task

def parse_format(spec: str | FloatFormat) -> FloatFormat:
    """A format spec as `FloatFormat.parse` reads it (``float32`` included)."""
    if isinstance(spec, FloatFormat):
        return spec
    return FloatFormat.parse(str(spec).strip())


def in_format(model: Model, fmt: FloatFormat) -> Model:
    """``model`` with every weight rounded to ``fmt`` (``Model.in_format``)."""
    return model.in_format(fmt)


def check_model(model: Model, task: Task, setting: str, n: int, where: str) -> None:
    """One line when ``model`` cannot read the task's prompts."""
    if model.vocab != task.vocab:
        raise CotsimInputError(f"{where}: the model's vocabulary has {model.vocab} tokens, "
                               f"{task.spec} has {task.vocab}")
    need = task.seq_len(setting, n)
    if model.max_len < need:
        raise CotsimInputError(f"{where}: max_len {model.max_len} is too short for "
                               f"{task.spec} {setting} at n = {n} ({need} positions)")


def evaluate(model_path: str | os.PathLike | Model, task: str | Task, setting: str, n: int,
             fmt: str | FloatFormat, samples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Accuracy of the trained model in ``fmt`` on ``samples`` held-out prompts.

    Returns {"accuracy", "undefined", "samples", "format", "teacher_forced",
    "teacher_forced_tokens" (cot), "chain_accuracy", "attention_overflow", "task", "setting", "n", "seed",
    "seconds"} (see the module docstring)."""
    from transformer_sim.batch import run_batch
    from transformer_sim.npz import load

    t = parse_task(task)
    n = t.check_n(n)
    setting = check_setting(setting, n)
    steps = n // (cot_stride(setting) or n)  # chain tokens a cot or cot:K model writes
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise CotsimInputError(f"samples = {samples!r}: expected an integer >= 1")
    f = parse_format(fmt)
    if isinstance(model_path, Model):
        base, where = model_path, "<model>"
    else:
        where = os.fspath(model_path)
        base = load(where)
    check_model(base, t, setting, n, where)
    model = in_format(base, f)
    sample = t.sample(np.random.default_rng([2, int(seed)]), n, int(samples))
    labels = t.label_positions(n)
    t0 = time.perf_counter()
    prompts = [np.asarray(p) for p in sample.prompts]
    chains = np.array([np.asarray(c) for c in sample.chains])
    want = np.asarray(emitted(setting, chains))  # the n/K tokens a cot:K model writes
    answers = np.asarray(sample.answers)
    if not cot_stride(setting):
        # teacher forcing over the prompt: the argmax after every position
        run = run_batch(model, prompts, 1)
        ok = ~run.undefined & (run.next_tokens == answers)
        right = int(ok.sum())
        if setting == "base":
            chain_right = right
        else:  # hint: c_1..c_{n-1} at the label positions, c_n (the answer) at '='
            at = np.asarray(labels)
            chain_right = int((ok & (run.preds[:, at] == chains[:, :at.size]).all(axis=1)).sum())
        tf_tokens = 0
    else:
        run = run_batch(model, prompts, steps)  # the model's own chain: n/K steps
        own = run.cot_tokens()
        right = int((~run.undefined & (own[:, -1] == answers)).sum())
        whole = ~run.undefined & (own == want).all(axis=1)
        chain_right = int(whole.sum())
        tf_tokens = steps * chain_right
        rest = np.flatnonzero(~whole)
        if rest.size:
            tf_tokens += int(_teacher_forced_tokens(model, [prompts[b] for b in rest],
                                                    want[rest]).sum())
    undefined = int(run.undefined.sum())
    overflow = int(run.overflow.sum())
    k = int(samples)
    out: dict[str, Any] = {
        "accuracy": right / k, "undefined": undefined / k, "samples": k, "format": f.spec,
        "teacher_forced": (chain_right if cot_stride(setting) else right) / k,
        "chain_accuracy": chain_right / k, "attention_overflow": overflow / k,
        "task": t.spec, "setting": setting, "n": n,
        "seed": int(seed), "seconds": round(time.perf_counter() - t0, 3)}
    if cot_stride(setting):
        out["teacher_forced_tokens"] = tf_tokens / (k * steps)
    return out


def _teacher_forced_tokens(model: Model, prompts: list[np.ndarray],
                           chains: np.ndarray) -> np.ndarray:
    """Per prompt, how many of its chain tokens (c_1..c_n; cot:K: c_K, ..., c_n) the
    model predicts when fed the true chain (0 from an undefined step on), all prompts as
    one batch."""
    from transformer_sim.batch import run_batch

    run = run_batch(model, [np.concatenate([p, c[:-1]]) for p, c in zip(prompts, chains)])
    n = chains.shape[1]
    idx = np.array([p.size - 1 for p in prompts])[:, None] + np.arange(n)[None, :]
    return (np.take_along_axis(run.preds, idx, axis=1) == chains).sum(axis=1)
