"""Mechanisms for the audit tests: one correct, and four that mimic bugs seen in public
LLM-auction code. Each follows the interface of properties.audit.implementation."""

from __future__ import annotations

import numpy as np

from mechanism import expected_payments, get_rule, tv
from mechanism.errors import InvalidInput

LINEAR = get_rule("linear")


class CorrectLinear:
    """Linear aggregation with the second-price (Myerson) expected payment."""

    name = "correct-linear"

    def aggregate(self, dists, bids):
        return LINEAR(dists, bids)

    def payments(self, dists, bids):
        return expected_payments(LINEAR, dists, bids).values


class FullBidPayer(CorrectLinear):
    """Bug: each agent is charged about its full bid whatever its influence."""

    name = "full-bid"

    def payments(self, dists, bids):
        return 0.95 * np.asarray(bids, dtype=float)


def _softmax(b):
    e = np.exp(np.asarray(b, dtype=float) - np.max(b))
    return e / e.sum()


class SoftmaxExternality:
    """Bug: softmax(bids)-weighted mixing, each agent paying the bid-weighted
    externality it imposes on the others' mixing weights."""

    name = "softmax-externality"

    def aggregate(self, dists, bids):
        return _softmax(bids) @ np.asarray(dists, dtype=float)

    def payments(self, dists, bids):
        b = np.asarray(bids, dtype=float)
        w = _softmax(b)
        z = np.zeros(b.size)
        for i in range(b.size):
            others = np.delete(np.arange(b.size), i)
            w_without = _softmax(b[others])
            z[i] = float(b[others] @ (w_without - w[others]))
        return z


class ReserveWinnerTakeAll:
    """Winner-take-all with a reserve r: bids below r do not compete; with no bid at or
    above r the platform shows its default (uniform). The winner pays
    TV(p_i, outcome without i) * max(r, runner-up bid) (Myerson with a reserve)."""

    name = "reserve-wta"
    reserve = 1.0
    #: a reserve is absolute (not scale-invariant), and with every bid below it the
    #: platform's default shows even when all agents agree
    claims = {"scale_invariant": False, "unanimous": False}

    def _winner(self, b):
        ok = np.flatnonzero(b >= self.reserve)
        return None if ok.size == 0 else int(ok[np.argmax(b[ok])])

    def aggregate(self, dists, bids):
        P, b = np.asarray(dists, dtype=float), np.asarray(bids, dtype=float)
        k = self._winner(b)
        return np.full(P.shape[1], 1.0 / P.shape[1]) if k is None else P[k].copy()

    def _runner_up(self, b, i):
        bb = b.copy()
        bb[i] = 0.0
        return self._winner(bb)

    def payments(self, dists, bids):
        P, b = np.asarray(dists, dtype=float), np.asarray(bids, dtype=float)
        z = np.zeros(b.size)
        k = self._winner(b)
        if k is not None:
            j = self._runner_up(b, k)
            without = self.aggregate(P, np.where(np.arange(b.size) == k, 0.0, b))
            z[k] = float(tv(P[k], without)) * max(self.reserve, 0.0 if j is None else b[j])
        return z


class ReserveIgnored(ReserveWinnerTakeAll):
    """Bug: the winner pays TV * the runner-up's bid even when that bid is below the
    reserve (the reserve is ignored in the payment)."""

    name = "reserve-ignored"

    def payments(self, dists, bids):
        P, b = np.asarray(dists, dtype=float), np.asarray(bids, dtype=float)
        z = np.zeros(b.size)
        k = self._winner(b)
        if k is not None and b.size > 1:
            second = float(np.max(np.delete(b, k)))
            without = self.aggregate(P, np.where(np.arange(b.size) == k, 0.0, b))
            z[k] = float(tv(P[k], without)) * second
        return z


class ArgMaxToken(CorrectLinear):
    """Bug: the token is the arg-max of the aggregate instead of a draw from it."""

    name = "argmax-token"

    def sample(self, q, u):
        return int(np.argmax(q))


class Undefined(CorrectLinear):
    name = "undefined-at-zero"

    def aggregate(self, dists, bids):
        if not np.any(np.asarray(bids) > 0):
            raise InvalidInput("every bid is 0", value=list(bids))
        return LINEAR(dists, bids)
