"""``check``: the one facade that judges a rule or a payment rule (issue 3).

Engines, in order, for each requested (property, order):

1. ``proofs`` (monotone / consistent of a backend-generic :class:`mechanism.Rule`), if the
   proofs package provides ``proofs.rule_level.prove_rule_property``; a solver
   counterexample is re-run on the numpy reference before it is believed;
2. ``definition`` where the answer follows from a definition (CA under a total preorder);
3. ``hypothesis``: sampled search (always runs last), with the smart bid sweeps of
   :mod:`properties.checker.sweeps`; every violation is re-run on the numpy reference, shrunk
   (:mod:`properties.checker.shrink`) and printed as a paste-able reproduction.

A target's declared claims are never trusted; a property it declares *false*
(``claims={"payment_at_most_bid": False}``) is SKIPPED unless asked for explicitly.
"""

from __future__ import annotations

import time

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hseed

from mechanism.errors import InvalidInput
from mechanism.orders import PARTIAL_ORDERS, get_order
from mechanism.verdicts import Verdict

from properties.catalogue import ALL_ORDERS, CATALOGUE, parse_property
from properties.checker.determinism import pinned_constants
from properties.checker.groups import cex as make_cex
from properties.checker.payment_checks import PaymentGroup
from properties.report import Finding, Report, _plain
from properties.checker.rule_checks import POINTWISE, evaluate_in_domain
from properties.checker.sandbox import RuleFailure, Undefined
from properties.checker.shrink import fmt, shrink
from properties.checker.sweeps import PathGroup
from properties.checker.targets import DEFAULT_TIMEOUT, Target

DEFAULT_MAX_EXAMPLES = 100
DEFAULT_SEED = 0
PROOF_TIMEOUT_S = 5.0
#: Total time given to the proofs engine in one check (then sampling only).
PROOF_BUDGET_S = 20.0


class _Stop(Exception):
    """Ends a hypothesis run early (everything found, time up, or the target hung)."""


def _claimed(t: Target, pid: str, order: str | None) -> bool | None:
    """What the target declares about (pid, order): True, False or None (nothing)."""
    claim = t.claims.get(pid)
    if claim is None:
        return None
    if isinstance(claim, (tuple, list, set, frozenset)):
        return (order in claim) or None
    return bool(claim)


def _declared_false(t: Target, pid: str, order: str | None) -> bool:
    return _claimed(t, pid, order) is False


def _keys(t: Target, properties, orders):
    """Requested (property, order) keys, and SKIPPED findings for the inapplicable ones."""
    orders = tuple(orders) if orders else ALL_ORDERS
    for o in orders:
        get_order(o)  # InvalidInput naming the known orders
    explicit = properties is not None
    wanted = list(properties) if explicit else [p for p in CATALOGUE if CATALOGUE[p].kind == t.kind]
    keys, skipped = [], []
    for text in wanted:
        pid, order = parse_property(text)
        if pid not in CATALOGUE:
            raise InvalidInput(f"unknown property {pid!r}; known: {', '.join(CATALOGUE)}",
                               value=pid)
        prop = CATALOGUE[pid]
        if order is not None and order not in ALL_ORDERS:
            raise InvalidInput(f"unknown order {order!r} in {text!r}", value=text)
        ks = [(pid, o) for o in ([order] if order else orders)] if prop.per_order else [(pid, None)]
        for k in ks:
            if prop.kind != t.kind:
                skipped.append(Finding(pid, k[1], Verdict.SKIPPED, "-",
                                       f"applies to {prop.kind} targets; this is a {t.kind}"))
            elif not explicit and _declared_false(t, pid, k[1]):
                skipped.append(Finding(pid, k[1], Verdict.SKIPPED, "-",
                                       "the target declares that it does not hold "
                                       f"(claims[{pid!r}] is False); ask for it to check it"))
            elif k not in keys:
                keys.append(k)
    return keys, skipped


