"""The paper's experiments (Li, Liu, Zhou, Ma, ICLR 2024, Section 4): its four tasks,
small decoders of the simulator's exact architecture trained in JAX with and without
CoT (and with hints), and their evaluation in exact finite precision by the simulator.

Modules: `tasks` (task generators, oracles and the three settings), `model_jax` (the
architecture in JAX, saved in the `.npz` layout), `train` (JAX + optax training with
checkpoints), `evaluate` (the simulator, in any format). This package imports
`transformer_sim`; nothing in circuits/transformer_sim/proofs imports it. JAX is
imported only by `model_jax` and `train`.
"""
