"""Symbolic arithmetic backends for backend-generic rules (``mechanism.arith.Ops``).

``SympyOps`` builds sympy expressions (exp/log included); ``Z3Ops`` builds z3 terms
in real arithmetic (no exp/log: :class:`mechanism.arith.Unsupported`). Vectors are
:class:`mechanism.arith.Vec` of terms in both.

``is_positive`` is a *concrete* test (it decides whether a party is dropped, theory §2).
For a symbolic weight it cannot be decided. ``Z3Ops`` then splits the case (bid 0 and
bid > 0 are both explored, :mod:`proofs.bounded.tracing`); ``SympyOps`` assumes positivity and
records the assumption in ``ops.assumptions`` (the sympy derivations state positive
weights in their scope).
"""

from __future__ import annotations

import numbers
from fractions import Fraction

import numpy as np

from mechanism.arith import Ops, Vec
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
            from proofs.bounded.tracing import rational
            f = rational(x)
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


class Z3Ops(Ops):
    """z3 real-arithmetic backend for sound tracing (:mod:`proofs.bounded.tracing`): scalars are
    :class:`proofs.bounded.tracing.Sym` (z3 terms that refuse Python truth values and ``float``).

    ``is_positive`` on an undecided term is a case split (:meth:`Trace.decide`): the
    caller explores both sides with :meth:`Trace.explore`; nothing is assumed.
    ``terms`` turns a rule's output back into plain z3 terms.
    """

    name = "z3"

    def __init__(self, trace=None):
        from proofs.bounded.tracing import Trace
        self.z3 = _z3()
        self.trace = trace if trace is not None else Trace(self.z3)

    def scalar(self, x):
        from proofs.bounded.tracing import Sym
        if isinstance(x, Sym):
            return x
        t = self.trace.term(x)
        if t is None:
            raise TypeError(f"cannot use {type(x).__name__} {x!r} as a z3 scalar")
        return Sym(t, self.trace)

    def vector(self, values):
        return Vec(self.scalar(x) for x in values)

    def total(self, v):
        items = list(v)
        return self.scalar(self.z3.Sum(*[self.scalar(x).term for x in items]) if items else 0)

    def _cond(self, c):
        from proofs.bounded.tracing import Sym
        if isinstance(c, (bool, np.bool_)):
            return self.z3.BoolVal(bool(c))
        if isinstance(c, Sym):
            return c.term
        if isinstance(c, self.z3.BoolRef):
            return c
        raise TypeError(f"a condition must be a bool or a symbolic comparison, not {c!r}")

    def gt(self, a, b):
        return self._bool(a > b)

    def ge(self, a, b):
        return self._bool(a >= b)

    def _bool(self, c):
        from proofs.bounded.tracing import Sym
        return c if isinstance(c, Sym) else Sym(self.z3.BoolVal(bool(c)), self.trace)

    def and_(self, *conds):
        from proofs.bounded.tracing import Sym
        return Sym(self.z3.And(*[self._cond(c) for c in conds]) if conds
                   else self.z3.BoolVal(True), self.trace)

    def ite(self, cond, a, b):
        from proofs.bounded.tracing import Sym
        z3 = self.z3
        cond = z3.simplify(self._cond(cond))
        if z3.is_true(cond):
            return a
        if z3.is_false(cond):
            return b
        pick = lambda x, y: Sym(z3.If(cond, self.scalar(x).term, self.scalar(y).term),
                                self.trace)
        return _lift(self, pick, a, b)

    def is_positive(self, x) -> bool:
        z3 = self.z3
        term = self.scalar(x).term > 0
        decided = z3.simplify(term)
        if z3.is_true(decided):
            return True
        if z3.is_false(decided):
            return False
        return self.trace.decide(term)

    def terms(self, out, V: int) -> list:
        """The rule's output as V plain z3 terms (InvalidRule-free: ``TypeError`` with the
        reason when it is not a vector of V numbers)."""
        from proofs.bounded.tracing import Sym
        if isinstance(out, Sym) or not hasattr(out, "__iter__") or np.ndim(out) == 0:
            raise TypeError(f"the rule returned {type(out).__name__}, not a vector of {V} "
                            "probabilities")
        items = list(np.ravel(out)) if isinstance(out, np.ndarray) else list(out)
        if len(items) != V:
            raise TypeError(f"the rule returned a vector of {len(items)} values, expected {V}")
        res = []
        for x in items:
            t = self.trace.term(x)
            if t is None or not self.z3.is_arith(t):
                raise TypeError(f"the rule returned {type(x).__name__} {x!r} in its output "
                                "vector, not a number")
            res.append(t)
        return res

    def log(self, v):
        from proofs.bounded.tracing import NeedsTranscendental
        raise NeedsTranscendental("z3 (real arithmetic) has no log; the rule needs exp/log "
                                  "(e.g. log-linear)")

    def softmax(self, v):
        from proofs.bounded.tracing import NeedsTranscendental
        raise NeedsTranscendental("z3 (real arithmetic) has no exp; the rule needs exp/log "
                                  "(e.g. log-linear)")
