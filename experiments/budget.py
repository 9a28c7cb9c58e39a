"""The CPU cost of a sweep, estimated before it runs (docs/experiments.md, "The new study:
sizing").

A run costs its training steps, the JAX compilation, and the simulator's held-out
prompts in each format. Each is proportional, to first order, to the tokens the model
reads times its depth, so the estimate is one rate per kind of work, measured on this
machine (`benchmarks/train_rate.py` for training; `experiment eval` for the simulator):

- a training step of batch 128 at d_model 64: `TRAIN_S` CPU seconds per layer and
  position of the sequence (modadd:7 at n = 16: 0.0215 s at L = 1, T = 17; 0.120 s at
  L = 4; 0.0372 s for cot, T = 32, L = 1: 1.1 to 1.8 ms, taken as 1.5);
- wider models: times (d_model / 64)^1.6 (S5 at d_model 128 ran about 3 times slower a
  step than at 64 in the first study);
- the simulator, batched (`run_batch`, from the branch that brings it): `EVAL_S` CPU
  seconds per prompt, layer and position (modadd:7 cot n = 8, L = 1, d 64, 16
  positions: 1,000 prompts in 12.1 CPU s in float32; 64 in 1.6 s). The one-prompt
  `Decoder` of today's `evaluate` costs about 15 times more;
- `COMPILE_S` per run for JAX's compilation of its step and its metrics.

Run ``python -m experiments.budget SPEC.toml [SPEC.toml ...]`` for a table per SPEC and
the total in CPU hours and in hours on 2 cores.
"""
from __future__ import annotations

import sys
from typing import Any

from .sweep import SweepSpec, load_spec
from .tasks import parse_task

#: CPU seconds of a training step (batch 128, d_model 64) per layer and position
TRAIN_S = 1.5e-3
#: CPU seconds of the batched simulator per prompt, layer and position (d_model 64)
EVAL_S = 12.1 / 1000 / 16
#: CPU seconds of JAX's compilation per run
COMPILE_S = 10.0
#: the cost of a step grows as (d_model / 64) ** WIDTH_EXP
WIDTH_EXP = 1.6


def run_cost(spec: SweepSpec, task: str, setting: str, n: int, layers: int
             ) -> dict[str, float]:
    """CPU seconds of one run of ``spec``: training, compilation, simulator."""
    opts = spec.train_options(task)
    t = parse_task(task)
    T = t.seq_len(setting, n)
    width = (opts.get("d_model", 128) / 64) ** WIDTH_EXP
    steps = opts.get("steps", 2000) * opts.get("batch", 128) / 128
    return {"train": TRAIN_S * width * layers * T * steps, "compile": COMPILE_S,
            "eval": EVAL_S * width * layers * T * spec.samples * len(spec.formats)}


def estimate(spec: SweepSpec) -> dict[str, Any]:
    """The total CPU seconds of ``spec``'s runs, by kind, and per task."""
    total = {"train": 0.0, "compile": 0.0, "eval": 0.0}
    per_task: dict[str, float] = {}
    for r in spec.runs():
        c = run_cost(spec, r.task, r.setting, r.n, r.layers)
        for k, v in c.items():
            total[k] += v
        per_task[r.task] = per_task.get(r.task, 0.0) + sum(c.values())
    return {"runs": len(spec.runs()), **total, "cpu_seconds": sum(total.values()),
            "per_task": per_task}


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    grand = 0.0
    for p in paths:
        e = estimate(load_spec(p))
        grand += e["cpu_seconds"]
        print(f"{p}: {e['runs']} runs, {e['cpu_seconds']:,.0f} CPU s (training "
              f"{e['train']:,.0f}, compilation {e['compile']:,.0f}, simulator "
              f"{e['eval']:,.0f}); " + ", ".join(f"{t} {s:,.0f}"
                                                 for t, s in e["per_task"].items()))
    print(f"in all: {grand:,.0f} CPU s = {grand / 3600:.2f} CPU hours = "
          f"{grand / 7200:.2f} hours on 2 cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
