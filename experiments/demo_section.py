"""The experiments section of `cotsim demo`: the shipped study, and one live training.

The section has two parts:

- **the study** (`STUDY`: docs/study/, one sweep folder per SPEC, or the sweep folder(s)
  of ``--experiments DIR``), drawn from its results without training anything: per
  sweep, a heat map of accuracy (the simulator in the reference format, each cell with
  its Wilson 95% interval over the held-out prompts), the paper's claims as
  `experiments.claims` judges them, and the depth-against-CoT-length heat map when the
  sweep has cot:K runs (a sentence says so when it has none);
- **a live training** (`LIVE`): one small model trained from scratch while the theorem
  checks run (a second process, one core: `start_live`), then run by the simulator in
  `LIVE_FORMATS` with the stable softmax it was trained with. modadd:7 with CoT at
  n = 8, one layer, d_model 64, 400 steps of Adam: it reaches 100% (measured,
  docs/experiments.md, "The demo") in about 20 CPU seconds.

``python -m experiments.demo_section DIR`` is the live run's process: it trains into
DIR/run/, evaluates, and writes DIR/live.json atomically.
"""
from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from circuits.errors import CotsimInputError

#: the shipped study: sweep folders under docs/study/
STUDY = Path(__file__).resolve().parents[1] / "docs" / "study"
#: the live training: a task that trains to 100% in well under 60 s on one core
LIVE: dict[str, Any] = {"task": "modadd:7", "setting": "cot", "n": 8, "layers": 1,
                        "d_model": 64, "heads": 4, "d_ff": 256, "steps": 400,
                        "optimizer": "adam", "eval_samples": 512, "seed": 0}
#: the formats the live model is run in by the simulator, widest first
LIVE_FORMATS = ("float32", "bfloat16", "paper:e=3,s=4")
#: held-out prompts per format (the simulator writes the chain of each, n tokens)
LIVE_SAMPLES = 64


# --- the study ------------------------------------------------------------------------
def sweep_folders(path: str | os.PathLike) -> list[Path]:
    """``path`` when it is a sweep folder (sweep.json and results), else its sub-folders
    that are, in name order; [] when there are none."""
    from .sweep import read_results

    p = Path(path)
    if (p / "sweep.json").is_file():
        return [p] if read_results(p) else []
    if not p.is_dir():
        return []
    return [d for d in sorted(p.iterdir())
            if (d / "sweep.json").is_file() and read_results(d)]


def check_experiments_folder(path: str | os.PathLike) -> None:
    """One line (`CotsimInputError`) when ``--experiments`` names no finished sweep."""
    p = Path(path)
    if not p.is_dir():
        raise CotsimInputError(f"--experiments {p}: not a folder")
    if not sweep_folders(p):
        if (p / "sweep.json").is_file():
            raise CotsimInputError(f"--experiments {p}: no finished runs yet "
                                   "(results.jsonl is empty)")
        raise CotsimInputError(f"--experiments {p}: not a sweep folder (no sweep.json, "
                               "nor a folder of sweeps); run cotsim experiment sweep "
                               "SPEC.toml -o DIR first")


def _describe(rows: Sequence[dict[str, Any]], spec: dict[str, Any]) -> str:
    runs = len({r["run"] for r in rows})
    seeds = len({r["seed"] for r in rows})
    widths = sorted({r.get("d_model") for r in rows if r.get("d_model")})
    samples = sorted({r["samples"] for r in rows if r.get("samples")})
    return (f"{runs} trained models ({', '.join(dict.fromkeys(r['task'] for r in rows))}; "
            f"{'one seed' if seeds == 1 else f'{seeds} seeds'}; d_model "
            f"{', '.join(map(str, widths)) or '?'}; {spec.get('optimizer', 'adamw')}), each "
            f"run by the simulator on {', '.join(map(str, samples)) or '?'} held-out "
            "prompts per format")


