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


def _sum_bounds(a, b):
    """``[a0 + b0, a1 + b1]`` rounded outward only where the sum is inexact (Knuth's
    TwoSum gives each sum's exact error: a sum of exact numbers stays a point, so a zero
    weight stays exactly zero)."""
    out = []
    for x, y, outward in ((a[0], b[0], -_INF), (a[1], b[1], _INF)):
        s = x + y
        v = s - x
        err = (x - (s - v)) + (y - v)          # NaN where s is infinite: rounded outward
        keep = err >= 0 if outward < 0 else err <= 0
        out.append(np.where(keep, s, np.nextafter(s, outward)))
    return out[0], out[1]


def _exact_points(f, a, box, points):
    """``box``, or ``f``'s exact value where ``a`` is one of ``points`` (an input whose value
    the C library gives exactly: exp(0) = 1, log(1) = 0, sqrt(0) = 0, sqrt(1) = 1)."""
    lo, hi = box
    for p in points:
        at = (a[0] == p) & (a[1] == p)
        lo, hi = np.where(at, f(p), lo), np.where(at, f(p), hi)
    return lo, hi


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
    """The tightest float64 bounds of an exact rational, around the float64 the generated
    code uses for it (:func:`proofs.compile.evaluate.const_float`: one conversion)."""
    f = E.const_float(q)
    if np.isfinite(f) and Fraction(float(f)) == q:
        return f, f
    return np.nextafter(f, -_INF), np.nextafter(f, _INF)


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
    lo, hi = _corners([a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]], _down, _up)
    # a factor exactly 0 (and the other finite) makes the product exactly 0
    zero = (((a[0] == 0) & (a[1] == 0)) & np.isfinite(b[0]) & np.isfinite(b[1])) | \
        (((b[0] == 0) & (b[1] == 0)) & np.isfinite(a[0]) & np.isfinite(a[1]))
    return np.where(zero, 0.0, lo), np.where(zero, 0.0, hi)


def _div(a, b):
    box = _corners([a[0] / b[0], a[0] / b[1], a[1] / b[0], a[1] / b[1]], _down, _up)
    return _unknown_where((b[0] <= 0) & (b[1] >= 0), box)


def _monotone(f, a):
    return _down_t(f(a[0])), _up_t(f(a[1]))


def _log(a):
    """``log`` on ``[lo, hi]``, ``log 0 = -inf`` (a veto, as numpy's; kept exact); a bound
    below 0 may be a value where the tree is undefined: unknown."""
    lo, hi = _exact_points(np.log, a, _monotone(np.log, a), (1.0,))
    return _unknown_where(a[0] < 0, (lo, np.where(a[1] == 0, -_INF, hi)))


def _sqrt(a):
    lo, hi = _exact_points(np.sqrt, a, _monotone(np.sqrt, a), (0.0, 1.0))
    return _unknown_where(a[0] < 0, (np.maximum(lo, 0.0), hi))


def _exp(a):
    return _exact_points(np.exp, a, _monotone(np.exp, a), (0.0,))


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


_OPS = {"add": _sum_bounds, "sub": lambda a, b: _sum_bounds(a, (-b[1], -b[0])),
        "mul": _mul, "div": _div, "neg": lambda a: (-a[1], -a[0]),
        "min": lambda a, b: (np.minimum(a[0], b[0]), np.minimum(a[1], b[1])),
        "max": lambda a, b: (np.maximum(a[0], b[0]), np.maximum(a[1], b[1])),
        "exp": _exp, "log": _log, "sqrt": _sqrt, "pow": _power}


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


def certified(trees, x, params=None, elementwise=False, accuracy=ACCURACY, values=None):
    """A boolean array over the rows of ``x``: True where the float64 code of ``trees`` takes
    the exact tree's branch at every comparison and each output is within ``accuracy`` of
    its exact value. ``values``: the float64 code's outputs, which must lie in their bounds
    (a program the bounds do not describe, e.g. an operation replaced in the code's table,
    certifies nothing)."""
    outs, undecided = bounds(trees, x, params, elementwise)
    ok = ~np.asarray(undecided)
    for k, (lo, hi) in enumerate(outs):
        ok = ok & (np.asarray(hi) - np.asarray(lo) <= accuracy)
        if values is not None:
            ok = ok & (lo <= values[k]) & (values[k] <= hi)
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


def log_entry_bounds(n: T.Node, x, value, elementwise=True):
    """``(lo, hi, ok)`` of a weight tree's ``log |f|`` per entry of ``x``: ``ok`` where every
    comparison is decided, the sign is, and the code's ``value`` lies in the bounds (how wide
    they may be is :func:`weights_certified`'s question); ``lo = hi = -inf`` where f is 0."""
    with np.errstate(all="ignore"):
        lo, hi, sign, zero, undecided = log_bounds(n, x, {}, elementwise)
        ok = ~np.asarray(undecided) & np.asarray(sign) & \
            np.where(zero, value == -_INF, (lo <= value) & (value <= hi))
        return np.where(zero, -_INF, lo), np.where(zero, -_INF, hi), ok


def weights_certified(lo, hi, ok, log_lam=None, accuracy=ACCURACY) -> np.ndarray:
    """Per row (the last axis: the agents): every entry ``ok`` and every normalized weight
    ``f_j / (lambda + sum_k f_k)`` known within ``accuracy`` from the log bounds (agent j at
    its lowest and the others at their highest, and the reverse). A weight that float64
    computes with a large relative error but that is negligible beside the others' (log(1 +
    b) at b = 1e-9 against a bid of 1) is certified: its share's error is what the rule's
    output carries. A row of zero weights passes (the rule declines W = 0 itself)."""
    with np.errstate(all="ignore"):
        lo, hi = np.where(ok, lo, -_INF), np.where(ok, hi, -_INF)
        tops = [hi] if log_lam is None else [hi, np.broadcast_to(log_lam, hi.shape[:-1] + (1,))]
        top = np.max(np.concatenate(tops, axis=-1), axis=-1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        eh, el = np.exp(hi - top), np.exp(lo - top)
        lam = 0.0 if log_lam is None else np.exp(log_lam - top)
        others_hi = eh.sum(axis=-1, keepdims=True) + lam - eh
        others_lo = el.sum(axis=-1, keepdims=True) + lam - el
        width = eh / (eh + others_lo) - el / (el + others_hi)
        none = (hi == -_INF).all(axis=-1)
        return np.asarray(ok).all(axis=-1) & (none | (np.nan_to_num(width, nan=_INF)
                                                       <= accuracy).all(axis=-1))


def running_weight(n: T.Node, x) -> np.ndarray:
    """A one-variable weight tree at the points ``x`` as a rule runs it (:meth:`proofs.
    compile.rule.FamilyRule.log_weights`): the float64 code where its log bounds
    (:func:`log_entry_bounds`) certify it within the accuracy, the exact tree's value
    elsewhere, NaN where that needs exp/log or is undefined (the rule declines there)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        y = np.array(np.broadcast_to(E.numpy_value(n, x), x.shape), dtype=np.float64)
        L = np.log(np.abs(y))
        lo, hi, ok = log_entry_bounds(n, x, L)
        sure = ok & ((lo == hi) | (hi - lo <= ACCURACY))   # lo == hi == -inf: f is 0
    for k in map(tuple, np.argwhere(~np.broadcast_to(sure, x.shape))):
        try:
            y[k] = float(E.fraction_value(n, [float(x[k])], {}))
        except (Unsupported, ZeroDivisionError, OverflowError):
            y[k] = np.nan
    return y
