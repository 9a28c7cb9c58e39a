"""``cotsim demo [--out DIR] [--quick | --full] [--experiments SWEEP]``: run the theorem
checks and write the report: DIR/index.html (one self-contained page) and DIR/index.md
with its figures, and an experiments section (`experiments.demo_section`): the study
shipped in docs/study/ (or the sweeps of ``--experiments``), and one small model trained
live in a second process while the checks run.

Exit 0 when every check holds, 1 when one fails (the report is written either way), 2
when DIR cannot be written.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="run the headline checks and write a report with diagrams",
                       description="Run every theorem check and write reports/index.html "
                       "(self-contained: inline CSS and SVG, opens without a server) and "
                       "reports/index.md with its figures.")
    p.add_argument("--out", default="reports", metavar="DIR",
                   help="the report folder (default: reports/)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="quick", action="store_true", default=True,
                      help="small instances, about a minute (default)")
    mode.add_argument("--full", dest="quick", action="store_false",
                      help="the full ladders (long: every ISCAS-85 circuit, 10^4 gates)")
    p.add_argument("names", nargs="*", metavar="NAME", help="checks to run (default: all)")
    p.add_argument("--experiments", metavar="DIR", default=None,
                   help="show the results of a sweep you ran (cotsim experiment sweep), or "
                   "of every sweep in a folder of them, instead of the shipped study and "
                   "the live training; by default, with no NAME, the section shows the "
                   "study in docs/study/ and trains one small model live (under a minute, "
                   "beside the checks)")
    p.add_argument("--no-experiments", action="store_true",
                   help="no experiments section")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import proofs
    from proofs.base import set_progress
    from proofs.report import check_writable, write_report
    from proofs.tables import render_text, summary_table

    from .check import progress_hooks, select, terminal_width

    names = select(args.names)
    experiments = _experiments_wanted(args)
    figures = Path(args.out).absolute() / "figures"
    made = [p for p in (figures, *figures.parents) if not p.exists()]  # deepest first
    check_writable(args.out)  # fail in one line before minutes of work
    live = None
    if experiments and args.experiments is None:
        from experiments.demo_section import start_live

        live_dir = Path(args.out) / "experiments" / "live"
        live = start_live(live_dir)  # trains on one core while the checks run
    try:
        set_progress(True)
        start, done = progress_hooks(len(names))
        results = proofs.run_checks(names, quick=args.quick, on_start=start, on_done=done)
        print(render_text(summary_table(results), width=terminal_width()))
        page = write_report(results, args.out)
    except BaseException:  # leave no folder behind that this run made and left empty
        if live is not None:
            live.kill()
            live.wait()
        for folder in made:
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    if experiments:
        print(_experiments_section(page, args, live))
    print(f"report: {page.resolve()}")
    return 0 if all(r.holds for r in results) else 1


def _experiments_wanted(args: argparse.Namespace) -> bool:
    """Whether the report gets an experiments section: from --experiments DIR (checked
    now, before the checks run), or a quick sweep when no check is named and the
    experiments extra (JAX, Dask) is installed."""
    if args.no_experiments:
        return False
    if args.experiments is not None:
        from experiments.demo_section import check_experiments_folder

        check_experiments_folder(args.experiments)
        return True
    if args.names:
        return False
    import importlib.util

    missing = [m for m in ("jax", "optax", "distributed")
               if importlib.util.find_spec(m) is None]
    if missing:
        print(f"experiments section skipped: {', '.join(missing)} not installed "
              "(pip install -e '.[experiments]')")
    return not missing


def _experiments_section(page: Path, args: argparse.Namespace, live) -> str:
    """Add the experiments section to ``page``; a line for the terminal."""
    from experiments import demo_section as ds

    if args.experiments is not None:
        studies, source, record = ds.sweep_folders(args.experiments), args.experiments, None
    else:
        studies = ds.sweep_folders(ds.STUDY)
        source = "the study shipped in docs/study/"
        print("waiting for the live training ...", flush=True)
        record = ds.finish_live(live, Path(args.out) / "experiments" / "live")
    html_part, md_part = ds.section(page.parent, studies, record, source)
    ds.add_section(page, html_part, md_part)
    line = f"experiments: {len(studies)} sweep(s) drawn"
    if record is not None:
        rec, why = record
        line += (f"; live training {rec['wall_seconds']:.0f} s ({rec['cpu_seconds']:.0f} "
                 "CPU s)" if rec is not None else f"; {why}")
    return line
