"""The driver: a model and a prompt length in, a ``CompiledModel`` out.


``compile_model(model, seq_len)`` builds a ``Circuit`` that computes, bit for bit, the
next token of ``transformer_sim.forward`` on every prompt of ``seq_len`` valid tokens:

- inputs: position i's token id in binary, ``token_bits(V)`` = max(1, ceil(log2 V)) bits
  per position, positions in order, least significant bit first (``x{i}_{j}``);
- outputs: the next-token id, least significant bit first (``tok{j}``), then
  ``undefined``, 1 exactly when the forward pass is undefined (some Z_i = 0); the token
  bits are then 0.

Only valid token ids (< V) are in the contract. When V is not a power of two the
circuit's output on an id >= V is unspecified (no embedding minterm matches it).

Both softmaxes (``Model.softmax``): the stable one takes each row's maximum in
constant depth first (``softmax_max``). Paper formats only (``FloatFormat.paper``): the construction relies on every value
being a multiple of the format's smallest step, and on one code per value. Exact sums
use the thermometer or the block-wise adder (``exact_adder``; "auto" picks by the size
estimate, see ``budget.resolve_adder``). See docs/compiler.md for the construction, the
figures and the budget.
"""
from __future__ import annotations


import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from circuits.analysis import basis, depth, max_abs_weight, max_fanin
from circuits.builder import CircuitBuilder
from circuits.errors import CotsimInputError
from circuits.ir import Circuit
from circuits.normalize import sweep

from ..model import SUM_MODES, Model
from .budget import (DEFAULT_BUDGET, GUARD_SLACK, check, depth_bound, resolve_adder,
                     resolve_iterative)
from ..progress import progress_bar
from .fixed_arith import ARITH_MODES
from .walker import Walker, token_bits, token_bundle
from .context import Ctx

@dataclass(frozen=True, eq=False)
class CompiledModel:
    """A compiled circuit and how it was made. ``model`` is the model the circuit
    agrees with (its sum mode is the one compiled)."""

    circuit: Circuit
    model: Model
    seq_len: int
    sum_mode: str
    estimate: int
    budget: int
    seconds: float
    steps: int = 1                       # > 1 for a CoT chain (see chain.py)
    adder: str = "none"                  # exact sums: "thermometer" | "blockwise"
    iterative: str = "none"              # iterative sums: "tree" | "tc0" | "ac0"
    arith: str = "tables"                # two-operand operations: "tables" | "auto"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def token_bits(self) -> int:
        return token_bits(self.model.vocab)

    def figures(self) -> dict[str, int]:
        return figures(self.circuit)

    @property
    def depth_bound(self) -> int:
        """The construction's bound on the depth (free of n, except for ``tree``); for
        a chain, the bound of its longest step times the steps."""
        per_step = depth_bound(self.model, self.seq_len + self.steps - 1, self.sum_mode,
                               self.adder, self.iterative, self.arith)
        return per_step * self.steps


def figures(circuit: Circuit) -> dict[str, int]:
    """``cotsim compile --json``'s figures."""
    return {"size": circuit.size, "depth": depth(circuit), "max_fanin": max_fanin(circuit),
            "max_abs_weight": max_abs_weight(circuit), "inputs": circuit.num_inputs,
            "outputs": circuit.num_outputs, "basis": basis(circuit)}


def with_sum_mode(model: Model, sum_mode: str | None) -> Model:
    """``model`` with its sum mode replaced (the same model when None or equal)."""
    if sum_mode is None or sum_mode == model.sum_mode:
        return model
    if sum_mode not in SUM_MODES:
        raise CotsimInputError(f"sum mode {sum_mode!r}: expected one of {', '.join(SUM_MODES)}")
    return replace(model, sum_mode=sum_mode)


def check_compilable(model: Model, seq_len: int, sum_mode: str, budget: int,
                     adder: str = "auto", iterative: str = "auto",
                     arith: str = "tables") -> tuple[int, str, str]:
    """Refuse, with one line, what cannot be compiled; return the size estimate, the
    exact sums' adder and the iterative sums' construction (both resolved from "auto")."""
    if not isinstance(seq_len, (int, np.integer)) or seq_len < 1:
        raise CotsimInputError(f"sequence length must be an integer >= 1, got {seq_len!r}")
    if seq_len > model.max_len:
        raise CotsimInputError(f"sequence length {seq_len} is longer than the model's "
                               f"max_len {model.max_len}")
    if model.fmt.family != "paper":
        raise CotsimInputError(f"format {model.fmt.spec}: the compiler handles paper formats "
                               "only (paper:e=E,s=S); IEEE signed zeros, infinities and NaN "
                               "are not modelled")
    if arith not in ARITH_MODES:
        raise CotsimInputError(f"arith {arith!r}: expected one of {', '.join(ARITH_MODES)}")
    if arith != "tables" and not model.fmt.is_fixed_point:
        raise CotsimInputError(f"format {model.fmt.spec}: arithmetic on bits (arith "
                               f"{arith!r}) needs fixed point (paper:e=0,s=S)")
    adder = resolve_adder(model, seq_len, sum_mode, adder)
    iterative = resolve_iterative(model, seq_len, sum_mode, iterative, budget)
    est = check(model, seq_len, sum_mode, budget, adder, iterative, arith)
    return est, adder, iterative


