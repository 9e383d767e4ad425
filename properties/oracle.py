"""An independent oracle for Myerson's identity (docs/theory.md, "Value models and their
Myerson identities"), used by ``check`` and ``audit`` to judge payments.

The mechanism's own identity (:func:`mechanism.valuations.myerson`) integrates with an
adaptive Gauss-Kronrod G7/K15 rule and locates jumps with a recursive midpoint-linearity
test. This oracle differs in method on purpose, so that a bug in one is caught by the
other: it scans the allocation on a uniform grid of :data:`SCAN` points (plus the
caller's candidates), follows every step that rises more than 1.5 times a neighbouring
step (a smooth allocation's consecutive rises are nearly equal) by plain bisection towards the half
that carries the larger part of the rise (a jump keeps its rise at every scale; a smooth
step splits its rise between the halves and is left alone), and integrates the pieces between the jumps with QUADPACK (``scipy.integrate.quad``, 21-point
Gauss-Kronrod with epsilon extrapolation, adaptive, so a second jump in one scan step is
still integrated, with QUADPACK's error estimate), the located jumps' tiny intervals by
their trapezoid with the bound ``width x rise``. scipy is an
optional dependency of the checker (``pip install tokenauction[test]``); without it the
oracle falls back to the mechanism's integrator and says so in ``method``.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

#: Uniform scan points of [0, bid].
SCAN = 257
#: Bisection steps per rising scan step (width bid / SCAN / 2^STEPS).
STEPS = 48


def _jumps(x, bid: float, candidates) -> list[tuple[float, float, float, float]]:
    grid = np.unique(np.concatenate((np.linspace(0.0, bid, SCAN),
                                     [c for c in candidates if 0.0 < c < bid])))
    y = np.asarray(x(grid), dtype=np.float64)
    noise = 1e-12 * max(1.0, float(np.max(np.abs(y))))  # allocations are O(1): roundoff floor
    out = []
    rises = np.abs(np.diff(y))
    for k in range(len(grid) - 1):
        a, b, ya, yb = float(grid[k]), float(grid[k + 1]), float(y[k]), float(y[k + 1])
        r0 = float(rises[k])
        near = [rises[j] for j in (k - 1, k + 1) if 0 <= j < len(rises)]
        if r0 <= noise or (near and r0 <= 1.5 * min(near) + noise):
            continue  # no rise, or no larger than a neighbour's: no jump starts here
        for _ in range(STEPS):
            m = 0.5 * (a + b)
            ym = float(np.asarray(x(np.array([m])), dtype=np.float64)[0])
            left, right = abs(ym - ya), abs(yb - ym)
            if max(left, right) < 0.6 * abs(yb - ya):
                break  # the rise splits between the halves: smooth here, no jump
            if left >= right:
                b, yb = m, ym
            else:
                a, ya = m, ym
        else:
            out.append((a, b, ya, yb))
    return sorted(out)


def identity(x: Callable[[np.ndarray], np.ndarray], bid: float, candidates=(), *,
             jumps: bool = True) -> tuple[float, float, str]:
    """``(bid x(bid) - int_0^bid x, error bound, method)`` for an allocation ``x`` that
    takes an array of bids. ``jumps=False``: no scan (an allocation known to be smooth in
    the own bid); the candidates are still split at."""
    if bid <= 0:
        return 0.0, 0.0, "zero bid"
    top = float(np.asarray(x(np.array([bid])), dtype=np.float64)[0])
    try:
        from scipy.integrate import quad
    except ImportError:  # pragma: no cover - scipy is in the test extra
        from mechanism.valuations import myerson
        z, err = myerson(x, bid, 1e-11, candidates=candidates)
        return z, err, "mechanism quadrature (scipy absent: not an independent oracle)"
    if jumps:
        jumps = _jumps(x, bid, candidates)
    else:
        cs = sorted(float(c) for c in candidates if 0.0 < c < bid)
        jumps = [(c, c, 0.0, 0.0) for c in cs]
    area = err = 0.0
    left = 0.0

    def f(s):
        return float(np.asarray(x(np.array([s])), dtype=np.float64)[0])

    def piece(a, b):
        if b <= a:
            return 0.0, 0.0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            v, e = quad(f, a, b, limit=200, epsabs=1e-12, epsrel=1e-10)
        if caught:  # QUADPACK doubts its estimate (roundoff near a jump): widen the bound
            e = max(e, 1e-9 * max(1.0, abs(v)))
        return v, e

    for a, b, ya, yb in jumps:
        v, e = piece(left, a)
        area += v + 0.5 * (b - a) * (ya + yb)
        err += e + (b - a) * abs(yb - ya)
        left = b
    v, e = piece(left, bid)
    area, err = area + v, err + e
    return float(bid * top - area), float(err), f"scipy quad, {len(jumps)} breakpoints"


__all__ = ["identity", "SCAN"]
