"""Properties of a payment rule, judged under an aggregation rule (SPEC 4-5):
payment_nonnegative, payment_at_most_bid, zero_bid_pays_zero, payment_identity,
payment_monotone:<order> (PM) and truthful (valuation-model regret).

Tolerances: payments compare with :data:`PAY_TOL` (relative to max(1, bid)), which
covers the reference's quadrature (1e-9). PM compares outcomes robustly: "strictly
better" needs a margin of :data:`STRICT_MARGIN` when it is the evidence for a violation,
and "not strictly better" is read at :data:`EQUAL_TOL`.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from mechanism import orders as O
from mechanism.divergences import kl, tv
from mechanism.errors import InvalidInput
from mechanism.payments import valuation_loss
from mechanism.quadrature import integrate

from properties.checker.groups import Group, cex, with_bid
from properties.checker.sandbox import Undefined
from properties.strategies import instances

PAY_TOL = 1e-7
ID_TOL = 1e-6
STRICT_MARGIN = 1e-6
EQUAL_TOL = 1e-12
#: Whole bid profiles are also judged rescaled by these factors for the payment bounds.
RESCALE = (0.1, 10.0)
BOUND_KEYS = ("payment_nonnegative", "payment_at_most_bid", "zero_bid_pays_zero")
#: Misreports of the regret protocol, as multiples of the true value (SPEC 5 / issue 3).
MISREPORTS = (0.25, 0.5, 0.75, 0.9, 1.1, 1.25, 1.5, 2.0)

LOSS_FNS = {"kl_forward": lambda p, q: kl(p, q), "kl_reverse": lambda p, q: kl(q, p),
            "tv": lambda p, q: float(tv(p, q))}


class PaymentGroup(Group):
    """Every payment property on one stream of auction instances."""

    examples_factor = 0.5

    def __init__(self, target, keys, valuation_loss_name=None):
        super().__init__(target, keys)
        self.loss_name = valuation_loss_name

    def strategy(self):
        V = self.t.fixed_vocab or (2, 5)
        return instances(n=(2, 4), V=V, others_positive=True, huge=False,
                         literals=self.t.literals)

    # -- evaluation helpers --------------------------------------------------------
    def Z(self, P, b, i, s):
        return float(self.t.pay(P, with_bid(b, i, s))[i])

    def Q(self, P, b, i, s):
        return self.t.evaluate(P, with_bid(b, i, s), self.t.judge)

    def loss(self):
        if self.loss_name:
            return self.loss_name
        try:
            return valuation_loss(self.t.judge)
        except InvalidInput:
            return "kl_forward"

    # -- search ------------------------------------------------------------------------
    def search(self, inst):
        """Each key on the instance; the payment bounds also on the whole profile rescaled
        by :data:`RESCALE` (bids summing below 1, or large ones). A key the target declines
        here (``InvalidInput``, from the payment or from the rule it is judged under) is no
        evidence for it (``undefined``), exactly as in the rule checks."""
        P, b, i = inst.P, inst.b, inst.agent
        found = {}
        for key in self.keys:
            profiles = [b] + ([b * k for k in RESCALE] if key[0] in BOUND_KEYS else [])
            evaluated = False
            for bb in profiles:
                try:
                    c = self._search_key(key, P, bb, i)
                    got = self.verify(key, c) if c is not None else None
                except Undefined:
                    continue
                evaluated = True
                if got is not None:
                    found[key] = got
                    break
            if not evaluated:
                self.undefined.add(key)
        return found

    def _search_key(self, key, P, b, i):
        prop, order = key
        if prop in ("payment_nonnegative", "payment_at_most_bid"):
            return cex(P, b, agent=i)
        if prop == "zero_bid_pays_zero":
            return cex(P, with_bid(b, i, 0.0), agent=i)
        if prop == "payment_identity":
            return cex(P, b, agent=i, bid_to=float(b[i]))
        if prop == "payment_monotone":
            return self._pm_search(P, b, i, order)
        if prop == "truthful":
            return self._regret_search(P, b, i)
        return None

    def _pm_grid(self, b, i):
        B = float(np.delete(b, i).sum())
        pts = [0.0, float(b[i])] + [B * x for x in (0.1, 0.3, 1.0, 3.0)]
        for x in np.delete(b, i):
            pts += [x * 0.999, x * 1.001]
        return np.unique(np.array([x for x in pts if x >= 0]))

    def _pm_search(self, P, b, i, order):
        S = self._pm_grid(b, i)
        Zs = [self.Z(P, b, i, s) for s in S]
        Qs = [self.Q(P, b, i, s) for s in S]
        p = self.t.ideal(P, i)
        applies = False
        for k in range(len(S)):
            for l in range(len(S)):
                if k == l:
                    continue
                if inapplicable(p, Qs[k], Qs[l], order):
                    continue
                applies = True
                if pm_violation(p, Qs[k], Qs[l], Zs[k], Zs[l], order):
                    return cex(P, with_bid(b, i, S[k]), i, S[k], S[l], order=order)
        if not applies:
            self.skipped[("payment_monotone", order)] = INFINITE_BOTH
        return None

    def _regret_search(self, P, b, i):
        if b[i] <= 0:
            return None
        return cex(P, b, i, float(b[i]), None)

    # -- verification (re-run on the numpy reference) -------------------------------------
    def verify(self, key, c):
        prop, order = key
        P, b, i = c["dists"], np.asarray(c["bids"], dtype=float), c["agent"]
        if np.delete(b, i).sum() + (self.t.weight if self.t.reference is not None else 0) <= 0:
            return None
        if prop == "payment_nonnegative":
            z = self.t.pay(P, b)
            j = int(np.argmin(z))
            return {**c, "agent": j, "z": z, "margin": float(-z[j])} if z[j] < -PAY_TOL else None
        if prop == "payment_at_most_bid":
            z = self.t.pay(P, b)
            excess = z - b - PAY_TOL * np.maximum(1.0, b)
            j = int(np.argmax(excess))
            return ({**c, "agent": j, "z": z, "margin": float((z[j] - b[j]) / max(1.0, b[j]))}
                    if excess[j] > 0 else None)
        if prop == "zero_bid_pays_zero":
            if b[i] != 0:
                return None
            z = self.t.pay(P, b)
            return {**c, "z": z} if abs(z[i]) > PAY_TOL else None
        if prop == "payment_identity":
            s = float(b[i])
            c = {**c, "bid_to": s}
            z = float(self.t.pay(P, b)[i])
            m, err = myerson_tv(self, P, b, i, s)
            if abs(z - m) <= ID_TOL * max(1.0, s) + 10 * err:
                return None
            return {**c, "z": z, "expected": m}
        if prop == "payment_monotone":
            s0, s1 = c["bid_from"], c["bid_to"]
            if s0 is None or s1 is None or s0 == s1:
                return None
            z0, z1 = self.Z(P, b, i, s0), self.Z(P, b, i, s1)
            q0, q1 = self.Q(P, b, i, s0), self.Q(P, b, i, s1)
            kind = pm_violation(self.t.ideal(P, i), q0, q1, z0, z1, order)
            if not kind:
                return None
            return {**c, "bids": with_bid(b, i, s0), "z_from": z0, "z_to": z1, "q_from": q0,
                    "q_to": q1, "kind": kind}
        if prop == "truthful":
            t = c["bid_from"]
            if t is None or t <= 0:
                return None
            r = regret(self, P, with_bid(b, i, t), i, self.loss())
            if r is None or r["regret"] <= PAY_TOL * max(1.0, t):
                return None
            return {**c, "bids": with_bid(b, i, t), "bid_to": r["best"], **r}
        return None

    def describe(self, key, c):
        prop, order = key
        i = c["agent"]
        if prop == "payment_nonnegative":
            return f"agent {i} is paid {-c['z'][i]:.6g} (negative payment)"
        if prop == "payment_at_most_bid":
            return f"agent {i} bids {c['bids'][i]:g} but pays {c['z'][i]:.6g}"
        if prop == "zero_bid_pays_zero":
            return f"agent {i} bids 0 but pays {c['z'][i]:.6g}"
        if prop == "payment_identity":
            return (f"agent {i} bidding {c['bid_to']:g} pays {c['z']:.6g}; the identity "
                    f"b G(b) - int G gives {c['expected']:.6g}")
        if prop == "payment_monotone":
            if c["kind"] == "better_not_dearer":
                return (f"agent {i}: bid {c['bid_to']:g} gets a strictly better outcome than "
                        f"{c['bid_from']:g} ({order}) but pays {c['z_to']:.6g} <= {c['z_from']:.6g}")
            return (f"agent {i}: bid {c['bid_to']:g} pays {c['z_to']:.6g} > {c['z_from']:.6g} "
                    f"at bid {c['bid_from']:g} for an outcome not strictly better ({order})")
        if prop == "truthful":
            return (f"agent {i} with value {c['bid_from']:g} gains {c['regret']:.6g} by bidding "
                    f"{c['best']:g} (valuation t*(-{c['loss']}), misreports 0.25t..2t)")
        return ""

    def repro(self, key, c):
        prop, order = key
        lines = self.data_lines(c)
        if prop == "payment_nonnegative":
            return lines + ["z = payment(rule, dists, bids)",
                            "assert (z >= 0).all(), z  # fails: negative payment"]
        if prop == "payment_at_most_bid":
            return lines + ["z = payment(rule, dists, bids)",
                            f"assert (z <= bids + {PAY_TOL}).all(), (z, bids)"
                            "  # fails: pays more than its bid"]
        if prop == "zero_bid_pays_zero":
            return lines + ["z = payment(rule, dists, bids)",
                            f"assert abs(z[agent]) <= {PAY_TOL}, z  # fails: zero bid pays"]
        if prop == "payment_identity":
            return lines + [
                "from mechanism.quadrature import integrate",
                "def G(s):  # TV(Q(0), Q(s)) along the agent's bid path",
                "    q0 = rule(dists, np.where(np.arange(len(bids)) == agent, 0.0, bids))",
                "    return np.array([tv(q0, rule(dists, np.where(np.arange(len(bids)) == agent,"
                " x, bids))) for x in np.atleast_1d(s)])",
                "b = bids[agent]",
                "expected = b * G(b)[0] - integrate(G, 0.0, b)[0]",
                "z = payment(rule, dists, bids)[agent]",
                f"assert abs(z - expected) <= {ID_TOL} * max(1, b), (z, expected)"
                "  # fails: not the second-price identity"]
        if prop == "payment_monotone":
            return lines + [
                f"b_from = bids.copy(); b_from[agent] = {c['bid_from']!r}",
                f"b_to = bids.copy(); b_to[agent] = {c['bid_to']!r}",
                "q_from, q_to = rule(dists, b_from), rule(dists, b_to)",
                "z_from, z_to = payment(rule, dists, b_from)[agent], "
                "payment(rule, dists, b_to)[agent]",
                f"better = strictly_prefers(dists[agent], q_to, q_from, {order!r})",
                "assert better == (z_to > z_from), (better, z_from, z_to)  # fails: PM"]
        if prop == "truthful":
            L = {"kl_forward": "kl(dists[agent], q)", "kl_reverse": "kl(q, dists[agent])",
                 "tv": "tv(dists[agent], q)"}[c["loss"]]
            return lines + [
                "t = bids[agent]  # the agent's true value",
                "def utility(s):",
                "    b = bids.copy(); b[agent] = s",
                "    q = rule(dists, b)",
                f"    return -t * {L} - payment(rule, dists, b)[agent]",
                f"gain = utility({c['best']!r}) - utility(t)",
                f"assert gain <= {PAY_TOL}, gain  # fails: misreporting pays"]
        return lines


INFINITE_BOTH = ("the loss is infinite for both outcomes compared (p_i has mass where Q has "
                 "none), so the loss order cannot rank them (SPEC 3-4)")


def inapplicable(p, q0, q1, order) -> bool:
    """A loss order with infinite loss on both sides: the comparison says nothing."""
    loss = O.LOSSES.get(order)
    return loss is not None and np.isinf(loss(p, q0)) and np.isinf(loss(p, q1))


def pm_violation(p, q0, q1, z0, z1, order) -> str | None:
    """PM at (s, s') = (from, to): 'better_not_dearer' or 'dearer_not_better' or None
    (None too where the order does not apply: infinite loss on both sides)."""
    if inapplicable(p, q0, q1, order):
        return None
    better_robust = O.prefers(p, q1, q0, order, EQUAL_TOL) and \
        not O.prefers(p, q0, q1, order, STRICT_MARGIN)
    if better_robust and z1 <= z0:   # no tolerance here: 1e-302 more is dearer (REFUTED
        # needs evidence; a tiny payment for a tiny-probability gain is exactly right)
        return "better_not_dearer"
    if z1 > z0 + 1e-9 * max(1.0, abs(z0)) and not O.strictly_prefers(p, q1, q0, order, EQUAL_TOL):
        return "dearer_not_better"
    return None


def myerson_tv(group, P, b, i, s):
    """SPEC 5: ``b G(b) - int_0^b G``, ``G(x) = TV(Q(0), Q(x))``, on the judge rule."""
    if s <= 0:
        return 0.0, 0.0
    t = group.t
    q0 = t.evaluate(P, with_bid(b, i, 0.0), t.judge)

    def G(xs):
        M = np.repeat(np.asarray(b, dtype=float)[None, :], len(xs), axis=0)
        M[:, i] = xs
        return tv(t.batch(P, M, t.judge), q0)

    area, err = integrate(G, 0.0, s, tol=1e-11)
    return float(s * G(np.array([s]))[0] - area), err


def regret(group, P, b, i, loss_name, misreports=MISREPORTS):
    """Regret of truthful bidding ``t = b_i`` under value ``t * (-L(q))``: the largest gain
    of a misreport ``s = x t`` (x in ``misreports``), others bidding b_{-i}. None when
    the valuation is undefined (L infinite)."""
    L = LOSS_FNS[loss_name]
    t = float(b[i])
    p = group.t.ideal(P, i)

    def utility(s):
        q = group.Q(P, b, i, s)
        v = L(p, q)
        if not np.isfinite(v):
            raise Undefined("valuation loss is infinite")
        return -t * v - group.Z(P, b, i, s)

    try:
        u0 = utility(t)
        gains = [(utility(x * t) - u0, x * t) for x in misreports]
    except Undefined:
        return None
    g, best = max(gains)
    return {"regret": float(max(g, 0.0)), "best": float(best), "loss": loss_name,
            "value": t}


def strategy_for_truthful():  # exported for users' regret tests
    return instances(n=(2, 4), V=(2, 5), others_positive=True, interior=True, huge=False)


__all__ = ["PaymentGroup", "pm_violation", "myerson_tv", "regret", "MISREPORTS", "st"]