def _groups(t: Target, keys, valuation, reports=None):
    groups = []
    for pid, G in POINTWISE.items():
        if (pid, None) in keys:
            groups.append(G(t, [(pid, None)]))
    path = [k for k in keys if k[0] in ("monotone", "stable_sampling")
            or (k[0] == "consistent" and k[1] in PARTIAL_ORDERS)]
    if path:
        groups.append(PathGroup(t, path))
    pay = [k for k in keys if CATALOGUE[k[0]].kind == "payment"]
    if pay:
        groups.append(PaymentGroup(t, pay, valuation, reports))
    return groups


class _Run:
    """One hypothesis run over a group's examples."""

    def __init__(self, t, group, t_start, deadline, normalized_wanted):
        self.t, self.g, self.t_start, self.deadline = t, group, t_start, deadline
        self.found: dict = {}
        self.first_s: dict = {}
        self.examples = 0
        self.undefined = 0
        self.failures: dict = {}
        self.normalized_wanted = normalized_wanted
        self.stopped = ""

    def body(self, x):
        if self.t.hung:
            self.stopped = "the target timed out on an earlier call"
            raise _Stop()
        if time.perf_counter() > self.deadline:
            self.stopped = "time budget used up"
            raise _Stop()
        try:
            got = self.g.search(x)
        except Undefined:
            self.undefined += 1
            return
        except RuleFailure as exc:
            self.examples += 1
            self._failure(exc)
            return
        self.examples += 1
        for k, c in got.items():
            if k not in self.found:
                self.found[k] = c
                self.first_s[k] = time.perf_counter() - self.t_start
        if all(k in self.found for k in self.g.keys):
            raise _Stop()

    def _failure(self, exc):
        P, b = self.t.last_call
        c = make_cex(P, b, error=exc.kind, message=str(exc))
        if self.t.kind == "rule" and self.normalized_wanted:
            keys = [("normalized", None)]
        else:
            keys = self.g.keys
        for k in keys:
            if k not in self.failures and k not in self.found:
                self.failures[k] = c
                self.first_s.setdefault(k, time.perf_counter() - self.t_start)
        if exc.kind == "timeout":
            self.t.hung = True
            raise _Stop()

    def run(self, n, seed):
        @hseed(seed)
        @settings(max_examples=max(1, n), deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate], verbosity=Verbosity.quiet,
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
        @given(self.g.strategy())
        def go(x):
            self.body(x)

        try:
            with pinned_constants(self.t.obj, self.t.judge_obj):
                go()
        except _Stop:
            pass


def _verify_failure(t, c):
    try:
        if t.kind == "rule":
            evaluate_in_domain(t, np.asarray(c["dists"]), np.asarray(c["bids"]))
        else:
            t.pay(np.asarray(c["dists"]), np.asarray(c["bids"]))
    except RuleFailure as exc:
        if exc.kind == c["error"]:
            return {**c, "message": str(exc)}
    except Undefined:
        return None
    return None


def _failure_repro(t, c):
    call = "rule(dists, bids)" if t.kind == "rule" else "payment(rule, dists, bids)"
    return [f"dists = np.array({fmt(c['dists'])})", f"bids = np.array({fmt(c['bids'])})",
            f"out = {call}  # {c['error']}: {c['message'][:120]}"]


def _finalize(t, c, verify, repro, do_shrink, engine, key, detail_fn):
    """Shrink, re-run on the numpy reference, attach the reproduction."""
    if do_shrink and c.get("error") != "timeout":
        c = shrink(c, verify, fixed_vocab=t.fixed_vocab is not None)
    if c.get("error") != "timeout":
        again = verify(c)
        if again is None:
            return Finding(key[0], key[1], Verdict.UNKNOWN, engine,
                           "a counterexample was found but did not reproduce when re-run on the "
                           "numpy reference (flaky target?)")
        c = again
    c = {k: v for k, v in c.items() if not k.startswith("_")}
    c["repro"] = "\n".join(t.repro_header() + repro(c))
    c["reproduced"] = c.get("error") != "timeout"
    return Finding(key[0], key[1], Verdict.REFUTED, engine, detail_fn(c), _plain(c))


