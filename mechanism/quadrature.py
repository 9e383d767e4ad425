"""Adaptive Gauss-Kronrod (G7/K15) quadrature, vectorized over the integrand's nodes;
interpolation on a panel's points and Chebyshev interpolation (:mod:`mechanism.crossings`).

Used for the payment identity ``Z(b) = b G(b) - int_0^b G`` (theory §6). The integrand
takes an array of points and returns an array of values, so one call evaluates a
rule at many bids at once (``Rule.batch``). Each interval is sampled at its 17
:func:`points`: both ends and the 15 Kronrod nodes. The reported error is the QUADPACK
estimate plus an end-gap term (see :func:`combine`), summed over the final intervals.

Why the ends: the outermost Kronrod nodes sit 0.43% of the interval inside each end, so
a jump there (winner-take-all, or any rule that switches at another agent's bid) is
invisible to K15 and G7 alike, and QUADPACK's estimate is exactly 0 for a wrong
integral (found by ``tokenauction check``: bids (0.5, 1.001) under winner-take-all gave
0.2002 for 0.2004). The end values expose such a jump and force refinement.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

_XGK = np.array([0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
                 0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
                 0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
                 0.207784955007898467600689403773245, 0.000000000000000000000000000000000])
_WGK = np.array([0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
                 0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
                 0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
                 0.204432940075298892414161999234649, 0.209482141084727828012999174891714])
_WG = np.array([0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
                0.381830050505118944950369775488975, 0.417959183673469387755102040816327])
# Kronrod nodes on [-1, 1]: -x0..-x6, 0, x6..x0 ; Gauss nodes are the odd-indexed x1, x3, x5 and 0.
NODES = np.concatenate((-_XGK[:7], [0.0], _XGK[6::-1]))
WK = np.concatenate((_WGK[:7], [_WGK[7]], _WGK[6::-1]))
WG = np.zeros(15)
WG[[1, 3, 5]] = _WG[:3]
WG[7] = _WG[3]
WG[[13, 11, 9]] = _WG[:3]


#: A panel's 17 points in [-1, 1]: the ends and the 15 Kronrod nodes (:func:`points` order).
PANEL_POINTS = np.concatenate(([-1.0], NODES, [1.0]))


def barycentric_weights(x: np.ndarray) -> np.ndarray:
    """``1 / prod_{k != j} (x_j - x_k)``: the barycentric weights of the points ``x``."""
    return np.array([1.0 / np.prod(x[j] - np.delete(x, j)) for j in range(len(x))])


_W17 = barycentric_weights(PANEL_POINTS)


#: A point nearer a node than this is on it (``w / (u - x)`` would overflow: only the node
#: 0 has such neighbours, subnormal numbers; the interpolant moves less than ``NEAR`` times
#: its slope between them).
NEAR = 1e-300


def lagrange(u, x: np.ndarray = PANEL_POINTS, w: np.ndarray = _W17) -> np.ndarray:
    """Lagrange basis of the points ``x`` (barycentric weights ``w``) at ``u``, (len(u),
    len(x)): interpolation from values at ``x`` is a product with it. A point within
    :data:`NEAR` of a node takes the node's value."""
    u = np.asarray(u, dtype=np.float64).ravel()
    diff = np.subtract.outer(u, x)
    hit = np.abs(diff) < NEAR
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if not hit.any():  # in place: one (len(u), len(x)) array, no masks
            np.divide(w, diff, out=diff)
            diff /= diff.sum(axis=1, keepdims=True)
            return diff
        r = w[None, :] / diff
        L = r / r.sum(axis=1, keepdims=True)
    rows = hit.any(axis=1)
    L[rows] = hit[rows].astype(np.float64)
    return L


