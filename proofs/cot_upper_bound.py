"""Theorems 3.7/3.8 (arXiv v4), the upper-bound side. The theorems are equalities: with
poly(n) embedding width, CoT with T steps at O(log n)-bit (3.7) or constant (3.8)
precision decides exactly what circuits of O(T) gates decide, where a gate may be a TC0
(3.7) or AC0 (3.8) oracle gate (about one per forward pass: T CoT tokens, then the
answer). This check runs one direction, for small fixed models in fixed formats (fixed
precision, constant width): T steps of CoT of a fixed transformer are one circuit, the
serial composition of T constant-depth step circuits, so its size grows linearly in T (for a bounded context) and its depth is
O(T). A chain of T steps is T forward passes: in the paper's count, CoT[T - 1] and the
answer.

`transformer_sim.compile.chain.compile_chain(model, n, T)` builds that circuit: step s is
the no-CoT circuit for length n + s, whose last s token inputs are wired to the earlier
steps' token outputs. The check, for each model and each T of a ladder:

- compares the chain with T steps of `transformer_sim.cot.run_cot` on every prompt (when
  V^n <= 256, else on random ones): every step's token and the ``undefined`` bit;
- measures the chain's size and depth against the T step circuits compiled on their own:
  size <= the sum of the step sizes (so at most T times the largest step: linear in T at a
  bounded length) and depth <= the sum of the step depths;
- for a model whose step circuit has the same size at every length (``linear``), fits
  size = a T + b (exact rational least squares, SymPy) on the smaller T and requires it
  to predict the largest T; a is the size per CoT step.

A finite experiment on the listed models, not a proof.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from .base import FAILS, HOLDS, CheckResult, Table, draw_figures, progress
from .no_cot_is_constant_depth import fit_polynomial

NAME = "cot_upper_bound"
CLAIM = ("Theorems 3.7/3.8 (equalities: with poly(n) width, CoT[T] at O(log n)-bit / "
         "constant precision equals circuits of O(T) gates, some of them TC0 / AC0 oracle "
         "gates), one direction for fixed models: T CoT steps of a fixed constant-depth finite-precision "
         "transformer are computed by one circuit, the chain of T step circuits, of size at "
         "most the sum of the steps' (linear in T at a bounded length) and depth O(T); the "
         "chain's tokens equal T steps of run_cot on every prompt checked.")

QUICK_STEPS = (1, 2, 3, 4, 6, 8)
FULL_STEPS = (1, 2, 3, 4, 6, 8, 12, 16)
MAX_EXHAUSTIVE = 1 << 8
QUICK_SAMPLES, FULL_SAMPLES = 200, 1000
#: the held-out relative error the linear size fit may have
FIT_TOLERANCE = 0.05
BUDGET = 10 ** 8


@dataclass(frozen=True)
class Subject:
    """A fixed model, its prompt length n, and whether its step circuit has the same size
    at every length (then the chain must be exactly linear in T)."""

    label: str
    make: Callable[[int], object]  # max_len -> transformer_sim.Model
    n: int
    linear: bool
    max_steps: int | None = None  # a cap on T for this subject (cost)
    quick_max_steps: int | None = None  # the same in quick mode
    #: the iterative sums' construction, the same for the chain and for the steps
    #: compiled on their own (the compiler's "auto" may pick differently per length)
    iterative: str = "tree"


def default_subjects() -> list[Subject]:
    from transformer_sim.compile.examples import majority_model
    from transformer_sim.random_model import random_model

    def rand(max_len: int):
        return random_model(3, 2, 1, 2, 2, max_len, "paper:e=1,s=1", "exact", seed=5,
                            check_prompts=4)

    return [Subject("majority, exact", lambda L: majority_model(L, sum_mode="exact"), 4, True),
            Subject("majority, iterative",
                    lambda L: majority_model(L, sum_mode="iterative"), 4, False),
            Subject("random 2-layer (seed 5), exact", rand, 3, False, max_steps=12,
                    quick_max_steps=4)]


def run(quick: bool = True, subjects: Sequence[Subject] | None = None,
        steps: Sequence[int] | None = None, tamper: Callable | None = None,
        samples: int | None = None) -> CheckResult:
    """Chain each subject for each T (quick: T <= 8; full: T <= 16). Options for tests:
    ``subjects``, ``steps``, and ``tamper`` (maps each chained CompiledModel to another)."""
    from transformer_sim.compile import compile_model
    from transformer_sim.compile.chain import compile_chain
    from transformer_sim.compile.verify import verify

    subjects = list(subjects) if subjects is not None else default_subjects()
    ladder = sorted(steps or (QUICK_STEPS if quick else FULL_STEPS))
    samples = samples or (QUICK_SAMPLES if quick else FULL_SAMPLES)
    rows, problems, notes, measured = [], [], [], []
    for s in subjects:
        cap = s.quick_max_steps if quick and s.quick_max_steps else s.max_steps
        Ts = [T for T in ladder if cap is None or T <= cap]
        model = s.make(s.n + max(Ts))
        step_figs: dict[int, tuple[int, int]] = {}  # length -> (size, depth) on its own
        ms = []
        for T in Ts:
            progress(f"{NAME}: {s.label}, n = {s.n}, T = {T}")
            cc = compile_chain(model, s.n, T, budget=BUDGET, iterative=s.iterative)
            if tamper is not None:
                cc = tamper(cc)
            v = verify(cc, max_exhaustive=MAX_EXHAUSTIVE, samples=samples, seed=T)
            for L in range(s.n, s.n + T):
                if L not in step_figs:
                    f1 = compile_model(model, L, budget=BUDGET,
                                       iterative=s.iterative).figures()
                    step_figs[L] = (f1["size"], f1["depth"])
            f = cc.figures()
            sum_size = sum(step_figs[L][0] for L in range(s.n, s.n + T))
            sum_depth = sum(step_figs[L][1] for L in range(s.n, s.n + T))
            ms.append({"T": T, "size": f["size"], "depth": f["depth"], "sum_size": sum_size,
                       "sum_depth": sum_depth})
            rows.append((s.label, s.n, T, f["size"], round(f["size"] / T, 1), sum_size,
                         f["depth"], sum_depth, ("all " if v.exhaustive else "") + str(v.checked),
                         v.undefined, v.agrees))
            if not v.agrees:
                p, want, got = v.mismatches[0]
                problems.append(f"{s.label}, T = {T}: the chained circuit disagrees with "
                                f"run_cot on {v.mismatch_count} of {v.checked} prompts, e.g. "
                                f"{p} (run_cot {want}, circuit {got}; -1 = undefined)")
            if f["size"] > sum_size:
                problems.append(f"{s.label}, T = {T}: chain size {f['size']} exceeds the sum "
                                f"of its {T} step circuits ({sum_size})")
            if f["depth"] > sum_depth:
                problems.append(f"{s.label}, T = {T}: chain depth {f['depth']} exceeds the "
                                f"sum of its step depths ({sum_depth})")
        measured.append((s, ms))
        problems += _fit(s, ms, notes)
    table = Table(("model", "n", "T (CoT steps)", "chain size", "size / T",
                   "sum of step sizes", "chain depth", "sum of step depths",
                   "prompts checked", "undefined prompts", "agrees with run_cot"), rows)
    notes.append("'sum of step sizes': the no-CoT circuits for lengths n .. n+T-1 compiled "
                 "on their own. The chain shares the prompt positions' gates between steps "
                 "(structural hashing), so it is smaller; a step's own part still grows with "
                 "the context it attends over, so the chain of a model whose step size "
                 "grows with length is superlinear in T when T >> n.")
    figures, captions = draw_figures(_figures, measured, notes=notes)
    if problems:
        return CheckResult(NAME, CLAIM, FAILS, "; ".join(problems), table, figures, captions,
                           tuple(notes), quick)
    per_step = "; ".join(f"{s.label}: size = {_points_fit(ms).text()} gates"
                         for s, ms in measured if s.linear and len(ms) >= 3)
    reason = (f"every chain (T up to {max(ladder)}) equals run_cot on every prompt checked, "
              "each within the sum of its step circuits in size and depth"
              + (f"; linear in T: {per_step}" if per_step else ""))
    return CheckResult(NAME, CLAIM, HOLDS, reason, table, figures, captions, tuple(notes),
                       quick)


def _fit_points(ms: list[dict]) -> tuple[list[int], list[int]]:
    """(T, size) from T = 2 on where there are at least three such points: the first
    step has no earlier step to share gates with."""
    pts = [(m["T"], m["size"]) for m in ms if m["T"] >= 2]
    if len(pts) < 3:
        pts = [(m["T"], m["size"]) for m in ms]
    return [p[0] for p in pts], [p[1] for p in pts]


def _points_fit(ms: list[dict]):
    xs, ys = _fit_points(ms)
    return fit_polynomial(xs, ys, 1, "T")


def _fit(s: Subject, ms: list[dict], notes: list[str]) -> list[str]:
    if len(ms) < 3:
        return []
    Ts = [m["T"] for m in ms]
    xs, ys = _fit_points(ms)
    lin = fit_polynomial(xs[:-1], ys[:-1], 1, "T")
    pred = float(lin(xs[-1]))
    err = abs(pred - ys[-1]) / ys[-1]
    whole = fit_polynomial(xs, ys, 1, "T")
    quad = fit_polynomial(xs, ys, 2, "T") if len(xs) >= 3 else None
    resid = max(abs(float(whole(x)) - y) for x, y in zip(xs, ys))
    notes.append(f"{s.label} (n = {s.n}), size against T for T >= {xs[0]}: linear fit on "
                 f"T <= {xs[-2]} predicts {pred:.0f} at T = {xs[-1]} (measured {ys[-1]}, "
                 f"error {err:.1%}); on all T: size = {whole.text()} (largest residual "
                 f"{resid:.3g} gates)"
                 + (f"; quadratic: size = {quad.text()}" if quad is not None else ""))
    depths = [m["depth"] for m in ms]
    dfit = fit_polynomial(Ts, depths, 1, "T")
    notes.append(f"{s.label}: depth = {dfit.text()} (depth per CoT step about "
                 f"{float(dfit.expr.coeff(dfit.var, 1)):.3g})")
    if s.linear and err > FIT_TOLERANCE:
        return [f"{s.label}: the size is not linear in T: a line fitted on T <= {xs[-2]} "
                f"predicts {pred:.0f} gates at T = {xs[-1]}, measured {ys[-1]} "
                f"(error {err:.1%} > {FIT_TOLERANCE:.0%})"]
    return []


def _short(label: str) -> str:
    return label.replace("majority", "maj.").replace("iterative", "iter.").split(" (")[0]


def _figures(measured: list) -> tuple[dict, dict]:
    from .svg import line_chart

    figures, captions = {}, {}
    lin = [(s, ms) for s, ms in measured if s.linear and len(ms) >= 3]
    if lin:
        series = []
        for s, ms in lin:
            Ts = [m["T"] for m in ms]
            series.append((_short(s.label), Ts, [m["size"] for m in ms], "points"))
            f = _points_fit(ms)
            series.append((f"fit {f.text()}"[:22], Ts, [float(f(T)) for T in Ts], "dashed"))
        name = "chain_size_vs_T.svg"
        figures[name] = line_chart(series, "Size of the T-step CoT circuit", "T (CoT steps)",
                                   "gates")
        captions[name] = ("Gates of the chained circuit of the exact-sum majority model "
                          "(points) and the line fitted from T = 2 on (dashed): the same "
                          "number of gates per CoT step.")
    series = [(_short(s.label), [m["T"] for m in ms],
               [m["size"] / m["sum_size"] for m in ms]) for s, ms in measured]
    name = "chain_vs_steps.svg"
    figures[name] = line_chart(series, "Chain size / sum of its T step circuits",
                               "T (CoT steps)", "ratio")
    captions[name] = ("The chain's gates over the gates of its T step circuits compiled on "
                      "their own: at most 1 (a serial composition of the steps), below 1 "
                      "where steps share the prompt positions' gates.")
    series = [(_short(s.label), [m["T"] for m in ms], [m["depth"] for m in ms])
              for s, ms in measured]
    name = "chain_depth_vs_T.svg"
    figures[name] = line_chart(series, "Depth of the T-step CoT circuit", "T (CoT steps)",
                               "depth (gates)")
    captions[name] = ("Depth grows linearly in T: each step reads the previous step's "
                      "token, so the steps compose in series, which a no-CoT circuit of "
                      "constant depth cannot do.")
    return figures, captions


if __name__ == "__main__":
    import sys

    from .base import main
    sys.exit(main(NAME))
