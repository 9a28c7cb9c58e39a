"""From named signals, in any order, to a topologically ordered ``Circuit``.

Every reader (``.bench``, BLIF, AIGER, JSON) collects definitions here. This module finds
undefined and doubly defined signals and cycles, and reports them as ``file:line``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from .builder import CircuitBuilder
from .errors import ParseError
from .ir import Circuit, Kind
from .toposort import depth_first_order


@dataclass
class _Def:
    kind: Kind
    ins: list[str]
    weights: list[int] | None
    threshold: int | None
    line: int | None


@dataclass
class Netlist:
    """A mutable bag of named definitions; ``to_circuit()`` checks and orders it."""

    path: str | None = None
    inputs: list[str] = field(default_factory=list)
    outputs: list[tuple[str, int | None]] = field(default_factory=list)  # (signal, line)
    defs: dict[str, _Def] = field(default_factory=dict)
    _input_lines: dict[str, int | None] = field(default_factory=dict)

    def error(self, message: str, line: int | None = None) -> ParseError:
        return ParseError(message, self.path, line)

    def add_input(self, name: str, line: int | None = None) -> None:
        if name in self._input_lines:
            raise self.error(f"input {name!r} declared twice", line)
        if name in self.defs:
            raise self.error(f"input {name!r} is also defined as a gate", line)
        self._input_lines[name] = line
        self.inputs.append(name)

    def add_output(self, name: str, line: int | None = None) -> None:
        self.outputs.append((name, line))

    def define(self, name: str, kind: Kind, ins: Sequence[str], line: int | None = None,
               weights: Sequence[int] | None = None, threshold: int | None = None) -> None:
        if name in self.defs:
            first = self.defs[name].line
            extra = f" (first defined on line {first})" if first is not None else ""
            raise self.error(f"signal {name!r} defined twice{extra}", line)
        if name in self._input_lines:
            raise self.error(f"signal {name!r} is a primary input and cannot be redefined", line)
        self.defs[name] = _Def(kind, list(ins), None if weights is None else list(weights),
                               threshold, line)

    def to_circuit(self, *, strash: bool = False, fold: bool = False) -> Circuit:
        b = CircuitBuilder(strash=strash, fold=fold)
        ids: dict[str, int] = {}
        for name in self.inputs:
            ids[name] = b.input(name)
        # Fan-ins first, file order where the file is already topological.
        def follow(child: str, parent: str) -> bool:
            if child in ids:
                return False
            if child not in self.defs:
                raise self.error(f"signal {child!r} is used by {parent!r} but never defined",
                                 self.defs[parent].line)
            return True

        def cycle_error(cycle: list[str]) -> ParseError:
            shown = " -> ".join(cycle[:6] + (["..."] if len(cycle) > 6 else []) + [cycle[0]])
            return self.error(f"combinational cycle: {shown}", self.defs[cycle[0]].line)

        def emit(name: str) -> None:
            d = self.defs[name]
            if d.kind in (Kind.CONST0, Kind.CONST1):
                ids[name] = b.const(d.kind == Kind.CONST1, name=name)
            else:
                ids[name] = b.gate(d.kind, [ids[i] for i in d.ins], d.weights, d.threshold,
                                   name=name)

        depth_first_order(self.defs, lambda name: self.defs[name].ins, follow, emit,
                          cycle_error)
        for name, line in self.outputs:
            if name not in ids:
                raise self.error(f"output {name!r} is never defined", line)
            b.output(name, ids[name])
        return b.build()

