"""Distances between distributions used by SPEC sections 3 to 5.

All take float arrays over the last axis; ``kl`` returns ``inf`` where the support
condition fails (``q(t) = 0 < p(t)``), with the convention ``0 log 0 = 0``.
"""

from __future__ import annotations

import numpy as np


def tv(p, q) -> np.ndarray | float:
    """Total variation ``TV(p, q) = 1/2 sum_t |p(t) - q(t)|``."""
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


def kl(p, q) -> float:
    """``KL(p || q) = sum_t p(t) log(p(t)/q(t))``; ``inf`` if ``q(t) = 0 < p(t)``."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    mask = p > 0
    if np.any(q[mask] <= 0):
        return float("inf")
    pm = p[mask]
    return float(max(0.0, np.sum(pm * (np.log(pm) - np.log(q[mask])))))


def l2(p, q) -> float:
    """Euclidean distance ``||p - q||_2``."""
    return float(np.linalg.norm(np.asarray(p) - np.asarray(q)))
