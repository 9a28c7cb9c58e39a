"""Train a decoder of the simulator's architecture on a task, in JAX + optax (float32, CPU).

`train(task, setting, n, layers, ...)` trains online (a fresh batch every step), writes
``DIR/model.npz`` (DESIGN layout, format float32) and ``DIR/metrics.json``, and returns
the metrics. Deterministic for a seed: the initial weights come from
``jax.random.PRNGKey(seed)``, the batch of step s from
``numpy.random.default_rng([0, seed, s])``, the held-out evaluation samples from
``default_rng([1, seed])``; there is no other randomness.

A run folder holds ``run.json`` (the configuration, written first), ``checkpoint.npz``
(parameters, optimiser state, step and elapsed time; written atomically every
``checkpoint_every`` steps, removed when the run finishes) and, once finished,
``model.npz`` and ``metrics.json``. Calling `train` again with the same configuration
resumes from the checkpoint (bit for bit the run it would have been) or, when the run is
finished, returns its metrics. A folder that holds another run's files, or anything
that is not a run, is refused before anything is written. A NaN or infinite loss stops
the run with `TrainingDiverged` naming the step; the last checkpoint, written from finite
parameters only, stays.

Defaults (`DEFAULTS`, docs/experiments.md): d_model 128, 4 heads of width 32, d_ff 512,
AdamW (peak lr 1e-3, a linear warm-up over the first 5% of steps and a cosine decay to
lr/10, weight decay 0.1, gradient norm clipped at 1), batch 128, init scale 0.1,
2,000 steps. ``optimizer="adam"`` is the paper's: the same without weight decay.
"""
from __future__ import annotations

import io
import json
import math
import os
import sys
import time
import zipfile
from functools import lru_cache
from typing import Any

import numpy as np

from circuits.atomic import write_atomic
from circuits.errors import CotsimInputError
from circuits.io import read_bytes, read_json

from .tasks import Task, check_setting, cot_stride, emitted, parse_task

#: the largest number of layers
MAX_LAYERS = 16
CONFIG_VERSION = 1
#: adamw: Adam with decoupled weight decay; adam: the paper's, no weight decay
OPTIMIZERS = ("adamw", "adam")
DEFAULTS: dict[str, Any] = {"d_model": 128, "heads": 4, "d_ff": 512, "steps": 2000,
                            "batch": 128, "lr": 1e-3, "weight_decay": 0.1,
                            "init_scale": 0.1, "warmup": 0.05, "clip": 1.0,
                            "checkpoint_every": 250, "eval_samples": 1024,
                            "optimizer": "adamw"}
