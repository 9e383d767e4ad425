"""Hypothesis strategies for auction inputs (exported for users' own tests).

Small composable pieces (STYLE.md, Hypothesis): :func:`distributions`,
:func:`bid_profiles`, :func:`instances`. Edge cases are drawn on purpose: zeros,
``1e-300``, one-hot rows, exact ties, round numbers, zero / tied / huge bids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

TINY = 1e-300


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
    shape = draw(st.sampled_from(["dense", "dense", "dense", "round", "sparse", "onehot",
                                  "uniform", "tiny"] if edge else ["dense", "round"]))
    if shape == "onehot":
        p = np.zeros(V)
        p[draw(st.integers(0, V - 1))] = 1.0
        return p
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


def bids(*, allow_zero: bool = True, huge: bool = True):
    """One bid: zero, round, ordinary or huge."""
    parts = [st.sampled_from([0.5, 1.0, 2.0, 3.0]), st.floats(0.05, 10.0)]
    if allow_zero:
        parts.append(st.just(0.0))
    if huge:
        parts.append(st.sampled_from([1e3, 1e6]))
    return st.one_of(*parts)


@st.composite
def bid_profiles(draw, n: int, *, positive_total: bool = True, huge: bool = True):
    """``n`` bids (zeros and ties included) with a positive total when asked."""
    b = draw(st.lists(bids(huge=huge), min_size=n, max_size=n))
    if draw(st.booleans()) and n > 1:  # an exact tie
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        b[j] = b[i]
    if positive_total and sum(b) <= 0:
        b[draw(st.integers(0, n - 1))] = 1.0
    return np.asarray(b, dtype=np.float64)


@st.composite
def instances(draw, *, n=(1, 4), V=(2, 6), edge: bool = True, interior: bool = False,
              others_positive: bool = False, huge: bool = True, positive_total: bool = True):
    """A whole auction input. ``n``/``V``: int or (min, max). ``others_positive``: the
    agents other than ``agent`` have a positive total bid (so ``Q(0)`` is defined)."""
    nn = n if isinstance(n, int) else draw(st.integers(*n))
    VV = V if isinstance(V, int) else draw(st.integers(*V))
    if others_positive:
        nn = max(nn, 2)
    P = np.stack([draw(distributions(VV, edge=edge, interior=interior)) for _ in range(nn)])
    b = draw(bid_profiles(nn, positive_total=positive_total, huge=huge))
    agent = draw(st.integers(0, nn - 1))
    if others_positive and np.delete(b, agent).sum() <= 0:
        b[(agent + 1) % nn] = draw(st.sampled_from([0.5, 1.0, 2.0]))
    return Instance(P, b, agent)
