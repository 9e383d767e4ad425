"""A sound sign and monotonicity calculus over a compiled tree (docs/theory.md section 8).

For a one-variable tree ``f(x)`` on ``x >= 0`` (parameters ranging over their declared
domains) :func:`facts` gives, bottom-up, an interval ``[lo, hi]`` with exact rational
ends (None: unbounded), strict positivity, a direction (``inc`` non-decreasing, ``dec``
non-increasing, ``const``, or None: not derived) and whether ``f`` is defined everywhere.
The rules (each an elementary real-analysis fact):

* ``x`` is inc on ``[0, oo)``; a constant or parameter is const on its value / domain;
* ``a + b``: same-direction terms keep the direction; ``-a`` flips it; ``a - b = a + (-b)``;
* ``a * b``: const * g keeps g's direction when the const is >= 0, flips it when <= 0;
  otherwise BOTH factors must be >= 0 and of one direction (never without the sign);
* ``a / b`` needs ``b > 0``; then ``a * (1/b)`` with ``1/b`` of the opposite direction;
* ``a^k``: k integer >= 1 keeps the direction when ``a >= 0`` (or k odd); ``k < 0`` needs
  ``a > 0`` and flips; a fractional ``k > 0`` needs ``a >= 0``;
* ``exp`` keeps the direction (> 0); ``log`` needs ``a > 0``; ``sqrt`` needs ``a >= 0``;
* ``min``/``max`` of same-direction arguments keep it;
* ``ite(l > r, a, b)``: a, b of one direction d, and ``l - r`` of a direction (the region
  where ``a`` applies is then an up- or down-set), and the jump at the threshold goes the
  right way: ``a - b >= 0`` everywhere (``b - a`` for a down-set) by this calculus.

Anything else is None with the reason; the caller then asks z3 or sympy on the same tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from proofs.compile import tree as T

FLIP = {"inc": "dec", "dec": "inc", "const": "const", None: None}


@dataclass(frozen=True)
class Facts:
    lo: Fraction | None
    hi: Fraction | None
    pos: bool
    mono: str | None
    undefined: str | None = None  #: why f may be undefined somewhere (None: defined)

    @property
    def nonneg(self) -> bool:
        return self.pos or (self.lo is not None and self.lo >= 0)

    @property
    def nonpos(self) -> bool:
        return self.hi is not None and self.hi <= 0


#: The one rule a planted-bug test replaces (a product treated as increasing without its
#: sign condition must make the corpus test fail).
def product_direction(fa: Facts, fb: Facts) -> str | None:
    if fa.mono == "const" or fb.mono == "const":
        c, g = (fa, fb) if fa.mono == "const" else (fb, fa)
        if c.nonneg:
            return g.mono
        return FLIP[g.mono] if c.nonpos else None
    if fa.nonneg and fb.nonneg:
        return same(fa.mono, fb.mono)
    return None


def same(a, b):
    if a == "const":
        return b
    if b == "const":
        return a
    return a if a == b else None


def _add(x, y):
    return None if x is None or y is None else x + y


def _why(*fs):
    return next((f.undefined for f in fs if f.undefined), None)


def facts(n: T.Node, domains: dict) -> Facts:
    """The calculus's facts of ``n`` on ``x >= 0`` (module docstring)."""
    op = n.op
    if op == "const":
        q = T.value(n)
        return Facts(q, q, q > 0, "const")
    if op == "bid":
        return Facts(Fraction(0), None, False, "inc")
    if op == "param":
        d = domains[n.args[0]]
        return Facts(d.lo, d.hi, d.lo is not None and (d.lo > 0 or (d.lo == 0 and d.lo_open)),
                     "const")
    if op == "ite":
        return _ite(n, domains)
    args = [facts(a, domains) for a in n.args]
    return RULES[op](*args, n=n, domains=domains)


def _r_add(a, b, **_):
    return Facts(_add(a.lo, b.lo), _add(a.hi, b.hi), (a.pos and b.nonneg) or (b.pos and a.nonneg),
                 same(a.mono, b.mono), _why(a, b))


def _r_neg(a, **_):
    return Facts(None if a.hi is None else -a.hi, None if a.lo is None else -a.lo,
                 a.hi is not None and a.hi < 0, FLIP[a.mono], a.undefined)


def _r_sub(a, b, **_):
    return _r_add(a, _r_neg(b))


def _r_mul(a, b, **_):
    lo = hi = None
    if a.nonneg and b.nonneg:
        lo = a.lo * b.lo if a.lo is not None and b.lo is not None else Fraction(0)
        hi = a.hi * b.hi if a.hi is not None and b.hi is not None else None
    elif None not in (a.lo, a.hi, b.lo, b.hi):
        ps = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
        lo, hi = min(ps), max(ps)
    return Facts(lo, hi, a.pos and b.pos, product_direction(a, b), _why(a, b))


def _recip(b: Facts) -> Facts:
    if not b.pos and not (b.lo is not None and b.lo > 0):
        return Facts(None, None, False, None, b.undefined or "a denominator may be <= 0")
    lo = Fraction(1) / b.hi if b.hi is not None and b.hi > 0 else Fraction(0)
    hi = Fraction(1) / b.lo if b.lo is not None and b.lo > 0 else None
    return Facts(lo, hi, True, FLIP[b.mono], b.undefined)