#: the most training steps of one run (a day or more at the measured rates); a larger
#: count overflows the schedule's integers
MAX_STEPS = 10_000_000
FLOAT32_MAX = float(np.finfo(np.float32).max)
RUN_FILES = ("run.json", "checkpoint.npz", "model.npz", "metrics.json")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the step."""


def _int_in(name: str, v: Any, lo: int, hi: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo \
            or (hi is not None and v > hi):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise CotsimInputError(f"{name} = {v!r} is out of range: expected an integer {rng}")
    return int(v)


def _positive_float(name: str, v: Any, allow_zero: bool = False) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise CotsimInputError(f"{name} = {v!r} is not a number") from None
    if not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        raise CotsimInputError(f"{name} = {v!r} must be a finite number "
                               f"{'>= 0' if allow_zero else '> 0'}")
    if x > FLOAT32_MAX:  # training runs in float32: it would be infinite there
        raise CotsimInputError(f"{name} = {v!r} is over the float32 range (at most "
                               f"{FLOAT32_MAX:.4g})")
    return x


def make_config(task: str | Task, setting: str, n: int, layers: int, *, d_model: int,
                heads: int, d_ff: int, steps: int, batch: int, lr: float, seed: int,
                weight_decay: float | None, init_scale: float, eval_samples: int,
                optimizer: str = DEFAULTS["optimizer"]) -> dict[str, Any]:
    """The validated configuration of a run (what ``run.json`` holds); raises
    `CotsimInputError` with one line for a bad value. ``weight_decay`` None is the
    optimiser's default (0.1 for adamw; adam has none, and refuses one)."""
    t = parse_task(task)
    n = t.check_n(n)
    setting = check_setting(setting, n)
    if optimizer not in OPTIMIZERS:
        raise CotsimInputError(f"optimizer {optimizer!r}: unknown; expected adam or adamw")
    if optimizer == "adam":
        if weight_decay not in (None, 0, 0.0):
            raise CotsimInputError(f"weight_decay = {weight_decay!r}: adam has no weight "
                                   "decay (use adamw)")
        weight_decay = 0.0
    elif weight_decay is None:
        weight_decay = DEFAULTS["weight_decay"]
    layers = _int_in("layers", layers, 1, MAX_LAYERS)
    d_model = _int_in("d_model", d_model, 1, 4096)
    heads = _int_in("heads", heads, 1, d_model)
    if d_model % heads:
        raise CotsimInputError(f"d_model = {d_model} is not a multiple of heads = {heads}")
    return {"version": CONFIG_VERSION, "task": t.spec, "setting": setting, "n": n,
            "layers": layers, "d_model": d_model, "heads": heads,
            "d_head": d_model // heads, "d_ff": _int_in("d_ff", d_ff, 1, 65536),
            "steps": _int_in("steps", steps, 1, MAX_STEPS),
            "batch": _int_in("batch", batch, 1, 65536),
            "lr": _positive_float("lr", lr), "seed": _int_in("seed", seed, 0, 2**32 - 1),
            "weight_decay": _positive_float("weight_decay", weight_decay, allow_zero=True),
            "init_scale": _positive_float("init_scale", init_scale),
            "warmup": DEFAULTS["warmup"], "clip": DEFAULTS["clip"],
            "eval_samples": _int_in("eval_samples", eval_samples, 1, 10**6),
            "max_len": t.seq_len(setting, n), "vocab": t.vocab, "optimizer": optimizer}


def read_marker(out_dir: str, marker: str, kind: str) -> tuple[Any, bool]:
    """The JSON of ``out_dir/marker``, the file that says what a run or sweep folder
    holds: (its content, True), or (None, False) when the folder is missing or empty.
    Refuses, with one line, a path that is not a folder, a folder with files but no
    marker (``kind`` names what it is not), and an unreadable marker."""
    if not os.path.lexists(out_dir):
        return None, False
    if not os.path.isdir(out_dir):
        raise CotsimInputError(f"{out_dir}: exists and is not a folder")
    path = os.path.join(out_dir, marker)
    if not os.path.exists(path):
        if os.listdir(out_dir):
            raise CotsimInputError(f"{out_dir}: holds files but no {marker} (not a cotsim "
                                   f"{kind}); use an empty or new folder")
        return None, False
    return read_json(path), True


def check_out_dir(out_dir: str, config: dict[str, Any]) -> dict[str, Any] | None:
    """Refuse a folder holding another run or foreign files (nothing is written).
    Returns the stored metrics when this very run is finished there, else None."""
    stored, found = read_marker(out_dir, "run.json", "training run")
    if not found:
        return None
    if isinstance(stored, dict) and "optimizer" not in stored:
        stored = {**stored, "optimizer": "adamw"}  # written before there was a choice
    if stored != config:
        keys = sorted(set(stored) | set(config)) if isinstance(stored, dict) else ["?"]
        diff = [k for k in keys if not isinstance(stored, dict) or stored.get(k) != config.get(k)]
        what = ", ".join(f"{k} {stored.get(k)!r} there, {config.get(k)!r} here"
                         for k in diff[:3]) if isinstance(stored, dict) else "not a JSON object"
        raise CotsimInputError(f"{out_dir}: holds another run ({what}); use another folder")
    metrics = os.path.join(out_dir, "metrics.json")
    if os.path.exists(metrics) and os.path.exists(os.path.join(out_dir, "model.npz")):
        stored = read_json(metrics)
        if not isinstance(stored, dict):
            raise CotsimInputError(f"{metrics}: not a JSON object of metrics")
        return stored
    return None


