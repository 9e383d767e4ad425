"""The evaluators generated from ONE tree (docs/theory.md section 8): numpy float64
(vectorized; weights normalized in log space), exact sympy, z3 real arithmetic.

:func:`log_weight` evaluates ``(log |f|, sign f)`` structurally (``log exp(a) = a``,
``log (a b) = log|a| + log|b|``, ...), so normalized weights ``f(b_j) / sum_k f(b_k)``
are computed as ``exp(L_j - max L)``: softmax at bid 1000 is a valid distribution, and
``f(b) = 1e-12 * b`` is scale-free. Where float64 cannot give a finite weight the rule
raises :class:`mechanism.errors.InvalidInput` (a declined input), never a wrong answer.
"""

from __future__ import annotations

import operator
from fractions import Fraction

import numpy as np

from mechanism.arith import Unsupported

from proofs.compile import tree as T

_NP = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "neg": np.negative,
       "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
       "min": np.minimum, "max": np.maximum}


def numpy_value(n: T.Node, x, params=None, elementwise=True):
    """float64 value of ``n`` at bids ``x``: a one-variable tree (``elementwise``) takes any
    array ``x`` elementwise; otherwise ``bid j`` is ``x[..., j]``."""
    return numpy_values([n], x, params, elementwise)[0]


def numpy_values(trees, x, params=None, elementwise=False):
    """float64 values of several trees at once, each shared node computed once.
    ``params`` also holds the leaves of a generic rule under :func:`tree.leaf_key`."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        return program(trees).run(_Bids(x, elementwise), params or {})


class _Bids:
    def __init__(self, x, elementwise):
        self.x, self.elementwise = x, elementwise

    def __getitem__(self, j):
        return self.x if self.elementwise else self.x[..., j]


class Program:
    """The float64 code generated from trees: their nodes in evaluation order (children
    first, a node shared in the DAG once), each a step ``(kind, arg)`` reading earlier
    slots. Constants and constant exponents are converted once, here, not per call."""

    def __init__(self, trees):
        self.trees = tuple(trees)
        self.steps: list = []
        #: per step, its node and its children's slots (the enclosure runs the same order)
        self.nodes: list = []
        self.kids: list = []
        slot: dict = {}
        for t in self.trees:
            self._emit(t, slot)
        self.outputs = [slot[id(t)] for t in self.trees]

    def _emit(self, root, slot):
        stack = [(root, False)]
        while stack:
            n, ready = stack.pop()
            if id(n) in slot:
                continue
            kids = T.children(n)
            if ready or not kids:
                slot[id(n)] = len(self.steps)
                ks = [slot[id(k)] for k in kids]
                self.steps.append(_step(n, ks))
                self.nodes.append(n)
                self.kids.append(ks)
            else:
                stack.append((n, True))
                stack.extend((k, False) for k in reversed(kids) if id(k) not in slot)

    def run(self, x, params) -> list:
        v: list = []
        for kind, arg in self.steps:
            if kind == "op":
                f, ks = arg
                v.append(f(*[v[k] for k in ks]))
            elif kind == "const":
                v.append(arg)
            elif kind == "leaf":
                v.append(np.float64(params[arg]))
            elif kind == "bid":
                v.append(x[arg])
            elif kind == "param":
                v.append(np.float64(float(params[arg])))
            elif kind == "ite":
                c, l, r, a, b = arg
                v.append(np.where(v[l] > v[r] if c == "gt" else v[l] >= v[r], v[a], v[b]))
            else:  # "pow": an exponent that is not a constant is read per call
                base, k = arg
                v.append(_power(v[base], v[k]))
        return [v[k] for k in self.outputs]


def _step(n, ks):
    op = n.op
    if op in ("report", "ref", "lam"):
        return "leaf", T.leaf_key(n)
    if op == "const":
        return "const", const_float(T.value(n))
    if op in ("bid", "param"):
        return op, n.args[0]
    if op == "ite":
        return "ite", (n.args[0][0], *ks)
    if op == "pow":
        if T.is_const(n.args[1]):
            try:
                k = _exponent(_step(n.args[1], [])[1])
            except (OverflowError, ValueError):   # raised per call, as without a program
                return "pow", tuple(ks)
            return "op", ((lambda b: np.power(b, k)), ks[:1])
        return "pow", tuple(ks)
    return "op", (_NP[op], ks)


def const_float(q: Fraction) -> np.float64:
    """A constant's float64: the nearest float, +-inf beyond float64's range (1.7e308 is a
    float: it stays finite; the enclosure bounds the same value, ``enclosure._point``)."""
    try:
        return np.float64(float(q))
    except OverflowError:
        return np.float64(np.inf if q > 0 else -np.inf)


def _exponent(value):
    k = Fraction(float(value))
    return int(k) if k.denominator == 1 and k >= 0 else float(k)


def _power(base, k):
    return np.power(base, _exponent(k))


_PROGRAMS: dict = {}


def program(trees) -> Program:
    """The program of ``trees`` (a tuple of nodes), generated once and kept while they are
    in use: the cache holds the trees themselves, so an id is never reused under it."""
    trees = tuple(trees)
    key = tuple(id(t) for t in trees)
    hit = _PROGRAMS.get(key)
    if hit is None or any(a is not b for a, b in zip(hit.trees, trees)):
        if len(_PROGRAMS) >= 512:
            _PROGRAMS.clear()
        hit = _PROGRAMS[key] = Program(trees)
    return hit


def _np(n, x, params):
    return program((n,)).run(x, params)[0]


def log_weight(n: T.Node, x, params=None, elementwise=True):
    """``(log |f(x)|, sign f(x))`` as float64 arrays, computed structurally."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        return _lw(n, _Bids(x, elementwise), params or {})


