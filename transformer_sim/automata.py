"""Deterministic finite automata: the value object and the automata cotsim ships.

A `DFA` has named states (any JSON-friendly labels: ints for the counters, strings for
permutations), an alphabet of symbol names, a start state, and a transition table
``delta`` (Q, Sigma) of state indices. It is validated on creation and immutable.

Shipped (DESIGN.md, the ``cotsim cot --automaton`` row):

- ``parity``: symbols 0/1, the state is the running parity.
- ``modp:P``: symbols 0..P-1, the state is the running sum mod P.
- ``s5``: states and symbols are the permutations of 01234 in one-line notation
  (``p[x]`` is the image of x); the start is 01234; reading g maps q to x -> g[q[x]].
- ``sqmod:P``: a word is a start residue R followed by K symbols ``^2``; the state after
  the i-th symbol is R^(2^(i-1)) mod P, so ``R,^2,^2`` gives [R, R^2, R^4]. As a DFA the
  residue symbols are resets (delta(q, R) = R) and ``^2`` squares; a word must start with
  a residue and continue with ``^2`` only (`WordRule`).

This module is pure Python and NumPy: it imports no Numba.
"""
from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Sequence

import numpy as np

from .errors import ModelError

#: largest P for modp:P and sqmod:P as automata: their labels alone take about 150 bytes
#: a state. The CoT construction refuses smaller P when its model would not fit in memory
#: (`automaton_cot.MEMORY_BUDGET`); at word lengths up to 10^4 that is P of about 10^5.
MAX_P = 1 << 20

#: a transition function is tabulated into ``delta`` while |Q| * |Sigma| is at most this
#: (8 MiB of int64); beyond, `DFA.delta` is None and `DFA.step` answers
TABULATE_LIMIT = 1 << 20


class AutomatonError(ModelError):
    """A bad automaton, automaton name or word (bad input: exit status 2 on the CLI)."""


@dataclass(frozen=True)
class WordRule:
    """Which symbols may open a word and which may follow (for sqmod: R, then ^2s)."""
    first: frozenset[str]
    rest: frozenset[str]
    text: str  # e.g. "a start residue R in 0..6 followed by symbols ^2"