# --- checkpoints ------------------------------------------------------------------
def _save_checkpoint(path: str, params: dict, opt_state: Any, step: int, seconds: float,
                     config: dict[str, Any]) -> None:
    import jax

    arrays = {f"params/{k}": np.asarray(v) for k, v in params.items()}
    for i, leaf in enumerate(jax.tree_util.tree_leaves(opt_state)):
        arrays[f"opt/{i}"] = np.asarray(leaf)
    meta = {"step": step, "seconds": seconds, "config": config,
            "rng": "batch of step s: numpy default_rng([0, seed, s])"}
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps(meta)), **arrays)
    write_atomic(path, buf.getvalue())


def _load_checkpoint(path: str, params: dict, opt_state: Any, config: dict[str, Any]
                     ) -> tuple[dict, Any, int, float]:
    import jax
    import jax.numpy as jnp

    try:
        with _open_npz(path) as z:
            meta = json.loads(z["meta"].item())
            if meta.get("config") != config:
                raise CotsimInputError(f"{path}: a checkpoint of another run")
            new_params = {k: jnp.asarray(z[f"params/{k}"]) for k in params}
            leaves, tree = jax.tree_util.tree_flatten(opt_state)
            new_leaves = [jnp.asarray(z[f"opt/{i}"], dtype=np.asarray(leaf).dtype)
                          for i, leaf in enumerate(leaves)]
    except (OSError, ValueError, KeyError, TypeError, RecursionError,
            zipfile.BadZipFile) as e:
        if isinstance(e, CotsimInputError):
            raise
        raise CotsimInputError(f"{path}: unreadable checkpoint ({e}); remove it to start "
                               "over") from None
    return (new_params, jax.tree_util.tree_unflatten(tree, new_leaves), int(meta["step"]),
            float(meta["seconds"]))


# --- the training step and the metrics -----------------------------------------------
def _opt_key(config: dict[str, Any]) -> tuple:
    """What the optimiser's compiled step depends on (the key of the step cache); the
    learning rate is an argument of the step, so runs that differ only in it share one
    compiled function."""
    return tuple(config.get(k, "adamw") if k == "optimizer" else config[k]
                 for k in ("steps", "warmup", "clip", "weight_decay", "optimizer"))


@lru_cache(maxsize=8)
def _optimizer(key: tuple):
    """AdamW (or Adam) with a unit peak learning rate (the step multiplies by lr): clip
    the global gradient norm, Adam, decoupled weight decay (adamw only), linear warm-up
    then cosine decay to 1/10. This is optax.adamw(lr * schedule), or optax.adam, with
    the product taken outside."""
    import optax

    steps, warmup, clip, weight_decay, optimizer = key
    warm = max(1, int(warmup * steps))
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=1.0, warmup_steps=warm,
        decay_steps=max(steps, warm + 1), end_value=0.1)
    decay = [optax.add_decayed_weights(weight_decay)] if optimizer == "adamw" else []
    return optax.chain(optax.clip_by_global_norm(clip), optax.scale_by_adam(), *decay,
                       optax.scale_by_learning_rate(schedule))


@lru_cache(maxsize=8)
def _step_fn(key: tuple):
    """The jitted training step; cached so that runs of one configuration (a resumed
    run, a sweep) compile it once per shape."""
    import jax
    import optax

    opt = _optimizer(key)

    @jax.jit
    def step(params, opt_state, inputs, targets, mask, lr):
        loss, grads = jax.value_and_grad(_loss_fn)(params, inputs, targets, mask)
        updates, opt_state = opt.update(grads, opt_state, params)
        updates = jax.tree_util.tree_map(lambda u: u * lr, updates)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


def _loss_fn(params, inputs, targets, mask):
    import jax
    import jax.numpy as jnp

    from .model_jax import forward

    logits = forward(params, inputs)
    logp = jax.nn.log_softmax(logits, axis=-1)
    nll = -jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    return jnp.sum(nll * mask) / jnp.sum(mask)


def data_rng(seed: int, step: int) -> np.random.Generator:
    """The generator of the training batch of ``step``."""
    return np.random.default_rng([0, seed, step])


def held_out(task: Task, setting: str, n: int, seed: int, samples: int):
    """The evaluation batch of a run: ``samples`` fresh instances, drawn from a stream
    that no training step uses."""
    return task.make_batch(setting, task.sample(np.random.default_rng([1, seed]), n, samples))


