"""The layout of a format's parameter vector ``P``, what every Numba kernel takes.

``FloatFormat.params`` builds it (floatformat.py); the kernels of ``fparith`` and the
forward pass read it. It has its own module so that both sides import it and neither
imports the other for it. Pure constants: no NumPy, no Numba.

====  ==========  ==========================================  ======================
idx   name        ieee                                        paper
====  ==========  ==========================================  ======================
0     FAMILY      1 (0 = float64: no rounding)                2
1     MANT        m, stored mantissa bits                     s
2     EMIN        1 - bias, smallest normal exponent          Emin = -2^max(0,e-1)
3     EMAX        bias = 2^(e-1) - 1                          Emax
4     SUBN        1 with subnormals, else 0                   0
5     OVERFLOW    0 = to inf, 1 = saturate, 2 = to NaN        1 (clip to +-B)
6     ROUNDING    0 even, 1 toward zero, 2 away               3 (ties to smaller |.|)
7     MAXV        largest finite value                        B
8     MINPOS      smallest positive value                     2^(Emin - s)
9     KPAPER      0                                           K = 4^s - 1
10    NONFIN      0 = inf and NaN (IEEE), 1 = NaN only,       2
                  2 = neither (see FloatFormat.nonfinite)
====  ==========  ==========================================  ======================

OVERFLOW 2 (to NaN) is ``float8_e4m3fn``'s conversion in ``ml_dtypes``. With NONFIN 1 or
2 the top exponent field holds numbers, so EMAX is bias + 1 and MAXV says where they stop.
"""
from __future__ import annotations

#: indices into P
FAMILY, MANT, EMIN, EMAX, SUBN, OVERFLOW, ROUNDING, MAXV, MINPOS, KPAPER, NONFIN = range(11)
NPARAMS = 11
#: values of P[FAMILY]
F64, IEEE, PAPER = 0, 1, 2
#: values of P[ROUNDING]
R_EVEN, R_ZERO, R_AWAY, R_TIES_ZERO = 0, 1, 2, 3
#: values of P[OVERFLOW]
OV_INF, OV_SATURATE, OV_NAN = 0, 1, 2
#: values of P[NONFIN]
NF_IEEE, NF_NAN, NF_NONE = 0, 1, 2
