"""What an audit of a recorded run returns: divergences, per-check tallies, a table.

A :class:`Divergence` names the step, the line of ``transcript.jsonl``, the agent (if
any), the field, and the expected and recorded values. An :class:`AuditReport` keeps
the FIRST divergence in full, a bounded list of the next ones, and one
:class:`CheckTally` per check (how many items checked, how many failed), so its size
does not grow with the run. Exit codes: 0 clean, 1 divergence or
violation, 2 unreadable input.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from mechanism.tables import text_table
from mechanism.verdicts import ExitCode, Verdict

from properties.audit.paths import shown

#: Checks in the order they are reported, with what each one verifies.
CHECKS = {
    "chain": "hash chain: no line edited, dropped, duplicated or reordered",
    "side_file": "SHA-256 of each step's block in reports.bin; blocks contiguous",
    "sequence": "step numbers 0,1,2..; nothing after a stop token; end record",
    "inputs": "recorded distributions and bids are valid (finite, shapes, one vocabulary)",
    "uniforms": "uniforms = step_uniforms(seed, step, n)",
    "replay_token": "token re-sampled from the replayed aggregate",
    "replay_payments": "payments (and thresholds, method) recomputed by TokenAuction.step",
    "monotone_box": "box monotonicity of the rule on a bid grid, per agent",
    "payment_bounds": "0 <= z_i <= b_i for every agent",
    "payment_identity": "charged expected payment = Myerson identity (quadrature)",
    "signature": "head.sig: the chain head signed with the platform's key (a key given)",
}

#: Checks whose pass is exhaustive on the recorded steps (exact recomputation);
#: the others are numerical or sampled, so a pass is NOT_REFUTED, never PROVED.
EXACT_CHECKS = ("chain", "side_file", "sequence", "inputs", "uniforms", "replay_token",
                "replay_payments", "payment_bounds", "signature")

MAX_LISTED = 20


def _plain(x):
    """JSON-safe copy of a value (numpy scalars and arrays, inf and NaN as strings)."""
    if isinstance(x, (np.ndarray, np.generic)):
        x = x.tolist()
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    return x


@dataclass
class Divergence:
    """One disagreement between the record and what the audit recomputed."""

    check: str
    step: int | None
    line: int | None
    field: str
    expected: object
    recorded: object
    agent: int | None = None
    message: str = ""

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "run"
        if self.step is not None:
            where += f", step {self.step}"
        if self.agent is not None:
            where += f", agent {self.agent}"
        text = f"[{self.check}] {where}: {self.field}: expected {_short(self.expected)}, " \
               f"recorded {_short(self.recorded)}"
        return text + (f" ({self.message})" if self.message else "")

    def to_json(self) -> dict:
        return _plain(asdict(self))


def _short(x, limit: int = 120) -> str:
    text = json.dumps(_plain(x)) if not isinstance(x, str) else x
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class CheckTally:
    checked: int = 0
    failed: int = 0
    skipped: int = 0
    max_error: float = 0.0
    informational: bool = False  #: failures do not fail the audit (rule claims no such property)
    note: str = ""

    def verdict(self, name: str) -> Verdict:
        if self.failed:
            return Verdict.REFUTED
        if not self.checked:
            return Verdict.SKIPPED
        return Verdict.PROVED if name in EXACT_CHECKS else Verdict.NOT_REFUTED


@dataclass
class AuditReport:
    """The result of :func:`properties.audit.replay.audit_run`."""

    run_dir: str
    header: dict = field(default_factory=dict)
    steps_read: int = 0
    steps_replayed: int = 0
    head_hash: str | None = None
    first_divergence: Divergence | None = None
    divergences: list[Divergence] = field(default_factory=list)  #: first MAX_LISTED
    n_divergences: int = 0
    tallies: dict[str, CheckTally] = field(default_factory=lambda: {k: CheckTally() for k in CHECKS})
    error: str | None = None      #: why the input could not be read (exit 2), naming the line
    error_line: int | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    tolerances: str = ""          #: the comparisons' tolerances, as stated in the summary

    # -- recording ----------------------------------------------------------------
    def count(self, check: str, n: int = 1) -> None:
        self.tallies[check].checked += n

    def fail(self, div: Divergence) -> None:
        tally = self.tallies[div.check]
        tally.failed += 1
        if tally.informational:
            return
        self.n_divergences += 1
        if self.first_divergence is None:
            self.first_divergence = div
        if len(self.divergences) < MAX_LISTED:
            self.divergences.append(div)

    def warn(self, text: str) -> None:
        if text not in self.warnings and len(self.warnings) < MAX_LISTED:
            self.warnings.append(text)

    # -- results ------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        return self.error is None and self.n_divergences == 0

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return int(ExitCode.USAGE)
        return int(ExitCode.FAILED if self.n_divergences else ExitCode.OK)

    def violation_rate(self, check: str = "monotone_box") -> float:
        t = self.tallies[check]
        return t.failed / t.checked if t.checked else 0.0

    def table(self) -> str:
        rows = [("check", "verdict", "checked", "failed", "max err", "note")]
        for name, t in self.tallies.items():
            note = t.note or ""
            if t.informational and t.failed:
                note = (note + "; " if note else "") + "informational: the rule does not claim it"
            if name == "monotone_box" and t.checked:
                note = f"violation rate {self.violation_rate():.4g}" + (f"; {note}" if note else "")
            rows.append((name, str(t.verdict(name)), str(t.checked), str(t.failed),
                         f"{t.max_error:.2e}" if t.max_error else "-", note))
        return text_table(rows)

    def summary(self) -> str:
        h = self.header
        if not h and self.error is not None:
            return f"UNREADABLE: {shown(self.error)}\nUNREADABLE INPUT (exit 2)"
        out = [f"audit of {shown(self.run_dir)}: rule={h.get('rule')} payment={h.get('payment')} "
               f"sampler={h.get('sampler')} n={h.get('n')} V={h.get('V')}; "
               f"{self.steps_read} steps read, {self.steps_replayed} replayed "
               f"in {self.seconds:.1f}s", self.table()]
        if self.tolerances:
            out.append(f"tolerances: {self.tolerances}")
        if self.head_hash:
            out.append(f"chain head: {self.head_hash}")
        out += [f"warning: {shown(w)}" for w in self.warnings]
        if self.first_divergence is not None:
            out.append(f"FIRST DIVERGENCE: {shown(self.first_divergence)}")
            if self.n_divergences > 1:
                out.append(f"({self.n_divergences} divergences in all)")
        if self.error is not None:
            out.append(f"UNREADABLE: {shown(self.error)}")
        out.append({ExitCode.OK: "CLEAN", ExitCode.FAILED: "DIVERGED",
                    ExitCode.USAGE: "UNREADABLE INPUT"}[self.exit_code]
                   + f" (exit {self.exit_code:d})")
        return "\n".join(out)

    def to_json(self) -> dict:
        return {"run_dir": self.run_dir, "header": _plain(self.header), "ok": self.ok,
                "exit_code": self.exit_code, "steps_read": self.steps_read,
                "steps_replayed": self.steps_replayed, "head_hash": self.head_hash,
                "first_divergence": None if self.first_divergence is None
                else self.first_divergence.to_json(),
                "divergences": [d.to_json() for d in self.divergences],
                "n_divergences": self.n_divergences,
                "checks": {k: {**_plain(asdict(t)), "verdict": str(t.verdict(k))}
                           for k, t in self.tallies.items()},
                "monotone_violation_rate": self.violation_rate(),
                "error": self.error, "error_line": self.error_line,
                "warnings": list(self.warnings), "seconds": self.seconds,
                "tolerances": self.tolerances}


#: Per-run status in a batch audit, from the run's exit code (2: unreadable input, or
#: the audit itself failed on it -- its error says which).
STATUS = {ExitCode.OK: "clean", ExitCode.FAILED: "diverged", ExitCode.USAGE: "unreadable"}


def run_summary(report: AuditReport) -> dict:
    """What a batch keeps of one run's report: small, JSON-safe, enough to act on."""
    return {"run": report.run_dir, "status": STATUS[report.exit_code],
            "exit_code": report.exit_code, "steps": report.steps_read,
            "n_divergences": report.n_divergences,
            "first_divergence": None if report.first_divergence is None
            else report.first_divergence.to_json(),
            "first_divergence_text": None if report.first_divergence is None
            else str(report.first_divergence),
            "error": report.error, "head_hash": report.head_hash, "seconds": report.seconds}


