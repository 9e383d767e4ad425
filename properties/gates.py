"""The CI gate over a report's findings: ``--strict``, thin evidence, ignored findings.

Without ``--strict`` only a REFUTED fails (exit 1). With it, a (property, order) also fails
when nothing decided it (UNKNOWN), when its sampled evidence is thin (fewer valid
evaluations than ``min_valid``, and no proof), or when an engine that would have judged it is
not installed (``Finding.missing``). A finding the configuration ignores
(``[tool.tokenauction] ignore``, always with a reason) never fails the gate; it is listed as
ignored with that reason. The gate's rows are :class:`mechanism.outputs.Case` objects, one per
(property, order), for the JUnit and SARIF files.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from mechanism.errors import InvalidInput
from mechanism.outputs import Case, add_output_arguments
from mechanism.tables import WIDTH
from mechanism.verdicts import Verdict, strongest

#: Fewest valid evaluations a sampled NOT_REFUTED needs under ``--strict``.
DEFAULT_MIN_VALID = 20


@dataclass(frozen=True)
class Ignore:
    """One ignored finding: ``property`` (and ``order``; None: every order), with its reason."""

    property: str
    order: str | None
    reason: str

    @classmethod
    def parse(cls, entry) -> "Ignore":
        if not isinstance(entry, dict) or not entry.get("property") or \
                not str(entry.get("reason", "")).strip():
            raise InvalidInput(f"an ignore entry needs a property and a reason, got {entry!r}; "
                               "write {property = \"monotone\", order = \"tv\", reason = "
                               "\"...\"}", value=entry)
        unknown = set(entry) - {"property", "order", "reason"}
        if unknown:
            raise InvalidInput(f"unknown key(s) {sorted(unknown)} in ignore entry {entry!r}; "
                               "known: property, order, reason", value=entry)
        return cls(str(entry["property"]), entry.get("order"), str(entry["reason"]).strip())

    def matches(self, prop: str, order: str | None) -> bool:
        return self.property == prop and (self.order is None or self.order == order)


@dataclass
class Gate:
    strict: bool = False
    min_valid: int = DEFAULT_MIN_VALID
    ignore: list = field(default_factory=list)   #: :class:`Ignore` entries

    def _why(self, verdict, group) -> tuple[str, str]:
        """(status, reason) of one (property, order) from its findings."""
        decided = [f for f in group if f.verdict is verdict]
        reason = "; ".join(dict.fromkeys(f.detail for f in decided if f.detail))
        if verdict is Verdict.REFUTED:
            return "failed", reason
        missing = [f for f in group if f.missing]
        if self.strict and missing:
            return "failed", f"--strict: an engine is not installed: {missing[0].detail}"
        if verdict is Verdict.PROVED:
            return "passed", reason
        if verdict is Verdict.NOT_REFUTED:
            valid = [f.valid for f in decided if f.valid is not None]
            if self.strict and valid and max(valid) < self.min_valid:
                return "failed", (f"--strict: thin evidence, {max(valid)} valid evaluations "
                                  f"< --min-valid {self.min_valid} ({reason})")
            return "passed", reason
        if verdict is Verdict.UNKNOWN and self.strict:
            return "failed", f"--strict: UNKNOWN, nothing decided it ({reason})"
        return "skipped", reason

    def cases(self, findings, location=None) -> list[Case]:
        """One case per (property, order), in the order the findings came."""
        return [case for case, _ in self.rows(findings, location)]

    def rows(self, findings, location=None) -> list[tuple[Case, bool]]:
        """(case, ignored by the configuration) per (property, order)."""
        groups: dict = {}
        for f in findings:
            groups.setdefault((f.property, f.order), []).append(f)
        out = []
        for (prop, order), group in groups.items():
            verdict = strongest(f.verdict for f in group)
            status, why = self._why(verdict, group)
            name = prop + (f":{order}" if order else "")
            ignore = next((i for i in self.ignore if i.matches(prop, order)), None)
            ignored = ignore is not None and status == "failed"
            if ignored:
                status, why = "skipped", f"ignored ({ignore.reason}); {why}"
            repro = next(((f.counterexample or {}).get("repro", "") for f in group
                          if f.verdict is Verdict.REFUTED), "")
            out.append((Case(name, status, f"{verdict}: {why}" if status != "passed" else why,
                             text=repro, rule_id=prop, location=location,
                             seconds=sum(f.seconds for f in group)), ignored))
        return out

    def failures(self, findings) -> list[Case]:
        return [c for c in self.cases(findings) if c.status == "failed"]

    def exit_code(self, report) -> int:
        """The report's own code (3 for an internal error stays), else 1 when a case fails."""
        if report.exit_code not in (0, 1):
            return report.exit_code
        return 1 if self.failures(report.findings) else 0

    def summary(self, report) -> str | None:
        """Where the gate changes the report's own result (else None): a line per failing or
        ignored (property, order) with the reason, then the result line."""
        bad = self.failures(report.findings)
        ignored = [c for c, was in self.rows(report.findings) if was]
        code = self.exit_code(report)
        if code == report.exit_code and not ignored:
            return None
        parts = []
        if bad:
            parts.append(f"{len(bad)} fail the gate ({_names(bad)})")
        if ignored:
            parts.append(f"{len(ignored)} ignored by the configuration ({_names(ignored)})")
        label = "strict gate" if self.strict else "gate"
        why = [textwrap.fill(f"{label}: {c.name}: {c.message}", WIDTH, subsequent_indent="    ")
               for c in bad + ignored]
        return "\n".join(why + [f"result: {label}: " + "; ".join(parts) + f" (exit {code})"])


def _names(cases, most: int = 2) -> str:
    names = [c.name for c in cases]
    return ", ".join(names[:most]) + (f", ... {len(names) - most} more" if len(names) > most
                                      else "")


def add_gate_arguments(p) -> None:
    """The CI flags ``check`` and ``audit`` share (``prove`` spells them the same way)."""
    p.add_argument("--strict", action="store_true", default=None,
                   help="UNKNOWN, thin evidence (< --min-valid valid evaluations) and a "
                        "missing engine fail the run (exit 1)")
    p.add_argument("--min-valid", type=int, default=None, metavar="N",
                   help=f"valid evaluations a sampled verdict needs under --strict "
                        f"(default {DEFAULT_MIN_VALID})")
    add_output_arguments(p, "property and order")
    p.add_argument("--config", metavar="PYPROJECT",
                   help="read [tool.tokenauction] from this file (default: the nearest "
                        "pyproject.toml above the working folder)")
    p.add_argument("--no-config", action="store_true", help="ignore [tool.tokenauction]")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def gate_from(args, table: dict) -> Gate:
    """The gate the flags and the configuration ask for (flags win)."""
    strict = args.strict if args.strict is not None else bool(table.get("strict", False))
    min_valid = args.min_valid if args.min_valid is not None else \
        int(table.get("min_valid", DEFAULT_MIN_VALID))
    if min_valid < 1:
        raise InvalidInput(f"--min-valid must be >= 1, got {min_valid}", value=min_valid)
    return Gate(strict, min_valid, [Ignore.parse(e) for e in table.get("ignore", [])])
