"""Regenerate the pictures under docs/img/ from the code that draws them.

    .venv/bin/python docs/make_figures.py            # every figure
    .venv/bin/python docs/make_figures.py c17.svg    # just these
    .venv/bin/python docs/make_figures.py --list

To add a figure, write a function that returns the file's bytes and register it with
``@figure("name.svg")`` (any extension works; the bytes are written as they are).
Figures must be deterministic: the same code and inputs give the same bytes, so that a
changed picture in a diff means a changed drawing.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
IMG = DOCS / "img"
SHARED = Path(os.environ.get("COTSIM_SHARED", REPO.parent / "shared"))
ISCAS = SHARED / "benchmarks" / "iscas85"

sys.path.insert(0, str(REPO))  # run from a checkout without installing

#: file name under docs/img/ -> a function that makes its bytes
FIGURES: dict[str, Callable[[], bytes]] = {}


def figure(name: str) -> Callable[[Callable[[], bytes]], Callable[[], bytes]]:
    def register(make: Callable[[], bytes]) -> Callable[[], bytes]:
        if name in FIGURES:
            raise ValueError(f"figure {name} registered twice")
        FIGURES[name] = make
        return make
    return register


# -- drawing.md --------------------------------------------------------------------------
def _iscas(name: str, **options) -> bytes:
    from circuits import load
    from circuits.draw import dump

    return dump(load(ISCAS / f"{name}.bench"), fmt="svg", title=name, **options)


@figure("c17.svg")
def c17() -> bytes:
    return _iscas("c17")


@figure("c432.svg")
def c432() -> bytes:
    return _iscas("c432")


@figure("c7552-summary.svg")
def c7552_summary() -> bytes:
    return _iscas("c7552")


def _tagged_example():
    """A made-up two-layer circuit, tagged as the compiler tags its gates."""
    from circuits import CircuitBuilder

    b = CircuitBuilder(strash=False, fold=False)
    x = b.inputs(["x[0]", "x[1]", "x[2]", "x[3]"])
    heads = []
    for h in range(2):
        b.set_tag(f"layer0/attn/head{h}")
        s = b.THR([x[h], x[h + 1], x[h + 2]], [2, -1, 1], 2)
        heads.append(b.AND(s, x[3 - h]))
    b.set_tag("layer0/mlp")
    m = b.MAJ(heads[0], heads[1], x[0])
    r = b.gate("NOR", [m, heads[1]])
    b.set_tag("layer1/mlp")
    y = b.XOR(r, b.OR(m, x[3]))
    b.set_tag(None)
    b.output("y", y)
    b.output("undefined", b.NOT(m))
    return b.build()


@figure("tagged.svg")
def tagged() -> bytes:
    from circuits.draw import dump

    return dump(_tagged_example(), fmt="svg", title="tagged example")


@figure("tagged-summary.svg")
def tagged_summary() -> bytes:
    from circuits.draw import dump

    return dump(_tagged_example(), fmt="svg", title="tagged example", max_gates=4)


def main(argv: list[str]) -> int:
    from circuits.atomic import write_atomic
    from circuits.errors import CotsimInputError

    if argv == ["--list"]:
        print("\n".join(FIGURES))
        return 0
    unknown = [n for n in argv if n not in FIGURES]
    if unknown:
        print(f"make_figures: no figure {unknown[0]!r}; known: {' '.join(FIGURES)}",
              file=sys.stderr)
        return 2
    IMG.mkdir(exist_ok=True)
    for name in argv or FIGURES:
        try:
            data = FIGURES[name]()
        except CotsimInputError as e:
            print(f"make_figures: {name}: {e}", file=sys.stderr)
            return 2
        write_atomic(IMG / name, data)
        print(IMG / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
