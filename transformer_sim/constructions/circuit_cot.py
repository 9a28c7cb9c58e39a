"""Circuit -> CoT transformer: the paper's Theorem 3.3 (SIZE[T] is in CoT[T, log n, 1]).

The prompt is ``BOS x_0 .. x_{n-1}``. CoT step g emits the value of the g-th gate of the
circuit, in topological order; after the gates, one read-out step per primary output
copies that output's value, so the last ``num_outputs`` tokens are the circuit's outputs.

One layer, two heads, a four-unit ReLU MLP, for every circuit:

- The positional embedding PE[p] describes the step computed at position p (whose token
  lands at p + 1): the positions a and b of its two inputs as query codes, and its
  two-input truth table (t00, t01, t10, t11). It also holds p's own key code.
- Head 0 fetches the token at position a, head 1 the token at b (exact one-hot
  retrieval, see `retrieval`), into the residual dimensions A and B.
- Hidden unit uv of the MLP is relu(lin_uv(A, B) + t_uv - 1), where lin_uv is 1 exactly
  when (A, B) = (u, v) and <= 0 otherwise; their sum is t[A, B], the gate's value.
- The read-out gives token 1 the logit t[A, B] and token 0 the constant 1/2.

The construction decides nothing at run time: it only writes weights and embeddings.
d_model = 8 + 6 m with m = ceil(log2(positions)) address bits, so it grows as
O(log(n + T)); layers, heads, d_ff and the format do not grow.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from circuits.ir import Circuit, Kind

from ..errors import ModelError
from ..floatformat import FloatFormat
from ..model import Layer, Model
from .retrieval import DEFAULT_SPEC, RetrievalMargins, address_bits, key_code, query_code, \
    retrieval_margins

BOS = 2  # token ids: 0, 1 are bit values, 2 starts the prompt
VOCAB = 3

# two-input truth tables (t00, t01, t10, t11), indexed [A][B]
_TABLES = {
    Kind.CONST0: (0, 0, 0, 0), Kind.CONST1: (1, 1, 1, 1),
    Kind.BUF: (0, 0, 1, 1), Kind.NOT: (1, 1, 0, 0),  # fan-in 1: B repeats A
    Kind.AND: (0, 0, 0, 1), Kind.OR: (0, 1, 1, 1), Kind.NAND: (1, 1, 1, 0),
    Kind.NOR: (1, 0, 0, 0), Kind.XOR: (0, 1, 1, 0), Kind.XNOR: (1, 0, 0, 1),
}


@dataclass(frozen=True)
class Step:
    """One CoT step: the truth table of a gate of fan-in <= 2, and the node ids it reads."""
    table: tuple[int, int, int, int]
    a: int
    b: int


@dataclass(frozen=True)
class CircuitProgram:
    """A circuit as a list of CoT steps over node ids (inputs are nodes 0 .. n-1) of
    ``lowered``, the circuit with every gate at fan-in <= 2."""
    lowered: Circuit
    num_inputs: int
    steps: tuple[Step, ...]  # one per non-input node, then one per output (read-out)
    step_node: tuple[int, ...]  # the node id each gate step computes (-1 for read-outs)
    output_names: tuple[str, ...]
    node_labels: tuple[tuple[str, str], ...]  # (signal name, kind) per node of the lowered circuit

    @property
    def cot_steps(self) -> int:
        return len(self.steps)

    @property
    def num_outputs(self) -> int:
        return len(self.output_names)

    def position_of_node(self, node: int) -> int:
        """The sequence position holding a node's value (BOS is position 0)."""
        if node < self.num_inputs:
            return 1 + node
        return 1 + self.num_inputs + self._gate_index[node]

    @cached_property
    def _gate_index(self) -> dict[int, int]:
        return {node: g for g, node in enumerate(self.step_node) if node >= 0}


def _lower_wide(circuit: Circuit) -> Circuit:
    """Gates of fan-in > 2 (and MAJ/THR) to fan-in <= 2, keeping every gate kind that the
    steps support directly. Wide AND/OR/XOR become balanced trees; NAND/NOR/XNOR a tree
    with the negation on its root; MAJ/THR go through `circuits.normalize.to_fanin2`."""
    if np.any(np.isin(circuit.kinds, [int(Kind.MAJ), int(Kind.THR)])):
        from circuits.normalize import to_fanin2
        return to_fanin2(circuit)
    arity = np.diff(circuit.fanin_ptr)
    if arity.size == 0 or arity.max() <= 2:
        return circuit
    from circuits.builder import CircuitBuilder

    base = {Kind.AND: Kind.AND, Kind.NAND: Kind.AND, Kind.OR: Kind.OR, Kind.NOR: Kind.OR,
            Kind.XOR: Kind.XOR, Kind.XNOR: Kind.XOR}
    b = CircuitBuilder(strash=False, fold=False)
    new = b.inputs(circuit.input_names)
    for node in range(circuit.num_inputs, circuit.num_nodes):
        kind = circuit.kind(node)
        ins = [new[int(i)] for i in circuit.fanins(node)]
        if kind in (Kind.CONST0, Kind.CONST1):
            new.append(b.const(kind == Kind.CONST1))
            continue
        if len(ins) <= 2:
            new.append(b.gate(kind, ins))
            continue
        layer = ins
        while len(layer) > 2:
            nxt = [b.gate(base[kind], layer[i:i + 2]) for i in range(0, len(layer) - 1, 2)]
            layer = nxt + ([layer[-1]] if len(layer) % 2 else [])
        new.append(b.gate(kind, layer))
    for name, o in zip(circuit.output_names, circuit.output_ids):
        b.output(name, new[int(o)])
    return b.build()


