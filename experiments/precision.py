"""The precision a trained model needs: a sweep's models run on a ladder of formats.

A sweep evaluates every model in the few formats of its SPEC. `run_precision` takes the
models of a finished sweep that solve their task (the paper's metric at least
``min_accuracy`` in the reference format, float32) and runs each again, by the same
simulator and on the same held-out prompts, in every format of a finer ladder
(`LADDER`: ml_dtypes' FP4, FP6, FP8 formats, the paper's from 7 bits up, float16, bfloat16). The
lines go to ``DIR/precision.jsonl``, in the schema of results.jsonl; `experiment
report` merges them, so its *keeps* column names the narrowest format of all that keeps
a model's accuracy.

Resumable like the sweep: a (run, format) with a line in either file is not evaluated
again, and precision.jsonl is rewritten atomically after each model.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Sequence

from circuits.errors import CotsimInputError

from .sweep import (KEY, PRECISION, SweepSpec, dask_client, failed_count, progress_bar,
                    read_all_results, read_results, run_and_record, spec_from_dict)
from .tasks import check_setting
from .train import read_marker

#: formats from narrow to wide (bit width: 4, 6, 6, 7, 8, 8, 8, 8, 8, 10, 12, 13, 15, 16,
#: 16, 17, 22, 32); e5m2 is ml_dtypes' float8_e5m2
LADDER = ("float4_e2m1fn", "float6_e2m3fn", "float6_e3m2fn", "paper:e=2,s=2", "paper:e=3,s=2",
          "e5m2", "float8_e4m3fn", "float8_e4m3", "float8_e3m4", "paper:e=3,s=3", "paper:e=3,s=4",
          "paper:e=4,s=4", "paper:e=4,s=5", "float16", "bfloat16", "paper:e=4,s=6",
          "paper:e=5,s=8", "float32")
#: a model is taken when its reference accuracy is at least this
MIN_ACCURACY = 0.9
#: held-out prompts per model and format unless the SPEC or the caller says otherwise
SAMPLES = 1000


@dataclass
class PrecisionResult:
    """What `run_precision` did: the models taken, those already done, those evaluated
    now, and failures ({run name: one-line reason})."""

    out_dir: str
    models: list[str] = field(default_factory=list)
    skipped: int = 0
    done: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def load_sweep_spec(sweep_dir: str) -> SweepSpec:
    """The SPEC stored in ``sweep_dir/sweep.json``; one line when there is none."""
    if not os.path.lexists(os.path.join(sweep_dir, "sweep.json")):  # the reader refuses the rest
        raise CotsimInputError(f"{sweep_dir}: not a sweep folder (no sweep.json)")
    stored, _ = read_marker(sweep_dir, "sweep.json", "sweep")
    if not isinstance(stored, dict) or not isinstance(stored.get("spec"), dict):
        raise CotsimInputError(f"{sweep_dir}/sweep.json: not a cotsim sweep")
    return spec_from_dict(stored["spec"], os.path.join(sweep_dir, "sweep.json"))


def select_models(rows: Sequence[dict[str, Any]], settings: Sequence[str],
                  min_accuracy: float, ref: str) -> list[tuple]:
    """The (task, setting, n, layers, seed) whose paper's metric in ``ref`` is at least
    ``min_accuracy``, in the order of ``rows``."""
    out: list[tuple] = []
    for r in rows:
        key = (r["task"], r["setting"], r["n"], r["layers"], r["seed"])
        if (r["format"] == ref and r["setting"] in settings and key not in out
                and r.get("teacher_forced") is not None
                and r["teacher_forced"] >= min_accuracy):
            out.append(key)
    return out


def run_precision(sweep_dir: str | os.PathLike, formats: Sequence[str] = LADDER,
                  settings: Sequence[str] = ("cot",), min_accuracy: float = MIN_ACCURACY,
                  *, scheduler: str | None = None, workers: int | None = None,
                  progress: bool = True, samples: int | None = None) -> PrecisionResult:
    """Evaluate the models of a finished sweep that solve their task in every format of
    ``formats``; lines to ``sweep_dir/precision.jsonl``. ``scheduler`` as in
    `experiments.sweep.run_sweep` (``"synchronous"``: in this process). Raises
    `CotsimInputError` for a folder that is not a sweep or has no results, an unknown
    format or setting, or ``min_accuracy`` outside [0, 1], before anything is written.
    ``samples``: held-out prompts per model and format (default: the SPEC's
    ``samples``, else `SAMPLES`), each model's run as one batch."""
    from .evaluate import parse_format
    from .report import reference_format
    from .sweep import Run

    sweep_dir = os.fspath(sweep_dir)
    spec = load_sweep_spec(sweep_dir)
    for f in formats:
        try:
            parse_format(f)
        except (CotsimInputError, ValueError) as e:
            raise CotsimInputError(str(e) if repr(f) in str(e) else f"format {f!r}: {e}"
                                   ) from None
    if not formats:
        raise CotsimInputError("no formats given")
    for s in settings:
        check_setting(s)
    if not 0.0 <= min_accuracy <= 1.0:
        raise CotsimInputError(f"min accuracy {min_accuracy} is out of range: expected a "
                               "number in 0..1")
    rows = read_results(sweep_dir)
    if not rows:
        raise CotsimInputError(f"{sweep_dir}: no finished runs yet (results.jsonl is "
                               "empty); run the sweep first")
    ref = reference_format(rows)
    models = select_models(rows, settings, min_accuracy, ref)
    result = PrecisionResult(out_dir=sweep_dir)
    have = {tuple(r[k] for k in KEY) for r in read_all_results(sweep_dir)}
    todo = []
    k = int(samples) if samples is not None else spec.options.get("samples", SAMPLES)
    for key in models:
        run = Run(*key)
        result.models.append(run.name)
        fmts = [f for f in dict.fromkeys(formats) if run.key(f) not in have]
        if fmts:
            todo.append((run, os.path.join(sweep_dir, "runs", run.name), fmts,
                         spec.train_options(run.task), k))
        else:
            result.skipped += 1
    if not todo:
        return result
    with dask_client(scheduler, workers) as client:
        bar = progress_bar(progress, len(models), result.skipped, "model", "precision")
        result.done = run_and_record(todo, sweep_dir, PRECISION,
                                     read_results(sweep_dir, PRECISION), result.failed,
                                     scheduler, client, bar)
    return result


def summary_line(result: PrecisionResult) -> str:
    """One line for the terminal."""
    return (f"precision {result.out_dir}: {len(result.models)} models, {result.skipped} "
            f"already done, {result.done} evaluated now" + failed_count(result.failed))
