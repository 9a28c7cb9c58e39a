"""``cotsim demo [--out DIR] [--quick | --full]``: run the theorem checks and write the
report: DIR/index.html (one self-contained page) and DIR/index.md with its figures.

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
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import proofs
    from proofs.base import set_progress
    from proofs.report import check_writable, write_report
    from proofs.tables import render_text, summary_table

    from .check import progress_hooks, select

    names = select(args.names)
    figures = Path(args.out).absolute() / "figures"
    made = [p for p in (figures, *figures.parents) if not p.exists()]  # deepest first
    check_writable(args.out)  # fail in one line before minutes of work
    try:
        set_progress(True)
        start, done = progress_hooks(len(names))
        results = proofs.run_checks(names, quick=args.quick, on_start=start, on_done=done)
        print(render_text(summary_table(results)))
        page = write_report(results, args.out)
    except BaseException:  # leave no folder behind that this run made and left empty
        for folder in made:
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    print(f"report: {page.resolve()}")
    return 0 if all(r.holds for r in results) else 1
