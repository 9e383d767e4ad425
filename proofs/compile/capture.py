"""Capture a declared weight function into one exact tree (docs/theory.md section 8).

The user's function is called ONCE on the tool's own symbolic values (:class:`Sym`) and
the ``fn`` namespace of this module; every operation builds a :class:`proofs.compile.tree.Node`.
What the capture cannot represent exactly is a :class:`DeclarationError` naming the
user's line and the fix:

* Python truthiness of a symbol or of a comparison (``if b > 1``, ``b and c``), ``==`` /
  ``!=`` on a symbol: write ``fn.ite(fn.gt(b, 1), ..., ...)``, ``fn.min``, ``fn.max``;
* ``float()``, ``int()``, ``math.*`` or numpy functions on a symbol: use ``fn.exp`` etc.;
* a type test ``isinstance(b, float)`` of a symbol (it would take one branch on symbols and
  another on floats); a refusal the user's code catches still fails the capture;
* a value that is not a number (a string, a list), a function that does not return
  within ``timeout_s`` seconds.

A float constant is taken as its exact binary value (``Fraction(0.1)``): the tree is the
number the float64 code computes with. A branch on anything that is not a symbol (a
constant computed at import, the number of agents) is decided once, at capture; the tree records the branch taken, and that tree is what runs and is proved.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import time
import traceback
import fractions
from fractions import Fraction

from mechanism.errors import InvalidRule

from proofs.compile import tree as T

_HERE = os.path.dirname(os.path.abspath(__file__))
_NUMPY = os.path.dirname(os.path.abspath(__import__("numpy").__file__))
#: ``fractions``' source file: its operators test the other operand's type to dispatch.
_FRACTIONS_FILE = fractions.__file__


def _fraction_dispatch(frame) -> bool:
    """The type test comes from ``Fraction``'s operators (``Fraction(1, 3) + b``, a bound
    parameter on the left), directly or through the ``numbers`` ABCs: not a user branch."""
    if frame.f_code.co_filename.startswith("<frozen abc"):
        frame = frame.f_back
    return frame is not None and frame.f_code.co_filename == _FRACTIONS_FILE


class DeclarationError(InvalidRule):
    """The declared function cannot be compiled exactly (message: the line and the fix)."""


def _user_line() -> str:
    for fr in reversed(traceback.extract_stack()):
        if not fr.filename.startswith("<frozen") and \
                not os.path.abspath(fr.filename).startswith((_HERE, _NUMPY)):
            return f"{fr.filename}:{fr.lineno}: `{(fr.line or '').strip()}`"
    return "<unknown line>"


#: refusals of the capture now running: a rule that catches one still fails to compile
REFUSALS: list[str] = []


def refuse(what: str, fix: str):
    text = f"{_user_line()}: {what} cannot be compiled exactly; {fix}"
    REFUSALS.append(text)
    raise DeclarationError(text)


def lift(x) -> T.Node:
    """A node for ``x``: a symbol's node, or the exact value of a Python / numpy number.
    (Type tests here use ``type(x)``: ``isinstance`` on a symbol is refused, see Sym.)"""
    if type(x) is Sym:
        return x.node
    if type(x) in (bool, Cmp) or getattr(type(x), "capture_vector", False) or \
            not isinstance(x, numbers.Real):
        refuse(f"the value {x!r} ({type(x).__name__})",
               "a weight is built from numbers, the bid, parameters and fn's functions")
    try:
        q = Fraction(x) if isinstance(x, (int, Fraction)) else Fraction(float(x))
    except (OverflowError, ValueError):
        refuse(f"the non-finite constant {x!r}", "use finite constants")
    return T.const(q)


def _fold(op, a: T.Node, b: T.Node) -> T.Node:
    if T.is_const(a) and T.is_const(b):
        x, y = T.value(a), T.value(b)
        if op == "add":
            return T.const(x + y)
        if op == "sub":
            return T.const(x - y)
        if op == "mul":
            return T.const(x * y)
        if op == "div" and y != 0:
            return T.const(x / y)
    return T.Node(op, (a, b))


class Cmp:
    """A comparison ``lhs > rhs`` (``>=``): only :func:`Fns.ite` may consume it."""

    __slots__ = ("op", "lhs", "rhs")

    def __init__(self, op, lhs, rhs):
        self.op, self.lhs, self.rhs = op, lhs, rhs

    def __bool__(self):
        refuse("a Python branch on a comparison of the bid (if/and/or/not)",
               "write fn.ite(fn.gt(x, y), a, b), fn.min or fn.max (a generic rule: "
               "ops.ite(ops.gt(x, y), a, b))")


def _num(self):
    refuse("float()/int()/math.* of a symbol", "use fn.exp, fn.log, fn.sqrt, fn.pow (a "
           "generic rule: arithmetic, ops.log, ops.softmax)")


class Sym:
    """A symbolic value during capture: arithmetic builds the tree."""

    __slots__ = ("node",)
    __array_priority__ = 1000

    def __init__(self, node: T.Node):
        self.node = node

    def __array_ufunc__(self, *args, **kwargs):
        refuse("a numpy function applied to a symbol", "use fn.exp, fn.log, fn.min, ... (a "
               "generic rule: ops.ite, ops.log, ops.softmax)")

    def __array__(self, *args, **kwargs):
        refuse("a numpy array of symbols", "write the weight with fn's functions")

    def __bool__(self):
        refuse("a Python truth test of the bid", "write fn.ite(fn.gt(b, c), a, b) (a generic "
               "rule: ops.ite(ops.gt(b, c), a, b))")

    __float__ = __int__ = __index__ = __complex__ = __round__ = __trunc__ = _num
    __floor__ = __ceil__ = _num

    def __eq__(self, other):
        refuse("`==` on a symbol", "an equality branch is not monotone-checkable; "
               "use fn.ite with fn.gt / fn.ge (a generic rule: ops.ite with ops.gt / ops.ge)")

    __ne__ = __eq__
    __hash__ = None

    @property
    def __class__(self):
        if _fraction_dispatch(sys._getframe(1)):
            return type(self)   # Fraction falls back to our reflected operator
        refuse("a type test (isinstance) of the bid or a report",
               "a rule's branches are written with fn.ite / ops.ite on comparisons")

    def _bin(op, swap=False):
        def f(self, other):
            if getattr(type(other), "capture_vector", False):
                return NotImplemented  # a vector of symbols: its reflected operation
            a, b = (lift(other), self.node) if swap else (self.node, lift(other))
            return Sym(_fold(op, a, b))
        return f

    __add__, __radd__ = _bin("add"), _bin("add", True)
    __sub__, __rsub__ = _bin("sub"), _bin("sub", True)
    __mul__, __rmul__ = _bin("mul"), _bin("mul", True)
    __truediv__, __rtruediv__ = _bin("div"), _bin("div", True)

    def __neg__(self):
        return Sym(T.Node("neg", (self.node,)))

    def __pos__(self):
        return self

    def __abs__(self):
        return Sym(T.Node("max", (self.node, T.Node("neg", (self.node,)))))

    def __pow__(self, k):
        return FNS.pow(self, k)

    def __rpow__(self, base):
        c = lift(base)
        if not (T.is_const(c) and T.value(c) > 0):
            refuse(f"{base!r} ** symbol", "a power with a symbolic exponent needs a positive base")
        return Sym(T.Node("exp", (T.Node("mul", (self.node, T.Node("log", (c,)))),)))

    def __gt__(self, o):
        return Cmp("gt", self.node, lift(o))

    def __ge__(self, o):
        return Cmp("ge", self.node, lift(o))

    def __lt__(self, o):
        return Cmp("gt", lift(o), self.node)

    def __le__(self, o):
        return Cmp("ge", lift(o), self.node)

    def __floordiv__(self, o):
        refuse("`//` or `%` on a symbol", "write the weight without integer division")

    __mod__ = __rfloordiv__ = __rmod__ = __divmod__ = __floordiv__

    def __repr__(self):
        return f"Sym({T.show(self.node)})"


def _wrap(n: T.Node):
    return Sym(n)


class Fns:
    """The ``fn`` namespace during capture (the vocabulary of docs/theory.md section 8)."""

    name = "capture"

    @staticmethod
    def exp(x):
        return _wrap(T.Node("exp", (lift(x),)))

    @staticmethod
    def log(x):
        return _wrap(T.Node("log", (lift(x),)))

    @staticmethod
    def sqrt(x):
        return _wrap(T.Node("sqrt", (lift(x),)))

    @staticmethod
    def pow(x, k):
        kn = lift(k)
        if not (T.is_const(kn) or kn.op == "param"):
            refuse("a power with an exponent that depends on the bid",
                   "write fn.exp(k * fn.log(x))")
        return _wrap(T.Node("pow", (lift(x), kn)))

    @staticmethod
    def min(a, b):
        return _wrap(T.Node("min", (lift(a), lift(b))))

    @staticmethod
    def max(a, b):
        return _wrap(T.Node("max", (lift(a), lift(b))))

    @staticmethod
    def gt(a, b):
        return Cmp("gt", lift(a), lift(b))

    @staticmethod
    def ge(a, b):
        return Cmp("ge", lift(a), lift(b))

    @staticmethod
    def lt(a, b):
        return Cmp("gt", lift(b), lift(a))

    @staticmethod
    def le(a, b):
        return Cmp("ge", lift(b), lift(a))

    @staticmethod
    def ite(c, a, b):
        if type(c) is not Cmp:
            refuse(f"fn.ite's condition {c!r}", "give fn.ite a comparison fn.gt / fn.ge (or x > y)")
        return _wrap(T.Node("ite", ((c.op, c.lhs, c.rhs), lift(a), lift(b))))


FNS = Fns()


def _budget(timeout_s: float):
    end = time.monotonic() + timeout_s

    def tracer(frame, event, arg):
        frame.f_trace_opcodes = True  # a loop on one line (`while True: pass`) is stopped too
        if time.monotonic() > end:
            raise DeclarationError(f"the declared function did not return within {timeout_s} s "
                                   "at capture; a weight function must terminate")
        return tracer
    return tracer


def call_captured(fn, args, kwargs, timeout_s: float = 5.0):
    """``fn(*args, **kwargs)`` under a time budget (a Python loop that never ends is
    stopped); any exception of the user's code is a :class:`DeclarationError`."""
    old = sys.gettrace()
    del REFUSALS[:]
    sys.settrace(_budget(timeout_s))
    try:
        out = fn(*args, **kwargs)
    except DeclarationError:
        raise
    except Exception as exc:
        if REFUSALS:  # the user's code turned a refusal into another error
            raise DeclarationError(REFUSALS[0]) from exc
        raise DeclarationError(f"the declared function raised {type(exc).__name__}: {exc} "
                               "while it was compiled") from exc
    finally:
        sys.settrace(old)
    if REFUSALS:
        raise DeclarationError(REFUSALS[0] + " (the declared function caught the refusal)")
    return out


