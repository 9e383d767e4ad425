"""Arithmetic backends for backend-generic rule definitions (issue: rule-level proofs).

A built-in rule is written ONCE as ``generic(ops, dists, bids, reference, weight)`` and
evaluated on numpy arrays (:class:`NumpyOps`), exact fractions (:class:`FractionOps`),
and, in ``proofs/``, sympy symbols and z3 terms. Conventions of a generic definition:

* a distribution is a *vector*: a numpy array, or a :class:`Vec` of scalars;
* vectors support ``+ - * /`` with vectors and scalars; write the vector on the
  LEFT of a scalar (``p * b``, not ``b * p``) so that z3/sympy scalars never see a Vec;
* comparisons and branching go through ``ops`` (``ops.gt``, ``ops.and_``, ``ops.ite``)
  so that symbolic backends can build terms instead of Python booleans;
* ``ops.log`` / ``ops.softmax`` may raise :class:`Unsupported` (z3 has no exp/log).

Generic definitions assume their precondition (total weight W > 0); the numpy entry
point :class:`mechanism.rules.Rule` checks it before calling them.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Iterable, Sequence

import numpy as np

from .errors import InvalidInput, TokenAuctionError


class Unsupported(TokenAuctionError, NotImplementedError):
    """The backend cannot express an operation (e.g. exp/log in linear arithmetic)."""


class Vec:
    """A small elementwise vector of backend scalars (Fraction, sympy, z3)."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable):
        self.items = list(items)

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def __getitem__(self, i):
        return self.items[i]

    def _zip(self, other, f):
        if isinstance(other, Vec):
            if len(other) != len(self):
                raise InvalidInput(f"vectors of lengths {len(self)} and {len(other)} differ")
            return Vec(f(a, b) for a, b in zip(self.items, other.items))
        return Vec(f(a, other) for a in self.items)

    def __add__(self, o):
        return self._zip(o, lambda a, b: a + b)

    def __radd__(self, o):
        # sum() starts from 0
        return self if (isinstance(o, int) and o == 0) else self._zip(o, lambda a, b: b + a)

    def __sub__(self, o):
        return self._zip(o, lambda a, b: a - b)

    def __mul__(self, o):
        return self._zip(o, lambda a, b: a * b)

    __rmul__ = __mul__

    def __truediv__(self, o):
        return self._zip(o, lambda a, b: a / b)

    def __neg__(self):
        return Vec(-a for a in self.items)

    def __repr__(self):
        return f"Vec({self.items!r})"


class Ops:
    """The operations a generic definition may use beyond ``+ - * /``."""

    name = "abstract"

    def vector(self, values: Sequence):  # pragma: no cover - interface
        raise NotImplementedError

    def scalar(self, x):
        return x

    def total(self, v):
        return sum(v)

    def gt(self, a, b):
        return a > b

    def ge(self, a, b):
        return a >= b

    def and_(self, *conds):
        return all(conds)

    def ite(self, cond, a, b):
        return a if cond else b

    def is_positive(self, x) -> bool:
        """Concrete positivity test used to drop zero-weight parties (theory §2)."""
        return bool(x > 0)

    def log(self, v):
        raise Unsupported(f"backend {self.name!r} has no log")

    def softmax(self, v):
        raise Unsupported(f"backend {self.name!r} has no exp")


class NumpyOps(Ops):
    """float64 numpy backend: vectors are 1-D arrays (the reference backend)."""

    name = "numpy"

    def vector(self, values):
        return np.asarray(values, dtype=np.float64)

    def total(self, v):
        return float(np.sum(v))

    def log(self, v):
        with np.errstate(divide="ignore"):
            return np.log(v)

    def softmax(self, v):
        """Row-wise softmax of a vector or a (K, V) matrix of log-weights."""
        top = np.max(v, axis=-1, keepdims=True)
        if not np.isfinite(top).all():
            raise InvalidInput("log-linear aggregation is undefined: the parties with positive "
                               "weight have no token in common (every token is vetoed by some "
                               "p_j(t) = 0); use linear aggregation or ask for smoothing "
                               "(get_rule('log_linear', epsilon=...))", value=None)
        e = np.exp(v - top)
        return e / e.sum(axis=-1, keepdims=True)


class FractionOps(Ops):
    """Exact rational backend: vectors are :class:`Vec` of ``Fraction``."""

    name = "fraction"

    def vector(self, values):
        return Vec(Fraction(x) for x in values)

    def scalar(self, x):
        return Fraction(x)


NUMPY = NumpyOps()
FRACTION = FractionOps()


def round_simplex(p, denominator: int, fix: int | None = None) -> list[Fraction] | None:
    """``p`` rounded to multiples of ``1/denominator`` in exact rationals, the entry ``fix``
    (default: the largest) fixed up so the sum is exactly 1; None when that leaves the
    simplex. The one simplex rounding: the property suite's shrinker (decimals,
    ``denominator = 10**d``) and the prover's counterexample rounding use it."""
    r = [Fraction(round(float(x) * denominator), denominator) for x in p]
    k = max(range(len(r)), key=lambda t: (float(p[t]), -t)) if fix is None else fix
    r[k] += 1 - sum(r)
    return r if all(0 <= x <= 1 for x in r) else None
