"""A third party's ``aggregate`` with the :class:`mechanism.Rule` methods the checks use.

The mechanism audit's per-instance checks (:mod:`properties.checks`) take a rule with
``evaluate``, ``batch``, ``smoothed``, ``with_reference``, ``reference``, ``weight``,
``epsilon`` and ``generic``; :class:`ThirdPartyRule` gives an audited object's aggregate that
shape, each call through the one policy for calling user code
(:func:`properties.sandbox.call_as_rule`).
"""

from __future__ import annotations

import numpy as np

from mechanism.errors import InvalidRule
from mechanism.rules import check_output

from properties.sandbox import RuleFailure, Undefined, call_as_rule, guarded_calls


class ThirdPartyRule:
    """Unlike :func:`mechanism.as_rule` it does not impose theory §2's ``W = 0`` convention:
    the object decides where it is defined (it raises InvalidInput elsewhere), so e.g. a
    reserve rule may show a platform default when no bid clears the reserve. Outputs are
    checked by :func:`mechanism.rules.check_output` (InvalidRule when not a distribution).
    ``cage``: the worker running ``fn`` (a bid grid then crosses as one request)."""

    reference, weight, epsilon, generic = None, 0.0, 0.0, None

    def __init__(self, fn, name: str, claims=None, cage=None):
        self.fn, self.name, self.claims, self.cage = fn, name, dict(claims or {}), cage

    def evaluate(self, P, b):
        out = call_as_rule(self.name, self.fn, (P.copy(), b.copy()), value={"bids": b.tolist()})
        return self._checked(out, P.shape[1], b)

    __call__ = evaluate

    def _checked(self, q, V: int, b) -> np.ndarray:
        try:
            return check_output(q, V, self.name)
        except InvalidRule as exc:  # name the bids it was called at (a bid path's node)
            raise InvalidRule(str(exc), rule=exc.rule, value={"bids": np.asarray(b).tolist()}) from None

    def batch(self, P, bid_matrix):
        bm = np.asarray(bid_matrix, dtype=np.float64)
        if self.cage is None:  # one row: evaluate's own call (cheaper than a block's set-up)
            rows = self._rows(P, bm) if len(bm) != 1 else [self.evaluate(P, bm[0])]
            return np.stack(rows) if rows else np.zeros((0, P.shape[1]))
        out = call_as_rule(self.name, self.cage.call,
                           ("aggregate_batch", np.array(P, dtype=np.float64), bm))
        if out.ndim != 2 or out.shape[0] != bm.shape[0]:
            raise InvalidRule(f"{self.name} returned {out.shape} for {bm.shape[0]} bid profiles",
                              rule=self.name)
        return np.stack([self._checked(q, P.shape[1], row) for q, row in zip(out, bm)])

    def _rows(self, P, bm) -> list[np.ndarray]:
        """Each row exactly as :meth:`evaluate` computes it (a copy of the inputs, its own
        numpy error state, the same failures naming the same bids), the rows in one
        :func:`properties.sandbox.guarded_calls` block (its set-up once, not per row); the
        first failing row stops the grid, an InvalidInput passes through as raised."""
        out, declined = [], None
        with guarded_calls(self.name, None) as call:
            for row in bm:
                try:
                    q = call(self.fn, (P.copy(), row.copy()))
                except Undefined as exc:
                    declined = exc.__cause__  # the object's own InvalidInput, raised below
                    break
                except RuleFailure as exc:
                    raise InvalidRule(str(exc), rule=self.name,
                                      value={"bids": row.tolist()}) from exc.__cause__
                out.append(self._checked(q, P.shape[1], row))
        if declined is not None:
            raise declined
        return out

    def with_reference(self, reference, weight=None):
        return self

    def smoothed(self, P):
        """No smoothing: the reports as given (the :class:`mechanism.Rule` protocol)."""
        return P, None
