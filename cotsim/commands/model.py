"""``cotsim model random|run|info``: make, run and describe finite-precision transformers.

- ``model random ... -o M.npz [--force]`` writes a random model (atomically).
- ``model run M.npz --tokens 0,1,1,0 [--tokens ...] [--tokens-file F] [--cot T]`` prints
  one line per prompt (the ``--tokens`` in order, then the lines of F, one prompt a
  line, comma-separated; blank lines and ``#`` comments skipped; ``-`` reads standard
  input): the next token id, or with ``--cot T`` the T generated ids separated by
  commas. All prompts run as one batch (`transformer_sim.batch.run_batch`, bit for bit
  the one-prompt decoder). ``undefined`` stands where the forward pass is undefined (some Z_i = 0): the
  whole line without ``--cot``; with ``--cot`` the tokens of the defined steps, then
  ``undefined`` for the first undefined step (later steps cannot be computed).
- ``model run ... --json`` prints one JSON object per prompt instead:
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
                        description="One line per prompt (--tokens, then the lines of "
                        "--tokens-file): the next token id, or with --cot T the T generated "
                        "ids, comma-separated; 'undefined' where the forward pass is "
                        "undefined. All prompts run as one batch.")
    u.add_argument("model", help="a model .npz file")
    u.add_argument("--tokens", action="append", default=[], metavar="IDS",
                   help="a prompt: comma-separated token ids, e.g. 0,1,1,0 (repeatable)")
    u.add_argument("--tokens-file", metavar="F",
                   help="one prompt a line, comma-separated token ids ('-': stdin; blank "
                   "lines and # comments skipped)")
    u.add_argument("--cot", type=positive, default=None, metavar="T",
                   help="generate T tokens, feeding each back in")
    u.add_argument("--format", default=None, metavar="FMT",
                   help="run the model in another format, its weights rounded to it "
                   f"({FORMAT_HELP})")
    u.add_argument("--json", action="store_true",
                   help='one JSON object per prompt: {"tokens", "next"} or with --cot '
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


def _parse_tokens(text: str, where: str | None = None) -> list[int]:
    from circuits.errors import CotsimInputError

    parts = text.split(",")
    out = []
    for part in parts:
        part = part.strip()
        if not part.isdigit() or not part.isascii():
            what = "an empty entry" if not part else repr(part)
            raise CotsimInputError(f"{where or '--tokens'} {text!r}: {what} is not a token "
                                   "id (expected comma-separated integers >= 0)")
        out.append(int(part))
    return out


def _prompts(args: argparse.Namespace) -> list[tuple[str | None, list[int]]]:
    """(where, tokens) for each --tokens, then each line of --tokens-file (where is
    FILE:LINE, for the error line)."""
    from circuits.errors import CotsimInputError

    from .evaluate import _file_lines

    out: list[tuple[str | None, list[int]]] = [(None, _parse_tokens(t)) for t in args.tokens]
    if args.tokens_file is not None:
        name = "<stdin>" if args.tokens_file == "-" else args.tokens_file
        for number, line in _file_lines(args.tokens_file):
            where = f"{name}:{number}:"
            out.append((where, _parse_tokens(line, where)))
    if not out:
        raise CotsimInputError("give prompts with --tokens IDS or --tokens-file F")
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


def run_run(args: argparse.Namespace) -> int:
    from transformer_sim.npz import load

    model = load(args.model)
    if args.format is not None:
        from circuits.errors import CotsimInputError
        from transformer_sim.floatformat import FloatFormat

        try:  # FormatError and ModelError (a weight that rounds to inf) are input errors
            model = model.in_format(FloatFormat.parse(args.format))
        except CotsimInputError as e:
            raise CotsimInputError(f"--format {args.format!r}: {e}") from None
    from transformer_sim.errors import ModelError

    where_prompts = _prompts(args)
    extra = (args.cot - 1) if args.cot else 0
    for where, prompt in where_prompts:  # validate every prompt before printing anything
        try:
            model.check_tokens(prompt, extra_positions=extra)
        except ModelError as e:
            if where is None:
                raise
            raise ModelError(f"{where} {e}") from None
    from transformer_sim.batch import run_batch

    prompts = [p for _, p in where_prompts]
    run = run_batch(model, prompts, args.cot or 1)
    lines = []
    for b, prompt in enumerate(prompts):
        tokens, undefined = run.cot(b)
        record: dict = {"tokens": prompt}
        if args.cot is None:
            record["next"] = None if undefined else tokens[0]
            text = "undefined" if undefined else str(tokens[0])
        else:
            record["cot"] = tokens
            text = ",".join([str(t) for t in tokens] + (["undefined"] if undefined else []))
        if undefined:
            record["undefined"] = True
        lines.append(json.dumps(record) if args.json else text)
    print("\n".join(lines))
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