def _r_div(a, b, **_):
    return _r_mul(a, _recip(b))


def _r_pow(a, kf, n=None, **_):
    if not T.is_const(n.args[1]):      # a parameter exponent: its domain's sign decides
        if kf.lo is not None and kf.lo >= 0 and a.nonneg:
            return Facts(Fraction(0), None, a.pos, a.mono, a.undefined)
        if kf.hi is not None and kf.hi <= 0 and (a.pos or (a.lo is not None and a.lo > 0)):
            return Facts(Fraction(0), None, True, FLIP[a.mono], a.undefined)
        return Facts(None, None, False, None, a.undefined or "a power whose exponent's sign "
                     "or base's sign is not known")
    k = T.value(n.args[1])
    if k == 0:
        return Facts(Fraction(1), Fraction(1), True, "const", a.undefined)
    if k.denominator == 1 and k > 0:
        if a.nonneg:
            return Facts(a.lo ** int(k) if a.lo is not None else Fraction(0),
                         None if a.hi is None else a.hi ** int(k), a.pos, a.mono, a.undefined)
        odd = int(k) % 2 == 1
        return Facts(None, None, False, a.mono if odd else None, a.undefined)
    if k < 0:
        if not (a.pos or (a.lo is not None and a.lo > 0)):
            return Facts(None, None, False, None, a.undefined or "a negative power of a value "
                         "that may be 0 or negative")
        return Facts(Fraction(0), None, True, FLIP[a.mono], a.undefined)
    if not a.nonneg:
        return Facts(None, None, False, None, a.undefined or "a fractional power of a value "
                     "that may be negative")
    return Facts(Fraction(0), None, a.pos, a.mono, a.undefined)


def _r_exp(a, **_):
    return Facts(Fraction(1) if a.lo is not None and a.lo >= 0 else Fraction(0),
                 Fraction(1) if a.hi is not None and a.hi <= 0 else None, True, a.mono,
                 a.undefined)


def _r_log(a, **_):
    if not (a.pos or (a.lo is not None and a.lo > 0)):
        return Facts(None, None, False, None, a.undefined or "log of a value that may be <= 0")
    return Facts(Fraction(0) if a.lo is not None and a.lo >= 1 else None,
                 Fraction(0) if a.hi is not None and a.hi <= 1 else None,
                 a.lo is not None and a.lo > 1, a.mono, a.undefined)


def _r_sqrt(a, **_):
    if not a.nonneg:
        return Facts(None, None, False, None, a.undefined or "sqrt of a value that may be < 0")
    return Facts(Fraction(1) if a.lo is not None and a.lo >= 1 else Fraction(0), None, a.pos,
                 a.mono, a.undefined)


def _lo_min(x, y):
    return None if x is None or y is None else min(x, y)


def _hi_max(x, y):
    return None if x is None or y is None else max(x, y)


def _r_min(a, b, **_):
    hi = a.hi if b.hi is None else b.hi if a.hi is None else min(a.hi, b.hi)
    return Facts(_lo_min(a.lo, b.lo), hi, a.pos and b.pos, same(a.mono, b.mono), _why(a, b))


def _r_max(a, b, **_):
    lo = a.lo if b.lo is None else b.lo if a.lo is None else max(a.lo, b.lo)
    return Facts(lo, _hi_max(a.hi, b.hi), a.pos or b.pos, same(a.mono, b.mono), _why(a, b))


RULES = {"add": _r_add, "neg": _r_neg, "sub": _r_sub, "mul": _r_mul, "div": _r_div,
         "pow": _r_pow, "exp": _r_exp, "log": _r_log, "sqrt": _r_sqrt, "min": _r_min,
         "max": _r_max}


def _ite(n: T.Node, domains) -> Facts:
    (c, l, r), a, b = n.args
    fa, fb = facts(a, domains), facts(b, domains)
    g = facts(T.Node("sub", (l, r)), domains)
    lo, hi = _lo_min(fa.lo, fb.lo), _hi_max(fa.hi, fb.hi)
    d = same(fa.mono, fb.mono)
    mono = None
    if d is not None and g.mono is not None and not g.undefined:
        if g.mono == "const":
            mono = d                       # the branch is the same for every x
        else:
            up = g.mono == "inc"           # where a applies: an up-set (g inc) or a down-set
            want_inc = d in ("inc", "const")
            jump = T.Node("sub", (a, b) if up == want_inc else (b, a))
            if facts(jump, domains).nonneg:
                mono = "inc" if want_inc else "dec"
    return Facts(lo, hi, fa.pos and fb.pos, mono, _why(fa, fb, g))


def nonneg_nondec(n: T.Node, domains: dict) -> tuple[bool, bool, str]:
    """``(f >= 0 derived, f non-decreasing derived, reason)`` for the tree on x >= 0."""
    f = facts(n, domains)
    if f.undefined:
        return False, False, f"f may be undefined: {f.undefined}"
    why = f"calculus: f in [{f.lo}, {'oo' if f.hi is None else f.hi}], direction {f.mono}"
    return f.nonneg, f.mono in ("inc", "const"), why
