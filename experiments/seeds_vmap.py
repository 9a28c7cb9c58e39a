"""Training several seeds of one shape at once: the training step under `jax.vmap`.

Runs that differ only in their seed share every shape, so their steps can run as one
batched computation: parameters and optimiser states stacked on a leading seed axis,
each seed with its own batch (``data_rng(seed, step)``, as `experiments.train.train`
draws it). One compilation serves all seeds, and the matrix products are wider.

This is the building block only; `experiments.sweep` still trains one run folder per
seed (docs/experiments.md, "The new study": vmap over seeds). tests/test_seeds_vmap.py
checks that a vmapped step gives each seed the parameters of its single run, up to
float32 rounding (batched reductions may sum in another order).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

import numpy as np


@lru_cache(maxsize=8)
def vmapped_step(key: tuple):
    """`experiments.train._step_fn(key)` over a leading seed axis of parameters,
    optimiser state and batch (the learning rate shared)."""
    import jax

    from .train import _step_fn

    return jax.jit(jax.vmap(_step_fn(key), in_axes=(0, 0, 0, 0, 0, None)))


def stack(trees: Sequence[Any]):
    """Pytrees of one structure stacked leaf by leaf on a new leading axis."""
    import jax
    import jax.numpy as jnp

    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *trees)


def unstack(tree: Any, count: int) -> list:
    """The inverse of `stack`."""
    import jax

    return [jax.tree_util.tree_map(lambda x, i=i: x[i], tree) for i in range(count)]


def init(config: dict[str, Any], seeds: Sequence[int]):
    """Stacked initial parameters and optimiser states of ``seeds`` for ``config`` (a
    `train.make_config` result), each seed's as `train.train` makes it."""
    import jax

    from . import model_jax
    from .tasks import parse_task
    from .train import _opt_key, _optimizer

    t = parse_task(config["task"])
    shape = model_jax.Shape(vocab=t.vocab, d_model=config["d_model"], heads=config["heads"],
                            d_head=config["d_head"], d_ff=config["d_ff"],
                            layers=config["layers"], max_len=config["max_len"])
    params = [model_jax.init_params(jax.random.PRNGKey(s), shape, config["init_scale"])
              for s in seeds]
    opt = _optimizer(_opt_key(config))
    return stack(params), stack([opt.init(p) for p in params])


def run_steps(config: dict[str, Any], seeds: Sequence[int], params, opt_state,
              start: int, end: int):
    """Steps ``start`` to ``end`` of every seed at once; (params, opt_state, losses
    [steps, seeds])."""
    import jax.numpy as jnp

    from .tasks import parse_task
    from .train import _opt_key, data_rng

    t = parse_task(config["task"])
    step = vmapped_step(_opt_key(config))
    lr = jnp.float32(config["lr"])
    losses = []
    for s in range(start, end):
        bs = [t.make_batch(config["setting"], t.sample(data_rng(seed, s), config["n"],
                                                       config["batch"])) for seed in seeds]
        params, opt_state, loss = step(params, opt_state,
                                       jnp.asarray(np.stack([b.inputs for b in bs])),
                                       jnp.asarray(np.stack([b.targets for b in bs])),
                                       jnp.asarray(np.stack([b.mask for b in bs])), lr)
        losses.append(np.asarray(loss))
    return params, opt_state, np.array(losses)
