"""One-variable facts about a family weight function f (docs/theory.md section 8):
``f(x) >= 0`` and ``f`` non-decreasing on ``x >= 0``, proved by z3 (polynomial and
piecewise f) or sympy (exp, log, powers), or refuted by a concrete pair ``x < y`` with
``f(x) > f(y)`` found on the numpy code.

Soundness of the trace. ``f`` is evaluated once on a symbol; a Python branch on the
symbol (``if b > 1``) makes sympy raise (UNKNOWN), and a structural ``b == 1`` would be
silently False, so before any proof is trusted the traced expression is compared with the
numpy code at many points: 0, the numeric literals of f (its constants, captured and
global numbers, numbers in its source, and their neighbours),
a log-spaced and a linear grid, seeded random points. Any mismatch: UNKNOWN "the trace
does not match the code".

sympy route (non-decreasing): ``f`` continuous on ``[0, oo)``, ``f'`` continuous on
``(0, oo)`` and ``f' >= 0`` there (sympy's assumptions, parameters declared positive):
by the mean value theorem ``f(y) - f(x) = f'(xi) (y - x) >= 0``.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

import numpy as np

from mechanism.arith import Unsupported
from mechanism.verdicts import Verdict

from proofs.encode import encode_z3 as E
from proofs.compile.family_fns import NumpyFns, SympyFns, Z3Fns

_BAD_HEADS = ("Piecewise", "Heaviside", "DiracDelta", "floor", "ceiling", "sign", "Abs",
              "Min", "Max", "frac", "Mod")


@dataclass
class Fact:
    verdict: Verdict
    engine: str
    detail: str
    witness: tuple | None = None     #: (x, y) with x < y and f(x) > f(y), or (x,) with f(x) < 0


def probe_points(f, seed: int = 0) -> np.ndarray:
    code = getattr(f, "__code__", None)
    seen = list(code.co_consts) if code else []
    seen += [c.cell_contents for c in (getattr(f, "__closure__", None) or ())]  # captured
    seen += [getattr(f, "__globals__", {}).get(n) for n in (code.co_names if code else ())]
    lits = [float(c) for c in seen if isinstance(c, (int, float)) and not isinstance(c, bool)]
    try:
        src = inspect.getsource(f)
        lits += [float(m) for m in re.findall(r"(?<![\w.])\d+(?:\.\d*)?(?:[eE][-+]?\d+)?", src)]
    except (OSError, TypeError, ValueError):
        pass
    lits = [abs(v) for v in lits if np.isfinite(v)]
    near = [v * (1 + d) for v in lits for d in (-1e-9, 0.0, 1e-9)] + [v + d for v in lits
                                                                      for d in (-1e-3, 1e-3)]
    rng = np.random.default_rng(seed)
    pts = np.concatenate([[0.0, 1e-12, 1e-6], near, np.logspace(-6, 3, 80),
                          np.linspace(0, 20, 201), rng.uniform(0, 50, 60)])
    return np.unique(pts[(pts >= 0) & np.isfinite(pts)])


def _numpy(f, x, params):
    with np.errstate(all="ignore"):
        return np.asarray([float(f(np.float64(v), NumpyFns, **params)) for v in x])


def search_decrease(f, params, points) -> Fact | None:
    """A pair x < y with f(x) > f(y) (relative margin 1e-9), or x with f(x) < 0, on numpy."""
    y = _numpy(f, points, params)
    ok = np.isfinite(y)
    xs, ys = points[ok], y[ok]
    neg = np.nonzero(ys < -1e-12)[0]
    if neg.size:
        return Fact(Verdict.REFUTED, "numpy", f"f({float(xs[neg[0]])!r}) = {float(ys[neg[0]])!r} < 0",
                    (float(xs[neg[0]]),))
    run_max = np.maximum.accumulate(ys)
    drops = run_max - ys
    bad = drops > 1e-9 * np.maximum(1.0, np.abs(run_max))
    if bad.any():  # the largest drop: a counterexample well above any tolerance
        k = int(np.argmax(np.where(bad, drops, -1.0)))
        j = int(np.argmax(ys[:k + 1]))
        return Fact(Verdict.REFUTED, "numpy", f"f({float(xs[j])!r}) = {float(ys[j])!r} > "
                    f"f({float(xs[k])!r}) = {float(ys[k])!r}", (float(xs[j]), float(xs[k])))
    return None


def trace_sympy(f, params, symbolic_params: bool):
    """``(x, expr, param_symbols)``, or raises (a Python branch on a symbol)."""
    fn = SympyFns()
    sp = fn.sp
    x = sp.Symbol("x", nonnegative=True)
    psyms = {k: (sp.Symbol(k, positive=True) if symbolic_params else sp.nsimplify(v))
             for k, v in params.items()}
    return x, sp.sympify(f(x, fn, **psyms)), psyms


def _matches(expr, x, psyms, f, params, points) -> bool:
    import sympy as sp
    conc = expr.subs({psyms[k]: sp.nsimplify(v) for k, v in params.items()}) if psyms else expr
    g = sp.lambdify(x, conc, "numpy")
    with np.errstate(all="ignore"):
        want = _numpy(f, points, params)
        got = np.asarray([float(g(v)) for v in points])
    both = np.isfinite(want) & np.isfinite(got)
    return bool(np.array_equal(np.isfinite(want), np.isfinite(got))
                and np.allclose(got[both], want[both], rtol=1e-9, atol=1e-12))


def _z3_matches(term, x, f, params, points) -> bool:
    """The z3 trace evaluated at each probe point equals the numpy code there."""
    import z3
    want = _numpy(f, points, params)
    for v, w in zip(points, want):
        got = z3.simplify(z3.substitute(term, (x, z3.RealVal(repr(float(v))))))
        if not (z3.is_rational_value(got) or z3.is_algebraic_value(got)):
            return False
        g = float(E.num(got))
        if not (np.isfinite(w) and abs(g - w) <= 1e-9 * max(1.0, abs(w))):
            return False
    return True


def _z3_facts(f, params, timeout_s, points) -> tuple[Verdict, Verdict] | None:
    import z3
    try:
        x, y = z3.Reals("x y")
        fx, fy = f(x, Z3Fns(), **params), f(y, Z3Fns(), **params)
        fx, fy = E_term(fx), E_term(fy)
    except (Unsupported, TypeError, z3.Z3Exception):
        return None
    if not _z3_matches(fx, x, f, params, points):
        return None
    nonneg = E.prove([x >= 0], fx >= 0, timeout_s, True)[0]
    nondec = E.prove([x >= 0, y > x], fy >= fx, timeout_s, True)[0]
    return nonneg, nondec


def E_term(v):
    import z3
    return v if isinstance(v, z3.ArithRef) else z3.RealVal(repr(float(v)))


def weight_facts(f, params=None, *, symbolic_params=False, timeout_s=5.0) -> dict[str, Fact]:
    """``{"nonneg": Fact, "nondec": Fact}`` for ``f(x, fn, **params)`` on ``x >= 0``.

    ``symbolic_params``: prove for every positive value of each parameter (sympy), the
    numpy cross-check and search using the given values."""
    params = dict(params or {})
    points = probe_points(f)
    found = search_decrease(f, params, points)
    if found is not None and len(found.witness) == 1:
        return {"nonneg": found, "nondec": Fact(Verdict.UNKNOWN, "-", "f is negative: not a "
                                                "weight function")}
    out = None
    if not symbolic_params:
        z = _z3_facts(f, params, timeout_s, points)
        if z is not None and z[0] is Verdict.PROVED and (found or z[1] is Verdict.PROVED):
            d = "z3: unsat of x >= 0, f(x) < 0", "z3: unsat of 0 <= x < y, f(y) < f(x)"
            out = {"nonneg": Fact(z[0], "z3", d[0]), "nondec": Fact(z[1], "z3", d[1])}
    out = out or _sympy_facts(f, params, symbolic_params, points)
    if found is not None:  # a concrete decrease on the numpy code wins over any trace
        out["nondec"] = found
    return out


def _sympy_facts(f, params, symbolic_params, points) -> dict[str, Fact]:
    import sympy as sp
    unknown = lambda why: {k: Fact(Verdict.UNKNOWN, "sympy", why) for k in ("nonneg", "nondec")}
    try:
        x, expr, psyms = trace_sympy(f, params, symbolic_params)
    except Exception as exc:  # a Python branch on the symbol, or an unsupported operation
        return unknown(f"f could not be traced symbolically ({type(exc).__name__}: {exc}); "
                       "write branches with fn.ite / fn.min / fn.max")
    if not _matches(expr, x, psyms, f, params, points):
        return unknown("the trace does not match the code (a Python branch on the bid?): "
                       f"traced {expr}")
    if any(expr.has(getattr(sp, h)) for h in _BAD_HEADS):
        return unknown(f"f = {expr} is piecewise; sympy's derivative route needs a smooth f "
                       "(z3 handles piecewise polynomial weights)")
    out = {}
    nn = expr.is_nonnegative
    out["nonneg"] = Fact(Verdict.PROVED if nn else Verdict.UNKNOWN, "sympy",
                         f"f = {expr} is nonnegative for x >= 0" + ("" if nn else ": not decided"))
    d = sp.simplify(sp.diff(expr, x))
    xp = sp.Symbol("xp", positive=True)
    from sympy.calculus.util import continuous_domain
    try:
        cont = continuous_domain(expr, x, sp.Interval(0, sp.oo)) == sp.Interval(0, sp.oo)
        dcont = continuous_domain(d, x, sp.Interval.open(0, sp.oo)) == sp.Interval.open(0, sp.oo)
    except (NotImplementedError, ValueError, TypeError):
        cont = dcont = False
    slope = d.subs(x, xp).is_nonnegative
    ok = bool(cont and dcont and slope)
    out["nondec"] = Fact(Verdict.PROVED if ok else Verdict.UNKNOWN, "sympy",
                         f"f' = {d}: >= 0 on x > 0 {slope}, f continuous on [0, oo) {cont}, "
                         f"f' continuous on (0, oo) {dcont} (mean value theorem)")
    return out