def _prove(t, key, do_shrink, path_group):
    """The proofs engine, when present (contract: proofs.rule_level.prove_rule_property)."""
    from mechanism.rules import Rule
    if not isinstance(t.obj, Rule) or t.obj.generic is None:
        return None
    try:
        from proofs.rule_level import prove_rule_property
    except (ImportError, AttributeError):
        return None
    t0 = time.perf_counter()
    try:
        res = prove_rule_property(t.obj, key[0], key[1], max_agents=3, max_tokens=4,
                                  timeout_s=PROOF_TIMEOUT_S)
    except Exception as exc:  # the prover is another package: never crash the check
        return Finding(key[0], key[1], Verdict.UNKNOWN, "proofs",
                       f"prover raised {type(exc).__name__}: {exc}")
    secs = time.perf_counter() - t0
    verdict = Verdict(res.verdict)
    detail = (res.detail + (f" [{res.size}]" if res.size else "")).strip()
    if verdict is Verdict.REFUTED:
        c0 = res.counterexample or {}
        try:
            c = make_cex(np.asarray(c0["dists"], dtype=float), np.asarray(c0["bids"], dtype=float),
                         int(c0["agent"]), float(c0["bid_from"]), float(c0["bid_to"]), order=key[1])
            f = _finalize(t, c, lambda x: path_group.verify(key, x),
                          lambda x: path_group.repro(key, x), do_shrink, res.engine, key,
                          lambda x: path_group.describe(key, x))
        except (KeyError, TypeError, ValueError, RuleFailure, Undefined) as exc:
            f = Finding(key[0], key[1], Verdict.UNKNOWN, res.engine,
                        f"solver counterexample unusable: {exc}")
        if f.verdict is not Verdict.REFUTED:
            f.detail = f"{res.engine} reported a counterexample that the numpy reference " \
                       f"does not reproduce ({detail})"
        f.seconds = secs
        return f
    return Finding(key[0], key[1], verdict, res.engine, detail, seconds=secs)


