"""``cotsim model random|run|info``: make, run and describe finite-precision transformers.

- ``model random ... -o M.npz [--force]`` writes a random model (atomically).
- ``model run M.npz --tokens 0,1,1,0 [--tokens ...] [--cot T]`` prints one line per
  ``--tokens``: the next token id, or with ``--cot T`` the T generated ids separated by
  commas. ``undefined`` stands where the forward pass is undefined (some Z_i = 0): the
  whole line without ``--cot``; with ``--cot`` the tokens of the defined steps, then
  ``undefined`` for the first undefined step (later steps cannot be computed).
- ``model run ... --json`` prints one JSON object per ``--tokens`` instead:
  ``{"tokens", "next"}``, or with ``--cot`` ``{"tokens", "cot"}``, plus
  ``"undefined": true`` where the forward pass is undefined (``next`` is then null, and
  ``cot`` holds the tokens of the defined steps).
- ``model info M.npz [--json]`` prints the header: format, sum mode and shapes.
- ``model`` alone prints this subcommand's help (exit 2).
"""
from __future__ import annotations

import argparse
import json

from ._args import FORMAT_HELP, int_at_least, positive


def register(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="make, run and describe finite-precision transformers",
                       description="Random models, greedy next-token and CoT runs, and "
                       "model headers. Models are .npz files (see docs/transformer.md).")
    msub = p.add_subparsers(dest="model_command", metavar="ACTION",
                            parser_class=type(p))
    p.set_defaults(run=lambda args: _print_help(p))  # an action overrides this default

    r = msub.add_parser("random", help="write a random model",
                        description="Write a random model whose weights are values of the "
                        "format, scaled so that most prompts are defined (Z_i > 0).")
    r.add_argument("--vocab", type=positive, required=True, help="vocabulary size V")
    r.add_argument("--layers", type=positive, required=True, help="number of layers L")
    r.add_argument("--heads", type=positive, required=True, help="heads per layer H")
    r.add_argument("--d-model", type=positive, required=True, help="embedding width d")
    r.add_argument("--d-ff", type=positive, required=True, help="MLP width f")
    r.add_argument("--max-len", type=positive, required=True,
                   help="positions N (rows of PE)")
    r.add_argument("--format", required=True,
                   help=FORMAT_HELP)
    r.add_argument("--seed", type=int_at_least(0), required=True, help="random seed (>= 0)")
    r.add_argument("--sum", choices=("iterative", "exact"), default="iterative",
                   help="sum mode (default: iterative, the paper's rule)")
    r.add_argument("--softmax", choices=("paper", "stable"), default="paper",
                   help="paper: [exp(s_ij)] as in the paper (default); stable: "
                   "[exp([s_ij - max_j s_ij])], as trained models compute it")
    r.add_argument("--d-head", type=positive, default=None,
                   help="width per head k (default: max(1, d_model // heads))")
    r.add_argument("-o", "--output", required=True, help="the .npz file to write")
    r.add_argument("--force", action="store_true", help="overwrite an existing file")
    r.set_defaults(run=run_random)

    u = msub.add_parser("run", help="greedy next token or CoT tokens for prompts",
                        description="One line per --tokens: the next token id, or with "
                        "--cot T the T generated ids, comma-separated; 'undefined' where "
                        "the forward pass is undefined.")
    u.add_argument("model", help="a model .npz file")
    u.add_argument("--tokens", action="append", required=True, metavar="IDS",
                   help="a prompt: comma-separated token ids, e.g. 0,1,1,0 (repeatable)")
    u.add_argument("--cot", type=positive, default=None, metavar="T",
                   help="generate T tokens, feeding each back in")
    u.add_argument("--format", default=None, metavar="FMT",
                   help="run the model in another format, its weights rounded to it "
                   f"({FORMAT_HELP})")
    u.add_argument("--json", action="store_true",
                   help='one JSON object per --tokens: {"tokens", "next"} or with --cot '
                   '{"tokens", "cot"}, and "undefined": true where the pass is undefined')
    u.set_defaults(run=run_run)

    i = msub.add_parser("info", help="format, sum mode and shapes of a model",
                        description="Print a model's header and parameter count.")
    i.add_argument("model", help="a model .npz file")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.set_defaults(run=run_info)


