"""Verdict table of a mechanism audit, and the bridge to the property suite and proofs.

:class:`Finding` has the property suite's shape (``properties.check`` contract:
property, order, verdict, engine, detail, counterexample), so the audit's own findings
and the suite's sit in one table. :func:`suite_findings` runs ``properties.check`` on
the audited rule and on its payment rule, and the rule-level proofs when the rule has a
backend-generic definition; an engine missing from this build is reported SKIPPED with
the reason, never silently dropped.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass

from mechanism import PaymentRule
from mechanism.verdicts import Verdict


@dataclass
class Finding:
    property: str
    order: str | None
    verdict: Verdict
    engine: str
    detail: str
    counterexample: dict | None = None

    def to_json(self) -> dict:
        return {"property": self.property, "order": self.order, "verdict": str(self.verdict),
                "engine": self.engine, "detail": self.detail,
                "counterexample": self.counterexample}


@dataclass
class MechanismReport:
    name: str
    findings: list

    @property
    def refuted(self) -> bool:
        return any(f.verdict is Verdict.REFUTED for f in self.findings)

    @property
    def exit_code(self) -> int:
        return 1 if self.refuted else 0

    def verdict(self, prop: str, engine: str | None = None) -> Verdict | None:
        """The worst verdict on ``prop`` (REFUTED first), optionally from one engine."""
        got = [f.verdict for f in self.findings if f.property == prop
               and (engine is None or f.engine.startswith(engine))]
        if not got:
            return None
        return Verdict.REFUTED if Verdict.REFUTED in got else got[0]

    def refuted_properties(self) -> set[str]:
        return {f.property for f in self.findings if f.verdict is Verdict.REFUTED}

    def table(self) -> str:
        rows = [("property", "order", "verdict", "engine", "detail / counterexample")]
        for f in self.findings:
            text = f.detail
            if f.counterexample is not None:
                text = json.dumps(f.counterexample, default=str)
            rows.append((f.property, f.order or "-", str(f.verdict), f.engine, text))
        w = [max(len(r[k]) for r in rows) for k in range(4)]
        return "\n".join("  ".join(r[k].ljust(w[k]) for k in range(4)) + "  " + r[4]
                         for r in rows)

    def summary(self) -> str:
        bad = sorted(self.refuted_properties())
        tail = f"REFUTED: {', '.join(bad)} (exit 1)" if bad else "nothing refuted (exit 0)"
        return f"audit of mechanism {self.name}\n{self.table()}\n{tail}"

    def to_json(self) -> dict:
        return {"mechanism": self.name, "refuted": self.refuted, "exit_code": self.exit_code,
                "findings": [_finding_json(f) for f in self.findings]}


def _finding_json(f) -> dict:
    if hasattr(f, "to_json"):
        return f.to_json()
    return {"property": f.property, "order": f.order, "verdict": str(f.verdict),
            "engine": f.engine, "detail": f.detail, "counterexample": f.counterexample}


def _skipped(prop: str, engine: str, why: str) -> Finding:
    return Finding(prop, None, Verdict.SKIPPED, engine, why, None)


def _suite_check():
    try:
        from properties import check  # the property suite (branch props)
    except ImportError:
        return None
    return check if callable(check) else None


def suite_findings(m, *, max_examples: int, seed: int, timeout: float) -> list:
    """Findings of ``properties.check`` (rule, then payment rule) and of the proofs."""
    out = []
    check = _suite_check()
    if check is None:
        out.append(_skipped("property_suite", "properties.check",
                            "the property suite (properties.check) is not in this build"))
    else:
        kw = {"max_examples": max_examples, "seed": seed, "timeout": timeout}
        out += _tagged(check(m.callable_rule, **kw).findings)
        if m.pay is not None:
            target = PaymentRule(f"{m.name}.payments", lambda rule, d, b: m.pay(d, b))
            params = inspect.signature(check).parameters
            if "rule" in params:
                out += _tagged(check(target, rule=m.rule, **kw).findings)
            else:
                out.append(_skipped("payment_suite", "properties.check",
                                    "properties.check cannot be told which rule a payment "
                                    "target is judged under; native payment checks above"))
    out += proof_findings(m.rule)
    return out


def _tagged(findings, prefix: str = "suite:") -> list:
    for f in findings:
        if not str(f.engine).startswith(prefix):
            f.engine = f"{prefix}{f.engine}"
    return list(findings)


def proof_findings(rule) -> list:
    """Rule-level proofs (``proofs.prove_rule``) for a rule with a generic definition."""
    if getattr(rule, "generic", None) is None:
        return [_skipped("rule_proofs", "proofs", "a numpy-only rule: proofs need "
                         "rule.generic(ops, dists, bids) (mechanism.Rule)")]
    try:
        from proofs import prove_rule
    except ImportError:
        return [_skipped("rule_proofs", "proofs", "no rule-level prover (proofs.prove_rule) "
                         "in this build")]
    return _tagged(list(prove_rule(rule)), "proofs:")
