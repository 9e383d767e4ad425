"""One-variable facts of a compiled weight tree f (docs/theory.md section 8):
``f(x) >= 0`` and ``f`` non-decreasing on ``x >= 0``, for every parameter value in its
declared domain, in exact reals.

Engines, in order, all on the ONE compiled tree: the sign and monotonicity calculus
(:mod:`proofs.unbounded.calculus`), z3 (polynomial and piecewise trees, every
denominator proved non-zero first), sympy's derivative route (smooth trees: ``f``
continuous on ``[0, oo)``, ``f' >= 0`` on ``(0, oo)``, the mean value theorem); else
UNKNOWN with the reason. No probe decides a PROVED. A numeric search on the compiled
float64 code (relative margins) only refutes: a decrease there is reported whatever the
real-arithmetic facts say (:func:`float_decrease`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from mechanism.arith import Unsupported
from mechanism.verdicts import Verdict

from proofs.compile import enclosure
from proofs.compile import evaluate as E
from proofs.compile import flips
from proofs.compile import tree as T
from proofs.unbounded import calculus

_SMOOTH_BAD = ("min", "max", "ite")
REL = 1e-9   #: the relative margin of a float64 decrease (normalized weights are scale-free)


@dataclass
class Fact:
    verdict: Verdict
    engine: str
    detail: str
    witness: tuple | None = None     #: (x, y) with x < y and f(x) > f(y), or (x,) with f(x) < 0


def search_points(n: T.Node) -> np.ndarray:
    """0, a log grid over the whole float64 range, a linear grid, every constant of the
    tree with its float neighbours, and the bids where a branch's condition flips in the
    generated code (:func:`proofs.compile.flips.flip_bids`: ``b * b > C`` flips at no
    constant of the tree)."""
    lits = [abs(float(T.value(m))) for m in T.walk(n) if m.op == "const"
            and abs(T.value(m)) < 1e300]
    near = [np.nextafter(v, d) for v in lits for d in (0.0, np.inf)] + lits
    near += [v * (1 + d) for v in lits for d in (-1e-6, 1e-6)]
    pts = np.concatenate([[0.0], np.logspace(-300, 300, 1201), np.linspace(0, 20, 201),
                          np.asarray(near, float)])
    pts = pts[(pts >= 0) & np.isfinite(pts)]
    cmps = flips.comparisons([n])
    if cmps:
        sides = lambda nodes, x: E.numpy_values(nodes, x, elementwise=True)
        pts = np.concatenate([pts, flips.flip_bids(flips.conditions(cmps, sides), pts)])
    return np.unique(pts)


def float_decrease(n: T.Node) -> Fact | None:
    """A float64 witness on the code that runs (the compiled code, the exact tree where the
    enclosure does not certify it: :func:`proofs.compile.enclosure.running_weight`): ``x``
    with ``f(x) < 0``, or ``x < y`` with ``f(x) > f(y)`` by more than ``REL`` relative to
    ``|f(x)|``; else None."""
    xs = search_points(n)
    ys = enclosure.running_weight(n, xs)
    ok = np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    neg = np.nonzero(ys < 0)[0]
    if neg.size:  # a decrease to a negative value is reported as the decrease it is
        ys = np.maximum(ys, 0.0)
    run_max = np.maximum.accumulate(ys)
    drops = run_max - ys
    bad = drops > REL * np.abs(run_max)
    if not bad.any():
        if neg.size:
            x = float(xs[neg[0]])
            return Fact(Verdict.REFUTED, "numpy", f"f({x!r}) < 0 in float64", (x,))
        return None
    k = int(np.argmax(np.where(bad, drops / np.maximum(np.abs(run_max), 1e-300), -1.0)))
    j = int(np.argmax(ys[: k + 1]))
    return Fact(Verdict.REFUTED, "numpy", f"f({float(xs[j])!r}) = {float(ys[j])!r} > "
                f"f({float(xs[k])!r}) = {float(ys[k])!r} in float64 (the compiled code)",
                (float(xs[j]), float(xs[k])))


def exact_decrease(n: T.Node, values: dict, witness) -> bool | None:
    """Whether the witness is a decrease in exact reals too (None: not decided)."""
    import sympy as sp
    try:
        f = lambda v: E.sympy_expr(n, [sp.Rational(Fraction(v))],
                                   {k: sp.Rational(q) for k, q in values.items()})
        d = f(witness[0]) if len(witness) == 1 else f(witness[1]) - f(witness[0])
        return bool(sp.N(d, 50) < 0) if d.is_number else None
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def _z3_facts(n: T.Node, domains, timeout_s):
    import z3
    from proofs.encode import encode_z3 as Z
    x, y = z3.Real("bid!x"), z3.Real("bid!y")
    ps = {k: z3.Real(f"param!{k}") for k in T.params_used(n)}
    cons = []
    for k, v in ps.items():
        d = domains[k]
        if d.lo is not None:
            cons.append(v > _rv(d.lo) if d.lo_open else v >= _rv(d.lo))
        if d.hi is not None:
            cons.append(v < _rv(d.hi) if d.hi_open else v <= _rv(d.hi))
    try:
        fx, fy = E.z3_term(n, [x], ps), E.z3_term(n, [y], ps)
        dens = [E.z3_term(m.args[1], [x], ps) for m in T.walk(n) if m.op == "div"]
        dens += [E.z3_term(m.args[0], [x], ps) for m in T.walk(n) if m.op == "pow"
                 and T.is_const(m.args[1]) and T.value(m.args[1]) < 0]
    except Unsupported as exc:
        return None, str(exc)
    base = cons + [x >= 0]
    for d in dens:
        if Z.prove(base, d != 0, timeout_s, True)[0] is not Verdict.PROVED:
            return None, "z3 could not prove a denominator non-zero"
    nonneg = Z.prove(base, fx >= 0, timeout_s, True)[0]
    nondec = Z.prove(base + [y > x], fy >= fx, timeout_s, True)[0]
    return (nonneg, nondec), "z3 on the exact tree"


def _rv(q: Fraction):
    import z3
    return z3.RealVal(q.numerator) / z3.RealVal(q.denominator)


def _sympy_facts(n: T.Node, domains):
    import sympy as sp
    from sympy.calculus.util import continuous_domain
    if T.ops_used(n) & set(_SMOOTH_BAD):
        return None, "f is piecewise; the derivative route needs a smooth f"
    x = sp.Dummy("x", nonnegative=True)
    ps = {}
    for k in T.params_used(n):
        d = domains[k]
        if d.hi is None and d.lo == 0:
            ps[k] = sp.Dummy(k, positive=True) if d.lo_open else sp.Dummy(k, nonnegative=True)
        else:
            return None, f"sympy takes parameter domains (0, oo) or [0, oo); {k} in {d}"
    expr = E.sympy_expr(n, [x], ps)
    xp = sp.Dummy("xp", positive=True)
    deriv = sp.simplify(sp.diff(expr, x))
    try:
        cont = continuous_domain(expr, x, sp.Interval(0, sp.oo)) == sp.Interval(0, sp.oo)
        dcont = continuous_domain(deriv, x, sp.Interval.open(0, sp.oo)) == \
            sp.Interval.open(0, sp.oo)
    except (NotImplementedError, ValueError, TypeError):
        cont = dcont = False
    nn = bool(expr.is_nonnegative)
    slope = bool(deriv.subs(x, xp).is_nonnegative)
    return (nn, bool(cont and dcont and slope)), \
        f"sympy: f' = {deriv}; f' >= 0 on x > 0: {slope}, f continuous on [0, oo): {cont}, " \
        f"f' continuous on (0, oo): {dcont} (mean value theorem)"


def weight_facts(n: T.Node, domains: dict, *, timeout_s: float = 5.0) -> dict[str, Fact]:
    """``{"nonneg": Fact, "nondec": Fact}`` of the tree ``n`` in exact reals (module
    docstring); each fact names its engine."""
    nn, nd, why = calculus.nonneg_nondec(n, domains)
    out = {"nonneg": Fact(Verdict.PROVED, "calculus", why) if nn else None,
           "nondec": Fact(Verdict.PROVED, "calculus", why) if nd else None}
    reasons = [why]
    if None in out.values():
        z, zwhy = _z3_facts(n, domains, timeout_s)
        reasons.append(zwhy)
        for key, v in zip(("nonneg", "nondec"), z or ()):
            if out[key] is None and v is Verdict.PROVED:
                out[key] = Fact(v, "z3", zwhy)
    if None in out.values():
        s, swhy = _sympy_facts(n, domains)
        reasons.append(swhy)
        for key, v in zip(("nonneg", "nondec"), s or ()):
            if out[key] is None and v:
                out[key] = Fact(Verdict.PROVED, "sympy", swhy)
    for key in out:
        if out[key] is None:
            out[key] = Fact(Verdict.UNKNOWN, "calculus+z3+sympy", "not derived: "
                            + "; ".join(reasons))
    return out
