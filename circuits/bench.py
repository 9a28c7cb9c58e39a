"""ISCAS ``.bench`` netlists: reader and writer.

Accepted (case-insensitive keywords, ``#`` comments, LF or CRLF lines)::

    INPUT(a)                     OUTPUT(y)
    y = NAND(a, b, ...)          AND OR NAND NOR XOR XNOR NOT BUF BUFF MAJ
    y = THR(2; a:1, b:-1)        1 iff 1*a - 1*b >= 2   (cotsim extension)
    y = vdd   y = gnd            constants 1 and 0 (also CONST1() and CONST0())

Definitions may come in any order. ``DFF`` lines are refused: sequential circuits are out
of scope. The writer's default dialect ``"abc"`` uses only what ``berkeley-abc``'s
``read_bench`` understands (XOR/XNOR with two inputs, no MAJ/THR): wider XORs become
balanced trees of 2-input XORs, and MAJ/THR become adder-and-comparator logic. The
``"cotsim"`` dialect writes every IR gate as one line, MAJ/THR included.

This module also holds the helpers that the BLIF writer shares: ``lower`` and
``signal_names``.
"""
from __future__ import annotations

import re
from typing import Callable

from .builder import CircuitBuilder
from .errors import CotsimInputError, ParseError
from .io import Loaded, decode_text
from .ir import MAX_WEIGHT_SUM, Circuit, Kind, show_int, thr_limit_error
from .netlist import Netlist

_NAME = r"[^\s(),=#]+"
_IO = re.compile(rf"\s*(INPUT|OUTPUT)\s*\(\s*({_NAME})\s*\)\s*$", re.I)
_GATE = re.compile(rf"\s*({_NAME})\s*=\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*$")
_CONST = re.compile(rf"\s*({_NAME})\s*=\s*(vdd|gnd)\s*$", re.I)
_NAME_ONLY = re.compile(rf"{_NAME}$")
_INT = re.compile(r"[+-]?\d+$")  # magnitude: ir.thr_limit_error

_GATES = {
    "AND": Kind.AND, "OR": Kind.OR, "NAND": Kind.NAND, "NOR": Kind.NOR,
    "XOR": Kind.XOR, "XNOR": Kind.XNOR, "NOT": Kind.NOT, "BUF": Kind.BUF,
    "BUFF": Kind.BUF, "MAJ": Kind.MAJ, "THR": Kind.THR,
    "CONST0": Kind.CONST0, "CONST1": Kind.CONST1,
}
_SEQUENTIAL = {"DFF", "DFFR", "DFFS", "LATCH"}


def text_lines(data: bytes, path: str) -> list[str]:
    """Decode UTF-8 text (a leading byte-order mark dropped) into lines (LF or CRLF),
    with a file:line error on bad bytes."""
    lines = decode_text(data, path).split("\n")
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


# -- reader ------------------------------------------------------------------------------

def parse(data: bytes, path: str) -> Loaded:
    """Read a ``.bench`` file as written: one IR gate per gate line."""
    net = Netlist(path=path)
    lines = text_lines(data, path)
    for no, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0]
        if not line.strip():
            continue
        m = _IO.match(line)
        if m:
            if m.group(1).upper() == "INPUT":
                net.add_input(m.group(2), no)
            else:
                net.add_output(m.group(2), no)
            continue
        m = _CONST.match(line)
        if m:
            kind = Kind.CONST1 if m.group(2).lower() == "vdd" else Kind.CONST0
            net.define(m.group(1), kind, [], no)
            continue
        m = _GATE.match(line)
        if not m:
            raise ParseError(f"cannot read this line: {raw.strip()[:60]!r} (expected INPUT(x), "
                             "OUTPUT(x) or x = GATE(a, b, ...))", path, no)
        name, word, args = m.group(1), m.group(2).upper(), m.group(3)
        if word in _SEQUENTIAL:
            raise ParseError(f"{word} is a latch: sequential circuits are out of scope", path, no)
        kind = _GATES.get(word)
        if kind is None:
            raise ParseError(f"unknown gate {m.group(2)!r}", path, no)
        if kind == Kind.THR:
            ins, weights, threshold = _threshold_args(args, path, no)
            net.define(name, kind, ins, no, weights, threshold)
            continue
        ins = [a.strip() for a in args.split(",")] if args.strip() else []
        if any(not _NAME_ONLY.match(a) for a in ins):
            raise ParseError(f"bad fan-in list {args.strip()[:60]!r}", path, no)
        if kind in (Kind.CONST0, Kind.CONST1):
            if ins:
                raise ParseError(f"{word} takes no inputs, got {len(ins)}", path, no)
        elif kind in (Kind.NOT, Kind.BUF):
            if len(ins) != 1:
                raise ParseError(f"{word} takes exactly 1 input, got {len(ins)}", path, no)
        elif not ins:
            raise ParseError(f"{word} needs at least 1 input", path, no)
        net.define(name, kind, ins, no)
    if not net.outputs:
        raise ParseError("no OUTPUT(...) line: the circuit computes nothing", path,
                         max(1, len(lines) - (lines[-1] == "")))
    return Loaded(net.to_circuit(strash=False, fold=False))


