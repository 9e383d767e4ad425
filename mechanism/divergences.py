"""Distances between distributions used by theory §3 to 6.

All take float arrays over the last axis; ``kl`` returns ``inf`` where the support
condition fails (``q(t) = 0 < p(t)``), with the convention ``0 log 0 = 0``.
"""

from __future__ import annotations

import numpy as np

from .workspace import scratch


def tv(p, q) -> np.ndarray | float:
    """Total variation ``TV(p, q) = 1/2 sum_t |p(t) - q(t)|``. Two float64 vectors of one
    length (the two-agent step's reports) go through a scratch array: the same sum, no
    large temporaries."""
    if (type(p) is np.ndarray and type(q) is np.ndarray and p.ndim == 1
            and p.shape == q.shape and p.dtype == q.dtype == np.float64):
        d = np.subtract(p, q, out=scratch("tv", p.shape))
        return 0.5 * np.abs(d, out=d).sum()
    return 0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum(axis=-1)


def tv_rows(Q: np.ndarray, q: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """``TV(Q[..., k, :], q)`` for many rows at once, in column chunks that stay in cache
    (a large (K, V) temporary would make this memory-bound). ``q`` broadcasts against ``Q``."""
    Q = np.asarray(Q)
    q = np.broadcast_to(np.asarray(q), Q.shape)
    out = np.zeros(Q.shape[:-1])
    for start in range(0, Q.shape[-1], chunk):
        part = Q[..., start:start + chunk] - q[..., start:start + chunk]
        np.abs(part, out=part)
        out += part.sum(axis=-1)
    return 0.5 * out


def kl_rows(P, Q) -> np.ndarray:
    """``KL(P_k || Q_k) = sum_t P_k(t) log(P_k(t)/Q_k(t))`` over the last axis, rows broadcast
    (one distribution against many, or row by row); ``inf`` where ``Q(t) = 0 < P(t)``. The
    one KL of the library: :func:`kl`, the loss orders and the ``kl`` value model use it."""
    P, Q = np.broadcast_arrays(np.asarray(P, dtype=np.float64), np.asarray(Q, dtype=np.float64))
    mask = P > 0
    bad = (mask & (Q <= 0)).any(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(mask, P * (np.log(np.where(mask, P, 1.0))
                                    - np.log(np.where(mask & (Q > 0), Q, 1.0))), 0.0)
    return np.where(bad, np.inf, np.maximum(terms.sum(axis=-1), 0.0))


def kl(p, q) -> float:
    """``KL(p || q) = sum_t p(t) log(p(t)/q(t))``; ``inf`` if ``q(t) = 0 < p(t)``."""
    return float(kl_rows(p, q))


def l2(p, q) -> float:
    """Euclidean distance ``||p - q||_2``."""
    return float(np.linalg.norm(np.asarray(p) - np.asarray(q)))
