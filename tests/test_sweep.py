"""Sweeps on Dask and their report: results.jsonl lines, resuming (nothing retrained, no
duplicates, an interrupted sweep completes to the same numbers), bad SPECs and folders
(exit 2, one line, nothing written), an unreachable scheduler, and the SVG report.

Every model is tiny (d_model 16, 8 steps, n = 3); the runs are trained once per module
in this process (Dask's place taken by the synchronous driver), and the Dask test uses a
one-worker LocalCluster on runs that are already trained, so it only evaluates.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("jax")
pytest.importorskip("distributed")

from circuits.errors import ParseError  # noqa: E402
from cotsim.cli import main  # noqa: E402
from experiments.evaluate import evaluate  # noqa: E402
from experiments.precision import run_precision  # noqa: E402
from experiments.report import smallest_keeping, write_report  # noqa: E402
from experiments.sweep import (KEY, LISTS, SCALARS, TABLES, load_spec,  # noqa: E402
                               read_all_results, read_results, run_sweep, spec_from_dict)
from experiments.train import train  # noqa: E402

SPEC = """\
# two runs (base and cot) x two formats
tasks = ["modadd:3"]
settings = ["base", "cot"]
n = [3]
layers = [1]
formats = ["float32", "paper:e=1,s=2"]
seeds = [0]
steps = 8
d_model = 16
heads = 2
d_ff = 16
batch = 16
samples = 12
eval_samples = 16
"""
TIMING = {"train_seconds", "steps_per_second", "first_step_seconds", "eval_seconds",
          "train_cpu_seconds", "load"}


def _spec(tmp_path, text=SPEC, name="spec.toml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def _stable(rows):
    """Result rows without wall-clock fields, keyed by KEY."""
    return {tuple(r[k] for k in KEY): {k: v for k, v in r.items() if k not in TIMING}
            for r in rows}


def _snapshot(folder):
    """(relative path -> (mtime_ns, size)) of every file under ``folder``."""
    out = {}
    for root, _, files in os.walk(folder):
        for f in files:
            p = os.path.join(root, f)
            st_ = os.stat(p)
            out[os.path.relpath(p, folder)] = (st_.st_mtime_ns, st_.st_size)
    return out


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A finished sweep of SPEC (2 runs x 2 formats), run in this process."""
    tmp = tmp_path_factory.mktemp("sweep")
    spec = _spec(tmp)
    out = tmp / "out"
    result = run_sweep(spec, out, scheduler="synchronous", progress=False)
    return spec, out, result


def test_sweep_writes_one_line_per_run_and_format(swept):
    spec, out, result = swept
    assert (result.total, result.skipped, result.done, result.failed) == (2, 0, 2, {})
    rows = read_results(out)
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 4 == len(rows)
    assert {tuple(r[k] for k in KEY) for r in rows} == {
        ("modadd:3", s, 3, 1, 0, f) for s in ("base", "cot")
        for f in ("float32", "paper:e=1,s=2")}
    for r in rows:
        for k in ("accuracy", "teacher_forced", "undefined", "train_accuracy", "chance"):
            assert 0.0 <= r[k] <= 1.0, (k, r)
        assert r["samples"] == 12 and r["steps"] == 8 and r["d_model"] == 16
        assert r["train_seconds"] > 0 and r["steps_per_second"] > 0
        # CPU time and the machine's load beside the wall time
        assert r["train_cpu_seconds"] > 0 and len(r["load"]) == 3
        assert (r["teacher_forced_tokens"] is None) == (r["setting"] != "cot")
        run_dir = out / "runs" / r["run"]
        assert r["run"] == f"modadd-3_{r['setting']}_n3_L1_s0"
        assert (run_dir / "model.npz").is_file() and (run_dir / "metrics.json").is_file()
        # the line is what evaluate() says of that model, on the run's seed
        again = evaluate(run_dir / "model.npz", "modadd:3", r["setting"], 3, r["format"],
                         samples=12, seed=0)
        assert (again["accuracy"], again["undefined"], again["teacher_forced"]) == \
            (r["accuracy"], r["undefined"], r["teacher_forced"])
    stored = json.loads((out / "sweep.json").read_text())
    assert stored["format"] == "cotsim-sweep" and stored["spec"]["steps"] == 8