def capture_weight(f, params: dict, symbolic: set, timeout_s: float = 5.0) -> T.Node:
    """The tree of ``f(b, fn, **params)``: parameters in ``symbolic`` stay named, the others
    become exact constants."""
    kw = {k: (Sym(T.param(k)) if k in symbolic else param_value(k, v))
          for k, v in params.items()}
    return shallow(lift(call_captured(f, (Sym(T.bid(0)), FNS), kw, timeout_s)))


def capture_general(W, n: int, params: dict, timeout_s: float = 5.0) -> tuple:
    """The trees of general weights ``W(bids, fn, **params)`` for n agents."""
    kw = {k: param_value(k, v) for k, v in params.items()}
    out = call_captured(W, ([Sym(T.bid(j)) for j in range(n)], FNS), kw, timeout_s)
    try:
        items = list(out)
    except TypeError:
        refuse(f"general weights returned {out!r}", "return a list of n weights")
    if len(items) != n:
        refuse(f"general weights returned {len(items)} weights for {n} agents",
               "return one weight per agent")
    return tuple(shallow(lift(x)) for x in items)


def shallow(tree: T.Node) -> T.Node:
    """``tree``, unless it is deeper than :data:`proofs.compile.tree.MAX_DEPTH` (the
    evaluators recurse once per level) or of a degree beyond
    :data:`proofs.compile.tree.MAX_DEGREE` (z3 expands it): then a DeclarationError."""
    deep = T.depth(tree)
    if deep > T.MAX_DEPTH:
        raise DeclarationError(f"the declared function compiles to an expression {deep} levels "
                               f"deep (at most {T.MAX_DEPTH}); write it with fewer nested steps")
    deg = T.degree(tree)
    if deg > T.MAX_DEGREE:
        raise DeclarationError(f"the declared function compiles to an expression of degree "
                               f"{deg} (integer powers and products; at most {T.MAX_DEGREE}): "
                               "the solvers would expand it into a polynomial beyond their "
                               "reach; write a large power as fn.exp(k * fn.log(x))")
    return tree


def param_value(name, v):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise DeclarationError(f"parameter {name} = {v!r} is not a real number")
    if isinstance(v, (int, Fraction)):
        return Fraction(v)
    if not math.isfinite(float(v)):
        raise DeclarationError(f"parameter {name} = {v!r} is not a finite real number; "
                               "give it a finite value")
    return Fraction(float(v))
