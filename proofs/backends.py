"""Symbolic arithmetic backends for backend-generic rules (``mechanism.arith.Ops``).

``SympyOps`` builds sympy expressions (exp/log included); ``Z3Ops`` builds z3 terms
in real arithmetic (no exp/log: :class:`mechanism.arith.Unsupported`). Vectors are
:class:`mechanism.arith.Vec` of terms in both.

``is_positive`` is a *concrete* test (it decides whether a party is dropped, SPEC 2).
For a symbolic weight it cannot be decided; the backend then assumes positivity and
records the assumption in ``ops.assumptions`` (a z3 caller adds them as constraints,
a sympy caller states them in its derivation).
"""

from __future__ import annotations

import numbers
from fractions import Fraction

from mechanism.arith import Ops, Unsupported, Vec
from mechanism.errors import require


def _sympy():
    return require("sympy", "pip install 'tokenauction[proofs]'  (or: pip install sympy)")


def _z3():
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
        self.sp = _sympy()
        self.assumptions: list = []

    def scalar(self, x):
        if isinstance(x, float):
            return self.sp.Rational(Fraction(x).limit_denominator(10**12))
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


class Z3Ops(Ops):
    """z3 real-arithmetic backend: scalars are z3 arithmetic terms (or Python numbers)."""

    name = "z3"

    def __init__(self):
        self.z3 = _z3()
        self.assumptions: list = []

    def scalar(self, x):
        z3 = self.z3
        if isinstance(x, (z3.ArithRef, z3.BoolRef)):
            return x
        if isinstance(x, float):
            x = Fraction(x).limit_denominator(10**12)
        if isinstance(x, Fraction):
            return z3.RealVal(f"{x.numerator}/{x.denominator}")
        if isinstance(x, numbers.Integral):
            return z3.RealVal(int(x))
        return z3.RealVal(x)

    def vector(self, values):
        return Vec(self.scalar(x) for x in values)

    def total(self, v):
        items = list(v)
        return self.z3.Sum(*items) if items else self.z3.RealVal(0)

    def _bool(self, c):
        return c if isinstance(c, self.z3.BoolRef) else self.z3.BoolVal(bool(c))

    def gt(self, a, b):
        return self._bool(a > b)

    def ge(self, a, b):
        return self._bool(a >= b)

    def and_(self, *conds):
        if not conds:
            return self.z3.BoolVal(True)
        return self.z3.And(*[self._bool(c) for c in conds])

    def ite(self, cond, a, b):
        z3 = self.z3
        cond = z3.simplify(self._bool(cond))
        if z3.is_true(cond):
            return a
        if z3.is_false(cond):
            return b
        return _lift(self, lambda x, y: z3.If(cond, self.scalar(x), self.scalar(y)), a, b)

    def is_positive(self, x) -> bool:
        z3 = self.z3
        term = z3.simplify(self.scalar(x) > 0)
        if z3.is_true(term):
            return True
        if z3.is_false(term):
            return False
        self.assumptions.append(self.scalar(x) > 0)
        return True

    def log(self, v):
        raise Unsupported("z3 (real arithmetic) has no log; the rule needs exp/log "
                          "(e.g. log-linear): use the sympy derivations or sampling")

    def softmax(self, v):
        raise Unsupported("z3 (real arithmetic) has no exp; the rule needs exp/log "
                          "(e.g. log-linear): use the sympy derivations or sampling")
