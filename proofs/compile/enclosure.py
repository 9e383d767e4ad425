"""Interval enclosures of a tree's exact value, computed beside its generated float64 code
(docs/theory.md section 8, "The code that runs").

The provers read a compiled tree in exact reals; the rule that runs evaluates the float64
code generated from it (:mod:`proofs.compile.evaluate`). The two can part ways in two places:
a comparison whose sides are computed (``(b + 0.7) - 0.7 >= b`` is true in reals and false
in float64 for some ``b``: the branches swap), and a value that float64 computes with large
error (``1e20 * (((b + c) - c) - b)`` is 0 in reals). :func:`certified` bounds every node
of the trees by an interval that holds both its exact value and its float64 value (outward
rounding: each basic operation's bounds move one float outward, exp, log, sqrt and
powers' by :data:`TRANSCENDENTAL` relative, more than numpy's error on them),
and says on which bid rows the float64 answer is certified: every comparison the trees make
is decided by the bounds alone (so the float64 code takes the branch the exact tree takes)
and every output lies within :data:`ACCURACY` of its exact value. The rule evaluates the
other rows on the exact tree or declines them (:meth:`GenericRule._batch`,
:meth:`FamilyRule.log_weights`): the code that runs is then the proved tree, to within
``ACCURACY`` per output.

An interval is a pair ``(lo, hi)`` of float64 arrays (or scalars) broadcast over the rows;
a NaN bound means nothing is known there (an undefined value, ``0 * inf``): every
comparison with it is False, so it decides no branch and certifies no output.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from mechanism.arith import Unsupported

from proofs.compile import evaluate as E
from proofs.compile import tree as T

#: How far the float64 code's outputs may be from the exact tree's values on a row the
#: enclosure certifies (probabilities; for a family's weights: their logs).
ACCURACY = 1e-10
#: What a compiled rule's PROVED says of the code that runs (every proof's scope names it).
CERTIFIED_CODE = ("the code that runs: the generated float64 code where interval bounds "
                  f"certify that it takes the tree's branches and gives each output within "
                  f"{ACCURACY} of the tree's value (a weight: its log), the tree's exact "
                  "value (or a declined input) elsewhere")
#: Outward rounding: a basic operation (+ - * /, correctly rounded: half an ulp is its
#: whole error) moves each bound one float outward; exp, log, sqrt and powers (numpy's are
#: within a few ulps) by this much relatively.
TRANSCENDENTAL = 2.0 ** -44
_TINY = 4 * 2.0 ** -1074
_INF = np.inf
_NAN = np.nan


def _down(x):
    return np.nextafter(x, -_INF)


def _up(x):
    return np.nextafter(x, _INF)


def _down_t(x):
    return x - (np.abs(x) * TRANSCENDENTAL + _TINY)


def _up_t(x):
    return x + (np.abs(x) * TRANSCENDENTAL + _TINY)


def _unknown_where(bad, box):
    return np.where(bad, _NAN, box[0]), np.where(bad, _NAN, box[1])


def _corners(values, down, up):
    lo, hi = values[0], values[0]
    for v in values[1:]:                 # NaN (0 * inf, inf / inf) propagates: unknown
        lo, hi = np.minimum(lo, v), np.maximum(hi, v)
    return down(lo), up(hi)


def _point(q: Fraction):
    """The tightest float64 bounds of an exact rational."""
    try:
        f = float(q)
    except OverflowError:
        f = _INF if q > 0 else -_INF
    if np.isfinite(f) and Fraction(f) == q:
        return np.float64(f), np.float64(f)
    return np.nextafter(np.float64(f), -_INF), np.nextafter(np.float64(f), _INF)


def _leaf(value):
    if isinstance(value, Fraction):
        return _point(value)
    v = np.asarray(value, dtype=np.float64)
    return v, v


def decided(cmp: str, left, right):
    """(true, false): rows where ``left > right`` (``>=`` for "ge") holds for every value
    in the bounds, and where it fails for every one; neither: undecided (a NaN bound is an
    unknown one: every comparison with it is False). An infinite bound may be an overflow
    (an exact value beyond float64's range, finite): two equal infinite bounds decide
    nothing."""
    (ll, lh), (rl, rh) = left, right
    if cmp == "gt":
        return ll > rh, (lh <= rl) & ~((lh == rl) & np.isinf(lh))
    return (ll >= rh) & ~((ll == rh) & np.isinf(ll)), lh < rl


def _mul(a, b):
    return _corners([a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]], _down, _up)


def _div(a, b):
    box = _corners([a[0] / b[0], a[0] / b[1], a[1] / b[0], a[1] / b[1]], _down, _up)
    return _unknown_where((b[0] <= 0) & (b[1] >= 0), box)


def _monotone(f, a):
    return _down_t(f(a[0])), _up_t(f(a[1]))


def _log(a):
    """``log`` on ``[lo, hi]``, ``log 0 = -inf`` (a veto, as numpy's; kept exact); a bound
    below 0 may be a value where the tree is undefined: unknown."""
    lo, hi = _monotone(np.log, a)
    return _unknown_where(a[0] < 0, (lo, np.where(a[1] == 0, -_INF, hi)))


def _sqrt(a):
    lo, hi = _monotone(np.sqrt, a)
    return _unknown_where(a[0] < 0, (np.maximum(lo, 0.0), hi))


def _power(a, k):
    """``a ** k``, ``k`` an interval (a constant exponent is a point)."""
    lo, hi = _corners([np.power(x, y) for x in a for y in k], _down_t, _up_t)
    if np.all(np.asarray(k[0]) == np.asarray(k[1])) and np.size(k[0]):
        kk = float(np.asarray(k[0]).reshape(-1)[0])
        if kk == int(kk) and kk > 0:     # an integer power of a base whose sign may change
            if int(kk) % 2 == 0:
                lo = np.where((a[0] < 0) & (a[1] > 0), 0.0, lo)
            return lo, hi                # odd: monotone, the corners bound it
        if kk == int(kk):                # 1 / x^m: unbounded where the base may be 0
            return _unknown_where((a[0] <= 0) & (a[1] >= 0), (lo, hi))
    return _unknown_where(a[0] <= 0, (lo, hi))  # a fractional or variable exponent: base > 0


_OPS = {"add": lambda a, b: (_down(a[0] + b[0]), _up(a[1] + b[1])),
        "sub": lambda a, b: (_down(a[0] - b[1]), _up(a[1] - b[0])),
        "mul": _mul, "div": _div, "neg": lambda a: (-a[1], -a[0]),
        "min": lambda a, b: (np.minimum(a[0], b[0]), np.minimum(a[1], b[1])),
        "max": lambda a, b: (np.maximum(a[0], b[0]), np.maximum(a[1], b[1])),
        "exp": lambda a: _monotone(np.exp, a), "log": _log, "sqrt": _sqrt, "pow": _power}


def bounds(trees, x, params=None, elementwise=False):
    """(bounds per tree, undecided): each node bounded once, children first, in the order
    of the trees' float64 program (:func:`proofs.compile.evaluate.program`, built once);
    ``undecided`` a boolean array (or scalar) of the rows where some comparison of the
    trees is not decided by the bounds. Bids and leaves as for the float64 code: bid j is
    ``x[..., j]``, or ``x`` itself for a one-variable tree (``elementwise``). A bound is NaN
    where nothing is known (an undefined value: it decides and certifies nothing)."""
    x, params, undecided = np.asarray(x, dtype=np.float64), params or {}, np.False_
    prog = E.program(trees)
    box: list = []
    with np.errstate(all="ignore"):
        for n, ks in zip(prog.nodes, prog.kids):
            op = n.op
            if op == "const":
                box.append(_point(T.value(n)))
            elif op == "bid":
                box.append(_leaf(x if elementwise else x[..., n.args[0]]))
            elif op == "param":
                box.append(_leaf(params[n.args[0]]))
            elif op in ("report", "ref", "lam"):
                box.append(_leaf(params[T.leaf_key(n)]))
            elif op == "ite":
                left, right, (al, ah), (bl, bh) = (box[k] for k in ks)
                yes, no = decided(n.args[0][0], left, right)
                undecided = undecided | ~(yes | no)
                box.append((np.where(yes, al, np.where(no, bl, np.minimum(al, bl))),
                            np.where(yes, ah, np.where(no, bh, np.maximum(ah, bh)))))
            else:
                box.append(_OPS[op](*(box[k] for k in ks)))
    return [box[k] for k in prog.outputs], undecided


def certified(trees, x, params=None, elementwise=False, accuracy=ACCURACY):
    """A boolean array over the rows of ``x``: True where the float64 code of ``trees`` takes
    the exact tree's branch at every comparison and each output is within ``accuracy`` of
    its exact value."""
    outs, undecided = bounds(trees, x, params, elementwise)
    ok = ~np.asarray(undecided)
    for lo, hi in outs:
        ok = ok & (np.asarray(hi) - np.asarray(lo) <= accuracy)
    return ok


def log_bounds(n: T.Node, x, params, elementwise):
    """Bounds of ``log |f|`` computed structurally as
    :func:`proofs.compile.evaluate.log_weight` computes it (``log exp(a) = a``, ``log(a b) =
    log|a| + log|b|``, ...): ``(lo, hi, sign_decided, zero, undecided)``, ``zero`` where f
    is exactly 0 for every value in the bounds."""
    op = n.op
    if op == "exp":
        ((lo, hi),), und = bounds((n.args[0],), x, params, elementwise)
        return lo, hi, np.True_, hi == -_INF, und
    if op in ("mul", "div"):
        al, ah, asg, az, au = log_bounds(n.args[0], x, params, elementwise)
        bl, bh, bsg, bz, bu = log_bounds(n.args[1], x, params, elementwise)
        zero = (az | bz) if op == "mul" else az & ~bz
        if op == "mul":
            return _down(al + bl), _up(ah + bh), asg & bsg, zero, au | bu
        return _down(al - bh), _up(ah - bl), asg & bsg & ~bz, zero, au | bu
    if op == "sqrt" or (op == "pow" and T.is_const(n.args[1])):
        k = 0.5 if op == "sqrt" else float(T.value(n.args[1]))
        al, ah, asg, az, au = log_bounds(n.args[0], x, params, elementwise)
        lo, hi = (k * al, k * ah) if k >= 0 else (k * ah, k * al)
        return (_down_t(lo), _up_t(hi), asg & ~(az & (k < 0)),
                az & (k > 0), au)
    ((lo, hi),), und = bounds((n,), x, params, elementwise)
    sign = (lo > 0) | (hi < 0) | ((lo == 0) & (hi == 0))
    mag = (np.where(lo > 0, lo, np.where(hi < 0, -hi, 0.0)), np.maximum(np.abs(lo), np.abs(hi)))
    llo, lhi = _monotone(np.log, mag)
    return llo, lhi, sign, (lo == 0) & (hi == 0), und


def log_certified(n: T.Node, x, params=None, elementwise=True, accuracy=ACCURACY):
    """Where :func:`proofs.compile.evaluate.log_weight`'s ``(log |f|, sign f)`` is certified:
    every comparison decided, the sign decided, and ``log |f|`` within ``accuracy`` (a
    weight's relative error) or ``f`` exactly 0."""
    with np.errstate(all="ignore"):
        lo, hi, sign, zero, undecided = log_bounds(n, x, params, elementwise)
        return ~np.asarray(undecided) & np.asarray(sign) & (zero | (hi - lo <= accuracy))


def running_weight(n: T.Node, x) -> np.ndarray:
    """A one-variable weight tree at the points ``x`` as a rule runs it (:meth:`proofs.
    compile.rule.FamilyRule.log_weights`): the float64 code where :func:`log_certified`
    certifies it, the exact tree's value elsewhere, NaN where that needs exp/log or is
    undefined (the rule declines there)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        y = np.array(np.broadcast_to(E.numpy_value(n, x), x.shape), dtype=np.float64)
    for k in map(tuple, np.argwhere(~np.broadcast_to(log_certified(n, x), x.shape))):
        try:
            y[k] = float(E.fraction_value(n, [float(x[k])], {}))
        except (Unsupported, ZeroDivisionError, OverflowError):
            y[k] = np.nan
    return y
