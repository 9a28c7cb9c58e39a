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

#: the largest word run_automaton_cot accepts (the PE table has 2n rows). The run takes
#: time quadratic in the length (each of the 2n positions attends to all before it, in
#: the exact finite-precision pass): 2^14 symbols take about 7 s on an idle core, 2^17
#: took 7 min 42 s (docs/performance.md, issue 18), so the limit is 2^14
MAX_WORD = 1 << 14


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
    """Residual-stream dimensions: X, S (symbol codes), Q, N (state codes), T (scratch of
    the binary adder), K, A (codes of m address bits, two dimensions per bit)."""
    sym: int  # dimensions of a symbol code
    state: int  # dimensions of a state code
    m: int
    scratch: int = 0

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
    def T(self) -> int:
        return 2 * self.sym + 2 * self.state

    @property
    def K(self) -> int:
        return self.T + self.scratch

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


#: ``AutomatonCot.source`` names every token while the vocabulary is at most this large
LABELLED_TOKENS = 256


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

    def source(self) -> dict[str, Any]:
        """The model's ``source`` meta (`Model.source`): the automaton, the token of each
        symbol and state, and what the prompt and the CoT steps carry."""
        S, Q = self.dfa.num_symbols, self.dfa.num_states
        tokens: dict[str, Any] = {"symbols": [0, S], "states": [S, S + Q], "bos": self.bos}
        if S + Q <= LABELLED_TOKENS:  # labels too, while the meta stays small
            tokens["symbol_names"] = list(self.dfa.alphabet)
            tokens["state_names"] = [str(q) for q in self.dfa.states]
        return {"construction": "automaton_cot", "theorem": "Corollary 3.4 / Theorem 3.5",
                "automaton": self.dfa.name, "word_length": self.n, "tokens": tokens,
                "prompt": ["BOS"] + [f"w{t}" for t in range(1, self.n + 1)],
                "input_positions": list(range(1, self.n + 1)), "cot_steps": self.n,
                "outputs": [f"q{t}" for t in range(1, self.n + 1)],
                "output_steps": list(range(self.n)),
                "start": str(self.dfa.start)}


#: the construction refuses a model whose arrays would take more than this (estimated up
#: front by `model_bytes`: the model, its read-only copies and the kernel's scaled copies)
MEMORY_BUDGET = 2 << 30

#: modp:P and sqmod:P keep the one-layer table MLP (one hidden unit per state and symbol)
#: while it has at most this many units, as before P = 64; larger P get binary codes
TABLE_MAX_UNITS = 64 * 65


def _bits(values: np.ndarray | Sequence[int], m: int) -> np.ndarray:
    """(len(values), m) binary digits as 0.0/1.0, least significant first."""
    return ((np.asarray(values, dtype=np.int64)[:, None] >> np.arange(m)) & 1).astype(float)


def residue_bits(P: int) -> int:
    """Bits of a binary code for the residues 0..P-1."""
    return max(1, int(P - 1).bit_length())


class _Mlp:
    """One ReLU layer written unit by unit: unit u = relu(sum_c W1[u, c] h[c] + b1[u]), and
    output dimension r gets sum_u W2[r, u] unit_u + b2[r].

    A literal is a pair (dim of x, dim of NOT x). `conj` is the AND of literals as a sum of
    terms -[NOT x] <= 0 plus the bias 1 (`retrieval`'s pitfall: the running sum only falls,
    so clipping at -B cannot turn a false term true)."""

    def __init__(self) -> None:
        self.units: list[tuple[list[tuple[int, float]], float]] = []
        self.out: list[tuple[int, int, float]] = []
        self.b2: dict[int, float] = {}

    def unit(self, terms: list[tuple[int, float]], bias: float) -> int:
        self.units.append((terms, bias))
        return len(self.units) - 1

    def conj(self, literals: list[tuple[int, int]]) -> int:
        return self.unit([(neg, -1.0) for _, neg in literals], 1.0)

    def write(self, dim: int, unit: int, w: float) -> None:
        self.out.append((dim, unit, w))

    def write_bit(self, lit: tuple[int, int], unit: int, w: float) -> None:
        """Add w * unit to the bit and -w * unit to its complement (whose b2 is 1)."""
        self.write(lit[0], unit, w)
        self.write(lit[1], unit, -w)
        self.b2[lit[1]] = 1.0

    def arrays(self, d: int, f: int) -> tuple[np.ndarray, ...]:
        W1, b1 = np.zeros((f, d)), np.zeros(f)
        W2, b2 = np.zeros((d, f)), np.zeros(d)
        for u, (terms, bias) in enumerate(self.units):
            for c, w in terms:
                W1[u, c] += w
            b1[u] = bias
        for r, u, w in self.out:
            W2[r, u] += w
        for r, v in self.b2.items():
            b2[r] = v
        return W1, b1, W2, b2