@lru_cache(maxsize=1)
def _score_fn():
    import jax
    import jax.numpy as jnp

    from .model_jax import forward

    @jax.jit
    def score(params, inputs, targets, mask, chain_pos, answer_pos):
        logits = forward(params, inputs)
        pred = jnp.argmax(logits, axis=-1)
        logp = jax.nn.log_softmax(logits, axis=-1)
        nll = -jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
        ok = pred == targets
        return (ok[:, answer_pos], jnp.all(ok[:, chain_pos], axis=1),
                jnp.sum(nll * mask, axis=1), jnp.sum(mask, axis=1))

    return score


@lru_cache(maxsize=1)
def _greedy_fn():
    import jax

    from .model_jax import greedy_chain

    return jax.jit(greedy_chain, static_argnums=2)


def jax_metrics(params: dict, task: Task, setting: str, batch, chunk: int = 512
                ) -> dict[str, float]:
    """Accuracies of the JAX model on ``batch`` (a `tasks.Batch`): ``answer_accuracy``
    (the answer token, teacher-forced), ``chain_accuracy`` (every labelled chain token
    right: cot and cot:K teacher-forced, hint its n labels), ``eval_loss``, and for cot
    and cot:K the free-running ``free_running_accuracy`` (the answer at the end of the
    model's own chain) and ``free_running_chain``. ``accuracy`` is the paper's metric:
    for cot the teacher-forced all-chain accuracy, else the answer accuracy."""
    import jax.numpy as jnp

    score = _score_fn()
    B = batch.inputs.shape[0]
    ans, chain, nll, cnt, free_ans, free_chain = [], [], [], [], [], []
    want = emitted(setting, batch.sample.chains)  # what a cot:K model writes
    greedy = _greedy_fn() if cot_stride(setting) else None
    for lo in range(0, B, chunk):
        sl = slice(lo, lo + chunk)
        a, c, l, m = score(params, jnp.asarray(batch.inputs[sl]), jnp.asarray(batch.targets[sl]),
                           jnp.asarray(batch.mask[sl]), jnp.asarray(batch.chain_pos),
                           batch.answer_pos)
        ans.append(np.asarray(a)), chain.append(np.asarray(c))
        nll.append(np.asarray(l)), cnt.append(np.asarray(m))
        if greedy is not None:
            own = np.asarray(greedy(params, jnp.asarray(batch.sample.prompts[sl], jnp.int32),
                                    want.shape[1]))
            free_ans.append(own[:, -1] == batch.sample.answers[sl])
            free_chain.append(np.all(own == want[sl], axis=1))
    out = {"answer_accuracy": float(np.concatenate(ans).mean()),
           "chain_accuracy": float(np.concatenate(chain).mean()),
           "eval_loss": float(np.concatenate(nll).sum() / np.concatenate(cnt).sum())}
    if greedy is not None:
        out["free_running_accuracy"] = float(np.concatenate(free_ans).mean())
        out["free_running_chain"] = float(np.concatenate(free_chain).mean())
        out["accuracy"] = out["chain_accuracy"]
    else:
        out["accuracy"] = out["answer_accuracy"]
    return out


