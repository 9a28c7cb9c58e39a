"""``cotsim draw FILE -o OUT.svg|OUT.dot``: a diagram of a circuit (Graphviz)."""
from __future__ import annotations

import argparse
import os

#: circuits.draw.DEFAULT_MAX_GATES, written out so that `cotsim --help` imports no NumPy
DEFAULT_MAX_GATES = 400


def register(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="draw a circuit as an SVG picture or DOT text",
                       description="Draw a circuit, layered by level: inputs on top, "
                       "outputs at the bottom, gates coloured by kind and boxed by origin "
                       "tag. Circuits over --max-gates gates are drawn as a summary (one row "
                       "per level, or one box per tag). See docs/drawing.md.")
    p.add_argument("file", help="a .bench, .blif, .aag, .aig or .json file")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="the picture to write: .svg (needs Graphviz's dot) or .dot")
    p.add_argument("--max-gates", type=int, default=DEFAULT_MAX_GATES, metavar="N",
                   help=f"draw a summary above N gates (default {DEFAULT_MAX_GATES})")
    p.add_argument("--title", help="the title (default: the file's name without extension)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from circuits.errors import CotsimInputError
    from circuits.io import extension, load, save

    from ._args import check_output

    extension(args.file)
    ext = extension(args.output)
    if ext not in (".svg", ".dot"):
        raise CotsimInputError(f"{args.output}: draw writes .svg or .dot, not {ext} "
                               "(use cotsim convert for netlists)")
    if args.max_gates < 0:
        raise CotsimInputError(f"--max-gates must be >= 0, not {args.max_gates}")
    check_output(args.file, args.output, args.force)
    title = args.title
    if title is None:
        title = os.path.splitext(os.path.basename(args.file))[0]
    save(load(args.file), args.output, overwrite=args.force, max_gates=args.max_gates,
         title=title)
    return 0
