"""``cotsim check [NAME ...] [--full] [--json]``: run theorem checks (see proofs/).

Quick by default, as ``cotsim demo``; ``--full`` runs the full ladders (``--quick`` is
kept as a no-op). Prints a summary table, one row per check with its verdict (``--json``:
one JSON object a line per check; on a terminal the reason column wraps to its width),
progress on stderr. Exit 0 iff every named check holds, 1 otherwise,
2 for an unknown name.
"""
from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="run theorem checks and print their verdicts",
                       description="Run the theorem checks of proofs/ (all by default): "
                       "each builds its objects, runs them, and reports whether the paper's "
                       "claim holds on them. Exit 0 iff every named check holds.")
    p.add_argument("names", nargs="*", metavar="NAME", help="checks to run (default: all; "
                   "--list names them)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="quick", action="store_true", default=True,
                      help="small instances, seconds to a minute (the default)")
    mode.add_argument("--full", dest="quick", action="store_false",
                      help="the full ladders (long: every ISCAS-85 circuit, 10^4 gates)")
    p.add_argument("--json", action="store_true", help="one JSON object a line per check")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="also print each check's full table")
    p.add_argument("--list", action="store_true", help="list the checks and their claims")
    p.set_defaults(run=run)


def select(names: list[str]) -> list[str]:
    """The names to run; an unknown one is bad input (one line)."""
    import proofs
    from circuits.errors import CotsimInputError

    known = proofs.names()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CotsimInputError(f"unknown check {unknown[0]!r}; known checks: "
                               f"{', '.join(known)}")
    return list(dict.fromkeys(names)) or known


def progress_hooks(total: int):
    """Callbacks that print one line on stderr as each check starts and ends."""
    count = [0]

    def start(name: str) -> None:
        count[0] += 1
        print(f"[{count[0]}/{total}] {name} ...", file=sys.stderr, flush=True)

    def done(result) -> None:
        print(f"[{count[0]}/{total}] {result.name}: {result.verdict} "
              f"({result.seconds:.1f} s)", file=sys.stderr, flush=True)

    return start, done


def terminal_width() -> int | None:
    """The columns of the terminal on stdout, or None when stdout is piped (no wrapping)."""
    import shutil

    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def run(args: argparse.Namespace) -> int:
    import proofs
    from proofs.base import set_progress
    from proofs.tables import render_result_text, render_text, summary_table

    if args.list:
        for n in proofs.names():
            print(f"{n}: {proofs.load(n).claim}")
        return 0
    names = select(args.names)
    set_progress(True)
    start, done = progress_hooks(len(names))
    results = proofs.run_checks(names, quick=args.quick, on_start=start, on_done=done)
    if args.json:
        for r in results:
            print(json.dumps(r.to_json()))
    else:
        if args.verbose:
            for r in results:
                print(render_result_text(r))
                print()
        print(render_text(summary_table(results), width=terminal_width()))
    return 0 if all(r.holds for r in results) else 1