def interpolate(u: np.ndarray, Y: np.ndarray, x: np.ndarray = PANEL_POINTS,
                w: np.ndarray = _W17) -> np.ndarray:
    """Row k's interpolant through ``(x, Y[k])`` at the points ``u[k]``: (K, m) from ``u``
    (K, m) and ``Y`` (K, len(x)), by the barycentric formula
    ``sum_j r_j Y_j / sum_j r_j``, ``r_j = w_j / (u - x_j)`` (:func:`lagrange`'s basis
    without normalizing it first: two passes fewer over the (K, m, len(x)) terms). A point
    on a node, or so near one that a term overflows, goes through :func:`lagrange`. The
    terms are laid out node-major, (len(x), K, m): every pass runs over ``K m`` points
    (inner loops of the node count, 17, cost several times more per term)."""
    u = np.asarray(u, dtype=np.float64)
    r = np.subtract(u, x[:, None, None])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        np.divide(w[:, None, None], r, out=r)
        out = np.einsum("jkm,kj->km", r, Y)
        out /= np.add.reduce(r, axis=0)
    bad = ~np.isfinite(out)
    if bad.any():
        k, q = np.nonzero(bad)
        out[k, q] = _off_formula(u[k, q], Y[k], x, w)
    return out


def interpolate_at(u: np.ndarray, Y: np.ndarray, x: np.ndarray = PANEL_POINTS,
                   w: np.ndarray = _W17) -> np.ndarray:
    """:func:`interpolate` at one point per row: row k's interpolant at ``u[k]``, (K,)."""
    r = np.subtract.outer(u, x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        np.divide(w, r, out=r)
        out = np.einsum("kj,kj->k", r, Y)
        out /= r @ _ones(len(x))
    finite = np.isfinite(out)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        out[bad] = _off_formula(u[bad], Y[bad], x, w)
    return out


def _ones(m: int) -> np.ndarray:
    """A vector of ``m`` ones (the barycentric denominators' sums), made once per size."""
    v = _ONES.get(m)
    if v is None:
        v = _ONES[m] = np.ones(m)
        v.flags.writeable = False
    return v


_ONES: dict[int, np.ndarray] = {}


#: Points off the formula up to which :func:`_off_formula` first looks for exact nodes.
EXACT_LOOKUP = 8


def _off_formula(u, Y, x, w):
    """Where the barycentric formula gave no number: a point on a node (or within
    :data:`NEAR` of one) takes its value, any other point goes through :func:`lagrange`. A
    few points each exactly on a node (a root at a panel's end: the usual case) are looked
    up among the nodes directly (the same values, without the arrays)."""
    if 0 < len(u) <= EXACT_LOOKUP:
        nodes = x.tolist()
        at = [nodes.index(v) if v in nodes else -1 for v in u.tolist()]
        if min(at) >= 0:
            return Y[np.arange(len(u)), at]
    near = np.abs(np.subtract.outer(u, x))
    j = np.argmin(near, axis=1)
    rows = np.arange(len(u))
    out = Y[rows, j]
    other = np.flatnonzero(~(near[rows, j] < NEAR))
    if len(other):
        out[other] = np.einsum("pj,pj->p", lagrange(u[other], x, w), Y[other])
    return out


def chebyshev_matrix(n: int) -> np.ndarray:
    """Values at ``cos(pi j / n)``, j = 0..n -> the coefficients of their Chebyshev
    interpolant of degree n."""
    j = np.arange(n + 1)
    M = np.cos(np.pi * np.outer(j, j) / n) * (2.0 / n)
    M[:, [0, n]] *= 0.5
    M[[0, n], :] *= 0.5
    return M


def nodes(a: float, b: float) -> np.ndarray:
    """The 15 Kronrod nodes mapped to ``[a, b]``."""
    return 0.5 * (a + b) + 0.5 * (b - a) * NODES


def points(a: float, b: float) -> np.ndarray:
    """The 17 sample points of an interval: ``a``, the 15 Kronrod nodes, ``b``."""
    return np.concatenate(([a], nodes(a, b), [b]))


def points_many(a, b) -> np.ndarray:
    """:func:`points` of many intervals at once: (m, 17) for ends ``a``, ``b`` of shape (m,)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    inner = 0.5 * (a + b)[:, None] + 0.5 * (b - a)[:, None] * NODES
    return np.hstack((a[:, None], inner, b[:, None]))


def _end_gap_error(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Error of the end gaps ``[x0, x1]`` and ``[x15, x16]``, where K15 and G7 see nothing
    (rows of ``x``, ``y``: (m, 17) intervals).

    An end value is *off trend* when it misses the line through the two nearest nodes by
    more than half the step between those nodes: a jump (or a sharp kink) lies in the
    gap. For a smooth integrand the miss is about ``gap / spacing`` (< 0.1) of that step,
    so nothing is added and K15's error estimate stands. Off trend, the gap's share of
    the integral is only known to lie between its end values (exact for a monotone
    integrand), so ``gap * |y_end - y_node|`` is added. Both ends in one pass (columns
    :data:`_ENDS`, :data:`_NEXT`, :data:`_THEN`)."""
    noise = 1e-12 * np.max(np.abs(y), axis=1)
    ye, y1, y2 = y[:, _ENDS], y[:, _NEXT], y[:, _THEN]
    xe, x1 = x[:, _ENDS], x[:, _NEXT]
    step = y1 - y2
    predicted = y1 + step * (xe - x1) / (x1 - x[:, _THEN])
    off = np.abs(ye - predicted) > 0.5 * np.abs(step) + noise[:, None]
    gap = np.where(off, np.abs(xe - x1) * np.abs(ye - y1), 0.0)
    return (0.0 + gap[:, 0]) + gap[:, 1]


#: The end points of a panel's 17, the nodes next to them and the ones after.
_ENDS, _NEXT, _THEN = np.array([0, 16]), np.array([1, 15]), np.array([2, 14])


def combine_many(y: np.ndarray, a, b, x: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`combine` of m intervals at once: ``y`` (m, 17) at :func:`points_many`
    ``(a, b)`` (``x``: those points, when the caller has them)."""
    y = np.asarray(y, dtype=np.float64)
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    h = 0.5 * (b - a)
    inner = y[:, 1:16]
    k, g = h * (inner @ WK), h * (inner @ WG)
    err = np.abs(k - g)
    wide = bool((h > 0).all())  # no empty interval: no guards (the same values)
    with np.errstate(divide="ignore", invalid="ignore"):
        if wide:
            mean = 0.5 * k / h
            resasc = h * (np.abs(inner - mean[:, None]) @ WK)
        else:
            mean = np.where(h > 0, 0.5 * k / np.where(h > 0, h, 1.0), 0.0)
            resasc = np.where(h > 0, h * (np.abs(inner - mean[:, None]) @ WK), 0.0)
        scaled = resasc * np.minimum(1.0, (200.0 * err / np.where(resasc > 0, resasc, 1.0)) ** 1.5)
    err = np.where((resasc > 0) & (err > 0), scaled, err)
    return k, err + _end_gap_error(points_many(a, b) if x is None else x, y)


def combine(y: np.ndarray, a: float, b: float) -> tuple[float, float]:
    """``(K15 estimate, error estimate)`` from the integrand's values at :func:`points`.

    The error estimate is QUADPACK's (qk15): ``|K15 - G7|`` scaled up by
    ``resasc * min(1, (200 |K15 - G7| / resasc)^1.5)``, which stays tiny for smooth
    integrands and is pessimistic where the integrand has kinks (a bare ``|K15 - G7|``
    can then underestimate the error), plus :func:`_end_gap_error`, which sees jumps
    between an end and the outermost node, where K15 and G7 see none."""
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (17,):
        raise ValueError(f"combine needs the integrand at the 17 points(a, b), got shape {y.shape}")
    k, err = combine_many(y[None, :], [a], [b])
    return float(k[0]), float(err[0])


def integrate(f: Callable[[np.ndarray], np.ndarray], a: float, b: float, *,
              tol: float = 1e-10, max_intervals: int = 32,
              first: np.ndarray | None = None) -> tuple[float, float]:
    """``(integral, error_estimate)`` of ``f`` over ``[a, b]``; adaptive bisection of the
    interval with the largest error until the total error is below ``tol * max(1, |I|)``
    or ``max_intervals`` intervals are in use (the error returned then says so).

    ``first``: the integrand already evaluated at ``points(a, b)`` (a batched first pass).
    A bisection reuses both end values and evaluates the two halves' nodes and the
    midpoint in one call of ``f`` (31 points). :func:`integrate_many` with one integral."""
    if b <= a:
        return 0.0, 0.0
    first = None if first is None else np.asarray(first, dtype=np.float64)[None, :]
    total, err = integrate_many(lambda _which, x: f(x), [a], [b], tol=tol,
                                max_intervals=max_intervals, first=first)
    return float(total[0]), float(err[0])


def integrate_many(f: Callable[[np.ndarray, np.ndarray], np.ndarray], a, b, *,
                   tol: float = 1e-10, max_intervals: int = 32,
                   first: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`integrate` of m integrands at once: ``(integrals, error_estimates)``, (m,).

    ``f(which, x)`` returns integrand ``which[k]`` at ``x[k]`` (both (K,)): every round
    bisects the worst interval of each integral that has not converged and evaluates all
    their new points in ONE call of ``f``. Each integral takes the same bisections it
    takes alone. ``first``: (m, 17) values at :func:`points_many` ``(a, b)``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    m = len(a)
    if first is None:
        first = f(np.repeat(np.arange(m), 17), points_many(a, b).ravel()).reshape(m, 17)
    first = np.asarray(first, dtype=np.float64)
    k0, e0 = combine_many(first, a, b)
    live = b > a
    # per integral: its intervals (lo, hi, y, k15, err)
    ivs = [[(a[j], b[j], first[j], k0[j], e0[j])] if live[j] else [] for j in range(m)]
    while True:
        work = []
        for j in np.flatnonzero(live):
            total = sum(iv[3] for iv in ivs[j])
            err = sum(iv[4] for iv in ivs[j])
            if err <= tol * max(1.0, abs(total)) or len(ivs[j]) >= max_intervals:
                live[j] = False
                continue
            worst = max(range(len(ivs[j])), key=lambda q: ivs[j][q][4])
            work.append((j, ivs[j].pop(worst)))
        if not work:
            break
        lo = np.array([iv[0] for _, iv in work])
        hi = np.array([iv[1] for _, iv in work])
        mid = 0.5 * (lo + hi)
        halves = points_many(np.concatenate((lo, mid)), np.concatenate((mid, hi)))
        w = len(work)  # rows :w the left halves, w: the right ones
        x = np.hstack((halves[:w, 1:17], halves[w:, 1:16]))
        which = np.repeat([j for j, _ in work], 31)
        new = np.asarray(f(which, x.ravel()), dtype=np.float64).reshape(w, 31)
        ys = np.array([iv[2] for _, iv in work])
        y2 = np.vstack((np.hstack((ys[:, :1], new[:, :16])), np.hstack((new[:, 15:], ys[:, 16:]))))
        k2, e2 = combine_many(y2, halves[:, 0], halves[:, 16], halves)
        for q, (j, _) in enumerate(work):
            ivs[j] += [(lo[q], mid[q], y2[q], k2[q], e2[q]),
                       (mid[q], hi[q], y2[w + q], k2[w + q], e2[w + q])]
    totals = np.array([sum(iv[3] for iv in ivs[j]) for j in range(m)])
    errors = np.array([sum(iv[4] for iv in ivs[j]) for j in range(m)])
    return totals, errors


# ---------------------------------------------------------------------------
# Breakpoints: where the integrand jumps (docs/theory.md, "Value models ...")
# ---------------------------------------------------------------------------

#: Coarse scan of an interval for jumps (points, plus the caller's candidates).
SCAN_POINTS = 65
#: A jump is located to this relative width of the interval by bisection.
JUMP_WIDTH = 1e-12
#: A step is linear when its quarter points miss the chord by at most this share of its rise.
LINEAR_SHARE = 0.1


def find_jumps(f: Callable[[np.ndarray], np.ndarray], a: float, b: float, *,
               candidates=(), scan: int = SCAN_POINTS,
               width: float = JUMP_WIDTH) -> list[tuple[float, float, float, float]]:
    """Jumps of ``f`` on ``[a, b]``: ``(lo, hi, f(lo), f(hi))`` with ``hi - lo <= width (b - a)``.

    ``f`` is scanned on ``scan`` equally spaced points plus ``candidates`` (e.g. the other
    agents' bids). A scan step is *not linear* when one of its quarter points misses the
    chord by more than :data:`LINEAR_SHARE` of the step's rise; such a step is cut in
    quarters, each searched again, down to ``width``: a jump stays not linear at every
    scale, while a smooth function looks linear after a few cuts (cost: three points per
    open step and level, about ``log4(1/width) = 20`` levels per jump; the open steps of
    one level are evaluated in one call of ``f``). Two or three equal jumps in
    one step cannot all sit where the quarter points see a straight line (they would need
    to miss the chord by less than a tenth of the rise at every quarter), which a single
    midpoint test allowed: two equal jumps around the midpoint."""
    if b <= a:
        return []
    xs = np.unique(np.concatenate((np.linspace(a, b, scan),
                                   [c for c in candidates if a < c < b])))
    ys = np.asarray(f(xs), dtype=np.float64)
    noise = 1e-12 * max(1.0, float(np.max(np.abs(ys))))  # roundoff floor (x is O(1))
    min_w = width * (b - a)
    out = []
    level = [(float(xs[k]), float(xs[k + 1]), float(ys[k]), float(ys[k + 1]))
             for k in range(len(xs) - 1) if abs(ys[k + 1] - ys[k]) > noise]
    quarters = np.array([0.25, 0.5, 0.75])
    while level:   # every open step of one scale in one call of f
        out += [iv for iv in level if iv[1] - iv[0] <= min_w]
        work = np.array([iv for iv in level if iv[1] - iv[0] > min_w]).reshape(-1, 4)
        if not len(work):
            break
        lo, hi, ylo, yhi = work.T
        xm = lo[:, None] + (hi - lo)[:, None] * quarters
        ym = np.asarray(f(xm.reshape(-1)), dtype=np.float64).reshape(xm.shape)
        chord = ylo[:, None] + (yhi - ylo)[:, None] * quarters
        cut = np.max(np.abs(ym - chord), axis=1) > LINEAR_SHARE * np.abs(yhi - ylo)
        level = []   # the steps not linear at this scale, cut in quarters
        for q in np.flatnonzero(cut):
            xs4 = [float(lo[q]), *xm[q].tolist(), float(hi[q])]
            ys4 = [float(ylo[q]), *ym[q].tolist(), float(yhi[q])]
            level += [(xs4[k], xs4[k + 1], ys4[k], ys4[k + 1]) for k in range(4)
                      if abs(ys4[k + 1] - ys4[k]) > noise]
    return sorted(out)


def integrate_with_jumps(f: Callable[[np.ndarray], np.ndarray], a: float, b: float, *,
                         tol: float = 1e-10, candidates=(), max_intervals: int = 32
                         ) -> tuple[float, float, int]:
    """``(integral, error_bound, jumps)`` of ``f`` over ``[a, b]``, split at the jumps
    :func:`find_jumps` locates: each smooth piece by :func:`integrate`, each located jump's
    tiny interval by its trapezoid with error ``(hi - lo) |f(hi) - f(lo)|`` (exact bound for
    a monotone integrand there)."""
    if b <= a:
        return 0.0, 0.0, 0
    jumps = find_jumps(f, a, b, candidates=candidates)
    total = err = 0.0
    left = a
    for lo, hi, ylo, yhi in jumps:
        if lo > left:
            v, e = integrate(f, left, lo, tol=tol, max_intervals=max_intervals)
            total, err = total + v, err + e
        total += 0.5 * (hi - lo) * (ylo + yhi)
        err += (hi - lo) * abs(yhi - ylo)
        left = hi
    if b > left:
        v, e = integrate(f, left, b, tol=tol, max_intervals=max_intervals)
        total, err = total + v, err + e
    return total, err, len(jumps)
