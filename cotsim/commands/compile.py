"""``cotsim compile M.npz --seq-len N [--sum exact|iterative] -o C.json [--json] ...``:
compile a model without CoT into a threshold circuit (see docs/compiler.md).

Prints the circuit's figures: {"size", "depth", "max_fanin", "max_abs_weight",
"inputs", "outputs", "basis"}, plus "format", "softmax" ("paper" or "stable"), "sum", "seq_len", "adder", "iterative" (the
construction of the iterative sums: tree, tc0 or ac0; "none" for exact sums),
"depth_bound" (the construction's bound on depth, free of n except for tree),
"estimate" and "seconds", and "verify" with --verify. Exit 0 on success, 1 when --verify
finds a disagreement, 2 on bad input, including a circuit whose estimated size is over the
budget (refused before any gate is built), a construction the format does not allow, and
contradictory flags (--iterative with exact sums, --adder with iterative sums).
"""
from __future__ import annotations

import argparse
import json
import os

from ._args import check_output, positive


def register(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="compile a model (no CoT) into a threshold circuit",
                       description="Compile a finite-precision transformer, bit for bit, "
                       "into a circuit: inputs are the prompt's token ids (max(1, "
                       "ceil(log2 V)) bits per position, LSB first), outputs the next-token "
                       "id (LSB first) and an 'undefined' bit. Exact sums, and iterative sums "
                       "by tc0 (Theorem 3.2, fixed point) or ac0 (Theorem 3.1, constant "
                       "precision, AND/OR/NOT only), give a depth that does not grow with the "
                       "length; the tree of iterative sums grows as log n. A stable-softmax "
                       "model's row maximum is constant depth too (AND/OR/NOT).")
    p.add_argument("model", help="a model .npz file")
    p.add_argument("--seq-len", type=positive, required=True, metavar="N",
                   help="the prompt length n")
    p.add_argument("--sum", choices=("exact", "iterative"), default=None,
                   help="sum mode (default: the model's own); the circuit agrees with the "
                        "model under this mode")
    p.add_argument("--adder", choices=("auto", "thermometer", "blockwise"), default="auto",
                   help="exact sums: one THR gate per threshold of the integer sum "
                   "(thermometer) or column sums and carry-lookahead (blockwise); auto "
                   "picks the smaller")
    p.add_argument("--iterative", choices=("auto", "tree", "tc0", "ac0"), default="auto",
                   help="iterative sums over positions: tree (log depth), tc0 (constant "
                   "depth, threshold gates; fixed-point formats), ac0 (constant depth, "
                   "AND/OR/NOT; small formats); auto picks ac0 where the format's monoid "
                   "and the budget allow, else tc0 for fixed point, else tree")
    p.add_argument("--arith", choices=("tables", "auto", "always"), default="tables",
                   help="two-operand operations (products, sums, softmax weights, argmax "
                   "comparisons): lookup tables (default), or arithmetic on the bits "
                   "(fixed point only; auto: for values of more than two positions, "
                   "whose tables grow with the precision; always: everywhere)")
    p.add_argument("--cot", type=positive, default=None, metavar="T",
                   help="compile T CoT steps chained into one circuit (outputs: T tokens, "
                        "then 'undefined')")
    p.add_argument("-o", "--output", required=True, metavar="C.json",
                   help="the circuit file to write (.json .bench .blif .aag .aig)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--verify", action="store_true",
                   help="check the circuit against the simulator: every prompt when V^n <= "
                        "65536, else 2000 random ones (exit 1 on a disagreement)")
    p.add_argument("--samples", type=positive, default=2000,
                   help="random prompts for --verify when not exhaustive (default 2000)")
    p.add_argument("--draw", default=None, metavar="OUT.svg",
                   help="also write a diagram (.svg or .dot), clustered by origin tag")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.add_argument("--budget", type=positive, default=None, metavar="GATES",
                   help="refuse circuits estimated larger than this (default 2000000)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from circuits.atomic import write_atomic_many
    from circuits.errors import CotsimInputError
    from circuits.io import dumps, extension

    check_output(args.model, args.output, args.force, "model file")
    if args.draw is not None:
        if os.path.splitext(args.draw)[1].lower() not in (".svg", ".dot"):
            raise CotsimInputError(f"--draw {args.draw}: expected a .svg or .dot file")
        check_output(args.model, args.draw, args.force, "model file")
        if os.path.abspath(args.draw) == os.path.abspath(args.output):
            raise CotsimInputError("--draw and -o name the same file")

    from transformer_sim.compile import DEFAULT_BUDGET, compile_model
    from transformer_sim.npz import load

    model = load(args.model)
    mode = args.sum or model.sum_mode
    if mode == "exact" and args.iterative != "auto":
        raise CotsimInputError(f"--iterative {args.iterative} chooses how iterative sums are "
                               "built, but the sums are exact (--sum exact or the model's "
                               "own); drop one of the two")
    if mode == "iterative" and args.adder != "auto":
        raise CotsimInputError(f"--adder {args.adder} chooses how exact sums are built, but the "
                               "sums are iterative (--sum iterative or the model's own); drop "
                               "one of the two")
    budget = args.budget or DEFAULT_BUDGET
    if args.cot:
        from transformer_sim.compile.chain import compile_chain

        compiled = compile_chain(model, args.seq_len, args.cot, args.sum, budget=budget,
                                 exact_adder=args.adder, iterative=args.iterative,
                                 arith=args.arith)
    else:
        compiled = compile_model(model, args.seq_len, args.sum, budget=budget,
                                 exact_adder=args.adder, iterative=args.iterative,
                                 arith=args.arith)
    outputs = [args.output] + ([args.draw] if args.draw is not None else [])
    write_atomic_many([(p, dumps(compiled.circuit, extension(p))) for p in outputs],
                      overwrite=args.force)  # both files or neither
    out = compiled.figures()
    out.update({"format": compiled.model.fmt.spec, "softmax": compiled.model.softmax,
                "sum": compiled.sum_mode,
                "seq_len": compiled.seq_len, "adder": compiled.adder,
                "iterative": compiled.iterative, "arith": compiled.arith,
                "depth_bound": compiled.depth_bound,
                "estimate": compiled.estimate,
                "seconds": round(compiled.seconds, 3)})
    if args.cot:
        out["cot_steps"] = args.cot
    status = 0
    if args.verify:
        from transformer_sim.compile.verify import verify

        verdict = verify(compiled, samples=args.samples)
        out["verify"] = verdict.as_dict()
        status = 0 if verdict.agrees else 1
    if args.json:
        print(json.dumps(out))
    else:
        width = max(len(k) for k in out)
        for key, value in out.items():
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items())
            print(f"{key:<{width}}  {value}")
    if status:
        import sys

        first = verdict.mismatches[0]
        print(f"cotsim compile: the circuit disagrees with the simulator on "
              f"{verdict.mismatch_count} of {verdict.checked} prompts, e.g. {first[0]}: "
              f"expected {first[1]}, got {first[2]}", file=sys.stderr)
    return status