def train(task: str | Task, setting: str, n: int, layers: int, d_model: int = DEFAULTS["d_model"],
          heads: int = DEFAULTS["heads"], d_ff: int = DEFAULTS["d_ff"],
          steps: int = DEFAULTS["steps"], batch: int = DEFAULTS["batch"],
          lr: float = DEFAULTS["lr"], seed: int = 0, out_dir: str | os.PathLike = "run",
          progress: bool = True, *, weight_decay: float | None = None,
          optimizer: str = DEFAULTS["optimizer"],
          init_scale: float = DEFAULTS["init_scale"],
          checkpoint_every: int = DEFAULTS["checkpoint_every"],
          eval_samples: int = DEFAULTS["eval_samples"],
          stop_after: int | None = None) -> dict[str, Any]:
    """Train one model; return its metrics (also written to ``out_dir/metrics.json``).

    ``setting``: base, cot, cot:K (K divides n) or hint. ``optimizer``: adamw, or adam
    (the paper's; ``weight_decay`` must then be None or 0). ``weight_decay`` None is
    0.1 for adamw.

    Metrics: {"task", "setting", "n", "layers", "d_model", "steps", "seconds",
    "accuracy", "chance"} (the contract), plus "answer_accuracy", "chain_accuracy",
    "eval_loss", for cot and cot:K "free_running_accuracy" and "free_running_chain" (see
    `jax_metrics`), "loss" (mean training loss of the last 100 steps),
    "steps_per_second", "params", "heads", "d_ff", "optimizer", "weight_decay", "seed",
    "eval_samples", "finished", "cpu_seconds" and "load" (this call's loop in CPU seconds,
    and the machine's 1, 5, 15 minute load averages as it ended).
    ``seconds`` is the training wall time, summed over resumed calls.

    ``stop_after`` ends this call after that many steps, leaving a checkpoint (a
    deliberate interruption; call again to resume); it then returns a partial dict with
    "finished": False. Raises `CotsimInputError` for bad arguments or a folder holding
    another run (nothing written), `TrainingDiverged` on a NaN loss.
    """
    config = make_config(task, setting, n, layers, d_model=d_model, heads=heads, d_ff=d_ff,
                         steps=steps, batch=batch, lr=lr, seed=seed,
                         weight_decay=weight_decay, init_scale=init_scale,
                         eval_samples=eval_samples, optimizer=optimizer)
    setting = config["setting"]  # canonical: cot:1 is cot
    every = _int_in("checkpoint_every", checkpoint_every, 1)
    out_dir = os.fspath(out_dir)
    done = check_out_dir(out_dir, config)
    if done is not None:
        return done
    created = _make_folders(out_dir)  # missing parents too, as sweep and report do
    try:
        return _train(config, every, out_dir, progress, stop_after)
    except BaseException:
        _remove_unstarted(out_dir, created)
        raise


def _make_folders(path: str) -> list[str]:
    """Create ``path`` and its missing parents; the folders created, innermost first."""
    created = []
    p = os.path.abspath(path)
    while not os.path.lexists(p):
        created.append(p)
        p = os.path.dirname(p)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise CotsimInputError(f"{path}: cannot create the folder ({e.strerror or e})") \
            from None
    return created


def _remove_unstarted(out_dir: str, created: list[str]) -> None:
    """After a failure (a full disk, an overflow, an interrupt) before any checkpoint:
    remove run.json and the folders this call created, so that nothing is left behind.
    A run with a checkpoint or a model stays, to be resumed."""
    if any(os.path.exists(os.path.join(out_dir, f)) for f in RUN_FILES[1:]):
        return
    try:
        os.unlink(os.path.join(out_dir, "run.json"))
    except OSError:
        pass
    for folder in created:
        try:
            os.rmdir(folder)
        except OSError:
            break


