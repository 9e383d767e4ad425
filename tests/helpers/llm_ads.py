"""Three LLM-ad mechanisms of the kinds people build, written here from their
mathematical description, in the audit interface of
``properties.audit.implementation``:

(a) :class:`SoftmaxExternality`: the aggregate is the softmax(b / T) mixture of the reports
    (agents below an optional reserve are dropped); each agent pays the bid-weighted
    externality it imposes on the others' mixing weights.
(b) :class:`SlateCriticalBid`: linear (or log-linear) aggregation of item slates; the
    agent pays its *critical bid*, the least bid that keeps its favourite item in the
    top-k of the aggregate, found by binary search.
(c) :class:`SegmentAuction`: retrieval-augmented, one ad per segment: every report is
    the one-hot indicator of the agent's ad; the ad is drawn with probability proportional
    to bid x relevance by a Gumbel-perturbed arg-max; the winner pays its threshold (the
    least bid with which it still wins under the same draw). Expected threshold:
    ``B/r ln(1 + b r / B) - b B / (b r + B)``, ``B`` the others' bid x relevance.

Plus :class:`WinnerTakeAllRunnerUp` (the highest bid wins, pays the runner-up's bid) and
:class:`FixedGumbelSegment` (the segment auction with 50 fixed Gumbel draws: the outcome
is the empirical law of the winner over the draws, an allocation with up to 50 jumps).
"""

from __future__ import annotations

import numpy as np

from mechanism import get_rule
from mechanism.errors import InvalidInput
from mechanism.sampling import gumbel_max


def _softmax(x):
    e = np.exp(np.asarray(x, dtype=float) - np.max(x))
    return e / e.sum()


class SoftmaxExternality:
    """(a) softmax(b / T) mixture, "externality" payment, optional reserve."""

    name = "softmax-externality"

    def __init__(self, temperature: float = 1.0, reserve: float = 0.0):
        self.temperature, self.reserve = float(temperature), float(reserve)

    def _weights(self, b):
        b = np.asarray(b, dtype=float)
        ok = b >= self.reserve if self.reserve else np.ones(b.size, bool)
        ok &= b > 0
        if not ok.any():
            raise InvalidInput("no bid clears the reserve", value=b.tolist())
        w = np.zeros(b.size)
        w[ok] = _softmax(b[ok] / self.temperature)
        return w

    def aggregate(self, dists, bids):
        return self._weights(bids) @ np.asarray(dists, dtype=float)

    def payments(self, dists, bids):
        b = np.asarray(bids, dtype=float)
        w = self._weights(b)
        z = np.zeros(b.size)
        for i in range(b.size):
            if w[i] == 0:
                continue
            bo = b.copy()
            bo[i] = 0.0
            try:
                w_without = self._weights(bo)
            except InvalidInput:
                continue
            z[i] = float(np.delete(b, i) @ np.delete(w_without - w, i))
        return z


class SlateCriticalBid:
    """(b) slate aggregation (linear or log-linear) with a critical-bid payment."""

    name = "slate-critical-bid"

    def __init__(self, rule: str = "linear", k: int = 1, steps: int = 50):
        self.rule, self.k, self.steps = get_rule(rule), int(k), int(steps)

    def aggregate(self, dists, bids):
        return self.rule(dists, bids)

    def _in_slate(self, dists, bids, i, s):
        b = np.asarray(bids, dtype=float).copy()
        b[i] = s
        if b.sum() <= 0:
            return False
        q = self.rule(dists, b)
        top = np.argsort(-q, kind="stable")[:self.k]
        return int(np.argmax(dists[i])) in top

    def payments(self, dists, bids):
        P, b = np.asarray(dists, dtype=float), np.asarray(bids, dtype=float)
        z = np.zeros(b.size)
        for i in range(b.size):
            if b[i] <= 0 or not self._in_slate(P, b, i, b[i]):
                continue
            lo, hi = 0.0, float(b[i])
            if self._in_slate(P, b, i, 0.0) if np.delete(b, i).sum() > 0 else False:
                continue  # in the slate without bidding: critical bid 0
            for _ in range(self.steps):
                mid = 0.5 * (lo + hi)
                lo, hi = (lo, mid) if self._in_slate(P, b, i, mid) else (mid, hi)
            z[i] = hi
        return z


class SegmentAuction:
    """(c) one ad per segment, Gumbel-perturbed arg-max on bid x relevance, threshold payment."""

    name = "segment-auction"

    def __init__(self, relevance=None):
        self.relevance = None if relevance is None else np.asarray(relevance, dtype=float)

    def _r(self, n):
        return np.ones(n) if self.relevance is None else self.relevance[:n]

    def aggregate(self, dists, bids):
        P, b = np.asarray(dists, dtype=float), np.asarray(bids, dtype=float)
        w = b * self._r(b.size)
        if w.sum() <= 0:
            raise InvalidInput("every bid x relevance is 0: no ad can win", value=b.tolist())
        return (w / w.sum()) @ P

    def payments(self, dists, bids):
        b = np.asarray(bids, dtype=float)
        r = self._r(b.size)
        w = b * r
        z = np.zeros(b.size)
        for i in range(b.size):
            B = float(w.sum() - w[i])
            if b[i] > 0 and B > 0:
                z[i] = B / r[i] * np.log1p(b[i] * r[i] / B) - b[i] * B / (b[i] * r[i] + B)
        return z

    uniforms = "per_agent"   # the sampler consumes one uniform per agent

    def sample_winner(self, bids, u):
        return gumbel_max(np.log(np.maximum(np.asarray(bids, float) * self._r(len(bids)),
                                            1e-300)), u)


class WinnerTakeAllRunnerUp:
    """The highest bid (lowest index among ties) wins and pays the runner-up's bid."""

    name = "wta-runner-up"

    def aggregate(self, dists, bids):
        b = np.asarray(bids, dtype=float)
        if not (b > 0).any():
            raise InvalidInput("every bid is 0", value=b.tolist())
        return np.asarray(dists, dtype=float)[int(np.argmax(b))]

    def payments(self, dists, bids):
        b = np.asarray(bids, dtype=float)
        z = np.zeros(b.size)
        i = int(np.argmax(b))
        if b[i] > 0 and b.size > 1:
            z[i] = float(np.max(np.delete(b, i)))
        return z


class FixedGumbelSegment:
    """The segment auction with ``draws`` fixed Gumbel draws (seeded): the outcome is the
    empirical law of the winning ad; each draw's winner pays its threshold for that draw."""

    name = "fixed-gumbel-segment"

    def __init__(self, draws: int = 50, seed: int = 0, max_agents: int = 6):
        self.G = np.random.default_rng(seed).gumbel(size=(draws, max_agents))

    def _winners(self, b):
        b = np.asarray(b, dtype=float)
        with np.errstate(divide="ignore"):
            score = np.log(b)[None, :] + self.G[:, :b.size]
        return np.argmax(score, axis=1), score

    def aggregate(self, dists, bids):
        b = np.asarray(bids, dtype=float)
        if not (b > 0).any():
            raise InvalidInput("every bid is 0", value=b.tolist())
        win, _ = self._winners(b)
        return np.bincount(win, minlength=b.size)[:b.size] / len(win) @ np.asarray(dists, float)

    def payments(self, dists, bids):
        b = np.asarray(bids, dtype=float)
        win, score = self._winners(b)
        z = np.zeros(b.size)
        for d, i in enumerate(win):
            others = np.delete(score[d], i)
            if b[i] > 0 and np.isfinite(others).any():
                z[i] += float(np.exp(np.max(others) - self.G[d, i]))
        return z / len(win)
