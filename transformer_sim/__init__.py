"""Finite-precision transformers: number formats, the model, CoT, constructions, compiler.

Importing this package loads no Numba; the kernels (``transformer_sim.fparith``)
load on first use.
"""
from .errors import DivisionByZero, FormatError, ModelError, ModelUndefined
from .floatformat import FloatFormat

__all__ = ["FloatFormat", "FormatError", "ModelError", "ModelUndefined", "DivisionByZero"]