def _xor_with_carry(mlp: _Mlp, out: tuple[int, int], p: tuple[int, int],
                    carry_terms: list[list[tuple[int, int]]]) -> None:
    """out = p XOR c, where c is the OR of the conjunctions ``carry_terms``, at most one of
    which holds (a carry has one origin): a copy of p, then per term a unit (term and not p)
    that adds 1 and a unit (term and p) that takes 1 away. Every sum stays in 0..1."""
    mlp.write_bit(out, mlp.unit([(p[0], 1.0)], 0.0), 1.0)
    for term in carry_terms:
        mlp.write_bit(out, mlp.conj(term + [(p[1], p[0])]), 1.0)
        mlp.write_bit(out, mlp.conj(term + [p]), -1.0)


def _adder_mlps(lay: Layout, m: int, P: int) -> list[_Mlp]:
    """modp:P: N = (Q + S) mod P on m-bit binary codes, in four ReLU layers of O(m^2)
    units (carry-lookahead; every partial sum in -2..2 or only falling):

    1. g_i = q_i AND a_i, p_i = q_i XOR a_i (and complements);
    2. s = q + a (m + 1 bits): s_j = p_j XOR c_j, c_j = OR_i (g_i AND p_{i+1..j-1});
    3. ge = [s >= P] and d = s - P (low m bits), as s + (2^(m+1) - P): its carry out of
       bit m is ge, and its carries are conjunctions of literals of s;
    4. N_j = (ge AND d_j) OR (NOT ge AND s_j), and NOT N_j.
    """
    Sd, Qd, T = lay.S, lay.Q, lay.T
    nxt = iter(range(T, T + lay.scratch))
    pairs = lambda k: [(next(nxt), next(nxt)) for _ in range(k)]  # noqa: E731
    G, Pp = pairs(m), pairs(m)
    Sb = pairs(m + 1)
    D = [next(nxt) for _ in range(m)]
    ge = next(nxt)

    first = _Mlp()
    for i in range(m):
        both = [(Sd + i, 1.0), (Qd + i, 1.0)]
        u1, u2 = first.unit(both, 0.0), first.unit(both, -1.0)  # q+a, [q+a = 2]
        first.write_bit(G[i], u2, 1.0)
        first.write_bit(Pp[i], u1, 1.0)
        first.write_bit(Pp[i], u2, -2.0)

    second = _Mlp()
    carries = [[[G[i]] + Pp[i + 1:j] for i in range(j)] for j in range(m + 1)]
    for j in range(m):
        _xor_with_carry(second, Sb[j], Pp[j], carries[j])
    for term in carries[m]:
        second.write_bit(Sb[m], second.conj(term), 1.0)
    second.b2[Sb[m][1]] = 1.0

    third = _Mlp()
    K = (1 << (m + 1)) - P
    neg = lambda lit: (lit[1], lit[0])  # noqa: E731
    prop = [neg(Sb[i]) if (K >> i) & 1 else Sb[i] for i in range(m + 1)]
    carries3 = [[[Sb[i]] + prop[i + 1:j] for i in range(j) if (K >> i) & 1]
                for j in range(m + 2)]
    for j in range(m):
        # d_j = prop_j XOR carry_j (as `_xor_with_carry`; no complement needed)
        third.write(D[j], third.unit([(prop[j][0], 1.0)], 0.0), 1.0)
        for term in carries3[j]:
            third.write(D[j], third.conj(term + [neg(prop[j])]), 1.0)
            third.write(D[j], third.conj(term + [prop[j]]), -1.0)
    for term in carries3[m + 1]:
        third.write(ge, third.conj(term), 1.0)

    fourth = _Mlp()
    for j in range(m):
        out = (lay.N + j, lay.N + m + j)
        fourth.write_bit(out, fourth.unit([(ge, 1.0), (D[j], 1.0)], -1.0), 1.0)
        fourth.write_bit(out, fourth.unit([(Sb[j][0], 1.0), (ge, -1.0)], 0.0), 1.0)
    return [first, second, third, fourth]


