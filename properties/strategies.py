"""Hypothesis strategies for auction inputs (exported for users' own tests).

Small composable pieces: :func:`distributions`,
:func:`bid_profiles`, :func:`instances`. Edge cases are drawn on purpose: zeros,
``1e-300``, one-hot and near-one-hot rows, sparse rows (several zeros), exact ties, round
numbers, zero / tied / huge bids, whole bid profiles at magnitudes from ``1e-300`` to
``1e300`` (:data:`MAGNITUDES`), and ``literals``: numbers taken from the target's own
source at ordinary magnitudes (a rule special at ``bid == 0.37`` gets ``0.37`` and its
float neighbours; the bid sweeps of ``monotone`` and ``consistent`` take every magnitude).

Each strategy object is built once per signature and reused (the public functions return
cached objects): hypothesis validates a strategy object on its first draw, and a draw that
built its pieces anew paid that on every example. The choices a seed draws, hence its
examples, are the same either way.
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

TINY = 1e-300
#: Decimal exponents a whole bid profile may be rescaled by (``huge=True``): 1e-300..1e300.
MAGNITUDES = (-300, 300)

_SHAPES = st.sampled_from(["dense", "dense", "round", "sparse", "onehot", "uniform", "tiny",
                           "near_onehot", "zeros", "zeros"])
_PLAIN_SHAPES = st.sampled_from(["dense", "round"])
_DELTAS = st.sampled_from([1e-12, 1e-6, 1e-3, 0.05])
_ROUND_BIDS = st.sampled_from([0.5, 1.0, 2.0, 3.0, 0.01, 0.1, 0.25])
_HUGE_BIDS = st.sampled_from([1e3, 1e6, 1e-12, 1e12, 1e155, 1e300, 1e-300])
_MAGNITUDE = st.one_of(st.integers(*MAGNITUDES), st.sampled_from([-300, 154, 155, 300]))
_RIVAL_BIDS = st.sampled_from([0.5, 1.0, 2.0])
_cached = functools.lru_cache(maxsize=1024)


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


def _size(x):
    """An int, or a (min, max) pair as a tuple (a cache key)."""
    return int(x) if isinstance(x, numbers.Integral) else tuple(int(v) for v in x)


@_cached
def _floats(lo: float, hi: float, size: int):
    """``size`` floats in ``[lo, hi]``."""
    return st.lists(st.floats(lo, hi), min_size=size, max_size=size)


@_cached
def _round_weights(V: int):
    return st.lists(st.integers(0, 10), min_size=V, max_size=V).filter(lambda x: sum(x) > 0)


@_cached
def _kept_tokens(V: int):
    return st.lists(st.integers(0, V - 1), min_size=1, max_size=max(1, V // 2), unique=True)


def distributions(V: int, *, edge: bool = True, interior: bool = False):
    """A distribution over ``V`` tokens.

    ``edge``: may be one-hot, uniform (ties), have zeros or ``1e-300`` entries.
    ``interior``: every probability at least 1e-3 (for continuity and KL valuations).
    """
    return _distributions(int(V), bool(edge), bool(interior))


@_cached
def _distributions(V: int, edge: bool, interior: bool):
    return _distribution(V, edge, interior)


@st.composite
def _distribution(draw, V: int, edge: bool, interior: bool):
    if interior:
        p = _normalize(draw(_floats(0.05, 1.0, V)))
        return _normalize(np.maximum(p, 1e-3))
    shape = draw(_SHAPES if edge else _PLAIN_SHAPES)
    if shape == "onehot":
        p = np.zeros(V)
        p[draw(st.integers(0, V - 1))] = 1.0
        return p
    if shape == "near_onehot" and V > 1:   # one token with 1 - delta, the rest share delta
        delta = draw(_DELTAS)
        p = np.full(V, delta / (V - 1))
        p[draw(st.integers(0, V - 1))] = 1.0 - delta
        return p
    if shape == "zeros" and V > 1:         # sparse: several zeros, at least one token left
        keep = draw(_kept_tokens(V))
        w = np.zeros(V)
        w[keep] = draw(_floats(0.05, 1.0, len(keep)))
        return _normalize(w)
    if shape == "uniform":
        return np.full(V, 1.0 / V)
    if shape == "round":
        return _normalize(draw(_round_weights(V)))
    w = [x + 1e-3 for x in draw(_floats(0.0, 1.0, V))]
    if shape in ("sparse", "tiny"):
        k = draw(st.integers(0, V - 1))
        w[k] = TINY if shape == "tiny" else 0.0
        if sum(w) <= TINY:
            w[(k + 1) % V] = 1.0
    return _normalize(w)


def staircase(n: int, V: int):
    """Reports with partially overlapping supports: row j lives on ``w`` consecutive tokens
    starting at token j (cyclically), e.g. ``[[.1, .9, 0], [0, .1, .9]]``. Pooling rules
    that are not linear in the reports (geometric, Hellinger, ...) misbehave on exactly
    these overlaps, which independent rows rarely produce."""
    return _staircases(int(n), int(V))


@_cached
def _staircases(n: int, V: int):
    return _staircase(n, V)


@st.composite
def _staircase(draw, n: int, V: int):
    w = draw(st.integers(2, V - 1))
    P = np.zeros((n, V))
    for j in range(n):
        vals = draw(_floats(0.01, 1.0, w))
        for k, x in enumerate(vals):
            P[j, (j + k) % V] = x
    return P / P.sum(axis=1, keepdims=True)


def bids(*, allow_zero: bool = True, huge: bool = True, literals=()):
    """One bid: zero, round, small, ordinary, huge, or one of the target's ``literals``."""
    return _bids(bool(allow_zero), bool(huge), tuple(literal_bids(literals)))


