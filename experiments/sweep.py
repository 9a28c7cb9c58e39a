"""Sweeps: a grid of trainings and finite-precision evaluations, run as Dask tasks.

A SPEC (TOML) names lists ``tasks``, ``settings`` (base, cot, cot:K, hint), ``n``,
``layers``, ``formats`` and ``seeds``, and optional scalars (`SCALARS`: ``steps``,
``d_model``, ``optimizer`` and a few more). Every
run (task x setting x n x layers x seed) is one Dask task: it trains into
``DIR/runs/<name>/`` with `experiments.train.train` (which resumes from a checkpoint, or
returns the metrics of a finished run), then runs the trained model through the
simulator in each listed format with `experiments.evaluate.evaluate`. The client
appends one line per run and format to ``DIR/results.jsonl`` as each run finishes.

Layout of DIR: ``sweep.json`` (the spec, written first; a folder whose sweep.json holds
another spec is refused), ``results.jsonl``, ``runs/<name>/`` (run folders, `run_name`),
and ``report/`` (`experiments.report`).

Resumable: a run whose every format has a line in results.jsonl is not submitted; a run
trained but not evaluated is evaluated only (train() returns its stored metrics), and a
run interrupted mid-training resumes from its checkpoint. results.jsonl is rewritten
atomically after each finished run, deduplicated by (task, setting, n, layers, seed,
format), so a killed sweep loses nothing that finished.

Scheduling: a `distributed.LocalCluster` sized to the machine (one process per core, one
thread each, with JAX, BLAS and Numba held to one thread, so that runs do not fight over
cores), or an existing cluster at ``scheduler`` (its workers must see DIR at the same
path), or ``"synchronous"``: the same tasks in this process, in order (tests, debugging).
"""
from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from circuits.atomic import write_atomic
from circuits.errors import CotsimInputError, ParseError
from circuits.io import parse_json, read_text

from .tasks import check_setting, parse_task
from .train import read_marker

SWEEP_FORMAT = "cotsim-sweep"
SWEEP_VERSION = 1
#: the grid's lists and the type of their elements
LISTS: dict[str, type] = {"tasks": str, "settings": str, "n": int, "layers": int,
                          "formats": str, "seeds": int}
#: optional scalars: the training options of every run, and ``samples`` (held-out prompts
#: per format in the simulator) and ``eval_samples`` (held-out samples of the JAX metrics)
SCALARS: dict[str, type] = {"steps": int, "d_model": int, "heads": int, "d_ff": int,
                            "batch": int, "lr": float, "weight_decay": float,
                            "init_scale": float, "samples": int, "eval_samples": int,
                            "optimizer": str}
