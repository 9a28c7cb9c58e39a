"""Combinational BLIF (one ``.model`` of ``.names`` covers): reader and writer.

Reader. Accepted: ``.model``, ``.inputs``, ``.outputs`` (each may repeat), ``.names``
covers, ``.end`` (required: a file cut short is an error), ``#`` comments, ``\\`` line
continuation, CRLF. Refused with ``file:line``: ``.latch`` (sequential circuits are out of
scope), ``.subckt``/``.gate``/a second ``.model`` (hierarchy is out of scope), other
directives, covers that mix output values, and rows of the wrong width.

A cover becomes a small sub-circuit, and its last node carries the signal's name:

* no rows: CONST0; a row of dashes only: CONST1 (on-set) or CONST0 (off-set);
* one literal: BUF or NOT;
* one cube of on-set rows: AND of the literals (NOT on each negative one), or NOR
  when every literal is negative; off-set: NAND (NOTs on negative literals), or OR
  when every literal is negative;
* a full parity table (every row has every input, 2^(k-1) distinct rows of one parity):
  XOR or XNOR;
* several cubes: each cube as above (a lone literal is used as it is), then OR of the
  cubes (on-set) or NOR (off-set).

``file_stats`` counts the file as written: ``gates`` = ``.names`` count, ``depth`` = the
longest input-to-output path in ``.names`` nodes (constants are level 0),
``max_fanin`` = the widest ``.names``, and ``kinds`` counts cover classes:
CONST0, CONST1, BUF, NOT, AND (one on-set cube), OR (one off-set cube: an OR of
literals), XOR, XNOR, SOP (several cubes, either polarity).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from .analysis import basis
from .bench import lower, signal_names, text_lines
from .errors import ParseError
from .io import Loaded
from .ir import Circuit, Kind
from .netlist import Netlist

_SEQUENTIAL = {".latch", ".mlatch", ".clock"}
_HIERARCHY = {".subckt", ".gate", ".search", ".model"}
_CLASSES = ("CONST0", "CONST1", "BUF", "NOT", "AND", "OR", "XOR", "XNOR", "SOP")


@dataclass
class _Cover:
    ins: list[str]
    out: str
    line: int
    rows: list[str]
    value: str | None = None  # "1" on-set, "0" off-set


def _logical_lines(data: bytes, path: str):
    """(first line number, tokens) per logical line, comments and continuations done."""
    buf: list[str] = []
    start = 0
    for no, raw in enumerate(text_lines(data, path), 1):
        line = raw.split("#", 1)[0].rstrip()
        if not buf:
            start = no
        if line.endswith("\\"):
            buf.append(line[:-1])
            continue
        buf.append(line)
        tokens = " ".join(buf).split()
        buf = []
        if tokens:
            yield start, tokens
    if buf and " ".join(buf).split():
        raise ParseError("the file ends inside a '\\' continuation", path, start)


def parse(data: bytes, path: str) -> Loaded:
    net = Netlist(path=path)
    covers: list[_Cover] = []
    cover: _Cover | None = None
    models = 0
    end_line = None
    last = 1
    for no, tokens in _logical_lines(data, path):
        last = no
        word = tokens[0]
        if end_line is not None:
            if word == ".model":
                raise ParseError("a second .model: hierarchical BLIF is out of scope", path, no)
            raise ParseError(f"text after .end (line {end_line})", path, no)
        if not word.startswith("."):
            if cover is None:
                raise ParseError(f"cover row {' '.join(tokens)[:40]!r} outside a .names", path, no)
            _add_row(cover, tokens, path, no)
            continue
        cover = None
        bad = [t for t in tokens[1:] if not valid_name(t)]
        if bad:
            raise ParseError(f"bad signal name {bad[0][:40]!r}", path, no)
        if word == ".names":
            if len(tokens) < 2:
                raise ParseError(".names needs at least an output signal", path, no)
            cover = _Cover(tokens[1:-1], tokens[-1], no, [])
            covers.append(cover)
        elif word == ".inputs":
            for name in tokens[1:]:
                net.add_input(name, no)
        elif word == ".outputs":
            for name in tokens[1:]:
                net.add_output(name, no)
        elif word == ".model":
            models += 1
            if models > 1:
                raise ParseError("a second .model: hierarchical BLIF is out of scope", path, no)
        elif word == ".end":
            end_line = no
        elif word in _SEQUENTIAL:
            raise ParseError(f"{word}: sequential circuits are out of scope", path, no)
        elif word in _HIERARCHY:
            raise ParseError(f"{word}: hierarchical BLIF and gate libraries are out of scope",
                             path, no)
        elif word == ".exdc":
            raise ParseError(".exdc: external don't-care networks are out of scope", path, no)
        else:
            raise ParseError(f"unknown directive {word[:30]!r}", path, no)
    if end_line is None:
        raise ParseError("no .end: the file looks cut short", path, last)
    if not net.outputs:
        raise ParseError("no .outputs: the circuit computes nothing", path, last)
    classes = Counter()
    for c in covers:
        classes[_define(net, c)] += 1
    circuit = net.to_circuit(strash=False, fold=False)
    # Helper nodes (NOTs, cubes) have names with a space, which no BLIF signal has.
    names = circuit.node_names or ()
    tops = [n is not None and " " not in n for n in names]
    node_names = tuple(n if top else None for n, top in zip(names, tops)) if names else None
    circuit = Circuit(circuit.kinds, circuit.fanin_ptr, circuit.fanin, circuit.weights,
                      circuit.thresholds, circuit.input_names, circuit.output_ids,
                      circuit.output_names, node_names)
    stats = {
        "inputs": circuit.num_inputs,
        "outputs": circuit.num_outputs,
        "gates": len(covers),
        "depth": _names_depth(circuit, tops),
        "max_fanin": max((len(c.ins) for c in covers), default=0),
        "max_abs_weight": 0,
        "kinds": {k: classes[k] for k in _CLASSES if classes[k]},
        "basis": basis(circuit),
    }
    return Loaded(circuit, stats)


def _add_row(cover: _Cover, tokens: list[str], path: str, no: int) -> None:
    k = len(cover.ins)
    if k == 0:
        if len(tokens) != 1 or tokens[0] not in ("0", "1"):
            raise ParseError(f"a .names without inputs takes a row '1' or '0', got "
                             f"{' '.join(tokens)[:40]!r}", path, no)
        plane, value = "", tokens[0]
    else:
        if len(tokens) != 2 or len(tokens[0]) != k or tokens[1] not in ("0", "1") \
                or tokens[0].strip("01-"):
            raise ParseError(f"cover row {' '.join(tokens)[:40]!r} does not fit .names "
                             f"{cover.out!r} with {k} inputs (expected {k} of 0/1/- and "
                             "an output 0 or 1)", path, no)
        plane, value = tokens
    if cover.value is None:
        cover.value = value
    elif cover.value != value:
        raise ParseError(f"cover of {cover.out!r} mixes on-set (1) and off-set (0) rows",
                         path, no)
    cover.rows.append(plane)


def _define(net: Netlist, c: _Cover) -> str:
    """Define the cover's sub-circuit in ``net``; return its class for the statistics."""
    y, line = c.out, c.line
    on = c.value != "0"
    if not c.rows:
        net.define(y, Kind.CONST0, [], line)
        return "CONST0"
    cubes = [[(c.ins[j], ch == "1") for j, ch in enumerate(row) if ch != "-"] for row in c.rows]
    if any(not cube for cube in cubes):  # a cube of dashes only is always true
        net.define(y, Kind.CONST1 if on else Kind.CONST0, [], line)
        return "CONST1" if on else "CONST0"
    nots: dict[str, str] = {}

    def literal(var: str, positive: bool) -> str:
        if positive:
            return var
        if var not in nots:
            nots[var] = f"{y} (not {var})"
            net.define(nots[var], Kind.NOT, [var], line)
        return nots[var]

    def cube_node(cube, name: str, invert: bool) -> str:
        """AND of the literals (NAND when ``invert``), or NOR (OR) if all are negative."""
        if all(not p for _, p in cube):
            net.define(name, Kind.OR if invert else Kind.NOR, [v for v, _ in cube], line)
        else:
            net.define(name, Kind.NAND if invert else Kind.AND,
                       [literal(v, p) for v, p in cube], line)
        return name

    if len(cubes) == 1:
        cube = cubes[0]
        if len(cube) == 1:
            var, positive = cube[0]
            net.define(y, Kind.BUF if positive == on else Kind.NOT, [var], line)
            return "BUF" if positive == on else "NOT"
        cube_node(cube, y, invert=not on)
        return "AND" if on else "OR"
    k = len(c.ins)
    parity = {sum(ch == "1" for ch in row) % 2 for row in c.rows}
    if k >= 2 and len(parity) == 1 and "-" not in "".join(c.rows) \
            and len(set(c.rows)) == len(c.rows) == 2 ** (k - 1):
        xor = (parity == {1}) == on
        net.define(y, Kind.XOR if xor else Kind.XNOR, c.ins, line)
        return "XOR" if xor else "XNOR"
    parts = []
    for j, cube in enumerate(cubes, 1):
        if len(cube) == 1:
            parts.append(literal(*cube[0]))
        else:
            parts.append(cube_node(cube, f"{y} (cube {j})", invert=False))
    net.define(y, Kind.OR if on else Kind.NOR, parts, line)
    return "SOP"