def _lw(n, x, params):
    op = n.op
    if op == "const":
        q = T.value(n)
        if q == 0:
            return np.float64(-np.inf), np.float64(0.0)
        return np.float64(_log_fraction(abs(q))), np.float64(1.0 if q > 0 else -1.0)
    if op == "exp":
        return _np(n.args[0], x, params), np.float64(1.0)
    if op in ("mul", "div"):
        (la, sa), (lb, sb) = _lw(n.args[0], x, params), _lw(n.args[1], x, params)
        if op == "mul":
            return la + lb, sa * sb
        return la - lb, sa * sb / np.where(sb == 0, np.nan, 1.0)
    if op == "pow" and T.is_const(n.args[1]):
        k = T.value(n.args[1])
        la, sa = _lw(n.args[0], x, params)
        if k.denominator == 1:
            return float(k) * la, sa ** int(k) if k >= 0 else 1.0 / sa ** int(-k)
        return float(k) * la, np.where(sa > 0, 1.0, np.where(sa == 0, 0.0, np.nan))
    if op == "sqrt":
        la, sa = _lw(n.args[0], x, params)
        return 0.5 * la, np.where(sa > 0, 1.0, np.where(sa == 0, 0.0, np.nan))
    v = _np(n, x, params)
    return np.log(np.abs(v)), np.sign(v)


def exact_log_weight(n: T.Node, bids, params=None) -> tuple[float, float]:
    """``(log |f|, sign f)`` from ``f``'s exact rational value at ``bids`` (a list);
    :class:`Unsupported` where it needs exp/log/sqrt/fractional powers."""
    q = fraction_value(n, list(bids), params or {})
    if q == 0:
        return -np.inf, 0.0
    return _log_fraction(abs(q)), (1.0 if q > 0 else -1.0)


def _log_fraction(q: Fraction) -> float:
    import math
    return math.log(q.numerator) - math.log(q.denominator)


def normalized_weights(L, S, log_lam=None):
    """Weights ``w_j = f_j / (lambda + sum_k f_k)`` along the last axis from
    ``(L, S) = log_weight(...)``, and the reference's weight (None without one).
    Raises ``ValueError`` with the reason where float64 gives no valid weights."""
    L, S = np.broadcast_arrays(np.asarray(L, float), np.asarray(S, float))
    if np.any(np.isnan(L) | np.isnan(S)) or np.any(S < 0) or np.any(L == np.inf):
        raise ValueError("a weight is negative, undefined or infinite in float64")
    Lz = np.where(S > 0, L, -np.inf)
    parts = [Lz] if log_lam is None else [Lz, np.broadcast_to(log_lam, Lz.shape[:-1] + (1,))]
    allL = np.concatenate(parts, axis=-1)
    top = np.max(allL, axis=-1, keepdims=True)
    if not np.all(np.isfinite(top)):
        raise ValueError("every weight is 0 (W = 0)")
    e = np.exp(allL - top)
    w = e / e.sum(axis=-1, keepdims=True)
    return (w, None) if log_lam is None else (w[..., :-1], w[..., -1])


def _memo(f):
    """Evaluate each node of a DAG once per call: ``f(n, r, bids, params)`` gets ``r``, the
    memoized recursion."""
    def run(n, bids, params, memo=None):
        memo = {} if memo is None else memo

        def r(m):
            k = id(m)
            if k not in memo:
                memo[k] = f(m, r, bids, params)
            return memo[k]
        return r(n)
    return run


def _leaf(n, params):
    return params[T.leaf_key(n)] if n.op in ("report", "ref", "lam") else params[n.args[0]]


def sympy_expr(n: T.Node, bids, params: dict, memo=None):
    """The exact sympy expression: ``bids[j]`` and ``params[name]`` are sympy values
    (``log 0 = -oo``: a veto, as in numpy)."""
    return _sympy_run(n, bids, params, memo)


