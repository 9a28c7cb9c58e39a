"""Independent oracles of the automata: running sums mod p and S5 by NumPy indexing."""
from __future__ import annotations

import numpy as np


def perm_oracle(word: list[str]) -> list[str]:
    """S5 by NumPy fancy indexing: new = g[q] (x -> g[q[x]])."""
    q = np.arange(5)
    out = []
    for g in word:
        q = np.array([int(ch) for ch in g])[q]
        out.append("".join(map(str, q)))
    return out


def oracle(name: str, word: list[str]) -> list:
    if name == "parity":
        return list(np.cumsum([int(a) for a in word]) % 2)
    if name.startswith("modp:"):
        return list(np.cumsum([int(a) for a in word]) % int(name[5:]))
    if name == "s5":
        return perm_oracle(word)
    if name.startswith("sqmod:"):
        P, R = int(name[6:]), int(word[0])
        return [pow(R, 2 ** i, P) for i in range(len(word))]
    raise AssertionError(name)