@dataclass(frozen=True, eq=False)
class DFA:
    """A complete deterministic automaton.

    ``states``: distinct labels (their ``str`` forms distinct too); ``alphabet``: distinct
    symbol names, non-empty strings without commas or spaces; ``start``: a state label;
    ``delta[q, a]``: the index of the state reached from state index q on symbol index a.
    ``permutation_degree``: k when states and symbols are the permutations of 0..k-1 in
    one-line notation and delta(q, g) = (x -> g[q[x]]) (checked), which lets the CoT
    construction use the structured permutation MLP.
    ``step``: instead of ``delta`` (pass None), a vectorised transition function on
    index arrays; it is tabulated into ``delta`` while |Q| |Sigma| <= `TABULATE_LIMIT`,
    and ``delta`` stays None beyond (modp:10007 would need 800 MB).
    ``arithmetic``: ("add", P) for modp:P, ("square", P) for sqmod:P, which lets the CoT
    construction use binary state codes instead of one hidden unit per (state, symbol).
    Raises `AutomatonError` naming what is wrong.
    """

    name: str
    states: tuple[Hashable, ...]
    alphabet: tuple[str, ...]
    start: Hashable
    delta: np.ndarray | None
    permutation_degree: int | None = None
    alphabet_text: str | None = None  # how error messages describe the alphabet
    word_rule: WordRule | None = None
    step: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    arithmetic: tuple[str, int] | None = None
    _state_index: dict = field(default=None, init=False, repr=False)  # type: ignore[assignment]
    _symbol_index: dict = field(default=None, init=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        object.__setattr__(self, "states", tuple(self.states))
        object.__setattr__(self, "alphabet", tuple(self.alphabet))
        if not self.states:
            raise AutomatonError(f"automaton {self.name}: no states")
        if not self.alphabet:
            raise AutomatonError(f"automaton {self.name}: empty alphabet")
        _distinct(self.name, "state", [str(q) for q in self.states])
        _distinct(self.name, "symbol", list(self.alphabet))
        for a in self.alphabet:
            if not isinstance(a, str) or not a or re.search(r"[,\s]", a):
                raise AutomatonError(f"automaton {self.name}: symbol {a!r} must be a "
                                     "non-empty string without commas or spaces")
        sidx = {q: i for i, q in enumerate(self.states)}
        if self.start not in sidx:
            raise AutomatonError(f"automaton {self.name}: start state {self.start!r} is not "
                                 "one of its states")
        object.__setattr__(self, "_state_index", sidx)
        object.__setattr__(self, "_symbol_index", {a: i for i, a in enumerate(self.alphabet)})
        Q, S = len(self.states), len(self.alphabet)
        if self.delta is None:
            if self.step is None:
                raise AutomatonError(f"automaton {self.name}: give a transition table "
                                     "(delta) or a transition function (step)")
            if Q * S > TABULATE_LIMIT:
                return  # too large to tabulate: transitions come from step
            qs, ss = np.meshgrid(np.arange(Q), np.arange(S), indexing="ij")
            object.__setattr__(self, "delta", np.asarray(self.step(qs, ss)))
        try:
            table = np.array(self.delta, copy=True)
        except (TypeError, ValueError) as e:
            raise AutomatonError(f"automaton {self.name}: transition table: {e}") from None
        if table.shape != (Q, S):
            raise AutomatonError(f"automaton {self.name}: the transition table has shape "
                                 f"{table.shape}, expected (states, symbols) = ({Q}, {S}): "
                                 "every state needs one transition per symbol")
        if table.dtype.kind not in "iu":
            if table.dtype.kind == "f" and np.all(np.isfinite(table)) and \
                    np.all(table == np.round(table)):
                table = table.astype(np.int64)
            else:
                raise AutomatonError(f"automaton {self.name}: transition targets must be "
                                     f"state indices (integers), got {table.dtype}")
        bad = (table < 0) | (table >= Q)
        if bad.any():
            q, a = (int(i) for i in np.argwhere(bad)[0])
            raise AutomatonError(f"automaton {self.name}: transition from {self.states[q]!r} "
                                 f"on {self.alphabet[a]!r} goes to {int(table[q, a])}, "
                                 f"outside the state indices 0..{Q - 1}")
        table = table.astype(np.int64)
        table.setflags(write=False)
        object.__setattr__(self, "delta", table)
        if self.permutation_degree is not None:
            self._check_permutations(int(self.permutation_degree))

    def _check_permutations(self, k: int) -> None:
        for label in self.states + self.alphabet:
            if not _is_perm(label, k):
                raise AutomatonError(f"automaton {self.name}: {label!r} is not a permutation "
                                     f"of {''.join(map(str, range(k)))} in one-line notation")
        for qi, q in enumerate(self.states):
            for gi, g in enumerate(self.alphabet):
                want = "".join(g[int(q[x])] for x in range(k))
                if self.states[self.delta[qi, gi]] != want:
                    raise AutomatonError(f"automaton {self.name}: delta({q}, {g}) is not "
                                         f"x -> g[q[x]] = {want}")

    # --- sizes and ids ---------------------------------------------------------------
    @property
    def num_states(self) -> int:
        return len(self.states)

    @property
    def num_symbols(self) -> int:
        return len(self.alphabet)

    @property
    def start_index(self) -> int:
        return self._state_index[self.start]

    def state_index(self, q: Hashable) -> int:
        return self._state_index[q]

    def symbol_index(self, a: str) -> int:
        return self._symbol_index[a]

    # --- words -----------------------------------------------------------------------
    def describe_alphabet(self) -> str:
        if self.alphabet_text:
            return self.alphabet_text
        if len(self.alphabet) <= 12:
            return ", ".join(self.alphabet)
        return ", ".join(self.alphabet[:6]) + f", ... ({len(self.alphabet)} symbols)"

    def parse_word(self, text: str) -> tuple[str, ...]:
        """A comma-separated word -> its symbols; `AutomatonError` on a symbol outside the
        alphabet (positions count from 1), an empty word, or a word the rule forbids."""
        if not isinstance(text, str):
            raise AutomatonError(f"a word must be a string, got {type(text).__name__}")
        if not text.strip():
            raise AutomatonError(f"the word is empty: give at least one symbol of "
                                 f"{self.name} ({self.describe_alphabet()}), comma-separated")
        word = tuple(t.strip() for t in text.split(","))
        self.check_word(word)
        return word

    def parse_word_text(self, text: str, source: str) -> tuple[str, ...]:
        """The word of a word file: symbols separated by commas, newlines or both; blank
        lines and a comma at either end of a line are ignored. A bad symbol is reported as
        ``source:line``; `AutomatonError` also for an empty word."""
        word: list[str] = []
        lines: list[int] = []
        for number, line in enumerate(text.splitlines(), start=1):
            fields = [f.strip() for f in line.split(",")]
            if fields and not fields[-1]:
                fields.pop()  # "a,b," then a newline: the comma and the newline both separate
            if fields and not fields[0]:
                fields.pop(0)
            word.extend(fields)
            lines.extend([number] * len(fields))
        if not word:
            raise AutomatonError(f"{source}: the word is empty: give at least one symbol of "
                                 f"{self.name} ({self.describe_alphabet()})")
        self.check_word(word, where=lambda i: f"{source}:{lines[i - 1]}: ")
        return tuple(word)

    def check_word(self, word: Sequence[str],
                   where: Callable[[int], str] | None = None) -> None:
        """`AutomatonError` at the first symbol outside the alphabet or against the word
        rule; ``where(i)`` prefixes the message of position i (e.g. ``file:line: ``)."""
        for i, a in enumerate(word, 1):
            prefix = where(i) if where is not None else ""
            if a not in self._symbol_index:
                shown = f"symbol {a!r}" if a else "an empty symbol"
                raise AutomatonError(f"{prefix}{shown} at position {i} is not in the alphabet "
                                     f"of {self.name}: {self.describe_alphabet()}")
            rule = self.word_rule
            if rule is not None and a not in (rule.first if i == 1 else rule.rest):
                raise AutomatonError(f"{prefix}symbol {a!r} at position {i}: a word of "
                                     f"{self.name} is {rule.text}")

    def run_indices(self, symbols: Sequence[int] | np.ndarray) -> np.ndarray:
        """State indices after each symbol index."""
        out = np.empty(len(symbols), dtype=np.int64)
        q = self.start_index
        if self.delta is None:
            step = self.step
            for i, a in enumerate(symbols):
                q = int(step(np.int64(q), np.int64(a)))
                out[i] = q
            return out
        delta = self.delta
        for i, a in enumerate(symbols):
            q = int(delta[q, int(a)])
            out[i] = q
        return out

    def run(self, word: Sequence[str]) -> list[Any]:
        """The state (label) after each symbol of ``word``."""
        self.check_word(word)
        ids = [self._symbol_index[a] for a in word]
        return [self.states[i] for i in self.run_indices(ids)]

    def __repr__(self) -> str:
        return (f"DFA({self.name!r}, states={self.num_states}, symbols={self.num_symbols}, "
                f"start={self.start!r})")


def _distinct(name: str, what: str, labels: list[str]) -> None:
    seen: set[str] = set()
    for lab in labels:
        if lab in seen:
            raise AutomatonError(f"automaton {name}: {what} {lab!r} appears twice")
        seen.add(lab)


def _is_perm(label: Any, k: int) -> bool:
    return isinstance(label, str) and sorted(label) == [str(x) for x in range(k)]


# --- shipped automata --------------------------------------------------------------------

def parity() -> DFA:
    """Symbols 0/1; the state is the running parity (states 0, 1 as ints)."""
    return DFA("parity", states=(0, 1), alphabet=("0", "1"), start=0,
               delta=np.array([[0, 1], [1, 0]]))


def modp(P: int) -> DFA:
    """Symbols 0..P-1; the state is the running sum mod P."""
    P = _check_p("modp", P)
    return DFA(f"modp:{P}", states=tuple(range(P)), alphabet=tuple(map(str, range(P))),
               start=0, delta=None, step=lambda q, a: (q + a) % P, arithmetic=("add", P))


@functools.lru_cache(maxsize=None)
def symmetric(k: int) -> DFA:
    """The word problem of S_k: permutations of 0..k-1 in one-line notation, start the
    identity, reading g maps q to x -> g[q[x]]."""
    if not isinstance(k, (int, np.integer)) or not 2 <= k <= 9:
        raise AutomatonError(f"symmetric group degree must be an integer from 2 to 9, got {k!r}")
    k = int(k)
    perms = ["".join(map(str, p)) for p in itertools.permutations(range(k))]
    index = {p: i for i, p in enumerate(perms)}
    delta = np.array([[index["".join(g[int(q[x])] for x in range(k))] for g in perms]
                      for q in perms])
    ident = "".join(map(str, range(k)))
    return DFA(f"s{k}", states=tuple(perms), alphabet=tuple(perms), start=ident, delta=delta,
               permutation_degree=k,
               alphabet_text=f"the {len(perms)} permutations of {ident} in one-line notation")


def s5() -> DFA:
    """The S5 word problem (120 states, 120 symbols)."""
    return symmetric(5)


def sqmod(P: int) -> DFA:
    """Iterated squaring mod P: the word R,^2,...,^2 has states R, R^2, R^4, ... mod P."""
    P = _check_p("sqmod", P)
    residues = tuple(map(str, range(P)))

    def step(q: np.ndarray, a: np.ndarray) -> np.ndarray:
        # a residue symbol R (index R < P) sets the state to R; ^2 (index P) squares
        q, a = np.asarray(q, dtype=np.int64), np.asarray(a, dtype=np.int64)
        return np.where(a == P, (q * q) % P, a)

    rule = WordRule(first=frozenset(residues), rest=frozenset({"^2"}),
                    text=f"a start residue R in 0..{P - 1} followed by symbols ^2")
    return DFA(f"sqmod:{P}", states=tuple(range(P)), alphabet=residues + ("^2",), start=0,
               delta=None, step=step, word_rule=rule, arithmetic=("square", P))


def _check_p(kind: str, P: Any) -> int:
    if isinstance(P, str):
        if not re.fullmatch(r"\s*\d{1,18}\s*", P):  # no 5,000-digit int() (Python refuses)
            shown = P if len(P) <= 20 else P[:20] + "..."
            raise AutomatonError(f"{kind}:{shown}: P must be an integer from 2 to {MAX_P}")
        P = int(P)
    if isinstance(P, bool) or not isinstance(P, (int, np.integer)) or not 2 <= P <= MAX_P:
        raise AutomatonError(f"{kind}:{P}: P must be an integer from 2 to {MAX_P} (the "
                             f"automaton's labels take about 150 bytes a state)")
    return int(P)


AUTOMATON_NAMES = "s5, parity, modp:P or sqmod:P"


def automaton(name: str) -> DFA:
    """The shipped automaton called ``name``: s5, parity, modp:P or sqmod:P."""
    if not isinstance(name, str):
        raise AutomatonError(f"automaton name must be a string, got {type(name).__name__}")
    text = name.strip()
    if text == "s5":
        return s5()
    if text == "parity":
        return parity()
    kind, colon, arg = text.partition(":")
    if kind in ("modp", "sqmod"):
        if not colon or not arg.strip():
            raise AutomatonError(f"automaton {name!r} needs a modulus: {kind}:P, e.g. {kind}:7")
        return (modp if kind == "modp" else sqmod)(arg.strip())
    raise AutomatonError(f"unknown automaton {name!r}: expected {AUTOMATON_NAMES}")
