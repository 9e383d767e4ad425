"""Preference orders of agent i over distributions (theory §3).

``prefers(p, q, q_prime, order)`` reads "an agent whose ideal distribution is ``p``
weakly prefers ``q`` to ``q_prime``" (``q ⪰ q'``). Float comparisons use ONE
documented tolerance, :data:`ORDER_TOL`, scaled to the quantities compared so that a
comparison never turns on rounding: per token for ``box``; for ``segment``, the distance
from ``q`` to the segment ``[q', p]`` (never the step ``alpha`` itself, which divides by
``|p - q'|`` and blows rounding up when ``q'`` is already close to ``p``); for the loss
orders, relative to the larger loss (``tol * max(1, L)``). Exact rationals and solver
terms are compared exactly in ``proofs/``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .divergences import kl, kl_rows, l2, tv, tv_rows
from .errors import InvalidInput, lookup

#: Tolerance for equality of float probabilities (absolute: they lie in [0, 1]) and of
#: losses (relative to the larger loss, absolute below 1) in every order.
ORDER_TOL = 1e-9


def box_excess(p, q, q_prime) -> np.ndarray:
    """Per-token excess of ``q ⪰_box q'``: how far ``q(t)`` lies outside the interval
    between ``q'(t)`` and ``p(t)`` (<= 0 inside). Rows broadcast, so a whole bid path is
    one call: ``box_excess(p, Q[1:], Q[:-1])``."""
    p, q, qp = (np.asarray(x, dtype=np.float64) for x in (p, q, q_prime))
    return np.maximum(np.minimum(qp, p) - q, q - np.maximum(qp, p))


def box(p, q, q_prime, tol: float = ORDER_TOL) -> bool:
    """theory §3 box [ours]: for every token t, ``q(t)`` lies between ``q'(t)`` and ``p(t)``."""
    return bool(np.all(box_excess(p, q, q_prime) <= tol))


def box_violation(p, q, q_prime) -> tuple[int, float]:
    """The token that most violates ``q ⪰_box q'`` and by how much (0 if none)."""
    excess = box_excess(p, q, q_prime)
    t = int(np.argmax(excess))
    return t, float(max(excess[t], 0.0))


def box_path_excess(p, Q) -> np.ndarray:
    """Along a bid path ``Q`` (K, V) ordered by bid: the largest per-token excess of
    ``Q[k+1] ⪰_box Q[k]`` for each consecutive pair, (K-1,). Box is transitive, so the
    consecutive pairs decide MON on the whole path (docs/theory.md, section 4)."""
    Q = np.asarray(Q, dtype=np.float64)
    if len(Q) < 2:
        return np.zeros(0)
    return box_excess(p, Q[1:], Q[:-1]).max(axis=-1)


def box_path_violation(p, Q, tol: float = ORDER_TOL) -> dict | None:
    """The first consecutive pair of the path ``Q`` breaking box-MON by more than ``tol``:
    ``{"k": pair index, "token": t, "excess": amount}`` (the worst token of that pair), or
    None."""
    Q = np.asarray(Q, dtype=np.float64)
    bad = np.flatnonzero(box_path_excess(p, Q) > tol)
    if not bad.size:
        return None
    k = int(bad[0])
    t, amount = box_violation(p, Q[k + 1], Q[k])
    return {"k": k, "token": t, "excess": amount}


def segment(p, q, q_prime, tol: float = ORDER_TOL) -> bool:
    """theory §3 segment [ours]: ``q = q' + alpha (p - q')`` for some ``alpha in [0, 1]``.

    In floats: ``q`` lies within ``tol`` (per token) of the segment ``[q', p]``, i.e. of its
    closest point ``q' + clip(alpha, 0, 1) (p - q')``."""
    p, q, qp = (np.asarray(x, dtype=np.float64) for x in (p, q, q_prime))
    d = p - qp
    nd = float(d @ d)
    if nd <= tol * tol:
        return bool(np.max(np.abs(q - qp)) <= tol)
    alpha = float((q - qp) @ d) / nd
    return bool(np.max(np.abs(q - qp - min(max(alpha, 0.0), 1.0) * d)) <= tol)


def _loss_order(loss: Callable) -> Callable:
    def order(p, q, q_prime, tol: float = ORDER_TOL) -> bool:
        a, b = loss(p, q), loss(p, q_prime)
        if a == b:  # covers inf == inf
            return True
        return bool(a <= b + tol * max(1.0, abs(b)))
    order.loss = loss
    return order


#: theory §3 loss orders [ours]: ``q ⪰ q'`` iff ``L(q) <= L(q')``.
LOSSES: dict[str, Callable] = {
    "kl_forward": lambda p, q: kl(p, q),   # KL(p || q)
    "kl_reverse": lambda p, q: kl(q, p),   # KL(q || p)
    "tv": lambda p, q: float(tv(p, q)),
    "l2": lambda p, q: l2(p, q),
}



def loss_rows(order: str, p, Q) -> np.ndarray:
    """The loss of order ``order`` (a key of :data:`LOSSES`) for every row of ``Q``, at once."""
    p = np.asarray(p, dtype=np.float64)
    Q = np.atleast_2d(np.asarray(Q, dtype=np.float64))
    if order == "kl_forward":
        return kl_rows(p, Q)
    if order == "kl_reverse":
        return kl_rows(Q, p)
    if order == "tv":
        return tv_rows(Q, p)
    if order == "l2":
        return np.linalg.norm(Q - p, axis=-1)
    raise InvalidInput(f"{order!r} is not a loss order; use one of {', '.join(LOSSES)}",
                       value=order)


ORDERS: dict[str, Callable] = {"box": box, "segment": segment}
ORDERS.update({name: _loss_order(loss) for name, loss in LOSSES.items()})

#: Every order's name: box, segment, kl_forward, kl_reverse, tv, l2.
ALL_ORDERS = tuple(ORDERS)

#: Orders that are partial (not total preorders): incomparability is possible.
PARTIAL_ORDERS = ("box", "segment")


def get_order(order: str) -> Callable:
    """The comparison function of ``order``; InvalidInput naming the known orders."""
    return lookup(ORDERS, order, "preference order")


def prefers(p, q, q_prime, order: str = "box", tol: float = ORDER_TOL) -> bool:
    """``q ⪰ q'`` for an agent with ideal distribution ``p`` under ``order`` (theory §3)."""
    return get_order(order)(p, q, q_prime, tol)


def strictly_prefers(p, q, q_prime, order: str = "box", tol: float = ORDER_TOL) -> bool:
    """``q ≻ q'``: ``q ⪰ q'`` and not ``q' ⪰ q`` (theory §3, the strict part)."""
    f = get_order(order)
    return f(p, q, q_prime, tol) and not f(p, q_prime, q, tol)


def comparable(p, q, q_prime, order: str = "box", tol: float = ORDER_TOL) -> bool:
    """``q ⪰ q'`` or ``q' ⪰ q`` (what CA asks of every two outcomes, theory §4)."""
    f = get_order(order)
    return f(p, q, q_prime, tol) or f(p, q_prime, q, tol)
