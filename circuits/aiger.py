"""AIGER, ASCII (``aag``) and binary (``aig``): combinational and-inverter graphs.

A file is a header ``aag|aig M I L O A``, the input, latch, output and AND sections, a
symbol table (``i<k> name``, ``o<k> name``) and a comment section after a line ``c``.
A literal is ``2 * variable + sign``; literal 0 is false and 1 is true. In the binary
format the inputs are implicit (variables 1..I), ``M = I + L + A``, and AND ``k`` has
``lhs = 2 * (I + L + k + 1) > rhs0 >= rhs1``, written as two 7-bit variable-length
deltas ``lhs - rhs0`` and ``rhs0 - rhs1``.

In the IR an inverted literal becomes a NOT gate, one per inverted variable. The
file's own figures (``Loaded.file_stats``) count AND nodes only: AIGER's gate is an AND
with optionally inverted edges. Latches (sequential circuits) and the AIGER 1.9 header
fields B, C, J and F are rejected unless zero.
"""
from __future__ import annotations

from typing import Any

from .analysis import levels
from .builder import CircuitBuilder
from .errors import CircuitTooLarge, CotsimInputError, ParseError
from .io import Loaded
from .ir import MAX_NODES, Circuit, Kind
from .toposort import depth_first_order

_FIELDS = ("M", "I", "L", "O", "A", "B", "C", "J", "F")
#: inputs of a binary AIGER file beyond what its ANDs and outputs can use (a few unused
#: inputs are legal; millions in a file of a few bytes are a hostile header)
MAX_UNUSED_INPUTS = 1 << 20
_MAX_DIGITS = 18  # larger numbers cannot describe a circuit within MAX_NODES


def _is_number(p: bytes) -> bool:
    return p.isdigit() and p.isascii() and len(p) <= _MAX_DIGITS


