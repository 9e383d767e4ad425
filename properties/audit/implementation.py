"""Audit a third-party mechanism implementation (``audit --mechanism``).

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
        uniforms = 1                         # optional, read with sample: uniforms it takes, an
                                             # int or "V" (one per token: Gumbel-max, race)

``aggregate`` and ``payments`` may take a keyword ``context`` (side information: relevance
scores, a reserve, a temperature...): ``audit_mechanism(..., context={...})`` fixes it,
``context=draw`` (a callable ``draw(rng) -> dict``) draws one per instance from the
strategy the user declares. A class named by ``--mechanism mod:Class`` is built with the
``--arg key=value`` constructor arguments (``kwargs=`` in Python).

It may raise :class:`mechanism.errors.InvalidInput` where it is undefined (e.g. every
bid 0). Also accepted: a plain callable ``rule(dists, bids) -> q`` or a
:class:`mechanism.Rule` (aggregate only), and a :class:`mechanism.TokenAuction`
(its rule and expected payments).

:func:`audit_mechanism` judges the object on theory §4-5 properties over small seeded
instances ordered by size (fewest agents and tokens first, round numbers), so the first
counterexample found is the one reported. Native checks (:mod:`properties.checks`):
``aggregate_valid``, ``monotone`` (box, bid grid), ``payments_valid`` (``payments``
returns one finite number per agent, without raising, exiting or hanging),
``payment_nonnegative``,
``payment_at_most_bid``, ``zero_bid_pays_zero``, ``payment_identity`` (Myerson's payment
for the value model, under the object's own aggregate), ``payment_reserve``
(``z_i >= r x_i(b)``, with a declared reserve), ``truthful`` (regret under the value model)
and ``individually_rational`` (truthful utility >= 0 against staying out) -- the value model
is ``valuation=`` (``--valuation``; default ``tv``, as in ``check``; see
:mod:`mechanism.valuations`) and every finding it affects names it -- ``sampler_marginal`` (the law of
``sample(q, u)`` over u is q) and ``stable_sampling`` (the law of the realized token is
box-monotone, so a stable sampler with these marginals exists). When the property suite
(``properties.check``) and rule-level proofs are available their findings are added
(:mod:`properties.audit.suite`).
"""

from __future__ import annotations

import time

import numpy as np

from mechanism import tv
from mechanism.sampling import inverse_cdf_many
from mechanism.bids import with_bid
from mechanism import valuations as VM
from mechanism.errors import InvalidInput, InvalidRule
from mechanism.verdicts import Verdict

from properties import restrictions
from properties.config import MAX_EXAMPLES_RANGE, SEED_RANGE, integer, number
from properties import checks as C
from properties.audit.instances import instances
from properties.audit.suite import MechanismReport, suite_findings
from properties.loading import load_mechanism
from properties.target import Target, ThirdPartyRule
from properties.catalogue import VALUE_MODEL_PROPERTIES
from properties.report import Finding

__all__ = ["audit_mechanism", "load_mechanism", "Audited", "ThirdPartyRule", "NATIVE"]

NATIVE = ("aggregate_valid", "monotone", "payments_valid", "payment_nonnegative",
          "payment_at_most_bid", "zero_bid_pays_zero", "payment_identity", "payment_reserve",
          "truthful", "individually_rational", "sampler_marginal", "stable_sampling")
PAYMENT_NATIVE = NATIVE[2:10]
MODEL_NATIVE = VALUE_MODEL_PROPERTIES
ORDERED = {"monotone": "box", "stable_sampling": "box"}
TOL = 1e-6
SAMPLER_GRID = 2000


