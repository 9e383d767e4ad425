"""Sound symbolic tracing of a backend-generic rule on z3 terms (docs/theory.md, section 4,
"Checking your own rule").

A rule traced by the rule-level prover sees :class:`Sym` values, thin wrappers of z3 terms.
Tracing never silently picks a branch:

* ``bool(sym)`` (an ``if``, ``and``/``or``, ``x if c else y``, ``min``/``max``, ``==`` used
  as a Python bool) raises :class:`SymbolicBranch` naming the rule's source line and
  suggesting ``ops.ite``; ``float(sym)``, ``int(sym)``, ``round(sym)`` raise
  :class:`SymbolicConcretize`. Every refusal is also recorded in :attr:`Trace.events`, so
  a rule that catches the exception still gets UNKNOWN.
* numpy on a symbolic scalar goes through ``__array_ufunc__`` / ``__array_function__``:
  ``+ - * /``, comparisons, ``maximum``/``minimum``/``fmax``/``fmin``, ``absolute``,
  ``square``, integer ``power``, the logical ufuncs, ``np.where`` and ``np.clip`` are lifted
  exactly (``If`` terms); anything else (``exp``, ``sqrt``, ``isclose``, ...) raises
  :class:`mechanism.arith.Unsupported` naming the function. numpy on an *object array*
  of symbolic values runs its element loop, which asks for Python truth values: refused.
* ``ops.is_positive(x)`` on an undecided ``x`` is a case split (:meth:`Trace.decide`):
  both sides are explored (when feasible under the domain) and the results are joined
  with ``If``; nothing is assumed.

Float constants become the simplest rational that rounds to the same float
(:func:`rational`), in the trace and in the cross-check points alike.
"""

from __future__ import annotations

import linecache
import numbers
import os
import sys
from fractions import Fraction

import numpy as np

from mechanism.arith import Unsupported

_HERE = os.path.dirname(os.path.abspath(__file__))
_SKIP = (os.path.join(_HERE, "tracing.py"), os.path.join(_HERE, "backends.py"),
         os.path.join(_HERE, "rule_level.py"),
         os.path.join(os.path.dirname(_HERE), "mechanism", "arith.py"),
         os.path.dirname(np.__file__))
#: the most paths one trace may explore (each undecided ``is_positive`` splits in two)
MAX_PATHS = 64


class SymbolicBranch(Unsupported):
    """The rule asked Python for the truth value of a symbolic condition."""


class NeedsTranscendental(Unsupported):
    """The rule needs exp or log, which z3's real arithmetic cannot express."""


class SymbolicConcretize(Unsupported):
    """The rule asked for a concrete number (``float``, ``int``, ``round``) of a symbolic value."""


def rational(x) -> Fraction:
    """The simplest fraction that rounds to the float ``x`` (exact for ints and Fractions):
    ``0.37`` reads as ``37/100``, as a person wrote it."""
    if isinstance(x, Fraction):
        return x
    if isinstance(x, (numbers.Integral, np.integer)):
        return Fraction(int(x))
    x = float(x)
    f = Fraction(x).limit_denominator(10**12)
    return f if float(f) == x else Fraction(x)


def source_location() -> str:
    """``file:line: code`` of the innermost frame outside the tracer and numpy."""
    f = sys._getframe(1)
    while f is not None:
        name = os.path.abspath(f.f_code.co_filename)
        if not name.startswith(_SKIP) and not name.startswith("<"):
            code = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
            return f"{os.path.basename(name)}:{f.f_lineno} ({f.f_code.co_name}): {code}"
        f = f.f_back
    return "unknown location"


