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


def smooth_reports(P, reference, epsilon):
    """``(P, reference)`` as a smoothing rule sees them (``reference`` may be None)."""
    if not epsilon:
        return P, reference
    V = np.shape(P)[-1]
    return smooth(P, epsilon, V), None if reference is None else smooth(reference, epsilon, V)
