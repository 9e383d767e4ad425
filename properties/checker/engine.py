"""``check``: the one facade that judges a rule or a payment rule.

Engines, in order, for each requested (property, order):

1. ``proofs`` (monotone / consistent of a backend-generic :class:`mechanism.Rule`), see
   :mod:`properties.checker.proving`; every PROVED carries its scope as data;
2. ``definition`` where the answer follows from a definition (CA under a total preorder);
3. ``hypothesis``: sampled search (always runs last), with the smart bid sweeps of
   :mod:`properties.checker.sweeps`; every violation is re-run on the numpy reference, shrunk
   (:mod:`properties.checker.shrink`), printed as a reproduction and that reproduction run in a
   fresh process (:mod:`properties.checker.reproduce`).

Evidence: a sampled verdict counts the examples on which the target answered
validly (``Finding.valid``); with none it is UNKNOWN with the reason, never NOT_REFUTED. An
error of the engine itself is UNKNOWN with the error. A target that answers differently for
the same input is REFUTED on ``deterministic`` and every sampled verdict about it is UNKNOWN
(the same on every run). A target's declared claims are never trusted; a property it declares
*false* is SKIPPED unless asked for explicitly.
"""

from __future__ import annotations

import functools
import platform
import time
from dataclasses import dataclass

from mechanism.errors import InvalidInput
from mechanism.orders import get_order
from mechanism.payments import PaymentRule
from mechanism.verdicts import Verdict

from properties import config
from properties.catalogue import ALL_ORDERS, CATALOGUE, DETERMINISM, VALUE_MODEL_PROPERTIES, parse_property
from properties.checker import proving, reproduce
from properties.checker.payment_checks import PaymentGroup
from properties.checker.rule_checks import POINTWISE
from properties.checker.search import SearchRun, determinism_finding
from properties.checker.shrink import shrink
from properties.checker.sweeps import PathGroup
from properties.target import DEFAULT_TIMEOUT, Target
from properties.report import Finding, Report, plain

DEFAULT_MAX_EXAMPLES = 100
DEFAULT_SEED = 0
#: ``thorough=True`` (``--thorough``, for release gates): this many times the budget, on
#: this many seeds.
THOROUGH_FACTOR, THOROUGH_SEEDS = 4, 3
DETERMINISM_KEYS = {(pid, None) for pid in DETERMINISM}


def _claimed(t: Target, pid: str, order: str | None) -> bool | None:
    """What the target declares about (pid, order): True, False or None (nothing)."""
    claim = t.claims.get(pid)
    if claim is None:
        return None
    if isinstance(claim, (tuple, list, set, frozenset)):
        return (order in claim) or None
    return bool(claim)


def _keys(t: Target, properties, orders):
    """Requested (property, order) keys, and SKIPPED findings for the inapplicable ones."""
    orders = tuple(orders) if orders else ALL_ORDERS
    for o in orders:
        get_order(o)  # InvalidInput naming the known orders
    explicit = properties is not None
    wanted = list(properties) if explicit else [p for p in CATALOGUE if CATALOGUE[p].kind == t.kind]
    keys, skipped = [], []
    for text in wanted:
        if not isinstance(text, str):   # was an AttributeError in parse_property
            raise InvalidInput(f"properties: {text!r} is not a property name", value=text)
        pid, order = parse_property(text)
        if pid not in CATALOGUE:
            raise InvalidInput(f"unknown property {pid!r}; known: {', '.join(CATALOGUE)}",
                               value=pid)
        prop = CATALOGUE[pid]
        if order is not None and (order not in ALL_ORDERS or not prop.per_order):
            raise InvalidInput(f"unknown order {order!r} in {text!r}" if order not in ALL_ORDERS
                               else f"{pid} takes no order ({text!r}: it was dropped)", value=text)
        ks = [(pid, o) for o in ([order] if order else orders)] if prop.per_order else [(pid, None)]
        for k in ks:
            if prop.kind != t.kind:
                skipped.append(Finding(pid, k[1], Verdict.SKIPPED, "-",
                                       f"applies to {prop.kind} targets; this is a {t.kind}"))
            elif not explicit and _claimed(t, pid, k[1]) is False:
                skipped.append(Finding(pid, k[1], Verdict.SKIPPED, "-",
                                       "the target declares that it does not hold "
                                       f"(claims[{pid!r}] is False); ask for it to check it"))
            elif k not in keys:
                keys.append(k)
    return keys, skipped


