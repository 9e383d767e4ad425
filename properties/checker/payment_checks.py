"""Properties of a payment rule, judged under an aggregation rule (theory §4-5):
payment_nonnegative, payment_at_most_bid, zero_bid_pays_zero, payment_identity,
payment_monotone:<order> (PM), truthful (regret) and individually_rational.

``payment_identity``, ``truthful`` and ``individually_rational`` are judged under a value
model (:mod:`mechanism.valuations`; docs/theory.md, "Value models and their Myerson
identities"), default ``tv``; the identity is computed by the independent oracle
:mod:`properties.oracle` (scipy quad with the allocation's located jumps), never by the
mechanism's own integrator. ``reports`` restricts the drawn reports
(:mod:`properties.restrictions`: ``one_hot``, ``top_k:K``); the ``win`` model implies
``one_hot``.

Tolerances: payments compare with :data:`PAY_TOL`, relative to the profile's largest bid
(bounds) or to the agent's value (truthfulness, individual rationality), never absolute,
which covers the reference's quadrature (1e-9). PM compares outcomes robustly: "strictly
better" needs a margin of :data:`STRICT_MARGIN` when it is the evidence for a violation,
and "not strictly better" is read at :data:`EQUAL_TOL`.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from mechanism import rules as R
from mechanism import valuations as VM
from mechanism.bids import bid_grid
from mechanism.errors import InvalidInput
from mechanism.regret import MISREPORTS, misreports as misreport_bids

from properties import checks as C
from properties.checks import (EQUAL_TOL, INFINITE_BOTH, STRICT_MARGIN,  # noqa: F401
                               inapplicable, pm_violation)
from properties import oracle
from properties.checker.groups import Group, cex, with_bid
from properties.checker.reproduce import value_model_lines
from properties.sandbox import Undefined
from properties.restrictions import restricted_instances
from properties.strategies import instances

PAY_TOL = 1e-7
ID_TOL = 1e-6
#: A PM violation below this (times max(1, bids)) may be quadrature noise: it is confirmed
#: (:meth:`PaymentGroup._pm_confirm`) before it is reported.
CONFIRM_SHARE = 2 * ID_TOL
#: Whole bid profiles are also judged rescaled by these factors for the payment bounds.
RESCALE = (0.1, 10.0)
BOUND_KEYS = ("payment_nonnegative", "payment_at_most_bid", "zero_bid_pays_zero")


class PaymentGroup(Group):
    """Every payment property on one stream of auction instances."""

    examples_factor = 0.5

    def __init__(self, target, keys, valuation=None, reports=None):
        super().__init__(target, keys)
        model = VM.get_value_model(valuation)
        self.model = model.for_rule(target.judge) if target.judge is not None else model
        self.reports = reports or ("one_hot" if self.model.reports == "one_hot" else None)

    def strategy(self):
        """2 to 4 agents, 2 to 5 tokens, now and then more of each; bids of about 1e-3..1e2
        (properties/README.md says why)."""
        V = self.t.fixed_vocab or (2, 5)
        if self.reports:
            return restricted_instances(self.reports, n=(2, 4), V=V)
        return instances(n=(2, 4), V=V, others_positive=True, huge=False,
                         literals=self.t.literals,
                         beyond=("n",) if self.t.fixed_vocab else ("n", "V"))

    # -- evaluation helpers --------------------------------------------------------
    def Z(self, P, b, i, s):
        return float(self.t.pay(P, with_bid(b, i, s))[i])

    def Q(self, P, b, i, s):
        return self.t.evaluate(P, with_bid(b, i, s), self.t.judge)

    def x(self, P, b, i):
        """The allocation curve ``x(s)`` of the value model along agent i's bid path."""
        q0 = self.t.evaluate(P, with_bid(b, i, 0.0), self.t.judge)
        p = self.t.ideal(P, i)
        self.model.check_reports(self.t.smoothed(P)[0])

        def x(xs):
            M = np.repeat(np.asarray(b, dtype=float)[None, :], len(xs), axis=0)
            M[:, i] = xs
            return self.model.allocation(p, q0, self.t.batch(P, M, self.t.judge), i)
        return x

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
        if prop in ("truthful", "individually_rational"):
            return self._regret_search(P, b, i)
        return None

    def _pm_grid(self, b, i):
        """0, b_i, multiples of the others' total bid, each other bid and its neighbours."""
        return bid_grid(b, i, factors=(0.1, 0.3, 1.0, 3.0), scale=float(np.delete(b, i).sum()),
                        rel=1e-3)

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
        # the bounds need no Q(0): checked first, relative to the largest bid (a monopolist's
        # overcharge, relabelled to that agent, hit the guard below: UNKNOWN)
        slack = max(PAY_TOL * float(b.max(initial=0.0)), C.TINY)
        if prop == "payment_nonnegative":
            z = self.t.pay(P, b)
            j = int(np.argmin(z))
            return {**c, "agent": j, "z": z, "margin": float(-z[j])} if z[j] < -slack else None
        if prop == "payment_at_most_bid":
            z = self.t.pay(P, b)
            excess = z - b - slack
            j = int(np.argmax(excess))
            return ({**c, "agent": j, "z": z, "margin": float(excess[j] / (b[j] + slack))}
                    if excess[j] > 0 else None)
        if prop == "zero_bid_pays_zero":
            if b[i] != 0:
                return None
            z = self.t.pay(P, b)
            return {**c, "z": z} if abs(z[i]) > slack else None
        if np.delete(b, i).sum() + (self.t.weight if self.t.reference is not None else 0) <= 0:
            return None
        if prop == "payment_identity":
            s = float(b[i])
            c = {**c, "bid_to": s, "value_model": self.model.name}
            z = float(self.t.pay(P, b)[i])
            m, err = identity(self, P, b, i, s)
            if abs(z - m) <= ID_TOL * max(1.0, s) + 10 * err:
                return None
            return {**c, "z": z, "expected": m, "error_bound": err}
        if prop == "payment_monotone":
            return self._pm_verify(c, P, b, i, order)
        if prop == "truthful":
            t = c["bid_from"]
            if t is None or t <= 0:
                return None
            r = regret(self, P, with_bid(b, i, t), i, self.model, tol=PAY_TOL)
            if r is None:
                return None
            return {**c, "bids": with_bid(b, i, t), **r}
        if prop == "individually_rational":
            t = c["bid_from"]
            if t is None or t <= 0:
                return None
            u = truthful_utility(self, P, with_bid(b, i, t), i)
            found = None if u is None else C.ir_violation(u, t, i, PAY_TOL, floor=0.0)
            if found is None:
                return None
            return {**c, "bids": with_bid(b, i, t), **found, "value_model": self.model.name}
        return None

    def _pm_verify(self, c, P, b, i, order):
        s0, s1 = c["bid_from"], c["bid_to"]
        if s0 is None or s1 is None or s0 == s1:
            return None
        z0, z1 = self.Z(P, b, i, s0), self.Z(P, b, i, s1)
        q0, q1 = self.Q(P, b, i, s0), self.Q(P, b, i, s1)
        p = self.t.ideal(P, i)
        kind = pm_violation(p, q0, q1, z0, z1, order)
        confirmed = None
        if kind and abs(z1 - z0) <= CONFIRM_SHARE * max(1.0, abs(s0), abs(s1)):
            confirmed = self._pm_confirm(P, b, i, s0, s1, (z0, z1))
            if confirmed is not None:  # the violation must survive the bound either way
                z, e = z0 + confirmed["difference"], confirmed["error_bound"]
                kind = next((k for k, zz in (("better_not_dearer", z + e), ("dearer_not_better",
                             z - e)) if pm_violation(p, q0, q1, z0, zz, order) == k), None)
        if not kind:
            return None
        return {**c, "bids": with_bid(b, i, s0), "z_from": z0, "z_to": z1, "q_from": q0,
                "q_to": q1, "kind": kind, **({"confirmed": confirmed} if confirmed else {})}

    def _pm_confirm(self, P, b, i, s0, s1, zs):
        """Where the target pays Myerson's payment at both bids, the difference by
        :func:`properties.oracle.difference`, free of the quadrature error of the rest of
        the path (a capped path's Z(1.001) came out 1.1e-7 below Z(1)); else None."""
        try:
            for s, z in zip((s0, s1), zs):
                m, err = identity(self, P, b, i, s)
                if abs(z - m) > ID_TOL * max(1.0, s) + 10 * err:
                    return None
            x = self.x(P, b, i)
            d, err = oracle.difference(x, s0, s1, candidates=np.delete(b, i))
        except (Undefined, InvalidInput, ImportError):
            return None
        return {"difference": d, "error_bound": err, "value_model": self.model.name}

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
            return (f"agent {i} bidding {c['bid_to']:g} pays {c['z']:.6g}; Myerson's identity "
                    f"b x(b) - int x under value model {c['value_model']} gives "
                    f"{c['expected']:.6g}")
        if prop == "payment_monotone":
            if c["kind"] == "better_not_dearer":
                return (f"agent {i}: bid {c['bid_to']:g} gets a strictly better outcome than "
                        f"{c['bid_from']:g} ({order}) but pays {c['z_to']:.6g} <= {c['z_from']:.6g}")
            return (f"agent {i}: bid {c['bid_to']:g} pays {c['z_to']:.6g} > {c['z_from']:.6g} "
                    f"at bid {c['bid_from']:g} for an outcome not strictly better ({order})")
        if prop == "truthful":
            return (f"agent {i} with value {c['bid_from']:g} gains {c['regret']:.6g} by bidding "
                    f"{c['bid_to']:g} (value model {c['value_model']}, misreports 0.25t..2t)")
        if prop == "individually_rational":
            return (f"agent {i} bidding its value {c['bid_from']:g} gets utility "
                    f"{c['utility']:.6g} < 0 (value model {c['value_model']})")
        return ""

    def repro(self, key, c):
        prop, order = key
        lines = self.data_lines(c)
        if prop == "payment_nonnegative":
            return lines + ["z = payment(rule, dists, bids)",
                            "assert (z >= 0).all(), z  # fails: negative payment"]
        if prop == "payment_at_most_bid":
            return lines + ["z = payment(rule, dists, bids)",
                            f"assert (z <= bids + {PAY_TOL} * bids.max()).all(), (z, bids)"
                            "  # fails: pays more than its bid"]
        if prop == "zero_bid_pays_zero":
            return lines + ["z = payment(rule, dists, bids)",
                            f"assert abs(z[agent]) <= {PAY_TOL} * bids.max(), z  # fails: zero "
                            "bid pays"]
        if prop == "payment_identity":
            return lines + value_model_lines(self.model) + [
                "from mechanism import as_rule",
                "from mechanism.valuations import identity_payment",
                "expected, err = identity_payment(model, as_rule(rule), dists, bids, agent)",
                "z = payment(rule, dists, bids)[agent]",
                f"assert abs(z - expected) <= {ID_TOL} * max(1, bids[agent]) + 10 * err, "
                "(z, expected)  # fails: not Myerson's payment for this value model"]
        if prop == "payment_monotone":
            return lines + [
                f"b_from = bids.copy(); b_from[agent] = {c['bid_from']!r}",
                f"b_to = bids.copy(); b_to[agent] = {c['bid_to']!r}",
                "q_from, q_to = rule(dists, b_from), rule(dists, b_to)",
                "z_from, z_to = payment(rule, dists, b_from)[agent], "
                "payment(rule, dists, b_to)[agent]",
                f"better = strictly_prefers(dists[agent], q_to, q_from, {order!r})",
                "assert better == (z_to > z_from), (better, z_from, z_to)  # fails: PM"]
        if prop in ("truthful", "individually_rational"):
            lines = lines + value_model_lines(self.model) + [
                "t = bids[agent]  # the agent's true value",
                "def utility(s):  # gain over staying out (bid 0, pay 0)",
                "    b = bids.copy(); b[agent] = s",
                "    b0 = bids.copy(); b0[agent] = 0.0",
                "    a = model.values(dists[agent], np.stack([rule(dists, b), rule(dists, b0)]), "
                "agent)",
                "    return t * (a[0] - a[1]) - payment(rule, dists, b)[agent]"]
            if prop == "truthful":
                return lines + [f"gain = utility({c['bid_to']!r}) - utility(t)",
                                f"assert gain <= {PAY_TOL} * t, gain  # fails: misreporting "
                                "pays"]
            return lines + [f"assert utility(t) >= -{PAY_TOL} * t, utility(t)"
                            "  # fails: truthful bidding loses money"]
        return lines


