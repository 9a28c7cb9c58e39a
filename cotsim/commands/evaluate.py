"""``cotsim eval FILE --input BITS [--input BITS ...] [--inputs-file F] [--json]``.

Character i of a bit string is primary input i, in the file's input order; each printed
line is the outputs in the file's output order. Input vectors are the ``--input`` values
in the order given, then the lines of ``--inputs-file`` (``-`` reads standard input), in
which blank lines and lines starting with ``#`` are skipped. One line is printed per
vector, in that order; with ``--json``, one JSON object per vector:
``{"input": BITS, "output": BITS}``.
"""
from __future__ import annotations

import argparse
import sys

_EPILOG = ("Character i of BITS is input i, in the file's order of primary inputs; each "
           "printed line holds the outputs in the file's order. In an inputs file, blank "
           "lines and lines starting with # are skipped.")


def register(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="evaluate a circuit on input bit strings",
                       description="Evaluate a circuit on input vectors and print one output "
                       "bit string per vector, in the order given.", epilog=_EPILOG)
    p.add_argument("file", help="a .bench, .blif, .aag, .aig or .json file")
    p.add_argument("--input", action="append", default=[], metavar="BITS",
                   help="one input vector, e.g. 10101 (repeatable)")
    p.add_argument("--inputs-file", metavar="F",
                   help="a file with one input bit string a line ('-': standard input)")
    p.add_argument("--json", action="store_true",
                   help='one JSON object a line: {"input": BITS, "output": BITS}')
    p.set_defaults(run=run)


def _check_bits(bits: str, n: int, where: str) -> None:
    """One error line naming ``where`` unless ``bits`` is n characters of 0/1."""
    from circuits.errors import CotsimInputError

    bad = next((i for i, ch in enumerate(bits) if ch not in "01"), None)
    if bad is not None:
        raise CotsimInputError(f"{where}: character {bad + 1} of {bits!r} is "
                               f"{bits[bad]!r}; input bits must be 0 or 1")
    if len(bits) != n:
        raise CotsimInputError(f"{where}: {bits!r} has {len(bits)} bits, but the circuit "
                               f"has {n} inputs")


def _file_lines(path: str) -> list[tuple[int, str]]:
    """(line number, bit string) for each line of an inputs file that is not skipped."""
    from circuits.errors import CotsimInputError
    from circuits.io import read_input

    data, _ = read_input(path)
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark, as editors write
        data = data[3:]
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise CotsimInputError(f"{path}:{line}: not a bit string (non-ASCII byte)") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if s and not s.startswith("#"):
            rows.append((number, s))
    return rows


def read_vectors(args: argparse.Namespace, n: int) -> list[str]:
    """The bit strings of ``--input`` (in order), then of ``--inputs-file``, each checked
    against the circuit's n inputs. Shared with ``cotsim cot``."""
    from circuits.errors import CotsimInputError

    if not args.input and args.inputs_file is None:
        raise CotsimInputError("give input bit strings with --input BITS or --inputs-file F")
    vectors: list[str] = []
    for k, bits in enumerate(args.input, start=1):
        _check_bits(bits, n, f"--input #{k}")
        vectors.append(bits)
    if args.inputs_file is not None:
        name = "<stdin>" if args.inputs_file == "-" else args.inputs_file
        for number, bits in _file_lines(args.inputs_file):
            _check_bits(bits, n, f"{name}:{number}")
            vectors.append(bits)
    return vectors


def run(args: argparse.Namespace) -> int:
    from circuits.io import load

    circuit = load(args.file)
    n = circuit.num_inputs
    vectors = read_vectors(args, n)

    import numpy as np

    from circuits.simulate import evaluate

    X = (np.frombuffer("".join(vectors).encode("ascii"), dtype=np.uint8)
         .reshape(len(vectors), n) == ord("1"))
    Y = evaluate(circuit, X)
    text = np.full((Y.shape[0], Y.shape[1] + 1), ord("\n"), dtype=np.uint8)
    text[:, :-1] = Y.astype(np.uint8) + ord("0")
    out = text.tobytes().decode("ascii")
    if args.json:
        import json

        out = "".join(json.dumps({"input": bits, "output": line}) + "\n"
                      for bits, line in zip(vectors, out.splitlines()))
    sys.stdout.write(out)
    sys.stdout.flush()
    return 0
