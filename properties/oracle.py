"""An independent oracle for Myerson's identity (docs/theory.md, "Value models and their
Myerson identities"), used by ``check`` and ``audit`` to judge payments.

The mechanism's own identity (:func:`mechanism.valuations.myerson`) integrates with an
adaptive Gauss-Kronrod G7/K15 rule between jumps that it locates by recursive quarter
subdivision of a 65-point scan. This oracle differs in method on purpose, so that a bug
in one is caught by the other: it scans the allocation on a uniform grid of :data:`SCAN`
points (plus the caller's candidates), evaluates the quarter points of every rising step
in one batched call, follows every step that is not straight there (a quarter point off
the chord by more than a tenth of the rise) by plain bisection towards the half that
carries the larger rise (a jump keeps its rise at every scale), searches what is left of
the step again (it may hold a second jump), and integrates the pieces between the jumps
with QUADPACK (``scipy.integrate.quad``: 21-point Gauss-Kronrod with epsilon
extrapolation, adaptive, with its own error estimate), each located jump's tiny interval
by its trapezoid with the bound ``width x rise``. An allocation the caller knows to be
smooth (the built-in linear and log-linear rules) is integrated by composite Simpson on
uniform nodes (:func:`simpson`, numpy only: all nodes of one allocation in one batched
call) with a Richardson-style bound instead. scipy is an optional dependency of the
checker (the ``test`` extra); without it the jump-aware path falls back to the
mechanism's integrator and says so in ``method``.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

#: Uniform scan points of [0, bid].
SCAN = 257
#: Bisection steps per rising scan step (width bid / SCAN / 2^STEPS).
STEPS = 48
#: QUADPACK's tolerances: far below the identity checks' 1e-6, above the integrand's
#: roundoff (tighter ones make QUADPACK subdivide noise: thousands of rule evaluations).
EPSABS, EPSREL = 1e-10, 1e-9
#: QUADPACK's subintervals per piece (21 evaluations each); its error estimate says when
#: that was not enough.
LIMIT = 50
#: Points of the batched composite Simpson rule for allocations known to be smooth.
SIMPSON_POINTS = 513


#: Bids times tokens per call of the allocation (with ``tokens`` known): bounded temporaries,
#: and matrix products small enough for the BLAS to keep on one thread (a multi-threaded
#: product waits for a busy core: on a loaded 2-core machine a 514-node call over 674
#: tokens took 8x longer than the same nodes in blocks of 48).
CALL_ENTRIES = 1 << 15
#: The fewest bids per call (per-call overhead).
MIN_NODES = 16


def nodes_per_call(tokens: int) -> int:
    return max(MIN_NODES, CALL_ENTRIES // max(1, int(tokens)))


def in_blocks(x, block: int):
    """``x`` evaluated on at most ``block`` bids per call, the results concatenated (an
    allocation is a function of each bid alone: the same values as one call)."""
    def blocked(s):
        s = np.asarray(s, dtype=np.float64)
        if s.ndim != 1 or s.size <= block:
            return x(s)
        return np.concatenate([np.asarray(x(s[k:k + block]), dtype=np.float64).ravel()
                               for k in range(0, s.size, block)])
    return blocked


def _ev(x, pts) -> np.ndarray:
    return np.asarray(x(np.asarray(pts, dtype=np.float64)), dtype=np.float64)


def _jumps(x, bid: float, candidates) -> list[tuple[float, float, float, float]]:
    grid = np.unique(np.concatenate((np.linspace(0.0, bid, SCAN),
                                     [c for c in candidates if 0.0 < c < bid])))
    y = _ev(x, grid)
    noise = 1e-12 * max(1.0, float(np.max(np.abs(y))))  # allocations are O(1): roundoff floor
    steps = [(float(grid[k]), float(grid[k + 1]), float(y[k]), float(y[k + 1]))
             for k in range(len(grid) - 1) if abs(y[k + 1] - y[k]) > noise]
    out = []
    while steps:
        # one batched call: the quarter points of every rising step
        qs = np.array([[lo + (hi - lo) * f for f in (0.25, 0.5, 0.75)]
                       for lo, hi, _, _ in steps])
        yq = _ev(x, qs.ravel()).reshape(-1, 3)
        suspects = []
        for (lo, hi, ylo, yhi), ys in zip(steps, yq):
            chord = ylo + (yhi - ylo) * np.array([0.25, 0.5, 0.75])
            if np.max(np.abs(ys - chord)) > 0.1 * abs(yhi - ylo):
                suspects.append((lo, hi, ylo, yhi))
        steps = []
        for lo, hi, ylo, yhi in suspects:
            a, b, ya, yb = lo, hi, ylo, yhi
            for _ in range(STEPS):  # bisect towards the half with the larger rise
                m = 0.5 * (a + b)
                ym = float(_ev(x, [m])[0])
                if abs(ym - ya) >= abs(yb - ym):
                    b, yb = m, ym
                else:
                    a, ya = m, ym
            if abs(yb - ya) <= noise:
                continue  # a steep smooth stretch, not a jump
            out.append((a, b, ya, yb))
            # the rest of the step may hold another jump: search it again
            steps += [(l2, h2, y2, z2) for l2, h2, y2, z2 in ((lo, a, ylo, ya), (b, hi, yb, yhi))
                      if h2 > l2 and abs(z2 - y2) > noise]
    return sorted(out)


def identity(x: Callable[[np.ndarray], np.ndarray], bid: float, candidates=(), *,
             jumps: bool = True, tokens: int | None = None) -> tuple[float, float, str]:
    """``(bid x(bid) - int_0^bid x, error bound, method)`` for an allocation ``x`` that
    takes an array of bids. ``jumps=False``: an allocation known to be smooth in the own
    bid (no jump scan; batched Simpson, split at the candidates, see :func:`_smooth`).
    ``tokens``: the vocabulary ``x`` works on, if known; then ``x`` sees at most
    :func:`nodes_per_call` bids per call (:func:`in_blocks`)."""
    if bid <= 0:
        return 0.0, 0.0, "zero bid"
    if tokens is not None:
        x = in_blocks(x, nodes_per_call(tokens))
    if bid != 1.0:  # on s = bid t, t in [0, 1]: the quadrature's tolerances become relative
        z, err, how = identity(lambda t: x(bid * np.asarray(t)), 1.0,
                               [c / bid for c in candidates], jumps=jumps)
        return bid * z, bid * err, how
    if not jumps:
        return _smooth(x, bid, candidates)
    top = float(np.asarray(x(np.array([bid])), dtype=np.float64)[0])
    try:
        from scipy.integrate import quad
    except ImportError:  # pragma: no cover - scipy is in the test extra
        from mechanism.valuations import myerson
        z, err = myerson(x, bid, 1e-11, candidates=candidates)
        return z, err, "mechanism quadrature (scipy absent: not an independent oracle)"
    jumps = _jumps(x, bid, candidates)
    area = err = 0.0
    left = 0.0

    def f(s):
        return float(np.asarray(x(np.array([s])), dtype=np.float64)[0])

    def piece(a, b):
        if b <= a:
            return 0.0, 0.0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            v, e = quad(f, a, b, limit=LIMIT, epsabs=EPSABS, epsrel=EPSREL)
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


def _smooth(x, bid, candidates) -> tuple[float, float, str]:
    """An allocation known to be smooth in the bid (the built-in linear and log-linear
    rules, whose TV curve may still have many small kinks, where QUADPACK would subdivide
    for thousands of evaluations): composite Simpson on :data:`SIMPSON_POINTS` points per
    piece between the candidates, every piece's points and ``bid`` itself in ONE batched
    call, with the difference to Simpson on every other point as the error bound (Simpson
    converges at least as O(h^2) on a kinked curve, so that difference bounds the finer
    one's error)."""
    cuts = [0.0] + sorted(float(c) for c in candidates if 0.0 < c < bid) + [bid]
    nodes = np.concatenate([np.linspace(a, b, SIMPSON_POINTS)
                            for a, b in zip(cuts[:-1], cuts[1:])] + [[bid]])
    y = _ev(x, nodes)
    top = float(y[-1])
    pieces = y[:-1].reshape(len(cuts) - 1, SIMPSON_POINTS)
    widths = np.diff(np.asarray(cuts))
    fine, coarse = simpson(pieces, widths), simpson(pieces[:, ::2], widths)
    area, err = float(fine.sum()), float(np.abs(fine - coarse).sum())
    return float(bid * top - area), err, "composite Simpson (smooth allocation)"


def simpson(y: np.ndarray, width) -> np.ndarray:
    """Composite Simpson of each row of ``y`` (an odd number of equally spaced values over
    an interval of length ``width``): ``h/3 (y_0 + 4 y_1 + 2 y_2 + ... + 4 y_{N-1} + y_N)``."""
    y = np.asarray(y, dtype=np.float64)
    h = np.asarray(width, dtype=np.float64) / (y.shape[-1] - 1)
    inner = 4.0 * y[..., 1:-1:2].sum(axis=-1) + 2.0 * y[..., 2:-1:2].sum(axis=-1)
    return h / 3.0 * (y[..., 0] + inner + y[..., -1])


__all__ = ["identity", "SCAN"]
