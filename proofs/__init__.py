"""Theorem checks: one module per check, each returning a verdict, a table and figures.

The registry maps a check's name to its module. A check module defines ``CLAIM`` (one
sentence: what the paper states and what the check runs) and
``run(quick: bool = True, **options) -> CheckResult``. Adding a check is one line in
`REGISTRY`. Modules load lazily, so listing the names imports nothing heavy.
"""
from __future__ import annotations

import importlib
from typing import Callable, Iterable

from .base import FAILS, HOLDS, Check, CheckResult, ModuleCheck, Table, run_safely

#: check name -> module under proofs/, in the order checks run and are reported
REGISTRY: dict[str, str] = {
    "rounding_is_counter_free": "rounding_is_counter_free",
    "cot_simulates_circuits": "cot_simulates_circuits",
    "cot_proves_circuits": "cot_proves_circuits",
    "no_cot_is_constant_depth": "no_cot_is_constant_depth",
    "cot_upper_bound": "cot_upper_bound",
    "regular_languages_by_cot": "regular_languages_by_cot",
    "precision_limits": "precision_limits",
}


def names() -> list[str]:
    return list(REGISTRY)


def load(name: str) -> Check:
    """The check called ``name``; KeyError for an unknown name."""
    if name not in REGISTRY:
        raise KeyError(name)
    return ModuleCheck(name, importlib.import_module(f"{__name__}.{REGISTRY[name]}"))


def run_checks(selected: Iterable[str] | None = None, quick: bool = True,
               on_start: Callable[[str], None] | None = None,
               on_done: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
    """Run the named checks (all by default) in registry order of the names given. One
    check failing or raising does not stop the others."""
    results = []
    for name in (list(selected) if selected else names()):
        if on_start:
            on_start(name)
        try:
            check = load(name)
        except KeyError:
            raise
        except Exception as e:  # noqa: BLE001 - a module that fails to import is a failure
            result = CheckResult(name=name, claim="(the check could not be loaded)",
                                 verdict=FAILS, reason=f"importing the check raised "
                                 f"{type(e).__name__}: {e}", quick=quick)
        else:
            result = run_safely(check, quick)
        results.append(result)
        if on_done:
            on_done(result)
    return results


__all__ = ["REGISTRY", "names", "load", "run_checks", "Check", "CheckResult", "Table",
           "HOLDS", "FAILS"]
