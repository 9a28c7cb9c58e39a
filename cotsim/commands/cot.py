"""``cotsim cot``: run a circuit, or an automaton, as a CoT transformer.

Circuit mode: ``cotsim cot FILE --input BITS [--inputs-file F] [--json] [--trace]``.
Automaton mode: ``cotsim cot --automaton s5|parity|modp:P|sqmod:P --word W [--json]``, or
``--word-file F`` (``-``: standard input) with symbols separated by commas, newlines or both.
``--save-model M.npz [--force]`` (both modes) also writes the constructed transformer in the
`.npz` layout, its meta ``source`` naming the circuit (file, SHA-256) or the automaton, the
prompt positions of the inputs and the CoT steps of the outputs (atomic; an existing file
is kept unless --force). ``cotsim model run M.npz --tokens ... --cot T`` then emits the same
tokens.
Every token comes from the generic finite-precision forward pass; ``agrees`` compares the
transformer's answer with direct evaluation (exit 1 if any disagrees).
"""
from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="evaluate a circuit or an automaton by chain of thought",
                       description="Build the CoT transformer of a circuit (one CoT token per "
                       "gate, Theorem 3.3) or of a finite automaton (one token per symbol, "
                       "Corollary 3.4), run it token by token in finite precision, and compare "
                       "with direct evaluation.")
    p.add_argument("file", nargs="?", help="a circuit file (.bench .blif .aag .aig .json)")
    p.add_argument("--input", action="append", default=[], metavar="BITS",
                   help="input bits, one character per primary input, in file order")
    p.add_argument("--inputs-file", metavar="F", help="one bit string a line")
    p.add_argument("--automaton", metavar="NAME", help="s5, parity, modp:P or sqmod:P")
    p.add_argument("--word", metavar="W", help="comma-separated symbols for --automaton")
    p.add_argument("--word-file", metavar="F",
                   help="the word from a file ('-': standard input): symbols separated by "
                   "commas, newlines or both; blank lines are skipped")
    p.add_argument("--format", metavar="FMT", default=None,
                   help="number format (default paper:e=0,s=3, fixed point)")
    p.add_argument("--sum", choices=("iterative", "exact"), default="iterative",
                   help="summation mode of the model (default: iterative, the paper's)")
    p.add_argument("--json", action="store_true", help="one JSON object a line")
    p.add_argument("--trace", action="store_true",
                   help="also show each step: its gate, the positions attended to, the token")
    p.add_argument("--save-model", metavar="M.npz", default=None,
                   help="also write the constructed transformer (.npz); its meta 'source' "
                   "names the circuit or automaton, which prompt positions carry which "
                   "inputs and which CoT steps carry which outputs")
    p.add_argument("--force", action="store_true", help="overwrite an existing --save-model file")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from circuits.errors import CotsimInputError

    if args.save_model is not None:
        from ._args import check_output
        check_output(args.file, args.save_model, args.force, "circuit file", exts=(".npz",))
    if args.automaton:
        if args.file or args.input or args.inputs_file:
            raise CotsimInputError("--automaton takes --word, not a circuit file or --input")
        if (args.word is None) == (args.word_file is None):
            raise CotsimInputError("--automaton needs one of --word W (comma-separated "
                                   "symbols) or --word-file F")
        return _run_automaton(args)
    if not args.file:
        raise CotsimInputError("give a circuit FILE, or --automaton NAME --word W")
    if args.word is not None or args.word_file is not None:
        raise CotsimInputError("--word and --word-file go with --automaton")
    return _run_circuit(args)


#: a word file of MAX_WORD symbols of s5 takes about 0.8 MB; refuse far larger ones
MAX_WORD_FILE_BYTES = 16 << 20


def _read_word_file(dfa, path: str) -> tuple[str, ...]:
    """The symbols of a word file (``-``: standard input), errors as ``F:line``."""
    from circuits.io import decode_text, read_input

    data, source = read_input(path, MAX_WORD_FILE_BYTES)
    return dfa.parse_word_text(decode_text(data, source, "text (a word file)"), source)