#: optional tables, task spec -> value, overriding a scalar for that task's runs (the
#: serial tasks need more steps than the parallel one: ``[steps_by_task]`` ``s5 = 3000``)
TABLES: dict[str, str] = {"steps_by_task": "steps"}
#: evaluation prompts per format unless the SPEC says ``samples``
DEFAULT_SAMPLES = 256
#: the result lines of the grid's formats, and of `experiments.precision`'s ladder
RESULTS = "results.jsonl"
PRECISION = "precision.jsonl"
#: the fields of a result line that identify it
KEY = ("task", "setting", "n", "layers", "seed", "format")
#: the fields of a run that ``--only`` can select on
ONLY_KEYS = ("task", "setting", "n", "layers", "seed")
#: the most runs one SPEC may hold: counted before anything else, so that a hostile grid
#: is refused before it is built
MAX_RUNS = 10_000
#: the most formats one SPEC may list
MAX_FORMATS = 64
#: the largest SPEC file
MAX_SPEC_BYTES = 1 << 20
#: the most local worker processes per core (more only fight over the cores)
MAX_WORKERS_PER_CORE = 4
#: seconds to wait for a ``--scheduler`` before giving up
CONNECT_TIMEOUT = 5
#: environment of a local worker: one thread for XLA, BLAS and Numba
WORKER_ENV = {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false "
                           "intra_op_parallelism_threads=1",
              "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "NUMBA_NUM_THREADS": "1"}


@dataclass(frozen=True)
class SweepSpec:
    """A validated SPEC: the grid's lists and the scalar options that were given."""

    tasks: tuple[str, ...]
    settings: tuple[str, ...]
    n: tuple[int, ...]
    layers: tuple[int, ...]
    formats: tuple[str, ...]
    seeds: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The canonical form stored in sweep.json (lists, then the given scalars)."""
        d: dict[str, Any] = {k: list(getattr(self, k)) for k in LISTS}
        d.update(sorted(self.options.items()))
        return d

    @property
    def samples(self) -> int:
        return self.options.get("samples", DEFAULT_SAMPLES)

    def train_options(self, task: str | None = None) -> dict[str, Any]:
        """Keyword arguments of `train` (the scalars other than ``samples``) for a run of
        ``task``: a table of `TABLES` that names the task overrides its scalar."""
        opts = {k: v for k, v in self.options.items() if k != "samples" and k not in TABLES}
        for table, scalar in TABLES.items():
            if task is not None and task in self.options.get(table, {}):
                opts[scalar] = self.options[table][task]
        return opts

    def runs(self) -> list["Run"]:
        """Every run of the grid, in the SPEC's order (task, setting, n, layers, seed)."""
        return [Run(t, s, n, L, seed) for t in self.tasks for s in self.settings
                for n in self.n for L in self.layers for seed in self.seeds]


@dataclass(frozen=True)
class Run:
    """One training of the grid."""

    task: str
    setting: str
    n: int
    layers: int
    seed: int

    @property
    def name(self) -> str:
        """The run's folder under DIR/runs: readable and fixed by the run alone, e.g.
        ``modadd-7_cot_n8_L2_s0``, ``s5_cot-4_n16_L1_s0``."""
        return f"{self.task.replace(':', '-')}_{self.setting.replace(':', '-')}_n{self.n}" \
               f"_L{self.layers}_s{self.seed}"

    def key(self, fmt: str) -> tuple:
        return (self.task, self.setting, self.n, self.layers, self.seed, fmt)


# --- the SPEC -----------------------------------------------------------------------
def _key_line(text: str, key: str) -> int | None:
    """The line (1-based) where ``key`` is assigned at the top level, if it can be seen."""
    k = re.escape(key)
    pat = re.compile(rf"^\s*(?:(?:{k}|\"{k}\"|'{k}')\s*=|\[\s*{k}\s*\])")
    for i, line in enumerate(text.splitlines(), 1):
        if pat.match(line):
            return i
    return None


_PLURAL = {str: "strings", int: "integers", float: "numbers"}


def _type_name(v: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(v), type(v).__name__)


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read and validate a SPEC file; `ParseError` (``SPEC:line: ...``) for an unknown
    key, a wrong type or a value out of range, before anything runs."""
    import tomllib

    path = os.fspath(path)
    text = read_text(path, MAX_SPEC_BYTES, "UTF-8 text (a SPEC is a TOML file)")
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise ParseError("TOML nested too deeply", path) from None
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column \d+\)", str(e))
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
        raise ParseError(f"not valid TOML: {msg}", path,
                         int(m.group(1)) if m else None) from None
    except ValueError as e:  # an integer over Python's 4,300-digit limit
        raise ParseError("not valid TOML: an integer of more than 4300 digits", path,
                         _long_integer_line(text)) from None
    return spec_from_dict(data, path, text)


def _long_integer_line(text: str) -> int | None:
    """The line of the first integer of over 4,300 digits, if there is one."""
    m = re.search(r"\d{4301,}", text)
    return text.count("\n", 0, m.start()) + 1 if m else None


def spec_from_dict(data: dict[str, Any], path: str = "<spec>", text: str = "") -> SweepSpec:
    """Validate a SPEC given as a dict (as TOML parses it); ``text`` locates keys."""
    def fail(key: str, msg: str) -> ParseError:
        return ParseError(f"{key}: {msg}", path, _key_line(text, key))

    for key in data:
        if key not in LISTS and key not in SCALARS and key not in TABLES:
            known = ", ".join([*LISTS, *SCALARS, *TABLES])
            raise fail(key, f"unknown key (a SPEC has {known})")
    for key in LISTS:
        if key not in data:
            raise ParseError(f"{key}: missing (a SPEC needs the lists "
                             f"{', '.join(LISTS)})", path)
    lists: dict[str, tuple] = {}
    grid = 1
    for key in ("tasks", "settings", "n", "layers", "seeds"):
        grid *= len(data[key]) if isinstance(data[key], list) else 1
    if grid > MAX_RUNS:
        raise ParseError(f"the grid has {grid} runs (tasks x settings x n x layers x "
                         f"seeds), over the limit of {MAX_RUNS}; split the sweep", path)
    if isinstance(data["formats"], list) and len(data["formats"]) > MAX_FORMATS:
        raise fail("formats", f"{len(data['formats'])} formats, over the limit of "
                   f"{MAX_FORMATS}")
    for key, kind in LISTS.items():
        v = data[key]
        if not isinstance(v, list):
            raise fail(key, f"expected a list of {_PLURAL[kind]}, got {_type_name(v)}")
        if not v:
            raise fail(key, "is empty")
        for x in v:
            if type(x) is not kind:
                raise fail(key, f"expected a list of {_PLURAL[kind]}, "
                           f"found {_type_name(x)} {x!r}")
        if len(set(v)) != len(v):
            raise fail(key, "lists a value twice")
        lists[key] = tuple(v)
    options: dict[str, Any] = {}
    for key, kind in SCALARS.items():
        if key not in data:
            continue
        v = data[key]
        ok = type(v) is kind or (kind is float and type(v) is int)
        if not ok:
            raise fail(key, f"expected {_type_name(kind())}, got {_type_name(v)} {v!r}")
        options[key] = float(v) if kind is float else v
    for key, scalar in TABLES.items():
        if key not in data:
            continue
        v, kind = data[key], SCALARS[scalar]
        if not isinstance(v, dict):
            raise fail(key, f"expected a table of task = {_type_name(kind())}, "
                       f"got {_type_name(v)}")
        for task, x in v.items():
            if task not in lists["tasks"]:
                raise fail(key, f"{task!r} is not one of the SPEC's tasks")
            if type(x) is not kind:
                raise fail(key, f"{task}: expected {_type_name(kind())}, "
                           f"got {_type_name(x)} {x!r}")
        options[key] = dict(sorted(v.items()))
    spec = SweepSpec(**lists, options=options)
    _check_values(spec, fail)
    return spec


def _check_values(spec: SweepSpec, fail: Callable[[str, str], ParseError]) -> None:
    """Every task, setting, n, layers, format and option as train/evaluate will take
    them, so that a bad value stops the sweep before its first run."""
    from .evaluate import parse_format
    from .train import DEFAULTS, make_config

    for t in spec.tasks:
        try:
            task = parse_task(t)
        except CotsimInputError as e:
            raise fail("tasks", str(e)) from None
        if task.spec != t:
            raise fail("tasks", f"write {t!r} as {task.spec!r}")
    for s in spec.settings:
        try:
            canonical = check_setting(s)
        except CotsimInputError as e:
            raise fail("settings", str(e)) from None
        if canonical != s:
            raise fail("settings", f"write {s!r} as {canonical!r}")
    for f in spec.formats:
        try:
            parse_format(f)
        except (CotsimInputError, ValueError) as e:
            raise fail("formats", str(e)) from None
    s = spec.options.get("samples")
    if s is not None and s < 1:
        raise fail("samples", f"{s} is out of range: expected an integer >= 1")
    for run in spec.runs():
        given = spec.train_options(run.task)
        opts = {k: given.get(k, DEFAULTS[k]) for k in
                ("d_model", "heads", "d_ff", "steps", "batch", "lr", "init_scale",
                 "eval_samples", "optimizer")}
        opts["weight_decay"] = given.get("weight_decay")  # None: the optimiser's default
        try:
            make_config(run.task, run.setting, run.n, run.layers, seed=run.seed, **opts)
        except CotsimInputError as e:
            msg = str(e)
            key = next((k for k in ("n", "layers", "seed", "setting", *opts)
                        if msg.startswith(f"{k} ")), "tasks")
            if key == "steps" and run.task in spec.options.get("steps_by_task", {}):
                key = "steps_by_task"
            raise fail({"seed": "seeds", "setting": "settings"}.get(key, key), msg) from None


# --- the output folder ----------------------------------------------------------------
def check_sweep_dir(out_dir: str, spec: SweepSpec) -> bool:
    """Refuse a folder that holds anything but a sweep of ``spec`` (nothing written).
    True when it already holds this sweep."""
    stored, found = read_marker(out_dir, "sweep.json", "sweep")
    if not found:
        return False
    marker = os.path.join(out_dir, "sweep.json")
    ok = isinstance(stored, dict) and stored.get("format") == SWEEP_FORMAT
    if not ok:
        raise CotsimInputError(f"{marker}: not a cotsim sweep; use another folder")
    mine, theirs = spec.as_dict(), stored.get("spec")
    if theirs != mine:
        keys = sorted(set(mine) | set(theirs or {})) if isinstance(theirs, dict) else []
        diff = [k for k in keys if theirs.get(k) != mine.get(k)]
        what = "; ".join(f"{k} {theirs.get(k)!r} there, {mine.get(k)!r} here"
                         for k in diff[:2]) or "unreadable spec"
        raise CotsimInputError(f"{out_dir}: holds a sweep of another spec ({what}); use "
                               "another folder")
    return True


def read_results(out_dir: str | os.PathLike, name: str = RESULTS
                 ) -> list[dict[str, Any]]:
    """The result lines of a sweep folder (``name``: results.jsonl, or
    `experiments.precision`'s precision.jsonl), deduplicated by `KEY` (a later line
    wins), in the order of first appearance; [] when there are none."""
    path = os.path.join(os.fspath(out_dir), name)
    if not os.path.exists(path):
        return []
    rows: dict[tuple, dict[str, Any]] = {}
    for i, line in enumerate(read_text(path).split("\n"), 1):
        if not line.strip():
            continue
        row = parse_json(line, path, i)
        problem = _row_problem(row)
        if problem:
            raise ParseError(f"not a result line: {problem}", path, i)
        rows[tuple(row[k] for k in KEY)] = row
    return list(rows.values())


#: the numbers of a result line that the report and the ladder read
ROW_NUMBERS = ("accuracy", "teacher_forced", "teacher_forced_tokens", "chain_accuracy",
               "undefined", "attention_overflow", "chance", "train_accuracy",
               "train_free_running_accuracy", "samples", "eval_seconds", "d_model", "steps",
               "train_seconds", "steps_per_second", "first_step_seconds",
               "train_cpu_seconds")


def _row_problem(row: Any) -> str | None:
    """Why ``row`` is no result line (a JSON object with the scalars of `KEY`, and
    numbers or null where numbers are read), or None."""
    if not isinstance(row, dict):
        return "expected a JSON object"
    for k in KEY:
        if k not in row:
            return f"no {k!r} (a line has {', '.join(KEY)})"
        want = int if k in ("n", "layers", "seed") else str
        if type(row[k]) is not want:
            return f"{k} is {type(row[k]).__name__}, expected {want.__name__}"
    if type(row.get("run")) is not str:  # the run's folder name, which the report reads
        return f"run is {type(row.get('run')).__name__}, expected str"
    for k in ROW_NUMBERS:
        v = row.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            return f"{k} is {type(v).__name__}, expected a number or null"
        if v is not None and not math.isfinite(v):  # cotsim writes none; the plots choke
            return f"{k} is {v}, expected a finite number or null"
    load = row.get("load")
    if load is not None and not (isinstance(load, list) and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
            for x in load)):
        return "load is not a list of finite numbers or null"
    return None


def read_all_results(out_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """results.jsonl, then the lines of precision.jsonl whose key it lacks: every format
    each run was evaluated in."""
    rows = read_results(out_dir)
    have = {tuple(r[k] for k in KEY) for r in rows}
    return rows + [r for r in read_results(out_dir, PRECISION)
                   if tuple(r[k] for k in KEY) not in have]


def write_results(out_dir: str, rows: Iterable[dict[str, Any]], name: str = RESULTS
                  ) -> None:
    """Replace ``name`` atomically by ``rows`` (one JSON object a line)."""
    text = "".join(json.dumps(r) + "\n" for r in rows)
    write_atomic(os.path.join(out_dir, name), text.encode("utf-8"))


# --- one run (a Dask task) ---------------------------------------------------------------
def run_one(run: Run, run_dir: str, formats: list[str], train_options: dict[str, Any],
            samples: int) -> list[dict[str, Any]]:
    """Train ``run`` into ``run_dir`` (resuming, or reading a finished run's metrics) and
    evaluate it in each of ``formats``; its result lines. Runs on a Dask worker."""
    from .evaluate import evaluate
    from .train import train

    metrics = train(run.task, run.setting, run.n, run.layers, seed=run.seed,
                    out_dir=run_dir, progress=False, **train_options)
    model = os.path.join(run_dir, "model.npz")
    rows = []
    for fmt in formats:
        r = evaluate(model, run.task, run.setting, run.n, fmt, samples=samples, seed=run.seed)
        rows.append({
            "task": run.task, "setting": run.setting, "n": run.n, "layers": run.layers,
            "seed": run.seed, "format": fmt, "accuracy": r["accuracy"],
            "teacher_forced": r["teacher_forced"],
            "teacher_forced_tokens": r.get("teacher_forced_tokens"),
            "chain_accuracy": r["chain_accuracy"], "undefined": r["undefined"],
            "attention_overflow": r.get("attention_overflow"),
            "samples": r["samples"], "format_spec": r["format"],
            "eval_seconds": r["seconds"],
            "train_accuracy": metrics.get("accuracy"),
            "train_free_running_accuracy": metrics.get("free_running_accuracy"),
            "eval_samples": metrics.get("eval_samples"),
            "chance": metrics.get("chance"), "d_model": metrics.get("d_model"),
            "steps": metrics.get("steps"), "optimizer": metrics.get("optimizer", "adamw"),
            "train_seconds": metrics.get("seconds"),
            "steps_per_second": metrics.get("steps_per_second"),
            "first_step_seconds": metrics.get("first_step_seconds"),
            "train_cpu_seconds": metrics.get("cpu_seconds"), "load": metrics.get("load"),
            "run": run.name})
    return rows


# --- the driver ------------------------------------------------------------------------
@dataclass
class SweepResult:
    """What `run_sweep` did: runs ``total`` in the grid, ``skipped`` (already finished),
    ``done`` (finished by this call), ``failed`` ({run name: one-line reason})."""

    out_dir: str
    total: int
    skipped: int = 0
    done: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def connect(scheduler: str | None, workers: int | None):
    """A dask.distributed Client: to ``scheduler``, or to a new LocalCluster."""
    cores = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                else os.cpu_count() or 1)
    if scheduler is None and workers is not None and workers > MAX_WORKERS_PER_CORE * cores:
        raise CotsimInputError(f"--workers {workers}: over the limit of "
                               f"{MAX_WORKERS_PER_CORE * cores} ({MAX_WORKERS_PER_CORE} per "
                               f"core, {cores} cores)")
    import logging

    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            return Client(scheduler, timeout=f"{CONNECT_TIMEOUT}s"), None
        except (OSError, TimeoutError, ValueError) as e:
            raise CotsimInputError(f"--scheduler {scheduler}: cannot be reached "
                                   f"({' '.join(str(e).split()) or type(e).__name__})"
                                   ) from None
    n = workers or cores
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR,
                           env=dict(WORKER_ENV))
    return Client(cluster), cluster


def run_sweep(spec: SweepSpec | str | os.PathLike, out_dir: str | os.PathLike, *,
              scheduler: str | None = None, workers: int | None = None,
              progress: bool = True, max_runs: int | None = None, order: str = "spec",
              only: dict[str, Sequence[str]] | None = None,
              on_result: Callable[[list[dict[str, Any]]], None] | None = None) -> SweepResult:
    """Run the sweep ``spec`` (a `SweepSpec` or a SPEC path) into ``out_dir``.

    ``scheduler``: None (a LocalCluster of ``workers`` processes, default one per core),
    a scheduler address, or ``"synchronous"`` (in this process, no Dask cluster).
    ``order``: "spec" runs the grid in the SPEC's order; "cheapest" by the estimated
    cost of `experiments.budget.run_cost`, cheapest first (a sweep cut short then holds
    every cheap cell, both seeds together, rather than the first tasks only).
    ``only`` keeps the runs whose fields match: {"task": ["cvp"], "n": ["8", "16"]}
    (values as text; keys among task, setting, n, layers, seed), a slice of the grid run
    first; the rest is left for a later call.
    ``max_runs`` stops after that many unfinished runs were submitted (a deliberate
    partial sweep; run again to go on). Raises `CotsimInputError` on a bad SPEC, a
    foreign folder or an unreachable scheduler, before anything is written. A run that
    fails (e.g. diverges) is reported in ``failed``; the others go on."""
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    out_dir = os.fspath(out_dir)
    existing = check_sweep_dir(out_dir, spec)
    rows = read_results(out_dir) if existing else []
    have = {tuple(r[k] for k in KEY) for r in rows}
    runs = spec.runs()
    todo = [(run, [f for f in spec.formats if run.key(f) not in have]) for run in runs]
    todo = [(run, fmts) for run, fmts in todo if fmts]
    result = SweepResult(out_dir=out_dir, total=len(runs), skipped=len(runs) - len(todo))
    for k, values in (only or {}).items():
        if k not in ONLY_KEYS:
            raise CotsimInputError(f"--only {k}=...: not a field of a run (one of "
                                   f"{', '.join(ONLY_KEYS)})")
        todo = [(run, f) for run, f in todo if str(getattr(run, k)) in set(values)]
    if order == "cheapest":
        from .budget import run_cost

        todo.sort(key=lambda rf: sum(run_cost(spec, rf[0].task, rf[0].setting, rf[0].n,
                                              rf[0].layers).values()))  # stable: seeds stay together
    elif order != "spec":
        raise ValueError(f"order must be 'spec' or 'cheapest', not {order!r}")
    if max_runs is not None:
        todo = todo[:max(0, int(max_runs))]
    with dask_client(scheduler, workers, needed=bool(todo)) as client:
        # connected (or refused) before anything is written
        os.makedirs(os.path.join(out_dir, "runs"), exist_ok=True)
        if not existing:
            write_atomic(os.path.join(out_dir, "sweep.json"), (json.dumps(
                {"format": SWEEP_FORMAT, "version": SWEEP_VERSION, "spec": spec.as_dict()},
                indent=1) + "\n").encode("utf-8"))
        if not todo:
            return result
        args = [(run, os.path.join(out_dir, "runs", run.name), fmts,
                 spec.train_options(run.task), spec.samples) for run, fmts in todo]
        bar = progress_bar(progress, len(runs), result.skipped, "run", "sweep")
        result.done = run_and_record(args, out_dir, RESULTS, rows, result.failed,
                                     scheduler, client, bar, on_result)
        return result


@contextmanager
def dask_client(scheduler: str | None, workers: int | None, needed: bool = True):
    """A Dask client for `run_tasks` (None for ``"synchronous"`` or when not
    ``needed``), closed with its local cluster on leaving."""
    client = cluster = None
    if needed and scheduler != "synchronous":
        client, cluster = connect(scheduler, workers)
    try:
        yield client
    finally:
        _close_quietly(client, cluster)


def _close_quietly(client, cluster) -> None:
    """Close the client, then its local cluster, on every path (success, a failure, an
    interrupt). Dask logs the end of the connections it is closing (a heartbeat's
    CommClosedError, a cancelled future) as tracebacks; they are no error of the sweep,
    so its loggers are silenced first."""
    import logging

    if client is None and cluster is None:
        return
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    for thing in (client, cluster):
        if thing is not None:
            try:
                thing.close()
            except Exception:  # noqa: BLE001 - already shutting down; nothing to report
                pass


def progress_bar(progress: bool, total: int, initial: int, unit: str, desc: str):
    """A tqdm bar of finished runs on a terminal, else None."""
    if not (progress and sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit=unit, desc=desc)


def run_and_record(args: list[tuple], out_dir: str, name: str,
                   rows: Iterable[dict[str, Any]], failed: dict[str, str],
                   scheduler: str | None, client, bar,
                   on_result: Callable[[list[dict[str, Any]]], None] | None = None) -> int:
    """`run_tasks` over ``args``, rewriting ``out_dir/name`` (``rows`` and the new lines,
    deduplicated by `KEY`) atomically after each finished run; a failed run's reason goes
    to ``failed``. Returns how many runs finished."""
    by_key = {tuple(r[k] for k in KEY): r for r in rows}
    done = 0

    def finished(run: Run, new: list[dict[str, Any]] | None, error: str | None) -> None:
        nonlocal done
        if error is not None:
            failed[run.name] = error
        else:
            for r in new:
                by_key[tuple(r[k] for k in KEY)] = r
            write_results(out_dir, by_key.values(), name)
            done += 1
            if on_result is not None:
                on_result(new)
        if bar is not None:
            bar.update(1)

    try:
        run_tasks(args, finished, scheduler, client)
    finally:
        if bar is not None:
            bar.close()
    return done


def run_tasks(args: list[tuple], finished: Callable, scheduler: str | None,
              client) -> None:
    """`run_one(*a)` for each of ``args``, in this process (``client`` None) or on Dask;
    ``finished(run, rows, error)`` as each ends. A `CotsimInputError` stops them all."""
    if client is None:
        for a in args:
            try:
                finished(a[0], run_one(*a), None)
            except CotsimInputError:
                raise
            except Exception as e:  # noqa: BLE001 - one run's failure is reported
                finished(a[0], None, _one_line(e))
    else:
        _run_on_dask(client, args, finished)


def _run_on_dask(client, args: list[tuple], finished: Callable) -> None:
    from distributed import as_completed

    futures = {}
    for a in args:
        # pure=False: a rerun must run again (it resumes), never reuse a cached result
        fut = client.submit(run_one, *a, key=f"cotsim-run-{a[0].name}-{time.time_ns()}",
                            pure=False)
        futures[fut] = a[0]
    for fut in as_completed(futures):
        run = futures[fut]
        try:
            rows = fut.result()
        except CotsimInputError:
            for other in futures:
                other.cancel()
            raise
        except Exception as e:  # noqa: BLE001 - one run's failure is reported, others go on
            finished(run, None, _one_line(e))
            continue
        finished(run, rows, None)


def _one_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {' '.join(str(e).split())}"


def summary_line(result: SweepResult) -> str:
    """One line for the terminal."""
    return (f"sweep {result.out_dir}: {result.total} runs, {result.skipped} already "
            f"finished, {result.done} finished now" + failed_count(result.failed))


def failed_count(failed: dict[str, str]) -> str:
    """``", K failed"`` for the summary line, or nothing."""
    return f", {len(failed)} failed" if failed else ""