def _names_depth(circuit: Circuit, tops: list[bool]) -> int:
    """Longest path in .names nodes: only nodes that carry a signal's name add a level."""
    if circuit.num_outputs == 0:
        return 0
    ptr = circuit.fanin_ptr.tolist()
    fanin = circuit.fanin.tolist()
    lv = [0] * circuit.num_nodes
    for i in range(circuit.num_inputs, circuit.num_nodes):
        a, b = ptr[i], ptr[i + 1]
        m = max((lv[f] for f in fanin[a:b]), default=-1)
        lv[i] = 0 if m < 0 else m + (1 if tops[i] else 0)
    return max(lv[o] for o in circuit.output_ids.tolist())


# -- writer ------------------------------------------------------------------------------

XOR_MAX = 8  # a parity table of k inputs has 2^(k-1) rows
THR_MAX = 10  # a threshold cover has at most C(10, 5) = 252 rows


def valid_name(name: str) -> bool:
    """A BLIF signal name: no space or ``#``, and no ``\\`` at its end (a continuation)."""
    return bool(name) and not name.endswith("\\") and not any(
        ch.isspace() or ch == "#" for ch in name)


def _rows(circuit: Circuit, node: int) -> tuple[list[str], str]:
    """The cover of one gate: (input planes, output value)."""
    kind = circuit.kind(node)
    k = len(circuit.fanins(node))
    if kind == Kind.CONST0:
        return [], "1"
    if kind == Kind.CONST1:
        return [""], "1"
    if kind in (Kind.BUF, Kind.AND):
        return ["1" * k], "1"
    if kind == Kind.NOT:
        return ["0"], "1"
    if kind == Kind.NAND:
        return ["1" * k], "0"
    if kind == Kind.OR:
        return ["0" * k], "0"
    if kind == Kind.NOR:
        return ["0" * k], "1"
    if kind in (Kind.XOR, Kind.XNOR):
        odd = [format(m, f"0{k}b") for m in range(2 ** k) if bin(m).count("1") % 2]
        return odd, "1" if kind == Kind.XOR else "0"
    # MAJ/THR: the minimal true sets of literals (a negative weight reads its input as 0).
    if kind == Kind.MAJ:
        ws, t = [1] * k, (k + 1) // 2
    else:
        ws, t = circuit.fanin_weights(node).tolist(), int(circuit.thresholds[node])
    t += sum(-w for w in ws if w < 0)
    mags = [abs(w) for w in ws]
    rows = []
    for mask in range(2 ** k):
        chosen = [j for j in range(k) if mask >> j & 1]
        total = sum(mags[j] for j in chosen)
        if total >= t and all(total - mags[j] < t for j in chosen):
            rows.append("".join(("1" if ws[j] > 0 else "0") if mask >> j & 1 else "-"
                                for j in range(k)))
    if not rows:  # never true; ABC refuses a cover without rows that has inputs
        return ["-" * k], "0"
    return rows, "1"


