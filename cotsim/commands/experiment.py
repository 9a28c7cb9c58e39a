"""``cotsim experiment train|eval``: the paper's experiments (docs/experiments.md).

- ``experiment train --task TASK --setting base|cot|cot:K|hint --n N --layers L
  [--d-model D] [--heads H] [--d-ff F] [--steps S] [--batch B] [--lr LR]
  [--optimizer adam|adamw] [--seed S] -o DIR [--json]``
  trains a model (JAX) and prints its metrics; writes DIR/model.npz (format float32)
  and DIR/metrics.json. Rerun with the same arguments to resume an interrupted run.
- ``experiment eval M.npz --task TASK --setting S --n N --format FMT [--samples K]
  [--seed S] [--json]`` runs the model in FMT through the simulator.
- ``experiment agree M.npz --task TASK --setting S --n N [--samples K] [--json]`` compares
  the trained model's greedy tokens in JAX and in the simulator (float32, stable
  softmax) on held-out prompts (`experiments.agreement`); exit 1 below ``--min-agree``.
- ``experiment sweep SPEC.toml -o DIR [--scheduler ADDRESS]`` runs a grid on Dask
  (`experiments.sweep`); ``experiment precision DIR`` runs its solved models on a ladder
  of formats (`experiments.precision`); ``experiment report DIR [-o OUT]`` draws it
  (`experiments.report`).

Thin: both call `experiments.train.train` and `experiments.evaluate.evaluate`. Exit 2 on
bad input (nothing written), 1 when training diverges (NaN loss).
"""
from __future__ import annotations

import argparse
import json
import sys

from ._args import FORMAT_HELP, int_at_least, positive


def only_pair(text: str) -> tuple[str, list[str]]:
    """``FIELD=V1,V2`` of ``experiment sweep --only``."""
    field, eq, values = text.partition("=")
    vals = [v.strip() for v in values.split(",") if v.strip()]
    if not eq or not field.strip() or not vals:
        raise argparse.ArgumentTypeError(f"{text!r}: expected FIELD=V1,V2 (e.g. task=cvp)")
    return field.strip(), vals

#: the contract's keys, printed first
TRAIN_KEYS = ("task", "setting", "n", "layers", "d_model", "steps", "seconds", "accuracy",
              "chance")
TASK_HELP = "modadd:P, s5, isq:M, cvp, or sqmod:P (the automaton's task, P fixed)"
SETTING_HELP = ("base, cot, cot:K (the chain c_K, c_2K, ..., c_n; K divides n) or hint "
                "(n labels, the answer at '=')")


