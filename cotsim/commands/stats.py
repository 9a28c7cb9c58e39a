"""``cotsim stats FILE [--json]``: the figures of a circuit as written in its file."""
from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="size, depth, fan-in and gate mix of a circuit file",
                       description="Print the figures of a circuit as written in its file. "
                       "For AIGER files gates and depth count AND nodes (inverters are edge "
                       "attributes there); for BLIF they count .names nodes.")
    p.add_argument("file", help="a .bench, .blif, .aag, .aig or .json file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from circuits.analysis import stats
    from circuits.io import load_file

    loaded = load_file(args.file)
    figures = loaded.file_stats if loaded.file_stats is not None else stats(loaded.circuit)
    if args.json:
        print(json.dumps(figures))
    else:
        width = max(len(k) for k in figures)
        for key, value in figures.items():
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
            print(f"{key:<{width}}  {value}")
    return 0