def _absorbed_nots(circuit: Circuit) -> set[int]:
    """Unnamed NOTs read by one AND/NAND and nothing else: written as a 0 in its row, as
    in ``10 1``. The reader turns such a row back into the same NOT and AND."""
    n = circuit.num_nodes
    fanout = np.bincount(circuit.fanin, minlength=n) + np.bincount(circuit.output_ids,
                                                                   minlength=n)
    names = circuit.node_names
    found = set()
    for g in range(circuit.num_inputs, n):
        if circuit.kind(g) in (Kind.AND, Kind.NAND):
            for f in circuit.fanins(g).tolist():
                if circuit.kind(f) == Kind.NOT and fanout[f] == 1 and \
                        (names is None or names[f] is None):
                    found.add(f)
    return found


def _wrap(words: list[str], width: int = 78) -> str:
    lines, cur = [], words[0]
    for w in words[1:]:
        if len(cur) + 1 + len(w) > width:
            lines.append(cur + " \\")
            cur = " " + w
        else:
            cur += " " + w
    lines.append(cur)
    return "\n".join(lines)


def dump(circuit: Circuit) -> bytes:
    """Write BLIF readable by ``berkeley-abc``: one ``.names`` per IR gate (XOR/XNOR with
    more than 8 inputs and MAJ/THR with more than 10 are first rewritten into narrower
    gates; an unnamed NOT read only by one AND/NAND joins that gate's row), plus a buffer
    ``.names`` for each output that cannot name its driver."""
    circuit = lower(circuit, xor_max=XOR_MAX, thr_max=THR_MAX)
    names, buffers = signal_names(circuit, valid_name, "BLIF")
    absorbed = _absorbed_nots(circuit)
    out = ["# written by cotsim", ".model top"]
    if circuit.num_inputs:
        out.append(_wrap([".inputs", *circuit.input_names]))
    if circuit.num_outputs:
        out.append(_wrap([".outputs", *circuit.output_names]))
    for i in range(circuit.num_inputs, circuit.num_nodes):
        if i in absorbed:
            continue
        fanins = circuit.fanins(i).tolist()
        rows, value = _rows(circuit, i)
        if circuit.kind(i) in (Kind.AND, Kind.NAND) and absorbed.intersection(fanins):
            rows = ["".join("0" if f in absorbed else "1" for f in fanins)]
            fanins = [int(circuit.fanins(f)[0]) if f in absorbed else f for f in fanins]
        out.append(_wrap([".names", *(names[f] for f in fanins), names[i]]))
        out += [f"{plane} {value}" if plane else value for plane in rows]
    for name, node in buffers:
        out += [f".names {names[node]} {name}", "1 1"]
    out.append(".end")
    return ("\n".join(out) + "\n").encode()


__all__ = ["parse", "dump", "valid_name"]