def _threshold_args(args: str, path: str, no: int) -> tuple[list[str], list[int], int]:
    """``t; a:w, b:w, ...`` -> (names, weights, t)."""
    if ";" not in args:
        raise ParseError("THR needs 'threshold; signal:weight, ...'", path, no)
    head, tail = args.split(";", 1)
    head = head.strip()
    if not _INT.match(head):
        raise ParseError(f"bad THR threshold {head[:40]!r} (expected an integer)", path, no)
    threshold = _bounded_int(head, "threshold", path, no)
    ins, weights = [], []
    for item in tail.split(","):
        name, sep, w = item.strip().rpartition(":")
        if not sep or not _NAME_ONLY.match(name.strip()) or not _INT.match(w.strip()):
            raise ParseError(f"bad THR input {item.strip()[:40]!r} (expected signal:weight)",
                             path, no)
        ins.append(name.strip())
        weights.append(_bounded_int(w.strip(), f"weight of {name.strip()!r}", path, no))
    problem = thr_limit_error(weights, threshold)
    if problem:
        raise ParseError(problem, path, no)
    return ins, weights, threshold


def _bounded_int(text: str, what: str, path: str, no: int) -> int:
    """An integer of a THR line, refused by the one THR limit (2^61) before it is
    converted when it is too long to be under it."""
    if len(text.lstrip("+-")) > 19 or abs(int(text)) >= MAX_WEIGHT_SUM:
        raise ParseError(f"THR {what} {show_int(text)} is over the limit: |weights| + "
                         f"|threshold| of a THR gate must stay below 2^61", path, no)
    return int(text)


# -- helpers shared by the writers -------------------------------------------------------

def lower(circuit: Circuit, *, xor_max: int | None = 2, thr_max: int | None = 0) -> Circuit:
    """The same function with narrower gates, for writers whose readers need them.

    XOR/XNOR with more than ``xor_max`` inputs become balanced trees of 2-input XORs (and
    with one input, BUF/NOT). MAJ/THR with more than ``thr_max`` inputs become a binary
    adder of the weighted literals and a comparison with the threshold (AND/OR/XOR/NOT).
    ``None`` keeps the kind whatever its fan-in. The interface and the names of the nodes
    that stay are kept; a rewritten node's name goes to the node that now computes it.
    """
    def too_wide(kind: int, k: int) -> bool:
        if kind in (Kind.XOR, Kind.XNOR):
            return xor_max is not None and (k > xor_max or k == 1)
        if kind in (Kind.MAJ, Kind.THR):
            return thr_max is not None and k > thr_max
        return False

    ptr = circuit.fanin_ptr
    if not any(too_wide(int(circuit.kinds[i]), int(ptr[i + 1] - ptr[i]))
               for i in range(circuit.num_inputs, circuit.num_nodes)):
        return circuit
    b = CircuitBuilder(strash=False, fold=False)
    new: list[int] = [b.input(n) for n in circuit.input_names]
    names: dict[int, str] = {}
    for i in range(circuit.num_inputs, circuit.num_nodes):
        kind = Kind(int(circuit.kinds[i]))
        ins = [new[int(f)] for f in circuit.fanins(i)]
        name = circuit.node_names[i] if circuit.node_names is not None else None
        if kind in (Kind.CONST0, Kind.CONST1):
            node = b.const(kind == Kind.CONST1)
        elif not too_wide(kind, len(ins)):
            ws = [int(w) for w in circuit.fanin_weights(i)] if kind == Kind.THR else None
            t = int(circuit.thresholds[i]) if kind == Kind.THR else None
            node = b.gate(kind, ins, ws, t)
        elif kind in (Kind.XOR, Kind.XNOR):
            node = _xor_tree(b, ins, kind == Kind.XNOR)
        else:
            if kind == Kind.MAJ:
                ws, t = [1] * len(ins), (len(ins) + 1) // 2
            else:
                ws, t = [int(w) for w in circuit.fanin_weights(i)], int(circuit.thresholds[i])
            node = _threshold_logic(b, ins, ws, t)
        new.append(node)
        if name is not None and node >= circuit.num_inputs and node not in names:
            names[node] = name
    for name, o in zip(circuit.output_names, circuit.output_ids):
        b.output(name, new[int(o)])
    c = b.build()
    node_names = [None] * c.num_nodes
    for node, name in names.items():
        node_names[node] = name
    return Circuit(c.kinds, c.fanin_ptr, c.fanin, c.weights, c.thresholds, c.input_names,
                   c.output_ids, c.output_names,
                   tuple(c.input_names) + tuple(node_names[c.num_inputs:]))


