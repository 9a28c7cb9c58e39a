"""The CoT unroller: greedy decoding that feeds the model's own argmax token back.

Step s (s = 0 .. T-1) reads the prompt and the tokens of steps 0 .. s-1, and emits the
argmax token of the last position. With a prompt of n tokens, T steps read n + T - 1
positions (the last token is emitted, never read), so n + T - 1 <= max_len.
Every token comes out of the generic forward pass (`forward.Decoder`, KV cache).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .errors import ModelError, ModelUndefined
from .forward import Decoder
from .model import Model
from .progress import progress_bar


@dataclass(frozen=True)
class CotTrace:
    """What a CoT run produced.

    - ``prompt``: the prompt's tokens; ``tokens``: the generated tokens, one per step
      that was defined (fewer than ``steps`` when the pass became undefined).
    - ``undefined_at``: the first step whose forward pass was undefined, or None;
      ``undefined_position``: the position where some Z_i = 0 was met first, and
      ``reason`` the message.
    - ``attention`` (with ``record_attention``): one (L, H, p+1) array per position p
      that was read, a_pj for j <= p: positions 0 .. n-1 are the prompt, position n-1+s
      is where step s is computed.
    """

    prompt: tuple[int, ...]
    steps: int
    tokens: tuple[int, ...]
    undefined_at: int | None = None
    undefined_position: int | None = None
    reason: str | None = None
    attention: tuple[np.ndarray, ...] | None = None

    @property
    def undefined(self) -> bool:
        return self.undefined_at is not None

    @property
    def sequence(self) -> tuple[int, ...]:
        return self.prompt + self.tokens

    def attention_matrix(self, layer: int, head: int) -> np.ndarray:
        """(P, P) lower-triangular a_ij of one layer and head over the positions read;
        NaN above the diagonal (for heat maps)."""
        if self.attention is None:
            raise ValueError("run_cot(..., record_attention=True) records the attention")
        P = len(self.attention)
        out = np.full((P, P), np.nan)
        for i, a in enumerate(self.attention):
            out[i, :i + 1] = a[layer, head]
        return out


def run_cot(model: Model, prompt_tokens: Sequence[int] | np.ndarray, cot_steps: int,
            stop_token: int | None = None, record_attention: bool = False,
            progress: bool | Callable[[int, int], None] | None = None, *,
            fast: bool = True, skips: bool = True) -> CotTrace:
    """Run ``cot_steps`` greedy steps from ``prompt_tokens``.

    Stops early after emitting ``stop_token`` (when given), or when the forward pass is
    undefined (recorded in the trace, not raised). ``progress``: None shows a tqdm bar on
    a terminal for long runs (`progress.progress_bar`), True/False forces it, a callable
    gets (done, total).
    ``fast`` and ``skips`` choose the `Decoder`'s kernel (the speed, never a result).
    Raises `ModelError` for bad tokens or when n + cot_steps - 1 > max_len.
    """
    steps = int(cot_steps)
    if steps < 1:
        raise ModelError(f"cot steps must be at least 1, got {cot_steps}")
    prompt = model.check_tokens(prompt_tokens, extra_positions=steps - 1)
    if stop_token is not None and not 0 <= stop_token < model.vocab:
        raise ModelError(f"stop token {stop_token} is outside the vocabulary "
                         f"0..{model.vocab - 1}")
    n = prompt.size
    dec = Decoder(model, capacity=n + steps - 1, fast=fast, skips=skips)
    attention: list[np.ndarray] | None = [] if record_attention else None
    callback = progress if callable(progress) else None
    bar = progress_bar(steps, "cot", False if callable(progress) else progress,
                       unit="token")
    tokens: list[int] = []
    undefined_at = position = reason = None
    try:
        for tok in prompt:
            dec.push(int(tok))  # the last push yields step 0's token
            if attention is not None:
                attention.append(dec.attention)
        tokens.append(dec.token)
        for s in range(1, steps):
            if stop_token is not None and tokens[-1] == stop_token:
                break
            bar.set(s)
            if callback is not None:
                callback(s, steps)
            dec.push(tokens[-1])
            if attention is not None:
                attention.append(dec.attention)
            tokens.append(dec.token)
    except ModelUndefined as e:
        undefined_at = len(tokens)
        position = dec.position - 1
        reason = str(e)
    finally:
        bar.set(len(tokens))
        bar.close()
    if callback is not None:
        callback(len(tokens), steps)
    return CotTrace(prompt=tuple(int(t) for t in prompt), steps=steps, tokens=tuple(tokens),
                    undefined_at=undefined_at, undefined_position=position, reason=reason,
                    attention=tuple(attention) if attention is not None else None)
