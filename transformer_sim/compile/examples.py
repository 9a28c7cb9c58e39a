"""Small hand-built models whose compiled circuits do not collapse as n grows.

``majority_model``: vocab 2, one layer, one head, d = 2, format paper:e=1,s=1 (values 0,
+-1/4, +-1/2, +-3/4, +-1, +-3/2). h_i = TE[x_i] = (1, +-1/4). Every score is 1, so
e_ij = [exp(1)] = 3/2 (clipped), Z_i = 3/2 and a_ij = 1: the head takes the plain sum
o = sum_j v_j of v_j = +-1/4 (+ for token 1), which saturates at +-3/2. The residual
gives h_1 = [+-1/4 + o]; the MLP is zero; the logits are (-h_1, h_1). So the next token
is 1 iff x_(n-1) +-1/4 plus the (clipped, in iterative mode order-dependent) count
difference is positive: a majority vote, which needs threshold gates in constant depth.
"""
from __future__ import annotations

import numpy as np

from ..floatformat import FloatFormat
from ..model import Layer, Model


def majority_model(max_len: int = 64, fmt: str = "paper:e=1,s=1",
                   sum_mode: str = "exact") -> Model:
    """The majority vote above, in ``fmt``. In a format whose largest value is below 1
    (e.g. paper:e=0,s=1, values k/4 up to 3/4) the first coordinate is 1/2 and every
    weight 1 is B instead: the scores round to 0, [exp(0)] clips to B, every a_ij = [B/B]
    clips to B, and each [a_ij v_j] rounds to +-1/4 again, so o is still the clipped sum
    of +-1/4; [B x] keeps the sign of every nonzero x on the way to the logits."""
    f = FloatFormat.parse(fmt)
    q = 0.25
    c, u = (1.0, 1.0) if f.max_value >= 1.0 else (0.5, f.max_value)
    z = np.zeros
    layer = Layer(
        Wq=np.array([[[u, 0.0], [0.0, 0.0]]]), Wk=np.array([[[u, 0.0], [0.0, 0.0]]]),
        Wv=np.array([[[0.0, u], [0.0, 0.0]]]), Wo=np.array([[[0.0, 0.0], [u, 0.0]]]),
        W1=z((2, 2)), b1=z(2), W2=z((2, 2)), b2=z(2))
    return Model(fmt=f, sum_mode=sum_mode,
                 TE=np.array([[c, -q], [c, q]]), PE=z((max_len, 2)),
                 Wout=np.array([[0.0, -u], [0.0, u]]), bout=z(2), layers=(layer,))