class _Tally:
    def __init__(self, model: str = "tv", asked: int = 0, ended=lambda: False):
        self.checked = {k: 0 for k in NATIVE}
        self.cex: dict[str, dict] = {}
        self.skip: dict[str, str] = {}
        self.model, self.asked = model, asked
        #: whether the object's worker ended for good (it exited or hung): no check runs
        #: after that, so none is blamed for a call the dead worker could not answer
        self.ended = ended
        #: the wall-clock deadline (monotonic; None: none): no check starts after it, and
        #: ``cut`` says what it cut
        self.end, self.cut = None, ""

    def spent(self) -> bool:
        return self.end is not None and time.monotonic() > self.end

    def run(self, prop, fn, inst):
        if prop in self.cex or self.ended() or self.spent():
            return
        try:
            out = fn()
        except InvalidInput:
            return  # undefined there, and the object said so
        except InvalidRule as exc:  # blame the aggregate when it was the one that misbehaved
            blame = "aggregate_valid" if str(exc.rule or "").endswith(".aggregate") else prop
            cex = {**inst, "while_checking": prop, "error": str(exc)}
            called = exc.value.get("bids") if isinstance(exc.value, dict) else None
            if called is not None and list(called) != list(inst["bids"]):
                # it failed on a bid profile the check derived (a node of a bid path, all
                # zero bids...): that profile is the counterexample, not the instance
                cex.update(bids=list(called), instance_bids=list(inst["bids"]))
            self.cex.setdefault(blame, cex)
            return
        self.checked[prop] += 1
        if out is not None:
            self.cex[prop] = {**inst, **out}
            if prop in MODEL_NATIVE:
                self.cex[prop]["value_model"] = self.model

    def findings(self) -> list[Finding]:
        out = []
        for prop in NATIVE:
            order = self.model if prop in MODEL_NATIVE else ORDERED.get(prop)
            if prop in self.cex:
                detail = "counterexample" + (f" (value model {self.model})"
                                             if prop in MODEL_NATIVE else "")
                out.append(Finding(prop, order, Verdict.REFUTED, "audit", detail,
                                   self.cex[prop]))
            elif prop in self.skip:
                out.append(Finding(prop, order, Verdict.SKIPPED, "audit",
                                   self.skip[prop], None))
            elif self.checked[prop]:
                note = f" (value model {self.model})" if prop in MODEL_NATIVE else ""
                cut = f"; {self.cut}" if self.cut else ""
                out.append(Finding(prop, order, Verdict.NOT_REFUTED, "audit",
                                   f"{self.checked[prop]} instances{note}{cut}", None))
            elif self.cut:
                out.append(Finding(prop, order, Verdict.SKIPPED, "audit",
                                   f"not run: {self.cut}", None))
            else:
                out.append(Finding(prop, order, Verdict.SKIPPED, "audit",
                                   "no instance applied" + (
                                       f" (value model {self.model} undefined on every "
                                       "instance; try --reports one_hot)"
                                       if prop in MODEL_NATIVE else ""), None))
        return out


def audit_mechanism(obj, *, name: str | None = None, max_examples: int = 120, seed: int = 0,
                    use_suite: bool = True, timeout: float = 5.0, orders=("box",),
                    budget_s: float | None = None, valuation=None, reports: str | None = None,
                    context=None, progress=None) -> MechanismReport:
    """Judge a mechanism object (see the module docstring); a :class:`MechanismReport`.

    ``max_examples``/``seed``: instances of the native checks and the suite's sampling
    budget; ``use_suite``: also run ``properties.check`` (with ``orders``, per-call
    ``timeout`` for the object's code); ``budget_s``: a wall-clock budget for the whole
    audit, its own checks and the suite (None: none, so that a seed decides the verdicts, not
    the machine's speed); a cut says how many instances ran; ``progress(k, total)``: called
    before each instance;
    ``valuation``: the value model (name, ValueModel or callable ``a(p_i, q)``; default
    ``tv``); ``reports``: a report restriction (``one_hot``, ``top_k:K``; ``win`` implies
    ``one_hot``); ``context``: side information, a dict or ``draw(rng) -> dict``."""
    timeout = number("timeout", timeout)
    budget_s = number("budget_s", budget_s, none_ok=True)
    max_examples = integer("max_examples", max_examples, MAX_EXAMPLES_RANGE)
    seed = integer("seed", seed, SEED_RANGE)
    model = VM.get_value_model(valuation)
    reports = reports or ("one_hot" if model.reports == "one_hot" else None)
    restrictions.parse(reports)
    m = obj if isinstance(obj, Target) and obj.kind == "mechanism" else \
        Audited(obj, name, context=context)
    t = _Tally(model.name, ended=lambda: m.worker_ended)
    if not m.has_payments:
        for prop in PAYMENT_NATIVE:
            t.skip[prop] = "the object exposes no payments(dists, bids)"
    if not m.reserve:
        t.skip["payment_reserve"] = "no reserve declared"
    if not m.has_sample:
        t.skip["stable_sampling"] = "inverse-CDF sampling: the token's law is q (see monotone)"
    elif m.uniforms != 1:
        t.skip["stable_sampling"] = ("the sampler takes several uniforms per step: its law is "
                                     "estimated by Monte Carlo (sampler_marginal), not exact")
    rng = np.random.default_rng(seed)
    end = t.end = None if budget_s is None else time.monotonic() + budget_s
    drawn = list(instances(max_examples, seed, m.reserve))
    for k, inst in enumerate(drawn):
        if t.ended():
            break
        if t.spent():
            t.cut = f"the --budget of {budget_s:g} s cut the audit after {k} of {len(drawn)} " \
                    "instances"
            break
        if progress is not None:
            progress(k, len(drawn))
        dists = restrictions.restrict(reports, inst["dists"])
        if dists is None:
            continue
        inst = {**inst, "dists": dists}
        if m.draw_context(rng) is not None:
            inst["context"] = m.context
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
        if m.has_payments:
            _payment_checks(m, t, inst, P, b, model)
    if t.ended():
        for prop in NATIVE:
            if prop not in t.cex and prop not in t.skip and not t.checked[prop]:
                t.skip[prop] = "not run: the object's code ended or hung its worker earlier"
    findings = t.findings()
    if use_suite:
        # what the budget left, at least a second (the suite's rows say what it cut)
        rest = None if end is None else max(SUITE_MIN_S, end - time.monotonic())
        kw = dict(max_examples=max_examples, seed=seed, timeout=timeout, orders=orders,
                  budget_s=rest, reports=reports)
        findings += suite_findings(m, valuation=model, **kw)
    rep = MechanismReport(m.name, findings)
    rep.value_model = model.name
    return rep


