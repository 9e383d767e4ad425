"""Audit a third-party mechanism implementation (issue 6, ``audit --mechanism``).

The interface an audited object exposes (duck-typed; only ``aggregate`` is required)::

    class MyMechanism:
        name = "my-auction"                  # optional: shown in the verdict table
        reserve = 0.0                        # optional: a declared reserve price r >= 0
        claims = {...}                       # optional: never trusted, always checked

        def aggregate(self, dists, bids):    # (n, V) reports, (n,) bids -> q, shape (V,)
            ...                              # a distribution: finite, >= 0, sums to 1
        def payments(self, dists, bids):     # optional -> z, shape (n,): each agent's
            ...                              # EXPECTED payment for this token
        def sample(self, q, u):              # optional: token in 0..V-1 from the aggregate q
            ...                              # and one uniform u in [0, 1); default inverse CDF

It may raise :class:`mechanism.errors.InvalidInput` where it is undefined (e.g. every
bid 0). Also accepted: a plain callable ``rule(dists, bids) -> q`` or a
:class:`mechanism.Rule` (aggregate only), and a :class:`mechanism.TokenAuction`
(its rule and expected payments).

:func:`audit_mechanism` judges the object on SPEC 4-5 properties over small seeded
instances ordered by size (fewest agents and tokens first, round numbers), so the first
counterexample found is the one reported. Native checks (:mod:`properties.audit.checks`):
``aggregate_valid``, ``monotone`` (box, bid grid), ``payment_nonnegative``,
``payment_at_most_bid``, ``zero_bid_pays_zero``, ``payment_identity`` (Myerson, under the
object's own aggregate), ``payment_reserve`` (``z_i >= r x_i(b)``, with a declared reserve),
``truthful`` (regret for the value ``-v TV(p_i, q)``), ``sampler_marginal`` (the law of
``sample(q, u)`` over u is q) and ``stable_sampling`` (the law of the realized token is
box-monotone, so a stable sampler with these marginals exists). When the property suite
(``properties.check``) and rule-level proofs are available their findings are added
(:mod:`properties.audit.suite`).
"""

from __future__ import annotations

import numpy as np

from mechanism import inverse_cdf, tv
from mechanism.bids import with_bid
from mechanism.regret import regret
from mechanism.errors import InvalidInput, InvalidRule
from mechanism.verdicts import Verdict

from properties.audit import checks as C
from properties.audit.instances import instances
from properties.audit.suite import MechanismReport, suite_findings
from properties.audit.target import Audited, ThirdPartyRule, load_mechanism
from properties.report import Finding

__all__ = ["audit_mechanism", "load_mechanism", "Audited", "ThirdPartyRule", "NATIVE"]

NATIVE = ("aggregate_valid", "monotone", "payment_nonnegative", "payment_at_most_bid",
          "zero_bid_pays_zero", "payment_identity", "payment_reserve", "truthful",
          "sampler_marginal", "stable_sampling")
ORDERED = {"monotone": "box", "stable_sampling": "box", "truthful": "tv"}
TOL = 1e-6
SAMPLER_GRID = 2000


class _Tally:
    def __init__(self):
        self.checked = {k: 0 for k in NATIVE}
        self.cex: dict[str, dict] = {}
        self.skip: dict[str, str] = {}

    def run(self, prop, fn, inst):
        if prop in self.cex:
            return
        try:
            out = fn()
        except InvalidInput:
            return  # undefined there, and the object said so
        except InvalidRule as exc:  # blame the aggregate when it was the one that misbehaved
            blame = "aggregate_valid" if str(exc.rule or "").endswith(".aggregate") else prop
            self.cex.setdefault(blame, {**inst, "while_checking": prop, "error": str(exc)})
            return
        self.checked[prop] += 1
        if out is not None:
            self.cex[prop] = {**inst, **out}

    def findings(self) -> list[Finding]:
        out = []
        for prop in NATIVE:
            if prop in self.cex:
                out.append(Finding(prop, ORDERED.get(prop), Verdict.REFUTED, "audit", "counterexample",
                                   self.cex[prop]))
            elif prop in self.skip:
                out.append(Finding(prop, ORDERED.get(prop), Verdict.SKIPPED, "audit",
                                   self.skip[prop], None))
            elif self.checked[prop]:
                out.append(Finding(prop, ORDERED.get(prop), Verdict.NOT_REFUTED, "audit",
                                   f"{self.checked[prop]} instances", None))
            else:
                out.append(Finding(prop, ORDERED.get(prop), Verdict.SKIPPED, "audit",
                                   "no instance applied",
                                   None))
        return out


