"""The attention scores of a sweep's trained models, against the formats' exp range.

    .venv/bin/python docs/study_scores.py reports/paper [--format float32 --format float16]

For each run folder of the sweep: the trained model (model.npz, in JAX) on its own
held-out samples (`experiments.train.held_out`, the batch of its metrics), and per layer
the largest attention score and the smallest row maximum (`model_jax.score_extremes`).
The simulator does not subtract the row maximum, so in a format with largest value B and
smallest positive value m, [exp(s)] is inf from about s > ln B (a_ij = inf/inf = NaN), and
a whole row rounds to 0 (Z_i = 0, undefined) where its maximum is below about ln(m / 2).
Those bounds are printed first; then one markdown row per run, with the simulator's
attention_overflow and undefined shares in the first format from results.jsonl.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweep", help="a sweep folder")
    ap.add_argument("--format", action="append", default=None,
                    help="formats whose exp range is printed (default float32, float16, "
                    "bfloat16, paper:e=3,s=4)")
    ap.add_argument("--runs", default="*", help="only run folders matching this glob")
    args = ap.parse_args()

    import jax.numpy as jnp

    from experiments.evaluate import parse_format
    from experiments.model_jax import from_model, score_extremes
    from experiments.sweep import read_results
    from experiments.tasks import parse_task
    from experiments.train import held_out
    from transformer_sim.npz import load

    fmts = args.format or ["float32", "float16", "bfloat16", "paper:e=3,s=4"]
    print("| format | overflow above ln B | Z = 0 below ln(m/2) |")
    print("|---|---|---|")
    for f in fmts:
        F = parse_format(f)
        print(f"| {f} | {math.log(F.max_value):.2f} | {math.log(F.min_positive / 2):.2f} |")
    print()
    rows = {r["run"]: r for r in read_results(args.sweep) if r["format"] == fmts[0]}
    print(f"| run | JAX accuracy | per layer: max s_ij / min_i max_j s_ij | {fmts[0]}: "
          "accuracy, overflow, undefined |")
    print("|---|---|---|---|")
    runs = os.path.join(args.sweep, "runs")
    for name in sorted(os.listdir(runs)):
        model = os.path.join(runs, name, "model.npz")
        if not os.path.exists(model) or not fnmatch.fnmatch(name, args.runs):
            continue
        with open(os.path.join(runs, name, "run.json"), encoding="utf-8") as fh:
            cfg = json.load(fh)
        task = parse_task(cfg["task"])
        batch = held_out(task, cfg["setting"], cfg["n"], cfg["seed"], cfg["eval_samples"])
        ext = np.asarray(score_extremes(from_model(load(model)), jnp.asarray(batch.inputs)))
        layers = ", ".join(f"{hi:.1f} / {lo:.1f}" for hi, lo in ext)
        r = rows.get(name, {})
        sim = (f"{100 * r['teacher_forced']:.0f}%, {100 * r['attention_overflow']:.0f}%, "
               f"{100 * r['undefined']:.0f}%" if r else "-")
        jax_acc = f"{100 * r['train_accuracy']:.0f}%" if r else "-"
        print(f"| {name} | {jax_acc} | {layers} | {sim} |")


if __name__ == "__main__":
    main()