def _rule_checks(m, t, inst, P, b, q):
    cuts = (m.reserve,) if m.reserve else ()
    for i in range(len(b)):
        t.run("monotone", lambda: C.box_violation_on_grid(m.rule, P, b, i, cuts=cuts), inst)
    t.run("sampler_marginal", lambda: _marginal(m, q), inst)
    if m.has_sample:
        law = ThirdPartyRule(lambda D, B: _law(m, m.rule.evaluate(D, B)), f"{m.name}.token_law")
        for i in range(len(b)):
            t.run("stable_sampling", lambda: C.box_violation_on_grid(law, P, b, i, cuts=cuts),
                  inst)


#: The least of a --budget the suite gets when the audit's own checks spent the rest.
SUITE_MIN_S = 1.0

#: Monte Carlo draws of a sampler that takes several uniforms per step (seeded).
MC_DRAWS = 20000


def Audited(obj, name: str | None = None, context=None) -> Target:
    """The object under audit: the one wrapper, :class:`properties.target.Target`, of kind
    mechanism (this name is kept for callers of the Python API)."""
    return Target(obj, kind="mechanism", name=name, context=context)


def _law(m, q) -> np.ndarray:
    """Law of ``sample(q, u)``: over a stratified grid of one uniform (exact up to
    1/SAMPLER_GRID), or, for a sampler taking several uniforms per step (``uniforms = k``
    or ``"V"``: Gumbel-max, an exponential race), over MC_DRAWS seeded uniform vectors.
    Without a ``sample`` the token is drawn by the mechanism's inverse CDF."""
    grid = (np.arange(SAMPLER_GRID) + 0.5) / SAMPLER_GRID
    k = m.uniforms
    if not m.has_sample:
        tokens = inverse_cdf_many(q, grid)
    elif k == 1:
        tokens = m.sample_many(q, [float(u) for u in grid])
    else:
        width = q.size if k == "V" else int(k)
        tokens = m.sample_many(q, np.random.default_rng(0).random((MC_DRAWS, width)))
    return np.bincount(tokens, minlength=q.size) / len(tokens)


def _marginal(m, q):
    law = _law(m, q)
    d = float(tv(law, q))
    if m.has_sample and m.uniforms != 1:  # Monte Carlo: 4 standard deviations
        bound = 0.5 * float(np.sum(4.0 * np.sqrt(q * (1 - q) / MC_DRAWS))) + 1.0 / MC_DRAWS
    else:
        bound = q.size / SAMPLER_GRID + 1e-9
    if d > bound:
        return {"q": q.tolist(), "token_law": law.tolist(), "tv": d, "allowed": bound}
    return None


