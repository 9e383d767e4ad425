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
``s`` (the only work over the vocabulary, every agent's nodes of a round together);
``A`` between them by interpolation on each panel's 17 points; ``H`` at 17 Chebyshev
points of ``theta`` from that interpolant (scalar work) and summed over the crossing
tokens as one Chebyshev series (one recurrence over those tokens).

The error estimate adds: Gauss-Kronrod's on ``F`` (:func:`quadrature.combine_many`);
per panel ``(hi - lo) |A17 - A9|`` (A's 17-point interpolant against the one on the ends
and the 7 Gauss nodes: an error ``e`` in ``A`` moves every ``q_v`` by a factor
``exp(+-e)``, so the crossing tokens' part, of mass at most 1, by about ``(hi - lo) e``);
and ``H``'s
``|GL20 - GL10|`` and ``|Cheb17 - Cheb9|`` times the crossing tokens' ``q0`` mass.
A token that only agent i leaves out (``d_v = -inf``) has weight 0 for ``s > 0``: ``A``
jumps at 0 (``A(0+) < 0``, ``c(0+) = -inf``), the panels start from the limits at 0+, and
every remaining token with ``d_v <= theta_b`` crosses.
"""

from __future__ import annotations

import numpy as np

from . import quadrature as quad

#: Panel points in [-1, 1]: the ends and the 15 Kronrod nodes (quadrature.points order).
X17 = np.concatenate(([-1.0], quad.NODES, [1.0]))
#: Gauss-Legendre nodes for the scalar integrals of H (and a coarser rule for its error).
GL20, GW20 = np.polynomial.legendre.leggauss(20)
GL10, GW10 = np.polynomial.legendre.leggauss(10)
#: Chebyshev points (second kind) of theta, per theta range; every other one: 9 points.
CHEB = 16
_XC = np.cos(np.pi * np.arange(CHEB + 1) / CHEB)
#: Grid on which two interpolants are compared, and the roots' first bracket is found.
GRID = np.linspace(-1.0, 1.0, 65)
#: Panels per agent, theta ranges per agent (as a bisection depth), root refinements.
MAX_PANELS, MAX_DEPTH, SECANT_STEPS = 32, 6, 6
#: A node whose weights total less than this is recomputed shifted by its maximum.
TINY = 1e-200


def _weights(x: np.ndarray) -> np.ndarray:
    return np.array([1.0 / np.prod(x[j] - np.delete(x, j)) for j in range(len(x))])


#: The 9 points of the lower-order interpolant A's error is estimated with: ends, Gauss 7.
SUB9 = np.array([0, 2, 4, 6, 8, 10, 12, 14, 16])
W17, W9 = _weights(X17), _weights(X17[SUB9])


def lagrange(u: np.ndarray, x: np.ndarray = X17, w: np.ndarray = W17) -> np.ndarray:
    """Lagrange basis of the points ``x`` (barycentric weights ``w``) at ``u``: (len(u), len(x))."""
    u = np.asarray(u, dtype=np.float64).ravel()
    diff = u[:, None] - x[None, :]
    hit = diff == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        r = w[None, :] / diff
        L = r / r.sum(axis=1, keepdims=True)
    rows = hit.any(axis=1)
    L[rows] = hit[rows].astype(np.float64)
    return L


L_GRID17, L_GRID9 = lagrange(GRID), lagrange(GRID, X17[SUB9], W9)
L_GL20, L_GL10 = lagrange(GL20), lagrange(GL10)


def _cheb_matrix(n: int) -> np.ndarray:
    """Values at ``cos(pi j / n)``, j = 0..n -> Chebyshev coefficients (interpolation)."""
    j = np.arange(n + 1)
    M = np.cos(np.pi * np.outer(j, j) / n) * (2.0 / n)
    M[:, [0, n]] *= 0.5
    M[[0, n], :] *= 0.5
    return M


CHEB17, CHEB9 = _cheb_matrix(CHEB), _cheb_matrix(CHEB // 2)
T_GRID17 = np.polynomial.chebyshev.chebvander(GRID, CHEB)
T_GRID9 = np.polynomial.chebyshev.chebvander(GRID, CHEB // 2)


class AgentPath:
    """Agent i's path of one step, its tokens ordered: gaining on all of ``(0, b]``
    (``d > theta_b``), crossing (``theta_0 < d <= theta_b``), the rest."""

    def __init__(self, m, d, q0, B: float, b: float):
        live = np.isfinite(m)  # a token another party vetoes: weight 0 on the whole path
        m, d, q0 = m[live], d[live], q0[live]
        self.B, self.b = float(B), float(b)
        top = m.max()
        self.logZ0 = float(top + np.log(np.exp(m - top).sum()))
        kept = np.isfinite(d)  # a token only agent i leaves out: weight 0 for s > 0
        self.vetoes = not kept.all()
        m, d, q0 = m[kept], d[kept], q0[kept]
        # c(0+): E_q0[d], or -inf when A jumps at 0 (A(0+) = log(1 - q0's vetoed mass))
        self.theta0 = -np.inf if self.vetoes else float((q0 * d).sum())
        self.m, self.d, self.q0, self.k_in, self.c0 = m, d, q0, 0, 0.0
        logZ, _ = self.nodes(np.array([self.b]))
        self.theta_b = float((logZ[0] - self.logZ0) / self.t(self.b))
        gain = d > self.theta_b
        cross = (d > self.theta0) & ~gain
        order = np.concatenate((np.flatnonzero(gain), np.flatnonzero(cross),
                                np.flatnonzero(~gain & ~cross)))
        self.m, self.d, self.q0 = m[order], d[order], q0[order]
        self.k_in, k_x = int(gain.sum()), int(gain.sum() + cross.sum())
        self.c0 = float(self.q0[:self.k_in].sum())
        self.cross = slice(self.k_in, k_x)
        self.G_b = float(self.nodes(np.array([self.b]))[1][0])

    def start(self) -> tuple[float, float]:
        """``(A(0+), F(0+))``: 0 and 0, unless agent i alone vetoes tokens (a jump at 0)."""
        if not self.vetoes:
            return 0.0, 0.0
        logZ, F = self.nodes(np.array([0.0]))
        return float(logZ[0] - self.logZ0), float(F[0])

    def t(self, s):
        return s / (s + self.B)

    def nodes(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(log Z(s), F(s))`` at the bids ``s`` (> 0), one row of the vocabulary at a
        time: one scaled row, one exp and one pass of sums (the gaining tokens first)."""
        logZ, F = np.empty(len(s)), np.empty(len(s))
        e = np.empty(len(self.m))
        k = self.k_in
        for j, t in enumerate(self.t(np.asarray(s, dtype=np.float64))):
            np.multiply(self.d, t, out=e)
            e += self.m
            shift = 0.0
            np.exp(e, out=e)
            gain = e[:k].sum()
            Z = gain + e[k:].sum()
            if not Z >= TINY:  # the weights (nearly) underflowed: shift by their maximum
                np.multiply(self.d, t, out=e)
                e += self.m
                shift = e.max()
                e -= shift
                np.exp(e, out=e)
                gain = e[:k].sum()
                Z = gain + e[k:].sum()
            logZ[j] = shift + np.log(Z)
            F[j] = gain / Z - self.c0
        return logZ, F


class Panels:
    """Agent i's adaptive panels in ``s``: ends, the 17 values of ``A`` and of ``F``, the
    K15 estimate of ``int F`` and the panel's error (F's and A's interpolation's)."""

    def __init__(self, path: AgentPath):
        self.path = path
        self.items: list[tuple] = []

    def add(self, lo: float, hi: float, logZ: np.ndarray, F: np.ndarray, ends) -> None:
        """A panel from its 15 Kronrod nodes' values and its ends' ``(A, F)``."""
        (a_lo, f_lo), (a_hi, f_hi) = ends
        a17 = np.concatenate(([a_lo], logZ - self.path.logZ0, [a_hi]))
        f17 = np.concatenate(([f_lo], F, [f_hi]))
        k, eF = quad.combine_many(f17[None, :], [lo], [hi])
        dA = float(np.max(np.abs(L_GRID17 @ a17 - L_GRID9 @ a17[SUB9])))
        self.items.append((lo, hi, a17, f17, float(k[0]), float(eF[0]) + (hi - lo) * dA))

    def total(self) -> tuple[float, float]:
        return sum(p[4] for p in self.items), sum(p[5] for p in self.items)

    def arrays(self):
        """``(lo, hi, A17)`` of the panels in order of ``s``."""
        items = sorted(self.items, key=lambda p: p[0])
        return (np.array([p[0] for p in items]), np.array([p[1] for p in items]),
                np.array([p[2] for p in items]))


def _first_pass(paths: list[AgentPath]) -> list[Panels]:
    out = []
    for p in paths:
        panels = Panels(p)
        x = quad.points(0.0, p.b)
        logZ, F = p.nodes(x[1:16])
        panels.add(0.0, p.b, logZ, F, (p.start(), (p.theta_b * p.t(p.b), p.G_b)))
        out.append(panels)
    return out


def refine(paths: list[AgentPath], tol: float) -> list[Panels]:
    """Every agent's panels, bisecting each agent's worst panel per round until its
    error is at most ``tol * max(1, |int F|)`` or it has :data:`MAX_PANELS` panels."""
    all_panels = _first_pass(paths)
    live = list(range(len(paths)))
    while live:
        nxt = []
        for j in live:
            panels = all_panels[j]
            total, err = panels.total()
            if err <= tol * max(1.0, abs(total)) or len(panels.items) >= MAX_PANELS:
                continue
            worst = max(range(len(panels.items)), key=lambda q: panels.items[q][5])
            lo, hi, a17, f17, _, _ = panels.items.pop(worst)
            mid = 0.5 * (lo + hi)
            left, right = quad.points(lo, mid), quad.points(mid, hi)
            logZ, F = panels.path.nodes(np.concatenate((left[1:17], right[1:16])))
            a_mid = logZ[15] - panels.path.logZ0
            panels.add(lo, mid, logZ[:15], F[:15], ((a17[0], f17[0]), (a_mid, F[15])))
            panels.add(mid, hi, logZ[16:], F[16:], ((a_mid, F[15]), (a17[16], f17[16])))
            nxt.append(j)
        live = nxt
    return all_panels


class Crossing:
    """``H(theta)`` of one agent from its converged panels (scalar work on ``A``'s
    interpolants), and the crossing tokens' part ``sum q0_v H(d_v)``."""

    def __init__(self, path: AgentPath, panels: Panels):
        self.path = path
        self.lo, self.hi, self.A17 = panels.arrays()
        self.c_hi = self.A17[:, 16] / path.t(self.hi)
        half = 0.5 * (self.hi - self.lo)
        self.full = [self._rule(L, GW, GX, half) for L, GW, GX in
                     ((L_GL20, GW20, GL20), (L_GL10, GW10, GL10))]

    def _rule(self, L, GW, GX, half):
        """(t, A, weights) at one Gauss-Legendre rule's nodes of every panel."""
        s = self.lo[:, None] + half[:, None] * (GX[None, :] + 1.0)
        return self.path.t(s), self.A17 @ L.T, half[:, None] * GW[None, :]

    def _s(self, p, u):
        return self.lo[p] + 0.5 * (self.hi[p] - self.lo[p]) * (u + 1.0)

    def _phi(self, theta, p, u):
        """``theta t(s) - A(s)`` at panel coordinates ``u`` of panels ``p``."""
        A = np.einsum("kj,kj->k", lagrange(u), self.A17[p])
        return theta * self.path.t(self._s(p, u)) - A

    def roots(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(panel, u)`` of ``sigma(theta)``: a grid bracket, then Illinois steps."""
        p = np.minimum(np.searchsorted(self.c_hi, theta), len(self.lo) - 1)
        Ag = self.A17[p] @ L_GRID17.T
        phi = theta[:, None] * self.path.t(self._s(p[:, None], GRID[None, :])) - Ag
        k = np.where((phi[:, 1:] <= 0).any(axis=1), np.argmax(phi[:, 1:] <= 0, axis=1) + 1,
                     len(GRID) - 1)
        u0, u1 = GRID[k - 1], GRID[k]
        f0, f1 = phi[np.arange(len(k)), k - 1], phi[np.arange(len(k)), k]
        for _ in range(SECANT_STEPS):
            with np.errstate(divide="ignore", invalid="ignore"):
                u = np.where(f0 != f1, u1 - f1 * (u1 - u0) / (f1 - f0), u1)
            u = np.clip(np.where(np.isfinite(u), u, 0.5 * (u0 + u1)), -1.0, 1.0)
            f = self._phi(theta, p, u)
            same = np.sign(f) == np.sign(f1)
            u0, f0 = np.where(same, u0, u1), np.where(same, 0.5 * f0, f1)
            u1, f1 = u, f
        return p, u1

    def H(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``H`` at ``theta`` by the 20- and by the 10-point Gauss-Legendre rules."""
        p, u = self.roots(theta)
        out = []
        for (T, A, W), L, GX, GW in zip(self.full, (L_GL20, L_GL10), (GL20, GL10),
                                        (GW20, GW10)):
            E = np.expm1(theta[:, None, None] * T[None] - A[None]) * W[None]
            below = np.arange(len(self.lo))[None, :] < p[:, None]
            whole = (E.sum(axis=2) * below).sum(axis=1)
            v = -1.0 + (u[:, None] + 1.0) * 0.5 * (GX[None, :] + 1.0)
            Av = np.einsum("kqj,kj->kq", lagrange(v).reshape(len(p), len(GX), 17), self.A17[p])
            wv = 0.25 * (self.hi[p] - self.lo[p])[:, None] * (u[:, None] + 1.0) * GW[None, :]
            part = (np.expm1(theta[:, None] * self.path.t(self._s(p[:, None], v)) - Av)
                    * wv).sum(axis=1)
            out.append(whole + part)
        return out[0], out[1]

    def part(self, budget: float) -> tuple[float, float]:
        """``(sum q0_v H(d_v), error)`` over the crossing tokens: a Chebyshev series of
        ``H`` per range of ``theta``, a range halved while its error share exceeds
        ``budget`` times its share of the tokens' mass (at most :data:`MAX_DEPTH` times)."""
        p = self.path
        x, w = p.d[p.cross], p.q0[p.cross]
        mass = float(w.sum())
        if not len(x) or mass <= 0 or not p.theta_b > p.theta0:
            return 0.0, 0.0
        total = err = 0.0
        low = p.theta0 if np.isfinite(p.theta0) else float(np.nextafter(x.min(), -np.inf))
        stack = [(low, p.theta_b, 0)]
        while stack:
            a, c, depth = stack.pop()
            sel = (x > a) & (x <= c)
            share = float(w[sel].sum())
            if share <= 0:
                continue
            H20, H10 = self.H(0.5 * (a + c) + 0.5 * (c - a) * _XC)
            coef = CHEB17 @ H20
            e = share * (float(np.max(np.abs(T_GRID17 @ coef - T_GRID9 @ (CHEB9 @ H20[::2]))))
                         + float(np.max(np.abs(H20 - H10))))
            if e > budget * share / mass and depth < MAX_DEPTH:
                mid = 0.5 * (a + c)
                stack += [(a, mid, depth + 1), (mid, c, depth + 1)]
                continue
            u = (2.0 * x[sel] - a - c) / (c - a)
            total += float((w[sel] * np.polynomial.chebyshev.chebval(u, coef)).sum())
            err += e
        return total, err


def payments(family, agents, bids, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """``b_i G_i(b_i) - int_0^b_i G_i`` and its error estimate for each of ``agents``
    (each with a positive bid and competition) of a :class:`mechanism.paths.
    LogLinearFamily`: the panels of ``F`` to ``tol / 2``, the crossing part to the rest."""
    paths = [AgentPath(family.m[i], family.d[i], family.q0[i], family.B[i], bids[i])
             for i in agents]
    z, err = np.zeros(len(paths)), np.zeros(len(paths))
    for j, panels in enumerate(refine(paths, 0.5 * tol)):
        area, e = panels.total()
        part, e2 = Crossing(panels.path, panels).part(0.5 * tol * max(1.0, abs(area)))
        z[j] = panels.path.b * panels.path.G_b - (area + part)
        err[j] = e + e2
    return z, err
