"""cotsim's circuits layer: the IR, its builder, analysis, evaluation and file formats.

Importing this package does not import Numba; ``evaluate`` loads its kernel on first use.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .builder import CircuitBuilder
from .errors import CircuitTooLarge, CotsimInputError, ParseError
from .io import load, load_file, save
from .ir import Circuit, Kind

if TYPE_CHECKING:
    import numpy as np


def evaluate(circuit: Circuit, X: "np.ndarray") -> "np.ndarray":
    """Evaluate on a (batch, inputs) bool array; returns a (batch, outputs) bool array."""
    from .simulate import evaluate as _evaluate

    return _evaluate(circuit, X)


__all__ = ["Circuit", "CircuitBuilder", "Kind", "CotsimInputError", "ParseError",
           "CircuitTooLarge", "load", "load_file", "save", "evaluate"]