def _xor_tree(b: CircuitBuilder, ins: list[int], negate: bool) -> int:
    if len(ins) == 1:
        return b.gate(Kind.NOT if negate else Kind.BUF, ins)
    while len(ins) > 2:
        ins = [b.gate(Kind.XOR, ins[j:j + 2]) if j + 1 < len(ins) else ins[j]
               for j in range(0, len(ins), 2)]
    return b.gate(Kind.XNOR if negate else Kind.XOR, ins)


def _threshold_logic(b: CircuitBuilder, ins: list[int], ws: list[int], t: int) -> int:
    """[sum w_i x_i >= t] as a column adder of the weighted literals and a comparator."""
    t += sum(-w for w in ws if w < 0)  # w x = |w| (1 - x) - |w| for w < 0
    total = sum(abs(w) for w in ws)
    if t <= 0 or t > total:
        return b.const(t <= 0)
    lits = [(x, w) if w > 0 else (b.gate(Kind.NOT, [x]), -w) for x, w in zip(ins, ws) if w]
    cols: list[list[int]] = [[] for _ in range(total.bit_length() + 1)]
    for x, w in lits:
        for j in range(w.bit_length()):
            if w >> j & 1:
                cols[j].append(x)
    for j, col in enumerate(cols):
        while len(col) > 1:  # carry-save reduction, column by column
            if len(col) >= 3:
                p, q, r = col.pop(0), col.pop(0), col.pop(0)
                col.append(b.gate(Kind.XOR, [b.gate(Kind.XOR, [p, q]), r]))
                cols[j + 1].append(b.gate(Kind.OR, [b.gate(Kind.AND, [p, q]),
                                                    b.gate(Kind.AND, [p, r]),
                                                    b.gate(Kind.AND, [q, r])]))
            else:
                p, q = col.pop(0), col.pop(0)
                col.append(b.gate(Kind.XOR, [p, q]))
                cols[j + 1].append(b.gate(Kind.AND, [p, q]))
    # g = [S mod 2^(j+1) >= t mod 2^(j+1)], from the least significant bit up.
    one, zero = -1, -2
    g = one
    for j, col in enumerate(cols):
        s = col[0] if col else zero
        if t >> j & 1:  # g = s AND g
            if s == zero or g == zero:
                g = zero
            else:
                g = s if g == one else b.gate(Kind.AND, [s, g])
        elif s != zero and g != one:  # g = s OR g
            g = s if g == zero else b.gate(Kind.OR, [s, g])
    return b.const(g == one) if g in (one, zero) else g