def circuit_program(circuit: Circuit, fold_inverters: bool = True) -> CircuitProgram:
    """The CoT steps of a circuit: one per gate (after lowering wide gates), then one
    read-out per output.

    With ``fold_inverters`` (the default), BUF and NOT gates get no step of their own:
    every step can apply any of the 16 two-input functions, so an inverter on an input
    of a gate is folded into that gate's truth table (t'[A][B] = t[A ^ ia][B ^ ib]), and
    an inverter on an output into its read-out step. This is what the AIG files of the
    EPFL suite need: half of their IR nodes are inverters.
    """
    c = _lower_wide(circuit)
    n = c.num_inputs
    steps: list[Step] = []
    step_node: list[int] = []
    # alias[node] = (node whose token holds the value, inverted?)
    alias: list[tuple[int, int]] = [(i, 0) for i in range(n)]
    for node in range(n, c.num_nodes):
        kind = c.kind(node)
        ins = [int(i) for i in c.fanins(node)]
        if kind not in _TABLES or len(ins) > 2:
            raise ModelError(f"gate {c.name_of(node)} ({kind.name}, fan-in {len(ins)}) is not "
                             "supported by the circuit construction after lowering")
        if fold_inverters and kind in (Kind.BUF, Kind.NOT):
            src, inv = alias[ins[0]]
            alias.append((src, inv ^ (kind == Kind.NOT)))
            continue
        alias.append((node, 0))
        table = _table(kind, len(ins))
        if not ins:
            ins = [0, 0] if n else [-1, -1]  # constants read anything (BOS if no inputs)
            flips = (0, 0)
        else:
            if len(ins) == 1:
                ins = ins * 2  # B repeats A
            (a, ia), (b, ib) = alias[ins[0]], alias[ins[1]]
            ins, flips = [a, b], (ia, ib)
        steps.append(Step(_flip(table, *flips), ins[0], ins[1]))
        step_node.append(node)
    for o in c.output_ids:
        src, inv = alias[int(o)]
        steps.append(Step(_TABLES[Kind.NOT if inv else Kind.BUF], src, src))
        step_node.append(-1)
    labels = tuple((c.name_of(i), c.kind(i).name) for i in range(c.num_nodes))
    return CircuitProgram(lowered=c, num_inputs=n, steps=tuple(steps), step_node=tuple(step_node),
                          output_names=c.output_names, node_labels=labels)


def _flip(t: tuple[int, int, int, int], ia: int, ib: int) -> tuple[int, int, int, int]:
    """The table of f(A ^ ia, B ^ ib), entries indexed 2A + B."""
    return tuple(t[2 * (A ^ ia) + (B ^ ib)] for A in (0, 1) for B in (0, 1))  # type: ignore


def _table(kind: Kind, arity: int) -> tuple[int, int, int, int]:
    if arity == 1 and kind not in (Kind.BUF, Kind.NOT):
        # A one-input gate reads its input twice (B repeats A). In the IR, AND(x), OR(x)
        # and XOR(x) are x, and NAND(x), NOR(x) and XNOR(x) are NOT x (XOR is parity,
        # not f(x, x)).
        negated = kind in (Kind.NAND, Kind.NOR, Kind.XNOR)
        return _TABLES[Kind.NOT if negated else Kind.BUF]
    return _TABLES[kind]


@dataclass(frozen=True)
class Layout:
    """Residual-stream dimensions of the construction."""
    m: int  # address bits

    VAL = 0  # the token's bit value
    A = 1  # fetched by head 0
    B = 2  # fetched by head 1
    OUT = 3  # the MLP's result: the gate's value
    T = 4  # t00, t01, t10, t11 at 4..7

    @property
    def key(self) -> int:
        return 8

    @property
    def qa(self) -> int:
        return 8 + 2 * self.m

    @property
    def qb(self) -> int:
        return 8 + 4 * self.m

    @property
    def d_model(self) -> int:
        return 8 + 6 * self.m


