"""The log-linear second-price integral split at the tokens' crossings (theory §6).

Along agent i's bid path (theory §2, :class:`mechanism.paths.LogLinearFamily`) every token
moves as ``log q_v(s) = log q0_v + t(s) d_v - A(s)`` with ``t(s) = s / (s + B)`` and
``A(s) = log Z(t(s)) - log Z(0)``, convex in ``t`` with ``A(0) = 0``. So token v gains mass
(``q_v(s) > q0_v``) iff ``d_v > c(s) = A(s) / t(s)``, and ``c`` is increasing: each token
leaves the gaining set once, at ``sigma(d_v)`` where ``c(sigma) = d_v``. With
``theta_b = c(b)`` and ``theta_0 = c(0+) = E_q0[d]``:

    int_0^b G = int_0^b F + sum over theta_0 < d_v <= theta_b of q0_v H(d_v),
    F(s) = sum over d_v > theta_b of (q_v(s) - q0_v)        (a fixed set of tokens)
    H(theta) = int_0^sigma(theta) (exp(theta t(s) - A(s)) - 1) ds.

``G = TV(Q(0), Q(s))`` has a kink at every crossing (thousands on a dense step), which
holds Gauss-Kronrod on ``G`` to slow convergence; ``F``, ``A`` and ``H`` are smooth.
``F`` and ``log Z`` are evaluated exactly at the Kronrod points of adaptive panels in
``s`` (:mod:`mechanism.panels`; the only work over the vocabulary, every agent's nodes
of a round together); ``A`` between them by interpolation on each panel's 17 points; ``H`` at 17 Chebyshev
points of ``theta`` from that interpolant (scalar work) and summed over the crossing
tokens as one Chebyshev series (one recurrence over those tokens), or at each crossing
token itself where they are fewer than the series' points.

The error estimate adds: Gauss-Kronrod's on ``F`` (:func:`quadrature.combine_many`);
per panel ``(hi - lo) |A17 - A9|`` (A's 17-point interpolant against the one on the ends
and the 7 Gauss nodes: an error ``e`` in ``A`` moves every ``q_v`` by a factor
``exp(+-e)``, so the crossing tokens' part by about ``(hi - lo) e`` times their mass on
the path, at most 1); and ``H``'s
``|GL20 - GL10|`` and ``|Cheb17 - Cheb9|`` times the crossing tokens' ``q0`` mass.
A token that only agent i leaves out (``d_v = -inf``) has weight 0 for ``s > 0``: ``A``
jumps at 0 (``A(0+) < 0``, ``c(0+) = -inf``), the panels start from the limits at 0+, and
every remaining token with ``d_v <= theta_b`` crosses.
"""

from __future__ import annotations

import numpy as np

from . import paths
from . import quadrature as quad
from .panels import GRID, L_GRID17, refine
from .theta_series import CHEB, XC, series_round

#: Gauss-Legendre nodes for the scalar integrals of H (and a coarser rule for its error).
GL20, GW20 = np.polynomial.legendre.leggauss(20)
GL10, GW10 = np.polynomial.legendre.leggauss(10)
#: H is evaluated at each crossing token where they are at most this many times the series'
#: points (17 per range; a series round costs its points and more where ranges split).
DIRECT = 2
#: Root refinements.
SECANT_STEPS = 4
#: An agent whose t(b) = b / (b + B) is below this pays 0 (see :func:`payments`).
STILL = 1e-100
#: Rounding of the payment ``b G(b) - int G`` (its terms' sums, the last subtraction), per
#: unit of the bid and of the terms: a share of the error estimate (16 ulps).
ROUNDING = 16 * np.finfo(np.float64).eps
#: A node whose weights total less than this is recomputed shifted by its maximum.
TINY = 1e-200
#: Entries of one (rows, V) work buffer of the nodes: small enough to stay in cache.
CHUNK = 1 << 16
#: Both rules' nodes and weights in one array (20 then 10): one pass serves both.
GX30, GW30 = np.concatenate((GL20, GL10)), np.concatenate((GW20, GW10))
L_GL30 = quad.lagrange(GX30)


