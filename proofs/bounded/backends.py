"""The sympy backend for backend-generic rules (``mechanism.arith.Ops``), and the
solvers' imports with their install hint.

``SympyOps`` builds sympy expressions (exp/log included); vectors are
:class:`mechanism.arith.Vec` of expressions; a float is its exact binary value.
``is_positive`` is a *concrete* test (it decides whether a party is dropped, theory §2).
For a symbolic weight it cannot be decided: ``SympyOps`` assumes positivity and records the
assumption in ``ops.assumptions`` (the sympy derivations state positive weights in their
scope). The rule-level prover reads compiled trees instead (:mod:`proofs.compile.generic`,
where an undecided ``is_positive`` is a case split).
"""

from __future__ import annotations

import numbers
from fractions import Fraction

import numpy as np

from mechanism.arith import Ops, Vec
from mechanism.errors import require


def sympy_module():
    return require("sympy", "pip install 'tokenauction[proofs]'  (or: pip install sympy)")


def z3_module():
    return require("z3", "pip install 'tokenauction[proofs]'  (or: pip install z3-solver)")


def _lift(ops, f, a, b):
    """Apply ``f`` elementwise when either side is a Vec (ite/comparisons on vectors)."""
    if isinstance(a, Vec) or isinstance(b, Vec):
        n = len(a) if isinstance(a, Vec) else len(b)
        a = a if isinstance(a, Vec) else Vec([a] * n)
        b = b if isinstance(b, Vec) else Vec([b] * n)
        return Vec(f(x, y) for x, y in zip(a, b))
    return f(a, b)


class SympyOps(Ops):
    """Exact symbolic backend: scalars are sympy expressions, floats become Rationals."""

    name = "sympy"

    def __init__(self):
        self.sp = sympy_module()
        self.assumptions: list = []

    def scalar(self, x):
        if isinstance(x, (float, np.floating)):
            f = Fraction(float(x))   # the exact binary value the float64 code computes with
            return self.sp.Rational(f.numerator, f.denominator)
        if isinstance(x, Fraction):
            return self.sp.Rational(x.numerator, x.denominator)
        if isinstance(x, numbers.Integral):
            return self.sp.Integer(int(x))
        return self.sp.sympify(x)

    def vector(self, values):
        return Vec(self.scalar(x) for x in values)

    def total(self, v):
        return self.sp.Add(*list(v))

    def gt(self, a, b):
        return self.sp.sympify(a > b)

    def ge(self, a, b):
        return self.sp.sympify(a >= b)

    def and_(self, *conds):
        return self.sp.And(*conds)

    def ite(self, cond, a, b):
        cond = self.sp.sympify(cond)
        if cond is self.sp.true:
            return a
        if cond is self.sp.false:
            return b
        return _lift(self, lambda x, y: self.sp.Piecewise((x, cond), (y, True)), a, b)

    def is_positive(self, x) -> bool:
        x = self.sp.sympify(x)
        decided = x.is_positive
        if decided is None:
            self.assumptions.append(x > 0)
            return True
        return bool(decided)

    def log(self, v):
        # log 0 = -oo (sympy's own log(0) is complex infinity): a veto, as in numpy
        return Vec(-self.sp.oo if a == 0 else self.sp.log(a) for a in v)

    def softmax(self, v):
        e = [self.sp.exp(a) for a in v]
        z = self.sp.Add(*e)
        return Vec(a / z for a in e)