def _train(config: dict[str, Any], every: int, out_dir: str, progress: bool,
           stop_after: int | None) -> dict[str, Any]:
    setting, n, layers = config["setting"], config["n"], config["layers"]

    import jax
    import jax.numpy as jnp

    from . import model_jax

    t = parse_task(config["task"])
    write_atomic(os.path.join(out_dir, "run.json"), json.dumps(config, indent=1) + "\n")
    shape = model_jax.Shape(vocab=t.vocab, d_model=config["d_model"], heads=config["heads"],
                            d_head=config["d_head"], d_ff=config["d_ff"],
                            layers=config["layers"], max_len=config["max_len"])
    params = model_jax.init_params(jax.random.PRNGKey(config["seed"]), shape,
                                   config["init_scale"])
    opt_state = _optimizer(_opt_key(config)).init(params)
    ckpt = os.path.join(out_dir, "checkpoint.npz")
    start, before = 0, 0.0
    if os.path.exists(ckpt):
        params, opt_state, start, before = _load_checkpoint(ckpt, params, opt_state, config)

    step_fn = _step_fn(_opt_key(config))
    lr = jnp.float32(config["lr"])
    total = config["steps"]
    end = total if stop_after is None else min(total, start + _int_in("stop_after",
                                                                       stop_after, 1))
    bar = None
    if progress and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, initial=start, desc=f"{t.spec} {setting} n={n} L={layers}",
                   unit="step", leave=False)
    losses: list[float] = []
    t0, c0 = time.perf_counter(), time.process_time()
    t_first = None  # after this call's first step, which includes JAX's compilation
    try:
        for s in range(start, end):
            b = t.make_batch(setting, t.sample(data_rng(config["seed"], s), config["n"],
                                               config["batch"]))
            new_params, new_state, loss = step_fn(params, opt_state, jnp.asarray(b.inputs),
                                                  jnp.asarray(b.targets), jnp.asarray(b.mask),
                                                  lr)
            loss = float(loss)
            if not math.isfinite(loss):
                kept = (f"the last good checkpoint (step {_ckpt_step(ckpt)}) stays in {ckpt}"
                        if os.path.exists(ckpt) else "no checkpoint had been written")
                raise TrainingDiverged(f"training diverged: the loss is {loss} at step "
                                       f"{s + 1} of {total}; {kept}")
            params, opt_state = new_params, new_state
            losses.append(loss)
            if t_first is None:
                t_first = time.perf_counter()
            if bar is not None:
                bar.update(1)
                if s % 20 == 0:
                    bar.set_postfix(loss=f"{loss:.4f}")
            done_steps = s + 1
            if done_steps % every == 0 or done_steps == end:
                if done_steps < total and all(bool(jnp.all(jnp.isfinite(v)))
                                              for v in params.values()):
                    _save_checkpoint(ckpt, params, opt_state, done_steps,
                                     before + time.perf_counter() - t0, config)
    finally:
        if bar is not None:
            bar.close()
    t_end, c_end = time.perf_counter(), time.process_time()
    seconds = before + t_end - t0
    if end < total:
        return {"finished": False, "step": end, "seconds": seconds,
                "loss": float(np.mean(losses[-100:])) if losses else None}
    metrics: dict[str, Any] = {
        "task": t.spec, "setting": setting, "n": config["n"], "layers": config["layers"],
        "d_model": config["d_model"], "steps": total, "seconds": round(seconds, 3)}
    metrics.update(jax_metrics(params, t, setting, held_out(t, setting, config["n"],
                                                            config["seed"],
                                                            config["eval_samples"])))
    metrics.update({
        "chance": t.chance(config["n"]),
        "loss": float(np.mean(losses[-100:])) if losses else None,
        # the rate of the compiled step: this call's steps after its first, whose time
        # is mostly JAX's compilation (first_step_seconds)
        "steps_per_second": (round((total - start - 1) / max(t_end - t_first, 1e-9), 3)
                             if t_first is not None and total - start > 1 else None),
        "first_step_seconds": (round(t_first - t0, 3) if t_first is not None else None),
        # this call's training loop in CPU seconds of the process, and the machine's load
        # (1, 5 and 15 minute averages) as it ended: wall time means little without them
        "cpu_seconds": round(c_end - c0, 3), "load": _load_average(),
        "heads": config["heads"], "d_ff": config["d_ff"], "optimizer": config["optimizer"],
        "weight_decay": config["weight_decay"], "seed": config["seed"],
        "params": model_jax.n_params(params), "eval_samples": config["eval_samples"],
        "resumed_from": start, "finished": True})
    model_jax.save(params, os.path.join(out_dir, "model.npz"))
    write_atomic(os.path.join(out_dir, "metrics.json"), json.dumps(metrics, indent=1) + "\n")
    if os.path.exists(ckpt):
        os.unlink(ckpt)
    return metrics


def _load_average() -> list[float] | None:
    """The machine's 1, 5 and 15 minute load averages, or None where there are none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def _open_npz(path: str):
    """A checkpoint, read through the bounded reader (a regular file, capped)."""
    data = read_bytes(path)
    if not data.startswith(b"PK"):
        raise CotsimInputError(f"{path}: not an .npz archive")
    return np.load(io.BytesIO(data), allow_pickle=False)


def _ckpt_step(path: str) -> int | str:
    try:
        with _open_npz(path) as z:
            return int(json.loads(z["meta"].item())["step"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError, zipfile.BadZipFile):
        return "unknown"
