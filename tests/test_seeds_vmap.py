"""experiments/seeds_vmap.py: a vmapped training step gives each seed the model of its
single run (float32, up to the order of batched sums)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")

from experiments import seeds_vmap as sv  # noqa: E402
from experiments.train import make_config, train  # noqa: E402


def test_vmapped_seeds_match_single_runs(tmp_path):
    seeds, steps = (0, 3), 6
    cfg = make_config("modadd:5", "cot", 4, 2, d_model=16, heads=2, d_ff=32, steps=steps,
                      batch=16, lr=3e-3, seed=0, weight_decay=None, init_scale=0.1,
                      eval_samples=8, optimizer="adam")
    params, state = sv.init(cfg, seeds)
    params, state, losses = sv.run_steps(cfg, seeds, params, state, 0, steps)
    assert losses.shape == (steps, 2) and np.all(np.isfinite(losses))
    assert not np.allclose(losses[:, 0], losses[:, 1])  # the seeds differ
    from experiments.model_jax import from_model
    from transformer_sim.npz import load

    for i, seed in enumerate(seeds):
        train("modadd:5", "cot", 4, 2, d_model=16, heads=2, d_ff=32, steps=steps, batch=16,
              lr=3e-3, seed=seed, out_dir=tmp_path / f"s{seed}", progress=False,
              optimizer="adam", eval_samples=8)
        single = from_model(load(tmp_path / f"s{seed}" / "model.npz"))
        mine = sv.unstack(params, len(seeds))[i]
        assert set(single) == set(mine)
        for k in single:
            a, b = np.asarray(single[k]), np.asarray(mine[k])
            assert a.shape == b.shape
            # the same model up to float32 rounding of batched sums
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6, err_msg=k)
        moved = max(float(np.abs(np.asarray(mine[k])
                                 - np.asarray(sv.unstack(sv.init(cfg, seeds)[0], 2)[i][k])
                                 ).max()) for k in single)
        assert moved > 1e-3  # training moved the weights: the comparison sees something
