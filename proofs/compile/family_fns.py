"""The function vocabulary of a family weight function ``f(b, fn, **params)``
(docs/theory.md section 8, "Writing a rule from building blocks").

A weight function is written once against ``fn`` and evaluated on four backends:
numpy (the reference the auction runs), Fraction (exact where it can be: ``exp``/``log``
fall back to float), sympy (the proofs for every n and V) and z3 (polynomial and
piecewise weights; exp/log/sqrt raise :class:`mechanism.arith.Unsupported`).

``fn.exp, fn.log, fn.sqrt, fn.pow(x, k), fn.min(a, b), fn.max(a, b), fn.ite(cond, a, b),
fn.gt(a, b), fn.ge(a, b)``; plain ``+ - * /`` work on every backend. Do not branch in
Python on ``b`` (``if b > 1``): sympy refuses it, and the proof cross-checks the traced
expression against the numpy code at many points before it trusts the trace.
"""

from __future__ import annotations

import builtins
import math
import operator
from fractions import Fraction

import numpy as np

from mechanism.arith import Unsupported


class NumpyFns:
    name = "numpy"
    exp, log, sqrt = staticmethod(np.exp), staticmethod(np.log), staticmethod(np.sqrt)
    pow, min, max = staticmethod(np.power), staticmethod(np.minimum), staticmethod(np.maximum)
    ite, gt, ge = staticmethod(np.where), staticmethod(np.greater), staticmethod(np.greater_equal)


class FractionFns:
    """Exact where possible; exp/log/sqrt/pow of a non-integer power go through float."""
    name = "fraction"

    @staticmethod
    def _f(g):
        return lambda x: Fraction(g(float(x)))

    exp, log, sqrt = _f(math.exp), _f(math.log), _f(math.sqrt)
    min, max = staticmethod(builtins.min), staticmethod(builtins.max)  # ties: the first
    gt, ge = staticmethod(operator.gt), staticmethod(operator.ge)

    @staticmethod
    def pow(x, k):
        return Fraction(x) ** int(k) if float(k).is_integer() else Fraction(float(x) ** float(k))

    @staticmethod
    def ite(c, a, b):
        return a if c else b


class SympyFns:
    name = "sympy"

    def __init__(self):
        import sympy as sp
        self.sp = sp
        self.exp, self.log, self.sqrt, self.pow = sp.exp, sp.log, sp.sqrt, sp.Pow
        self.min, self.max, self.gt, self.ge = sp.Min, sp.Max, sp.StrictGreaterThan, sp.GreaterThan

    def ite(self, c, a, b):
        return self.sp.Piecewise((a, c), (b, True))


class Z3Fns:
    name = "z3"

    def __init__(self):
        import z3
        self.z3 = z3

    def _no(self, what):
        def f(*_):
            raise Unsupported(f"z3 (real arithmetic) has no {what}; the sympy engine decides it")
        return f

    @property
    def exp(self):
        return self._no("exp")

    @property
    def log(self):
        return self._no("log")

    @property
    def sqrt(self):
        return self._no("sqrt")

    def pow(self, x, k):
        if isinstance(k, (int, float)) and float(k).is_integer() and k >= 0:
            out = self.z3.RealVal(1)
            for _ in range(int(k)):
                out = out * x
            return out
        raise Unsupported("z3 handles integer powers only; the sympy engine decides the rest")

    def min(self, a, b):
        return self.z3.If(a <= b, a, b)

    def max(self, a, b):
        return self.z3.If(a >= b, a, b)

    def ite(self, c, a, b):
        return self.z3.If(c, a, b)

    def gt(self, a, b):
        return a > b

    def ge(self, a, b):
        return a >= b


def fns_for(ops_name: str):
    """The ``fn`` namespace matching a :mod:`mechanism.arith` / proofs backend name."""
    if ops_name == "numpy":
        return NumpyFns
    if ops_name == "fraction":
        return FractionFns
    if ops_name == "sympy":
        return SympyFns()
    if ops_name == "z3":
        return Z3Fns()
    raise Unsupported(f"no weight-function backend for {ops_name!r}")