def signal_names(circuit: Circuit, valid: Callable[[str], bool], fmt: str
                 ) -> tuple[list[str], list[tuple[str, int]]]:
    """A unique, writable signal name per node, and the buffers still needed.

    Inputs keep their names. A gate that drives an output takes the output's name, so that
    ``OUTPUT(y)`` names it. An output that cannot name its driver (the driver is an input
    of another name, or already has a name) needs a buffer ``(output name, driver)``.
    Other nodes keep their own name unless it clashes or cannot be written; the rest get
    ``n<id>`` (with a suffix if that is taken).
    """
    ni = circuit.num_inputs
    names: list[str | None] = [None] * circuit.num_nodes
    used: set[str] = set()
    for i, name in enumerate(circuit.input_names):
        if not valid(name):
            raise CotsimInputError(f"input name {name!r} cannot be written in {fmt}")
        if name in used:
            raise CotsimInputError(f"two inputs are named {name!r}; {fmt} needs unique names")
        names[i] = name
        used.add(name)
    buffers: list[tuple[str, int]] = []
    driver: dict[str, int] = {}
    for name, node in zip(circuit.output_names, circuit.output_ids.tolist()):
        if name in driver:
            if driver[name] != node:
                raise CotsimInputError(f"two different outputs are named {name!r}; {fmt} "
                                       "names an output by its signal")
            continue
        driver[name] = node
        if names[node] == name:
            continue
        if not valid(name):
            raise CotsimInputError(f"output name {name!r} cannot be written in {fmt}")
        if name in used:
            raise CotsimInputError(f"output {name!r} has the name of an input but another "
                                   f"signal drives it; {fmt} cannot say that")
        used.add(name)
        if node >= ni and names[node] is None:
            names[node] = name
        else:
            buffers.append((name, node))
    own = circuit.node_names or [None] * circuit.num_nodes
    for i in range(ni, circuit.num_nodes):  # own names first, so that none is lost ...
        name = own[i]
        if names[i] is None and name is not None and valid(name) and name not in used:
            names[i] = name
            used.add(name)
    for i in range(ni, circuit.num_nodes):  # ... to a made-up name
        if names[i] is None:
            name, k = f"n{i}", 0
            while name in used:
                k += 1
                name = f"n{i}_{k}"
            names[i] = name
            used.add(name)
    return names, buffers  # type: ignore[return-value]


def valid_name(name: str) -> bool:
    return bool(_NAME_ONLY.match(name))


# -- writer ------------------------------------------------------------------------------

_WRITE = {Kind.AND: "AND", Kind.OR: "OR", Kind.NAND: "NAND", Kind.NOR: "NOR",
          Kind.XOR: "XOR", Kind.XNOR: "XNOR", Kind.NOT: "NOT", Kind.BUF: "BUFF",
          Kind.MAJ: "MAJ"}


def dump(circuit: Circuit, *, dialect: str = "abc") -> bytes:
    """Write ``.bench``. ``dialect="abc"`` (default) is readable by ``berkeley-abc``;
    ``dialect="cotsim"`` keeps wide XORs and MAJ/THR gates as single lines."""
    if dialect == "abc":
        circuit = lower(circuit, xor_max=2, thr_max=0)
    elif dialect != "cotsim":
        raise CotsimInputError(f"unknown .bench dialect {dialect!r} (abc or cotsim)")
    names, buffers = signal_names(circuit, valid_name, ".bench")
    out = [f"# {circuit.num_inputs} inputs, {circuit.num_outputs} outputs, "
           f"{circuit.size + len(buffers)} gates; written by cotsim"]
    out += [f"INPUT({n})" for n in circuit.input_names]
    out += [f"OUTPUT({n})" for n in circuit.output_names]
    out.append("")
    for i in range(circuit.num_inputs, circuit.num_nodes):
        kind = circuit.kind(i)
        ins = [names[int(f)] for f in circuit.fanins(i)]
        if kind == Kind.CONST0:
            out.append(f"{names[i]} = gnd")
        elif kind == Kind.CONST1:
            out.append(f"{names[i]} = vdd")
        elif kind == Kind.THR:
            ws = circuit.fanin_weights(i).tolist()
            pairs = ", ".join(f"{n}:{w}" for n, w in zip(ins, ws))
            out.append(f"{names[i]} = THR({int(circuit.thresholds[i])}; {pairs})")
        else:
            out.append(f"{names[i]} = {_WRITE[kind]}({', '.join(ins)})")
    out += [f"{name} = BUFF({names[node]})" for name, node in buffers]
    return ("\n".join(out) + "\n").encode()


__all__ = ["parse", "dump", "lower", "signal_names", "text_lines"]
