"""The circuit IR: an immutable, topologically ordered array representation.

Nodes ``0 .. num_inputs-1`` are the primary inputs, in file order. Every other node
(a constant or a gate) comes after all of its fan-ins. Fan-ins are stored in CSR form:
the fan-ins of node ``i`` are ``fanin[fanin_ptr[i]:fanin_ptr[i+1]]``, with the matching
integer ``weights`` (meaningful for THR only; 1 elsewhere). ``thresholds[i]`` is the
threshold of a THR node (0 elsewhere).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Iterable, Sequence

import numpy as np

from .errors import CotsimInputError


class Kind(IntEnum):
    CONST0 = 0
    CONST1 = 1
    INPUT = 2
    BUF = 3
    NOT = 4
    AND = 5
    OR = 6
    NAND = 7
    NOR = 8
    XOR = 9
    XNOR = 10
    MAJ = 11  # 1 iff at least ceil(k/2) of its k inputs are 1
    THR = 12  # 1 iff sum_i w_i x_i >= t

    @classmethod
    def parse(cls, name: str) -> "Kind":
        try:
            return cls[name.upper()]
        except KeyError:
            raise CotsimInputError(f"unknown gate kind {name!r}") from None


NULLARY = frozenset({Kind.CONST0, Kind.CONST1, Kind.INPUT})
UNARY = frozenset({Kind.BUF, Kind.NOT})
COMMUTATIVE = frozenset({Kind.AND, Kind.OR, Kind.NAND, Kind.NOR, Kind.XOR, Kind.XNOR, Kind.MAJ})
#: The AC0 basis: unbounded fan-in AND/OR plus NOT (BUF and constants are free).
AC0_KINDS = frozenset({Kind.CONST0, Kind.CONST1, Kind.INPUT, Kind.BUF, Kind.NOT, Kind.AND, Kind.OR})
#: The TC0 basis adds MAJ and THR. NAND/NOR/XOR/XNOR are expressible but not primitive.
TC0_KINDS = AC0_KINDS | {Kind.MAJ, Kind.THR}

MAX_NODES = 50_000_000  # a set size limit, far beyond any benchmark
#: The one limit on a THR gate, checked where a file is read: the sum of its |weights|
#: and |threshold| stays below 2^61, so the evaluator's 63-bit counters cannot overflow.
MAX_WEIGHT_SUM = 1 << 61


def show_int(value: int | str) -> str:
    """An integer for an error message: in full up to 40 digits, else abbreviated with
    its number of digits (never silently cut)."""
    text = str(value)
    digits = len(text.lstrip("+-"))
    return text if digits <= 40 else f"{text[:12]}...{text[-4:]} ({digits} digits)"


def thr_limit_error(weights: Sequence[int], threshold: int) -> str | None:
    """Why a THR gate's weights and threshold are over `MAX_WEIGHT_SUM`, or None."""
    total = sum(abs(w) for w in weights) + abs(threshold)
    if total < MAX_WEIGHT_SUM:
        return None
    return (f"THR |weights| + |threshold| = {show_int(total)} is over the limit of 2^61 "
            f"({MAX_WEIGHT_SUM - 1} at most)")


