"""The counterexamples the characterization's other direction builds for a family rule
(docs/theory.md section 8), each confirmed on the numpy reference at several (n, V)
before REFUTED is reported:

* normalized weights with ``f(x) > f(y)``, ``x < y``: agent 0 reports token 0, the other
  n - 1 agents token 1 and bid x; agent 0 raises x -> y; every other weight rises
  (lemma ``norm_nec``) and token 1 moves away from agent 0's 0 (``nec_rise``), every n >= 2,
  V >= 2 (tokens of probability 0 pad V);
* log-linear pooling on V >= 3: agent 0 reports (.6, .3, .1), the others (.1, .3, .6)
  bidding y; agent 0 raises x -> y with f(x) < f(y); its weight rises to 1/n <= 1/2 and
  the middle token moves away from 0.3 (lemma ``loglinear_v3_dip``).
"""

from __future__ import annotations

import numpy as np

from mechanism.errors import InvalidInput
from mechanism.orders import prefers
from mechanism.verdicts import Verdict

from proofs.compile import evaluate as E
from proofs.unbounded.chains import run_chain
from proofs.registry import ProofResult


def _instance(n, V, agent_p, other_p, other_bid, frm, to):
    pad = lambda p: list(p) + [0.0] * (V - len(p))
    return {"dists": [pad(agent_p)] + [pad(other_p)] * (n - 1), "bids": [frm] + [other_bid] *
            (n - 1), "agent": 0, "bid_from": frm, "bid_to": to}


def confirm_on_code(rule, cex, order):
    """Re-run on the numpy reference: (q_from, q_to) when q_to is not ⪰ q_from, else None
    (also None when the rule declines a bid of the instance: InvalidInput is no evidence)."""
    P = np.asarray(cex["dists"], dtype=float)
    a = int(cex.get("agent", 0))
    bf, bt = list(cex["bids"]), list(cex["bids"])
    bf[a], bt[a] = cex["bid_from"], cex["bid_to"]
    try:
        qf, qt = rule.evaluate(P, np.asarray(bf, float)), rule.evaluate(P, np.asarray(bt, float))
    except InvalidInput:
        return None
    p = rule.smoothed(P)[0][a]  # the order is taken for the (smoothed) report, as proved
    return None if prefers(p, qt, qf, order) else (qf, qt)


def _refuted(rule, order, build, what, extra, steps_ids):
    """Confirm the parametric instance at several (n, V); report the smallest."""
    m = build.min_V
    sizes = [(2, m), (3, m + 1), (5, m + 2), (8, 6)] if V_of(rule) is None else \
        [(n, V_of(rule)) for n in (2, 3, 5, 8)]
    if not sizes or sizes[0][1] < m:
        return None
    seen = []
    for n, V in sizes:
        cex = build(n, V)
        got = confirm_on_code(rule, cex, order)
        if got is None:
            return None
        seen.append(f"n={n} V={V}")
        if len(seen) == 1:
            first = dict(cex, q_from=got[0].tolist(), q_to=got[1].tolist(),
                         property="monotone", order=order)
    own = run_chain(steps_ids, 10.0)
    general = rule.reference is None and not rule.epsilon and own.proved
    chain = run_chain(steps_ids, 10.0, extra)
    why = (f" (and for every n >= 2, V >= {build.min_V} by the lemmas: {own.summary()})"
           if general else " (the every-n argument does not cover a reference or smoothing)")
    res = ProofResult(Verdict.REFUTED, "numpy+" + own.engines(),
                      f"{what}; the parametric instance is confirmed on the numpy reference "
                      f"at {', '.join(seen)}{why}",
                      f"every n>=2, V>={build.min_V}" if general else ", ".join(seen), first)
    res.lemmas = chain.steps
    return res


def V_of(rule):
    return None if rule.reference is None else rule.reference.size


def refute_decreasing(rule, order, fact, extra):
    x, y = fact.witness
    def build(n, V):  # agent 0 on token 0, the others on token 1 bidding x; agent 0 x -> y
        return _instance(n, V, [1.0, 0.0], [0.0, 1.0], x, x, y)
    build.min_V = 2
    return _refuted(rule, order, build, f"f({x!r}) > f({y!r}): raising the bid from {x!r} to "
                    f"{y!r} raises every other party's weight (lemma norm_nec), and token 0 "
                    "falls below q and p (lemma nec_rise)", extra,
                    ["characterization", "norm_nec", "nec_rise"])


def refute_loglinear(rule, order, extra):
    pts = np.unique(np.concatenate([np.linspace(0, 10, 101), np.logspace(-3, 1, 41)]))
    F = np.asarray(E.numpy_value(rule.runtime_tree, pts), float) * np.ones_like(pts)
    ok = np.isfinite(F) & (F >= 0)
    pts, F = pts[ok], F[ok]
    if not len(F):
        return None
    k = int(np.argmin(F))  # the lowest weight, then the highest weight above it
    later = [m for m in range(k + 1, len(F)) if F[m] > F[k] * (1 + 1e-6) + 1e-12]
    if not later:
        return None
    x, y = float(pts[k]), float(pts[max(later, key=lambda m: F[m])])
    def build(n, V):  # p1 = (.6,.3,.1), the others (.1,.3,.6) bidding y; agent 0 x -> y
        return _instance(n, V, [.6, .3, .1], [.1, .3, .6], y, x, y)
    build.min_V = 3
    return _refuted(rule, order, build, f"log-linear pooling on 3 tokens: agent 0's weight "
                    f"rises from f({x!r})/(f({x!r}) + (n-1) f({y!r})) to 1/n <= 1/2, and the "
                    "middle token rises away from 0.3 (lemma loglinear_v3_dip)", extra,
                    ["loglinear_v3_dip"])