#: the badge class of a verdict (proofs/report.py's CSS)
BADGE = {"reproduced": "holds", "not reproduced": "fails", "partly": "partly",
         "no data": "nodata"}


def _claim_table(verdict) -> "Any":
    from proofs.result import Table

    from .claims import cell_text

    return Table(("task", "n", "L", "base", "cot", "hint", "holds", "note"),
                 [(c.task, c.n, c.layers, cell_text(c, "base"), cell_text(c, "cot"),
                   cell_text(c, "hint"), "yes" if c.holds else "no", c.note)
                  for c in verdict.cells])


def _pretty(name: str) -> str:
    """A sweep folder's name as a heading: ``paper_s5`` -> ``Study paper s5``."""
    return "Study " + name.replace("_", " ")


def has_tradeoff(sweep_dir: Path) -> bool:
    """Whether the sweep has cot settings of two strides or more (a trade-off figure)."""
    from .report import reference_format, tradeoff_grids
    from .sweep import read_all_results

    rows = read_all_results(sweep_dir)
    return bool(tradeoff_grids(rows, reference_format(rows)))


def study_part(sweep_dir: Path, fig_dir: Path, page_dir: Path) -> tuple[str, str]:
    """(html, markdown) of one finished sweep: heat map, claims, depth against CoT
    length. The figures are written into ``fig_dir`` (linked from the markdown,
    relative to ``page_dir``); the sweep folder is only read."""
    from proofs.report import figure_html
    from proofs.tables import render_html, render_markdown

    from .claims import judge
    from .report import METRIC, accuracy_heatmap_svg, reference_format, tradeoff_svg
    from .sweep import read_all_results

    rows = read_all_results(sweep_dir)
    spec = json.loads((sweep_dir / "sweep.json").read_text(encoding="utf-8")).get("spec", {})
    ref = reference_format(rows)
    name = sweep_dir.name
    figures: list[tuple[str, str, str]] = []  # (file, svg, caption)
    figures.append((f"{name}_accuracy.svg", accuracy_heatmap_svg(rows, ref),
                    f"Accuracy of every trained model of this study, run by the simulator "
                    f"in {ref}, in percent: the paper's metric (with CoT, every chain token "
                    "right; otherwise the answer), averaged over seeds. Columns: the input "
                    "length n; rows: the setting and the depth L. Under each number, its "
                    "Wilson 95% interval over the held-out prompts."))
    trade = tradeoff_svg(rows, ref)
    if trade is not None:
        figures.append((f"{name}_depth_vs_cot.svg", trade,
                        f"Depth against CoT length: accuracy in {ref} of models that emit "
                        "n/K chain tokens (every K-th value of the chain, the last being the answer), by the number of CoT "
                        "tokens (columns) and the depth L (rows)."))
    verdicts = judge(rows, ref, METRIC)
    intro = _describe(rows, spec) + "."
    title = f"{_pretty(name)} (docs/study/{name}/)" if sweep_dir.parent == STUDY else \
        f"{_pretty(name)} ({sweep_dir})"
    report = next((p for p in (sweep_dir / "report" / "report.md", sweep_dir / "report.md")
                   if p.is_file()), sweep_dir / "report.md")
    h = [f"<h3>{html.escape(title)}</h3>", f"<p>{html.escape(intro)}</p>"]
    rel_dir = Path(os.path.relpath(fig_dir, page_dir))
    md = [f"### {title}", "", intro
          + (f" Full tables: [report.md]({Path(os.path.relpath(report, page_dir)).as_posix()})."
             if report.is_file() else ""), ""]
    fig_dir.mkdir(parents=True, exist_ok=True)
    from circuits.atomic import write_atomic

    for file, svg, caption in figures:
        write_atomic(str(fig_dir / file), svg.encode("utf-8"))
        h.append(figure_html(file, svg, caption))
        md += [f"![{caption.split(':')[0]}]({(rel_dir / file).as_posix()})", "",
               f"*{caption}*", ""]
    h.append(f"<p>The paper's claims, judged on these numbers (the simulator in {ref}; "
             "a difference counts from 10 points on; each accuracy with its Wilson 95% "
             "interval over the held-out prompts):</p>")
    md += [f"The paper's claims, judged on these numbers (the simulator in {ref}):", ""]
    for v in verdicts:
        if not v.cells:  # a claim about tasks this study does not have
            continue
        badge = BADGE.get(v.verdict, "nodata")
        h.append(f'<p class="claim">{html.escape(v.statement)} <span class="verdict '
                 f'{badge}">{html.escape(v.verdict.upper())}</span></p>')
        md += [f"**{v.statement}: {v.verdict}.**", ""]
        if v.cells:
            h.append(render_html(_claim_table(v)))
            md += [render_markdown(_claim_table(v)), ""]
    return "\n".join(h), "\n".join(md)