def _groups(t: Target, keys, valuation, reports=None):
    """The sampled searches over ``keys``, each as the catalogue declares it."""
    groups = [POINTWISE[pid](t, [(pid, None)]) for pid in POINTWISE if (pid, None) in keys]
    path = [k for k in keys if CATALOGUE[k[0]].search == "path"]
    if path:
        groups.append(PathGroup(t, path))
    pay = [k for k in keys if CATALOGUE[k[0]].search == "payment"]
    if pay:
        groups.append(PaymentGroup(t, pay, valuation, reports))
    return groups


def _finalize(t, c, verify, repro, do_shrink, engine, key, detail_fn):
    """Shrink, re-run on the numpy reference, attach the reproduction."""
    if do_shrink and c.get("error") != "timeout":
        c = shrink(c, verify, fixed_vocab=t.fixed_vocab is not None)
    if c.get("error") != "timeout":
        again = verify(c)
        if again is None:
            t.recheck(c)
            return Finding(key[0], key[1], Verdict.UNKNOWN, engine,
                           "a counterexample was found but did not reproduce when re-run on the "
                           "numpy reference")
        c = again
    c = {k: v for k, v in c.items() if not k.startswith("_")}
    c["repro"] = "\n".join(t.repro_header() + repro(c))
    return Finding(key[0], key[1], Verdict.REFUTED, engine, detail_fn(c), plain(c))


def _versions() -> dict:
    """The versions a report records (read once per process: the code imported here does
    not change with what is installed later)."""
    return dict(_installed_versions())


