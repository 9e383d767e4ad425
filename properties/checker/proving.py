"""The proofs engine as ``check`` uses it: rule-level proofs with their scope as data.

Contract: ``proofs.bounded.rule_level.prove_rule_property(rule, property, order, max_agents=,
max_tokens=, timeout_s=)`` -> :class:`proofs.registry.ProofResult`. Every PROVED finding
carries the prover's :class:`mechanism.verdicts.Scope` (``ProofResult.scope``) and its
assumptions (docs/theory.md, "Scope of a verdict"); a PROVED without one is UNKNOWN. A
solver counterexample is re-run on the numpy reference before it is believed.
"""

from __future__ import annotations

import time

import numpy as np

from mechanism.orders import PARTIAL_ORDERS
from mechanism.verdicts import EVERY, Scope, Verdict

from properties.checker.groups import cex as make_cex
from properties.sandbox import RuleFailure, Undefined
from properties.report import Finding

#: CPU seconds for one property's proof (a :class:`proofs.bounded.budget.Budget`: the
#: process's CPU time, so a loaded machine does not turn a PROVED into an UNKNOWN).
PROOF_TIMEOUT_S = 5.0
#: Total CPU seconds given to the proofs engine in one check (then sampling only).
PROOF_BUDGET_S = 20.0
MAX_AGENTS, MAX_TOKENS = 3, 4


def total_budget():
    """The proofs engine's budget for one check (:data:`PROOF_BUDGET_S`)."""
    from proofs.bounded.budget import Budget
    return Budget(PROOF_BUDGET_S)


def generic_target(fn):
    """A generic definition as the rule ``check`` judges: compiled
    (:func:`proofs.compile.generic_rule.compiled`: what runs is the code generated from its
    trees); without the proofs extra, or when it cannot be compiled exactly, the plain rule
    (sampled; the prover then says why it cannot be compiled)."""
    from mechanism.rules import Rule
    name = getattr(fn, "__name__", "generic")
    try:
        from proofs.compile.capture import DeclarationError
        from proofs.compile.generic_rule import compiled
    except ImportError:
        return Rule(name, fn)
    try:
        return compiled(fn, name=name)
    except DeclarationError:
        return Rule(name, fn)


def definition_scope(order: str) -> Scope:
    return Scope(EVERY, EVERY, bids="every bid", arithmetic="by definition",
                 assumptions=(f"{order} is a total preorder (theory §3)",))


def definitional(key) -> Finding | None:
    """CA under a total preorder holds by definition (any two outcomes are comparable)."""
    if key[0] == "consistent" and key[1] not in PARTIAL_ORDERS:
        return Finding(key[0], key[1], Verdict.PROVED, "definition",
                       f"{key[1]} is a total preorder: any two outcomes are comparable",
                       scope=definition_scope(key[1]))
    return None


def definitions_need_a_function(nondeterministic: bool, findings) -> None:
    """CA under a total preorder holds by definition for a function into distributions; a
    target seen answering at random, or returning what is not a distribution, is not one:
    its definitional PROVED becomes UNKNOWN (was PROVED beside ``normalized`` REFUTED)."""
    bad = {f.property for f in findings if f.verdict is Verdict.REFUTED
           and f.property in ("normalized", "deterministic")}
    if nondeterministic:
        bad.add("deterministic")
    if not bad:
        return
    for f in findings:
        if f.engine == "definition" and f.verdict is Verdict.PROVED:
            f.verdict, f.scope = Verdict.UNKNOWN, None
            f.detail = (f"{f.order} is a total preorder, so CA holds for any function that "
                        "returns distributions, but this target is not one (REFUTED: "
                        f"{', '.join(sorted(bad))})")


def missing_engine(key, exc: ImportError) -> Finding:
    """SKIPPED: the proofs engine needs a module this install lacks (``Finding.missing``
    names the extra; ``--strict`` counts it as a failure)."""
    name = (exc.name or "z3").split(".")[0]
    return Finding(key[0], key[1], Verdict.SKIPPED, "proofs",
                   f"the proofs engine needs {name}, which is not installed: "
                   "pip install 'tokenauction[proofs]'", missing="proofs")


def prove(t, key, finalize, path_group) -> Finding | None:
    """The proofs engine on (property, order), when it applies (a backend-generic Rule)."""
    from mechanism.rules import Rule
    refused = t.user.compile_error  # uncompilable in its cage, or tampering (protocol)
    if refused:
        return Finding(key[0], key[1], Verdict.UNKNOWN, "z3", "the rule gets no proof "
                       f"(it is sampled): {refused}")
    if not isinstance(t.obj, Rule) or t.obj.generic is None:
        return None
    t0 = time.perf_counter()
    try:
        from proofs.bounded.rule_level import prove_rule_property
        res = prove_rule_property(t.obj, key[0], key[1], max_agents=MAX_AGENTS,
                                  max_tokens=MAX_TOKENS, timeout_s=PROOF_TIMEOUT_S)
    except ModuleNotFoundError as exc:  # an extra this install lacks: say which
        return missing_engine(key, exc)
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
                         int(c0["agent"]), float(c0["bid_from"]), float(c0["bid_to"]),
                         order=key[1])
            f = finalize(c, lambda x: path_group.verify(key, x),
                         lambda x: path_group.repro(key, x), res.engine, key,
                         lambda x: path_group.describe(key, x))
        except (KeyError, TypeError, ValueError, RuleFailure, Undefined) as exc:
            f = Finding(key[0], key[1], Verdict.UNKNOWN, res.engine,
                        f"solver counterexample unusable: {exc}")
        if f.verdict is not Verdict.REFUTED:
            f.detail = f"{res.engine} reported a counterexample that the numpy reference " \
                       f"does not reproduce ({detail})"
        f.seconds = secs
        return f
    scope = res.scope if verdict is Verdict.PROVED else None
    if verdict is Verdict.PROVED and not isinstance(scope, Scope):
        # a PROVED must say what it covers, as data; never a scope guessed from its prose
        return Finding(key[0], key[1], Verdict.UNKNOWN, res.engine,
                       f"the prover returned PROVED without a scope ({detail})", seconds=secs)
    return Finding(key[0], key[1], verdict, res.engine, detail, seconds=secs, scope=scope)