class _Reader:
    def __init__(self, data: bytes, path: str):
        self.data = data
        self.path = path
        self.binary = data.startswith(b"aig")

    def error(self, message: str, line: int | None = None, offset: int | None = None
              ) -> ParseError:
        if offset is not None:
            message = f"byte offset {offset}: {message}"
        return ParseError(message, self.path, line)

    # -- text lines -----------------------------------------------------------------
    def next_line(self, pos: int, what: str, line: int) -> tuple[bytes, int]:
        """The text line starting at byte ``pos``, and the position after it."""
        if pos >= len(self.data):
            raise self.error(f"file ends where {what} was expected", line)
        end = self.data.find(b"\n", pos)
        if end < 0:
            end = len(self.data)
        text = self.data[pos:end]
        if text.endswith(b"\r"):
            text = text[:-1]
        return text, end + 1

    def numbers(self, text: bytes, count: int, what: str, line: int) -> list[int]:
        parts = text.split(b" ")
        if len(parts) != count or not all(_is_number(p) for p in parts):
            shown = text[:60].decode("utf-8", "replace")
            raise self.error(f"expected {what} ({count} unsigned number"
                             f"{'s' if count > 1 else ''} separated by single spaces), "
                             f"found {shown!r}", line)
        return [int(p) for p in parts]

    # -- header ---------------------------------------------------------------------
    def header(self) -> tuple[dict[str, int], int]:
        text, pos = self.next_line(0, "the header", 1)
        parts = text.split(b" ")
        magic = parts[0].decode("ascii", "replace")
        if magic not in ("aag", "aig"):
            raise self.error("not an AIGER file: the header must start with 'aag' or 'aig'", 1)
        nums = parts[1:]
        if not 5 <= len(nums) <= 9 or not all(_is_number(p) for p in nums):
            raise self.error(f"malformed header {text[:60].decode('utf-8', 'replace')!r}: "
                             f"expected '{magic} M I L O A' with unsigned numbers", 1)
        h = {k: 0 for k in _FIELDS}
        h.update({k: int(v) for k, v in zip(_FIELDS, nums)})
        if h["L"]:
            raise self.error(f"sequential circuits (latches) are out of scope: the header "
                             f"declares L = {h['L']}", 1)
        extra = [f"{k} = {h[k]}" for k in "BCJF" if h[k]]
        if extra:
            raise self.error("AIGER 1.9 properties (bad states, constraints, justice, "
                             f"fairness) are not supported: header has {', '.join(extra)}", 1)
        if h["M"] < h["I"] + h["L"] + h["A"]:
            raise self.error(f"header: M = {h['M']} is less than I + L + A = "
                             f"{h['I'] + h['L'] + h['A']}", 1)
        if self.binary and h["M"] != h["I"] + h["L"] + h["A"]:
            raise self.error(f"header: binary AIGER needs M = I + L + A, but M = {h['M']} "
                             f"and I + L + A = {h['I'] + h['L'] + h['A']}", 1)
        if self.binary and h["I"] > 2 * h["A"] + h["O"] + MAX_UNUSED_INPUTS:
            # binary inputs are implicit: only the ANDs and outputs, which take bytes of
            # the file, can use them, so this bounds the inputs by the file's size
            raise self.error(f"header: I = {h['I']} inputs, but {h['A']} ANDs and "
                             f"{h['O']} outputs can use at most {2 * h['A'] + h['O']} of "
                             f"them (over {MAX_UNUSED_INPUTS} unused inputs are refused)", 1)
        nodes = h["I"] + h["O"] + 2 * h["A"] + 2  # the IR's worst case for this header
        if nodes > MAX_NODES:
            raise CircuitTooLarge(f"{self.path}:1: header declares I = {h['I']}, O = "
                                  f"{h['O']}, A = {h['A']}: up to I + O + 2A + 2 = {nodes} "
                                  f"nodes, over the limit of {MAX_NODES} nodes")
        return h, pos

    def literal(self, lit: int, h: dict[str, int], what: str, line: int | None,
                offset: int | None = None) -> int:
        if lit > 2 * h["M"] + 1:
            raise self.error(f"{what} literal {lit} is out of range (M = {h['M']} allows "
                             f"literals up to {2 * h['M'] + 1})", line, offset)
        return lit

    # -- the two bodies -----------------------------------------------------------------
    def ascii_body(self, h: dict[str, int], pos: int):
        line = 1
        defined: dict[int, int] = {}  # variable -> line of its definition
        inputs: list[int] = []
        for k in range(h["I"]):
            line += 1
            text, pos = self.next_line(pos, f"input {k} of {h['I']}", line)
            lit = self.literal(self.numbers(text, 1, "an input literal", line)[0], h,
                               "input", line)
            if lit < 2 or lit & 1:
                raise self.error(f"input literal {lit} must be even and at least 2 "
                                 "(a positive variable)", line)
            self._define(defined, lit >> 1, line)
            inputs.append(lit)
        outputs, pos, line = self.output_lines(h, pos, line)
        ands: dict[int, tuple[int, int, int]] = {}  # lhs variable -> (rhs0, rhs1, line)
        for k in range(h["A"]):
            line += 1
            text, pos = self.next_line(pos, f"AND {k} of {h['A']}", line)
            lhs, r0, r1 = self.numbers(text, 3, "an AND 'lhs rhs0 rhs1'", line)
            for lit in (lhs, r0, r1):
                self.literal(lit, h, "AND", line)
            if lhs < 2 or lhs & 1:
                raise self.error(f"AND lhs literal {lhs} must be even and at least 2", line)
            self._define(defined, lhs >> 1, line)
            ands[lhs >> 1] = (r0, r1, line)
        for var, (r0, r1, ln) in ands.items():
            for lit in (r0, r1):
                self._check_defined(lit, defined, ln)
        for lit, ln in outputs:
            self._check_defined(lit, defined, ln)
        order = self._topological(ands)
        return inputs, outputs, [(v, ands[v][0], ands[v][1]) for v in order], pos, line

    def _define(self, defined: dict[int, int], var: int, line: int) -> None:
        if var in defined:
            raise self.error(f"variable {var} is defined twice (first on line {defined[var]})",
                             line)
        defined[var] = line

    def _check_defined(self, lit: int, defined: dict[int, int], line: int) -> None:
        if lit >= 2 and lit >> 1 not in defined:
            raise self.error(f"literal {lit} uses variable {lit >> 1}, which is never "
                             "defined (not an input and not an AND)", line)

    def _topological(self, ands: dict[int, tuple[int, int, int]]) -> list[int]:
        """AND variables in an order where fan-ins come first; file order where possible."""
        order: list[int] = []

        def cycle_error(path: list[int]) -> ParseError:
            cycle = path + [path[0]]
            shown = " -> ".join(str(2 * v) for v in cycle[:8])
            return self.error(f"combinational cycle through AND literals {shown}"
                              f"{' ...' if len(cycle) > 8 else ''}", ands[path[0]][2])

        depth_first_order(ands, lambda var: (ands[var][0] >> 1, ands[var][1] >> 1),
                          lambda child, _: child in ands, order.append, cycle_error)
        return order

    def output_lines(self, h: dict[str, int], pos: int, line: int):
        """The O output lines: [(literal, line)], then the position and line after them."""
        outputs: list[tuple[int, int]] = []
        for k in range(h["O"]):
            line += 1
            text, pos = self.next_line(pos, f"output {k} of {h['O']}", line)
            lit = self.literal(self.numbers(text, 1, "an output literal", line)[0], h,
                               "output", line)
            outputs.append((lit, line))
        return outputs, pos, line

    def binary_body(self, h: dict[str, int], pos: int):
        line = 1
        inputs = [2 * (k + 1) for k in range(h["I"])]
        outputs, pos, line = self.output_lines(h, pos, line)
        data = self.data
        if 2 * h["A"] > len(data) - pos:
            raise self.error(f"file ends inside the AND section: {h['A']} ANDs need at least "
                             f"{2 * h['A']} bytes, {len(data) - pos} remain", None, pos)
        ands: list[tuple[int, int, int]] = []
        base = h["I"] + h["L"]
        for k in range(h["A"]):
            lhs = 2 * (base + k + 1)
            start = pos
            d0, pos = self._varint(pos, k, h)
            d1, pos = self._varint(pos, k, h)
            r0 = lhs - d0
            r1 = r0 - d1
            if d0 == 0 or r0 < 0:
                raise self.error(f"AND {k} (lhs {lhs}): delta {d0} must give "
                                 f"0 <= rhs0 < lhs", None, start)
            if r1 < 0:
                raise self.error(f"AND {k} (lhs {lhs}): delta {d1} makes rhs1 negative "
                                 f"(rhs0 = {r0})", None, start)
            ands.append((lhs >> 1, r0, r1))
        return inputs, outputs, ands, pos, None

    def _varint(self, pos: int, k: int, h: dict[str, int]) -> tuple[int, int]:
        data = self.data
        x = shift = 0
        start = pos
        while True:
            if pos >= len(data):
                raise self.error(f"file ends inside AND {k} of {h['A']}", None, start)
            byte = data[pos]
            pos += 1
            x |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return x, pos
            shift += 7
            if shift > 63:
                raise self.error(f"AND {k}: delta longer than 9 bytes", None, start)

    # -- symbol table -------------------------------------------------------------------
    def symbols(self, pos: int, line: int | None, h: dict[str, int]
                ) -> tuple[dict[int, str], dict[int, str]]:
        names: dict[str, dict[int, str]] = {"i": {}, "o": {}}
        data = self.data
        while pos < len(data):
            end = data.find(b"\n", pos)
            if end < 0:
                end = len(data)
            text = data[pos:end]
            if text.endswith(b"\r"):
                text = text[:-1]
            here_line = line + 1 if line is not None else None
            here_off = None if line is not None else pos
            if text[:1] == b"c" and not text[1:2].isdigit():
                break  # a line "c" starts the comments, which run to the end of the file
            if text.strip():  # blank lines are tolerated, though the format has none
                self._symbol(text, names, h, here_line, here_off)
            pos = end + 1
            line = here_line
        return names["i"], names["o"]

    def _symbol(self, text: bytes, names: dict[str, dict[int, str]], h: dict[str, int],
                line: int | None, offset: int | None) -> None:
        shown = text[:60].decode("utf-8", "replace")
        kind = text[:1].decode("ascii", "replace")
        if kind in ("l", "b", "c", "j", "f"):
            what = {"l": "latch", "b": "bad-state", "c": "constraint", "j": "justice",
                    "f": "fairness"}[kind]
            raise self.error(f"symbol table: {what} symbol {shown!r}, but the circuit has "
                             f"no {what} entries", line, offset)
        if kind not in ("i", "o"):
            raise self.error(f"symbol table: malformed entry {shown!r} (expected 'i<k> name', "
                             "'o<k> name' or a line 'c' starting the comments)", line, offset)
        idx, sep, name = text[1:].partition(b" ")
        if not sep or not _is_number(idx) or not name:
            raise self.error(f"symbol table: malformed entry {shown!r} (expected "
                             f"'{kind}<k> name')", line, offset)
        k = int(idx)
        limit = h["I"] if kind == "i" else h["O"]
        if k >= limit:
            what = "inputs" if kind == "i" else "outputs"
            raise self.error(f"symbol table: {kind}{k} names no {what[:-1]}; there are "
                             f"{limit} {what}", line, offset)
        if k in names[kind]:
            raise self.error(f"symbol table: {kind}{k} is named twice", line, offset)
        try:
            names[kind][k] = name.decode("utf-8")
        except UnicodeDecodeError:
            raise self.error(f"symbol table: name of {kind}{k} is not UTF-8", line,
                             offset) from None

    # -- all together -------------------------------------------------------------------
    def read(self) -> Loaded:
        h, pos = self.header()
        body = self.binary_body if self.binary else self.ascii_body
        inputs, outputs, ands, pos, line = body(h, pos)
        in_names, out_names = self.symbols(pos, line, h)
        circuit = self._build(h, inputs, outputs, ands, in_names, out_names)
        lv = levels(circuit, counted=[Kind.AND])
        depth = int(lv[circuit.output_ids].max()) if circuit.num_outputs else 0
        stats: dict[str, Any] = {
            "inputs": h["I"], "outputs": h["O"], "gates": h["A"], "depth": depth,
            "max_fanin": 2 if h["A"] else 0, "max_abs_weight": 0,
            "kinds": {"AND": h["A"]} if h["A"] else {}, "basis": "fanin2",
        }
        return Loaded(circuit, stats)

    def _build(self, h, inputs, outputs, ands, in_names, out_names) -> Circuit:
        b = CircuitBuilder(strash=False, fold=False)
        node: dict[int, int] = {}  # variable -> node
        seen: dict[str, int] = {}
        for k, lit in enumerate(inputs):
            name = in_names.get(k, f"i{k}")
            if name in seen:
                raise self.error(f"inputs {seen[name]} and {k} are both named {name!r}")
            seen[name] = k
            node[lit >> 1] = b.input(name)
        inverted: dict[int, int] = {}
        consts: dict[int, int] = {}

        def of(lit: int) -> int:
            if lit < 2:
                if lit not in consts:
                    consts[lit] = b.const(lit)
                return consts[lit]
            if not lit & 1:
                return node[lit >> 1]
            var = lit >> 1
            if var not in inverted:
                inverted[var] = b.gate(Kind.NOT, [node[var]])
            return inverted[var]

        for var, r0, r1 in ands:
            node[var] = b.gate(Kind.AND, [of(r0), of(r1)])
        for k, (lit, _) in enumerate(outputs):
            b.output(out_names.get(k, f"o{k}"), of(lit))
        return b.build()


