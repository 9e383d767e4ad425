"""Hypothesis strategies for auction inputs (exported for users' own tests).

Small composable pieces: :func:`distributions`,
:func:`bid_profiles`, :func:`instances`. Edge cases are drawn on purpose: zeros,
``1e-300``, one-hot and near-one-hot rows, sparse rows (several zeros), exact ties, round
numbers, zero / tied / huge bids, whole bid profiles at magnitudes from ``1e-300`` to
``1e300`` (:data:`MAGNITUDES`), and ``literals``: numbers taken from the target's own
source (a rule special at ``bid == 0.37`` gets ``0.37`` and its float neighbours).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

TINY = 1e-300
#: Decimal exponents a whole bid profile may be rescaled by (``huge=True``): 1e-300..1e300.
MAGNITUDES = (-300, 300)


def literal_bids(literals) -> list[float]:
    """Usable bids from a target's literals: each positive finite one and its float
    neighbours (a ``==`` or ``>`` threshold is hit, and crossed, exactly)."""
    out = set()
    for x in literals or ():
        try:
            x = float(x)
        except (TypeError, ValueError):
            continue
        if np.isfinite(x) and 0 < x <= 1e300:
            out.update((x, float(np.nextafter(x, 0.0)), float(np.nextafter(x, np.inf))))
    return sorted(out)


@dataclass(frozen=True)
class Instance:
    """One auction input: reports ``P`` (n, V), bids ``b`` (n,), a distinguished agent."""

    P: np.ndarray
    b: np.ndarray
    agent: int

    def __repr__(self):
        return (f"Instance(P={np.round(self.P, 6).tolist()}, b={self.b.tolist()}, "
                f"agent={self.agent})")


def _normalize(w: list[float]) -> np.ndarray:
    a = np.asarray(w, dtype=np.float64)
    return a / a.sum()


@st.composite
def distributions(draw, V: int, *, edge: bool = True, interior: bool = False):
    """A distribution over ``V`` tokens.

    ``edge``: may be one-hot, uniform (ties), have zeros or ``1e-300`` entries.
    ``interior``: every probability at least 1e-3 (for continuity and KL valuations).
    """
    if interior:
        w = draw(st.lists(st.floats(0.05, 1.0), min_size=V, max_size=V))
        p = _normalize(w)
        return _normalize(np.maximum(p, 1e-3))
    shape = draw(st.sampled_from(["dense", "dense", "round", "sparse", "onehot", "uniform",
                                  "tiny", "near_onehot", "zeros", "zeros"]
                                 if edge else ["dense", "round"]))
    if shape == "onehot":
        p = np.zeros(V)
        p[draw(st.integers(0, V - 1))] = 1.0
        return p
    if shape == "near_onehot" and V > 1:   # one token with 1 - delta, the rest share delta
        delta = draw(st.sampled_from([1e-12, 1e-6, 1e-3, 0.05]))
        p = np.full(V, delta / (V - 1))
        p[draw(st.integers(0, V - 1))] = 1.0 - delta
        return p
    if shape == "zeros" and V > 1:         # sparse: several zeros, at least one token left
        keep = draw(st.lists(st.integers(0, V - 1), min_size=1, max_size=max(1, V // 2),
                             unique=True))
        w = np.zeros(V)
        w[keep] = draw(st.lists(st.floats(0.05, 1.0), min_size=len(keep), max_size=len(keep)))
        return _normalize(w)
    if shape == "uniform":
        return np.full(V, 1.0 / V)
    if shape == "round":
        w = draw(st.lists(st.integers(0, 10), min_size=V, max_size=V).filter(lambda x: sum(x) > 0))
        return _normalize(w)
    w = draw(st.lists(st.floats(0.0, 1.0), min_size=V, max_size=V))
    w = [x + 1e-3 for x in w]
    if shape in ("sparse", "tiny"):
        k = draw(st.integers(0, V - 1))
        w[k] = TINY if shape == "tiny" else 0.0
        if sum(w) <= TINY:
            w[(k + 1) % V] = 1.0
    return _normalize(w)


@st.composite
def staircase(draw, n: int, V: int):
    """Reports with partially overlapping supports: row j lives on ``w`` consecutive tokens
    starting at token j (cyclically), e.g. ``[[.1, .9, 0], [0, .1, .9]]``. Pooling rules
    that are not linear in the reports (geometric, Hellinger, ...) misbehave on exactly
    these overlaps, which independent rows rarely produce."""
    w = draw(st.integers(2, V - 1))
    P = np.zeros((n, V))
    for j in range(n):
        vals = draw(st.lists(st.floats(0.01, 1.0), min_size=w, max_size=w))
        for k, x in enumerate(vals):
            P[j, (j + k) % V] = x
    return P / P.sum(axis=1, keepdims=True)


def bids(*, allow_zero: bool = True, huge: bool = True, literals=()):
    """One bid: zero, round, small, ordinary, huge, or one of the target's ``literals``."""
    parts = [st.sampled_from([0.5, 1.0, 2.0, 3.0, 0.01, 0.1, 0.25]), st.floats(0.05, 10.0)]
    if allow_zero:
        parts.append(st.just(0.0))
    if huge:
        parts.append(st.sampled_from([1e3, 1e6, 1e-12, 1e12, 1e155, 1e300, 1e-300]))
    lits = literal_bids(literals)
    if lits:
        parts.append(st.sampled_from(lits))
    return st.one_of(*parts)