def _integer(text: str) -> int:
    """Any integer; the library says which range the option takes."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def register(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="train models on the paper's tasks and run them in "
                       "finite precision",
                       description="The paper's experiments (Section 4): modadd:P, s5, "
                       "isq:M, cvp (and sqmod:P, the automaton's task), in the settings "
                       "base, cot, cot:K and hint.")
    esub = p.add_subparsers(dest="experiment_command", metavar="ACTION",
                            parser_class=type(p))
    # defaults are documented here but applied by the library (one source of truth)
    t = esub.add_parser("train", help="train a model (JAX, float32, CPU)",
                        description="Train a decoder of the simulator's architecture on "
                        "fresh samples at every step; write DIR/model.npz and "
                        "DIR/metrics.json. The same command again resumes an "
                        "interrupted run.")
    t.add_argument("--task", required=True, help=TASK_HELP)
    t.add_argument("--setting", required=True, help=SETTING_HELP)
    t.add_argument("--n", type=_integer, required=True,
                   help="input length n (1..128)")
    t.add_argument("--layers", type=_integer, required=True,
                   help="number of layers L (1..16)")
    t.add_argument("--d-model", type=positive, default=None, help="width d (default 128)")
    t.add_argument("--heads", type=positive, default=None, help="heads (default 4)")
    t.add_argument("--d-ff", type=positive, default=None, help="MLP width (default 512)")
    t.add_argument("--steps", type=positive, default=None, help="steps (default 2000)")
    t.add_argument("--batch", type=positive, default=None, help="batch size (default 128)")
    t.add_argument("--lr", type=_float, default=None, help="peak learning rate (1e-3)")
    t.add_argument("--optimizer", default=None,
                   help="adamw (default) or adam, the paper's (no weight decay)")
    t.add_argument("--weight-decay", type=_float, default=None, help="AdamW decay (0.1)")
    t.add_argument("--init-scale", type=_float, default=None, help="init std (0.1)")
    t.add_argument("--checkpoint-every", type=positive, default=None,
                   help="steps between checkpoints (default 250)")
    t.add_argument("--eval-samples", type=positive, default=None,
                   help="held-out samples for the final metrics (default 1024)")
    t.add_argument("--seed", type=int_at_least(0), default=0, help="random seed (0)")
    t.add_argument("-o", "--output", required=True, metavar="DIR", help="run folder")
    t.add_argument("--json", action="store_true", help="print one JSON object")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(run=run_train)

    e = esub.add_parser("eval", help="run a trained model in a format, by the simulator",
                        description="Round the model's weights to FMT and run held-out "
                        "prompts through the simulator (KV cache); for cot and cot:K the "
                        "model writes its own chain.")
    _model_task_args(e, "a model .npz file")
    e.add_argument("--format", required=True,
                   help=FORMAT_HELP)
    e.set_defaults(run=run_eval)

    a = esub.add_parser("agree", help="a trained model's tokens: JAX against the simulator",
                        description="Run held-out prompts through the trained model in JAX "
                        "(as it was trained) and in the simulator (float32, stable softmax, "
                        "left-to-right sums) and compare the greedy token after every "
                        "position, and the free-running chains; disagreements are listed "
                        "with both top-two logit gaps (near ties). Exit 1 when fewer than "
                        "--min-agree of the prompts agree at every position.")
    _model_task_args(a, "a model .npz file written by experiment train")
    a.add_argument("--min-agree", type=float, default=None,
                   help="the share of prompts that must agree (default 0.999)")
    a.set_defaults(run=run_agree)

    w = esub.add_parser("sweep", help="train and evaluate a grid of runs on Dask",
                        description="Run every task x setting x n x layers x seed of "
                        "SPEC.toml as one Dask task (train, then evaluate in each format); "
                        "one line per run and format in DIR/results.jsonl. Rerun to resume.")
    w.add_argument("spec", metavar="SPEC.toml", help="the sweep (docs/experiments.md)")
    w.add_argument("-o", "--output", required=True, metavar="DIR", help="sweep folder")
    w.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="a Dask scheduler (default: a local cluster, one process per core)")
    w.add_argument("--workers", type=positive, default=None,
                   help="local cluster size (default: the number of cores)")
    w.add_argument("--max-runs", type=int_at_least(1), default=None,
                   help="stop after this many unfinished runs (rerun to go on)")
    w.add_argument("--order", choices=("spec", "cheapest"), default="spec",
                   help="run order: the SPEC's (task, setting, n, layers, seed), or by "
                   "estimated cost, cheapest first (python -m experiments.budget), so a "
                   "sweep cut short holds every cheap cell (default spec)")
    w.add_argument("--only", metavar="FIELD=V1,V2", action="append", type=only_pair,
                   default=None, help="run only the runs whose FIELD (task, setting, n, "
                   "layers or seed) is one of the values; repeat for more fields (a slice "
                   "of the grid first, the rest by a later call)")
    w.add_argument("--no-progress", action="store_true", help="no progress bar")
    w.set_defaults(run=run_sweep)

    q = esub.add_parser("precision", help="run a sweep's solved models on a ladder of formats",
                        description="Take the models of a finished sweep whose paper's "
                        "metric in float32 is at least --min-accuracy, and run each by the "
                        "simulator, on the same held-out prompts, in every format of the "
                        "ladder; one line per model and format in DIR/precision.jsonl, "
                        "which `experiment report` merges. Rerun to resume.")
    q.add_argument("sweep", metavar="DIR", help="a sweep folder")
    q.add_argument("--format", dest="formats", action="append", default=None,
                   metavar="FMT", help="a format of the ladder; repeat for each (default: "
                   "paper e=2,s=2 .. e=5,s=8, the FP4, FP6 and FP8 formats, float16, bfloat16, "
                   "float32)")
    q.add_argument("--settings", default="cot", metavar="S1,S2",
                   help="settings whose models are taken (default cot)")
    q.add_argument("--min-accuracy", type=_float, default=None,
                   help="take a model when its float32 accuracy is at least this "
                   "(default 0.9)")
    q.add_argument("--samples", type=positive, default=None,
                   help="held-out prompts per model and format, run as one batch "
                   "(default: the SPEC's samples, else 1000)")
    q.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="a Dask scheduler (default: a local cluster, one process per core)")
    q.add_argument("--workers", type=positive, default=None,
                   help="local cluster size (default: the number of cores)")
    q.add_argument("--no-progress", action="store_true", help="no progress bar")
    q.set_defaults(run=run_precision)

    r = esub.add_parser("report", help="figures and tables of a sweep",
                        description="Draw accuracy against n (a panel per task, a line per "
                        "setting and depth) and accuracy against format, and write a "
                        "markdown table; into DIR/report/ unless -o is given.")
    r.add_argument("sweep", metavar="DIR", help="a sweep folder")
    r.add_argument("-o", "--output", default=None, metavar="OUT", help="report folder")
    r.set_defaults(run=run_report)


def _model_task_args(p: argparse.ArgumentParser, model_help: str) -> None:
    """The arguments `eval` and `agree` share: a model, its task, held-out prompts."""
    p.add_argument("model", help=model_help)
    p.add_argument("--task", required=True, help=TASK_HELP)
    p.add_argument("--setting", required=True, help=SETTING_HELP)
    p.add_argument("--n", type=_integer, required=True, help="input length n")
    p.add_argument("--samples", type=positive, default=1000,
                   help="held-out prompts, run as one batch (default 1000)")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="random seed (0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _print(metrics: dict, as_json: bool, first: tuple[str, ...] = ()) -> None:
    order = [k for k in first if k in metrics] + [k for k in metrics if k not in first]
    if as_json:
        print(json.dumps({k: metrics[k] for k in order}))
        return
    width = max(len(k) for k in order)
    for k in order:
        v = metrics[k]
        print(f"{k:<{width}}  {v:.4f}" if isinstance(v, float) else f"{k:<{width}}  {v}")


def run_train(args: argparse.Namespace) -> int:
    from experiments.train import TrainingDiverged, train

    opts = {k: getattr(args, k) for k in ("d_model", "heads", "d_ff", "steps", "batch", "lr",
                                          "weight_decay", "init_scale", "checkpoint_every",
                                          "eval_samples", "optimizer")
            if getattr(args, k) is not None}
    try:
        metrics = train(args.task, args.setting, args.n, args.layers, seed=args.seed,
                        out_dir=args.output, progress=not args.no_progress, **opts)
    except TrainingDiverged as e:
        print(f"cotsim experiment train: {e}", file=sys.stderr)
        return 1
    _print(metrics, args.json, TRAIN_KEYS)
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from experiments.evaluate import evaluate

    result = evaluate(args.model, args.task, args.setting, args.n, args.format,
                      samples=args.samples, seed=args.seed)
    _print(result, args.json, ("accuracy", "undefined", "samples", "format"))
    return 0


def run_agree(args: argparse.Namespace) -> int:
    from circuits.errors import CotsimInputError
    from experiments.agreement import MIN_AGREE, agreement

    least = MIN_AGREE if args.min_agree is None else args.min_agree
    if not 0.0 <= least <= 1.0:
        raise CotsimInputError(f"--min-agree {least!r}: expected a share in 0..1")
    result = agreement(args.model, args.task, args.setting, args.n, samples=args.samples,
                       seed=args.seed)
    _print(result, args.json, ("teacher_forced_agree", "free_running_agree", "samples"))
    worst = min(v for v in (result["teacher_forced_agree"], result["free_running_agree"])
                if v is not None)
    return 0 if worst >= least else 1


def run_sweep(args: argparse.Namespace) -> int:
    from experiments.sweep import run_sweep as sweep, summary_line

    result = sweep(args.spec, args.output, scheduler=args.scheduler, workers=args.workers,
                   progress=not args.no_progress, max_runs=args.max_runs,
                   order=args.order, only=dict(args.only or ()))
    print(summary_line(result))
    for name, why in result.failed.items():
        print(f"cotsim experiment sweep: {name}: {why}", file=sys.stderr)
    return 1 if result.failed else 0


def _names(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def run_precision(args: argparse.Namespace) -> int:
    from experiments.precision import LADDER, MIN_ACCURACY, run_precision as ladder
    from experiments.precision import summary_line

    result = ladder(args.sweep, args.formats or LADDER,
                    _names(args.settings),
                    MIN_ACCURACY if args.min_accuracy is None else args.min_accuracy,
                    scheduler=args.scheduler, workers=args.workers,
                    progress=not args.no_progress, samples=args.samples)
    print(summary_line(result))
    for name, why in result.failed.items():
        print(f"cotsim experiment precision: {name}: {why}", file=sys.stderr)
    return 1 if result.failed else 0


def run_report(args: argparse.Namespace) -> int:
    from experiments.report import write_report

    for path in write_report(args.sweep, args.output):
        print(path)
    return 0