def combined_tradeoff_rows(studies: Sequence[Path]) -> list[dict[str, Any]]:
    """The result lines of all ``studies`` for one depth-against-CoT-length figure: a
    run met in two sweeps counts once (`KEY`), ``base`` counts as ``cot:n`` (the same
    training signal and metric: the answer at ``=``) where no cot:n run of the same
    seed exists, and only the (task, n) that have a
    stride K strictly between 1 and n (a real trade-off, not cot against base alone)."""
    from .sweep import KEY, read_all_results
    from .tasks import cot_stride

    rows: dict[tuple, dict[str, Any]] = {}
    lines = [r for d in studies for r in read_all_results(d)]
    for r in lines:  # the runs of a cot setting first: a cot:n run wins over base's
        if r["setting"] != "base":
            rows.setdefault(tuple(r[k] for k in KEY), r)
    for r in lines:
        if r["setting"] == "base":
            r = {**r, "setting": f"cot:{r['n']}"}
            rows.setdefault(tuple(r[k] for k in KEY), r)
    mid = {(r["task"], r["n"]) for r in rows.values()
           if (k := cot_stride(r["setting"])) is not None and 1 < k < r["n"]}
    return [r for r in rows.values() if (r["task"], r["n"]) in mid]


def combined_tradeoff_part(studies: Sequence[Path], fig_dir: Path, page_dir: Path
                           ) -> tuple[str, str] | None:
    """(html, markdown) of the trade-off drawn from every sweep at once, or None when
    the studies have no stride between 1 and n."""
    from proofs.report import figure_html

    from circuits.atomic import write_atomic

    from .report import reference_format, tradeoff_svg

    rows = combined_tradeoff_rows(studies)
    if not rows:
        return None
    ref = reference_format(rows)
    svg = tradeoff_svg(rows, ref)
    if svg is None:
        return None
    caption = (f"Depth against CoT length, all sweeps together: accuracy in {ref} (the "
               "paper's metric, averaged over seeds) of models that emit n/K chain tokens "
               "(every K-th value of the chain, the last being the answer), by the number of CoT tokens (columns) and the depth L "
               "(rows); one CoT token is the answer alone (base). An empty cell was not run.")
    file = "all_depth_vs_cot.svg"
    fig_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(str(fig_dir / file), svg.encode("utf-8"))
    rel = Path(os.path.relpath(fig_dir, page_dir)) / file
    title = "Depth against CoT length, all sweeps"
    return (f"<h3>{html.escape(title)}</h3>" + figure_html(file, svg, caption),
            "\n".join([f"### {title}", "", f"![{title}]({rel.as_posix()})", "",
                       f"*{caption}*", ""]))


