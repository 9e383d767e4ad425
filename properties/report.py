"""Findings and the report of ``check`` (never a bare bool).

A :class:`Finding` is one verdict of one engine on one property (and order). Its
``counterexample`` (REFUTED only) is a dict with at least ``dists``, ``bids``,
``agent``, ``bid_from``, ``bid_to`` (None where not meaningful) plus extras
(``token``, ``q_from``, ``q_to``, ``repro``, ``reproduced``, ...).

Evidence (docs/theory.md, "Scope of a verdict"): a sampled verdict records ``valid``, the
number of examples on which the target answered validly, and ``declined``, the number it
declined (raised ``InvalidInput``: no evidence either way, theory §8); a PROVED verdict
carries its ``scope`` (:class:`mechanism.verdicts.Scope`) and ``assumptions``. A PROVED
beside a REFUTED whose counterexample lies inside the proof's scope is an internal error
(:attr:`Report.conflicts`, exit code ``ExitCode.INTERNAL``).
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field

import numpy as np

from mechanism.tables import WIDTH, text_table
from mechanism.verdicts import Scope, Verdict, strongest
from mechanism.verdicts import ExitCode

CEX_KEYS = ("dists", "bids", "agent", "bid_from", "bid_to")


def plain(x):
    """A JSON-ready copy of a value: numpy arrays and scalars as Python lists and numbers."""
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    return x


@dataclass
class Finding:
    property: str
    order: str | None
    verdict: Verdict
    engine: str
    detail: str = ""
    counterexample: dict | None = None
    examples: int = 0            #: sampled examples / sweeps that were tried
    seconds: float = 0.0
    first_counterexample_s: float | None = None  #: time from start to the first violation
    claimed: bool | None = None  #: what the target declares (None: nothing); never trusted
    valid: int | None = None     #: examples on which the target answered validly (sampling)
    declined: int | None = None  #: examples the target declined (InvalidInput): no evidence
    scope: Scope | None = None   #: what a PROVED covers (None for other verdicts)
    missing: str | None = None   #: SKIPPED for want of an engine: the extra that brings it

    @property
    def assumptions(self) -> tuple:
        return tuple(self.scope.assumptions) if self.scope is not None else ()

    @property
    def key(self) -> tuple:
        return (self.property, self.order)

    def to_json(self) -> dict:
        cex = None
        if self.counterexample is not None:
            cex = {k: plain(self.counterexample.get(k)) for k in CEX_KEYS}
            cex.update({k: plain(v) for k, v in self.counterexample.items() if k not in cex})
        from .catalogue import CATALOGUE
        spec = CATALOGUE[self.property].spec if self.property in CATALOGUE else None
        return {"property": self.property, "order": self.order, "verdict": str(self.verdict),
                "spec": spec,
                "engine": self.engine, "detail": self.detail, "counterexample": cex,
                "examples": self.examples, "valid": self.valid, "declined": self.declined,
                "scope": None if self.scope is None else self.scope.to_json(),
                "assumptions": list(self.assumptions),
                "seconds": round(self.seconds, 4), "claimed": self.claimed,
                "missing_extra": self.missing}


def _fill(text: str) -> str:
    """A prose line of the report wrapped at :data:`mechanism.tables.WIDTH` columns (the
    printed reproductions are code and stay as they are)."""
    return textwrap.fill(text, WIDTH, subsequent_indent="    ", break_on_hyphens=False)


def _cex_size(c: dict | None) -> tuple[int, int] | None:
    try:
        D = np.asarray(c["dists"], dtype=float)
        return int(D.shape[0]), int(D.shape[1])
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def scope_conflicts(findings) -> list[str]:
    """PROVED beside REFUTED for the same (property, order), the counterexample inside the
    proof's scope: an internal error of the checker or the prover, in words."""
    out = []
    for p in findings:
        if p.verdict is not Verdict.PROVED or p.scope is None:
            continue
        for r in findings:
            if r.verdict is not Verdict.REFUTED or r.key != p.key:
                continue
            size = _cex_size(r.counterexample)
            if size is not None and p.scope.contains(*size):
                what = p.property + (f":{p.order}" if p.order else "")
                out.append(f"{what}: {p.engine} PROVED it for [{p.scope}] but {r.engine} "
                           f"REFUTED it with a counterexample of n={size[0]} agents, V={size[1]} "
                           "tokens inside that scope (a bug in the prover, the checker or the "
                           "target's determinism; please report it)")
    return out


