"""Theorem 3.3 proven, not sampled: the CoT transformer of a circuit, its T CoT steps
compiled into one circuit, shown equal to the circuit on EVERY input by ABC's ``cec``.

1. ``build_circuit_cot`` writes the transformer of ``circuit`` (prompt ``BOS x_0 ..
   x_{n-1}``, one CoT step per gate, then one read-out step per output).
2. ``compile_chain`` compiles its T greedy steps into one circuit, bit for bit the
   finite-precision forward pass. Its prompt is not free: position 0 holds BOS, and
   position 1 + i holds x_i, a token 0 or 1. So BOS's bits are constants, the high bit
   of each input token is the constant 0, and its low bit is the primary input x_i
   (named as in the circuit, in order): the tables fold over these true domains.
3. The proof circuit keeps, for the k-th output, the low bit of the token of read-out
   step T - m + k (token 1 is the value 1, token 0 the value 0), then one more output
   ``cot_malformed``: the OR of the ``undefined`` bit and the high bits of the read-out
   tokens (1 when some token is not a bit, e.g. BOS). The reference is the circuit
   (or ``against``) with a constant-0 ``cot_malformed`` output appended.
4. ABC ``cec -n`` (inputs and outputs matched by order) proves the two equal on all
   2^n inputs, or gives a counterexample. Both are written as binary AIGER, which ABC
   reads (the compiled circuit may hold THR/MAJ gates: ``to_aig`` expands them).

So "equivalent" means: on every input, every step's forward pass is defined and every
read-out token is the bit the circuit computes.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from circuits.builder import CircuitBuilder
from circuits.errors import CotsimInputError
from circuits.ir import Circuit

from .compile.bundles import Bundle
from .constructions.circuit_cot import BOS, CircuitCot, build_circuit_cot

#: the name of the extra output that must be 0 on every input
MALFORMED = "cot_malformed"
#: ABC's executable (Debian's berkeley-abc); COTSIM_ABC overrides it
ABC_NAMES = ("berkeley-abc", "abc")
#: the default gate budget of the build (nodes actually built, structural hashing on)
DEFAULT_PROVE_BUDGET = 50_000_000


class AbcMissing(CotsimInputError):
    """ABC is not installed: the proof cannot be made (exit 2, one line)."""


def find_abc() -> str:
    exe = os.environ.get("COTSIM_ABC")
    if exe:
        if shutil.which(exe) is None:
            raise AbcMissing(f"COTSIM_ABC={exe}: not an executable")
        return shutil.which(exe)  # type: ignore[return-value]
    for name in ABC_NAMES:
        path = shutil.which(name)
        if path is not None:
            return path
    raise AbcMissing("ABC is not installed (apt-get install berkeley-abc): it proves the "
                     "equivalence")


@dataclass(frozen=True)
class Proof:
    """What ``prove`` found. ``counterexample``: the input bits (in circuit order) on which
    the two differ, when ABC gives one."""

    equivalent: bool
    cot_steps: int
    compiled_size: int
    compiled_depth: int
    seconds: float
    compile_seconds: float
    abc_seconds: float
    inputs: int
    outputs: int
    format: str
    iterative: str
    d_model: int
    counterexample: str | None = None
    abc_report: str = field(default="", repr=False)

    def as_dict(self) -> dict[str, Any]:
        out = {"equivalent": self.equivalent, "cot_steps": self.cot_steps,
               "compiled_size": self.compiled_size, "compiled_depth": self.compiled_depth,
               "seconds": round(self.seconds, 3),
               "compile_seconds": round(self.compile_seconds, 3),
               "abc_seconds": round(self.abc_seconds, 3), "inputs": self.inputs,
               "outputs": self.outputs, "format": self.format, "iterative": self.iterative,
               "d_model": self.d_model}
        if self.counterexample is not None:
            out["counterexample"] = self.counterexample
        return out


def prompt_bundles(cot: CircuitCot, input_names: tuple[str, ...]):
    """The builder callback of ``compile_chain``: BOS as a constant token, input i as the
    token whose low bit is the primary input ``input_names[i]`` and whose high bit is 0."""
    def build(b: CircuitBuilder) -> list[Bundle]:
        xs = b.inputs(list(input_names))
        zero, one = b.const(0), b.const(1)
        bos_bits = tuple(one if (BOS >> j) & 1 else zero for j in range(2))
        out = [Bundle(bos_bits, [float(BOS)], [BOS])]
        out += [Bundle((x, zero), [0.0, 1.0], [0, 1]) for x in xs]
        return out
    if cot.model.vocab != 3:
        raise ValueError("the circuit construction has tokens 0, 1 and BOS = 2")
    return build


def proof_circuit(compiled: Circuit, steps: int, num_outputs: int) -> Circuit:
    """The compiled chain with the outputs of step 3 above: the low bit of each read-out
    token, then ``cot_malformed``."""
    names = {name: int(node) for name, node in zip(compiled.output_names,
                                                   compiled.output_ids.tolist())}
    reads = range(steps - num_outputs, steps)
    b = CircuitBuilder(strash=True, fold=True)
    new = copy_into(b, compiled, b.inputs(list(compiled.input_names)))
    bad = [new[names["undefined"]]] + [new[names[f"step{s}_tok1"]] for s in reads]
    outs = [new[names[f"step{s}_tok0"]] for s in reads]
    for k, node in enumerate(outs):
        b.output(f"out{k}", node)
    b.output(MALFORMED, b.OR(*bad) if len(bad) > 1 else bad[0])
    return b.build()


def reference_circuit(circuit: Circuit) -> Circuit:
    """``circuit`` with a constant-0 ``cot_malformed`` output appended."""
    b = CircuitBuilder(strash=True, fold=True)
    new = copy_into(b, circuit, b.inputs(list(circuit.input_names)))
    for name, o in zip(circuit.output_names, circuit.output_ids.tolist()):
        b.output(name, new[int(o)])
    b.output(MALFORMED, b.const(0))
    return b.build()


def copy_into(b: CircuitBuilder, circuit: Circuit, inputs: list[int]) -> list[int]:
    """Add ``circuit``'s gates to ``b`` with its inputs wired to ``inputs``; the new node
    id of every old node."""
    from circuits.ir import Kind

    new = list(inputs) + [-1] * (circuit.num_nodes - circuit.num_inputs)
    ptr, fanin = circuit.fanin_ptr.tolist(), circuit.fanin.tolist()
    weights, thresholds = circuit.weights.tolist(), circuit.thresholds.tolist()
    for node in range(circuit.num_inputs, circuit.num_nodes):
        kind = Kind(int(circuit.kinds[node]))
        a, z = ptr[node], ptr[node + 1]
        ins = [new[x] for x in fanin[a:z]]
        if kind == Kind.THR:
            new[node] = b.gate(kind, ins, weights[a:z], thresholds[node])
        else:
            new[node] = b.gate(kind, ins)
    return new


def _check_against(circuit: Circuit, other: Circuit, where: str) -> None:
    if other.num_inputs != circuit.num_inputs or other.num_outputs != circuit.num_outputs:
        raise CotsimInputError(
            f"{where}: has {other.num_inputs} inputs and {other.num_outputs} outputs, the "
            f"circuit {circuit.num_inputs} and {circuit.num_outputs} (matched by order)")


def cec(abc: str, a: str, b: str, timeout: float | None = None) -> tuple[bool, str]:
    """ABC's ``cec -n`` of two files: (equivalent, report). Raises on an answer that is
    neither."""
    try:
        r = subprocess.run([abc, "-c", f"cec -n {a} {b}"], capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CotsimInputError(f"ABC did not finish within {timeout:g} s") from None
    report = r.stdout + r.stderr
    if "Networks are equivalent" in report:
        return True, report
    if "NOT EQUIVALENT" in report or "are NOT EQUIVALENT" in report:
        return False, report
    last = " ".join(report.split()[-30:])
    raise CotsimInputError(f"ABC gave no verdict (exit {r.returncode}): {last}")


def _counterexample(circuit: Circuit, other: Circuit, proof: Circuit) -> str | None:
    """An input where the proof circuit and the reference differ, found by simulation
    (ABC's own is printed in its report; this one is checked)."""
    import numpy as np

    from circuits import evaluate

    n = circuit.num_inputs
    if n <= 16:
        x = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).astype(bool)
    else:
        x = np.random.default_rng(0).integers(0, 2, (4096, n)).astype(bool)
    want = evaluate(reference_circuit(other), x)
    got = evaluate(proof, x)
    bad = np.flatnonzero((want != got).any(axis=1))
    if bad.size == 0:
        return None
    return "".join("1" if v else "0" for v in x[bad[0]])