@functools.lru_cache(maxsize=1)
def _installed_versions() -> dict:
    from importlib import metadata
    out = {"python": platform.python_version()}
    for dist in ("tokenauction", "numpy", "hypothesis", "z3-solver", "sympy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _sampled(t, key, run, g, do_shrink) -> Finding | None:
    """The hypothesis engine's finding on ``key`` from its run."""
    if key in run.found and g is not None:
        return _finalize(t, run.found[key], lambda x, g=g: g.verify(key, x),
                         lambda x, g=g: g.repro(key, x), do_shrink, "hypothesis",
                         key, lambda x, g=g: g.describe(key, x))
    if key in run.failures:
        return _finalize(t, run.failures[key], lambda x: reproduce.verify_failure(t, x),
                         lambda x: reproduce.failure_repro(t, x), do_shrink, "hypothesis",
                         key, lambda x: x["message"])
    return run.no_violation(key)


@dataclass(frozen=True)
class Settings:
    """How one ``check`` runs (the keywords of :func:`check`, validated once)."""
    max_examples: int = DEFAULT_MAX_EXAMPLES
    seed: int = DEFAULT_SEED
    timeout: float | None = DEFAULT_TIMEOUT
    rule: object = None
    prove: bool = True
    shrink: bool = True
    budget_s: float | None = None
    valuation: object = None
    reports: str | None = None
    kind: str | None = None
    thorough: bool = False
    run_reproductions: bool = True
    progress: object = None      #: called with one line as each engine starts (or None)

    def say(self, line: str) -> None:
        if self.progress is not None:
            self.progress(line)

    @property
    def seeds(self) -> list[int]:
        return [self.seed + 7919 * k for k in range(THOROUGH_SEEDS if self.thorough else 1)]

    @property
    def budget(self) -> int:
        return self.max_examples * (THOROUGH_FACTOR if self.thorough else 1)


def check(target, properties=None, orders=None, max_examples: int = DEFAULT_MAX_EXAMPLES,
          seed: int = DEFAULT_SEED, timeout: float | None = DEFAULT_TIMEOUT, *, rule=None,
          prove: bool = True, shrink_counterexamples: bool = True,
          valuation_loss: str | None = None, budget_s: float | None = None,
          valuation=None, reports: str | None = None, kind: str | None = None,
          thorough: bool = False, run_reproductions: bool = True, progress=None) -> Report:
    """Judge ``target`` against the property catalogue (:mod:`properties.catalogue`).

    ``target``: a :class:`mechanism.Rule`, a callable ``rule(dists, bids) -> q``, a
    :class:`mechanism.PaymentRule` or callable ``payment(rule, dists, bids) -> z``, or a
    ``"file.py:NAME"`` / ``"pkg.mod:NAME"`` string (see :mod:`properties.target` for how
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
    ``thorough``: the release-gate preset (:data:`THOROUGH_FACTOR` times the budget on
    :data:`THOROUGH_SEEDS` seeds); ``run_reproductions``: run each printed reproduction in a
    fresh process. ``progress``: called with one line of text as each engine starts (the
    CLI prints it on stderr).
    """
    timeout = config.number("timeout", timeout, none_ok=True)
    budget_s = config.number("budget_s", budget_s, none_ok=True)
    max_examples = config.integer("max_examples", max_examples, config.MAX_EXAMPLES_RANGE)
    seed = config.integer("seed", seed, config.SEED_RANGE)
    settings = Settings(max_examples, seed, timeout, rule, prove, shrink_counterexamples,
                        budget_s, valuation if valuation is not None else valuation_loss,
                        reports, kind, thorough, run_reproductions, progress)
    return run_check(target, properties, orders, settings)


def run_check(target, properties, orders, settings: Settings) -> Report:
    """The pipeline of :func:`check`: target and keys, proofs, sampled search, the
    findings per key, their adjustments, the reproductions."""
    t_start = time.perf_counter()
    properties = [properties] if isinstance(properties, str) else properties
    orders = [orders] if isinstance(orders, str) else orders
    t, model = _prepare(target, settings)
    keys, findings = _keys(t, properties, orders)
    proved = _by_definition(keys)
    groups = _groups(t, [k for k in keys if k not in proved], model, settings.reports)
    path_group = next((g for g in groups if isinstance(g, PathGroup)), None) or PathGroup(t, [])
    t.probe_determinism()
    proved.update(_prove(t, [k for k in keys if k not in proved], settings, path_group))
    runs = _search(t, groups, settings, t_start)
    findings += _findings(t, keys, proved, groups, runs, settings)
    _adjust(t, findings, model)
    if settings.run_reproductions:
        _confirm_reproductions(findings, settings.timeout)
    return Report(t.name, t.kind, findings, time.perf_counter() - t_start,
                  _recorded_settings(t, settings, model))


def _prepare(target, settings: Settings):
    """The wrapped target (its claims under the value model) and the value model."""
    from mechanism.valuations import get_value_model
    from properties.restrictions import parse as parse_restriction
    model = get_value_model(settings.valuation)
    parse_restriction(settings.reports)
    t = Target(target, rule=settings.rule, timeout=settings.timeout, kind=settings.kind)
    if isinstance(t.obj, PaymentRule):
        t.claims = t.obj.claims_for(model.name)
    return t, model


def _recorded_settings(t: Target, settings: Settings, model) -> dict:
    """What the report records of how it was made."""
    judged_under = None
    if t.kind == "payment":
        judged_under = t.judge_name
    return {"seed": settings.seed, "seeds": settings.seeds, "max_examples": settings.budget,
            "budget_s": settings.budget_s, "timeout": settings.timeout, "prove": settings.prove,
            "thorough": settings.thorough, "judged_under": judged_under,
            "valuation": model.name, "versions": _versions(),   # reports: as asked or implied
            "reports": settings.reports or ("one_hot" if t.kind == "payment" and
                                            model.reports == "one_hot" else None)}


def _by_definition(keys) -> dict:
    """Stage 1: the keys a definition settles (never searched)."""
    found = {}
    for key in keys:
        if "definition" in CATALOGUE[key[0]].engines:
            f = proving.definitional(key)
            if f is not None:
                found[key] = f
    return found


def _prove(t: Target, keys, settings: Settings, path_group) -> dict:
    """Stage 2: the keys the rule-level prover decides, within its time budget."""
    def finalize(c, verify, repro, engine, key, detail_fn):
        return _finalize(t, c, verify, repro, settings.shrink, engine, key, detail_fn)

    say = settings.say
    proved = {}
    budget = proving.total_budget()
    for key in keys:
        if settings.prove and "proof" in CATALOGUE[key[0]].engines and not budget.spent():
            say(f"check {t.name}: proving {key[0]}" + (f":{key[1]}" if key[1] else ""))
            f = proving.prove(t, key, finalize, path_group)
            if f is not None:
                proved[key] = f
    return proved


def _search(t: Target, groups, settings: Settings, t_start: float) -> dict:
    """Stage 3: one hypothesis run per group, over the settings' seeds, within the budget."""
    deadline = t_start + settings.budget_s if settings.budget_s else float("inf")
    keys = {k for g in groups for k in g.keys}
    results, say = {}, settings.say
    for gi, g in enumerate(groups):
        run = SearchRun(t, g, t_start, deadline, ("normalized", None) in keys)
        g0 = time.perf_counter()
        n = max(5, int(round(settings.budget * g.examples_factor)))
        for s in settings.seeds:
            if t.hung:
                run.stopped = run.stopped or "the target timed out on an earlier call " \
                                             "(per-call timeout)"
                break
            say(f"check {t.name}: sampling group {gi + 1}/{len(groups)} "
                f"({', '.join(k[0] + (':' + k[1] if k[1] else '') for k in g.keys)[:60]}), "
                f"seed {s}, {n} examples")
            run.run(n, s + gi)
            if all(k in run.found or k in run.failures for k in g.keys) or run.stopped:
                break
        run.seconds = time.perf_counter() - g0
        results[id(g)] = run
    return results


def _findings(t: Target, keys, proved, groups, results, settings: Settings) -> list:
    """Stage 4: one finding per key from the engine that decided it, proofs first."""
    findings = []
    for key in keys:
        if key in DETERMINISM_KEYS:
            findings.append(determinism_finding(t, key))
            continue
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
        f = _sampled(t, key, run, g, settings.shrink)
        f.examples = run.examples
        f.valid = run.valid.get(key, 0)
        f.declined = run.declined.get(key, 0)
        f.seconds = run.seconds
        if f.verdict is Verdict.REFUTED:
            f.first_counterexample_s = run.first_s.get(key)
        findings.append(f)
    return findings


def _adjust(t: Target, findings, model) -> None:
    """Stage 5: what the whole run says about each finding: a target that never returned a
    distribution, a target that answers at random, the claims, the value model."""
    if t.kind == "rule" and t.valid_outputs == 0:
        for f in findings:
            if f.engine == "definition":
                f.verdict, f.scope = Verdict.UNKNOWN, None
                f.detail = (f"{f.order} is a total preorder, so CA holds for any rule that "
                            "returns distributions, but this target never returned one")
            elif f.verdict is Verdict.PROVED:   # a proof of code that never answered
                f.verdict, f.scope = Verdict.UNKNOWN, None
                f.detail = ("this target never returned a distribution here (every call "
                            "declined or failed), so a proof about its expression is no "
                            f"evidence about the code that runs ({f.engine}: {f.detail})")
    if t.nondeterministic is not None:
        _nondeterministic(t, findings)
    proving.definitions_need_a_function(t.nondeterministic is not None, findings)
    for f in findings:
        if f.claimed is None and f.property in CATALOGUE:
            f.claimed = _claimed(t, f.property, f.order)
        if f.property in VALUE_MODEL_PROPERTIES and "value model" not in (f.detail or ""):
            f.detail = f"{f.detail} [value model {model.name}]".strip()


def _nondeterministic(t: Target, findings) -> None:
    """A target seen answering differently for one input, at any stage (the last calls
    included): ``deterministic`` is REFUTED with that evidence, and every other sampled
    verdict means nothing (UNKNOWN: a REFUTED of a random target would come and go from run
    to run)."""
    for k, f in enumerate(findings):
        if f.key in DETERMINISM_KEYS:
            if f.verdict is not Verdict.REFUTED:
                findings[k] = determinism_finding(t, f.key)
                findings[k].claimed = f.claimed
        elif f.engine == "hypothesis" and \
                f.verdict in (Verdict.REFUTED, Verdict.NOT_REFUTED, Verdict.UNKNOWN):
            f.verdict, f.counterexample = Verdict.UNKNOWN, None
            f.detail = ("the target answers differently for the same input (see "
                        "'deterministic'): a sampled verdict about it means nothing")


def _confirm_reproductions(findings, timeout) -> None:
    """Stage 6: each printed reproduction runs in a fresh process, an independent, exact
    re-check; one that does not fail turns its REFUTED into UNKNOWN."""
    refuted = [f for f in findings if f.verdict is Verdict.REFUTED]
    reproduce.confirm(refuted, timeout)
    for f in refuted:
        if f.counterexample.get("repro_note") == reproduce.PASSED:
            f.verdict = Verdict.UNKNOWN
            f.detail = (f"a violation was found ({f.detail}) but its reproduction ran in a "
                        "fresh process without failing (a tolerance or rounding effect?)")
