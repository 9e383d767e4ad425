"""The Chebyshev series of ``H(theta)`` over a range of ``theta`` (theory §6): the
crossing tokens' part ``sum q0_v H(d_v)`` of the log-linear second-price split
(:mod:`mechanism.crossings`) where an agent has many crossing tokens. ``H`` is evaluated
at 17 Chebyshev points of each range (:data:`XC`), its interpolant summed over the range's
tokens; a range whose error (the 17- against the 9-point series, and the 20- against the
10-point Gauss-Legendre values of ``H``) exceeds its share of the budget is halved.
"""

from __future__ import annotations

import numpy as np

from . import quadrature as quad
from .panels import GRID

#: Chebyshev points (second kind) of theta, per theta range; every other one: 9 points.
CHEB = 16
XC = np.cos(np.pi * np.arange(CHEB + 1) / CHEB)
CHEB17, CHEB9 = quad.chebyshev_matrix(CHEB), quad.chebyshev_matrix(CHEB // 2)
#: Chebyshev polynomials on the grid :data:`mechanism.panels.GRID` compares interpolants on.
T_GRID17 = np.polynomial.chebyshev.chebvander(GRID, CHEB)
T_GRID9 = np.polynomial.chebyshev.chebvander(GRID, CHEB // 2)
#: Theta ranges per agent, as a bisection depth.
MAX_DEPTH = 6
#: Crossing tokens per range up to which a round's series are evaluated all at once (a
#: ranges x tokens mask, each token's coefficients gathered: fewer calls on small steps);
#: above, range by range (dense steps: the mask and the gather cost more than the calls).
SERIES_TOKENS = 256


def series_round(ranges, H20, H10, x, w, per_mass, total, err) -> list:
    """Each range's Chebyshev series of ``H`` summed over its tokens into ``total``
    and ``err`` where its error is within ``per_mass`` times its tokens' mass (or at
    :data:`MAX_DEPTH`); the halves of the others, to evaluate next. Up to
    :data:`SERIES_TOKENS` crossing tokens per range, every range of the round at once
    (:func:`together`), else range by range (:func:`by_range`): the same sums, the
    cheaper way for the size."""
    if not ranges:
        return []
    coef = H20 @ CHEB17.T
    cheb = np.max(np.abs(coef @ T_GRID17.T - (H20[:, ::2] @ CHEB9.T) @ T_GRID9.T), axis=1)
    bound = cheb + np.max(np.abs(H20 - H10), axis=1, initial=0.0)
    many = sum(len(v) for v in x) > SERIES_TOKENS * len(ranges)
    split = (by_range if many else together)(ranges, coef, bound, x, w, per_mass, total, err)
    return [r for (j, lo, hi, depth), cut in zip(ranges, split) if cut
            for r in ((j, lo, 0.5 * (lo + hi), depth + 1), (j, 0.5 * (lo + hi), hi, depth + 1))]


def by_range(ranges, coef, bound, x, w, per_mass, total, err) -> list:
    """:func:`series_round` one range at a time: whether each range is split."""
    split = []
    for q, (j, lo, hi, depth) in enumerate(ranges):
        sel = (x[j] > lo) & (x[j] <= hi)
        share = float(w[j][sel].sum())
        e = share * float(bound[q])
        split.append(bool(e > per_mass[j] * share and depth < MAX_DEPTH))
        if not split[-1] and share > 0:
            u = (2.0 * x[j][sel] - lo - hi) / (hi - lo)
            total[j] += float((w[j][sel] * np.polynomial.chebyshev.chebval(u, coef[q])).sum())
            err[j] += e
    return split


def together(ranges, coef, bound, x, w, per_mass, total, err) -> np.ndarray:
    """:func:`series_round` of every range at once: a (ranges, tokens) membership mask
    over all agents' crossing tokens (an agent's ranges are disjoint: a token is in at
    most one), one series evaluation for the tokens of all finished ranges; whether each
    range is split."""
    j, lo, hi, depth = (np.array(c) for c in zip(*ranges))
    owner = np.repeat(np.arange(len(x)), [len(v) for v in x])
    X, Wt = np.concatenate(x), np.concatenate(w)
    sel = (owner[None, :] == j[:, None]) & (X[None, :] > lo[:, None]) & (X[None, :] <= hi[:, None])
    share = sel @ Wt
    e = share * bound
    split = (e > per_mass[j] * share) & (depth < MAX_DEPTH)
    done = np.flatnonzero(~split & (share > 0))
    if len(done):
        member = sel[done]
        tokens = np.flatnonzero(member.any(axis=0))
        q = done[np.argmax(member[:, tokens], axis=0)]  # each token's finished range
        u = (2.0 * X[tokens] - lo[q] - hi[q]) / (hi[q] - lo[q])
        vals = np.polynomial.chebyshev.chebval(u, coef[q].T, tensor=False)
        total += np.bincount(owner[tokens], Wt[tokens] * vals, minlength=len(total))
        err += np.bincount(j[done], e[done], minlength=len(err))
    return split
