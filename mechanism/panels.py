"""Adaptive panels in the own bid ``s`` of the log-linear second-price split (theory §6):
``F`` and ``A = log Z(t(s)) - log Z(0)`` at each panel's 17 points
(:func:`quadrature.points_many`), bisected until the error estimate meets the tolerance;
every agent's new nodes of a round in one call (:mod:`mechanism.crossings` uses the
panels for ``int F`` and for ``A``'s interpolants).

A panel's error: Gauss-Kronrod's on ``F`` (:func:`quadrature.combine_many`) plus
``(hi - lo) max |A17 - A9|`` on :data:`GRID` times the crossing tokens' mass (A's
17-point interpolant against the one on the ends and the 7 Gauss nodes).
"""

from __future__ import annotations

import numpy as np

from . import quadrature as quad

#: Grid on which two interpolants are compared, and the roots' first bracket is found.
GRID = np.linspace(-1.0, 1.0, 65)
#: Panels per agent.
MAX_PANELS = 32
#: Vocabularies up to this size bisect every panel above its share of the error per
#: round (:func:`split_now`): there a round's fixed cost outweighs its nodes.
SMALL_V = 4096
#: The 9 points of the lower-order interpolant A's error is estimated with: ends, Gauss 7.
SUB9 = np.array([0, 2, 4, 6, 8, 10, 12, 14, 16])
X17, W9 = quad.PANEL_POINTS, quad.barycentric_weights(quad.PANEL_POINTS[SUB9])
L_GRID17, L_GRID9 = quad.lagrange(GRID), quad.lagrange(GRID, X17[SUB9], W9)


def panel_errors(lo, hi, a17, f17, mass, x=None):
    """K15 of ``int F`` per panel and its error: Gauss-Kronrod's on ``F`` plus
    ``(hi - lo) max |A17 - A9|`` times the crossing tokens' ``mass`` (A's interpolant
    serves only their part; no crossing tokens, no such term); ``x``: the panels'
    :func:`quadrature.points_many`, when the caller has them."""
    k, eF = quad.combine_many(f17, lo, hi, x)
    dA = np.max(np.abs(a17 @ L_GRID17.T - a17[:, SUB9] @ L_GRID9.T), axis=1)
    return k, eF + (hi - lo) * dA * mass


def refine(tok, tol: float, unit: float = 1.0) -> list[list]:
    """Every agent's panels ``(lo, hi, A17, F17, K15, error)`` of the paths ``tok``
    (:class:`mechanism.crossings.Tokens`), each round bisecting :func:`split_now`'s
    panels of every agent whose error exceeds ``tol * max(unit, |int F|)`` (at most
    :data:`MAX_PANELS`), all new nodes of a round in one call (``unit``: 1 in the bids'
    own units, of the tokens' scale)."""
    n = len(tok.b)
    few = tok.m.shape[1] <= SMALL_V
    x = quad.points_many(np.zeros(n), tok.b)
    A, F = tok.nodes(np.repeat(np.arange(n), 15), x[:, 1:16].ravel())
    a17 = np.column_stack((tok.start[:, 0], A.reshape(n, 15), tok.theta_b * tok.t(
        np.arange(n), tok.b)))
    f17 = np.column_stack((tok.start[:, 1], F.reshape(n, 15), tok.G_b))
    k, err = panel_errors(x[:, 0], x[:, 16], a17, f17, tok.cross_mass, x)
    panels = [[(x[j, 0], x[j, 16], a17[j], f17[j], k[j], err[j])] for j in range(n)]
    while True:
        work = []
        for j in range(n):
            total, e = sum(p[4] for p in panels[j]), sum(p[5] for p in panels[j])
            target = tol * max(unit, abs(total))
            if e > target and len(panels[j]) < MAX_PANELS:
                work += [(j, p) for p in split_now(panels[j], target, few)]
        if not work:
            return panels
        lo = np.array([w[1][0] for w in work])
        hi = np.array([w[1][1] for w in work])
        mid = 0.5 * (lo + hi)
        halves = quad.points_many(np.concatenate((lo, mid)), np.concatenate((mid, hi)))
        w = len(work)
        s = np.hstack((halves[:w, 1:17], halves[w:, 1:16]))
        A, F = tok.nodes(np.repeat([j for j, _ in work], 31), s.ravel())
        A, F = A.reshape(w, 31), F.reshape(w, 31)
        olda = np.array([p[2] for _, p in work])
        oldf = np.array([p[3] for _, p in work])
        a2 = np.vstack((np.hstack((olda[:, :1], A[:, :16])), np.hstack((A[:, 15:], olda[:, 16:]))))
        f2 = np.vstack((np.hstack((oldf[:, :1], F[:, :16])), np.hstack((F[:, 15:], oldf[:, 16:]))))
        owner = np.array([j for j, _ in work])
        k, err = panel_errors(halves[:, 0], halves[:, 16], a2, f2,
                               np.tile(tok.cross_mass[owner], 2), halves)
        for q, (j, _) in enumerate(work):
            panels[j] += [(lo[q], mid[q], a2[q], f2[q], k[q], err[q]),
                          (mid[q], hi[q], a2[w + q], f2[w + q], k[w + q], err[w + q])]


def split_now(items: list, target: float, every: bool) -> list:
    """The panels of one agent to bisect now, taken out of ``items``: the worst, or with
    ``every`` each whose error exceeds the mean share ``target / len(items)`` (worst
    first, up to :data:`MAX_PANELS` in all): on a small vocabulary a round's fixed cost
    outweighs a few extra nodes. The stopping test is the same either way."""
    order = sorted(range(len(items)), key=lambda q: -items[q][5])
    take = order[:1]
    if every:
        share = target / len(items)
        take = [q for q in order if items[q][5] > share][:MAX_PANELS - len(items)] or take
    out = [items[q] for q in take]
    for q in sorted(take, reverse=True):
        items.pop(q)
    return out
