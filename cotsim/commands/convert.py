"""``cotsim convert IN OUT [--force]``: rewrite a circuit in another file format."""
from __future__ import annotations

import argparse

from ._args import check_output


def register(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="convert a circuit between file formats",
                       description="Read IN and write OUT; the formats come from the "
                       "extensions .bench .blif .aag .aig .json (read and write) and .dot "
                       ".svg (write only: a diagram, as `cotsim draw` makes). OUT is written "
                       "atomically, and an existing OUT is left alone unless --force.")
    p.add_argument("input", metavar="IN", help="the circuit file to read")
    p.add_argument("output", metavar="OUT", help="the file to write")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from circuits.io import extension, load, save

    extension(args.input)
    check_output(args.input, args.output, args.force)
    save(load(args.input), args.output, overwrite=args.force)
    return 0
