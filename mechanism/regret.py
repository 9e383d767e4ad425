"""Regret of truthful bidding (docs/theory.md, section 6, the valuation model): an agent
with value ``t`` for the outcome, ``u(s) = t (-L(p_i, Q(s))) - Z(s)`` when it bids ``s``,
has regret ``max(0, max_s u(s) - u(t))`` over candidate misreports ``s``. A payment rule
is truthful for the valuation when the regret is 0 everywhere.

The one implementation: the property suite (``truthful``), the mechanism audit and the
demo's per-step verification all call :func:`regret` with their own utility (their own
loss, payment and candidate bids), vectorized over the candidate bids.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

#: Default misreports, as multiples of the true value (the first regret protocol).
MISREPORTS = (0.25, 0.5, 0.75, 0.9, 1.1, 1.25, 1.5, 2.0)


def misreports(value: float, factors=MISREPORTS) -> np.ndarray:
    """The candidate bids ``x * value`` for ``x`` in ``factors``."""
    return float(value) * np.asarray(factors, dtype=np.float64)


def regret(value: float, candidates, utility: Callable[[np.ndarray], np.ndarray]):
    """``(gain, best_bid)``: the largest ``u(s) - u(value)`` over the ``candidates`` (0 and
    the truthful bid when no candidate gains), or None when ``u(value)`` is not finite.

    ``utility(bids)`` maps K bids to K utilities in one call (evaluate the rule on
    :func:`mechanism.bids.bid_profiles`); a candidate whose utility is not finite (the
    outcome is undefined there) never counts as a gain.
    """
    s = np.concatenate(([float(value)], np.atleast_1d(np.asarray(candidates, dtype=np.float64))))
    u = np.asarray(utility(s), dtype=np.float64)
    if u.shape != s.shape:
        raise ValueError(f"utility returned shape {u.shape} for {s.size} bids")
    if not np.isfinite(u[0]):
        return None
    gains = np.where(np.isfinite(u[1:]), u[1:] - u[0], -np.inf)
    if gains.size == 0 or not gains.max() > 0:
        return 0.0, float(value)
    k = int(np.argmax(gains))
    return float(gains[k]), float(s[1 + k])