def _frozen(a: np.ndarray, dtype) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=dtype)
    if a.flags.writeable:
        a = a.copy()
        a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Circuit:
    """An immutable combinational circuit. Build one with ``CircuitBuilder``."""

    kinds: np.ndarray  # uint8 (N,)
    fanin_ptr: np.ndarray  # int64 (N+1,)
    fanin: np.ndarray  # int64 (E,)
    weights: np.ndarray  # int64 (E,)
    thresholds: np.ndarray  # int64 (N,)
    input_names: tuple[str, ...]
    output_ids: np.ndarray  # int64 (m,)
    output_names: tuple[str, ...]
    #: Optional signal name per node (None where unnamed); used by writers.
    node_names: tuple[str | None, ...] | None = None
    #: Optional origin tag per node, an index into ``tag_names`` (-1: untagged).
    tags: np.ndarray | None = None
    tag_names: tuple[str, ...] = ()
    _digest: list = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "kinds", _frozen(self.kinds, np.uint8))
        set_(self, "fanin_ptr", _frozen(self.fanin_ptr, np.int64))
        set_(self, "fanin", _frozen(self.fanin, np.int64))
        set_(self, "weights", _frozen(self.weights, np.int64))
        set_(self, "thresholds", _frozen(self.thresholds, np.int64))
        set_(self, "output_ids", _frozen(self.output_ids, np.int64))
        set_(self, "input_names", tuple(self.input_names))
        set_(self, "output_names", tuple(self.output_names))
        if self.node_names is not None:
            set_(self, "node_names", tuple(self.node_names))
        if self.tags is not None:
            set_(self, "tags", _frozen(self.tags, np.int32))
        set_(self, "tag_names", tuple(self.tag_names))
        self._validate()

    # -- validation ---------------------------------------------------------------
    def _validate(self) -> None:
        n = len(self.kinds)
        if n > MAX_NODES:
            raise CotsimInputError(f"circuit has {n} nodes, over the limit of {MAX_NODES}")
        if len(self.fanin_ptr) != n + 1 or self.fanin_ptr[0] != 0:
            raise ValueError("fanin_ptr must have N+1 entries starting at 0")
        if np.any(np.diff(self.fanin_ptr) < 0) or self.fanin_ptr[-1] != len(self.fanin):
            raise ValueError("fanin_ptr must be non-decreasing and end at len(fanin)")
        if len(self.weights) != len(self.fanin):
            raise ValueError("weights and fanin differ in length")
        if len(self.thresholds) != n:
            raise ValueError("thresholds must have one entry per node")
        if np.any(self.kinds > max(Kind)):
            raise ValueError("unknown gate kind code")
        ni = len(self.input_names)
        if ni > n or np.any(self.kinds[:ni] != Kind.INPUT) or np.any(self.kinds[ni:] == Kind.INPUT):
            raise ValueError("the first num_inputs nodes, and only they, must be INPUT")
        if len(self.output_ids) != len(self.output_names):
            raise ValueError("output_ids and output_names differ in length")
        if len(self.output_ids) and (self.output_ids.min() < 0 or self.output_ids.max() >= n):
            raise ValueError("output id out of range")
        arity = np.diff(self.fanin_ptr)
        owner = np.repeat(np.arange(n, dtype=np.int64), arity)
        if len(self.fanin) and (np.any(self.fanin < 0) or np.any(self.fanin >= owner)):
            raise ValueError("fan-ins must point to earlier nodes (topological order)")
        for k in NULLARY:
            if np.any(arity[self.kinds == k] != 0):
                raise ValueError(f"{k.name} nodes take no fan-in")
        for k in UNARY:
            if np.any(arity[self.kinds == k] != 1):
                raise ValueError(f"{k.name} nodes take exactly one fan-in")
        wide = ~np.isin(self.kinds, [int(k) for k in NULLARY | UNARY])
        if np.any(arity[wide] < 1):
            raise ValueError("gates other than constants and inputs need at least one fan-in")
        if self.node_names is not None and len(self.node_names) != n:
            raise ValueError("node_names must have one entry per node")
        if self.tags is not None:
            if len(self.tags) != n:
                raise ValueError("tags must have one entry per node")
            if len(self.tags) and (self.tags.min() < -1 or self.tags.max() >= len(self.tag_names)):
                raise ValueError("tag index out of range")

    # -- basic queries --------------------------------------------------------------
    @property
    def num_nodes(self) -> int:
        return len(self.kinds)

    @property
    def num_inputs(self) -> int:
        return len(self.input_names)

    @property
    def num_outputs(self) -> int:
        return len(self.output_ids)

    @property
    def size(self) -> int:
        """Gates other than inputs and constants."""
        return int(np.count_nonzero(~np.isin(self.kinds, [int(k) for k in NULLARY])))

    def kind(self, node: int) -> Kind:
        return Kind(int(self.kinds[node]))

    def fanins(self, node: int) -> np.ndarray:
        return self.fanin[self.fanin_ptr[node]:self.fanin_ptr[node + 1]]

    def fanin_weights(self, node: int) -> np.ndarray:
        return self.weights[self.fanin_ptr[node]:self.fanin_ptr[node + 1]]

    def name_of(self, node: int) -> str:
        """A stable signal name for a node: its own name, else ``n<id>``."""
        if node < self.num_inputs:
            return self.input_names[node]
        if self.node_names is not None and self.node_names[node] is not None:
            return self.node_names[node]  # type: ignore[return-value]
        return f"n{node}"

    def tag_of(self, node: int) -> str | None:
        if self.tags is None or self.tags[node] < 0:
            return None
        return self.tag_names[int(self.tags[node])]

    # -- identity -------------------------------------------------------------------
    def digest(self) -> str:
        """SHA-256 of the structure and interface (names of internal nodes excluded)."""
        if not self._digest:
            h = hashlib.sha256()
            for a in (self.kinds, self.fanin_ptr, self.fanin, self.weights, self.thresholds,
                      self.output_ids):
                h.update(a.tobytes())
                h.update(b"|")
            h.update("\x00".join(self.input_names).encode())
            h.update(b"|")
            h.update("\x00".join(self.output_names).encode())
            self._digest.append(h.hexdigest())
        return self._digest[0]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Circuit) and self.digest() == other.digest()

    def __hash__(self) -> int:
        return hash(self.digest())

    def __repr__(self) -> str:
        return (f"Circuit(inputs={self.num_inputs}, outputs={self.num_outputs}, "
                f"gates={self.size}, nodes={self.num_nodes})")

    # -- derived circuits -----------------------------------------------------------
    def with_outputs(self, output_ids: Sequence[int], output_names: Sequence[str]) -> "Circuit":
        return Circuit(self.kinds, self.fanin_ptr, self.fanin, self.weights, self.thresholds,
                       self.input_names, np.asarray(output_ids, dtype=np.int64),
                       tuple(output_names), self.node_names, self.tags, self.tag_names)

    def with_names(self, input_names: Iterable[str] | None = None,
                   output_names: Iterable[str] | None = None) -> "Circuit":
        ins = tuple(input_names) if input_names is not None else self.input_names
        outs = tuple(output_names) if output_names is not None else self.output_names
        node_names = self.node_names
        if node_names is not None and input_names is not None:
            node_names = ins + node_names[len(ins):]
        return Circuit(self.kinds, self.fanin_ptr, self.fanin, self.weights, self.thresholds,
                       ins, self.output_ids, outs, node_names, self.tags, self.tag_names)