def _adder_scratch(m: int) -> int:
    return 2 * m + 2 * m + 2 * (m + 1) + m + 1


def _square_arrays(lay: Layout, m: int, P: int, d: int) -> tuple[np.ndarray, ...]:
    """sqmod:P in one ReLU layer of P + m units. The symbol code is m residue bits and a
    flag for ^2. Unit q = relu(flag - #(bits where Q differs from q)) is 1 exactly when the
    symbol is ^2 and the state is q (the flag comes first, then the sum only falls); it
    writes the bits of q^2 mod P into N. Units relu(S_j) copy a residue symbol's bits (a
    reset; they are 0 for ^2). Exactly one write reaches each N_j, so every sum is exact."""
    q = np.arange(P)
    qb = _bits(q, m)
    W1 = np.zeros((P + m, d))
    W1[:P, lay.S + m] = 1.0
    W1[:P, lay.Q:lay.Q + m] = -(1.0 - qb)  # q_j = 0: a 1 in Q_j is a mismatch
    W1[:P, lay.Q + m:lay.Q + 2 * m] = -qb  # q_j = 1: a 1 in NOT Q_j is a mismatch
    W1[P + np.arange(m), lay.S + np.arange(m)] = 1.0
    b1 = np.zeros(P + m)
    W2 = np.zeros((d, P + m))
    sq = _bits((q * q) % P, m)
    W2[lay.N:lay.N + m, :P] = sq.T
    W2[lay.N + m:lay.N + 2 * m, :P] = -sq.T
    W2[lay.N + np.arange(m), P + np.arange(m)] = 1.0
    W2[lay.N + m + np.arange(m), P + np.arange(m)] = -1.0
    b2 = np.zeros(d)
    b2[lay.N + m:lay.N + 2 * m] = 1.0
    return W1, b1, W2, b2


@dataclass(frozen=True)
class _Plan:
    """The shape of a construction, known before any array is written."""
    mlp: str  # "table", "permutation", "add" or "square"
    layout: Layout
    vocab: int
    layers: int
    d_ff: int

    def model_bytes(self, n: int) -> int:
        """Estimated peak bytes: every array of the model in float64, three times over (the
        construction's arrays, the model's read-only copies, and the forward kernel's
        scaled copies of TE and PE and stacked layer weights)."""
        d, k, f, V = self.layout.d_model, self.layout.d_head, self.d_ff, self.vocab
        floats = 2 * V * d + V + 2 * n * d + self.layers * (4 * k * d + 2 * f * d + f + d)
        return 3 * 8 * floats


def _plan(dfa: DFA, n: int, structured: bool | None) -> _Plan:
    Sg, Qn, k = dfa.num_symbols, dfa.num_states, dfa.permutation_degree
    arith = dfa.arithmetic
    if structured is None:
        structured = k is not None or (arith is not None and Qn * Sg > TABLE_MAX_UNITS)
    m_addr = address_bits(2 * n)
    V = Sg + Qn + 1
    if structured and k is not None:
        return _Plan("permutation", Layout(sym=k * k, state=k * k, m=m_addr), V, 1, k ** 3)
    if structured and arith is not None:
        kind, P = arith
        m = residue_bits(P)
        if kind == "add":
            lay = Layout(sym=m, state=2 * m, m=m_addr, scratch=_adder_scratch(m))
            return _Plan("add", lay, V, 4, max(len(x.units) for x in _adder_mlps(lay, m, P)))
        return _Plan("square", Layout(sym=m + 1, state=2 * m, m=m_addr), V, 1, P + m)
    if structured:
        raise AutomatonError(f"automaton {dfa.name} is not a permutation automaton or "
                             "modp/sqmod: it has no structured MLP")
    if dfa.delta is None:
        raise AutomatonError(f"automaton {dfa.name} has {Qn} states and {Sg} symbols, too many "
                             "for the table MLP (one hidden unit per state and symbol)")
    return _Plan("table", Layout(sym=Sg, state=Qn, m=m_addr), V, 1, Qn * Sg)