def audit_mechanism(obj, *, name: str | None = None, max_examples: int = 120, seed: int = 0,
                    use_suite: bool = True, timeout: float = 5.0, orders=("box",),
                    budget_s: float | None = 120.0) -> MechanismReport:
    """Judge a mechanism object (see the module docstring); a :class:`MechanismReport`.

    ``max_examples``/``seed``: instances of the native checks and the suite's sampling
    budget; ``use_suite``: also run ``properties.check`` (with ``orders``, per-call
    ``timeout`` for the object's code, and a wall-clock ``budget_s`` per target)."""
    m = obj if isinstance(obj, Audited) else Audited(obj, name)
    t = _Tally()
    if m.pay is None:
        for prop in NATIVE[2:8]:
            t.skip[prop] = "the object exposes no payments(dists, bids)"
    if not m.reserve:
        t.skip["payment_reserve"] = "no reserve declared"
    if m.sample is None:
        t.skip["stable_sampling"] = "inverse-CDF sampling: the token's law is q (see monotone)"
    for inst in instances(max_examples, seed, m.reserve):
        P, b = np.asarray(inst["dists"]), np.asarray(inst["bids"], dtype=np.float64)
        try:
            q = m.rule.evaluate(P, b)
        except InvalidInput:
            continue  # undefined here (e.g. every bid 0): the object said so
        except InvalidRule as exc:
            t.cex.setdefault("aggregate_valid", {**inst, "error": str(exc)})
            continue
        t.checked["aggregate_valid"] += 1
        _rule_checks(m, t, inst, P, b, q)
        if m.pay is not None:
            _payment_checks(m, t, inst, P, b)
    findings = t.findings()
    if use_suite:
        findings += suite_findings(m, max_examples=max_examples, seed=seed, timeout=timeout,
                                   orders=orders, budget_s=budget_s)
    return MechanismReport(m.name, findings)


def _rule_checks(m, t, inst, P, b, q):
    cuts = (m.reserve,) if m.reserve else ()
    for i in range(len(b)):
        t.run("monotone", lambda: C.box_violation_on_grid(m.rule, P, b, i, cuts=cuts), inst)
    t.run("sampler_marginal", lambda: _marginal(m, q), inst)
    if m.sample is not None:
        law = ThirdPartyRule(lambda D, B: _law(m, m.rule.evaluate(D, B)), f"{m.name}.token_law")
        for i in range(len(b)):
            t.run("stable_sampling", lambda: C.box_violation_on_grid(law, P, b, i, cuts=cuts),
                  inst)


def _law(m, q) -> np.ndarray:
    """Law of ``sample(q, u)`` over a stratified grid of u (exact up to 1/SAMPLER_GRID)."""
    us = (np.arange(SAMPLER_GRID) + 0.5) / SAMPLER_GRID
    draw = m.sample or inverse_cdf
    tokens = np.array([int(draw(q, float(u))) for u in us])
    if tokens.min() < 0 or tokens.max() >= q.size:
        raise InvalidRule(f"{m.name}.sample returned a token outside 0..{q.size - 1}")
    return np.bincount(tokens, minlength=q.size) / SAMPLER_GRID


def _marginal(m, q):
    law = _law(m, q)
    d = float(tv(law, q))
    if d > q.size / SAMPLER_GRID + 1e-9:
        return {"q": q.tolist(), "token_law": law.tolist(), "tv": d}
    return None


def _payment_checks(m, t, inst, P, b):
    z = m.pay(P, b)
    n = len(b)
    t.run("payment_nonnegative", lambda: C.bound_violation(z, b, upper=False), inst)
    t.run("payment_at_most_bid", lambda: C.bound_violation(z, b, upper=True), inst)
    for i in np.flatnonzero(b == 0):
        t.run("zero_bid_pays_zero", lambda i=i: None if abs(z[i]) <= TOL else
              {"agent": int(i), "payment": float(z[i])}, inst)
    cuts = (m.reserve,) if m.reserve else ()
    for i in range(n):
        t.run("payment_identity", lambda i=i: _identity(m, P, b, z, i, cuts), inst)
        if m.reserve:
            t.run("payment_reserve", lambda i=i: _reserve(m, P, b, z, i), inst)
        t.run("truthful", lambda i=i: _regret(m, P, b, i, cuts), inst)


def _identity(m, P, b, z, i, cuts):
    want, err = C.identity_payment(m.rule, P, b, i, "second_price", cuts=cuts)
    if abs(want - z[i]) > TOL * max(1.0, b[i]) + 10 * err:
        return {"agent": i, "payment": float(z[i]), "identity": want}
    return None


def _reserve(m, P, b, z, i):
    """With reserve r the allocation is 0 below r, so ``Z = b x(b) - int_r^b x >= r x(b)``."""
    if b[i] <= 0 or not C._defined_at_zero(m.rule, P, b, i):
        return None
    x = C.allocation_curve(m.rule, P, b, i, "second_price")(np.array([b[i]]))[0]
    if z[i] < m.reserve * x - TOL:
        return {"agent": i, "reserve": m.reserve, "payment": float(z[i]),
                "at_least": float(m.reserve * x)}
    return None


def _regret(m, P, b, i, cuts):
    """Agent i with value ``v = b_i`` for ``-v TV(p_i, q)``: no bid on a grid may beat v
    (:func:`mechanism.regret.regret`; a bid where the mechanism is undefined never gains)."""
    v = float(b[i])
    if v <= 0:
        return None

    def utility(s):
        bb = with_bid(b, i, s)
        return -v * float(tv(P[i], m.rule.evaluate(P, bb))) - float(m.pay(P, bb)[i])

    out = regret(v, C.bid_grid(b, i, cuts), lambda S: np.array([_safe(utility, s) for s in S]))
    if out is None:
        return None
    gain, best = out
    if gain > TOL * max(1.0, v):
        return {"agent": i, "value": v, "better_bid": best, "gain": gain}
    return None


def _safe(f, s):
    try:
        return f(s)
    except InvalidInput:
        return -np.inf