def _print_help(parser: argparse.ArgumentParser) -> int:
    import sys

    parser.print_help(sys.stderr)
    return 2


def _parse_tokens(text: str) -> list[int]:
    from circuits.errors import CotsimInputError

    parts = text.split(",")
    out = []
    for part in parts:
        part = part.strip()
        if not part.isdigit() or not part.isascii():
            what = "an empty entry" if not part else repr(part)
            raise CotsimInputError(f"--tokens {text!r}: {what} is not a token id "
                                   "(expected comma-separated integers >= 0)")
        out.append(int(part))
    return out


def run_random(args: argparse.Namespace) -> int:
    from circuits.errors import CotsimInputError
    from transformer_sim.floatformat import FloatFormat
    from transformer_sim.npz import save
    from transformer_sim.random_model import random_model

    from ._args import check_output

    check_output(None, args.output, args.force, exts=(".npz",))
    try:
        fmt = FloatFormat.parse(args.format)
    except ValueError as e:
        if isinstance(e, CotsimInputError):
            raise
        raise CotsimInputError(f"--format {args.format!r}: {e}") from None
    model = random_model(vocab=args.vocab, layers=args.layers, heads=args.heads,
                         d_model=args.d_model, d_ff=args.d_ff, max_len=args.max_len,
                         fmt=fmt, sum_mode=args.sum, seed=args.seed, d_head=args.d_head,
                         softmax=args.softmax)
    save(model, args.output, overwrite=args.force)
    return 0


def cot_line(trace) -> str:
    """The output line of one prompt under ``--cot``."""
    items = [str(t) for t in trace.tokens]
    if trace.undefined:
        items.append("undefined")
    return ",".join(items)


def run_run(args: argparse.Namespace) -> int:
    from transformer_sim.errors import ModelUndefined
    from transformer_sim.npz import load

    model = load(args.model)
    if args.format is not None:
        from circuits.errors import CotsimInputError
        from transformer_sim.floatformat import FloatFormat

        try:  # FormatError and ModelError (a weight that rounds to inf) are input errors
            model = model.in_format(FloatFormat.parse(args.format))
        except CotsimInputError as e:
            raise CotsimInputError(f"--format {args.format!r}: {e}") from None
    prompts = [_parse_tokens(t) for t in args.tokens]
    extra = (args.cot - 1) if args.cot else 0
    for prompt in prompts:  # validate every prompt before printing anything
        model.check_tokens(prompt, extra_positions=extra)
    if args.cot is None:
        from transformer_sim.forward import next_token

        for prompt in prompts:
            try:
                token: int | None = next_token(model, prompt)
            except ModelUndefined:
                token = None
            if args.json:
                record = {"tokens": prompt, "next": token}
                if token is None:
                    record["undefined"] = True
                print(json.dumps(record), flush=False)
            else:
                print("undefined" if token is None else token, flush=False)
    else:
        from transformer_sim.cot import run_cot

        for prompt in prompts:
            trace = run_cot(model, prompt, args.cot)
            if args.json:
                record = {"tokens": prompt, "cot": list(trace.tokens)}
                if trace.undefined:
                    record["undefined"] = True
                print(json.dumps(record))
            else:
                print(cot_line(trace))
    return 0


def run_info(args: argparse.Namespace) -> int:
    from transformer_sim.npz import load

    model = load(args.model)
    info = model.meta()
    info["softmax"] = model.softmax  # shown even where the file leaves it to its default
    info["params"] = model.n_params
    if args.json:
        print(json.dumps(info))
        return 0
    shapes = {"TE": "(vocab, d_model)", "PE": "(max_len, d_model)",
              "Wout": "(vocab, d_model)", "bout": "(vocab,)"}
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:<{width}}  {json.dumps(value) if isinstance(value, dict) else value}")
    for name, arr in model.named_arrays().items():
        if "." in name and not name.startswith("layers.0."):
            continue
        label = shapes.get(name, "")
        print(f"{name:<{width + 6}}  {tuple(arr.shape)} {label}".rstrip())
    if model.n_layers > 1:
        print(f"(layers 1..{model.n_layers - 1} have the shapes of layer 0)")
    return 0
