"""Theorems 3.1/3.2: without CoT, a fixed finite-precision transformer is a constant-depth
circuit family of polynomial size.

The check compiles fixed models (`transformer_sim.compile.compile_model`) for prompt
lengths n = 4, 8, ..., and measures each circuit with `circuits.analysis`:

- with ``exact`` sums (the threshold construction) the depth must be the same at every n
  and at most the compiler's stage-by-stage bound (itself independent of n), and the
  size must be polynomial: a polynomial of degree <= 2, fitted by exact rational least
  squares (SymPy) on the smaller n, must predict the held-out largest n within
  ``FIT_TOLERANCE``;
- with ``iterative`` sums (the paper's left-to-right rounding, compiled as a balanced
  tree of monoid products) the depth grows as a log2 n + b: it is fitted and reported,
  and it must grow, or the depth measurement would be blind (the contrast);
- every circuit is checked against the simulator (`compile.verify`) on all prompts when
  there are at most 256, else on random ones, so that a wrong circuit cannot pass.

This is a finite experiment on the listed models and lengths, not a proof: it shows the
construction behind the theorem doing what the theorem says at these sizes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from .base import FAILS, HOLDS, CheckResult, Table, draw_figures, progress

NAME = "no_cot_is_constant_depth"
CLAIM = ("Theorems 3.1/3.2 (no CoT: constant depth, polynomial size): a fixed "
         "finite-precision transformer compiled for prompts of n tokens is a circuit whose "
         "depth does not grow with n (exact sums, threshold gates) and whose size is "
         "polynomial in n; every circuit agrees with the simulator on the prompts checked.")

QUICK_LENGTHS = (4, 8, 16, 32, 64)
FULL_LENGTHS = (4, 8, 16, 32, 64, 128)
#: prompts checked per circuit when there are more than MAX_EXHAUSTIVE of them
QUICK_SAMPLES, FULL_SAMPLES = 200, 1000
MAX_EXHAUSTIVE = 1 << 8
#: the held-out relative error a size fit may have
FIT_TOLERANCE = 0.15
FIT_DEGREES = (0, 1, 2)
BUDGET = 10 ** 8
#: the circuit diagram is a per-cluster summary above this many gates
DRAW_MAX_GATES = 20


@dataclass(frozen=True)
class Subject:
    """A fixed model to compile at every length. ``constant_depth``: what the theory says
    of this compilation (True for exact sums; False for the iterative contrast)."""

    label: str
    make: Callable[[int], object]  # max_len -> transformer_sim.Model
    sum_mode: str
    constant_depth: bool
    quick_max_n: int | None = None  # a cap on n in quick mode (cost)


def default_subjects() -> list[Subject]:
    from transformer_sim.compile.examples import majority_model
    from transformer_sim.random_model import random_model

    def rand(max_len: int):
        return random_model(3, 1, 1, 2, 2, max_len, "paper:e=1,s=1", "exact", seed=3,
                            check_prompts=4)

    return [Subject("majority", lambda L: majority_model(L, sum_mode="exact"), "exact", True),
            Subject("random(seed 3)", rand, "exact", True, quick_max_n=32),
            Subject("majority", lambda L: majority_model(L, sum_mode="iterative"),
                    "iterative", False)]


# -- exact rational least squares (SymPy) ------------------------------------------------
@dataclass(frozen=True)
class Fit:
    expr: object  # a SymPy expression in ``var``
    var: object
    degree: int

    def __call__(self, x: float):
        return self.expr.subs(self.var, x)

    def text(self, name: str | None = None) -> str:
        """The closed form, exact, with a decimal twin when the coefficients are not
        integers."""
        import sympy as sp

        exact = sp.sstr(sp.expand(self.expr))
        approx = sp.sstr(sp.expand(self.expr).evalf(5))
        out = exact if exact == approx or all(c.is_integer for c in
                                              sp.Poly(self.expr, self.var).coeffs()) \
            else f"{exact} (~ {approx})"
        return out.replace(str(self.var), name) if name else out


def fit_polynomial(xs: Sequence[float], ys: Sequence[float], degree: int,
                   var: str = "n") -> Fit:
    """The least-squares polynomial of ``degree`` through (xs, ys), in exact rationals
    (SymPy). With degree + 1 points it is the interpolating polynomial."""
    import sympy as sp

    if len(xs) < degree + 1:
        raise ValueError(f"a degree-{degree} fit needs {degree + 1} points, got {len(xs)}")
    x = sp.Symbol(var)
    A = sp.Matrix([[sp.Rational(v) ** k for k in range(degree + 1)] for v in xs])
    y = sp.Matrix([sp.Rational(v) for v in ys])
    c = (A.T * A).LUsolve(A.T * y)
    return Fit(sum((c[k] * x ** k for k in range(degree + 1)), sp.Integer(0)), x, degree)


@dataclass(frozen=True)
class HeldOut:
    fit: Fit
    x: float
    measured: float
    predicted: float

    @property
    def error(self) -> float:
        return abs(self.predicted - self.measured) / max(abs(self.measured), 1e-12)


def held_out_fits(xs: Sequence[float], ys: Sequence[float],
                  degrees: Sequence[int] = FIT_DEGREES) -> list[HeldOut]:
    """Fit each degree on every point but the last, predict the last."""
    out = []
    for d in degrees:
        if len(xs) - 1 < d + 1:
            continue
        f = fit_polynomial(xs[:-1], ys[:-1], d)
        out.append(HeldOut(f, xs[-1], float(ys[-1]), float(f(xs[-1]))))
    return out


# -- the check -------------------------------------------------------------------------------
def _measure(subject: Subject, n: int, model, samples: int,
             tamper: Callable | None) -> dict:
    from circuits.analysis import basis
    from transformer_sim.compile import compile_model
    from transformer_sim.compile.compiler import depth_bound
    from transformer_sim.compile.verify import verify

    cm = compile_model(model, n, sum_mode=subject.sum_mode, budget=BUDGET)
    if tamper is not None:
        cm = tamper(cm)
    v = verify(cm, max_exhaustive=MAX_EXHAUSTIVE, samples=samples, seed=n)
    f = cm.figures()
    return {"n": n, "size": f["size"], "wires": int(len(cm.circuit.fanin)),
            "depth": f["depth"], "bound": depth_bound(cm.model, n, cm.sum_mode),
            "fanin": f["max_fanin"], "basis": basis(cm.circuit), "verdict": v,
            "compiled": cm}


def run(quick: bool = True, subjects: Sequence[Subject] | None = None,
        lengths: Sequence[int] | None = None, tamper: Callable | None = None,
        samples: int | None = None) -> CheckResult:
    """Compile each subject at each length (quick: n = 4..64; full: up to 128). Options
    for tests: ``subjects`` replaces the models, ``lengths`` the ladder, ``tamper`` maps
    each CompiledModel to another (a broken circuit must be caught)."""
    subjects = list(subjects) if subjects is not None else default_subjects()
    lengths = sorted(lengths or (QUICK_LENGTHS if quick else FULL_LENGTHS))
    samples = samples or (QUICK_SAMPLES if quick else FULL_SAMPLES)
    rows, problems, notes = [], [], []
    measured: list[tuple[Subject, list[dict]]] = []
    for s in subjects:
        ns = [n for n in lengths if not (quick and s.quick_max_n and n > s.quick_max_n)]
        model = s.make(max(ns))
        ms = []
        for n in ns:
            progress(f"{NAME}: compiling {s.label} ({s.sum_mode} sums) for n = {n}")
            m = _measure(s, n, model, samples, tamper)
            ms.append(m)
            v = m["verdict"]
            rows.append((s.label, s.sum_mode, n, m["size"], m["wires"], m["depth"],
                         m["bound"], int(math.log2(n)) if n & (n - 1) == 0 else
                         round(math.log2(n), 2), m["fanin"], m["basis"],
                         ("all " if v.exhaustive else "") + str(v.checked), v.agrees))
            if not v.agrees:
                p, want, got = v.mismatches[0]
                problems.append(f"{s.label} ({s.sum_mode}) n = {n}: the compiled circuit "
                                f"disagrees with the simulator on {v.mismatch_count} of "
                                f"{v.checked} prompts, e.g. {p} (simulator {want[0]}, "
                                f"circuit {got[0]}; -1 = undefined)")
        measured.append((s, ms))
        problems += _judge(s, ms, notes)
    table = Table(("model", "sum", "n", "size", "wires", "depth", "depth bound", "log2 n",
                   "max fan-in", "basis", "prompts checked", "agrees"), rows)
    notes.append(f"Size fits: exact rational least squares (SymPy) of degree "
                 f"{', '.join(map(str, FIT_DEGREES))} on every n but the largest; a fit "
                 f"holds when it predicts the largest n within {FIT_TOLERANCE:.0%}. 'size' "
                 "counts gates (inputs and constants excluded); 'wires' counts fan-in "
                 "edges, which grow even where the gate count does not (a threshold gate's "
                 "fan-in grows with n).")
    figures, captions = draw_figures(_figures, measured, notes=notes)
    if problems:
        return CheckResult(NAME, CLAIM, FAILS, "; ".join(problems), table, figures, captions,
                           tuple(notes), quick)
    const = [(s, ms) for s, ms in measured if s.constant_depth]
    contrast = [(s, ms) for s, ms in measured if not s.constant_depth]
    reason = ("; ".join(f"{s.label} ({s.sum_mode}): depth {ms[0]['depth']} at every n = "
                        f"{ms[0]['n']}..{ms[-1]['n']}, size {ms[0]['size']} -> "
                        f"{ms[-1]['size']}" for s, ms in const)
              + "; every circuit agrees with the simulator"
              + ("; contrast: " + "; ".join(f"{s.label} ({s.sum_mode}) depth "
                                            f"{ms[0]['depth']} -> {ms[-1]['depth']}"
                                            for s, ms in contrast) if contrast else ""))
    return CheckResult(NAME, CLAIM, HOLDS, reason, table, figures, captions, tuple(notes),
                       quick)


def _judge(s: Subject, ms: list[dict], notes: list[str]) -> list[str]:
    """The verdict on one subject's ladder; appends its fits to ``notes``."""
    problems = []
    ns = [m["n"] for m in ms]
    depths = [m["depth"] for m in ms]
    tag = f"{s.label} ({s.sum_mode})"
    if s.constant_depth:
        if len(set(depths)) > 1:
            problems.append(f"{tag}: the depth is not constant in n: " + ", ".join(
                f"{d} at n = {n}" for n, d in zip(ns, depths)))
        bounds = {m["bound"] for m in ms}
        if len(bounds) > 1:
            problems.append(f"{tag}: the compiler's depth bound depends on n: "
                            f"{sorted(bounds)}")
        over = [m for m in ms if m["depth"] > m["bound"]]
        if over:
            problems.append(f"{tag}: depth {over[0]['depth']} exceeds the bound "
                            f"{over[0]['bound']} at n = {over[0]['n']}")
        if len(ms) >= 3:
            sizes = [m["size"] for m in ms]
            fits = held_out_fits(ns, sizes)
            best = min(fits, key=lambda h: (h.error > FIT_TOLERANCE, h.fit.degree))
            whole = fit_polynomial(ns, sizes, best.fit.degree)
            notes.append(f"{tag} size: " + "; ".join(
                f"degree {h.fit.degree} fit on n <= {ns[-2]} predicts {h.predicted:.0f} at "
                f"n = {ns[-1]} (measured {h.measured:.0f}, error {h.error:.1%})"
                for h in fits)
                + f". Closed form on all n (degree {best.fit.degree}): size = "
                  f"{whole.text()}.")
            if best.error > FIT_TOLERANCE:
                problems.append(f"{tag}: no polynomial of degree <= {max(FIT_DEGREES)} fitted "
                                f"on n <= {ns[-2]} predicts the size at n = {ns[-1]} within "
                                f"{FIT_TOLERANCE:.0%} (best: degree {best.fit.degree}, "
                                f"predicted {best.predicted:.0f}, measured "
                                f"{best.measured:.0f})")
    else:
        if len(ms) >= 2:
            L = [math.log2(n) for n in ns]
            f = fit_polynomial(L, depths, 1, var="L")
            resid = max(abs(float(f(x)) - d) for x, d in zip(L, depths))
            notes.append(f"{tag} depth against log2 n: depth = "
                         f"{f.text('log2(n)')} (largest residual {resid:.2g} levels)")
            if depths[-1] <= depths[0]:
                problems.append(f"{tag}: expected the depth to grow with n (the contrast), "
                                f"but it is {depths[0]} at n = {ns[0]} and {depths[-1]} at "
                                f"n = {ns[-1]}: the depth measurement is blind")
    return problems