# --- the live training ----------------------------------------------------------------
def live_run(out_dir: str | os.PathLike) -> dict[str, Any]:
    """Train `LIVE` from scratch into ``out_dir/run`` (a previous run there is replaced)
    and run it by the simulator in `LIVE_FORMATS`; the record (also ``out_dir/live.json``)."""
    from circuits.atomic import write_atomic

    from .evaluate import evaluate
    from .train import train

    out = Path(out_dir)
    run = out / "run"
    if run.exists():
        shutil.rmtree(run)  # a live training each time: the demo's own folder
    out.mkdir(parents=True, exist_ok=True)
    t0, c0 = time.perf_counter(), time.process_time()
    cfg = {k: v for k, v in LIVE.items() if k not in ("task", "setting", "n", "layers")}
    metrics = train(LIVE["task"], LIVE["setting"], LIVE["n"], LIVE["layers"],
                    out_dir=run, progress=False, **cfg)
    trained = (time.perf_counter() - t0, time.process_time() - c0)
    evals = []
    for fmt in LIVE_FORMATS:
        e = evaluate(run / "model.npz", LIVE["task"], LIVE["setting"], LIVE["n"], fmt,
                     samples=LIVE_SAMPLES, seed=LIVE["seed"])
        evals.append({**e, "name": fmt})
    record = {"config": dict(LIVE), "metrics": metrics, "train_wall_seconds": round(trained[0], 2),
              "train_cpu_seconds": round(trained[1], 2), "evaluations": evals,
              "wall_seconds": round(time.perf_counter() - t0, 2),
              "cpu_seconds": round(time.process_time() - c0, 2)}
    write_atomic(str(out / "live.json"), (json.dumps(record, indent=1) + "\n").encode())
    return record