@dataclass(frozen=True)
class CircuitCot:
    """A circuit's CoT transformer, with what is needed to run it and read its answer."""
    model: Model
    program: CircuitProgram
    margins: RetrievalMargins
    layout: Layout

    @property
    def cot_steps(self) -> int:
        return self.program.cot_steps

    def prompt(self, bits) -> list[int]:
        bits = [int(x) for x in bits]
        if len(bits) != self.program.num_inputs:
            raise ModelError(f"the circuit has {self.program.num_inputs} inputs, got "
                             f"{len(bits)} bits")
        if any(x not in (0, 1) for x in bits):
            raise ModelError("input bits must be 0 or 1")
        return [BOS] + bits

    def read_outputs(self, tokens) -> list[int]:
        """The circuit's outputs: the last num_outputs CoT tokens."""
        k = self.program.num_outputs
        return [int(t) for t in tokens[len(tokens) - k:]] if k else []

    def source(self, file: str | None = None, sha256: str | None = None) -> dict:
        """The model's ``source`` meta (`Model.source`): the circuit it was built from,
        which prompt positions carry which inputs, and which CoT steps (0-based, in the
        order emitted) carry which outputs."""
        prog, n, T = self.program, self.program.num_inputs, self.cot_steps
        circuit = {"file": file, "sha256": sha256, "inputs": n,
                   "outputs": prog.num_outputs}
        return {"construction": "circuit_cot", "theorem": "3.3", "circuit": circuit,
                "tokens": {"0": "bit 0", "1": "bit 1", str(BOS): "BOS"},
                "prompt": ["BOS"] + list(prog.lowered.input_names),
                "input_positions": list(range(1, n + 1)), "cot_steps": T,
                "outputs": list(prog.output_names),
                "output_steps": list(range(T - prog.num_outputs, T))}


def build_circuit_cot(circuit: Circuit, fmt: FloatFormat | str | None = None,
                      sum_mode: str = "iterative") -> CircuitCot:
    """Write the weights of the CoT transformer that evaluates ``circuit``."""
    fmt = FloatFormat.parse(fmt or DEFAULT_SPEC) if not isinstance(fmt, FloatFormat) else fmt
    margins = retrieval_margins(fmt)
    prog = circuit_program(circuit)
    n, T = prog.num_inputs, prog.cot_steps
    positions = 1 + n + T - 1  # BOS, inputs, and every token that is read again
    lay = Layout(address_bits(positions))
    d, m, c = lay.d_model, lay.m, margins.c
    from ..npz import check_size  # refuse a model over the size limit before building it

    check_size({"vocab": VOCAB, "d_model": d, "heads": 2, "d_head": 2 * m, "d_ff": 4,
                "layers": 1, "max_len": positions}, "the CoT transformer of this circuit")

    TE = np.zeros((VOCAB, d))
    TE[1, lay.VAL] = 1.0
    PE = np.zeros((positions, d))
    for p in range(positions):
        PE[p, lay.key:lay.key + 2 * m] = key_code(p, m)
        s = p - n  # the step computed at position p (BOS and inputs precede step 0)
        if 0 <= s < T:
            st = prog.steps[s]
            pa = prog.position_of_node(st.a) if st.a >= 0 else 0
            pb = prog.position_of_node(st.b) if st.b >= 0 else 0
            PE[p, lay.T:lay.T + 4] = st.table
        else:
            pa = pb = 0  # prompt positions fetch BOS: harmless, and keeps Z = 1
        PE[p, lay.qa:lay.qa + 2 * m] = query_code(pa, m, c)
        PE[p, lay.qb:lay.qb + 2 * m] = query_code(pb, m, c)

    k = 2 * m
    Wq = np.zeros((2, k, d))
    Wk = np.zeros((2, k, d))
    Wv = np.zeros((2, k, d))
    Wo = np.zeros((2, d, k))
    for h, (q0, dst) in enumerate(((lay.qa, lay.A), (lay.qb, lay.B))):
        Wq[h, np.arange(k), q0 + np.arange(k)] = 1.0
        Wk[h, np.arange(k), lay.key + np.arange(k)] = 1.0
        Wv[h, 0, lay.VAL] = 1.0
        Wo[h, dst, 0] = 1.0
    # hidden unit uv (u = A's value, v = B's value): relu(lin_uv + t_uv - 1)
    W1 = np.zeros((4, d))
    b1 = np.zeros(4)
    for idx, (u, v) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        W1[idx, lay.A] = 1.0 if u else -1.0
        W1[idx, lay.B] = 1.0 if v else -1.0
        W1[idx, lay.T + idx] = 1.0
        b1[idx] = -1.0 - (u + v - 1)  # lin_uv = (+-A) + (+-B) + 1 - u - v
    W2 = np.zeros((d, 4))
    W2[lay.OUT, :] = 1.0
    b2 = np.zeros(d)
    Wout = np.zeros((VOCAB, d))
    Wout[1, lay.OUT] = 1.0
    bout = np.array([0.5, 0.0, -1.0])
    model = Model(fmt=fmt, sum_mode=sum_mode, TE=TE, PE=PE, Wout=Wout, bout=bout,
                  layers=(Layer(Wq=Wq, Wk=Wk, Wv=Wv, Wo=Wo, W1=W1, b1=b1, W2=W2, b2=b2),))
    return CircuitCot(model=model, program=prog, margins=margins, layout=lay)