def _figures(measured: list[tuple[Subject, list[dict]]]) -> tuple[dict, dict]:
    from .svg import line_chart

    figures, captions = {}, {}
    series = [(f"{s.label}, {s.sum_mode}", [math.log2(m["n"]) for m in ms],
               [m["depth"] for m in ms]) for s, ms in measured]
    for s, ms in measured:
        if not s.constant_depth and len(ms) >= 2:
            L = [math.log2(m["n"]) for m in ms]
            f = fit_polynomial(L, [m["depth"] for m in ms], 1, var="L")
            series.append((f"fit: {f.text('log2 n')}", L, [float(f(x)) for x in L], "dashed"))
    name = "depth_vs_n.svg"
    figures[name] = line_chart(series, "Depth of the compiled circuit against log2 n",
                               "log2 n", "depth (gates)")
    captions[name] = ("Depth of each compiled circuit. Exact sums (threshold gates): flat. "
                      "Iterative sums (a balanced tree of monoid products): a log2 n + b.")
    series = []
    for s, ms in measured:
        if not s.constant_depth:
            continue
        ns = [m["n"] for m in ms]
        series.append((f"{s.label}, {s.sum_mode}", ns, [m["size"] for m in ms], "points"))
        if len(ms) >= 3:
            fits = held_out_fits(ns, [m["size"] for m in ms])
            best = min(fits, key=lambda h: (h.error > FIT_TOLERANCE, h.fit.degree))
            xs = list(range(ns[0], ns[-1] + 1, max(1, (ns[-1] - ns[0]) // 60)))
            series.append((f"fit (n <= {ns[-2]}), degree {best.fit.degree}", xs,
                           [float(best.fit(x)) for x in xs], "dashed"))
    if series:
        name = "size_vs_n.svg"
        figures[name] = line_chart(series, "Size of the compiled circuit (exact sums)", "n",
                                   "gates")
        captions[name] = ("Gates of each exact-sum circuit (points) and the polynomial "
                          "fitted on the smaller n (dashed), extrapolated to the largest n.")
    pick = next(((s, ms[-1]) for s, ms in measured if s.constant_depth and ms), None)
    if pick is not None:
        from circuits.draw import dump

        s, m = pick
        name = f"{s.label.split('(')[0].strip()}_{s.sum_mode}_n{m['n']}_circuit.svg"
        figures[name] = dump(m["compiled"].circuit, fmt="svg", max_gates=DRAW_MAX_GATES,
                             title=f"{s.label}, {s.sum_mode} sums, n = {m['n']}"
                             ).decode("utf-8")
        captions[name] = (f"The compiled circuit for n = {m['n']}, summarised per cluster: "
                          "the gates of each layer and sublayer they came from (embedding, "
                          "attention, MLP, read-out, argmax), with their kinds, levels and "
                          "the wires between clusters. The levels stay the same at every n.")
    return figures, captions


if __name__ == "__main__":
    import sys

    from .base import main
    sys.exit(main(NAME))
