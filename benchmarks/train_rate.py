"""Per-step training rates of the study's shapes, to size the study (docs/experiments.md,
"The new study: sizing").

Every figure is one JSON line (``"bench": "train_rate"``): for a task, setting, n, depth
and width, the CPU seconds and wall seconds of the compiled training step (the mean over
``--steps`` steps after a first one that compiles), the batch generation included, as
`experiments.train.train` runs it, on one thread (XLA, BLAS and Numba held to one, as a
sweep's worker is). CPU seconds are the figure to size with on a shared machine; the
load average is recorded beside them.

``--seeds K`` (K > 1) adds, per shape, the rate of K seeds trained at once under
`jax.vmap` (`experiments.seeds_vmap`, each seed with its own batch), as
``"bench": "train_rate_vmap"`` with the CPU seconds per step of all K seeds and the
ratio to K single steps (below 1: vmap saves time).

Run: XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \\
     .venv/bin/python benchmarks/train_rate.py [--n 16] [--layers 1,4] [--steps 20]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rate(task: str, setting: str, n: int, layers: int, d_model: int, d_ff: int,
         steps: int) -> dict:
    import jax
    import jax.numpy as jnp

    from experiments import model_jax
    from experiments.tasks import parse_task
    from experiments.train import _opt_key, _optimizer, _step_fn, data_rng, make_config

    cfg = make_config(task, setting, n, layers, d_model=d_model, heads=4, d_ff=d_ff,
                      steps=1000, batch=128, lr=1e-3, seed=0, weight_decay=None,
                      init_scale=0.1, eval_samples=1, optimizer="adam")
    t = parse_task(task)
    shape = model_jax.Shape(vocab=t.vocab, d_model=d_model, heads=4, d_head=d_model // 4,
                            d_ff=d_ff, layers=layers, max_len=cfg["max_len"])
    params = model_jax.init_params(jax.random.PRNGKey(0), shape, 0.1)
    state = _optimizer(_opt_key(cfg)).init(params)
    step = _step_fn(_opt_key(cfg))
    lr = jnp.float32(1e-3)

    def one(s, params, state):
        b = t.make_batch(cfg["setting"], t.sample(data_rng(0, s), n, 128))
        params, state, loss = step(params, state, jnp.asarray(b.inputs),
                                   jnp.asarray(b.targets), jnp.asarray(b.mask), lr)
        float(loss)
        return params, state

    c0, w0 = time.process_time(), time.perf_counter()
    params, state = one(0, params, state)
    first = time.process_time() - c0
    c1, w1 = time.process_time(), time.perf_counter()
    for s in range(1, steps + 1):
        params, state = one(s, params, state)
    return {"bench": "train_rate", "task": task, "setting": setting, "n": n,
            "layers": layers, "d_model": d_model, "d_ff": d_ff, "seq_len": cfg["max_len"],
            "cpu_s_per_step": round((time.process_time() - c1) / steps, 5),
            "wall_s_per_step": round((time.perf_counter() - w1) / steps, 5),
            "first_step_cpu_s": round(first, 2), "load": round(os.getloadavg()[0], 2),
            "machine": platform.machine(), "cpus": os.cpu_count()}


def vmap_rate(task: str, setting: str, n: int, layers: int, d_model: int, d_ff: int,
              steps: int, seeds: int, single_cpu_s: float) -> dict:
    from experiments import seeds_vmap
    from experiments.train import make_config

    cfg = make_config(task, setting, n, layers, d_model=d_model, heads=4, d_ff=d_ff,
                      steps=1000, batch=128, lr=1e-3, seed=0, weight_decay=None,
                      init_scale=0.1, eval_samples=1, optimizer="adam")
    ids = list(range(seeds))
    params, state = seeds_vmap.init(cfg, ids)
    params, state, _ = seeds_vmap.run_steps(cfg, ids, params, state, 0, 1)  # compiles
    c1, w1 = time.process_time(), time.perf_counter()
    seeds_vmap.run_steps(cfg, ids, params, state, 1, 1 + steps)
    cpu = (time.process_time() - c1) / steps
    return {"bench": "train_rate_vmap", "task": task, "setting": setting, "n": n,
            "layers": layers, "d_model": d_model, "seeds": seeds,
            "cpu_s_per_step": round(cpu, 5),
            "wall_s_per_step": round((time.perf_counter() - w1) / steps, 5),
            "vs_single_steps": round(cpu / (seeds * single_cpu_s), 3),
            "load": round(os.getloadavg()[0], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="modadd:7,s5,isq:512,cvp")
    ap.add_argument("--settings", default="base,cot")
    ap.add_argument("--n", default="16")
    ap.add_argument("--layers", default="1,4")
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--d-ff", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=1,
                    help="also time this many seeds at once under jax.vmap")
    a = ap.parse_args()
    for task in a.tasks.split(","):
        for setting in a.settings.split(","):
            for n in map(int, a.n.split(",")):
                for L in map(int, a.layers.split(",")):
                    one = rate(task, setting, n, L, a.d_model, a.d_ff, a.steps)
                    print(json.dumps(one), flush=True)
                    if a.seeds > 1:
                        print(json.dumps(vmap_rate(task, setting, n, L, a.d_model, a.d_ff,
                                                   a.steps, a.seeds,
                                                   one["cpu_s_per_step"])), flush=True)


if __name__ == "__main__":
    main()
