"""The paper's four tasks (Section 5), their token encodings, oracles and settings.

Token encodings (DESIGN.md, "Experiments"; outside checks build prompts from them). Every
task has a separator ``=`` whose id comes right after the task's symbols. A prompt is the
task's input tokens, then ``=``; the chain c_1..c_n is one token per input symbol (per
gate for cvp), and the answer is c_n.

- ``modadd:P``: symbols 0..P-1, ``=`` is P; c_i = (x_1 + ... + x_i) mod P.
- ``s5``: the 120 permutations of 01234 in one-line notation, id = lexicographic rank
  (01234 is 0, 43210 is 119), ``=`` is 120; c_i is the state after symbol i, where
  reading g maps the state q to x -> g[q[x]], from 01234.
- ``sqmod:P``: ids 0..P-1 are residues, P is ``^2``, P+1 is ``=``; the prompt is R, then
  n-1 ``^2``, then ``=``; c_1 = R and c_i = c_{i-1}^2 mod P = R^(2^(i-1)) mod P.
- ``cvp``: a circuit of n gates g0..g{n-1} in topological order, three tokens a gate:
  its kind, then two operand fields. Ids: 0 and 1 are the values 0 and 1 (and the kinds
  of the constant gates), 2 ``NOT``, 3 ``AND``, 4 ``OR``, 5 ``-`` (an unused operand),
  6 + j the gate g_j (j < MAX_N), and ``=`` is 6 + MAX_N. A constant gate is ``0 - -``
  or ``1 - -``, a NOT gate ``NOT g_a -``, an AND/OR gate ``AND g_a g_b`` with a, b less
  than its own index. c_i is the value (token 0 or 1) of gate g_{i-1}; the answer is the
  last gate's value. The prompt has 3n + 1 tokens. Random circuits: the first
  max(1, n // 4) gates are uniform constants, each later gate is NOT, AND or OR
  (uniform), with operands drawn uniformly from the earlier gates (two distinct ones
  for AND/OR where there are two).

Settings (``SETTINGS``): ``base`` reads the prompt and is trained on the answer at
``=``; ``cot`` reads the prompt and c_1..c_{n-1} and is trained on c_1..c_n (the model
emits n tokens after ``=``, the last is the answer); ``hint`` reads the prompt and is
trained on c_i at the position of input symbol i (for cvp: the last token of gate i)
and on the answer at ``=``; the chain is never fed back.

Samples are drawn fresh by the caller's NumPy generator (online training).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from circuits.errors import CotsimInputError

#: the largest n of every task (also the number of gate-id tokens of cvp)
MAX_N = 128
#: the largest modulus P (the vocabulary has P + 2 tokens)
MAX_P = 65536
#: base: loss on the answer; cot: on every chain token; hint: chain labels at the inputs
SETTINGS = ("base", "cot", "hint")
KINDS = ("modadd", "s5", "sqmod", "cvp")

# cvp token ids
CVP_NOT, CVP_AND, CVP_OR, CVP_NONE, CVP_GATE0 = 2, 3, 4, 5, 6


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
    last chain position); ``chain_pos`` (n,) the positions whose targets are c_1..c_n
    (for base only the answer's)."""

    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    answer_pos: int
    chain_pos: np.ndarray
    sample: Sample


