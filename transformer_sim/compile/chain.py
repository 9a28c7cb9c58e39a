"""The CoT upper bound: T decoding steps compiled and chained into one circuit.

Step s reads the prompt's n tokens and the tokens of steps 0 .. s-1, so it is the
no-CoT circuit for length n + s, whose last s token inputs are wired to the earlier
steps' token outputs. The T step circuits are built into one builder, one after the
other. Structural hashing then merges their common part: the forward pass is causal, so
position i's values at every layer are the same gates in every step that reads
position i, and only the new position's work is added per step (plus the softmax rows,
which depend on the position being predicted). The chain is far smaller than T copies
of a step (both figures are reported).

Outputs: ``step{s}_tok{j}`` (step s's token, LSB first) for s = 0 .. T-1, then
``undefined``, which is 1 iff the forward pass of some step is undefined, as
``run_cot`` stops there; every token bit is then 0. Otherwise the tokens are exactly
``run_cot(model, prompt, T).tokens``.
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from circuits.errors import CotsimInputError

from circuits.builder import CircuitBuilder

from ..model import Model
from .bundles import Bundle
from .driver import CompiledModel, check_compilable, finish_circuit, new_context, with_sum_mode
from .budget import DEFAULT_BUDGET, estimate
from ..progress import progress_bar
from .walker import Walker, token_bits, token_bundle


def compile_chain(model: Model, prompt_len: int, steps: int, sum_mode: str | None = None,
                  budget: int = DEFAULT_BUDGET, optimise: bool = True,
                  exact_adder: str = "auto", iterative: str = "auto",
                  prompt: Callable[[CircuitBuilder], Sequence[Bundle]] | None = None,
                  arith: str = "tables") -> CompiledModel:
    """T = ``steps`` greedy CoT steps from a prompt of ``prompt_len`` tokens (the
    options as ``compile_model``'s).

    ``prompt``, when given, builds the prompt's ``prompt_len`` token bundles in the
    builder instead of one free input bundle per position: a caller whose prompts fix
    some token bits (``transformer_sim.prove`` wires BOS and the unused bits to constants) declares
    each bundle's true domain, and the tables fold over it. The size estimate
    assumes free tokens, so it is not checked then: the budget guards the build."""
    start = time.perf_counter()
    model = with_sum_mode(model, sum_mode)
    mode = model.sum_mode
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise CotsimInputError(f"CoT steps must be an integer >= 1, got {steps!r}")
    # the estimate assumes free prompt tokens: a fixed prompt is guarded by the build only
    _, adder, iterative = check_compilable(model, prompt_len + steps - 1, mode,
                                           budget if prompt is None else 2 ** 62,
                                           exact_adder, iterative, arith)
    est = sum(estimate(model, prompt_len + s, mode, adder, iterative=iterative)["total"]
              for s in range(steps))
    if est > budget and prompt is None:
        raise CotsimInputError(f"estimated size {est:.3g} gates of the {steps}-step chain "
                               f"exceeds the budget of {budget} gates; use fewer steps, a "
                               "narrower format or a larger budget")
    ctx = new_context(model, budget, optimise, adder, iterative, arith)
    b = ctx.b
    nb = token_bits(model.vocab)
    if prompt is not None:
        tokens = list(prompt(b))
        if len(tokens) != prompt_len:
            raise CotsimInputError(f"the prompt has {len(tokens)} tokens, expected "
                                   f"{prompt_len}")
    else:
        tokens = [token_bundle(b.inputs([f"x{i}_{j}" for j in range(nb)]), model.vocab)
                  for i in range(prompt_len)]
    total = model.n_layers * model.heads * sum(prompt_len + s for s in range(steps))
    raws, undefs = [], []
    with progress_bar(total, "compile", unit="pos", min_total=1) as bar:
        walker = Walker(ctx, model, mode, bar)
        for s in range(steps):
            raw, undef = walker.run(tokens)
            raws.append(raw)
            undefs.append(undef)
            tokens = tokens + [token_bundle(raw, model.vocab)]
    with ctx.tag("argmax"):
        undef = b.OR(*undefs) if len(undefs) > 1 else undefs[0]
    circuit = finish_circuit(ctx, {f"step{s}_tok": raw for s, raw in enumerate(raws)}, undef,
                             optimise)
    return CompiledModel(circuit, model, prompt_len, mode, est, budget,
                         time.perf_counter() - start, steps=steps, adder=adder,
                         iterative=iterative, arith=arith,
                         extra={"arith_ops": dict(ctx.arith_ops)})