def check(target, properties=None, orders=None, max_examples: int = DEFAULT_MAX_EXAMPLES,
          seed: int = DEFAULT_SEED, timeout: float | None = DEFAULT_TIMEOUT, *, rule=None,
          prove: bool = True, shrink_counterexamples: bool = True,
          valuation_loss: str | None = None, budget_s: float | None = None,
          valuation=None, reports: str | None = None, kind: str | None = None) -> Report:
    """Judge ``target`` against the property catalogue (:mod:`properties.catalogue`).

    ``target``: a :class:`mechanism.Rule`, a callable ``rule(dists, bids) -> q``, a
    :class:`mechanism.PaymentRule` or callable ``payment(rule, dists, bids) -> z``, or a
    ``"file.py:NAME"`` / ``"pkg.mod:NAME"`` string (see :mod:`properties.checker.targets` for how
    the kind is decided). Payment rules are judged under ``rule`` (default: linear).
    ``properties``: ids, optionally ``"id:order"`` (default: every property of the
    target's kind); ``orders``: preference orders for per-order properties (default all).
    ``max_examples``/``seed``: the hypothesis budget (deterministic for a given seed);
    ``timeout``: per-call limit for the target's code in seconds; ``budget_s``: optional
    wall-clock budget for the sampling; ``valuation``: the value model of
    ``payment_identity``, ``truthful`` and ``individually_rational`` (a name of
    :data:`mechanism.valuations.VALUE_MODELS`, a ValueModel or a callable ``a(p_i, q)``;
    default ``tv``; ``valuation_loss`` is the older spelling for the KL models);
    ``reports``: a report restriction (``one_hot``, ``top_k:K``; the ``win`` model implies
    ``one_hot``); ``kind``: ``rule`` | ``payment`` overrides the guessed kind of the target.
    """
    t_start = time.perf_counter()
    if isinstance(properties, str):
        properties = [properties]
    if isinstance(orders, str):
        orders = [orders]
    # -- value model, report restriction, kind (issue 12) --
    from mechanism.valuations import get_value_model
    from properties.restrictions import parse as parse_restriction
    model = get_value_model(valuation if valuation is not None else valuation_loss)
    parse_restriction(reports)
    t = Target(target, rule=rule, timeout=timeout, kind=kind)
    if hasattr(t.obj, "claims_for"):
        t.claims = t.obj.claims_for(model.name)
    t.last_call = (np.zeros((1, 1)), np.zeros(1))
    keys, findings = _keys(t, properties, orders)
    deadline = t_start + budget_s if budget_s else float("inf")
    groups = _groups(t, keys, model, reports)
    path_group = next((g for g in groups if isinstance(g, PathGroup)), None) or PathGroup(t, [])

    proved = {}
    proof_deadline = time.perf_counter() + PROOF_BUDGET_S
    for key in keys:
        if key[0] == "consistent" and key[1] not in PARTIAL_ORDERS:
            proved[key] = Finding(key[0], key[1], Verdict.PROVED, "definition",
                                  f"{key[1]} is a total preorder: any two outcomes are comparable")
        elif prove and key[0] in ("monotone", "consistent") and \
                time.perf_counter() < proof_deadline:
            f = _prove(t, key, shrink_counterexamples, path_group)
            if f is not None:
                proved[key] = f

    results = {}
    for gi, g in enumerate(groups):
        run = _Run(t, g, t_start, deadline, ("normalized", None) in keys)
        g0 = time.perf_counter()
        n = max(5, int(round(max_examples * g.examples_factor)))
        if t.hung:
            run.stopped = "the target timed out on an earlier call (per-call timeout)"
        else:
            try:
                run.run(n, seed + gi)
            except Exception as exc:   # hypothesis itself failed (health check, ...)
                run.stopped = f"search engine error: {type(exc).__name__}: {exc}"
        run.seconds = time.perf_counter() - g0
        results[id(g)] = run

    for key in keys:
        if key in proved:
            findings.append(proved[key])
            if proved[key].engine == "definition":
                continue
        g = next((g for g in groups if key in g.keys), None)
        runs = [r for r in results.values() if key in r.failures] or \
            ([results[id(g)]] if g is not None else [])
        if not runs:
            continue
        run = runs[0]
        f = None
        if key in run.found and g is not None:
            f = _finalize(t, run.found[key], lambda x, g=g: g.verify(key, x),
                          lambda x, g=g: g.repro(key, x), shrink_counterexamples, "hypothesis",
                          key, lambda x, g=g: g.describe(key, x))
        elif key in run.failures:
            f = _finalize(t, run.failures[key], lambda x: _verify_failure(t, x),
                          lambda x: _failure_repro(t, x), shrink_counterexamples, "hypothesis",
                          key, lambda x: x["message"])
        if f is None:
            if run.examples == 0 and run.stopped:
                f = Finding(key[0], key[1], Verdict.UNKNOWN, "hypothesis",
                            f"not checked: {run.stopped}")
            elif run.examples == 0:
                f = Finding(key[0], key[1], Verdict.UNKNOWN, "hypothesis",
                            f"no valid example: the target was undefined on all "
                            f"{run.undefined} inputs tried")
            else:
                note = f"; stopped early: {run.stopped}" if run.stopped else ""
                asked = max(5, int(round(max_examples * g.examples_factor))) if g else 0
                if run.stopped and run.examples < asked:  # say what the budget cut
                    note += (f" after {run.examples} of {asked} examples (thin evidence: "
                             "raise --budget or --max-examples to run more)")
                f = Finding(key[0], key[1], Verdict.NOT_REFUTED, "hypothesis",
                            f"{run.examples} examples, no violation{note}")
        f.examples = run.examples
        f.seconds = getattr(run, "seconds", 0.0)
        f.claimed = _claimed(t, *key)
        if f.verdict is Verdict.REFUTED:
            f.first_counterexample_s = run.first_s.get(key)
        findings.append(f)
    for f in findings:
        if f.claimed is None and f.property in CATALOGUE:
            f.claimed = _claimed(t, f.property, f.order)
        if f.property in ("payment_identity", "truthful", "individually_rational") and \
                "value model" not in (f.detail or ""):
            f.detail = f"{f.detail} [value model {model.name}]".strip()
    return Report(t.name, t.kind, findings, time.perf_counter() - t_start)