class Trace:
    """State of one symbolic evaluation: refusals (``events``) and the case splits."""

    def __init__(self, z3, domain=(), timeout_s: float = 2.0):
        self.z3 = z3
        self.domain = list(domain)
        self.timeout_s = timeout_s
        self.events: list[str] = []
        self.decisions: list[bool] = []
        self.pos = 0
        self.conds: list = []
        self.pending: list[list[bool]] = []
        self.splits: list[str] = []

    # -- refusals ------------------------------------------------------------------
    def refuse(self, cls, message: str):
        where = source_location()
        text = f"{message} at {where}"
        self.events.append(text)
        raise cls(text)

    def branch(self, what: str = "a symbolic condition"):
        self.refuse(SymbolicBranch, f"the rule branches in Python on {what} (a bid or a "
                    "probability): the tracer will not pick a branch; write the choice as "
                    "ops.ite(condition, a, b) (comparisons with ops.gt / ops.ge / ops.and_)")

    # -- constants -----------------------------------------------------------------
    def const(self, x):
        if isinstance(x, (bool, np.bool_)):
            return self.z3.BoolVal(bool(x))
        if not np.isfinite(float(x)):
            self.refuse(Unsupported, f"the non-finite constant {x!r} has no value in real "
                        "arithmetic")
        f = rational(x)
        return self.z3.RealVal(f"{f.numerator}/{f.denominator}")

    def term(self, o):
        """The z3 term of ``o`` (a Sym, a number, a z3 term), or None."""
        if isinstance(o, Sym):
            return o.term
        if isinstance(o, (numbers.Real, np.number, np.bool_)):
            return self.const(o)
        if isinstance(o, np.ndarray) and o.ndim == 0:
            return self.term(o.item())
        if isinstance(o, self.z3.ExprRef):
            return o
        return None

    # -- case splits -------------------------------------------------------------------
    def _feasible(self, cond) -> bool:
        from proofs.encode.encode_z3 import solve
        r, _, _ = solve(self.domain + self.conds + [cond], self.timeout_s)
        return r != self.z3.unsat  # unknown counts as feasible: explore it (sound)

    def decide(self, cond) -> bool:
        """Truth value of ``cond`` on the current path; a new undecided condition splits
        the path (True now, False queued) when both sides are feasible."""
        z3 = self.z3
        if self.pos < len(self.decisions):
            d = self.decisions[self.pos]
        else:
            yes, no = self._feasible(cond), self._feasible(z3.Not(cond))
            d = yes or not no
            if yes and no:
                self.pending.append(self.decisions[: self.pos] + [False])
                self.splits.append(str(cond))
            self.decisions.append(d)
        self.conds.append(cond if d else z3.Not(cond))
        self.pos += 1
        return d

    def explore(self, fn) -> list:
        """Run ``fn()`` once per feasible path: ``[(path condition terms, result), ...]``."""
        self.pending, out = [[]], []
        while self.pending:
            if len(out) >= MAX_PATHS:
                raise Unsupported(f"more than {MAX_PATHS} case splits of ops.is_positive")
            self.decisions, self.pos, self.conds = self.pending.pop(), 0, []
            res = fn()
            out.append((list(self.conds), res))
        return out

    def join(self, paths):
        """One vector of terms from per-path vectors: ``If(path_1, r_1, If(path_2, ...))``."""
        z3 = self.z3
        conds, acc = paths[-1]
        acc = list(acc)
        for conds, res in reversed(paths[:-1]):
            c = z3.And(*conds) if conds else z3.BoolVal(True)
            acc = [z3.If(c, a, b) for a, b in zip(res, acc)]
        return acc


def _binary(op, reflected=True):
    """``Sym op other`` (and ``other op Sym``) on z3 terms; ``op(z3, a, b)``."""
    def f(self, other):
        t = self.trace.term(other)
        return NotImplemented if t is None else Sym(op(self.trace.z3, self.term, t), self.trace)

    def r(self, other):
        t = self.trace.term(other)
        return NotImplemented if t is None else Sym(op(self.trace.z3, t, self.term), self.trace)
    return (f, r) if reflected else f


class Sym:
    """A symbolic scalar (a z3 arithmetic or boolean term) that refuses to be a Python
    bool or a float (see the module docstring)."""

    __slots__ = ("term", "trace")
    __array_priority__ = 100

    def __init__(self, term, trace: Trace):
        self.term = term
        self.trace = trace

    __add__, __radd__ = _binary(lambda z3, a, b: a + b)
    __sub__, __rsub__ = _binary(lambda z3, a, b: a - b)
    __mul__, __rmul__ = _binary(lambda z3, a, b: a * b)
    __truediv__, __rtruediv__ = _binary(lambda z3, a, b: a / b)
    __lt__ = _binary(lambda z3, a, b: a < b, False)
    __le__ = _binary(lambda z3, a, b: a <= b, False)
    __gt__ = _binary(lambda z3, a, b: a > b, False)
    __ge__ = _binary(lambda z3, a, b: a >= b, False)
    __eq__ = _binary(lambda z3, a, b: a == b, False)
    __ne__ = _binary(lambda z3, a, b: a != b, False)
    __and__, __rand__ = _binary(lambda z3, a, b: z3.And(a, b))
    __or__, __ror__ = _binary(lambda z3, a, b: z3.Or(a, b))
    __xor__, __rxor__ = _binary(lambda z3, a, b: z3.Xor(a, b))

    def __neg__(self):
        return Sym(-self.term, self.trace)

    def __pos__(self):
        return self

    def __invert__(self):
        return Sym(self.trace.z3.Not(self.term), self.trace)

    def __abs__(self):
        z3 = self.trace.z3
        return Sym(z3.If(self.term >= 0, self.term, -self.term), self.trace)

    def __pow__(self, k):
        if isinstance(k, (numbers.Integral, np.integer)) or (
                isinstance(k, (float, np.floating)) and float(k).is_integer() and abs(k) < 64):
            k = int(k)
            out = self.trace.const(1)
            for _ in range(abs(k)):
                out = out * self.term
            return Sym(out if k >= 0 else 1 / out, self.trace)
        self.trace.refuse(Unsupported, f"a non-integer power ** {k!r} of a symbolic value "
                          "has no exact lifting in real arithmetic")

    def __rpow__(self, base):
        self.trace.refuse(NeedsTranscendental, "a power with a symbolic exponent (an exponential) "
                          "has no lifting in real arithmetic")

    def __hash__(self):
        return hash(("Sym", self.term.get_id()))

    def __bool__(self):
        self.trace.branch()

    def _concrete(self, *_):
        self.trace.refuse(SymbolicConcretize, "the rule asks for a concrete number "
                          "(float/int/round) of a symbolic value; keep bids and probabilities "
                          "symbolic (arithmetic, numpy's lifted functions, ops.*)")

    __float__ = __int__ = __index__ = __complex__ = __round__ = __trunc__ = _concrete
    __floor__ = __ceil__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _concrete

    def __repr__(self):
        return f"Sym({self.term})"

    # -- numpy -----------------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or kwargs:
            self.trace.refuse(Unsupported, f"numpy.{ufunc.__name__}.{method} with {kwargs} on a "
                              "symbolic value has no lifting")
        return _elementwise(self.trace, lambda *a: _ufunc(self.trace, ufunc, a), inputs)

    def __array_function__(self, func, types, args, kwargs):
        trace = self.trace
        if func is np.where and len(args) == 3 and not kwargs:
            return _elementwise(trace, lambda c, a, b: _ite(trace, c, a, b), args)
        if func is np.clip and not kwargs:
            a, lo, hi = (list(args) + [None, None])[:3]
            return _elementwise(trace, lambda x, l, h: _clip(trace, x, l, h), (a, lo, hi))
        trace.refuse(Unsupported, f"numpy.{func.__name__} on a symbolic value has no sound "
                     "lifting in z3 real arithmetic")