def test_rerun_trains_nothing_and_duplicates_nothing(swept, capsys):
    spec, out, _ = swept
    runs_before = _snapshot(out / "runs")
    results_before = (out / "results.jsonl").read_text()
    assert main(["experiment", "sweep", spec, "-o", str(out), "--no-progress"]) == 0
    assert "2 already finished, 0 finished now" in capsys.readouterr().out
    assert _snapshot(out / "runs") == runs_before
    assert (out / "results.jsonl").read_text() == results_before


def test_interrupted_sweep_completes_to_the_same_numbers(swept, tmp_path):
    """Kill simulated twice over: one run finished (its lines written), the other
    stopped mid-training with a checkpoint. The resumed sweep finishes both, and gives
    the lines an uninterrupted sweep gives (training is deterministic)."""
    spec, full, _ = swept
    out = tmp_path / "out"
    first = run_sweep(spec, out, scheduler="synchronous", progress=False, max_runs=1)
    assert (first.done, len(read_results(out))) == (1, 2)
    s = load_spec(spec)
    pending = s.runs()[1]
    part = train(pending.task, pending.setting, pending.n, pending.layers, seed=pending.seed,
                 out_dir=out / "runs" / pending.name, progress=False, stop_after=3,
                 checkpoint_every=1, **s.train_options(pending.task))
    assert part["finished"] is False
    assert (out / "runs" / pending.name / "checkpoint.npz").exists()
    rest = run_sweep(spec, out, scheduler="synchronous", progress=False)
    assert (rest.skipped, rest.done) == (1, 1)
    assert not (out / "runs" / pending.name / "checkpoint.npz").exists()
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 4
    assert _stable(read_results(out)) == _stable(read_results(full))


def test_cheapest_order_runs_the_cheap_cells_first(tmp_path):
    """--order cheapest: with the SPEC listing cot before base, the one run of
    max_runs=1 is base (the shorter sequence: cheaper by experiments.budget), where the
    SPEC's order runs cot."""
    from experiments.budget import run_cost

    text = SPEC.replace('settings = ["base", "cot"]', 'settings = ["cot", "base"]')
    spec = _spec(tmp_path, text)
    s = load_spec(spec)
    cost = {r.setting: sum(run_cost(s, r.task, r.setting, r.n, r.layers).values())
            for r in s.runs()}
    assert cost["base"] < cost["cot"]  # the orders differ
    for order, first in (("spec", "cot"), ("cheapest", "base")):
        out = tmp_path / order
        run_sweep(spec, out, scheduler="synchronous", progress=False, max_runs=1,
                  order=order)
        assert {r["setting"] for r in read_results(out)} == {first}
    with pytest.raises(ValueError):
        run_sweep(spec, tmp_path / "x", scheduler="synchronous", progress=False,
                  order="random")


