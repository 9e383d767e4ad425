"""An independent oracle for Myerson's identity (docs/theory.md, "Value models and their
Myerson identities"), used by ``check`` and ``audit`` to judge payments.

The mechanism's own identity (:func:`mechanism.valuations.myerson`) integrates with an
adaptive Gauss-Kronrod G7/K15 rule between jumps that it locates by recursive quarter
subdivision of a 65-point scan. This oracle differs in method on purpose, so that a bug
in one is caught by the other: it scans the allocation on a uniform grid of :data:`SCAN`
points (plus the caller's candidates), evaluates the quarter points of every rising step
in one batched call, follows every step that is not straight there (a quarter point off
the chord by more than a tenth of the rise) by plain bisection towards the half that
carries the larger rise (a jump keeps its rise at every scale; all steps together,
:data:`DEPTH` bisections per call), searches what is left of the step again (it may hold
a second jump), and integrates the pieces between the jumps with QUADPACK
(``scipy.integrate.quad``: 21-point Gauss-Kronrod with epsilon extrapolation, adaptive,
with its own error estimate; its nodes fetched in batches, :class:`Kronrod21`), each
located jump's tiny interval
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
#: Bisection steps per call of the allocation (:func:`bisect_steps`: 2^DEPTH - 1 bids per
#: step and call; a caged allocation pays a pipe round trip per call, not per bid).
DEPTH = 2
#: A located jump counts when its rise is at least this share of its scan step's rise (a
#: steep smooth stretch bisects to a rise of ``slope x width``, far less); the rest of the
#: step is QUADPACK's. And at most this many rounds of re-searching a step's remainder (was:
#: a steep smooth stretch after a jump peeled into ~10^5 "jumps", an audit that never ended).
JUMP_SHARE = 1e-6
MAX_JUMP_ROUNDS = 64
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


def _midpoints(a: float, b: float, depth: int) -> list[float]:
    """Every midpoint the next ``depth`` bisections of ``[a, b]`` may visit, each computed as
    the bisection computes it (``0.5 (a + b)`` of the interval it halves): the same floats."""
    if depth <= 0:
        return []
    m = 0.5 * (a + b)
    return [m] + _midpoints(a, m, depth - 1) + _midpoints(m, b, depth - 1)


def bisect_steps(x, steps) -> list[tuple[float, float, float, float]]:
    """Each step ``(lo, hi, y(lo), y(hi))`` bisected :data:`STEPS` times towards the half with
    the larger rise. All steps advance together, :data:`DEPTH` bisections per call of ``x``:
    the call evaluates every midpoint those bisections may visit (:func:`_midpoints`), then
    the bisections read their midpoints' values -- the same points and values, and so the
    same intervals, as one midpoint per call."""
    state = [tuple(step) for step in steps]
    done = 0
    while state and done < STEPS:
        depth = min(DEPTH, STEPS - done)
        pts = [m for a, b, _, _ in state for m in _midpoints(a, b, depth)]
        value = dict(zip(pts, _ev(x, pts).tolist()))
        for k, (a, b, ya, yb) in enumerate(state):
            for _ in range(depth):
                m = 0.5 * (a + b)
                ym = value[m]
                if abs(ym - ya) >= abs(yb - ym):
                    b, yb = m, ym
                else:
                    a, ya = m, ym
            state[k] = (a, b, ya, yb)
        done += depth
    return state


def _jumps(x, bid: float, candidates) -> list[tuple[float, float, float, float]]:
    grid = np.unique(np.concatenate((np.linspace(0.0, bid, SCAN),
                                     [c for c in candidates if 0.0 < c < bid])))
    y = _ev(x, grid)
    noise = 1e-12 * max(1.0, float(np.max(np.abs(y))))  # allocations are O(1): roundoff floor
    steps = [(float(grid[k]), float(grid[k + 1]), float(y[k]), float(y[k + 1]))
             for k in range(len(grid) - 1) if abs(y[k + 1] - y[k]) > noise]
    out, rounds = [], 0
    while steps and rounds < MAX_JUMP_ROUNDS:
        rounds += 1
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
        for (lo, hi, ylo, yhi), (a, b, ya, yb) in zip(suspects, bisect_steps(x, suspects)):
            if abs(yb - ya) <= max(noise, JUMP_SHARE * abs(yhi - ylo)):
                continue  # a steep smooth stretch, not a jump
            out.append((a, b, ya, yb))
            # the rest of the step may hold another jump: search it again
            steps += [(l2, h2, y2, z2) for l2, h2, y2, z2 in ((lo, a, ylo, ya), (b, hi, yb, yhi))
                      if h2 > l2 and abs(z2 - y2) > noise]
    return sorted(out)


#: QUADPACK's 21-point Kronrod abscissae in (0, 1] (``dqk21``'s ``xgk`` on [-1, 1], but its 0),
#: in the order ``dqk21`` evaluates the pairs ``centre -/+ half-width x abscissa``.
KRONROD21 = (0.973906528517171720077964012084452, 0.865063366688984510732096688423493,
             0.679409568299024406234327365114874, 0.433395394129247190799265943165784,
             0.148874338981631210884826001129720, 0.995657163025808080735527280689003,
             0.930157491355708226001207180059508, 0.780817726586416897063717578345042,
             0.562757134668604683339000099272694, 0.294392862701460198131126603103866)


def kronrod_nodes(a: float, b: float) -> list[float]:
    """The 21 points at which QUADPACK's ``dqk21`` evaluates its integrand on ``[a, b]``,
    in its order, computed as it computes them."""
    c, h = 0.5 * (a + b), 0.5 * (b - a)
    return [c] + [c + sign * (h * g) for g in KRONROD21 for sign in (-1.0, 1.0)]


class Kronrod21:
    """The integrand QUADPACK's ``quad`` calls one point at a time, with the values of ``x``
    fetched in batches: the 21 nodes of every piece (and ``extra`` points) in one call, and
    when QUADPACK bisects an interval (it then integrates both halves: its next point is
    the centre of the first half), both halves' 42 nodes in one call. A point not foreseen
    is evaluated alone. Each value is ``x`` at that bid (an allocation is a function of each
    bid alone), so QUADPACK sees the values it would have computed itself."""

    def __init__(self, x, pieces, extra=()):
        self.x, self.value, self.known = x, {}, []
        self._fetch(pieces, extra)

    def _fetch(self, intervals, extra=()):
        pts = [p for a, b in intervals for p in kronrod_nodes(a, b)] + [float(e) for e in extra]
        if pts:
            self.value.update(zip(pts, _ev(self.x, pts).tolist()))
        self.known += intervals

    def _halves_centred_at(self, s: float) -> list[tuple[float, float]]:
        for a, b in reversed(self.known):
            m = 0.5 * (a + b)
            if 0.5 * (a + m) == s:
                return [(a, m), (m, b)]
        return []

    def __call__(self, s) -> float:
        s = float(s)
        if s not in self.value:
            self._fetch(self._halves_centred_at(s))
        if s not in self.value:
            self.value[s] = float(_ev(self.x, [s])[0])
        return self.value[s]


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
    try:
        import scipy.integrate  # noqa: F401  (the jump-aware path needs QUADPACK)
    except ImportError:  # pragma: no cover - scipy is in the test extra
        from mechanism.valuations import myerson
        z, err = myerson(x, bid, 1e-11, candidates=candidates)
        return z, err, "mechanism quadrature (scipy absent: not an independent oracle)"
    area, err, top, count = _area(x, bid, candidates)
    return float(bid * top - area), float(err), f"scipy quad, {count} breakpoints"


def _area(x, bid: float, candidates=()) -> tuple[float, float, float, int]:
    """``(int_0^bid x, error bound, x(bid), jumps)`` by QUADPACK between the located jumps
    (scipy present)."""
    from scipy.integrate import quad
    jumps = _jumps(x, bid, candidates)
    area = err = 0.0
    left = 0.0
    cuts = [left] + [c for a, b, _, _ in jumps for c in (a, b)] + [bid]
    f = Kronrod21(x, [(a, b) for a, b in zip(cuts[::2], cuts[1::2]) if b > a], [bid])
    top = f(bid)

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
    return float(area), float(err), float(top), len(jumps)


def difference(x: Callable[[np.ndarray], np.ndarray], s0: float, s1: float, candidates=()
               ) -> tuple[float, float]:
    """``(Z(s1) - Z(s0), error bound)`` of Myerson's payment ``Z(s) = s x(s) - int_0^s x``:
    ``s1 x(s1) - s0 x(s0) - int_{s0}^{s1} x``. The common part ``int_0^{min}`` cancels
    exactly, so only the short stretch between the bids is integrated (by :func:`_area`
    on it, rescaled to [0, 1]): a kink or jump elsewhere on the path cannot blur the
    difference, as it can blur each payment (a cap of the weight at 1 gave Z(1.001) 1.1e-7
    below Z(1) under both integrators, with estimates of 5e-9 and 4e-14)."""
    if s0 == s1:
        return 0.0, 0.0
    lo, hi = min(s0, s1), max(s0, s1)
    w = hi - lo
    g = lambda t: x(lo + w * np.asarray(t, dtype=np.float64))  # noqa: E731
    area, err, _, _ = _area(g, 1.0, [(c - lo) / w for c in candidates if lo < c < hi])
    ends = _ev(x, [s0, s1])
    sign = 1.0 if s1 > s0 else -1.0
    return float(s1 * ends[1] - s0 * ends[0] - sign * w * area), float(w * err)


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


__all__ = ["identity", "difference", "SCAN"]