def prove(circuit: Circuit, against: Circuit | None = None, *, fmt: str | None = None,
          iterative: str = "auto", budget: int = DEFAULT_PROVE_BUDGET,
          abc_timeout: float | None = None, against_name: str = "OTHER",
          cot: CircuitCot | None = None) -> Proof:
    """Prove that the CoT transformer of ``circuit`` computes ``against`` (default the
    circuit itself) on every input; see the module docstring. ``cot`` replaces the
    constructed transformer (tests pass a tampered one)."""
    from circuits.normalize import to_aig
    from circuits.aiger import dump
    from circuits.analysis import depth

    from .compile.chain import compile_chain

    other = circuit if against is None else against
    _check_against(circuit, other, against_name)
    abc = find_abc()
    start = time.perf_counter()
    if cot is None:
        cot = build_circuit_cot(circuit, fmt)
    T = cot.cot_steps
    compiled = compile_chain(cot.model, 1 + circuit.num_inputs, T, budget=budget,
                             iterative=iterative,
                             prompt=prompt_bundles(cot, circuit.input_names))
    proof = proof_circuit(compiled.circuit, T, circuit.num_outputs)
    compile_seconds = time.perf_counter() - start
    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cotsim-prove-") as tmp:
        a, r = os.path.join(tmp, "cot.aig"), os.path.join(tmp, "reference.aig")
        with open(a, "wb") as f:
            f.write(dump(to_aig(proof), "aig"))
        with open(r, "wb") as f:
            f.write(dump(to_aig(reference_circuit(other)), "aig"))
        equivalent, report = cec(abc, a, r, abc_timeout)
    abc_seconds = time.perf_counter() - t
    cex = None if equivalent else _counterexample(circuit, other, proof)
    return Proof(equivalent=equivalent, cot_steps=T, compiled_size=compiled.circuit.size,
                 compiled_depth=depth(compiled.circuit),
                 seconds=time.perf_counter() - start, compile_seconds=compile_seconds,
                 abc_seconds=abc_seconds, inputs=circuit.num_inputs,
                 outputs=circuit.num_outputs, format=cot.model.fmt.spec,
                 iterative=compiled.iterative, d_model=cot.model.d_model,
                 counterexample=cex, abc_report=report)