def _elementwise(trace, f, inputs):
    """Apply ``f`` to scalars, or elementwise (object array) when an input is an array."""
    if not any(isinstance(x, (np.ndarray, list, tuple)) and np.ndim(x) > 0 for x in inputs):
        return f(*inputs)
    arrs = np.broadcast_arrays(*[_obj(x) for x in inputs])
    out = np.empty(arrs[0].shape, dtype=object)
    for idx in np.ndindex(out.shape):
        out[idx] = f(*[a[idx] for a in arrs])
    return out


def _obj(x):
    a = np.empty(np.shape(x), dtype=object)
    if a.ndim == 0:
        a[()] = x
    else:
        a[...] = x
    return a


def _t(trace, x):
    t = trace.term(x)
    if t is None:
        trace.refuse(Unsupported, f"a value of type {type(x).__name__} mixed with symbolic "
                     "values has no lifting")
    return t


def _ite(trace, c, a, b):
    z3 = trace.z3
    return Sym(z3.If(_t(trace, c), _t(trace, a), _t(trace, b)), trace)


def _clip(trace, x, lo, hi):
    z3 = trace.z3
    t = _t(trace, x)
    if lo is not None:
        lo = _t(trace, lo)
        t = z3.If(t < lo, lo, t)
    if hi is not None:
        hi = _t(trace, hi)
        t = z3.If(t > hi, hi, t)
    return Sym(t, trace)


def _ufunc(trace, ufunc, args):
    z3 = trace.z3
    name = ufunc.__name__
    t = [_t(trace, a) for a in args]
    lifted = {
        "add": lambda a, b: a + b, "subtract": lambda a, b: a - b,
        "multiply": lambda a, b: a * b, "true_divide": lambda a, b: a / b,
        "divide": lambda a, b: a / b, "negative": lambda a: -a, "positive": lambda a: a,
        "absolute": lambda a: z3.If(a >= 0, a, -a), "square": lambda a: a * a,
        "reciprocal": lambda a: 1 / a,
        "maximum": lambda a, b: z3.If(a >= b, a, b), "minimum": lambda a, b: z3.If(a <= b, a, b),
        "fmax": lambda a, b: z3.If(a >= b, a, b), "fmin": lambda a, b: z3.If(a <= b, a, b),
        "greater": lambda a, b: a > b, "greater_equal": lambda a, b: a >= b,
        "less": lambda a, b: a < b, "less_equal": lambda a, b: a <= b,
        "equal": lambda a, b: a == b, "not_equal": lambda a, b: a != b,
        "logical_and": z3.And, "logical_or": z3.Or, "logical_not": z3.Not,
    }
    if name == "power":
        if isinstance(args[1], Sym):
            return Sym(t[0], trace).__rpow__(None)
        return Sym(t[0], trace) ** args[1]
    if name in ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "logaddexp"):
        trace.refuse(NeedsTranscendental, f"numpy.{name} on a symbolic value: z3 real "
                     "arithmetic has no exp/log")
    if name not in lifted:
        trace.refuse(Unsupported, f"numpy.{name} on a symbolic value has no sound lifting in "
                     "z3 real arithmetic")
    return Sym(lifted[name](*t), trace)
