"""Verdict table of a mechanism audit, and the bridge to the property suite and proofs.

:class:`Finding` has the property suite's shape (``properties.check`` contract:
property, order, verdict, engine, detail, counterexample), so the audit's own findings
and the suite's sit in one table. :func:`suite_findings` runs ``properties.check`` on
the audited rule and on its payment rule, and the rule-level proofs when the rule has a
backend-generic definition; an engine missing from this build is reported SKIPPED with
the reason, never silently dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from mechanism.rules import Rule

from mechanism import PaymentRule, as_rule
from mechanism.tables import text_table
from mechanism.verdicts import Verdict, strongest

from properties.audit.paths import shown
from properties.protocol import UserObject
from properties.report import Finding, HasFindings

#: What the suite is asked about a third party's mechanism by default. The suite judges
#: ``payment_identity`` (and ``truthful`` / ``individually_rational``, asked only of an
#: object that claims them, since the audit's own checks cover them) under the same value
#: model as the audit's native checks.
RULE_PROPERTIES = ("normalized", "anonymous", "unanimous", "zero_bid_no_influence",
                   "scale_invariant", "continuous", "monotone", "consistent", "stable_sampling")
PAYMENT_PROPERTIES = ("payment_monotone", "payment_nonnegative", "payment_at_most_bid",
                      "zero_bid_pays_zero", "payment_identity")


@dataclass
class MechanismReport(HasFindings):
    name: str
    findings: list
    value_model: str | None = None   #: the value model of identity/truthful/IR

    def verdict(self, prop: str, engine: str | None = None) -> Verdict | None:
        """The strongest verdict on ``prop`` (:func:`mechanism.verdicts.strongest`),
        optionally from one engine."""
        got = [f.verdict for f in self.findings if f.property == prop
               and (engine is None or f.engine.startswith(engine))]
        if not got:
            return None
        return strongest(got)

    def refuted_properties(self) -> set[str]:
        return {f.property for f in self.findings if f.verdict is Verdict.REFUTED}

    def table(self) -> str:
        rows = [("property", "order", "verdict", "engine", "detail / counterexample")]
        for f in self.findings:
            text = f.detail
            if f.counterexample is not None:
                text = json.dumps(f.counterexample, default=str)
            rows.append((f.property, f.order or "-", str(f.verdict), f.engine, text))
        return text_table(rows)

    def summary(self) -> str:
        bad = sorted(self.refuted_properties())
        tail = f"REFUTED: {', '.join(bad)} (exit 1)" if bad else "nothing refuted (exit 0)"
        model = f" (value model {self.value_model})" if self.value_model else ""
        return f"audit of mechanism {shown(self.name)}{model}\n{self.table()}\n{tail}"

    def to_json(self) -> dict:
        return {"mechanism": self.name, "value_model": self.value_model,
                "refuted": self.refuted, "exit_code": self.exit_code,
                "findings": [_finding_json(f) for f in self.findings]}


def _finding_json(f: Finding) -> dict:
    return f.to_json()


def _skipped(prop: str, engine: str, why: str) -> Finding:
    return Finding(prop, None, Verdict.SKIPPED, engine, why, None)


def _suite_check():
    try:
        from properties import check  # the property suite (branch props)
    except ImportError:
        return None
    return check if callable(check) else None


def _wanted(props, claims) -> list[str]:
    """What to ask the suite: everything but what the object declares false."""
    return [p for p in props if claims.get(p, True) is not False]


def _declared_false(props, claims) -> list:
    return [_skipped(p, "suite", f"the object declares that it does not hold "
                     f"(claims[{p!r}] is False)") for p in props if claims.get(p) is False]


def suite_findings(m, *, max_examples: int, seed: int, timeout: float,
                   orders=("box",), budget_s: float | None = None, valuation=None,
                   reports: str | None = None) -> list:
    """Findings of ``properties.check`` on the rule, then on the payment rule judged under
    that rule, then the rule-level proofs' status."""
    out = []
    check = _suite_check()
    if check is None:
        out.append(_skipped("property_suite", "properties.check",
                            "the property suite (properties.check) is not in this build"))
        return out + proof_findings(m.rule, ran=False)
    if m.worker_ended:
        return out + [_skipped("property_suite", "properties.check", _ENDED)]
    claims = m.claims
    rule = m.callable_rule
    if not isinstance(rule, Rule):  # the aggregate as check judges it; a caged aggregate
        rule = as_rule(rule, name=f"{m.name}.aggregate")  # keeps its worker: a bid grid
        rule.claims = claims                              # crosses as one request
    judged = UserObject("rule", rule, rule.name, claims,
                        cage=None if m.user.context else m.user.cage)
    kw = {"orders": orders, "max_examples": max_examples, "seed": seed, "timeout": timeout,
          "budget_s": budget_s}
    out += _tagged(check(judged, properties=_wanted(RULE_PROPERTIES, claims), **kw).findings)
    out += _declared_false(RULE_PROPERTIES, claims)
    if m.has_payments and m.worker_ended:
        out.append(_skipped("payment_suite", "properties.check", _ENDED))
    elif m.has_payments:
        target = PaymentRule(f"{m.name}.payments", lambda _rule, d, b: m.payments(d, b),
                             claims=claims)
        props = PAYMENT_PROPERTIES + tuple(p for p in ("truthful", "individually_rational")
                                           if claims.get(p) is True)
        out += _tagged(check(target, properties=_wanted(props, claims), rule=judged,
                             valuation=valuation, reports=reports, **kw).findings)
        out += _declared_false(props, claims)
    return out + proof_findings(rule, ran=True)


_ENDED = ("not run: the object's code ended or hung its worker earlier (a dead worker "
          "answers nothing, so no property can be judged on it)")


def _tagged(findings, prefix: str = "suite:") -> list:
    for f in findings:
        if not str(f.engine).startswith(prefix) and f.engine != "proofs":
            f.engine = f"{prefix}{f.engine}"
    return list(findings)


def proof_findings(rule, *, ran: bool) -> list:
    """Status of the rule-level proofs (``proofs.bounded.rule_level.prove_rule_property``, which
    ``properties.check`` runs on a rule with a generic definition)."""
    if rule.generic is None:
        return [_skipped("rule_proofs", "proofs", "a numpy-only rule: proofs need a "
                         "backend-generic definition generic(ops, dists, bids) (mechanism.Rule)")]
    try:
        from proofs.bounded.rule_level import prove_rule_property  # noqa: F401
    except (ImportError, AttributeError):
        return [_skipped("rule_proofs", "proofs", "no rule-level prover "
                         "(proofs.bounded.rule_level.prove_rule_property) in this build")]
    if ran:
        return []  # properties.check ran it: its findings carry engine "proofs"/"z3"/"sympy"
    return [_skipped("rule_proofs", "proofs", "run through properties.check, absent here")]