def test_only_runs_a_slice_of_the_grid(tmp_path, capsys):
    """--only setting=cot runs cot alone; the rest is left for a later call, which
    finishes it; an unknown field is one line, exit 2."""
    spec = _spec(tmp_path)
    out = tmp_path / "out"
    assert main(["experiment", "sweep", spec, "-o", str(out), "--no-progress",
                 "--only", "setting=cot"]) == 0
    assert {r["setting"] for r in read_results(out)} == {"cot"}
    rest = run_sweep(spec, out, scheduler="synchronous", progress=False)
    assert (rest.skipped, rest.done) == (1, 1)
    assert {r["setting"] for r in read_results(out)} == {"base", "cot"}
    capsys.readouterr()
    assert main(["experiment", "sweep", spec, "-o", str(out), "--only", "depth=1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "depth" in err[0] and "Traceback" not in err[0]


def test_duplicate_lines_are_merged(swept, tmp_path):
    _, full, _ = swept
    out = tmp_path / "out"
    shutil.copytree(full, out)
    text = (out / "results.jsonl").read_text()
    first = text.splitlines()[0]
    (out / "results.jsonl").write_text(text + first + "\n")
    rows = read_results(out)
    assert len(rows) == 4 and _stable(rows) == _stable(read_results(full))


def test_dask_local_cluster_one_worker(swept, tmp_path):
    """The Dask path: the runs are trained, two result lines are lost; a one-worker
    LocalCluster evaluates exactly those again and retrains nothing."""
    spec, full, _ = swept
    out = tmp_path / "out"
    shutil.copytree(full, out)
    lines = (out / "results.jsonl").read_text().splitlines()
    (out / "results.jsonl").write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    runs_before = _snapshot(out / "runs")
    result = run_sweep(spec, out, workers=1, progress=False)
    assert (result.skipped, result.done, result.failed) == (1, 1, {})
    assert _snapshot(out / "runs") == runs_before
    assert _stable(read_results(out)) == _stable(read_results(full))


# --- bad input -----------------------------------------------------------------------------
# (the line that replaces the key's line, the message, how many lines below it the error
# is found: tomllib reports an unclosed array where it notices it)
BAD = [
    ("colour = 3\n", "colour: unknown key", 0),
    ("n = \"3\"\n", "n: expected a list of integers", 0),
    ("n = [3, \"4\"]\n", "found a string", 0),
    ("n = [0]\n", "n = 0 is out of range", 0),
    ("layers = [99]\n", "layers = 99 is out of range", 0),
    ("tasks = [\"foo\"]\n", "tasks:", 0),
    ("tasks = [\"modadd:1\"]\n", "tasks:", 0),
    ("formats = [\"paper:e=1\"]\n", "formats:", 0),
    ("seeds = []\n", "seeds: is empty", 0),
    ("steps = 2.5\n", "steps: expected an integer", 0),
    ("steps = true\n", "steps: expected an integer", 0),
    ("settings = [\"cot\", \"cot\"]\n", "lists a value twice", 0),
    ("settings = [\"base\", \"cot:2\"]\n", "settings: setting 'cot:2': K = 2 does not "
     "divide n = 3", 0),
    ("settings = [\"cot:1\"]\n", "settings: write 'cot:1' as 'cot'", 0),
    ("settings = [\"cot:x\"]\n", "settings: setting 'cot:x': K must be", 0),
    ("optimizer = \"sgd\"\n", "optimizer: optimizer 'sgd': unknown", 0),
    ("optimizer = 1\n", "optimizer: expected a string", 0),
    ("n = [3\n", "not valid TOML", 1),
]


def _replace(key_line: str) -> str:
    """SPEC with the line of the same key replaced (or a new first line)."""
    key = key_line.split("=")[0].strip()
    lines = SPEC.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.split("=")[0].strip() == key:
            return "".join(lines[:i] + [key_line] + lines[i + 1:]), i + 1
    return key_line + SPEC, 1


@pytest.mark.parametrize("line, message, below", BAD)
def test_bad_spec_exit_2_one_line_nothing_written(tmp_path, capsys, line, message, below):
    text, lineno = _replace(line)
    spec = _spec(tmp_path, text)
    out = tmp_path / "out"
    assert main(["experiment", "sweep", spec, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert f"{spec}:{lineno + below}:" in err, err
    assert not out.exists()


# a [steps_by_task] table appended to SPEC (tables come last in TOML)
BAD_TABLES = [
    ("[steps_by_task]\n\"modadd:5\" = 3\n", "steps_by_task: 'modadd:5' is not one of"),
    ("[steps_by_task]\n\"modadd:3\" = 0\n", "steps_by_task: steps = 0 is out of range"),
    ("[steps_by_task]\n\"modadd:3\" = 2.0\n", "steps_by_task: modadd:3: expected an integer"),
    ("steps_by_task = 3\n", "steps_by_task: expected a table"),
]


@pytest.mark.parametrize("table, message", BAD_TABLES)
def test_bad_steps_table_exit_2(tmp_path, capsys, table, message):
    spec = _spec(tmp_path, SPEC + table)
    out = tmp_path / "out"
    assert main(["experiment", "sweep", spec, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    lineno = len(SPEC.splitlines()) + 1
    assert err.count("\n") == 1 and message in err and f"{spec}:{lineno}:" in err, err
    assert not out.exists()


def test_steps_by_task_overrides_steps_for_that_task(tmp_path):
    text = SPEC.replace('settings = ["base", "cot"]', 'settings = ["base"]').replace(
        'formats = ["float32", "paper:e=1,s=2"]', 'formats = ["float32"]')
    text = text.replace('tasks = ["modadd:3"]', 'tasks = ["modadd:3", "modadd:4"]')
    spec = load_spec(_spec(tmp_path, text + '[steps_by_task]\n"modadd:4" = 3\n'))
    assert spec.train_options("modadd:4")["steps"] == 3
    assert spec.train_options("modadd:3")["steps"] == 8
    assert "steps_by_task" not in spec.train_options("modadd:4")
    result = run_sweep(spec, tmp_path / "out", scheduler="synchronous", progress=False,
                       max_runs=2)
    assert result.done == 2
    steps = {r["task"]: r["steps"] for r in read_results(tmp_path / "out")}
    assert steps == {"modadd:3": 8, "modadd:4": 3}


def test_missing_list_is_refused(tmp_path, capsys):
    spec = _spec(tmp_path, "\n".join(l for l in SPEC.splitlines() if not l.startswith("seeds")))
    assert main(["experiment", "sweep", spec, "-o", str(tmp_path / "out")]) == 2
    assert "seeds: missing" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@given(key=st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12))
def test_any_unknown_key_is_named(key):
    data = {"tasks": ["s5"], "settings": ["cot"], "n": [2], "layers": [1],
            "formats": ["float32"], "seeds": [0], key: 1}
    if key in LISTS or key in SCALARS or key in TABLES:
        return
    with pytest.raises(ParseError) as e:
        spec_from_dict(data, "x.toml", f"{key} = 1\n")
    assert str(e.value).startswith(f"x.toml:1: {key}: unknown key")


def test_foreign_folder_and_other_spec_are_refused(swept, tmp_path, capsys):
    spec, full, _ = swept
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["experiment", "sweep", spec, "-o", str(foreign)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no sweep.json" in err
    assert sorted(os.listdir(foreign)) == ["notes.txt"]
    # a sweep of another spec (steps differ) is refused too, and left as it was
    other = _spec(tmp_path, SPEC.replace("steps = 8", "steps = 9"), "other.toml")
    before = _snapshot(full)
    assert main(["experiment", "sweep", other, "-o", str(full)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "another spec" in err and "steps 8 there, 9 here" in err
    assert _snapshot(full) == before


def test_unreachable_scheduler(tmp_path, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out"
    code = main(["experiment", "sweep", _spec(tmp_path), "-o", str(out),
                 "--scheduler", f"tcp://127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "cannot be reached" in err
    assert not out.exists()


# --- the report ----------------------------------------------------------------------------
def test_report_writes_svgs_and_tables(swept, tmp_path, capsys):
    _, full, _ = swept
    out = tmp_path / "rep"
    assert main(["experiment", "report", str(full), "-o", str(out)]) == 0
    assert sorted(os.listdir(out)) == ["accuracy_heatmap.svg", "accuracy_vs_format.svg",
                                       "accuracy_vs_n.svg", "accuracy_vs_n_jax.svg",
                                       "report.md"]
    for name in ("accuracy_vs_n.svg", "accuracy_vs_n_jax.svg", "accuracy_vs_format.svg"):
        root = ET.parse(out / name).getroot()
        assert root.tag.endswith("svg")
        assert "modadd:3" in (out / name).read_text()
    md = (out / "report.md").read_text()
    rows = read_results(full)
    tf = {(r["setting"], r["format"]): r["teacher_forced"] for r in rows}
    assert f"| base | 1 | {100 * tf['base', 'float32']:.1f} /" in md
    # the JAX table (first) and the simulator's (second)
    jax = {r["setting"]: r["train_accuracy"] for r in rows}
    sim_at = md.index("### The simulator, float32")
    assert md.index(f"| base | 1 | {100 * jax['base']:.1f} /") < sim_at
    assert md.index(f"| base | 1 | {100 * tf['base', 'float32']:.1f} /", sim_at) > sim_at
    assert md.count("**CoT beats base and hint") == 2
    for r in rows:
        assert r["run"] in md
    # default: into DIR/report/
    paths = write_report(full)
    assert all(p.parent == full / "report" and p.exists() for p in paths)


def test_smallest_keeping_format():
    rows = [{"task": "s5", "setting": "cot", "n": 4, "layers": 1, "seed": 0, "format": f,
             "teacher_forced": a} for f, a in
            [("float32", 0.9), ("float16", 0.89), ("paper:e=2,s=2", 0.5), ("bfloat16", 0.7)]]
    # narrowest first: paper:e=2,s=2 (7 bits), bfloat16 and float16 (16), float32
    assert smallest_keeping(rows, ("s5", "cot", 4, 1), "float32") == "float16"
    rows[1]["teacher_forced"] = 0.5
    assert smallest_keeping(rows, ("s5", "cot", 4, 1), "float32") == "float32"


# --- the precision ladder ------------------------------------------------------------------
def test_precision_ladder_adds_formats_and_the_report_merges_them(swept, tmp_path, capsys):
    """The cot model (taken at min accuracy 0) is run in two more formats; the lines are
    those of evaluate() on the same prompts; a rerun evaluates nothing; the report's
    table and figure carry the new formats; results.jsonl and the runs are untouched."""
    _, full, _ = swept
    out = tmp_path / "out"
    shutil.copytree(full, out)
    before, runs_before = (out / "results.jsonl").read_text(), _snapshot(out / "runs")
    ladder = ["paper:e=2,s=2", "e5m2", "float8_e4m3fn", "float32"]  # float32: in the sweep
    assert main(["experiment", "precision", str(out), *(a for f in ladder
                                                         for a in ("--format", f)),
                 "--min-accuracy", "0", "--workers", "1", "--no-progress"]) == 0
    assert "1 models, 0 already done, 1 evaluated now" in capsys.readouterr().out
    lines = read_results(out, "precision.jsonl")
    assert {(r["setting"], r["format"]) for r in lines} == {("cot", "paper:e=2,s=2"),
                                                            ("cot", "e5m2"),
                                                            ("cot", "float8_e4m3fn")}
    for r in lines:
        direct = evaluate(out / "runs" / r["run"] / "model.npz", "modadd:3", "cot", 3,
                          r["format"], samples=12, seed=0)
        assert (r["accuracy"], r["teacher_forced"], r["undefined"]) == (
            direct["accuracy"], direct["teacher_forced"], direct["undefined"])
    assert (out / "results.jsonl").read_text() == before
    assert _snapshot(out / "runs") == runs_before
    again = run_precision(out, ladder, ("cot",), 0.0, scheduler="synchronous",
                          progress=False)
    assert (again.skipped, again.done) == (1, 0)
    assert len(read_all_results(out)) == 7
    write_report(out)
    md = (out / "report" / "report.md").read_text()
    assert "| paper:e=2,s=2 | e5m2 | float8_e4m3fn |" in md  # narrowest first
    assert "e5m2" in (out / "report" / "accuracy_vs_format.svg").read_text()


def test_precision_takes_only_solved_models(swept, tmp_path):
    _, full, _ = swept
    out = tmp_path / "out"
    shutil.copytree(full, out)
    rows = read_results(out)
    tf = {r["setting"]: r["teacher_forced"] for r in rows if r["format"] == "float32"}
    cut = max(tf.values())
    res = run_precision(out, ["e5m2"], ("base", "cot"), cut, scheduler="synchronous",
                        progress=False)
    assert sorted(res.models) == sorted(f"modadd-3_{s}_n3_L1_s0" for s in tf
                                        if tf[s] >= cut)
    if cut < 1.0:
        res = run_precision(out, ["e5m2"], ("base", "cot"), min(1.0, cut + 1e-9),
                            scheduler="synchronous", progress=False)
        assert res.models == []


@pytest.mark.parametrize("argv, message", [
    (["--format", "paper:e=9"], "format 'paper:e=9'"),
    (["--settings", "cot,foo"], "setting 'foo'"),
    (["--min-accuracy", "1.5"], "out of range"),
])
def test_precision_bad_input(swept, tmp_path, capsys, argv, message):
    _, full, _ = swept
    out = tmp_path / "out"
    shutil.copytree(full, out)
    snap = _snapshot(out)
    assert main(["experiment", "precision", str(out), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert _snapshot(out) == snap


def test_precision_of_a_non_sweep_folder(tmp_path, capsys):
    (tmp_path / "x").write_text("x")
    assert main(["experiment", "precision", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a sweep folder" in err


def test_report_of_a_non_sweep_folder(tmp_path, capsys):
    assert main(["experiment", "report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a sweep folder" in err
    assert os.listdir(tmp_path) == []


# --- cotsim demo ---------------------------------------------------------------------------
def test_demo_shows_the_experiments_of_a_sweep(swept, tmp_path, capsys):
    _, full, _ = swept
    before = sorted(p.relative_to(full) for p in full.rglob("*"))
    out = tmp_path / "rep"
    assert main(["demo", "--out", str(out), "rounding_is_counter_free",
                 "--experiments", str(full)]) == 0
    page = (out / "index.html").read_text()
    md = (out / "index.md").read_text()
    assert page.count('id="experiments"') == 1 and page.index('id="experiments"') < \
        page.index("</main>")
    assert "<svg" in page[page.index('id="experiments"'):]
    assert "## Experiments (the paper's Section 4)" in md
    links = re.findall(r"!\[[^\]]*\]\((experiments/[^)]+)\)", md)
    assert links and all((out / link).is_file() for link in links)  # links resolve
    assert sorted(p.relative_to(full) for p in full.rglob("*")) == before  # only read
    assert "experiments:" in capsys.readouterr().out


def test_demo_refuses_a_non_sweep_before_the_checks(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["demo", "--out", str(out), "rounding_is_counter_free",
                 "--experiments", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a sweep folder" in err
    assert not out.exists()


@pytest.mark.parametrize("name", ["paper.toml", "paper_s5.toml",
                                  "paper_cvp.toml", "study.toml", "study_s5.toml",
                                  "study_depth.toml", "tradeoff.toml", "tradeoff_s5.toml",
                                  "tradeoff_n8.toml", "tradeoff_s5_n8.toml"])
def test_shipped_specs_are_valid(name):
    """The SPECs in experiments/ load; paper.toml gives S5 its own step count."""
    path = os.path.join(os.path.dirname(__file__), "..", "experiments", name)
    spec = load_spec(path)
    assert spec.runs()
    if name.startswith("paper"):  # the paper trains with Adam
        assert spec.train_options("cvp")["optimizer"] == "adam"
    if name.startswith(("study", "tradeoff")):  # the new study: 1,000 prompts, Adam
        assert spec.samples == 1000 and spec.options["optimizer"] == "adam"
        # n = 8: the trade-off where the budget's models learn (docs/experiments.md)
        assert max(spec.n) >= (8 if name.endswith("_n8.toml") else 16)
    if name == "paper.toml":
        assert len(spec.runs()) == 72 and "sqmod" not in " ".join(spec.tasks)
        assert spec.train_options("s5")["steps"] == 3000
        assert spec.train_options("cvp")["steps"] == 1000


def test_a_sweep_of_cot_k_settings(tmp_path):
    """cot:K runs get their own folders, lines and report rows."""
    text = SPEC.replace('settings = ["base", "cot"]', 'settings = ["cot", "cot:3"]').replace(
        'formats = ["float32", "paper:e=1,s=2"]', 'formats = ["float32"]')
    out = tmp_path / "out"
    result = run_sweep(load_spec(_spec(tmp_path, text + 'optimizer = "adam"\n')), out,
                       scheduler="synchronous", progress=False)
    assert result.done == 2 and not result.failed
    assert sorted(os.listdir(out / "runs")) == ["modadd-3_cot-3_n3_L1_s0",
                                                "modadd-3_cot_n3_L1_s0"]
    rows = {r["setting"]: r for r in read_results(out)}
    assert set(rows) == {"cot", "cot:3"} and all(r["optimizer"] == "adam" for r in rows.values())
    assert rows["cot:3"]["teacher_forced_tokens"] is not None
    md = next(p for p in write_report(out) if p.suffix == ".md").read_text()
    assert "| cot:3 | 1 |" in md and "**modadd:3, n = 3**" in md
    assert "| L | n/K = 1 | n/K = 3 |" in md  # CoT tokens ascending: cot:3, then cot
    svg = (out / "report" / "depth_vs_cot.svg").read_text()
    assert "CoT tokens n/K" in svg


_INTERRUPTIBLE = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # as on a terminal
from cotsim.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_interrupted_dask_sweep_is_one_line(tmp_path, signame):
    """Issue 18: a signal while a one-worker LocalCluster trains ends the sweep with one
    line and 128 + the signal's number: the cluster is shut down, no Dask traceback, no
    resource_tracker warning. Bounded: 400 tiny steps, a 60 s guard after the signal."""
    import signal
    import subprocess
    import sys
    import time

    sig = getattr(signal, signame)
    spec = _spec(tmp_path, SPEC.replace("steps = 8", "steps = 400")
                 .replace('settings = ["base", "cot"]', 'settings = ["base"]'))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    p = subprocess.Popen([sys.executable, "-c", _INTERRUPTIBLE, "experiment", "sweep", spec,
                          "-o", str(out), "--workers", "1", "--no-progress"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         start_new_session=True)
    try:
        t0 = time.monotonic()
        while not list(out.glob("runs/*/run.json")):  # the worker is training
            assert p.poll() is None, p.communicate()
            assert time.monotonic() - t0 < 240, "the run never started"
            time.sleep(0.2)
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
    assert p.returncode == 128 + sig, (p.returncode, err)
    assert err.count("\n") == 1 and err.startswith("cotsim: "), err


def test_the_new_study_fits_its_budget():
    """The five SPECs of the new study add up to at most 3 hours on 2 cores by
    `experiments.budget`'s estimate, and the estimate grows with the grid."""
    from experiments.budget import estimate, run_cost

    here = os.path.join(os.path.dirname(__file__), "..", "experiments")
    specs = [load_spec(os.path.join(here, f)) for f in (
        "study.toml", "study_s5.toml", "study_depth.toml", "tradeoff.toml",
        "tradeoff_s5.toml")]
    total = sum(estimate(s)["cpu_seconds"] for s in specs)
    assert 3600 < total <= 3 * 3600 * 2
    s5 = specs[1]
    one, four = run_cost(s5, "s5", "cot", 16, 1), run_cost(s5, "s5", "cot", 16, 4)
    assert four["train"] == pytest.approx(4 * one["train"])
    assert run_cost(s5, "s5", "cot", 16, 1)["eval"] > run_cost(s5, "s5", "cot", 4, 1)["eval"]
