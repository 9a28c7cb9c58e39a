"""Errors of finite-precision formats and of transformer models.

Bad input (a format string, a model file whose shapes disagree) is a
``CotsimInputError``: the CLI prints it on one line and exits with status 2.
A forward pass that is undefined on a prompt (softmax with Z = 0) is not bad
input but an outcome of the model: ``ModelUndefined``.
"""
from __future__ import annotations

from circuits.errors import CotsimInputError


class FormatError(CotsimInputError):
    """An invalid finite-precision format: a bad spec string or bad parameters,
    or a value or bit pattern that the format cannot represent."""


class ModelError(CotsimInputError):
    """Bad model-side input: shapes that disagree, weights outside the format, ..."""


class ModelUndefined(ValueError):
    """The forward pass is undefined on this prompt (a softmax sum Z_i rounded to 0)."""


class DivisionByZero(ModelError, ZeroDivisionError):
    """A division by zero in the model's arithmetic. The paper counts it as an
    error of the model, never as a number."""