def _sp(n, r, bids, params):
    import sympy as sp
    op = n.op
    if op == "const":
        q = T.value(n)
        return sp.Rational(q.numerator, q.denominator)
    if op == "bid":
        return bids[n.args[0]]
    if op in ("param", "report", "ref", "lam"):
        return sp.sympify(_leaf(n, params))
    if op == "ite":
        (c, l, rr), a, b = n.args
        cond = sp.StrictGreaterThan(r(l), r(rr)) if c == "gt" else sp.GreaterThan(r(l), r(rr))
        return sp.Piecewise((r(a), cond), (r(b), True))
    f = {"exp": sp.exp, "log": lambda a: -sp.oo if a == 0 else sp.log(a), "sqrt": sp.sqrt,
         "neg": lambda a: -a, "add": lambda a, b: a + b, "sub": lambda a, b: a - b,
         "mul": lambda a, b: a * b, "div": lambda a, b: a / b, "min": sp.Min, "max": sp.Max,
         "pow": sp.Pow}[op]
    return f(*(r(a) for a in n.args))


_sympy_run = _memo(_sp)


def fraction_value(n: T.Node, bids, params: dict, memo=None) -> Fraction:
    """The exact rational value; :class:`Unsupported` for exp/log/sqrt/fractional powers."""
    return _fraction_run(n, bids, params, memo)


def _fr(n, r, bids, params):
    op = n.op
    if op == "const":
        return T.value(n)
    if op == "bid":
        return Fraction(bids[n.args[0]])
    if op in ("param", "report", "ref", "lam"):
        return Fraction(_leaf(n, params))
    if op == "ite":
        (c, l, rr), a, b = n.args
        lv, rv = r(l), r(rr)
        return r(a) if (lv > rv if c == "gt" else lv >= rv) else r(b)
    if op == "pow":
        k = r(n.args[1])
        if k.denominator != 1:
            raise Unsupported("a fractional power is not rational; use the sympy backend")
        return r(n.args[0]) ** int(k)
    if op in ("exp", "log", "sqrt"):
        raise Unsupported(f"{op} is not rational; use the sympy backend")
    return _RATIONAL[op](*[r(a) for a in n.args])


_RATIONAL = {"neg": operator.neg, "add": operator.add, "sub": operator.sub,
             "mul": operator.mul, "div": operator.truediv, "min": min, "max": max}
_fraction_run = _memo(_fr)


def z3_term(n: T.Node, bids, params: dict, memo=None):
    """The z3 real term; :class:`Unsupported` for exp/log/sqrt/fractional powers."""
    return _z3_run(n, bids, params, memo)


def _z3_value(z3, v):
    return v if isinstance(v, z3.ExprRef) else z3.RealVal(str(Fraction(v)))


def _z3(n, r, bids, params):
    import z3
    op = n.op
    if op == "const":
        q = T.value(n)
        return z3.RealVal(q.numerator) / z3.RealVal(q.denominator)
    if op == "bid":
        return _z3_value(z3, bids[n.args[0]])
    if op in ("param", "report", "ref", "lam"):
        return _z3_value(z3, _leaf(n, params))
    if op == "ite":
        (c, l, rr), a, b = n.args
        return z3.If(r(l) > r(rr) if c == "gt" else r(l) >= r(rr), r(a), r(b))
    if op == "pow":
        k = T.value(n.args[1]) if T.is_const(n.args[1]) else Fraction(1, 2)
        if k.denominator != 1:
            raise Unsupported("z3 handles integer powers only; the sympy engine decides the rest")
        base, out = r(n.args[0]), z3.RealVal(1)
        for _ in range(abs(int(k))):
            out = out * base
        return out if k >= 0 else 1 / out
    if op in ("exp", "log", "sqrt"):
        raise Unsupported(f"z3 (real arithmetic) has no {op}; the sympy engine decides it")
    if op in ("min", "max"):
        a, b = r(n.args[0]), r(n.args[1])
        return z3.If(a <= b, a, b) if op == "min" else z3.If(a >= b, a, b)
    f = {"neg": lambda a: -a, "add": lambda a, b: a + b, "sub": lambda a, b: a - b,
         "mul": lambda a, b: a * b, "div": lambda a, b: a / b}[op]
    return f(*(r(a) for a in n.args))


_z3_run = _memo(_z3)


def z3_defined(n: T.Node, bids, params: dict, memo: dict, terms: dict):
    """The z3 condition under which ``n`` is defined in exact reals: every division, and
    every negative power, taken on the branch an ``ite`` chooses, has a nonzero divisor.
    ``terms`` is :func:`z3_term`'s memo for the same bids (shared: each node once)."""
    import z3
    k = id(n)
    if k in memo:
        return memo[k]
    d = lambda m: z3_defined(m, bids, params, memo, terms)
    t = lambda m: z3_term(m, bids, params, terms)
    op = n.op
    if op in T.LEAVES:
        out = z3.BoolVal(True)
    elif op == "ite":
        (c, l, r), a, b = n.args
        cond = t(l) > t(r) if c == "gt" else t(l) >= t(r)
        out = z3.And(d(l), d(r), z3.Implies(cond, d(a)), z3.Implies(z3.Not(cond), d(b)))
    else:
        parts = [d(m) for m in n.args]
        if op == "div":
            parts.append(t(n.args[1]) != 0)
        if op == "pow" and T.is_const(n.args[1]) and T.value(n.args[1]) < 0:
            parts.append(t(n.args[0]) != 0)
        out = z3.And(*parts)
    memo[k] = out
    return out
