"""One agent's bid path (docs/theory.md, section 4): bid profiles with one agent's bid
replaced, the outcomes ``Q(s)`` along the path, the others' total weight, and the bid grids
the checks walk. The one home of these concepts; everything is vectorized over the path's
rows (one ``rule.batch`` call for K bids).
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from .errors import Float64Range

#: Multipliers of the agent's own bid put on a grid by default (plus 0 and the other bids).
GRID_FACTORS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0)
#: Relative distance of the neighbours put around every other bid (where rules may jump).
NEIGHBOUR = 1e-6


def with_bid(b, agent: int, s: float) -> np.ndarray:
    """A copy of the bid profile ``b`` (float64) with ``agent``'s bid replaced by ``s``."""
    out = np.array(b, dtype=np.float64)
    out[agent] = s
    return out


def bid_profiles(b, agent: int, bids) -> np.ndarray:
    """(K, n) bid profiles: ``b`` with agent's bid replaced by each of ``bids`` (the
    outcome ``Q(s)`` of section 4 is ``rule.batch(P, bid_profiles(b, i, s))``)."""
    bids = np.atleast_1d(np.asarray(bids, dtype=np.float64))
    B = np.repeat(np.asarray(b, dtype=np.float64)[None, :], len(bids), axis=0)
    B[:, agent] = bids
    return B


def bid_path(rule, P: np.ndarray, b, agent: int, bids) -> np.ndarray:
    """``Q(s)`` for every ``s`` in ``bids``, agent's bid varying, the others fixed: (K, V).
    ``rule`` is anything with ``batch(P, bid_matrix)`` (a :class:`mechanism.Rule`, a
    checked target)."""
    return rule.batch(P, bid_profiles(b, agent, bids))


def has_weight(b, reference=None, weight: float = 0.0) -> np.ndarray | bool:
    """``W > 0`` (docs/theory.md, section 2: where every rule is defined), over the last
    axis, without summing: some bid is positive, or a reference is bound with ``lambda > 0``
    (the bids and lambda are non-negative), so it holds even where ``W`` overflows float64."""
    pos = (np.asarray(b, dtype=np.float64) > 0).any(axis=-1)
    if reference is not None and float(weight) > 0:
        pos = np.ones_like(pos)
    return bool(pos) if pos.ndim == 0 else pos


def rule_has_weight(rule, b) -> bool:
    """``W > 0`` for ``rule`` at ``b`` by the rule's own total weight (a compiled family
    rule weighs ``f(b_j)``, not ``b_j``): a total beyond float64 is positive."""
    try:
        return bool(rule.total_weight(b) > 0)
    except Float64Range:
        return True


def grid_has_weight(rule, bm, stock_total: bool) -> list:
    """``W > 0`` of each bid profile (row of ``bm``), a list of bools, by ``rule``'s own
    total weight: where it is the stock one (``stock_total``: :func:`total_weight` of its
    reference and weight) that is :func:`has_weight` over the whole grid, which sums
    nothing; else :func:`rule_has_weight` row by row."""
    if stock_total:
        return has_weight(bm, rule.reference, rule.weight).reshape(len(bm)).tolist()
    return [rule_has_weight(rule, b) for b in bm]


def total_weight(b, reference=None, weight: float = 0.0) -> np.ndarray | float:
    """``W = sum_j b_j (+ lambda when a reference is bound)`` (docs/theory.md, section 2),
    over the last axis: a float for one profile, an array for (K, n) profiles. A total
    beyond float64 (finite bids and lambda whose sum overflows) is
    :class:`mechanism.errors.Float64Range`, never ``inf`` and never a warning (the rules
    themselves are scale-free; :func:`has_weight` and :func:`rule_has_weight` are the sign
    tests that cannot overflow)."""
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(over="ignore"):   # non-negative terms: only a total beyond float64
        W = b.sum(axis=-1)             # overflows, and that is refused below
        if reference is not None:
            W = W + float(weight)
    if not (math.isfinite(W) if W.ndim == 0 else np.all(np.isfinite(W))):
        raise Float64Range(f"the total weight of bids {b.tolist()}"
                           + (f" and lambda {float(weight)!r}" if reference is not None else "")
                           + " is beyond float64; scale every bid and lambda down by one "
                           "common factor (only ratios matter to the rules)", value=b.tolist())
    return float(W) if W.ndim == 0 else W


def others_weight(b, agent: int, reference=None, weight: float = 0.0) -> float:
    """``B_i = W - b_i``: the weight of every party but ``agent`` (reference included).
    ``B_i = 0`` means ``Q(0)`` is undefined (no competition)."""
    b = np.asarray(b, dtype=np.float64)
    return float(total_weight(np.delete(b, agent), reference, weight))


#: The others' share of the total weight below which ``W - b_i`` is not used: its relative
#: error is about ``eps W / B_i``, under 3e-13 above this share.
DOMINANT_OTHERS = 2.0 ** -10


def dominant(b, W) -> int | None:
    """The agent (at most one) whose others hold less than :data:`DOMINANT_OTHERS` of the
    total weight ``W``: the one whose ``W - b_i`` cancels (bids (1e20, 1): ``W - 1e20 = 0``
    in float64) and whose others' mixture a one-pass ``W p_i - S`` loses."""
    i = int(np.argmax(b))
    return i if W - b[i] < DOMINANT_OTHERS * W else None


def others_weights(b, W, reference=None, weight: float = 0.0) -> np.ndarray:
    """``B_i = W - b_i`` of every agent (``W`` the total weight); for the :func:`dominant`
    agent, the others' own sum (:func:`others_weight`), where ``W - b_i`` cancels."""
    b = np.asarray(b, dtype=np.float64)
    B = W - b
    i = dominant(b, W)
    if i is not None:
        B[i] = others_weight(b, i, reference, weight)
    return B


def bid_grid(b, agent: int, *, factors: Iterable[float] = GRID_FACTORS,
             scale: float | None = None, cuts: Iterable[float] = (),
             around_others: bool = True, rel: float = NEIGHBOUR) -> np.ndarray:
    """Sorted finite bids for ``agent``: 0, its own bid, ``scale * f`` for ``f`` in
    ``factors`` (``scale``: its bid, else the largest other bid, else 1) and, with
    ``around_others``, every other positive bid and extra cut (a reserve) with its two
    neighbours at relative distance ``rel`` (where winner-take-all and reserves jump)."""
    b = np.asarray(b, dtype=np.float64)
    others = np.delete(b, agent)
    own = float(b[agent])
    if scale is None or not scale > 0:
        scale = own if own > 0 else float(others.max(initial=0.0)) or 1.0
    pts = [np.zeros(1), [own], scale * np.asarray(tuple(factors), dtype=np.float64)]
    if around_others:
        x = np.concatenate((others[others > 0], [c for c in cuts if c > 0]))
        pts += [x * (1 - rel), x, x * (1 + rel)]
    g = np.unique(np.concatenate([np.asarray(p, dtype=np.float64) for p in pts]))
    return g[np.isfinite(g) & (g >= 0)]