def parse(data: bytes, path: str) -> Loaded:
    """Read an ``aag`` or ``aig`` file (detected by its header)."""
    return _Reader(data, path).read()


# -- writing ------------------------------------------------------------------------------

def _varint(x: int) -> bytes:
    out = bytearray()
    while x >= 0x80:
        out.append(x & 0x7F | 0x80)
        x >>= 7
    out.append(x)
    return bytes(out)


def _symbol_name(name: str, what: str) -> str:
    if "\n" in name or "\r" in name or name == "":
        raise CotsimInputError(f"{what} name {name!r} cannot be written to AIGER")
    return name


def _is_aig(circuit: Circuit) -> bool:
    """Already 2-input ANDs, NOT and BUF only (as read from AIGER): written as is."""
    import numpy as np

    kinds = circuit.kinds
    allowed = [int(k) for k in (Kind.INPUT, Kind.CONST0, Kind.CONST1, Kind.NOT, Kind.BUF,
                                Kind.AND)]
    if not np.isin(kinds, allowed).all():
        return False
    arity = np.diff(circuit.fanin_ptr)
    return bool((arity[kinds == int(Kind.AND)] == 2).all())


def dump(circuit: Circuit, fmt: str = "aag") -> bytes:
    """Write ``circuit`` as AIGER (``fmt`` ``"aag"`` or ``"aig"``). A circuit that is
    already an and-inverter graph is written node for node; any other goes through
    ``normalize.to_aig`` first."""
    from .normalize import to_aig

    if fmt not in ("aag", "aig"):
        raise ValueError(f"unknown AIGER flavour {fmt!r}")
    aig = circuit if _is_aig(circuit) else to_aig(circuit)
    n_in = aig.num_inputs
    lit = [0] * aig.num_nodes
    ands: list[tuple[int, int, int]] = []
    ptr, fanin = aig.fanin_ptr.tolist(), aig.fanin.tolist()
    for v in range(aig.num_nodes):
        kind = Kind(int(aig.kinds[v]))
        if kind == Kind.INPUT:
            lit[v] = 2 * (v + 1)
        elif kind == Kind.CONST0:
            lit[v] = 0
        elif kind == Kind.CONST1:
            lit[v] = 1
        elif kind == Kind.NOT:
            lit[v] = lit[fanin[ptr[v]]] ^ 1
        elif kind == Kind.BUF:
            lit[v] = lit[fanin[ptr[v]]]
        elif kind == Kind.AND and ptr[v + 1] - ptr[v] == 2:
            a, c = lit[fanin[ptr[v]]], lit[fanin[ptr[v] + 1]]
            lhs = 2 * (n_in + len(ands) + 1)
            ands.append((lhs, max(a, c), min(a, c)))
            lit[v] = lhs
        else:  # to_aig leaves nothing else
            raise AssertionError(f"to_aig left a {kind.name} gate")
    m = n_in + len(ands)
    out = [f"{fmt} {m} {n_in} 0 {aig.num_outputs} {len(ands)}\n".encode()]
    if fmt == "aag":
        out.extend(f"{2 * (k + 1)}\n".encode() for k in range(n_in))
    out.extend(f"{lit[o]}\n".encode() for o in aig.output_ids.tolist())
    if fmt == "aag":
        out.extend(f"{lhs} {r0} {r1}\n".encode() for lhs, r0, r1 in ands)
    else:
        out.extend(_varint(lhs - r0) + _varint(r0 - r1) for lhs, r0, r1 in ands)
    for k, name in enumerate(aig.input_names):
        out.append(f"i{k} {_symbol_name(name, 'input')}\n".encode())
    for k, name in enumerate(aig.output_names):
        out.append(f"o{k} {_symbol_name(name, 'output')}\n".encode())
    out.append(b"c\nwritten by cotsim\n")
    return b"".join(out)