@st.composite
def bid_profiles(draw, n: int, *, positive_total: bool = True, huge: bool = True,
                 literals=()):
    """``n`` bids (zeros and ties included) with a positive total when asked; with ``huge``
    the whole profile may be rescaled by ``10**k``, ``k`` in :data:`MAGNITUDES`."""
    b = draw(st.lists(bids(huge=huge, literals=literals), min_size=n, max_size=n))
    if draw(st.booleans()) and n > 1:  # an exact tie
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        b[j] = b[i]
    if positive_total and sum(b) <= 0:
        b[draw(st.integers(0, n - 1))] = 1.0
    if not positive_total and draw(st.integers(0, 5)) == 5:
        b = [0.0] * n                     # no positive bid: only a reference can decide
    b = np.asarray(b, dtype=np.float64)
    if huge and draw(st.integers(0, 3)) == 3:   # a whole profile at another magnitude
        k = draw(st.one_of(st.integers(*MAGNITUDES), st.sampled_from([-300, 154, 155, 300])))
        top = float(b.max())
        if top > 0:
            with np.errstate(all="ignore"):
                scaled = b * (10.0 ** k / top)    # the largest bid becomes 10**k
            if np.isfinite(scaled).all() and (scaled[b > 0] > 0).all():
                b = scaled
    return b


@st.composite
def instances(draw, *, n=(1, 4), V=(2, 6), edge: bool = True, interior: bool = False,
              others_positive: bool = False, huge: bool = True, positive_total: bool = True,
              literals=()):
    """A whole auction input. ``n``/``V``: int or (min, max). ``others_positive``: the
    agents other than ``agent`` have a positive total bid (so ``Q(0)`` is defined)."""
    nn = n if isinstance(n, int) else draw(st.integers(*n))
    VV = V if isinstance(V, int) else draw(st.integers(*V))
    if others_positive:
        nn = max(nn, 2)
    if edge and not interior and nn >= 2 and VV >= 3 and draw(st.integers(0, 2)) == 2:
        P = draw(staircase(nn, VV))
    else:
        P = np.stack([draw(distributions(VV, edge=edge, interior=interior)) for _ in range(nn)])
    b = draw(bid_profiles(nn, positive_total=positive_total, huge=huge, literals=literals))
    agent = draw(st.integers(0, nn - 1))
    if others_positive and np.delete(b, agent).sum() <= 0:
        b[(agent + 1) % nn] = draw(st.sampled_from([0.5, 1.0, 2.0]))
    return Instance(P, b, agent)
