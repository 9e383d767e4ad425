"""Answers a target gave, remembered to notice a different answer for the same input.

A deterministic rule (theory §2: the aggregate is a function of the reports and the bids)
answers one input one way; :class:`Memo` keeps the first answer per (call, rule variant,
input) and records the first disagreement as evidence (``check``'s ``deterministic``).
"""

from __future__ import annotations

import numpy as np

from mechanism import rules as R

#: Outputs remembered per target to notice a different answer for the same input.
MEMO_SIZE = 20000


def _rule_key(rule) -> tuple:
    if isinstance(rule, R.Rule):
        ref = None if rule.reference is None else rule.reference.tobytes()
        return (ref, rule.weight, rule.epsilon)
    return (id(rule),)


def _digest(P, b) -> tuple:
    P, b = np.asarray(P, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (P.shape, P.tobytes(), b.tobytes())


class Memo:
    """First answers per input; ``evidence`` is the first input answered twice differently."""

    def __init__(self, size: int = MEMO_SIZE):
        self.size = size
        self.answers: dict = {}
        self.repeats = 0      #: answers compared with an earlier one for the same input
        self.evidence: dict | None = None

    def remember(self, label, inputs, out, rule=None) -> None:
        """Compare ``out`` with the answer given earlier for the same ``inputs`` (and the same
        rule: a variant with another reference or weight is another rule)."""
        if self.evidence is not None:
            return
        self._compare((label, _rule_key(rule), _digest(*inputs)), inputs, out)

    def rows(self, label, P, rule=None):
        """``remember(b, out)`` for many bid profiles on one ``P`` (the rows of a bid grid):
        the same keys as :meth:`remember`, the parts shared by the rows computed once."""
        P = np.asarray(P, dtype=np.float64)
        head, shape, data = (label, _rule_key(rule)), P.shape, P.tobytes()

        def remember(b, out) -> None:
            if self.evidence is None:
                b = np.asarray(b, dtype=np.float64)
                self._compare((*head, (shape, data, b.tobytes())), (P, b), out)
        return remember

    def _compare(self, key, inputs, out) -> None:
        prev = self.answers.get(key)
        if prev is None:
            if len(self.answers) < self.size:
                self.answers[key] = np.array(out, dtype=np.float64)
            return
        out = np.asarray(out, dtype=np.float64)
        self.repeats += 1
        if prev.shape == out.shape and prev.tobytes() == out.tobytes():
            return   # the same answer bit for bit (the common case: no tolerance needed)
        if prev.shape != out.shape or not np.allclose(prev, out, rtol=1e-12, atol=1e-12,
                                                      equal_nan=True):
            self.evidence = {"label": key[0], "dists": np.array(inputs[0]),
                             "bids": np.array(inputs[1]), "first": prev, "second": out}
