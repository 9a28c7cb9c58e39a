"""``cotsim prove FILE [--against OTHER] [--json]``: Theorem 3.3 proven on every input.

Builds the CoT transformer of FILE, compiles its T CoT steps into one circuit (prompt
tokens fixed by construction folded to constants, the inputs' bits wired to FILE's
primary inputs in order), keeps the bits of the read-out tokens, and has ABC ``cec``
prove that they equal FILE's outputs (or OTHER's, inputs and outputs matched by order)
on every input, with every forward pass defined and every read-out token a bit
(`transformer_sim.prove`). Prints {"equivalent", "cot_steps", "compiled_size",
"compiled_depth", "seconds", ...}. Exit 0 when equivalent, 1 when not (with a
counterexample), 2 on bad input or when ABC is missing.
"""
from __future__ import annotations

import argparse
import json

from ._args import positive


def register(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="prove that a circuit's CoT transformer computes it",
                       description="Build the CoT transformer of a circuit (Theorem 3.3), "
                       "compile its T CoT steps into one circuit, and prove with ABC cec "
                       "that it equals the circuit (or --against OTHER) on every input. "
                       "Exit 0 when equal, 1 when not, 2 on bad input or without ABC.")
    p.add_argument("file", help="a circuit file (.bench .blif .aag .aig .json)")
    p.add_argument("--against", metavar="OTHER", default=None,
                   help="prove equality with this circuit instead (inputs and outputs "
                   "matched by order)")
    p.add_argument("--format", metavar="FMT", default=None,
                   help="number format of the transformer (default paper:e=0,s=3)")
    p.add_argument("--iterative", choices=("auto", "tree", "tc0", "ac0"), default="auto",
                   help="the compiler's construction of the sums over positions (default "
                   "auto: ac0 where the format allows, else tc0 for fixed point, else tree; "
                   "every choice is bit-exact, they differ in depth and speed)")
    p.add_argument("--budget", type=positive, default=None, metavar="GATES",
                   help="stop the compilation past this many gates (default 50000000)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import circuits
    from transformer_sim.prove import DEFAULT_PROVE_BUDGET, find_abc, prove

    find_abc()  # refuse before any work
    circuit = circuits.load(args.file)
    other = circuits.load(args.against) if args.against is not None else None
    proof = prove(circuit, other, fmt=args.format, iterative=args.iterative,
                  budget=args.budget or DEFAULT_PROVE_BUDGET,
                  against_name=args.against or "OTHER")
    out = proof.as_dict()
    out["against"] = args.against or args.file
    if args.json:
        print(json.dumps(out))
    else:
        width = max(len(k) for k in out)
        for key, value in out.items():
            print(f"{key:<{width}}  {value}")
    return 0 if proof.equivalent else 1