def _state_codes(plan: _Plan, dfa: DFA) -> tuple[np.ndarray, np.ndarray]:
    """(symbol codes, state codes), one row per symbol / state."""
    if plan.mlp == "permutation":
        k = dfa.permutation_degree
        return (np.array([_perm_code(g, k) for g in dfa.alphabet]),
                np.array([_perm_code(q, k) for q in dfa.states]))
    if plan.mlp == "table":
        return np.eye(dfa.num_symbols), np.eye(dfa.num_states)
    P = dfa.arithmetic[1]
    m = residue_bits(P)
    qb = _bits(np.arange(P), m)
    states = np.hstack([qb, 1.0 - qb])  # bits, then their complements
    if plan.mlp == "add":
        return qb, states
    syms = np.zeros((P + 1, m + 1))
    syms[:P, :m] = qb
    syms[P, m] = 1.0  # ^2
    return syms, states


def build_automaton_cot(dfa: DFA, n: int, fmt: FloatFormat | str | None = None,
                        sum_mode: str = "iterative",
                        structured: bool | None = None) -> AutomatonCot:
    """Write the weights of the CoT transformer that runs ``dfa`` on words of ``n``
    symbols: one head, in the first layer. ``structured`` (default: for a permutation
    automaton, and for modp:P / sqmod:P beyond `TABLE_MAX_UNITS`) picks the permutation
    MLP or the binary codes of modp (four layers) and sqmod (one layer) over the one-layer
    table. Refuses, naming the limit, a model that `_Plan.model_bytes` puts over
    `MEMORY_BUDGET`."""
    fmt = FloatFormat.parse(fmt or DEFAULT_SPEC) if not isinstance(fmt, FloatFormat) else fmt
    margins = automaton_margins(fmt)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_WORD:
        raise AutomatonError(f"word length must be an integer from 1 to {MAX_WORD}, got {n!r}")
    n = int(n)
    plan = _plan(dfa, n, structured)
    _check_memory(dfa, plan, n)
    lay = plan.layout
    Sg, Qn = dfa.num_symbols, dfa.num_states
    sym_codes, state_codes = _state_codes(plan, dfa)
    positions = 2 * n  # BOS, w_1..w_n, and q_1..q_{n-1} fed back
    d, m, c, kh = lay.d_model, lay.m, margins.retrieval.c, lay.d_head
    V = plan.vocab

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

    f = plan.d_ff
    if plan.mlp == "permutation":
        k = dfa.permutation_degree
        units = [(x, y, z) for x in range(k) for y in range(k) for z in range(k)]
        W1 = np.zeros((f, d))
        W2 = np.zeros((d, f))
        for u, (x, y, z) in enumerate(units):
            W1[u, lay.Q + x * k + y] = 1.0
            W1[u, lay.S + y * k + z] = 1.0
            W2[lay.N + x * k + z, u] = 1.0
        mlps = [(W1, np.full(f, -1.0), W2, np.zeros(d))]
    elif plan.mlp == "table":
        W1 = np.zeros((f, d))
        W2 = np.zeros((d, f))
        for q in range(Qn):
            for s in range(Sg):
                u = q * Sg + s
                W1[u, lay.Q + q] = 1.0
                W1[u, lay.S + s] = 1.0
                W2[lay.N + int(dfa.delta[q, s]), u] = 1.0
        mlps = [(W1, np.full(f, -1.0), W2, np.zeros(d))]
    elif plan.mlp == "square":
        mlps = [_square_arrays(lay, residue_bits(dfa.arithmetic[1]), dfa.arithmetic[1], d)]
    else:
        P = dfa.arithmetic[1]
        mlps = [x.arrays(d, f) for x in _adder_mlps(lay, residue_bits(P), P)]

    Wout = np.zeros((V, d))
    bout = np.full(V, -1.0)
    bout[Sg:Sg + Qn] = 0.0
    if plan.mlp == "permutation":
        k = dfa.permutation_degree
        for qi, q in enumerate(dfa.states):
            row = np.full(k * k, -1.0)
            row[np.arange(k) * k + np.array([int(ch) for ch in q])] = 0.0
            Wout[Sg + qi, lay.N:lay.N + k * k] = row
    elif plan.mlp == "table":
        Wout[Sg + np.arange(Qn), lay.N + np.arange(Qn)] = 1.0
    else:
        # logit(state r) = -2 * #(bits where N differs from r): terms <= 0, so the sum only
        # falls; the next state scores 0, any other at most -2, symbols and BOS -1
        half = lay.state // 2
        Wout[Sg:Sg + Qn, lay.N:lay.N + lay.state] = -2.0 * np.hstack(
            [state_codes[:, half:], state_codes[:, :half]])
    zero = np.zeros((1, kh, d))
    layers = []
    for i, (W1, b1, W2, b2) in enumerate(mlps):
        heads = (Wq, Wk, Wv, Wo) if i == 0 else (zero, zero, zero, np.zeros((1, d, kh)))
        layers.append(Layer(*heads, W1=W1, b1=b1, W2=W2, b2=b2))
    model = Model(fmt=fmt, sum_mode=sum_mode, TE=TE, PE=PE, Wout=Wout, bout=bout,
                  layers=tuple(layers))
    return AutomatonCot(dfa=dfa, n=n, model=model, layout=lay, margins=margins,
                        structured=plan.mlp != "table")