def input_bits(tokens: np.ndarray, vocab: int) -> np.ndarray:
    """(batch, n) token ids -> (batch, n * token_bits) input bits, LSB first."""
    tokens = np.asarray(tokens, dtype=np.int64)
    b = token_bits(vocab)
    bits = (tokens[:, :, None] >> np.arange(b)) & 1
    return bits.reshape(tokens.shape[0], -1).astype(bool)


def new_context(model: Model, budget: int, optimise: bool = True,
                adder: str = "thermometer", iterative: str = "tree",
                arith: str = "tables") -> Ctx:
    ctx = Ctx(model.fmt, CircuitBuilder(strash=optimise, fold=optimise), budget, adder,
              iterative)
    ctx.arith = arith
    ctx.slack = GUARD_SLACK  # the budget is on the swept circuit (``budget.check``)
    return ctx


def finish_circuit(ctx: Ctx, tokens: dict[str, list[int]], undef: int,
                   optimise: bool) -> Circuit:
    """Wire the outputs (each token bit gated by NOT undefined, then the ``undefined`` bit;
    tagged ``argmax``), build, and sweep dead gates when optimising. ``tokens`` maps an
    output-name prefix to that token's bits, least significant first."""
    b = ctx.b
    with ctx.tag("argmax"):
        ok = b.NOT(undef)
        for prefix, raw in tokens.items():
            for j, bit in enumerate(raw):
                b.output(f"{prefix}{j}", b.AND(bit, ok))
        b.output("undefined", undef)
    circuit = b.build()
    return sweep(circuit) if optimise else circuit


def compile_model(model: Model, seq_len: int, sum_mode: str | None = None,
                  budget: int = DEFAULT_BUDGET, optimise: bool = True,
                  exact_adder: str = "auto", iterative: str = "auto",
                  arith: str = "tables") -> CompiledModel:
    """Compile ``model`` for prompts of ``seq_len`` tokens (see the module docstring).

    ``sum_mode`` overrides the model's own (the circuit then agrees with the model
    under that mode). ``budget`` bounds the gate count: CircuitTooLarge, up front from
    the estimate or during the build. ``optimise=False`` builds without structural
    hashing, constant folding and sweeping (for equivalence checks). ``exact_adder``:
    "thermometer", "blockwise" or "auto" (exact sums only; see ``budget``).
    ``iterative``: the construction of iterative sums over positions, "tree", "tc0",
    "ac0" or "auto" (``budget.resolve_iterative``). ``arith``: "tables" (every
    operation a lookup table) or "auto" (fixed point only: a two-operand product, sum,
    quotient or comparison by arithmetic on the bits where that is smaller than its
    table, ``fixed_arith``; Theorem 3.2 with precision growing in n)."""
    start = time.perf_counter()
    model = with_sum_mode(model, sum_mode)
    mode = model.sum_mode
    est, adder, iterative = check_compilable(model, seq_len, mode, budget, exact_adder,
                                             iterative, arith)
    ctx = new_context(model, budget, optimise, adder, iterative, arith)
    b = ctx.b
    nb = token_bits(model.vocab)
    tokens = [token_bundle(b.inputs([f"x{i}_{j}" for j in range(nb)]), model.vocab)
              for i in range(seq_len)]
    with progress_bar(model.n_layers * model.heads * seq_len, "compile", unit="pos",
                      min_total=1) as bar:
        raw, undef = Walker(ctx, model, mode, bar).run(tokens)
    circuit = finish_circuit(ctx, {"tok": raw}, undef, optimise)
    return CompiledModel(circuit, model, seq_len, mode, est, budget,
                         time.perf_counter() - start, adder=adder, iterative=iterative,
                         arith=arith, extra={"arith_ops": dict(ctx.arith_ops)})
