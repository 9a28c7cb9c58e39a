"""The compiler: a finite-precision transformer without CoT -> a threshold circuit.

The pipeline, one module per stage (read them in this order):

- ``bundles``: a value as a bundle of bits plus the finite set of values it can take;
- ``context``: one compilation's builder, format and size guard;
- ``tables``: an operation on a few bundles as a depth-2 AND/OR lookup table;
- sums over many terms, one module per construction:
  ``sums`` (the plain chain, the log-depth ``tree`` of composed maps, and the exact
  thermometer), ``blockadd`` (exact sums of wide fixed-point integers), ``sums_tc0``
  (iterative sums in fixed point, constant depth: Theorem 3.2), ``monoid`` and
  ``sums_ac0`` (iterative sums in constant precision, constant-depth AND/OR/NOT:
  Theorem 3.1);
- ``walker``: the forward pass walked once over bundles, in DESIGN.md's evaluation order;
- ``budget``: size estimates and depth bounds, before any gate is built;
- ``driver``: ``compile_model`` (one next token); ``chain``: ``compile_chain`` (T CoT
  steps in one circuit);
- ``verify``: the circuit against the simulator, bit for bit.

See docs/compiler.md for the constructions, the figures and the budget.
"""
from __future__ import annotations

from .budget import ADDERS, DEFAULT_BUDGET, estimate, resolve_adder
from .driver import (CompiledModel, check_compilable, compile_model, figures, finish_circuit,
                     input_bits, new_context, with_sum_mode)
from .walker import token_bits

__all__ = ["CompiledModel", "compile_model", "with_sum_mode", "token_bits", "input_bits",
           "DEFAULT_BUDGET", "ADDERS", "estimate", "figures", "resolve_adder",
           "check_compilable", "finish_circuit", "new_context"]