@dataclass(frozen=True)
class Task:
    """One of the paper's tasks: ``kind`` in KINDS, ``P`` the modulus of modadd/sqmod."""

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
        if self.kind == "sqmod":
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
        return {"modadd": self.P, "s5": 120, "sqmod": self.P, "cvp": 2}[self.kind]

    # --- lengths ------------------------------------------------------------------
    def check_n(self, n: int) -> int:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_N:
            raise CotsimInputError(f"n = {n!r} is out of range: {self.spec} takes an integer "
                                   f"n in 1..{MAX_N}")
        return int(n)

    def prompt_len(self, n: int) -> int:
        return 3 * n + 1 if self.kind == "cvp" else n + 1

    def label_positions(self, n: int) -> np.ndarray:
        """The prompt positions where the hint setting puts c_1..c_n: after symbol i
        (for cvp, the last token of gate i)."""
        i = np.arange(n)
        return 3 * i + 2 if self.kind == "cvp" else i

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
        else:  # sqmod
            xs = np.full((B, n), self.P, dtype=np.int64)  # R, then n-1 "^2"
            xs[:, 0] = rng.integers(0, self.P, size=B)
            chains[:, 0] = xs[:, 0]
            for i in range(1, n):
                chains[:, i] = chains[:, i - 1] * chains[:, i - 1] % self.P
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
            a[:, i] = rng.integers(0, i, size=B)
            # a second operand distinct from the first where there are two earlier gates
            b[:, i] = (a[:, i] + 1 + rng.integers(0, max(i - 1, 1), size=B)) % i
            b[kinds[:, i] == CVP_NOT, i] = -1
            va, vb = vals[rows, a[:, i]], vals[rows, np.maximum(b[:, i], 0)]
            vals[:, i] = np.where(kinds[:, i] == CVP_NOT, 1 - va,
                                  np.where(kinds[:, i] == CVP_AND, va & vb, va | vb))
        prompts = np.empty((B, 3 * n + 1), dtype=np.int64)
        prompts[:, 0:3 * n:3] = kinds
        prompts[:, 1:3 * n:3] = np.where(a >= 0, CVP_GATE0 + a, CVP_NONE)
        prompts[:, 2:3 * n:3] = np.where(b >= 0, CVP_GATE0 + b, CVP_NONE)
        prompts[:, -1] = self.sep
        return Sample(prompts, vals, vals[:, -1].copy())

    # --- chance -------------------------------------------------------------------
    def chance(self, n: int) -> float:
        """The accuracy of always giving the most frequent answer c_n: exact for modadd
        (1/P), s5 (1/120) and sqmod (R uniform, enumerated); for cvp estimated on 20,000
        circuits (seed 0)."""
        n = self.check_n(n)
        if self.kind in ("modadd", "s5"):
            return 1.0 / self.n_answers
        if self.kind == "sqmod":
            r = np.arange(self.P, dtype=np.int64)
            for _ in range(n - 1):
                r = r * r % self.P
            return float(np.bincount(r, minlength=self.P).max() / self.P)
        ans = self.sample(np.random.default_rng(0), n, 20000).answers
        return float(np.bincount(ans, minlength=2).max() / ans.size)

    # --- settings -----------------------------------------------------------------
    def seq_len(self, setting: str, n: int) -> int:
        """Positions a model reads in ``setting``: the prompt, plus c_1..c_{n-1} for
        cot. This is the trained model's max_len."""
        check_setting(setting)
        return self.prompt_len(n) + (n - 1 if setting == "cot" else 0)

    def make_batch(self, setting: str, sample: Sample) -> Batch:
        """Inputs, targets and loss mask of ``setting`` for ``sample``."""
        check_setting(setting)
        prompts, chains = sample.prompts, sample.chains
        B, p = prompts.shape
        n = chains.shape[1]
        T = self.seq_len(setting, n)
        targets = np.zeros((B, T), dtype=np.int64)
        mask = np.zeros((B, T), dtype=np.float32)
        if setting == "cot":
            inputs = np.concatenate([prompts, chains[:, :-1]], axis=1)
            chain_pos = np.arange(p - 1, T)
            targets[:, chain_pos] = chains
            mask[:, chain_pos] = 1.0
            answer_pos = T - 1
        else:
            inputs = prompts.copy()
            answer_pos = p - 1
            if setting == "hint":
                chain_pos = np.append(self.label_positions(n), answer_pos)
                targets[:, chain_pos[:-1]] = chains
                mask[:, chain_pos] = 1.0
                chain_pos = chain_pos[:-1]
            else:
                chain_pos = np.array([answer_pos])
            targets[:, answer_pos] = sample.answers
            mask[:, answer_pos] = 1.0
        return Batch(inputs.astype(np.int32), targets.astype(np.int32), mask, answer_pos,
                     chain_pos, sample)


def check_setting(setting: str) -> str:
    if setting not in SETTINGS:
        raise CotsimInputError(f"setting {setting!r}: unknown; expected one of "
                               f"{', '.join(SETTINGS)}")
    return setting


def parse_task(spec: str) -> Task:
    """``modadd:P``, ``s5``, ``sqmod:P`` or ``cvp``; raises `CotsimInputError` (one line)
    for an unknown task or a P that is not an integer in 2..MAX_P."""
    if isinstance(spec, Task):
        return spec
    text = str(spec).strip()
    kind, colon, arg = text.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise CotsimInputError(f"task {spec!r}: unknown; expected modadd:P, s5, sqmod:P "
                               "or cvp")
    if kind in ("s5", "cvp"):
        if colon:
            raise CotsimInputError(f"task {spec!r}: {kind} takes no parameter")
        return Task(kind)
    arg = arg.strip()
    if not colon or not arg:
        raise CotsimInputError(f"task {spec!r}: {kind} needs a modulus, e.g. {kind}:7")
    if not (arg.isascii() and arg.isdigit()) or len(arg) > 18 or not 2 <= int(arg) <= MAX_P:
        shown = arg if len(arg) <= 20 else arg[:20] + "..."
        raise CotsimInputError(f"task {spec[:40]!r}: P must be an integer in 2..{MAX_P}, "
                               f"got {shown!r}")
    return Task(kind, int(arg))