def start_live(out_dir: str | os.PathLike) -> subprocess.Popen:
    """`live_run` in a second process on one core (its output in ``out_dir/live.log``),
    so that it trains while the theorem checks run."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "live.json").unlink(missing_ok=True)
    log = open(out / "live.log", "wb")
    from .sweep import WORKER_ENV  # one thread: the live run one core, the checks the other

    env = {**os.environ, **WORKER_ENV}
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                else "")
    try:
        return subprocess.Popen([sys.executable, "-m", "experiments.demo_section", str(out)],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
    finally:
        log.close()


def finish_live(proc: subprocess.Popen, out_dir: str | os.PathLike
                ) -> tuple[dict[str, Any] | None, str]:
    """Wait for the live run; (its record, "") or (None, why it failed in one line)."""
    code = proc.wait()
    path = Path(out_dir) / "live.json"
    if code == 0 and path.is_file():
        return json.loads(path.read_text(encoding="utf-8")), ""
    tail = (Path(out_dir) / "live.log").read_text(encoding="utf-8", errors="replace") \
        if (Path(out_dir) / "live.log").is_file() else ""
    last = next((ln for ln in reversed(tail.splitlines()) if ln.strip()), "no output")
    return None, f"the live training failed (exit {code}): {last.strip()}"


def live_part(record: dict[str, Any] | None, failure: str = "") -> tuple[str, str]:
    """(html, markdown) of the live training."""
    from proofs.result import Table
    from proofs.tables import render_html, render_markdown

    from .intervals import fmt_interval, wilson

    if record is None:
        text = failure or "the live training did not run"
        return (f'<h3>A live training</h3><p class="reason">{html.escape(text)}</p>',
                f"### A live training\n\n{text}\n")
    c, m = record["config"], record["metrics"]
    rows = []
    for e in record["evaluations"]:
        k, n = round(e["teacher_forced"] * e["samples"]), e["samples"]
        label = e["format"] if e.get("name", e["format"]) == e["format"] \
            else f"{e['name']} ({e['format']})"
        rows.append((label, f"{100 * e['teacher_forced']:.1f}",
                     fmt_interval(wilson(k, n)), f"{100 * e['accuracy']:.1f}",
                     f"{100 * e['undefined']:.1f}", n, f"{e['seconds']:.1f}"))
    table = Table(("format", "accuracy (%)", "Wilson 95%", "answer right (%)",
                   "undefined (%)", "prompts", "seconds"), rows)
    intro = (f"Trained now, from scratch: {c['task']} with CoT at n = {c['n']}, "
             f"{c['layers']} layer, d_model {c['d_model']}, {c['steps']} steps of "
             f"{c['optimizer']} in {record['train_wall_seconds']:.0f} s "
             f"({record['train_cpu_seconds']:.0f} CPU s, JAX compilation included), "
             f"in a second process while the theorem checks ran. In JAX (float32) it "
             f"gets {100 * m['accuracy']:.1f}% of {m['eval_samples']} held-out chains "
             f"right (chance {100 * m['chance']:.1f}% a token). Then the simulator runs "
             "the same weights, rounded to each format, with the stable softmax it was "
             "trained with, and writes the chain itself, token by token. Accuracy: every "
             "chain token right; answer right: the last token of the model's own chain.")
    return (f"<h3>A live training</h3><p>{html.escape(intro)}</p>{render_html(table)}",
            f"### A live training\n\n{intro}\n\n{render_markdown(table)}\n")


# --- the section ------------------------------------------------------------------------
def section(page_dir: str | os.PathLike, studies: Sequence[Path],
            live: tuple[dict[str, Any] | None, str] | None, source: str) -> tuple[str, str]:
    """(html, markdown) of the whole experiments section; figures go to
    ``page_dir/experiments/``."""
    page_dir = Path(page_dir).resolve()
    fig_dir = page_dir / "experiments"
    head = ("The paper's Section 4 trains transformers on four tasks, with and without "
            f"a chain of thought. Drawn from {source}, not retrained; every trained model "
            "is run by cotsim's finite-precision simulator, weights rounded to the format.")
    h = ['<section class="check" id="experiments">',
         "<h2>Experiments (the paper's Section 4)</h2>", f"<p>{html.escape(head)}</p>"]
    md = ["", "## Experiments (the paper's Section 4)", "", head, ""]
    if not studies:
        none = f"No finished study in {source}."
        h.append(f'<p class="reason">{html.escape(none)}</p>')
        md += [none, ""]
    for d in studies:
        a, b = study_part(d, fig_dir, page_dir)
        h.append(a), md.append(b)
    combined = combined_tradeoff_part(studies, fig_dir, page_dir) if studies else None
    if combined is not None:
        h.append(combined[0]), md.append(combined[1])
    if studies and combined is None and not any(has_tradeoff(d) for d in studies):
        absent = ("Depth against CoT length: none of these studies has cot:K runs (a chain "
                  "of n/K tokens), so there is no trade-off figure yet; it is drawn here "
                  "once one of them has.")
        h.append(f'<p class="reason"><b>{html.escape(absent)}</b></p>')
        md += [absent, ""]
    if live is not None:
        a, b = live_part(*live)
        h.append(a), md.append(b)
    h.append("</section>")
    return "\n".join(h), "\n".join(md) + "\n"


def add_section(page: str | os.PathLike, html_part: str, md_part: str) -> None:
    """Insert the section into ``page`` (index.html) and append it to index.md beside it,
    atomically."""
    from circuits.atomic import write_atomic_many

    page = Path(page)
    text = page.read_text(encoding="utf-8")
    if "<footer>Written by" in text:  # before the page's closing footer
        text = text.replace("<footer>Written by", html_part + "\n<footer>Written by", 1)
    elif "</main>" in text:
        text = text.replace("</main>", html_part + "\n</main>", 1)
    else:
        text = text.replace("</body>", html_part + "\n</body>", 1)
    files = [(page, text)]
    md = page.with_name("index.md")
    if md.exists():
        files.append((md, md.read_text(encoding="utf-8").rstrip("\n") + "\n" + md_part))
    write_atomic_many(files)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m experiments.demo_section DIR", file=sys.stderr)
        return 2
    live_run(args[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
