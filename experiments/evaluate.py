"""Run a trained model in exact finite precision: the simulator, weights rounded to FMT.

`evaluate(model_path, task, setting, n, fmt)` loads the `.npz` with
`transformer_sim.npz.load`, rounds every weight to FMT (`in_format`), and runs held-out
prompts through the simulator's incremental forward pass (`forward.Decoder`, KV cache);
for cot the model writes its own chain with `cot.run_cot`. Prompts come from
``numpy.random.default_rng([2, seed])``, a stream that training never draws from.

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
  weight a_ij is NaN or infinite. The simulator does not subtract the row maximum, so in
  an IEEE format a score s > ln(largest value) makes [exp(s)] = inf, Z_i = inf and
  a_ij = inf/inf = NaN, which then spreads through the residual stream. The paper's
  formats saturate instead (never inf), so there it is always 0.
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
             fmt: str | FloatFormat, samples: int = 256, seed: int = 0) -> dict[str, Any]:
    """Accuracy of the trained model in ``fmt`` on ``samples`` held-out prompts.

    Returns {"accuracy", "undefined", "samples", "format", "teacher_forced",
    "teacher_forced_tokens" (cot), "chain_accuracy", "attention_overflow", "task", "setting", "n", "seed",
    "seconds"} (see the module docstring)."""
    from transformer_sim.cot import run_cot
    from transformer_sim.errors import ModelUndefined
    from transformer_sim.forward import Decoder
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
    right = undefined = chain_right = tf_tokens = overflow = 0
    for prompt, chain, want, answer in zip(sample.prompts, sample.chains,
                                          emitted(setting, sample.chains), sample.answers):
        if not cot_stride(setting):
            dec = Decoder(model, capacity=prompt.size)
            preds, bad = [], False
            try:
                for tok in prompt:
                    preds.append(dec.push(int(tok)))
                    bad = bad or not np.isfinite(dec.attention).all()
            except ModelUndefined:
                undefined += 1
                continue
            finally:
                overflow += bad
            ok = preds[-1] == answer
            right += ok
            chain_right += ok and (setting == "base"
                                   or all(preds[p] == c for p, c in zip(labels, chain)))
            continue
        trace = run_cot(model, prompt, steps, progress=False, record_attention=True)
        overflow += any(not np.isfinite(a).all() for a in trace.attention)
        own = np.array(trace.tokens)
        undefined += trace.undefined
        right += (not trace.undefined) and own[-1] == answer
        if not trace.undefined and np.array_equal(own, want):
            chain_right += 1
            tf_tokens += steps
        else:
            tf_tokens += _teacher_forced_tokens(model, prompt, want)
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


def _teacher_forced_tokens(model: Model, prompt: np.ndarray, chain: np.ndarray) -> int:
    """How many of c_1..c_n the model predicts when fed the true chain (0 from an
    undefined step on)."""
    from transformer_sim.errors import ModelUndefined
    from transformer_sim.forward import Decoder

    dec = Decoder(model, capacity=prompt.size + chain.size - 1)
    good = 0
    try:
        pred = dec.extend(prompt)
        for i, c in enumerate(chain):
            good += pred == c
            if i + 1 < chain.size:
                pred = dec.push(int(c))
    except ModelUndefined:
        pass
    return int(good)