def _run_automaton(args: argparse.Namespace) -> int:
    from transformer_sim.automata import automaton
    from transformer_sim.constructions.automaton_cot import run_automaton_cot

    dfa = automaton(args.automaton)
    word = args.word if args.word is not None else _read_word_file(dfa, args.word_file)
    kept: list = []
    result = run_automaton_cot(dfa, word, fmt=args.format, sum_mode=args.sum, keep=kept)
    if args.save_model is not None:
        _save_model(args, kept[0].model, kept[0].source())
    if args.json:
        print(json.dumps(result))
    else:
        print(f"states: {' '.join(str(s) for s in result['states'])}")
        print(f"final: {result['final']}  agrees: {result['agrees']}  "
              f"({result['cot_steps']} CoT steps, {result['layers']} layer(s), "
              f"{result['heads']} head(s), d_model {result['d_model']}, {result['format']})")
    return 0 if result["agrees"] else 1


def _run_circuit(args: argparse.Namespace) -> int:
    import numpy as np

    import circuits
    from .evaluate import read_vectors
    from transformer_sim.constructions.circuit_cot import build_circuit_cot
    from transformer_sim.cot import run_cot

    circuit = circuits.load(args.file)
    vectors = [[int(ch) for ch in bits] for bits in read_vectors(args, circuit.num_inputs)]
    cot = build_circuit_cot(circuit, args.format, sum_mode=args.sum)
    if args.save_model is not None:
        import hashlib
        import os

        from circuits.io import read_bytes

        sha = hashlib.sha256(read_bytes(args.file)).hexdigest()
        _save_model(args, cot.model, cot.source(os.path.basename(args.file), sha))
    expected = circuits.evaluate(circuit, np.array(vectors, dtype=bool).reshape(
        len(vectors), circuit.num_inputs))
    all_agree = True
    for bits, want in zip(vectors, expected):
        trace = run_cot(cot.model, cot.prompt(bits), cot.cot_steps,
                        record_attention=args.trace)
        if trace.undefined:
            out, agrees = None, False
        else:
            got = cot.read_outputs(trace.tokens)
            out = "".join(map(str, got))
            agrees = got == [int(v) for v in want]
        all_agree &= agrees
        record = {"input": "".join(map(str, bits)), "output": out,
                  "cot_steps": cot.cot_steps, "layers": cot.model.n_layers,
                  "heads": cot.model.heads, "d_model": cot.model.d_model,
                  "format": cot.model.fmt.spec, "agrees": agrees}
        steps = _trace_rows(cot, circuit, trace) if args.trace else None
        if args.json:
            if steps is not None:
                record["trace"] = steps
            print(json.dumps(record))
        else:
            print(f"{record['input']} -> {out if out is not None else 'undefined'}  "
                  f"agrees: {agrees}")
            if steps is not None:
                for s in steps:
                    print(f"  step {s['step']:>5}  {s['gate']:<16} {s['kind']:<6} "
                          f"attends {','.join(map(str, s['attends'])):<12} token {s['token']}")
        sys.stdout.flush()
    return 0 if all_agree else 1


def _save_model(args: argparse.Namespace, model, source: dict) -> None:
    """Write the model with its ``source`` meta (atomic; --force to overwrite)."""
    from dataclasses import replace

    from transformer_sim.npz import save

    save(replace(model, source=source), args.save_model, overwrite=args.force)


def _trace_rows(cot, circuit, trace) -> list[dict]:
    """Per step: the gate, the positions each head attends to (a_ij > 0, read from the
    recorded attention), and the emitted token."""
    import numpy as np

    prog = cot.program
    first = len(trace.prompt) - 1  # the position where step 0 is computed
    rows = []
    for s, tok in enumerate(trace.tokens):
        att = trace.attention[first + s]  # (L, H, p+1)
        attends = [int(j) for h in range(att.shape[1]) for j in np.flatnonzero(att[0, h] > 0)]
        node = prog.step_node[s]
        if node >= 0:
            gate, kind = prog.node_labels[node]
        else:
            gate, kind = f"out:{prog.output_names[s - (len(prog.steps) - prog.num_outputs)]}", \
                "READ"
        rows.append({"step": s, "gate": gate, "kind": kind, "attends": attends,
                     "token": int(tok)})
    return rows
