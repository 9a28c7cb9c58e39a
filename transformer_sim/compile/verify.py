"""Check a compiled circuit against the simulator (``transformer_sim.forward``, and
``transformer_sim.cot.run_cot`` for a CoT chain).

Every prompt when V^n is at most ``max_exhaustive`` (2^16 by default), else ``samples``
uniform random prompts (seeded). A prompt agrees when the circuit's token bits give the
simulator's next token and its ``undefined`` bit is 0, or, on a prompt where the forward
pass is undefined, when the ``undefined`` bit is 1 and the token bits are 0.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..errors import ModelUndefined
from .driver import CompiledModel, input_bits


@dataclass(frozen=True)
class Verdict:
    checked: int
    exhaustive: bool
    undefined: int               # prompts on which the forward pass is undefined
    mismatches: tuple            # up to 5 (prompt, expected, got) triples
    mismatch_count: int

    @property
    def agrees(self) -> bool:
        return self.mismatch_count == 0

    def as_dict(self) -> dict:
        return {"checked": self.checked, "exhaustive": self.exhaustive,
                "undefined": self.undefined, "mismatches": self.mismatch_count,
                "agrees": self.agrees}


def prompts(vocab: int, n: int, max_exhaustive: int = 1 << 16, samples: int = 2000,
            seed: int = 0) -> tuple[np.ndarray, bool]:
    """(prompts, exhaustive): all V^n prompts when few enough, else random ones."""
    if vocab ** n <= max_exhaustive:
        return np.array(list(itertools.product(range(vocab), repeat=n)), dtype=np.int64), True
    rng = np.random.default_rng([seed, n, vocab])
    return rng.integers(0, vocab, size=(samples, n), dtype=np.int64), False


def expected(model, toks: np.ndarray, steps: int = 1) -> np.ndarray:
    """(batch, steps): the simulator's tokens (``next_token``, or ``run_cot`` for several
    steps); a row of -1 where some step is undefined."""
    out = np.empty((len(toks), steps), dtype=np.int64)
    if steps == 1:
        from ..forward import next_token

        for r, p in enumerate(toks):
            try:
                out[r, 0] = next_token(model, p)
            except ModelUndefined:
                out[r, 0] = -1
        return out
    from ..cot import run_cot

    for r, p in enumerate(toks):
        trace = run_cot(model, p, steps)
        out[r] = -1 if trace.undefined else trace.tokens
    return out


def decode_outputs(bits: np.ndarray, token_bits: int) -> np.ndarray:
    """(batch, k*token_bits + 1) circuit outputs -> (batch, k) ids; -1 where ``undefined``
    is set and every token bit is 0; -2 for an ill-formed output (undefined with a
    non-zero token bit)."""
    bits = np.asarray(bits, dtype=np.int64)
    und = bits[:, -1].astype(bool)
    tok = bits[:, :-1].reshape(len(bits), -1, token_bits)
    ids = (tok << np.arange(token_bits)).sum(axis=2)
    ids = np.where(und[:, None], np.where(tok.any(axis=(1, 2))[:, None], -2, -1), ids)
    return ids


def verify(compiled: CompiledModel, max_exhaustive: int = 1 << 16, samples: int = 2000,
           seed: int = 0) -> Verdict:
    """Compare ``compiled.circuit`` with the simulator (see the module docstring)."""
    from circuits import evaluate

    model = compiled.model
    toks, exhaustive = prompts(model.vocab, compiled.seq_len, max_exhaustive, samples, seed)
    want = expected(model, toks, compiled.steps)
    got = decode_outputs(evaluate(compiled.circuit, input_bits(toks, model.vocab)),
                         compiled.token_bits)
    bad = np.flatnonzero((got != want).any(axis=1))
    return Verdict(len(toks), exhaustive, int((want[:, 0] < 0).sum()),
                   tuple((toks[r].tolist(), want[r].tolist(), got[r].tolist())
                         for r in bad[:5]), len(bad))
