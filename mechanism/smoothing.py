"""Smoothing (docs/theory.md, section 2): every party's report ``p`` becomes
``(1 - eps) p + eps / V`` before aggregation, only when asked for (``epsilon > 0``); the
properties then hold for the smoothed reports, so an agent's ideal distribution is its
smoothed report. The one implementation, used by :class:`mechanism.Rule`, the property
suite's targets and the z3 encodings of ``proofs/`` (backend-generic: it only multiplies
and adds, so numpy rows, Fractions and solver vectors all work).
"""

from __future__ import annotations

import numpy as np


def smooth(p, epsilon, V: int | None = None):
    """``(1 - eps) p + eps / V`` over the last axis (``V`` defaults to ``p.shape[-1]``);
    ``p`` unchanged when ``epsilon`` is 0. Rows of a (n, V) array are smoothed at once."""
    if isinstance(epsilon, (int, float)) and epsilon == 0:  # solver scalars: no truth value
        return p
    V = np.shape(p)[-1] if V is None else V
    return p * (1 - epsilon) + epsilon / V


#: the least ``eps / V`` float64 smoothing may add: below it (subnormal or 0) a report's
#: zero stays 0 or loses its precision, and a zero vetoes in log-linear pooling
MIN_SHARE = float(np.finfo(np.float64).tiny)


def smooth_reports(P, reference, epsilon):
    """``(P, reference)`` as a smoothing rule sees them (``reference`` may be None).
    InvalidInput where ``eps / V`` is below :data:`MIN_SHARE` in float64: with
    ``eps = 5e-324`` it rounds to 0, the smoothed rows keep their zeros (every entry is
    positive in exact reals), and log-linear pooling was not monotone on them."""
    if not epsilon:
        return P, reference
    V = np.shape(P)[-1]
    if isinstance(epsilon, (int, float, np.floating)) and epsilon / V < MIN_SHARE:
        from .errors import InvalidInput
        raise InvalidInput(f"epsilon = {epsilon!r} is too small to smooth {V} tokens in "
                           f"float64 (eps / V = {epsilon / V!r} is below {MIN_SHARE}); use "
                           f"epsilon = 0 or at least {MIN_SHARE * V!r}", value=epsilon)
    return smooth(P, epsilon, V), None if reference is None else smooth(reference, epsilon, V)
