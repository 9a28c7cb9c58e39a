"""The paper's tasks (Section 4), their token encodings, oracles and settings.

Token encodings (DESIGN.md, "Experiments"; outside checks build prompts from them). Every
task has a separator ``=``, the last id of its vocabulary. A prompt is the task's input
tokens, then ``=``; the chain c_1..c_n is one token per input symbol (per gate for cvp),
and the answer is c_n.

- ``modadd:P``: symbols 0..P-1, ``=`` is P; c_i = (x_1 + ... + x_i) mod P.
- ``s5``: the 120 permutations of 01234 in one-line notation, id = lexicographic rank
  (01234 is 0, 43210 is 119), ``=`` is 120; c_i is the state after symbol i, where
  reading g maps the state q to x -> g[q[x]], from 01234.
- ``isq:M``: the paper's iterated squaring, the modulus in the prompt. Numbers are ids
  0..M-1, ``^2`` is M, ``=`` is M+1; the prompt is p, r, then n-1 ``^2``, then ``=``
  (n + 2 tokens), with p drawn per example from the primes in [3, M) and r from
  0..p-1; c_1 = r and c_i = c_{i-1}^2 mod p.
- ``sqmod:P``: the automaton construction's task, P fixed: ids 0..P-1 are residues, P
  is ``^2``, P+1 is ``=``; the prompt is R, then n-1 ``^2``, then ``=``; c_1 = R and
  c_i = R^(2^(i-1)) mod P. Once n is fixed too, the answer is a lookup of R.
- ``cvp``: a circuit of n gates g_0..g_{n-1} in topological order, four tokens a gate:
  its kind, two operand fields, its own id. Ids: 0 and 1 are the values 0 and 1 (and the
  kinds of the constant gates), 2 ``NOT``, 3 ``AND``, 4 ``OR``, 5 ``-`` (an unused
  operand), 6 + j the gate g_j (j < MAX_N), and ``=`` is 6 + MAX_N = 134. A constant
  gate is ``1 - - g_i``, a NOT gate ``NOT g_a - g_i``, an AND/OR gate ``AND g_a g_b g_i``
  with a, b < i. c_i is the value (token 0 or 1) of gate g_{i-1}; the answer is the last
  gate's value. The prompt has 4n + 1 tokens. Random circuits (`Task.sample`): the first
  max(1, n // 4) gates are uniform constants (the circuit's inputs); each later gate
  g_i is NOT, AND or OR (uniform), its first operand drawn uniformly from the
  `CVP_WINDOW` gates before it (so the circuit's depth grows with n), its second (for
  AND/OR) uniformly from the other earlier gates. `cvp_profile` gives the depth
  distribution and the chance level.

Settings (`parse_setting`): ``base`` reads the prompt and is trained on the answer at
``=``; ``cot`` reads the prompt and c_1..c_{n-1} and is trained on c_1..c_n (the model
emits n tokens after ``=``, the last is the answer); ``cot:K`` (K divides n) emits
c_K, c_2K, ..., c_n instead, K symbols composed per emitted token (``cot:1`` is ``cot``;
``cot:n`` emits only the answer); ``hint`` reads the prompt and is trained on n labels:
c_i at the position of input symbol i for i < n (for cvp: the own-id token of gate
g_{i-1}; for isq: r, then the ``^2`` tokens) and the answer c_n at ``=``; the chain is
never fed back.

Samples are drawn fresh by the caller's NumPy generator (online training).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from circuits.errors import CotsimInputError

#: the largest n of every task (also the number of gate-id tokens of cvp)
MAX_N = 128
#: the largest modulus P or bound M (the vocabulary has P + 2 or M + 2 tokens)
MAX_P = 65536
#: base: loss on the answer; cot: on every chain token; hint: n chain labels. ``cot:K``
#: (`parse_setting`) is cot with every K-th chain token.
SETTINGS = ("base", "cot", "hint")
KINDS = ("modadd", "s5", "isq", "sqmod", "cvp")
#: the default M of ``isq`` (docs/experiments.md, "isq: choosing M")
ISQ_DEFAULT_M = 512

# cvp token ids
CVP_NOT, CVP_AND, CVP_OR, CVP_NONE, CVP_GATE0 = 2, 3, 4, 5, 6
#: a cvp gate's first operand is one of the CVP_WINDOW gates before it
CVP_WINDOW = 3


@lru_cache(maxsize=1)
def s5_tables() -> tuple[np.ndarray, np.ndarray]:
    """The 120 permutations in lexicographic order, and COMPOSE[q, g] = the rank of
    x -> g[q[x]] (the state after reading g in state q)."""
    perms = np.array(list(itertools.permutations(range(5))), dtype=np.int64)
    rank = {tuple(p): i for i, p in enumerate(perms.tolist())}
    compose = np.empty((120, 120), dtype=np.int64)
    for q in range(120):
        for g in range(120):
            compose[q, g] = rank[tuple(perms[g][perms[q]].tolist())]
    return perms, compose


@lru_cache(maxsize=16)
def primes_below(M: int) -> np.ndarray:
    """The primes p with 3 <= p < M (a sieve), ascending."""
    sieve = np.ones(max(M, 2), dtype=bool)
    sieve[:2] = False
    for q in range(2, math.isqrt(max(M - 1, 1)) + 1):
        if sieve[q]:
            sieve[q * q::q] = False
    p = np.flatnonzero(sieve)
    return p[p >= 3].astype(np.int64)


# --- settings -----------------------------------------------------------------------
def parse_setting(setting: str, n: int | None = None) -> tuple[str, int | None]:
    """(the canonical spelling, K): ``base`` and ``hint`` have K None, ``cot`` K = 1,
    ``cot:K`` its K (``cot:1`` is spelled ``cot``). With ``n``, K must divide it. Raises
    `CotsimInputError` (one line) otherwise."""
    text = str(setting).strip().lower() if isinstance(setting, str) else None
    if text in ("base", "hint"):
        return text, None
    if text == "cot":
        K = 1
    elif text is not None and text.startswith("cot:"):
        arg = text[4:].strip()
        if not (arg.isascii() and arg.isdigit()) or not 1 <= int(arg) <= MAX_N:
            raise CotsimInputError(f"setting {setting!r}: K must be an integer in "
                                   f"1..{MAX_N}, got {arg!r}")
        K = int(arg)
    else:
        raise CotsimInputError(f"setting {setting!r}: unknown; expected one of base, cot, "
                               "cot:K or hint")
    if n is not None and n % K:
        raise CotsimInputError(f"setting {setting!r}: K = {K} does not divide n = {n} "
                               "(cot:K emits c_K, c_2K, ..., c_n)")
    return ("cot" if K == 1 else f"cot:{K}"), K


def check_setting(setting: str, n: int | None = None) -> str:
    """The canonical spelling of ``setting`` (see `parse_setting`)."""
    return parse_setting(setting, n)[0]


def cot_stride(setting: str) -> int | None:
    """K of a cot setting (1 for ``cot``), None for base and hint."""
    return parse_setting(setting)[1]


def emitted(setting: str, chains: np.ndarray) -> np.ndarray:
    """The tokens a setting's model emits or is labelled with, from the full chains
    (B, n): c_K, c_2K, ..., c_n for ``cot:K``, the whole chain otherwise."""
    K = cot_stride(setting)
    return chains if K is None or K == 1 else chains[:, K - 1::K]


@dataclass(frozen=True)
class Sample:
    """A batch of task instances: ``prompts`` (B, prompt_len) ending in ``=``,
    ``chains`` (B, n) holding c_1..c_n, ``answers`` (B,) = c_n."""

    prompts: np.ndarray
    chains: np.ndarray
    answers: np.ndarray


@dataclass(frozen=True)
class Batch:
    """Model inputs (B, T), next-token targets (B, T) and loss mask (B, T) of one
    setting. ``answer_pos`` is the position whose target is the answer (for cot, the
    last chain position); ``chain_pos`` the positions of the labelled tokens (cot:K:
    the n/K emitted ones; hint: the n labels, the last at ``=``; base: the answer's)."""

    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    answer_pos: int
    chain_pos: np.ndarray
    sample: Sample


@dataclass(frozen=True)
class Task:
    """One of the paper's tasks: ``kind`` in KINDS, ``P`` the modulus of modadd/sqmod
    or the bound M of isq."""

    kind: str
    P: int | None = None

    @property
    def spec(self) -> str:
        return f"{self.kind}:{self.P}" if self.P is not None else self.kind

    def __str__(self) -> str:
        return self.spec

    # --- vocabulary ---------------------------------------------------------------
    @property
    def n_symbols(self) -> int:
        """Number of ids before ``=``."""
        if self.kind == "modadd":
            return self.P
        if self.kind == "s5":
            return 120
        if self.kind in ("sqmod", "isq"):
            return self.P + 1
        return CVP_GATE0 + MAX_N

    @property
    def sep(self) -> int:
        """The id of ``=``."""
        return self.n_symbols

    @property
    def vocab(self) -> int:
        return self.n_symbols + 1

    @property
    def n_answers(self) -> int:
        """How many distinct chain tokens there are (ids 0 .. n_answers-1)."""
        return {"modadd": self.P, "s5": 120, "sqmod": self.P, "cvp": 2,
                "isq": self.P}[self.kind]

    # --- lengths ------------------------------------------------------------------
    def check_n(self, n: int) -> int:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_N:
            raise CotsimInputError(f"n = {n!r} is out of range: {self.spec} takes an integer "
                                   f"n in 1..{MAX_N}")
        return int(n)

    def prompt_len(self, n: int) -> int:
        return {"cvp": 4 * n + 1, "isq": n + 2}.get(self.kind, n + 1)

    def label_positions(self, n: int) -> np.ndarray:
        """The prompt positions where the hint setting puts c_1..c_{n-1}: input symbol i
        (cvp: the own-id token of gate g_{i-1}; isq: r, then the ``^2``s). The answer
        c_n, the n-th label, goes at ``=``."""
        i = np.arange(n - 1)
        if self.kind == "cvp":
            return 4 * i + 3
        return i + 1 if self.kind == "isq" else i

    # --- sampling -----------------------------------------------------------------
    def sample(self, rng: np.random.Generator, n: int, batch: int) -> Sample:
        """``batch`` fresh instances of size ``n``, with their chains by the oracle."""
        n = self.check_n(n)
        B = int(batch)
        if self.kind == "cvp":
            return self._sample_cvp(rng, n, B)
        chains = np.empty((B, n), dtype=np.int64)
        if self.kind == "modadd":
            xs = rng.integers(0, self.P, size=(B, n))
            chains[:] = np.cumsum(xs, axis=1) % self.P
        elif self.kind == "s5":
            xs = rng.integers(0, 120, size=(B, n))
            state = np.zeros(B, dtype=np.int64)  # 01234
            for i in range(n):
                state = s5_tables()[1][state, xs[:, i]]
                chains[:, i] = state
        else:  # sqmod: R, then n-1 "^2"; isq: p, R, then n-1 "^2"
            primes = primes_below(self.P) if self.kind == "isq" else None
            mod = (primes[rng.integers(0, primes.size, size=B)] if primes is not None
                   else np.full(B, self.P, dtype=np.int64))
            chains[:, 0] = rng.integers(0, mod)
            for i in range(1, n):
                chains[:, i] = chains[:, i - 1] * chains[:, i - 1] % mod
            xs = np.full((B, n), self.P, dtype=np.int64)
            xs[:, 0] = chains[:, 0]
            if primes is not None:
                xs = np.concatenate([mod[:, None], xs], axis=1)
        prompts = np.concatenate([xs, np.full((B, 1), self.sep, dtype=np.int64)], axis=1)
        return Sample(prompts.astype(np.int64), chains, chains[:, -1].copy())

    def _sample_cvp(self, rng: np.random.Generator, n: int, B: int) -> Sample:
        m = max(1, n // 4)  # constant gates, the circuit's inputs
        kinds = np.empty((B, n), dtype=np.int64)
        a = np.full((B, n), -1, dtype=np.int64)
        b = np.full((B, n), -1, dtype=np.int64)
        vals = np.empty((B, n), dtype=np.int64)
        kinds[:, :m] = rng.integers(0, 2, size=(B, m))
        vals[:, :m] = kinds[:, :m]
        rows = np.arange(B)
        for i in range(m, n):
            kinds[:, i] = rng.integers(CVP_NOT, CVP_OR + 1, size=B)
            w = min(CVP_WINDOW, i)
            a[:, i] = i - 1 - rng.integers(0, w, size=B)  # one of the last w gates
            # a second operand distinct from the first where there are two earlier gates
            b[:, i] = (a[:, i] + 1 + rng.integers(0, max(i - 1, 1), size=B)) % i
            b[kinds[:, i] == CVP_NOT, i] = -1
            va, vb = vals[rows, a[:, i]], vals[rows, np.maximum(b[:, i], 0)]
            vals[:, i] = np.where(kinds[:, i] == CVP_NOT, 1 - va,
                                  np.where(kinds[:, i] == CVP_AND, va & vb, va | vb))
        prompts = np.empty((B, 4 * n + 1), dtype=np.int64)
        prompts[:, 0:4 * n:4] = kinds
        prompts[:, 1:4 * n:4] = np.where(a >= 0, CVP_GATE0 + a, CVP_NONE)
        prompts[:, 2:4 * n:4] = np.where(b >= 0, CVP_GATE0 + b, CVP_NONE)
        prompts[:, 3:4 * n:4] = CVP_GATE0 + np.arange(n)
        prompts[:, -1] = self.sep
        return Sample(prompts, vals, vals[:, -1].copy())

    # --- chance -------------------------------------------------------------------
    def chance(self, n: int) -> float:
        """The accuracy of always giving the most frequent answer c_n: exact for modadd
        (1/P), s5 (1/120), sqmod (R uniform, enumerated) and isq (`isq_chance`); for
        cvp estimated on 20,000 circuits (seed 0)."""
        n = self.check_n(n)
        if self.kind in ("modadd", "s5"):
            return 1.0 / self.n_answers
        if self.kind == "sqmod":
            r = np.arange(self.P, dtype=np.int64)
            for _ in range(n - 1):
                r = r * r % self.P
            return float(np.bincount(r, minlength=self.P).max() / self.P)
        if self.kind == "isq":
            return isq_chance(self.P, n)
        ans = self.sample(np.random.default_rng(0), n, 20000).answers
        return float(np.bincount(ans, minlength=2).max() / ans.size)

    # --- settings -----------------------------------------------------------------
    def seq_len(self, setting: str, n: int) -> int:
        """Positions a model reads in ``setting``: the prompt, plus the n/K - 1 chain
        tokens it feeds back in cot:K. This is the trained model's max_len."""
        _, K = parse_setting(setting, n)
        return self.prompt_len(n) + (n // K - 1 if K else 0)

    def make_batch(self, setting: str, sample: Sample) -> Batch:
        """Inputs, targets and loss mask of ``setting`` for ``sample``."""
        prompts, chains = sample.prompts, sample.chains
        B, p = prompts.shape
        n = chains.shape[1]
        setting, K = parse_setting(setting, n)
        T = self.seq_len(setting, n)
        targets = np.zeros((B, T), dtype=np.int64)
        mask = np.zeros((B, T), dtype=np.float32)
        answer_pos = p - 1
        if K:
            out = emitted(setting, chains)
            inputs = np.concatenate([prompts, out[:, :-1]], axis=1)
            chain_pos = np.arange(p - 1, T)
            targets[:, chain_pos] = out
            answer_pos = T - 1
        else:
            inputs = prompts.copy()
            if setting == "hint":
                chain_pos = np.append(self.label_positions(n), answer_pos)
                targets[:, chain_pos] = chains
            else:
                chain_pos = np.array([answer_pos])
                targets[:, answer_pos] = sample.answers
        mask[:, chain_pos] = 1.0
        return Batch(inputs.astype(np.int32), targets.astype(np.int32), mask, answer_pos,
                     chain_pos, sample)


def isq_chance(M: int, n: int) -> float:
    """The share of the most frequent answer of isq:M at n, exactly. For a prime p,
    squaring n-1 times is r -> r^e with e = 2^(n-1); on the cyclic group (Z/p)* every
    value in its image has g = gcd(e, p-1) preimages, and 0 has one. The value 1 is in
    every image, so it is the most frequent answer, with probability the mean over the
    primes p of g/p (p uniform over the primes, r uniform in 0..p-1)."""
    ps = primes_below(M)
    e = 1 << (n - 1)
    return float(np.mean([math.gcd(e, int(p) - 1) / int(p) for p in ps]))


def cvp_depths(prompts: np.ndarray) -> np.ndarray:
    """Depth of every gate of cvp prompts (B, 4n + 1): a constant gate 0, any other
    gate 1 + the deepest of its operands. Decoded from the tokens."""
    prompts = np.asarray(prompts)
    B, n = prompts.shape[0], (prompts.shape[1] - 1) // 4
    depth = np.zeros((B, n), dtype=np.int64)
    rows = np.arange(B)
    for i in range(n):
        kind, a, b = prompts[:, 4 * i], prompts[:, 4 * i + 1], prompts[:, 4 * i + 2]
        da = np.where(a >= CVP_GATE0, depth[rows, np.clip(a - CVP_GATE0, 0, n - 1)], -1)
        db = np.where(b >= CVP_GATE0, depth[rows, np.clip(b - CVP_GATE0, 0, n - 1)], -1)
        depth[:, i] = np.where(kind <= 1, 0, 1 + np.maximum(da, db))
    return depth


def cvp_profile(n: int, samples: int = 20000, seed: int = 0) -> dict[str, Any]:
    """The generator's circuits at ``n`` gates, on ``samples`` circuits drawn from
    ``default_rng(seed)``: the depth of the answer gate (``depth_min``, ``depth_median``,
    ``depth_mean``, ``depth_max``, and ``depth_counts`` {depth: share}), and ``chance``,
    the share of the most frequent answer (what `Task.chance` reports)."""
    t = Task("cvp")
    n = t.check_n(n)
    s = t.sample(np.random.default_rng(seed), n, int(samples))
    d = cvp_depths(s.prompts)[:, -1]
    values, counts = np.unique(d, return_counts=True)
    return {"n": n, "samples": int(samples), "depth_min": int(d.min()),
            "depth_median": float(np.median(d)), "depth_mean": float(d.mean()),
            "depth_max": int(d.max()),
            "depth_counts": {int(v): float(c / d.size) for v, c in zip(values, counts)},
            "chance": float(np.bincount(s.answers, minlength=2).max() / s.answers.size)}


def parse_task(spec: str) -> Task:
    """``modadd:P``, ``s5``, ``isq:M`` (``isq``: M = `ISQ_DEFAULT_M`), ``sqmod:P`` or
    ``cvp``; raises
    `CotsimInputError` (one line) for an unknown task or a P that is not an integer in
    2..MAX_P (M in 4..MAX_P: isq needs a prime in [3, M))."""
    if isinstance(spec, Task):
        return spec
    text = str(spec).strip()
    kind, colon, arg = text.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise CotsimInputError(f"task {spec!r}: unknown; expected modadd:P, s5, isq:M, "
                               "sqmod:P or cvp")
    if kind in ("s5", "cvp"):
        if colon:
            raise CotsimInputError(f"task {spec!r}: {kind} takes no parameter")
        return Task(kind)
    arg = arg.strip()
    if kind == "isq" and not colon:
        return Task(kind, ISQ_DEFAULT_M)
    name, lo = ("M", 4) if kind == "isq" else ("P", 2)
    if not colon or not arg:
        example = f"isq:{ISQ_DEFAULT_M}" if kind == "isq" else f"{kind}:7"
        raise CotsimInputError(f"task {spec[:40]!r}: {kind} needs {name}, e.g. {example}")
    if not (arg.isascii() and arg.isdigit()) or len(arg) > 18 or not lo <= int(arg) <= MAX_P:
        shown = arg if len(arg) <= 20 else arg[:20] + "..."
        raise CotsimInputError(f"task {spec[:40]!r}: {name} must be an integer in {lo}..{MAX_P}, "
                               f"got {shown!r}")
    return Task(kind, int(arg))
