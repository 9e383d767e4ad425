"""The proofs engine as ``check`` uses it: rule-level proofs with their scope as data.

Contract: ``proofs.bounded.rule_level.prove_rule_property(rule, property, order, max_agents=,
max_tokens=, timeout_s=)`` -> :class:`proofs.registry.ProofResult`. Every PROVED finding
carries a :class:`mechanism.verdicts.Scope` (the prover's ``ProofResult.scope``, else a
bounded default built from the limits passed here, never wider) and its assumptions
(docs/theory.md, "Scope of a verdict"). A solver counterexample is re-run on the numpy
reference before it is believed.
"""

from __future__ import annotations

import re
import time

import numpy as np

from mechanism.orders import PARTIAL_ORDERS
from mechanism.verdicts import EVERY, Scope, Verdict

from properties.checker.groups import cex as make_cex
from properties.checker.sandbox import RuleFailure, Undefined
from properties.report import Finding

PROOF_TIMEOUT_S = 5.0
#: Total time given to the proofs engine in one check (then sampling only).
PROOF_BUDGET_S = 20.0
MAX_AGENTS, MAX_TOKENS = 3, 4


def default_scope(res) -> Scope:
    """The scope of a PROVED that came without one: the limits it was run with, and the
    assumptions its detail names (``ASSUMING ...``)."""
    assumed = ()
    m = re.search(r"ASSUMING (.*?)(?: \(|$)", res.detail or "")
    if m:
        assumed = tuple(dict.fromkeys(a.strip() for a in m.group(1).split(",") if a.strip()))
    bids = "real bids > 0 only (the prover assumed positivity)" if assumed else "real bids >= 0"
    return Scope(max_agents=MAX_AGENTS, max_tokens=MAX_TOKENS, bids=bids,
                 arithmetic="exact reals", assumptions=assumed)


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


def prove(t, key, finalize, path_group) -> Finding | None:
    """The proofs engine on (property, order), when it applies (a backend-generic Rule)."""
    from mechanism.rules import Rule
    if not isinstance(t.obj, Rule) or t.obj.generic is None:
        return None
    try:
        from proofs.bounded.rule_level import prove_rule_property
    except (ImportError, AttributeError):
        return None
    t0 = time.perf_counter()
    try:
        res = prove_rule_property(t.obj, key[0], key[1], max_agents=MAX_AGENTS,
                                  max_tokens=MAX_TOKENS, timeout_s=PROOF_TIMEOUT_S)
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
    scope = None
    if verdict is Verdict.PROVED:
        scope = res.scope if getattr(res, "scope", None) is not None else default_scope(res)
    return Finding(key[0], key[1], verdict, res.engine, detail, seconds=secs, scope=scope)