@_cached
def _bids(allow_zero: bool, huge: bool, lits: tuple):
    parts = [_ROUND_BIDS, st.floats(0.05, 10.0)]
    if allow_zero:
        parts.append(st.just(0.0))
    if huge:
        parts.append(_HUGE_BIDS)
    if lits:
        parts.append(st.sampled_from(lits))
    return st.one_of(*parts)


def bid_profiles(n: int, *, positive_total: bool = True, huge: bool = True, literals=()):
    """``n`` bids (zeros and ties included) with a positive total when asked; with ``huge``
    the whole profile may be rescaled by ``10**k``, ``k`` in :data:`MAGNITUDES`."""
    return _bid_profiles(int(n), bool(positive_total), bool(huge),
                         tuple(literal_bids(literals)))


@_cached
def _bid_profiles(n: int, positive_total: bool, huge: bool, lits: tuple):
    return _bid_profile(n, positive_total, huge, lits,
                        st.lists(_bids(True, huge, lits), min_size=n, max_size=n))


@st.composite
def _bid_profile(draw, n: int, positive_total: bool, huge: bool, lits: tuple, each):
    b = draw(each)
    if draw(st.booleans()) and n > 1:  # an exact tie
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        b[j] = b[i]
    if positive_total and sum(b) <= 0:
        b[draw(st.integers(0, n - 1))] = 1.0
    if not positive_total and draw(st.integers(0, 5)) == 5:
        b = [0.0] * n                     # no positive bid: only a reference can decide
    b = np.asarray(b, dtype=np.float64)
    if huge and draw(st.integers(0, 3)) == 3:   # a whole profile at another magnitude
        k = draw(_MAGNITUDE)
        top = float(b.max())
        if top > 0:
            with np.errstate(all="ignore"):
                scaled = b * (10.0 ** k / top)    # the largest bid becomes 10**k
            if np.isfinite(scaled).all() and (scaled[b > 0] > 0).all():
                b = scaled
    return b


#: With ``beyond``, about one instance in :data:`BEYOND_ONE_IN` has up to this many agents
#: or tokens (past the usual ranges: a rule that changes at n >= 5 or V >= 9 is met).
BEYOND_N, BEYOND_V, BEYOND_ONE_IN = 8, 12, 4


def beyond_for(obj) -> tuple:
    """The sizes the sampled draws of a check of ``obj`` sometimes exceed: none for a rule
    compiled for bounded sizes (it declines larger ones: such draws would be wasted)."""
    return () if getattr(obj, "bounds", None) is not None else ("n", "V")


def instances(*, n=(1, 4), V=(2, 6), edge: bool = True, interior: bool = False,
              others_positive: bool = False, huge: bool = True, positive_total: bool = True,
              literals=(), beyond: tuple = (), beyond_one_in: int = BEYOND_ONE_IN):
    """A whole auction input. ``n``/``V``: int or (min, max). ``others_positive``: the
    agents other than ``agent`` have a positive total bid (so ``Q(0)`` is defined).
    ``beyond``: the sizes among ``("n", "V")`` whose range is sometimes exceeded
    (:data:`BEYOND_N`, :data:`BEYOND_V`), in about one draw in ``beyond_one_in``."""
    return _instances(_size(n), _size(V), bool(edge), bool(interior), bool(others_positive),
                      bool(huge), bool(positive_total), tuple(literal_bids(literals)),
                      tuple(beyond), int(beyond_one_in))


@_cached
def _instances(n, V, edge, interior, others_positive, huge, positive_total, lits, beyond,
               one_in):
    return _instance(n, V, edge, interior, others_positive, huge, positive_total, lits,
                     beyond, one_in)


def _drawn_size(draw, size, beyond: bool, top: int, one_in: int) -> int:
    if isinstance(size, int):
        return size
    if beyond and size[1] < top and draw(st.integers(1, one_in)) == one_in:
        return draw(st.integers(size[1] + 1, top))
    return draw(st.integers(*size))


@st.composite
def _instance(draw, n, V, edge, interior, others_positive, huge, positive_total, lits,
              beyond=(), one_in=BEYOND_ONE_IN):
    nn = _drawn_size(draw, n, "n" in beyond, BEYOND_N, one_in)
    VV = _drawn_size(draw, V, "V" in beyond, BEYOND_V, one_in)
    if others_positive:
        nn = max(nn, 2)
    if edge and not interior and nn >= 2 and VV >= 3 and draw(st.integers(0, 2)) == 2:
        P = draw(_staircases(nn, VV))
    else:
        row = _distributions(VV, edge, interior)
        P = np.stack([draw(row) for _ in range(nn)])
    b = draw(_bid_profiles(nn, positive_total, huge, lits))
    agent = draw(st.integers(0, nn - 1))
    if others_positive and np.delete(b, agent).sum() <= 0:
        b[(agent + 1) % nn] = draw(_RIVAL_BIDS)
    return Instance(P, b, agent)
