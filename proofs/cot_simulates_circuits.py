"""Theorem 3.3 (arXiv v4): SIZE[T] is in CoT[T, log n, 1]; in particular
P/poly = CoT[poly(n), log n, 1]. The check runs the first part, the construction.

For random circuits over a geometric ladder of sizes and for the ISCAS-85 netlists, the
check builds the circuit's CoT transformer (`build_circuit_cot`), runs it token by token
in finite precision (`run_cot`) on a few random inputs, and compares EVERY emitted token
with direct evaluation: the token of a gate step with the value of that gate's node in
the lowered (fan-in <= 2) circuit ``program.lowered``, itself checked against the original
on the same inputs, the read-out tokens with the outputs of the original
circuit (`circuits.evaluate`, an evaluator that knows nothing of transformers).

It holds when every token agrees, the depth (layers), the heads and the format are the
same for every circuit, and d_model <= C * log2(n + T) with C = 14 for every instance
(the construction has d_model = 8 + 6 * ceil(log2(n + T)), and 8 + 6 (L + 1) <= 14 L
once L = log2(n + T) >= 1.75, i.e. n + T >= 4).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .base import FAILS, HOLDS, CheckResult, Table, draw_figures, progress

NAME = "cot_simulates_circuits"
CLAIM = ("Theorem 3.3 (SIZE[T] in CoT[T, log n, 1]): a transformer of constant depth and "
         "heads, in one constant-precision format, with embedding width O(log(n + T)), "
         "evaluates any circuit of size T in T chain-of-thought steps, then reads out its "
         "outputs (the answer); every CoT token equals the value of its gate.")

#: the constant of the width bound d_model <= C * log2(n + T)
C_WIDTH = 14
#: the shared benchmarks (COTSIM_SHARED overrides their parent folder, as in the tests)
ISCAS_DIR = Path(os.environ.get("COTSIM_SHARED", Path(__file__).resolve().parents[2] / "shared")) \
    / "benchmarks" / "iscas85"
QUICK_SIZES = (10, 30, 100, 300)
FULL_SIZES = (10, 30, 100, 300, 1000, 3000, 10_000)
QUICK_ISCAS = ("c17", "c432")
QUICK_VECTORS, FULL_VECTORS = 2, 4
#: in full mode, circuits above this many gates run on one random input
BIG_CIRCUIT = 3000
#: a circuit with at most this many inputs is checked on every input vector
EXHAUSTIVE_INPUTS = 5


@dataclass(frozen=True)
class Instance:
    label: str
    circuit: object  # circuits.Circuit


def ladder(sizes: Sequence[int]) -> list[Instance]:
    """Random circuits (circuit value problem instances) with all gate kinds of the
    "general" basis and fan-in up to 3, so that the wide-gate lowering is exercised."""
    from circuits.families import random_circuit

    return [Instance(f"random-{g}", random_circuit(max(4, g // 10), g, max_fanin=3,
                                                   basis="general", seed=g))
            for g in sizes]


def iscas(names: Sequence[str] | None) -> list[Instance]:
    import circuits

    files = sorted(ISCAS_DIR.glob("*.bench"), key=lambda p: int(p.stem[1:]))
    if names is not None:
        files = [f for f in files if f.stem in names]
    return [Instance(f.stem, circuits.load(str(f))) for f in files]


def _vectors(n: int, count: int, seed: int) -> np.ndarray:
    if n <= EXHAUSTIVE_INPUTS:
        return ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).astype(bool)
    return np.random.default_rng(seed).integers(0, 2, (count, n)).astype(bool)


def check_instance(inst: Instance, vectors: int, build: Callable, seed: int = 0,
                   record: bool = False) -> dict:
    """Build, run and compare one circuit on ``vectors`` random inputs. Returns the row
    figures and the first disagreement (None if all tokens agree)."""
    import circuits
    from circuits.simulate import evaluate_nodes
    from transformer_sim.cot import run_cot

    c = inst.circuit
    cot = build(c)
    prog = cot.program
    low = prog.lowered  # the fan-in <= 2 circuit whose node ids the steps compute
    X = _vectors(c.num_inputs, vectors, seed)
    nodes = evaluate_nodes(low, X)
    outs = circuits.evaluate(c, X)
    if not np.array_equal(circuits.evaluate(low, X), outs):
        raise AssertionError(f"{inst.label}: the lowered circuit computes other outputs "
                             "than the circuit")
    T, n = cot.cot_steps, c.num_inputs
    gate_steps = [s for s, node in enumerate(prog.step_node) if node >= 0]
    gate_nodes = np.array([prog.step_node[s] for s in gate_steps], dtype=np.int64)
    checked, first_bad, traces, seconds = 0, None, [], []
    for v, x in enumerate(X):
        bits = [int(b) for b in x]
        t0 = time.perf_counter()
        trace = run_cot(cot.model, cot.prompt(bits), T, record_attention=record)
        seconds.append(time.perf_counter() - t0)
        if record:
            traces.append(trace)
        want = np.empty(T, dtype=np.int64)
        want[gate_steps] = nodes[v, gate_nodes]
        want[T - c.num_outputs:] = outs[v]
        got = np.array(trace.tokens, dtype=np.int64)
        ok = got == want[:len(got)]
        checked += len(got)
        if trace.undefined and first_bad is None:
            first_bad = (f"{inst.label}, input {''.join(map(str, bits))}: the forward pass "
                         f"is undefined at step {trace.undefined_at} ({trace.reason})")
        if not ok.all() and first_bad is None:
            s = int(np.flatnonzero(~ok)[0])
            node = prog.step_node[s]
            what = (f"gate {prog.node_labels[node][0]} ({prog.node_labels[node][1]})"
                    if node >= 0 else
                    f"output {prog.output_names[s - (T - c.num_outputs)]}")
            first_bad = (f"{inst.label}, input {''.join(map(str, bits))}: step {s} ({what}) "
                         f"emitted {int(got[s])}, direct evaluation gives {int(want[s])} "
                         f"({int((~ok).sum())} of {T} tokens wrong)")
    m = cot.model
    return {"label": inst.label, "n": n, "gates": c.size, "T": T, "layers": m.n_layers,
            "heads": m.heads, "d_ff": m.layers[0].W1.shape[0], "d_model": m.d_model,
            "format": m.fmt.spec, "vectors": len(X), "checked": checked,
            "expected": len(X) * T, "bad": first_bad, "cot": cot, "traces": traces,
            "lowered": low, "X": X, "margins": cot.margins,
            "seconds_per_run": float(np.median(seconds)) if seconds else 0.0}


def _build_default(circuit):
    from transformer_sim.constructions.circuit_cot import build_circuit_cot

    return build_circuit_cot(circuit)


def run(quick: bool = True, instances: Sequence[Instance] | None = None,
        build: Callable | None = None, vectors: int | None = None) -> CheckResult:
    """Run Theorem 3.3's construction on the ladder and ISCAS-85 (quick: up to 300
    random gates, c17 and c432; full: up to 10^4 gates, every ISCAS-85 circuit).
    ``instances``, ``build`` and ``vectors`` replace the defaults (tests inject a broken
    construction through ``build``)."""
    build = build or _build_default
    missing = None
    vectors = vectors or (QUICK_VECTORS if quick else FULL_VECTORS)
    if instances is None:
        instances = ladder(QUICK_SIZES if quick else FULL_SIZES)
        found = iscas(QUICK_ISCAS if quick else None)
        if not found:
            missing = f"no ISCAS-85 benchmarks under {ISCAS_DIR}; random circuits only"
        instances += found
    rows, results, problems = [], [], []
    for k, inst in enumerate(instances):
        progress(f"{NAME}: {inst.label} ({inst.circuit.size} gates)")
        # a CoT of tens of thousands of steps takes long on the forward pass: one input
        count = vectors if quick or inst.circuit.size <= BIG_CIRCUIT else 1
        r = check_instance(inst, count, build, seed=k, record=inst.label == "c17")
        results.append(r)
        ratio = r["d_model"] / math.log2(r["n"] + r["T"])
        r["ratio"] = ratio
        agrees = r["bad"] is None and r["checked"] == r["expected"]
        rows.append((r["label"], r["n"], r["gates"], r["T"], r["layers"], r["heads"],
                     r["d_model"], round(ratio, 2), r["format"], r["vectors"],
                     r["checked"], agrees))
        if r["bad"]:
            problems.append(r["bad"])
    table = Table(("circuit", "n", "gates", "T (CoT steps)", "layers", "heads", "d_model",
                   "d_model / log2(n+T)", "format", "inputs run", "tokens checked",
                   "every token agrees"), rows)
    for key, what in (("layers", "layers"), ("heads", "heads"), ("format", "format"),
                      ("d_ff", "MLP width")):
        seen = sorted({str(r[key]) for r in results})
        if len(seen) > 1:
            problems.append(f"the {what} is not constant across circuits: {', '.join(seen)}")
    worst = max(results, key=lambda r: r["ratio"]) if results else None
    if worst and worst["ratio"] > C_WIDTH:
        problems.append(f"{worst['label']}: d_model = {worst['d_model']} exceeds "
                        f"{C_WIDTH} * log2(n + T) = {C_WIDTH * math.log2(worst['n'] + worst['T']):.1f}")
    notes = [f"Width bound: d_model <= {C_WIDTH} * log2(n + T) for every instance "
             f"(worst ratio {worst['ratio']:.2f}, {worst['label']})." if worst else "",
             "Tokens checked: every gate step against the value of its node in the lowered "
             "fan-in-2 circuit, every read-out step against the original circuit's output."]
    if missing:
        notes.append(missing)
    if results:
        notes.append("Retrieval margins of the format: " + "; ".join(
            f"{k} {v}" for k, v in results[0]["margins"].rows()))
    figures, captions = draw_figures(_figures, results, notes=notes)
    total = sum(r["checked"] for r in results)
    if problems:
        return CheckResult(NAME, CLAIM, FAILS, "; ".join(problems), table, figures, captions,
                           tuple(n for n in notes if n), quick)
    r0 = results[0]
    reason = (f"all {total} CoT tokens of {len(results)} circuits (up to "
              f"{max(r['gates'] for r in results)} gates) equal direct evaluation, with "
              f"{r0['layers']} layer, {r0['heads']} heads and {r0['format']} throughout, "
              f"and d_model <= {C_WIDTH} log2(n + T)")
    return CheckResult(NAME, CLAIM, HOLDS, reason, table, figures, captions,
                       tuple(n for n in notes if n), quick)


def _figures(results: list[dict]) -> tuple[dict, dict]:
    from .cot_figures import attention_heatmap, trace_svg, width_chart

    figures, captions = {}, {}
    timed = [r for r in results if r["seconds_per_run"] > 0 and not r["traces"]]
    if len(timed) >= 2:
        name = "time_vs_T.svg"
        figures[name], slope = _time_chart(timed)
        captions[name] = ("Seconds per CoT run (median over the inputs, without recording "
                          "attention) against the number of CoT steps T, on log-log axes. "
                          f"The fitted slope, {slope:.2f}, is the exponent of T. A step at "
                          "position t costs O(t d + d^2): near 1 while the fixed per-step "
                          "work dominates, tending to 2 once attention over the t earlier "
                          "positions does (docs/performance.md measures 1.93 up to "
                          "T = 39489).")
    if results:
        name = "width_vs_log.svg"
        figures[name] = width_chart(results, C_WIDTH)
        captions[name] = ("The embedding width of each circuit's CoT transformer against "
                          "log2(n + T): it follows 8 + 6 ceil(log2(n + T)), below the line "
                          f"{C_WIDTH} log2(n + T).")
    small = next((r for r in results if r["traces"]), None)
    if small is not None:
        # a run whose outputs differ (more telling than all zeros), else the first
        k = next((i for i, t in enumerate(small["traces"])
                  if len(set(small["cot"].read_outputs(t.tokens))) > 1), 0)
        trace = small["traces"][k]
        bits = "".join("1" if b else "0" for b in small["X"][k])
        svg = trace_svg(small["lowered"], small["cot"], trace, small["label"])
        if svg is not None:
            name = f"{small['label']}_cot_trace.svg"
            figures[name] = svg
            captions[name] = (f"{small['label']} on input {bits}: each gate shows the CoT "
                              "step that computes it and the token emitted; each output box "
                              "the read-out step.")
        name = f"{small['label']}_attention.svg"
        figures[name] = attention_heatmap(small["cot"], trace, small["label"], bits)
        captions[name] = ("Attention of the two heads at each position of the same run: "
                          "every step puts weight exactly 1 on the positions of its gate's "
                          "two inputs (one-hot, as the retrieval margins guarantee).")
    return figures, captions


def _time_chart(results: list[dict]) -> tuple[str, float]:
    from .svg import line_chart

    T = np.log2([r["T"] for r in results])
    sec = np.log2([r["seconds_per_run"] for r in results])
    slope, icpt = np.polyfit(T, sec, 1)
    xs = np.array([T.min(), T.max()])
    svg = line_chart([("instances", T, sec, "points"),
                      (f"fit: slope {slope:.2f}", xs, slope * xs + icpt, "dashed")],
                     "CoT time against T (log-log)", "log2 T (CoT steps)",
                     "log2 seconds per run")
    return svg, float(slope)


if __name__ == "__main__":
    import sys

    from .base import main
    sys.exit(main(NAME))