class HasFindings:
    """What every report of findings answers: refuted at all, and the exit code."""

    findings: list

    @property
    def refuted(self) -> bool:
        return any(f.verdict is Verdict.REFUTED for f in self.findings)

    @property
    def conflicts(self) -> list[str]:
        return scope_conflicts(self.findings)

    @property
    def exit_code(self) -> int:
        if self.conflicts:
            return int(ExitCode.INTERNAL)
        return int(ExitCode.FAILED if self.refuted else ExitCode.OK)


@dataclass
class Report(HasFindings):
    target: str
    kind: str                      #: "rule" or "payment"
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)  #: seed, budget, judged under, versions

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
                "exit_code": self.exit_code, "internal_errors": self.conflicts,
                "seconds": round(self.seconds, 3), **plain(self.settings),
                "findings": [f.to_json() for f in self.findings]}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)

    def __str__(self) -> str:
        rows = [("property", "order", "verdict", "engine", "detail")]
        for f in self.findings:
            detail = f.detail
            rows.append((f.property, f.order or "-", str(f.verdict), f.engine, detail))
        head = f"tokenauction check {self.target} ({self.kind}, {self.seconds:.1f} s"
        if self.settings.get("judged_under"):
            head += f", judged under rule {self.settings['judged_under']}"
        if self.settings.get("reports"):
            head += f", reports drawn {self.settings['reports']} only"
        if "seed" in self.settings:
            run = [f.examples for f in self.findings if f.engine == "hypothesis" and f.examples]
            ran = (f"{min(run)}" if min(run) == max(run) else f"{min(run)}-{max(run)}") \
                if run else "0"
            head += (f", seed {self.settings['seed']}, examples run {ran} per property "
                     f"(asked {self.settings['max_examples']})")
        lines = [head + ")"]
        conflicts = self.conflicts
        for c in conflicts:
            lines.append(_fill(f"INTERNAL ERROR: {c}"))
        lines.append(text_table(rows, rule=True))
        proved = [f for f in self.findings if f.verdict is Verdict.PROVED and f.scope is not None]
        if proved:
            lines.append("")
            lines.append("scope of each PROVED (what the proof covers, nothing more):")
            for f in proved:
                what = f.property + (f":{f.order}" if f.order else "")
                lines.append(_fill(f"  {what} ({f.engine}): {f.scope}"))
        for f in self.refutations():
            cex = f.counterexample or {}
            lines.append("")
            lines.append(_fill(f"REFUTED {f.property}" + (f" ({f.order})" if f.order else "")
                               + (" -- the target claims it" if f.claimed else "")
                               + f": {f.detail}"))
            if cex.get("repro"):
                state = cex.get("reproduced")
                note = {True: "ran in a fresh process and failed as expected",
                        False: "NOT confirmed in a fresh process: "
                               + str(cex.get("repro_note", ""))}.get(state, "")
                lines.append("  reproduce:" + (f"  ({note})" if note else ""))
                lines += ["    " + line for line in cex["repro"].splitlines()]
        lines.append("")
        if conflicts:
            lines.append(f"result: INTERNAL ERROR, a PROVED contradicted inside its scope "
                         f"(exit {ExitCode.INTERNAL:d})")
        else:
            lines.append("result: " + (f"REFUTED (exit {ExitCode.FAILED:d})" if self.refuted
                                       else f"nothing refuted (exit {ExitCode.OK:d})"))
        return "\n".join(lines)
