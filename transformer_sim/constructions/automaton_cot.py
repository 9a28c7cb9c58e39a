"""Automaton -> CoT transformer: the paper's Corollary 3.4 / Theorem 3.5.

The prompt is ``BOS w_1 .. w_n`` (position i holds w_i). CoT step t = 1..n emits q_t, the
state after reading w_1 .. w_t. Step t is computed at position n + t - 1: for t >= 2 the
token there is q_{t-1} itself (fed back), and for t = 1 it is w_n, whose positional
embedding adds the start state's code instead. So one layer with ONE head suffices:

- Residual stream (`Layout`): X the token's own symbol code, S the fetched symbol code,
  Q the current state code, N the next state code, K the position's key code, A the
  query code of the position to fetch (`retrieval.key_code` / `query_code`).
- TE: a symbol token writes its code into X, a state token its code into Q; BOS is 0.
  PE[p]: key code of p; at p = n + t - 1 the query code of position t; PE[n] adds the
  start state's code to Q. Prompt positions fetch BOS (harmless, keeps Z = 1).
- The head's scores are sums of terms <= 0: exactly 0 at the wanted position, <= -c
  elsewhere, so the softmax is exactly one-hot (`retrieval_margins`) and the head copies
  X of position t into S.
- The MLP applies delta, one ReLU layer, every unit relu(Q_i + S_j - 1) = [Q_i = S_j = 1]:
  * generic: one unit per (q, a), W2 writes the one-hot of delta(q, a) into N
    (|Q| * |Sigma| units);
  * permutation automata (S5): a state q and a symbol g are k x k permutation matrices
    Q[x, y] = [q[x] = y], G[y, z] = [g[y] = z]; unit (x, y, z) = relu(Q[x, y] + G[y, z] - 1)
    and N[x, z] = sum_y unit(x, y, z) = [g[q[x]] = z] (k^3 = 125 units for S5, not
    120 * 120 = 14400).
- Read-out: generic, logit(state r) = N[r] (1 for the next state, 0 for the others);
  permutations, logit(state pi) = -sum_x sum_{z != pi(x)} N[x, z]: every term is 0 or -1,
  so the running sum only falls (no saturation issue), the next state scores exactly 0 and
  any other at most -2 (two permutations differ in at least two places). Symbols and BOS
  get the bias -1. The argmax is unique.

Every partial sum of every inner product stays in {-2, ..., 2} except in the scores (only
falling, see `retrieval`) and the permutation read-out (only falling); `automaton_margins`
checks what that needs of a format. Layers, heads, d_ff and the format do not depend on
n; d_model = 2 |symbol code| + 2 |state code| + 4 m grows as O(log n) through the
m = ceil(log2(2n)) address bits. The construction only writes weights: every token comes
out of the generic forward pass (`run_cot`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Hashable, Sequence

import numpy as np

from ..automata import DFA, AutomatonError, automaton
from ..cot import CotTrace, run_cot
from ..floatformat import FloatFormat
from ..model import Layer, Model
from .retrieval import DEFAULT_SPEC, FormatTooCoarse, RetrievalMargins, address_bits, \
    key_code, query_code, retrieval_margins

#: the largest word run_automaton_cot accepts (the PE table has 2n rows)
MAX_WORD = 1 << 17


@dataclass(frozen=True)
class AutomatonMargins:
    """What the construction needs of a format, computed in that format."""
    retrieval: RetrievalMargins
    mlp_sums: tuple[float, ...]  # [1+1], [[1+1]-1], [[1+0]-1], [[0+0]-1]: 2, 1, 0, -1
    perm_wrong_logit: float  # the largest logit of a wrong state: [-1 + -1] = -2

    @property
    def fmt(self) -> FloatFormat:
        return self.retrieval.fmt

    def rows(self) -> list[tuple[str, str]]:
        two, one, zero, minus = self.mlp_sums
        return self.retrieval.rows() + [
            ("MLP unit [[1 + 1] - 1], [[1 + 0] - 1], [[0 + 0] - 1]",
             f"{one:g}, {zero:g}, {minus:g}"),
            ("read-out: next state / other state / other token", "1 / 0 / -1 (generic)"),
            ("permutation read-out: next / best wrong / other token",
             f"0 / {self.perm_wrong_logit:g} / -1"),
        ]


def _margins_or_none(fmt: FloatFormat) -> AutomatonMargins | None:
    try:
        return _check_margins(fmt)
    except FormatTooCoarse:
        return None


@functools.lru_cache(maxsize=None)
def minimum_fixed_point_format() -> str:
    """The narrowest fixed-point format paper:e=0,s that carries the construction."""
    for s in range(1, 12):
        spec = f"paper:e=0,s={s}"
        if _margins_or_none(FloatFormat.parse(spec)) is not None:
            return spec
    raise AssertionError("no fixed-point format carries the automaton construction")


def _check_margins(fmt: FloatFormat) -> AutomatonMargins:
    ret = retrieval_margins(fmt, largest_integer=2)
    add = lambda a, b: float(fmt.add(a, b))  # noqa: E731
    sums = (add(1.0, 1.0), add(add(1.0, 1.0), -1.0), add(add(1.0, 0.0), -1.0),
            add(add(0.0, 0.0), -1.0))
    if sums != (2.0, 1.0, 0.0, -1.0):
        raise FormatTooCoarse(f"format {fmt.spec}: the MLP's sums are not exact: {sums}")
    wrong = fmt.sum(np.array([-1.0, -1.0]))
    if not wrong < -1.0:
        raise FormatTooCoarse(f"format {fmt.spec}: a wrong permutation scores {wrong:g}, "
                              "not below the other tokens' -1")
    return AutomatonMargins(retrieval=ret, mlp_sums=sums, perm_wrong_logit=wrong)


def automaton_margins(fmt: FloatFormat | str) -> AutomatonMargins:
    """The margins of ``fmt`` for the automaton construction, or `FormatTooCoarse` naming
    what fails and the narrowest fixed-point format that works."""
    fmt = fmt if isinstance(fmt, FloatFormat) else FloatFormat.parse(fmt)
    try:
        return _check_margins(fmt)
    except FormatTooCoarse as e:
        reason = str(e).split("; the default")[0]
        raise FormatTooCoarse(f"{reason}; the narrowest fixed-point format that carries the "
                              f"automaton construction is {minimum_fixed_point_format()} "
                              f"(it serves every word length)") from None


@dataclass(frozen=True)
class Layout:
    """Residual-stream dimensions: X, S (symbol codes), Q, N (state codes), K, A (codes of
    m address bits, two dimensions per bit)."""
    sym: int  # dimensions of a symbol code
    state: int  # dimensions of a state code
    m: int

    @property
    def X(self) -> int:
        return 0

    @property
    def S(self) -> int:
        return self.sym

    @property
    def Q(self) -> int:
        return 2 * self.sym

    @property
    def N(self) -> int:
        return 2 * self.sym + self.state

    @property
    def K(self) -> int:
        return 2 * self.sym + 2 * self.state

    @property
    def A(self) -> int:
        return self.K + 2 * self.m

    @property
    def d_model(self) -> int:
        return self.A + 2 * self.m

    @property
    def d_head(self) -> int:
        return max(2 * self.m, self.sym)


def _perm_code(p: str, k: int) -> np.ndarray:
    """The k x k permutation matrix M[x, y] = [p[x] = y], flattened row-major."""
    out = np.zeros(k * k)
    for x in range(k):
        out[x * k + int(p[x])] = 1.0
    return out


@dataclass(frozen=True)
class AutomatonCot:
    """The CoT transformer of a DFA for words of length ``n``."""
    dfa: DFA
    n: int
    model: Model
    layout: Layout
    margins: AutomatonMargins
    structured: bool  # the permutation MLP (else the generic table)

    @property
    def cot_steps(self) -> int:
        return self.n

    @property
    def bos(self) -> int:
        return self.dfa.num_symbols + self.dfa.num_states

    def state_token(self, q: int) -> int:
        return self.dfa.num_symbols + q

    def prompt(self, word: Sequence[str]) -> list[int]:
        if len(word) != self.n:
            raise AutomatonError(f"this model reads words of {self.n} symbols, got {len(word)}")
        self.dfa.check_word(word)
        return [self.bos] + [self.dfa.symbol_index(a) for a in word]

    def states_of(self, tokens: Sequence[int]) -> list[Hashable | None]:
        """The state label of each emitted token (None for a token that is no state)."""
        S, Q = self.dfa.num_symbols, self.dfa.num_states
        return [self.dfa.states[t - S] if S <= t < S + Q else None for t in tokens]

    def run(self, word: Sequence[str], **kwargs: Any) -> CotTrace:
        """Run the CoT on ``word`` through the generic forward pass (`run_cot`)."""
        return run_cot(self.model, self.prompt(word), self.cot_steps, **kwargs)


def build_automaton_cot(dfa: DFA, n: int, fmt: FloatFormat | str | None = None,
                        sum_mode: str = "iterative",
                        structured: bool | None = None) -> AutomatonCot:
    """Write the weights of the one-layer, one-head CoT transformer that runs ``dfa`` on
    words of ``n`` symbols. ``structured`` (default: when the DFA is a permutation
    automaton) picks the permutation-matrix MLP."""
    fmt = FloatFormat.parse(fmt or DEFAULT_SPEC) if not isinstance(fmt, FloatFormat) else fmt
    margins = automaton_margins(fmt)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_WORD:
        raise AutomatonError(f"word length must be an integer from 1 to {MAX_WORD}, got {n!r}")
    n = int(n)
    k = dfa.permutation_degree
    if structured is None:
        structured = k is not None
    if structured and k is None:
        raise AutomatonError(f"automaton {dfa.name} is not a permutation automaton: "
                             "the structured MLP needs permutation_degree")
    Sg, Qn = dfa.num_symbols, dfa.num_states
    if structured:
        sym_codes = np.array([_perm_code(g, k) for g in dfa.alphabet])
        state_codes = np.array([_perm_code(q, k) for q in dfa.states])
    else:
        sym_codes, state_codes = np.eye(Sg), np.eye(Qn)
    positions = 2 * n  # BOS, w_1..w_n, and q_1..q_{n-1} fed back
    lay = Layout(sym=sym_codes.shape[1], state=state_codes.shape[1],
                 m=address_bits(positions))
    d, m, c, kh = lay.d_model, lay.m, margins.retrieval.c, lay.d_head
    V = Sg + Qn + 1

    TE = np.zeros((V, d))
    TE[:Sg, lay.X:lay.X + lay.sym] = sym_codes
    TE[Sg:Sg + Qn, lay.Q:lay.Q + lay.state] = state_codes
    PE = np.zeros((positions, d))
    for p in range(positions):
        PE[p, lay.K:lay.K + 2 * m] = key_code(p, m)
        t = p - n + 1  # the step computed at p
        PE[p, lay.A:lay.A + 2 * m] = query_code(t if t >= 1 else 0, m, c)
    PE[n, lay.Q:lay.Q + lay.state] = state_codes[dfa.start_index]

    Wq = np.zeros((1, kh, d))
    Wk = np.zeros((1, kh, d))
    Wv = np.zeros((1, kh, d))
    Wo = np.zeros((1, d, kh))
    a = np.arange(2 * m)
    Wq[0, a, lay.A + a] = 1.0
    Wk[0, a, lay.K + a] = 1.0
    b = np.arange(lay.sym)
    Wv[0, b, lay.X + b] = 1.0
    Wo[0, lay.S + b, b] = 1.0

    if structured:
        units = [(x, y, z) for x in range(k) for y in range(k) for z in range(k)]
        W1 = np.zeros((len(units), d))
        W2 = np.zeros((d, len(units)))
        for u, (x, y, z) in enumerate(units):
            W1[u, lay.Q + x * k + y] = 1.0
            W1[u, lay.S + y * k + z] = 1.0
            W2[lay.N + x * k + z, u] = 1.0
    else:
        W1 = np.zeros((Qn * Sg, d))
        W2 = np.zeros((d, Qn * Sg))
        for q in range(Qn):
            for s in range(Sg):
                u = q * Sg + s
                W1[u, lay.Q + q] = 1.0
                W1[u, lay.S + s] = 1.0
                W2[lay.N + int(dfa.delta[q, s]), u] = 1.0
    b1 = np.full(W1.shape[0], -1.0)
    b2 = np.zeros(d)

    Wout = np.zeros((V, d))
    if structured:
        for qi, q in enumerate(dfa.states):
            row = np.full(k * k, -1.0)
            row[np.arange(k) * k + np.array([int(ch) for ch in q])] = 0.0
            Wout[Sg + qi, lay.N:lay.N + k * k] = row
    else:
        Wout[Sg + np.arange(Qn), lay.N + np.arange(Qn)] = 1.0
    bout = np.full(V, -1.0)
    bout[Sg:Sg + Qn] = 0.0
    model = Model(fmt=fmt, sum_mode=sum_mode, TE=TE, PE=PE, Wout=Wout, bout=bout,
                  layers=(Layer(Wq=Wq, Wk=Wk, Wv=Wv, Wo=Wo, W1=W1, b1=b1, W2=W2, b2=b2),))
    return AutomatonCot(dfa=dfa, n=n, model=model, layout=lay, margins=margins,
                        structured=bool(structured))


def run_automaton_cot(name: str, word: str, fmt: FloatFormat | str | None = None,
                      sum_mode: str = "iterative") -> dict[str, Any]:
    """``cotsim cot --automaton NAME --word W --json``: build the CoT transformer of the
    shipped automaton ``name`` for W's length, run it, and compare with `DFA.run`.

    Returns {"states", "final", "cot_steps", "layers", "heads", "d_model", "format",
    "agrees"}. ``states`` are the labels of the emitted tokens (ints for parity, modp,
    sqmod; one-line permutations for s5; None for a token that is no state, and cut short
    where the forward pass became undefined). Raises `AutomatonError` / `FormatError` /
    `FormatTooCoarse` (all CotsimInputError) on bad names, moduli, words or formats.
    """
    dfa = automaton(name)
    symbols = dfa.parse_word(word)
    if len(symbols) > MAX_WORD:
        raise AutomatonError(f"the word has {len(symbols)} symbols; at most {MAX_WORD} are "
                             "supported")
    cot = build_automaton_cot(dfa, len(symbols), fmt, sum_mode=sum_mode)
    trace = cot.run(symbols)
    states = cot.states_of(trace.tokens)
    want = dfa.run(symbols)
    return {"states": states, "final": states[-1] if states else None,
            "cot_steps": cot.cot_steps, "layers": cot.model.n_layers,
            "heads": cot.model.heads, "d_model": cot.model.d_model,
            "format": cot.model.fmt.spec, "agrees": (not trace.undefined) and states == want}