def _payment_checks(m, t, inst, P, b, model):
    try:
        z = m.payments(P, b)
    except InvalidInput:
        return  # undefined here, and the object said so
    except InvalidRule as exc:  # raised, exited, hung, junk: a finding, never our exit code
        t.cex.setdefault("payments_valid", {**inst, "error": str(exc)})
        return
    if not np.all(np.isfinite(z)):
        t.cex.setdefault("payments_valid", {**inst, "payments": z.tolist(),
                                            "error": "a payment is not a finite number"})
        return
    t.checked["payments_valid"] += 1
    n = len(b)
    t.run("payment_nonnegative", lambda: C.bound_violation(z, b, upper=False), inst)
    t.run("payment_at_most_bid", lambda: C.bound_violation(z, b, upper=True), inst)
    for i in np.flatnonzero(b == 0):
        t.run("zero_bid_pays_zero", lambda i=i: None if abs(z[i]) <= TOL else
              {"agent": int(i), "payment": float(z[i])}, inst)
    cuts = (m.reserve,) if m.reserve else ()
    for i in range(n):
        t.run("payment_identity", lambda i=i: _identity(m, P, b, z, i, cuts, model), inst)
        if m.reserve:
            t.run("payment_reserve", lambda i=i: _reserve(m, P, b, z, i), inst)
        t.run("truthful", lambda i=i: _regret(m, P, b, i, cuts, model), inst)
        t.run("individually_rational", lambda i=i: _ir(m, P, b, z, i, model), inst)


def _identity(m, P, b, z, i, cuts, model):
    want, err = C.identity_payment(m.rule, P, b, i, "second_price", cuts=cuts, model=model)
    if C.identity_mismatch(z[i], want, err, b[i], TOL):
        return {"agent": i, "payment": float(z[i]), "identity": want, "error_bound": err}
    return None


def _reserve(m, P, b, z, i):
    """With reserve r the allocation is 0 below r, so ``Z = b x(b) - int_r^b x >= r x(b)``."""
    if b[i] <= 0 or not C.defined_at_zero(m.rule, P, b, i):
        return None
    x = C.allocation_curve(m.rule, P, b, i, "second_price")(np.array([b[i]]))[0]
    if z[i] < m.reserve * x - TOL:
        return {"agent": i, "reserve": m.reserve, "payment": float(z[i]),
                "at_least": float(m.reserve * x)}
    return None


def _utility(m, P, b, i, model):
    """:func:`properties.checks.utility_curve` of the audited object for agent i with value
    ``v = b_i``; None where b_i = 0, the object is undefined at a zero bid, or the value model
    or the object is undefined at these reports (InvalidInput)."""
    if b[i] <= 0 or not C.defined_at_zero(m.rule, P, b, i):
        return None
    try:
        model.check_reports(P)
        return C.utility_curve(model.for_rule(m.rule), P[i],
                               lambda s: m.rule.evaluate(P, with_bid(b, i, s)),
                               lambda s: m.payments(P, with_bid(b, i, s))[i], float(b[i]), i)
    except InvalidInput:
        return None


def _regret(m, P, b, i, cuts, model):
    """Agent i with value ``v = b_i`` under the value model: no bid on a grid may beat v
    (:func:`properties.checks.regret_violation`)."""
    utility = _utility(m, P, b, i, model)
    if utility is None:
        return None
    return C.regret_violation(lambda S: np.array([_safe(utility, s) for s in S]), float(b[i]),
                              C.bid_grid(b, i, cuts), i, TOL)


def _ir(m, P, b, z, i, model):
    """Truthful utility ``v (a(Q(v)) - a(Q(0))) - Z(v) >= 0`` (against staying out;
    :func:`properties.checks.ir_violation`)."""
    utility, v = _utility(m, P, b, i, model), float(b[i])
    if utility is None:
        return None
    try:
        u = utility(v)
    except InvalidInput:
        return None
    found = C.ir_violation(u, v, i, TOL)
    return None if found is None else {**found, "payment": float(z[i])}


def _safe(f, s):
    try:
        return f(s)
    except InvalidInput:
        return -np.inf
