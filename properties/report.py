"""Findings and the report of ``check`` (STYLE.md, CrossHair: never a bare bool).

A :class:`Finding` is one verdict of one engine on one property (and order). Its
``counterexample`` (REFUTED only) is a dict with at least ``dists``, ``bids``,
``agent``, ``bid_from``, ``bid_to`` (None where not meaningful) plus extras
(``token``, ``q_from``, ``q_to``, ``repro``, ...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from mechanism.tables import text_table
from mechanism.verdicts import Verdict, strongest

CEX_KEYS = ("dists", "bids", "agent", "bid_from", "bid_to")


def _plain(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


@dataclass
class Finding:
    property: str
    order: str | None
    verdict: Verdict
    engine: str
    detail: str = ""
    counterexample: dict | None = None
    examples: int = 0            #: sampled examples / sweeps that were evaluated
    seconds: float = 0.0
    first_counterexample_s: float | None = None  #: time from start to the first violation
    claimed: bool | None = None  #: what the target declares (None: nothing); never trusted

    def to_json(self) -> dict:
        cex = None
        if self.counterexample is not None:
            cex = {k: _plain(self.counterexample.get(k)) for k in CEX_KEYS}
            cex.update({k: _plain(v) for k, v in self.counterexample.items() if k not in cex})
        from .catalogue import CATALOGUE
        spec = CATALOGUE[self.property].spec if self.property in CATALOGUE else None
        return {"property": self.property, "order": self.order, "verdict": str(self.verdict),
                "spec": spec,
                "engine": self.engine, "detail": self.detail, "counterexample": cex,
                "examples": self.examples, "seconds": round(self.seconds, 4),
                "claimed": self.claimed}


class HasFindings:
    """What every report of findings answers: refuted at all, and the exit code."""

    findings: list

    @property
    def refuted(self) -> bool:
        return any(f.verdict is Verdict.REFUTED for f in self.findings)

    @property
    def exit_code(self) -> int:
        return 1 if self.refuted else 0


@dataclass
class Report(HasFindings):
    target: str
    kind: str                      #: "rule" or "payment"
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    def find(self, property: str, order: str | None = None, engine: str | None = None):
        """Findings for ``property`` (and ``order``/``engine`` when given)."""
        return [f for f in self.findings if f.property == property
                and (order is None or f.order == order) and (engine is None or f.engine == engine)]

    def verdict(self, property: str, order: str | None = None) -> Verdict:
        """The strongest verdict over engines (:func:`mechanism.verdicts.strongest`:
        REFUTED > PROVED > NOT_REFUTED > UNKNOWN > SKIPPED)."""
        found = [f.verdict for f in self.find(property, order)]
        if not found:
            raise KeyError(f"no finding for {property!r} order {order!r}")
        return strongest(found)

    def refutations(self) -> list[Finding]:
        return [f for f in self.findings if f.verdict is Verdict.REFUTED]

    def to_json(self) -> dict:
        return {"target": self.target, "kind": self.kind, "refuted": self.refuted,
                "seconds": round(self.seconds, 3),
                "findings": [f.to_json() for f in self.findings]}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)

    def __str__(self) -> str:
        rows = [("property", "order", "verdict", "engine", "detail")]
        for f in self.findings:
            detail = f.detail if len(f.detail) <= 90 else f.detail[:87] + "..."
            rows.append((f.property, f.order or "-", str(f.verdict), f.engine, detail))
        lines = [f"tokenauction check {self.target} ({self.kind}, {self.seconds:.1f} s)",
                 text_table(rows, rule=True)]
        for f in self.refutations():
            cex = f.counterexample or {}
            lines.append("")
            lines.append(f"REFUTED {f.property}" + (f" ({f.order})" if f.order else "")
                         + (" -- the target claims it" if f.claimed else "") + f": {f.detail}")
            if cex.get("repro"):
                lines.append("  reproduce:")
                lines += ["    " + line for line in cex["repro"].splitlines()]
        lines.append("")
        lines.append("result: " + ("REFUTED (exit 1)" if self.refuted else "nothing refuted (exit 0)"))
        return "\n".join(lines)