def identity(group, P, b, i, s):
    """``(Z, error bound)`` of Myerson's identity for the group's value model, on the judge
    rule, by the independent oracle (:mod:`properties.oracle`)."""
    if s <= 0:
        return 0.0, 0.0
    try:
        x = group.x(P, with_bid(b, i, s), i)
    except InvalidInput as exc:
        raise Undefined(str(exc)) from exc
    judge = group.t.judge
    smooth = judge.generic in (R.linear, R.log_linear)
    z, err, _ = oracle.identity(x, s, candidates=np.delete(b, i), jumps=not smooth)
    return z, err


def _utility_fn(group, P, b, i):
    """:func:`properties.checks.utility_curve` on the target (calls guarded), ``Undefined``
    where the value model is."""
    try:
        group.model.check_reports(group.t.smoothed(P)[0])
        u = C.utility_curve(group.model, group.t.ideal(P, i), lambda s: group.Q(P, b, i, s),
                            lambda s: group.Z(P, b, i, s), float(b[i]), i)
    except InvalidInput as exc:
        raise Undefined(str(exc)) from exc

    def utility(s):
        try:
            return u(s)
        except InvalidInput as exc:
            raise Undefined(str(exc)) from exc
    return utility


def truthful_utility(group, P, b, i):
    """Agent i's utility from bidding its value ``t = b_i``, against staying out: ``t (a(Q(t))
    - a(Q(0))) - Z(t)``; None where the value model is undefined."""
    try:
        return float(_utility_fn(group, P, b, i)(float(b[i])))
    except Undefined:
        return None


def regret(group, P, b, i, model=None, misreports=MISREPORTS, tol: float = 0.0):
    """Regret of truthful bidding ``t = b_i`` under the value model over the misreports
    ``s = x t`` (x in ``misreports``), others bidding b_{-i}: the counterexample of
    :func:`properties.checks.regret_violation` (``bid_to``, ``regret``) when it exceeds
    ``tol * t`` (relative to the value: the same at every scale), else None; None too when
    the value model is undefined there (e.g. an infinite KL)."""
    t = float(b[i])
    try:
        utility = _utility_fn(group, P, b, i)
        found = C.regret_violation(lambda S: np.array([utility(s) for s in S]), t,
                                   misreport_bids(t, misreports), i, tol, floor=0.0)
    except Undefined:
        return None
    return None if found is None else {**found, "value_model": group.model.name}


__all__ = ["PaymentGroup", "pm_violation", "identity", "regret", "truthful_utility", "st"]