@dataclass
class BatchReport:
    """The aggregated result of auditing many runs (:mod:`properties.audit.cluster`):
    one summary per run, in the order the runs were found, each exactly once."""

    source: str
    engine: str
    runs: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict:
        out = {s: 0 for s in STATUS.values()}
        for r in self.runs:
            out[r["status"]] += 1
        return out

    @property
    def steps(self) -> int:
        return sum(r["steps"] for r in self.runs)

    @property
    def cpu_seconds(self) -> float:
        """CPU time the audits used, summed over runs (over wall time: the cores used)."""
        return sum(r.get("cpu_seconds", 0.0) for r in self.runs)

    @property
    def exit_code(self) -> int:
        """The worst run's: 0 all clean, 1 some diverged, 2 some unreadable."""
        return int(max((r["exit_code"] for r in self.runs), default=ExitCode.OK))

    def to_json(self) -> dict:
        return {"source": self.source, "engine": self.engine, "exit_code": self.exit_code,
                "runs_total": len(self.runs), **{f"runs_{k}": v for k, v in self.counts().items()},
                "steps": self.steps, "seconds": self.seconds,
                "steps_per_second": self.steps / self.seconds if self.seconds else None,
                "cpu_seconds": self.cpu_seconds,
                "runs": [_plain(r) for r in self.runs]}

    def markdown(self) -> str:
        c = self.counts()
        rate = f"{self.steps / self.seconds:.0f} steps/s" if self.seconds else "-"
        out = [f"# Audit of {len(self.runs)} runs ({shown(self.source)})", "",
               f"Engine: {self.engine}. {c['clean']} clean, {c['diverged']} diverged, "
               f"{c['unreadable']} unreadable; {self.steps} steps in {self.seconds:.1f}s "
               f"({rate}). Exit {self.exit_code:d}.", ""]
        bad = [r for r in self.runs if r["status"] != "clean"]
        if bad:
            out += ["| run | status | steps | first divergence or error |", "|---|---|---|---|"]
            for r in bad:
                why = r["error"] if r["status"] == "unreadable" else r["first_divergence_text"]
                run, why = (shown(x).replace("|", "\\|") for x in (r["run"], why))
                out.append(f"| {run} | {r['status'].upper()} | {r['steps']} | {why} |")
        else:
            out.append("Every run is clean.")
        return "\n".join(out)
