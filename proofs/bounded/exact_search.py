"""Deciding MON / CA of a rule z3 cannot express (exp/log, e.g. log-linear) by an exact
counterexample search (docs/theory.md, section 4).

Seeded instances on a grid of tenths (distributions) and simple bids are screened on the
code that runs (``Rule.evaluate``, ``mechanism.orders``); a violation found there is then
re-evaluated EXACTLY on the rule's compiled tree in sympy (exact rationals, exact exp/log,
compared to 60 digits).
Only a violation both see, by more than 1e-9, is REFUTED. Finding none proves nothing:
the answer is then UNKNOWN with what was searched.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from mechanism.verdicts import Verdict

from proofs.bounded.backends import SympyOps
from proofs.bounded.counterexamples import bound_rule, numpy_violation, profiles
from proofs.registry import ProofResult

BIDS = (Fraction(0), Fraction(1, 2), Fraction(1), Fraction(2), Fraction(4))
PER_SIZE = 400
MARGIN = Fraction(1, 10**9)


def _instances(n, V, rng):
    for _ in range(PER_SIZE):
        P = [[Fraction(int(x), 10) for x in rng.multinomial(10, np.ones(V) / V)]
             for _ in range(n)]
        lo, hi = sorted(rng.choice(len(BIDS), size=2, replace=False))
        bids = [BIDS[int(k)] for k in rng.integers(1, len(BIDS), size=n)]
        i = int(rng.integers(n))
        yield {"dists": P, "bids": bids, "agent": i, "bid_from": BIDS[lo], "bid_to": BIDS[hi]}


def _exact(rule, cex):
    """Exact ``(q_from, q_to)`` as sympy numbers, or None if sympy cannot evaluate the rule."""
    so = SympyOps()
    r = bound_rule(rule, cex)
    ref = None if r.reference is None else so.vector([rational_str(x) for x in r.reference])
    try:
        out = []
        for prof in profiles(cex):
            dists = [so.vector(p) for p in cex["dists"]]
            if r.epsilon:
                e = so.scalar(r.epsilon)
                dists = [p * (1 - e) + e / len(p) for p in dists]
            q = r.generic(so, dists, [so.scalar(x) for x in prof], ref, so.scalar(r.weight))
            out.append([so.sp.N(x, 60) for x in q])
        return out
    except Exception:
        return None


def rational_str(x):
    """The exact binary value of a stored float64 (the compiled tree reads it so)."""
    return Fraction(float(x))


def _exact_violation(cex, qf, qt, prop, epsilon=0) -> bool:
    """Box violation (and, for CA, the reverse one too) with a margin, in 60 digits, for
    the agent's report smoothed by ``epsilon`` as :func:`_exact` smooths the rule's."""
    p = cex["dists"][cex["agent"]]
    if epsilon:
        e = Fraction(float(epsilon))
        p = [Fraction(x) * (1 - e) + e / len(p) for x in p]
    m = float(MARGIN)

    def out(a, b):  # b leaves the box between a and p on some token
        return any(y < min(x, c) - m or y > max(x, c) + m for x, y, c in zip(a, b, p))
    return out(qf, qt) and (prop != "consistent" or out(qt, qf))


def search(subj, prop, order, pairs, budget, scope_text) -> ProofResult:
    """An exact counterexample of ``subj`` (:class:`proofs.bounded.compiled_form.Subject`):
    screened on the code that runs, re-evaluated on the compiled tree."""
    rule, tried = subj.runs, 0
    for n, V in pairs:
        rng = np.random.default_rng([n, V, 10])
        for cex in _instances(n, V, rng):
            if budget.spent():
                break
            tried += 1
            try:
                seen = numpy_violation(rule, cex, prop, order)
            except Exception:
                continue
            if seen is None:
                continue
            exact = _exact(subj.tree, cex) if order == "box" else None
            if exact is not None and not _exact_violation(
                    cex, *exact, prop, bound_rule(subj.tree, cex).epsilon):
                continue
            out = _plain(cex, seen, prop, order, exact)
            how = ("re-evaluated exactly by sympy (60 digits)" if exact is not None
                   else "confirmed on the numpy reference (no exact evaluation)")
            return ProofResult(Verdict.REFUTED, "search+sympy" if exact else "search+numpy",
                               f"{prop} under {order} fails: z3 cannot express exp/log, so an "
                               f"exact search decided it ({tried} instances tried); the "
                               f"violation is {how}", scope_text, out)
    return ProofResult(Verdict.UNKNOWN, "search", f"z3 cannot express exp/log and an exact "
                       f"search of {tried} instances (tenths grid, bids {[str(b) for b in BIDS]})"
                       " found no violation; that proves nothing", scope_text)


def _plain(c, seen, prop, order, exact):
    qf, qt = seen
    out = {"dists": [[float(x) for x in p] for p in c["dists"]],
           "bids": [float(x) for x in c["bids"]], "agent": c["agent"],
           "bid_from": float(c["bid_from"]), "bid_to": float(c["bid_to"]),
           "q_from": [float(x) for x in qf], "q_to": [float(x) for x in qt],
           "property": prop, "order": order,
           "exact": {"dists": [[str(x) for x in p] for p in c["dists"]],
                     "bids": [str(x) for x in c["bids"]], "bid_from": str(c["bid_from"]),
                     "bid_to": str(c["bid_to"])}}
    if exact is not None:
        out["exact"]["q_from"] = [str(x) for x in exact[0]]
        out["exact"]["q_to"] = [str(x) for x in exact[1]]
    return out
