"""Generic rules that are *not* monotone, planted to show that the engines refute.

Both are written backend-generically (``mechanism.arith`` conventions) so that the
rule-level z3 check can search them, and the numpy reference can confirm the model.
They are deliberately not registered in ``mechanism.rules.RULES``.
"""

from __future__ import annotations

from mechanism.rules import Rule, linear


def overbid_penalty(ops, dists, bids, reference=None, weight=0):
    """Linear aggregation with effective weights ``b / (1 + b^2)``: rises until b = 1,
    then falls, so raising a bid above 1 moves the outcome *away* from the bidder."""
    eff = [b / (1 + b * b) for b in bids]
    parties = list(zip(dists, eff)) + ([] if reference is None else [(reference, weight)])
    total = sum(w for _, w in parties)
    return sum(p * w for p, w in parties) / total


def greedy(ops, dists, bids, reference=None, weight=0):
    """Arg-max (greedy) decoding of the linear aggregate: a point mass on its most
    likely token, ties to the lowest index (theory §3: not MON for box in general)."""
    q = linear(ops, dists, bids, reference, weight)
    V = len(q)
    picks = []
    for t in range(V):
        top = ops.and_(*[ops.gt(q[t], q[u]) for u in range(t)],
                       *[ops.ge(q[t], q[u]) for u in range(t + 1, V)])
        picks.append(ops.ite(top, 1, 0))
    return ops.vector(picks)


def planted_rule(name: str) -> Rule:
    """``"overbid_penalty"`` or ``"greedy"`` as a :class:`mechanism.rules.Rule`."""
    fn = {"overbid_penalty": overbid_penalty, "greedy": greedy}[name]
    return Rule(name, fn, claims={})
