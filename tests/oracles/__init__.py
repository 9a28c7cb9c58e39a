"""Independent oracles of the test suite, and the test inputs they share.

Test modules import from here and never from each other (``from oracles.gates import
reference_evaluate``; pytest puts tests/ on the path, as for ``from conftest import``).
Nothing here imports a test module.

- `gates`: the plain-Python circuit evaluator (`reference_evaluate`), `all_vectors`,
  `same_function`.
- `equivalence`: Berkeley ABC's equivalence check (`abc_cec`).
- `circuit_cases`: Hypothesis strategies for small named circuits (`named_circuits`).
- `rounding`: rounding by exhaustive search (`brute_round`), `same_bits`, `log_uniform`.
- `forward`: the forward pass in exact rationals (`exact_reference`) and in NumPy
  (`numpy_reference`), and the test models (`make_model`, `undefined_model`, ...).
- `automata`: running sums and S5 by NumPy (`perm_oracle`, `oracle`).
"""