def _shape_only(kind: str, P: int) -> Any:
    """What `_plan` reads of modp:P / sqmod:P, without building the automaton."""
    from types import SimpleNamespace

    Sg = P if kind == "add" else P + 1
    return SimpleNamespace(name=f"P={P}", num_symbols=Sg, num_states=P,
                           permutation_degree=None, arithmetic=(kind, P), delta=None)


def _check_memory(dfa: DFA, plan: _Plan, n: int) -> None:
    need = plan.model_bytes(n)
    if need <= MEMORY_BUDGET:
        return
    gib = lambda b: f"{b / (1 << 30):.1f} GiB" if b >= 1 << 30 else \
        f"{b / (1 << 20):.0f} MiB"  # noqa: E731
    limit = ""
    if dfa.arithmetic is not None and plan.mlp != "table":
        kind, _ = dfa.arithmetic
        name = "modp" if kind == "add" else "sqmod"
        lo, hi = 2, dfa.arithmetic[1]  # the largest P that fits, by bisection on the plan
        while lo < hi:
            mid = (lo + hi + 1) // 2
            fits = _plan(_shape_only(kind, mid), n, True).model_bytes(n) <= MEMORY_BUDGET
            lo, hi = (mid, hi) if fits else (lo, mid - 1)
        limit = f"; at {n} symbols that allows {name}:P up to P = {lo}"
    raise AutomatonError(f"automaton {dfa.name}: its CoT transformer ({plan.vocab} tokens, "
                         f"d_model {plan.layout.d_model}, d_ff {plan.d_ff}) needs about "
                         f"{gib(need)}, over the memory limit of {gib(MEMORY_BUDGET)}{limit}")


def run_automaton_cot(name: str | DFA, word: str | Sequence[str],
                      fmt: FloatFormat | str | None = None,
                      sum_mode: str = "iterative",
                      keep: list | None = None) -> dict[str, Any]:
    """``cotsim cot --automaton NAME --word W --json``: build the CoT transformer of the
    shipped automaton ``name`` (or of a `DFA`) for W's length, run it, and compare with
    `DFA.run`. ``word`` is comma-separated text, or its symbols (e.g. from
    `DFA.parse_word_text`).

    Returns {"states", "final", "cot_steps", "layers", "heads", "d_model", "format",
    "agrees"}. ``states`` are the labels of the emitted tokens (ints for parity, modp,
    sqmod; one-line permutations for s5; None for a token that is no state, and cut short
    where the forward pass became undefined). Raises `AutomatonError` / `FormatError` /
    `FormatTooCoarse` (all CotsimInputError) on bad names, moduli, words or formats, and
    on a model over the memory limit. ``keep``: a list that receives the `AutomatonCot`
    (``cot --save-model`` saves its model).
    """
    dfa = name if isinstance(name, DFA) else automaton(name)
    if isinstance(word, str):
        symbols = dfa.parse_word(word)
    else:
        symbols = tuple(word)
        dfa.check_word(symbols)
    if len(symbols) > MAX_WORD:
        raise AutomatonError(f"the word has {len(symbols)} symbols; at most {MAX_WORD} are "
                             "supported")
    if not symbols:
        raise AutomatonError("the word is empty")
    cot = build_automaton_cot(dfa, len(symbols), fmt, sum_mode=sum_mode)
    if keep is not None:
        keep.append(cot)
    trace = cot.run(symbols)
    states = cot.states_of(trace.tokens)
    want = dfa.run(symbols)
    return {"states": states, "final": states[-1] if states else None,
            "cot_steps": cot.cot_steps, "layers": cot.model.n_layers,
            "heads": cot.model.heads, "d_model": cot.model.d_model,
            "format": cot.model.fmt.spec, "agrees": (not trace.undefined) and states == want}