class Tokens:
    """Every agent's path of one step: its tokens' ``m``, ``d``, ``q0`` (a vetoed token:
    ``m = -inf``, ``d = 0``), which gain on all of ``(0, b]`` (``d > theta_b``, the float
    mask ``gain``) and which cross (``theta_0 < d <= theta_b``)."""

    def __init__(self, family, agents, bids, scale: float = 1.0):
        self.B = np.asarray(family.B, dtype=np.float64)[agents] / scale
        self.b = np.asarray(bids, dtype=np.float64)[agents] / scale
        M, D, Q0 = family.m[agents], family.d[agents], family.q0[agents]
        self.logZ0 = family.logZ0[agents]
        vetoes = np.zeros(len(agents), dtype=bool)
        kept = True
        if not family.finite:
            live = np.isfinite(M)  # a token another party vetoes: weight 0 on the path
            kept = live & np.isfinite(D)  # a token only agent i leaves out: 0 for s > 0
            vetoes = (live & ~kept).any(axis=1)
            M, D = np.where(kept, M, -np.inf), np.where(kept, D, 0.0)  # weight 0 from here
        # c(0+): E_q0[d], or -inf where A jumps at 0 (A(0+) = log(1 - q0's vetoed mass))
        self.theta0 = np.where(vetoes, -np.inf, (Q0 * D).sum(axis=1))
        t = self.b / (self.b + self.B)
        e = np.multiply(D, t[:, None])
        e += M
        shift = e.max(axis=1)
        e -= shift[:, None]
        np.exp(e, out=e)
        Z = e.sum(axis=1)
        self.theta_b = (np.log(Z) + shift - self.logZ0) / t
        gain = (D > self.theta_b[:, None]) & kept
        self.cross = (D > self.theta0[:, None]) & ~gain & kept
        self.m, self.d, self.q0, self.gain = M, D, Q0, gain.astype(np.float64)
        self.c0 = (Q0 * self.gain).sum(axis=1)
        self.G_b = (e * self.gain).sum(axis=1) / Z - self.c0
        # the crossing tokens' mass on the path bounds how far A's error moves H's part:
        # q_v = q0_v exp(t (d_v - c(t))) and c(t) >= theta_0 (A convex, A'(0) = theta_0),
        # so q_v <= q0_v exp(t_b (d_v - theta_0)) on (0, b]; at most 1 where theta_0 = -inf
        j, v = np.nonzero(self.cross)
        with np.errstate(over="ignore", divide="ignore"):
            mass = np.exp(np.log(Q0[j, v]) + t[j] * (D[j, v] - self.theta0[j]))
        mass = np.bincount(j, weights=mass, minlength=len(self.b))
        self.cross_mass = np.minimum(1.0, mass)
        self.start = np.zeros((len(self.b), 2))  # (A(0+), F(0+)): the limits at 0+
        at = np.flatnonzero(vetoes)
        if len(at):
            self.start[at] = np.column_stack(self.nodes(at, np.zeros(len(at))))

    def t(self, j, s):
        """``t = s / (s + B)``, 0 at ``s = 0`` also where ``B`` underflowed to 0 after the
        scaling (was: 0 / 0, a NaN error estimate and an unclipped payment of -0.5 at bids
        5e-324, 2**53)."""
        den = s + self.B[j]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, s / den, 0.0)

    def nodes(self, agents: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(A(s), F(s))`` at the pairs ``(agents[k], s[k])`` (s >= 0); a large batch is
        split between :data:`mechanism.paths.WORKERS` threads (numpy releases the GIL),
        each node computed as alone."""
        parts = min(paths.WORKERS, len(s) * self.m.shape[1] // paths.PARALLEL_ENTRIES)
        if parts < 2:
            return self._nodes(agents, s)
        cuts = np.linspace(0, len(s), parts + 1).astype(int)
        done = list(paths.thread_pool().map(
            lambda k: self._nodes(agents[cuts[k]:cuts[k + 1]], s[cuts[k]:cuts[k + 1]]),
            range(parts)))
        return np.concatenate([a for a, _ in done]), np.concatenate([f for _, f in done])

    def _nodes(self, agents, s):
        """:meth:`nodes` a chunk of rows at a time in two reused buffers: one scaled row,
        one exp, its sum and the sum over the gaining tokens."""
        V = self.m.shape[1]
        A, F = np.empty(len(s)), np.empty(len(s))
        rows = max(1, CHUNK // V)
        E, G = np.empty((min(rows, len(s)), V)), np.empty((min(rows, len(s)), V))
        for lo in range(0, len(s), rows):
            a = agents[lo:lo + rows]
            t = self.t(a, s[lo:lo + rows])
            e, g = E[:len(a)], G[:len(a)]
            if len(a) == 1:  # one row of a large vocabulary: no copies of the rows
                np.multiply(self.d[a[0]], t[0], out=e[0])
                e += self.m[a[0]]
                np.exp(e, out=e)
                np.multiply(e[0], self.gain[a[0]], out=g[0])
            else:
                # mode "clip": an out= take under the default "raise" is buffered (a copy more);
                # the agents index their own rows
                np.take(self.d, a, axis=0, out=e, mode="clip")
                e *= t[:, None]
                e += np.take(self.m, a, axis=0, out=g, mode="clip")
                np.exp(e, out=e)
                np.take(self.gain, a, axis=0, out=g, mode="clip")
                g *= e
            Z, gain = e.sum(axis=1), g.sum(axis=1)
            logZ = np.log(np.where(Z >= TINY, Z, 1.0))
            for r in ([] if (Z >= TINY).all() else np.flatnonzero(~(Z >= TINY))):  # underflowed
                m, d = self.m[a[r]], self.d[a[r]]
                w = _weights_at(m, d, t[r])
                Z[r], gain[r] = w.sum(), (w * self.gain[a[r]]).sum()
                logZ[r] = _shift(m, d, t[r]) + np.log(Z[r])
            A[lo:lo + len(a)] = logZ - self.logZ0[a]
            F[lo:lo + len(a)] = gain / Z - self.c0[a]
        return A, F


def _shift(m, d, t):
    return float(np.max(m + t * d))


def _weights_at(m, d, t):
    """``exp(m + t d)`` shifted by its maximum."""
    e = m + t * d
    e -= e.max()
    return np.exp(e, out=e)


class Crossing:
    """``H(theta)`` of every agent from its converged panels (scalar work on ``A``'s
    interpolants, many ``(agent, theta)`` queries per call), and the crossing tokens'
    part ``sum q0_v H(d_v)``."""

    def __init__(self, tok: Tokens, panels: list[list]):
        self.tok = tok
        n, width = len(panels), max(len(p) for p in panels)
        self.count = np.array([len(p) for p in panels])
        self.lo, self.hi = np.zeros((n, width)), np.zeros((n, width))
        self.A17 = np.zeros((n, width, 17))
        self.c_hi = np.full((n, width), np.inf)
        for j, items in enumerate(panels):
            items = sorted(items, key=lambda p: p[0])
            self.lo[j, :len(items)] = [p[0] for p in items]
            self.hi[j, :len(items)] = [p[1] for p in items]
            self.lo[j, len(items):] = self.hi[j, len(items):] = items[-1][1]  # width 0
            k = len(items)
            self.A17[j, :k] = [p[2] for p in items]
            self.c_hi[j, :k] = self.A17[j, :k, 16] / tok.t(j, self.hi[j, :k])
        half = 0.5 * (self.hi - self.lo)
        s = self.lo[:, :, None] + half[:, :, None] * (GX30 + 1.0)
        # t, A and the weights at both rules' nodes of every whole panel: (n, width, 30)
        self.T, self.A, self.W = (tok.t(np.arange(n)[:, None, None], s), self.A17 @ L_GL30.T,
                                  half[:, :, None] * GW30)
        # t and A on the grid the roots are bracketed on, of every panel: (n, width, 65)
        s = self.lo[:, :, None] + half[:, :, None] * (GRID + 1.0)
        self.T_grid, self.A_grid = tok.t(np.arange(n)[:, None, None], s), self.A17 @ L_GRID17.T

    def _s(self, lo, hi, u):
        return lo + 0.5 * (hi - lo) * (u + 1.0)

    def roots(self, a, theta):
        """``sigma(theta)`` of agents ``a``: ``(panel, u)``, a grid bracket, then Illinois
        steps on ``theta - c(s)`` (decreasing, ``theta - theta_0`` at 0: ``theta t - A``
        vanishes at 0 as well); ``theta t - A`` where ``A`` jumps at 0 (``c(0+) = -inf``).
        The grid's ``t`` and ``A`` are the panel's (:meth:`__init__`); its ends, ``B`` and
        ``theta - theta_0`` are taken once for all steps."""
        p = np.minimum((self.c_hi[a] < theta[:, None]).sum(axis=1), self.count[a] - 1)
        A17, lo = self.A17[a, p], self.lo[a, p]
        half, B = 0.5 * (self.hi[a, p] - lo), self.tok.B[a]
        theta0 = self.tok.theta0[a]
        at0 = theta - theta0
        smooth = np.isfinite(theta0)
        every = bool(smooth.all())

        def gap(t, A, theta, at0, smooth):
            g = np.where(t > 0, theta - A / t, at0)
            return g if every else np.where(smooth, g, theta * t - A)

        with np.errstate(divide="ignore", invalid="ignore"):
            g = gap(self.T_grid[a, p], self.A_grid[a, p], theta[:, None], at0[:, None],
                    smooth[:, None])
            neg = g[:, 1:] <= 0
            k = np.where(neg.any(axis=1), np.argmax(neg, axis=1) + 1, len(GRID) - 1)
            rows = np.arange(len(k))
            u0, u1, f0, f1 = GRID[k - 1], GRID[k], g[rows, k - 1], g[rows, k]
            for _ in range(SECANT_STEPS):
                u = np.where(f0 != f1, u1 - f1 * (u1 - u0) / (f1 - f0), u1)
                u = np.minimum(np.maximum(np.where(np.isfinite(u), u, 0.5 * (u0 + u1)), -1.0), 1.0)
                s = lo + half * (u + 1.0)
                f = gap(s / (s + B), quad.interpolate_at(u, A17), theta, at0, smooth)
                same = np.sign(f) == np.sign(f1)
                u0, f0 = np.where(same, u0, u1), np.where(same, 0.5 * f0, f1)
                u1, f1 = u, f
        return p, u1

    def H(self, a, theta) -> tuple[np.ndarray, np.ndarray]:
        """``H`` at the pairs ``(a[k], theta[k])`` by 20- and by 10-point Gauss-Legendre
        (both rules' nodes in one pass): the whole panels below ``sigma``, then the part
        of its panel up to it."""
        p, u = self.roots(a, theta)
        lo, hi, A17 = self.lo[a, p][:, None], self.hi[a, p][:, None], self.A17[a, p]
        if (p > 0).any():
            below = (np.arange(self.lo.shape[1])[None, :] < p[:, None]).astype(np.float64)
            E = np.expm1(theta[:, None, None] * self.T[a] - self.A[a])
            E *= self.W[a]
            whole = np.einsum("kpq,kp->kq", E, below)
        else:  # every sigma in its agent's first panel: no whole panel below it
            whole = np.zeros((len(a), len(GX30)))
        v = -1.0 + (u[:, None] + 1.0) * 0.5 * (GX30 + 1.0)
        Av = quad.interpolate(v, A17)
        t = self.tok.t(a[:, None], self._s(lo, hi, v))
        whole += np.expm1(theta[:, None] * t - Av) * (0.25 * (hi - lo) * (u[:, None] + 1.0) * GW30)
        return whole[:, :len(GL20)].sum(axis=1), whole[:, len(GL20):].sum(axis=1)

    def part(self, budget: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(sum q0_v H(d_v), error)`` per agent over its crossing tokens: ``H`` at each
        token where they are at most :data:`DIRECT` times what a series would take (17
        per range, at least two ranges' worth), else a Chebyshev series of ``H`` per range
        of ``theta`` (:mod:`mechanism.theta_series`; first the ranges whose ``sigma`` lies
        in one panel, where ``H`` is smooth), a range halved while its error exceeds
        ``budget`` times its share of the tokens' mass; the tokens and every range of a
        round in one call of :meth:`H`."""
        tok = self.tok
        n = len(tok.b)
        total, err = np.zeros(n), np.zeros(n)
        counts = tok.cross.sum(axis=1)
        ends = [0, *np.cumsum(counts).tolist()]
        xs, ws = tok.d[tok.cross], tok.q0[tok.cross]  # agent by agent: row-major order
        x = [xs[lo:hi] for lo, hi in zip(ends[:-1], ends[1:])]
        w = [ws[lo:hi] for lo, hi in zip(ends[:-1], ends[1:])]
        mass = np.array([float(v.sum()) for v in w])
        few, ranges = [], []
        for j in range(n):
            if 0 < counts[j] <= DIRECT * (CHEB + 1) * 2:  # direct, whatever its ranges
                few.append(j)
                continue
            own = self._ranges(j, x[j]) if mass[j] > 0 else []
            if 0 < counts[j] <= DIRECT * (CHEB + 1) * len(own):
                few.append(j)  # H at each crossing token itself: no series, no series error
            else:
                ranges += own
        direct = np.concatenate([x[j] for j in few] + [np.zeros(0)])
        cut = np.cumsum([0] + [len(x[j]) for j in few])
        while len(direct) or ranges:
            a = np.repeat([r[0] for r in ranges], CHEB + 1)
            lo, hi = np.array([r[1] for r in ranges]), np.array([r[2] for r in ranges])
            theta = (0.5 * (lo + hi))[:, None] + (0.5 * (hi - lo))[:, None] * XC
            H20, H10 = self.H(np.concatenate((np.repeat(few, np.diff(cut)), a)).astype(np.int64),
                              np.concatenate((direct, theta.ravel())))
            if few:  # each direct agent's tokens, summed in one pass
                wd = np.concatenate([w[j] for j in few])
                h20, h10 = H20[:len(direct)], H10[:len(direct)]
                total[few] = np.add.reduceat(wd * h20, cut[:-1])
                err[few] = np.add.reduceat(wd * np.abs(h20 - h10), cut[:-1])
            H20, H10 = (h[len(direct):].reshape(len(ranges), CHEB + 1) for h in (H20, H10))
            few, direct, cut = [], np.zeros(0), np.zeros(1, dtype=np.int64)
            ranges = series_round(ranges, H20, H10, x, w, budget / np.where(mass > 0, mass, 1.0),
                                  total, err)
        return total, err

    def _ranges(self, j, x) -> list:
        """Agent j's first ranges of ``theta``: one per panel (A's interpolant is smooth
        within a panel only), from ``theta_0`` (or below the lowest crossing token where
        ``A`` jumps at 0) to ``theta_b``."""
        tok = self.tok
        if not len(x) or tok.theta_b[j] <= tok.theta0[j]:
            return []
        low = (tok.theta0[j] if np.isfinite(tok.theta0[j])
               else float(np.nextafter(x.min(), -np.inf)))
        inner = np.clip(self.c_hi[j, :self.count[j] - 1], low, tok.theta_b[j])
        cuts = [low, *np.maximum.accumulate(inner), float(tok.theta_b[j])]
        return [(j, lo, hi, 0) for lo, hi in zip(cuts[:-1], cuts[1:]) if hi > lo]


def payments(family, agents, bids, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """``b_i G_i(b_i) - int_0^b_i G_i`` and its error estimate for each of ``agents``
    (each with a positive bid and competition) of a :class:`mechanism.paths.
    LogLinearFamily`: the panels of ``F`` to ``tol / 2``, the crossing part to the rest.
    The payment is homogeneous in the weights (``G`` depends on ``s / B`` only), so bids
    and ``B`` are divided by their largest first (no overflow at bids of 1e300) and the
    payment and error multiplied back (the tolerance stays ``tol * max(1, |int G|)`` in
    the bids' units). An agent whose ``t(b) = b / (b + B)`` is below :data:`STILL` moves
    (almost) nothing: it pays 0, within ``2 b t(b) (max d - min d)`` (``|log q / q0| <=
    t spread(d)`` bounds ``G(b)``; a payment below 1e-100 of a bid is float64 noise), or
    within ``b`` where agent i alone vetoes a token (``G`` jumps at 0)."""
    agents = np.asarray(agents, dtype=np.int64)
    bids = np.asarray(bids, dtype=np.float64)
    B = np.asarray(family.B, dtype=np.float64)[agents]
    t = bids[agents] / (bids[agents] + B)
    moves = t >= STILL
    if not moves.all():
        z, err = np.zeros(len(agents)), bids[agents].copy()
        for q in np.flatnonzero(~moves):
            d = family.d[agents[q]][np.isfinite(family.m[agents[q]])]
            if np.isfinite(d).all():
                err[q] = 2.0 * bids[agents[q]] * t[q] * float(d.max() - d.min())
        if moves.any():
            z[moves], err[moves] = payments(family, agents[moves], bids, tol)
        return z, err
    scale = float(max(bids[agents].max(), B.max()))
    tok = Tokens(family, agents, bids, scale)
    panels = refine(tok, 0.5 * tol, 1.0 / scale)
    area = np.array([sum(p[4] for p in items) for items in panels])
    err = np.array([sum(p[5] for p in items) for items in panels])
    part = e2 = 0.0
    if tok.cross.any():
        part, e2 = Crossing(tok, panels).part(0.5 * tol * np.maximum(1.0 / scale,
                                                                      np.abs(area)))
    top = tok.b * tok.G_b
    rounding = ROUNDING * (tok.b + np.abs(top) + np.abs(area) + np.abs(part))
    return scale * (top - (area + part)), scale * (err + e2 + rounding)
