"""The transformer model: a frozen value object holding a format, a sum mode and weights.

Decoder-only, causal, no layer norm (DESIGN.md, "The transformer"). The shapes follow
the `.npz` layout: TE (V, d), PE (N, d), Wout (V, d), bout (V); per layer Wq, Wk, Wv
(H, k, d), Wo (H, d, k), W1 (f, d), b1 (f), W2 (d, f), b2 (d).

Construction validates every shape and checks that every weight is a finite value of
the model's format, so that a model, once built, is a well-formed input of the forward
pass. This module is pure NumPy: it imports no Numba.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from .errors import ModelError
from .floatformat import FloatFormat

#: sum modes, in the order of fparith's SUM_ITERATIVE = 0, SUM_EXACT = 1
SUM_MODES = ("iterative", "exact")

#: softmax variants (DESIGN.md, "Exact evaluation order"): "paper" exponentiates the
#: raw scores; "stable" subtracts each row's exact maximum first, as trained models do
SOFTMAXES = ("paper", "stable")

#: per-layer arrays, in the order of the `.npz` layout
LAYER_ARRAYS = ("Wq", "Wk", "Wv", "Wo", "W1", "b1", "W2", "b2")


def _frozen(name: str, a: Any) -> np.ndarray:
    try:
        arr = np.array(a, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as e:
        raise ModelError(f"{name}: not an array of real numbers ({e})") from None
    arr.setflags(write=False)
    return arr


def _check_shape(name: str, arr: np.ndarray, want: tuple[int, ...], names: str) -> None:
    if arr.shape != want:
        raise ModelError(f"{name} has shape {tuple(arr.shape)}, expected ({names}) = {want}")


def _check_values(name: str, arr: np.ndarray, fmt: FloatFormat) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ModelError(f"{name}[{', '.join(map(str, idx))}] = {float(arr[idx])!r} is not finite")
    rounded = fmt.round(arr)
    bad = rounded != arr
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ModelError(f"{name}[{', '.join(map(str, idx))}] = {float(arr[idx])!r} is not a value "
                         f"of {fmt.spec} (it rounds to {float(rounded[idx])!r})")


@dataclass(frozen=True, eq=False)
class Layer:
    """One layer: multi-head attention (per head Wq, Wk, Wv, Wo), then a ReLU MLP."""

    Wq: np.ndarray  # (H, k, d)
    Wk: np.ndarray  # (H, k, d)
    Wv: np.ndarray  # (H, k, d)
    Wo: np.ndarray  # (H, d, k)
    W1: np.ndarray  # (f, d)
    b1: np.ndarray  # (f,)
    W2: np.ndarray  # (d, f)
    b2: np.ndarray  # (d,)

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in LAYER_ARRAYS}


@dataclass(frozen=True, eq=False)
class Model:
    """A finite-precision transformer. Immutable: its arrays are read-only copies.

    ``fmt`` is the `FloatFormat` every operation rounds to; ``sum_mode`` is
    ``"iterative"`` (round after every addition, the paper's rule) or ``"exact"``;
    ``softmax`` is ``"paper"`` (no maximum subtracted, the default) or ``"stable"``.
    ``source`` is an optional JSON object saved in the `.npz` meta under ``"source"``:
    where a constructed model came from (e.g. the circuit, and which tokens carry which
    bits). It takes no part in the forward pass.
    Raises `ModelError` (a ``ValueError``) naming the offending array on bad shapes or
    on weights that are not finite values of ``fmt``.
    """

    fmt: FloatFormat
    sum_mode: str
    TE: np.ndarray  # (V, d)
    PE: np.ndarray  # (N, d)
    Wout: np.ndarray  # (V, d)
    bout: np.ndarray  # (V,)
    layers: tuple[Layer, ...] = field(default=())
    softmax: str = "paper"
    source: dict[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.fmt, FloatFormat):
            raise ModelError(f"format: expected a FloatFormat, got {type(self.fmt).__name__}")
        if self.sum_mode not in SUM_MODES:
            raise ModelError(f"sum mode {self.sum_mode!r}: expected one of "
                             f"{', '.join(SUM_MODES)}")
        if self.softmax not in SOFTMAXES:
            raise ModelError(f"softmax {self.softmax!r}: expected one of "
                             f"{', '.join(SOFTMAXES)}")
        if self.source is not None and not isinstance(self.source, dict):
            raise ModelError(f"source: expected a JSON object, got {type(self.source).__name__}")
        for name in ("TE", "PE", "Wout", "bout"):
            object.__setattr__(self, name, _frozen(name, getattr(self, name)))
        layers = []
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Layer):
                arrays = layer.arrays()
            elif isinstance(layer, dict):
                missing = [n for n in LAYER_ARRAYS if n not in layer]
                if missing:
                    raise ModelError(f"layers.{i}: missing {', '.join(missing)}")
                arrays = {n: layer[n] for n in LAYER_ARRAYS}
            else:
                raise ModelError(f"layers.{i}: expected a Layer, got {type(layer).__name__}")
            layers.append(Layer(**{n: _frozen(f"layers.{i}.{n}", a)
                                   for n, a in arrays.items()}))
        object.__setattr__(self, "layers", tuple(layers))
        self._validate()

    def in_format(self, fmt: FloatFormat) -> "Model":
        """This model with every weight rounded to ``fmt`` and every operation in
        ``fmt`` (the same sum mode). Raises `ModelError` when a weight rounds to an
        infinity (an IEEE format with overflow to inf)."""
        if fmt == self.fmt:
            return self
        r = fmt.round
        layers = tuple(Layer(**{k: r(v) for k, v in layer.arrays().items()})
                       for layer in self.layers)
        return Model(fmt=fmt, sum_mode=self.sum_mode, TE=r(self.TE), PE=r(self.PE),
                     Wout=r(self.Wout), bout=r(self.bout), layers=layers,
                     softmax=self.softmax, source=self.source)

    def _validate(self) -> None:
        if self.TE.ndim != 2 or self.TE.shape[0] < 1 or self.TE.shape[1] < 1:
            raise ModelError(f"TE has shape {self.TE.shape}, expected (vocab, d_model) "
                             "with vocab >= 1 and d_model >= 1")
        V, d = self.TE.shape
        if self.PE.ndim != 2 or self.PE.shape[0] < 1 or self.PE.shape[1] != d:
            raise ModelError(f"PE has shape {self.PE.shape}, expected (max_len, d_model) = "
                             f"(N, {d}) with N >= 1")
        _check_shape("Wout", self.Wout, (V, d), "vocab, d_model")
        _check_shape("bout", self.bout, (V,), "vocab,")
        if not self.layers:
            raise ModelError("a model needs at least one layer")
        first = self.layers[0].Wq
        if first.ndim != 3 or 0 in first.shape:
            raise ModelError(f"layers.0.Wq has shape {first.shape}, expected (heads, d_head, "
                             f"d_model) = (H, k, {d}) with H >= 1 and k >= 1")
        H, k = first.shape[:2]
        W1 = self.layers[0].W1
        if W1.ndim != 2 or W1.shape[0] < 1:
            raise ModelError(f"layers.0.W1 has shape {W1.shape}, expected (d_ff, d_model) = "
                             f"(f, {d}) with f >= 1")
        f = W1.shape[0]
        want = {"Wq": ((H, k, d), "heads, d_head, d_model"),
                "Wk": ((H, k, d), "heads, d_head, d_model"),
                "Wv": ((H, k, d), "heads, d_head, d_model"),
                "Wo": ((H, d, k), "heads, d_model, d_head"),
                "W1": ((f, d), "d_ff, d_model"), "b1": ((f,), "d_ff,"),
                "W2": ((d, f), "d_model, d_ff"), "b2": ((d,), "d_model,")}
        for i, layer in enumerate(self.layers):
            for name in LAYER_ARRAYS:
                shape, names = want[name]
                _check_shape(f"layers.{i}.{name}", getattr(layer, name), shape, names)
        for name, arr in self.named_arrays().items():
            _check_values(name, arr, self.fmt)

    # --- shapes -------------------------------------------------------------------
    @property
    def vocab(self) -> int:
        return int(self.TE.shape[0])

    @property
    def d_model(self) -> int:
        return int(self.TE.shape[1])

    @property
    def max_len(self) -> int:
        return int(self.PE.shape[0])

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def heads(self) -> int:
        return int(self.layers[0].Wq.shape[0])

    @property
    def d_head(self) -> int:
        return int(self.layers[0].Wq.shape[1])

    @property
    def d_ff(self) -> int:
        return int(self.layers[0].W1.shape[0])

    @property
    def n_params(self) -> int:
        return sum(int(a.size) for a in self.named_arrays().values())

    @property
    def softmax_code(self) -> int:
        """0 for the paper's softmax, 1 for the stable one (the kernels' flag)."""
        return SOFTMAXES.index(self.softmax)

    def meta(self) -> dict[str, Any]:
        """The `.npz` header (DESIGN.md layout, version 1). ``softmax`` is written
        only for ``"stable"`` (absent means ``"paper"``, so files of paper-softmax models
        stay as they were), ``source`` only when the model has one."""
        meta = {"version": 1, "format": self.fmt.spec, "sum": self.sum_mode,
                "vocab": self.vocab, "d_model": self.d_model, "heads": self.heads,
                "d_head": self.d_head, "d_ff": self.d_ff, "layers": self.n_layers,
                "max_len": self.max_len}
        if self.softmax != "paper":
            meta["softmax"] = self.softmax
        if self.source is not None:
            meta["source"] = self.source
        return meta

    def named_arrays(self) -> dict[str, np.ndarray]:
        """Every array under its `.npz` name, in layout order."""
        out = {"TE": self.TE, "PE": self.PE, "Wout": self.Wout, "bout": self.bout}
        for i, layer in enumerate(self.layers):
            for name, arr in layer.arrays().items():
                out[f"layers.{i}.{name}"] = arr
        return out

    @cached_property
    def stacked(self) -> dict[str, np.ndarray]:
        """Per-layer arrays stacked along a new first axis (L, ...), C-contiguous, for the
        kernels."""
        return {name: np.ascontiguousarray(np.stack([getattr(lay, name) for lay in self.layers]))
                for name in LAYER_ARRAYS}

    @property
    def sum_code(self) -> int:
        return SUM_MODES.index(self.sum_mode)

    def check_tokens(self, tokens: Any, extra_positions: int = 0) -> np.ndarray:
        """Validate a prompt; return it as an int64 array.

        ``extra_positions`` counts positions the caller will append (CoT tokens that are
        fed back): prompt length + extra_positions must not exceed max_len.
        """
        arr = np.asarray(tokens)
        if arr.ndim != 1:
            raise ModelError(f"tokens: expected a flat sequence, got shape {arr.shape}")
        if arr.size == 0:
            raise ModelError("tokens: the prompt is empty; it needs at least one token")
        if arr.dtype.kind not in "iu":
            if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
                arr = arr.astype(np.int64)
            else:
                raise ModelError(f"tokens: expected integer token ids, got {arr.dtype}")
        bad = (arr < 0) | (arr >= self.vocab)
        if bad.any():
            i = int(np.argmax(bad))
            raise ModelError(f"token {int(arr[i])} at position {i} is outside the "
                             f"vocabulary 0..{self.vocab - 1}")
        if arr.size + extra_positions > self.max_len:
            extra = f" + {extra_positions} fed-back CoT tokens" if extra_positions else ""
            raise ModelError(f"sequence of {arr.size} tokens{extra} = "
                             f"{arr.size + extra_positions} positions is longer than "
                             f"max_len {self.max_len}")
        return arr.astype(np.int64)

    # --- equality: bitwise on arrays --------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Model):
            return NotImplemented
        if (self.fmt.spec != other.fmt.spec or self.sum_mode != other.sum_mode
                or self.softmax != other.softmax):
            return False
        a, b = self.named_arrays(), other.named_arrays()
        return a.keys() == b.keys() and all(
            a[n].shape == b[n].shape and a[n].tobytes() == b[n].tobytes() for n in a)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        m = self.meta()
        return ("Model(" + ", ".join(f"{k}={v!r}" for k, v in m.items()
                                     if k not in ("version", "source"))
                + ")")
