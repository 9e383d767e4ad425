"""Counterexamples from solver models: round them, then confirm them on the numpy
reference before anything is reported (counterexamples you can paste).

A model's values are exact rationals (algebraic values are approximated to 20
digits first). Rounding tries denominators 10, 100, 1000, ... and keeps the first
rounded instance that still violates the property *exactly* (``Rule.exact``, in
``Fraction``); the result is then re-run in float64 (``Rule.evaluate`` and
``mechanism.orders.prefers``), and only a violation numpy also sees is returned.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from mechanism.arith import round_simplex
from mechanism.errors import TokenAuctionError
from mechanism.orders import prefers

DENOMINATORS = (10, 20, 100, 1000, 10**4, 10**6)


def _round_dist(p, d):
    return round_simplex(p, d)


def _round_bid(x, d):
    return max(Fraction(round(x * d), d), Fraction(0))


def _rounded(cex, d):
    out = dict(cex)
    out["dists"] = [_round_dist(p, d) for p in cex["dists"]]
    if any(p is None for p in out["dists"]):
        return None
    for key in ("bid_from", "bid_to"):
        out[key] = _round_bid(cex[key], d)
    out["bids"] = [_round_bid(x, d) for x in cex["bids"]]
    if "reference" in cex:
        out["reference"] = _round_dist(cex["reference"], d)
        out["weight"] = _round_bid(cex["weight"], d)
        if out["reference"] is None:
            return None
    if out["bid_to"] <= out["bid_from"]:
        return None
    return out


def bound_rule(rule, cex):
    """``rule`` with the counterexample's reference and weight bound (if it has them)."""
    return rule.with_reference(cex["reference"], cex["weight"]) if "reference" in cex else rule


def smoothed_report(rule, P, i):
    """Agent ``i``'s report as a smoothing rule sees it (theory §2: the order is taken for
    the smoothed report, as proved); the report itself for a rule that does not smooth.
    Comparing with the raw report REFUTED linear pooling with epsilon = 0.3."""
    P = np.asarray(P, dtype=np.float64)
    if not getattr(rule, "epsilon", 0):
        return P[i]
    return rule.smoothed(P)[0][i]


def profiles(cex):
    """The bid profiles before and after the agent's move."""
    bf, bt = list(cex["bids"]), list(cex["bids"])
    bf[cex["agent"]], bt[cex["agent"]] = cex["bid_from"], cex["bid_to"]
    return bf, bt


def _violates_exact(rule, cex, prop, order) -> bool:
    """Exact check in Fraction for box (the order used to search); segment via numpy."""
    bf, bt = profiles(cex)
    try:
        r = bound_rule(rule, cex)
        if r.total_weight(np.array(bf, dtype=float)) <= 0:
            return False
        qf, qt = list(r.exact(cex["dists"], bf)), list(r.exact(cex["dists"], bt))
    except (TokenAuctionError, ZeroDivisionError, NotImplementedError):
        return False
    p = cex["dists"][cex["agent"]]
    if r.epsilon:  # smoothing is float-only; leave it to numpy
        return True
    out_fwd = any(not (min(a, c) <= b <= max(a, c)) for a, b, c in zip(qf, qt, p))
    if prop == "consistent":
        out_back = any(not (min(b, c) <= a <= max(b, c)) for a, b, c in zip(qf, qt, p))
        return out_fwd and out_back if order == "box" else True
    return out_fwd if order == "box" else True


def numpy_violation(rule, cex, prop, order):
    """Re-run ``cex`` on the numpy reference; return (q_from, q_to) if it violates."""
    bf, bt = profiles(cex)
    r = bound_rule(rule, cex)
    P = np.array([[float(x) for x in p] for p in cex["dists"]])
    qf = r.evaluate(P, np.array([float(x) for x in bf]))
    qt = r.evaluate(P, np.array([float(x) for x in bt]))
    p = smoothed_report(r, P, cex["agent"])
    fwd = not prefers(p, qt, qf, order)
    bad = fwd and not prefers(p, qf, qt, order) if prop == "consistent" else fwd
    return (qf, qt) if bad else None


def confirm_violation(rule, cex, prop, order, exact_rule=None):
    """The simplest rounding of ``cex`` that the code that runs (``rule``) confirms, as a
    plain dict, or None.

    First pass: roundings that violate exactly (``exact_rule.exact``, default ``rule``: the
    compiled tree in ``Fraction``) and in float64. Second pass: roundings float64 alone
    confirms (the float64 code may differ from its exact tree); those are marked
    ``"exact_confirmed": False``."""
    tries = [c for c in [_rounded(cex, d) for d in DENOMINATORS] + [cex] if c is not None]
    exact_rule = rule if exact_rule is None else exact_rule
    for need_exact in (True, False):
        for c in tries:
            if need_exact and not _violates_exact(exact_rule, c, prop, order):
                continue
            try:
                seen = numpy_violation(rule, c, prop, order)
            except Exception:  # noqa: BLE001 - the code that runs may be the user's
                continue
            if seen is not None:
                out = _plain(c, *seen, prop, order)
                out["exact_confirmed"] = need_exact
                return out
    return None


def _plain(c, qf, qt, prop, order):
    f = lambda x: float(x)
    out = {"dists": [[f(x) for x in p] for p in c["dists"]], "bids": [f(x) for x in c["bids"]],
           "agent": c["agent"], "bid_from": f(c["bid_from"]), "bid_to": f(c["bid_to"]),
           "q_from": [round(float(x), 12) for x in qf], "q_to": [round(float(x), 12) for x in qt],
           "property": prop, "order": order,
           "exact": {"dists": [[str(x) for x in p] for p in c["dists"]],
                     "bids": [str(x) for x in c["bids"]],
                     "bid_from": str(c["bid_from"]), "bid_to": str(c["bid_to"])}}
    if "reference" in c:
        out["reference"] = [f(x) for x in c["reference"]]
        out["weight"] = f(c["weight"])
    return out
