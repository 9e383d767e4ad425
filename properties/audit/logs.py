"""Audit a third party's auction log without replaying its mechanism
(``tokenauction audit --log FILE.jsonl``).

Schema: JSON lines. The first line is a header, every other line one step::

    {"format": "tokenauction-log", "version": 1,
     "mechanism": "free text",                 # shown in the report
     "payments": "expected" | "realized",      # expected per-step payments, or realized ones
     "rule": "linear",                         # optional: a built-in rule (mechanism.get_rule)
     "epsilon": 0.0,                           # optional: its smoothing (log_linear only)
     "sampler": "inverse_cdf",                 # optional: inverse_cdf | gumbel_max | race
     "value_model": "tv"}                      # optional: default for --valuation
    {"step": 0, "bids": [1.0, 2.0],
     "reports": [[0.8, 0.2], [0.1, 0.9]],      # the agents' reports, or instead
     "reports_digest": "sha256 hex",           #   a digest of them (consistency only)
     "outcome": [0.4, 0.6],                    # optional: the aggregate distribution q
     "token": 1,                               # optional: the realized token
     "payments": [0.1, 0.3],                   # one per agent
     "uniforms": [0.42]}                       # optional: the step's uniforms (sampler known)

The schema is strict (:mod:`properties.audit.log_schema`: exact types, one agent count,
no unknown field; exit 2 naming the file, line, field and value); a log with no step is
exit 2 ("nothing to audit"). The header's ``value_model`` is used unless ``--valuation``
names another (the report names the model used); an unknown one is refused (exit 2).

Checks (findings in the mechanism audit's table; each says what it could use):

* ``outcome_matches_rule`` (a rule named, reports and outcome logged): the outcome is the
  rule's aggregate of the logged reports and bids, to 1e-9 per token;

* ``payment_at_most_bid`` / ``payment_nonnegative``: ``0 <= z_i <= b_i`` on every step;
* ``individually_rational`` (expected payments, reports and outcome logged): with a rule,
  ``b_i (a(q) - a(Q(0))) - z_i >= 0`` exactly; without one, the necessary condition
  ``z_i <= b_i a(q)`` for value models with ``a >= 0`` (tv, win, inner);
* ``payment_identity`` (expected payments, reports and a built-in rule): Myerson's
  payment for the value model, by the oracle :mod:`properties.oracle`; SKIPPED otherwise;
* ``consistent_steps``: steps with equal reports (or digests) and bids have equal outcomes
  and expected payments (realized ones: also equal uniforms);
* ``sampler``: with a known sampler, uniforms and outcome, the logged token is the one
  the sampler draws from ``q`` with those uniforms (too few uniforms for the sampler
  draw no token: a violation).

Every tolerance is relative to the step's bids (a log is judged in the unit of its own
bids: pay-your-bid at bids of 1e-10 is refuted as at bids of 1). Every value model of
:mod:`mechanism.valuations` applies; ``win`` needs one-hot reports.
"""

from __future__ import annotations

import hashlib

import numpy as np

from mechanism import get_rule, inverse_cdf
from mechanism import valuations as VM
from mechanism.errors import Float64Range, InvalidInput
from mechanism.sampling import MULTI_UNIFORM_SAMPLERS
from mechanism.verdicts import Verdict

from properties import checks as C
from properties.audit.log_schema import read_log_lines
from properties.audit.suite import MechanismReport
from properties.report import Finding

PROPERTIES = ("outcome_matches_rule", "payment_nonnegative", "payment_at_most_bid",
              "individually_rational", "payment_identity", "consistent_steps", "sampler")
SAMPLERS = {"inverse_cdf": lambda q, u: inverse_cdf(q, float(u[0])), **MULTI_UNIFORM_SAMPLERS}
TOL = 1e-9


def digest(reports) -> str:
    """The digest a log may carry instead of reports: sha256 of the float64 bytes."""
    return hashlib.sha256(np.ascontiguousarray(reports, dtype=np.float64).tobytes()).hexdigest()


def read_log(path: str) -> tuple[dict, list[dict]]:
    """``(header, steps)``; InvalidInput (exit 2) naming the file, line, field and value for
    anything off-schema (:mod:`properties.audit.log_schema`), or a log with no step."""
    return read_log_lines(path, SAMPLERS)


class _Log:
    def __init__(self, model):
        self.model = model
        self.checked = {p: 0 for p in PROPERTIES}
        self.cex: dict[str, dict] = {}
        self.skip: dict[str, str] = {}

    def record(self, prop, out, where):
        self.checked[prop] += 1
        if out is not None and prop not in self.cex:
            self.cex[prop] = {**where, **out}

    def findings(self):
        out = []
        for p in PROPERTIES:
            order = self.model.name if p in ("individually_rational", "payment_identity") else None
            if p in self.cex:
                out.append(Finding(p, order, Verdict.REFUTED, "log", "counterexample",
                                   self.cex[p]))
            elif self.checked[p]:
                out.append(Finding(p, order, Verdict.NOT_REFUTED, "log",
                                   f"{self.checked[p]} checks"))
            else:
                out.append(Finding(p, order, Verdict.SKIPPED, "log",
                                   self.skip.get(p, "nothing in the log to check it on")))
        return out


def audit_log(path: str, *, valuation=None, tol: float = 1e-6) -> MechanismReport:
    """Audit an imported log (schema in the module docstring): a :class:`MechanismReport`."""
    header, steps = read_log(path)
    model = VM.get_value_model(valuation if valuation is not None
                               else header.get("value_model"))
    rule = _header_rule(header, path)
    if rule is not None:
        model = model.for_rule(rule)
    expected = header.get("payments", "expected") == "expected"
    L = _Log(model)
    if not expected:
        for p in ("individually_rational", "payment_identity"):
            L.skip[p] = "realized payments: the value model speaks of expected payments"
    if rule is None:
        L.skip["payment_identity"] = "the header names no built-in rule: Q(s) is unknown"
        L.skip["outcome_matches_rule"] = "the header names no built-in rule"
    sampler = SAMPLERS.get(header.get("sampler"))
    seen: dict = {}
    for st in steps:
        b = np.asarray(st["bids"], dtype=np.float64)
        z = np.asarray(st["payments"], dtype=np.float64)
        where = {"step": st.get("step"), "bids": b.tolist(), "payments": z.tolist()}
        bad = C.bound_violation(z, b, upper=False, floor=0.0)   # in the bids' own unit
        L.record("payment_nonnegative", bad, where)
        L.record("payment_at_most_bid", C.bound_violation(z, b, upper=True, floor=0.0), where)
        P = np.asarray(st["reports"], dtype=np.float64) if "reports" in st else None
        q = np.asarray(st["outcome"], dtype=np.float64) if "outcome" in st else None
        if rule is not None and P is not None and q is not None:
            try:
                L.record("outcome_matches_rule", _outcome_defect(rule, P, b, q), where)
            except Float64Range as exc:   # our float64 arithmetic, not the log, fails here
                L.skip.setdefault("outcome_matches_rule", f"not judged where {exc}")
        key = (st.get("reports_digest") or (digest(P) if P is not None else None),
               tuple(b.tolist()))
        if key[0] is not None:
            _consistency(L, seen, key, st, where, expected)
        if sampler is not None and q is not None and "uniforms" in st and "token" in st:
            try:
                tok = int(sampler(q, np.asarray(st["uniforms"], dtype=np.float64)))
            except InvalidInput as exc:   # too few uniforms for the sampler: the
                # logged token cannot have been drawn from them (a finding, not exit 2)
                L.record("sampler", {"token": st["token"], "sampler_error": str(exc)}, where)
            else:
                L.record("sampler", None if tok == int(st["token"]) else
                         {"token": st["token"], "sampler_draws": tok}, where)
        if not expected or P is None:
            continue
        try:
            model.check_reports(P)
        except InvalidInput as exc:
            L.skip.setdefault("individually_rational", str(exc))
            continue
        for i in range(len(b)):
            _ir(L, model, rule, P, b, q, z, i, where)
            if rule is not None and b[i] > 0:
                want, err = C.identity_payment(rule, P, b, i, model=model)
                L.record("payment_identity", {"agent": i, "identity": want, "error_bound": err}
                         if C.identity_mismatch(z[i], want, err, b[i], tol) else None, where)
    rep = MechanismReport(header.get("mechanism") or path, L.findings())
    rep.value_model = model.name
    return rep


def _header_rule(header, path):
    """The header's rule, or None when it names none. A ``rule`` that is not a built-in
    rule's name (the empty string too) and an ``epsilon`` given to a rule without smoothing
    are errors (exit 2; docs/audit.md, "Imported logs")."""
    if "rule" not in header:
        return None
    eps = header.get("epsilon") or 0.0
    try:
        return get_rule(header["rule"], **({"epsilon": eps} if eps else {}))
    except InvalidInput as exc:
        raise InvalidInput(f"--log {path}:1: {exc}", value=header["rule"]) from None
    except TypeError:
        raise InvalidInput(f"--log {path}:1: rule {header['rule']!r} takes no smoothing epsilon, "
                           f"but the header records epsilon={eps}", value=eps) from None


def _outcome_defect(rule, P, b, q):
    """None when the logged outcome is the named rule's aggregate (to 1e-9 per token)."""
    try:
        want = rule(P, b)
    except Float64Range:
        raise
    except InvalidInput as exc:
        return {"rule_undefined": str(exc)}
    if q.shape != want.shape:
        return {"outcome_tokens": int(q.size), "rule_tokens": int(want.size)}
    t = int(np.argmax(np.abs(want - q)))
    if abs(want[t] - q[t]) <= TOL:
        return None
    return {"token": t, "outcome": float(q[t]), "rule_aggregate": float(want[t])}


def _consistency(L, seen, key, st, where, expected):
    fields = ("outcome", "payments") if expected else ("outcome", "payments", "token")
    if not expected:
        key = key + (tuple(st.get("uniforms") or ()),)
        if "uniforms" not in st:
            return
    now = {f: st.get(f) for f in fields}
    if key not in seen:
        seen[key] = (now, st.get("step"))
        return
    first, step0 = seen[key]
    diff = [f for f in fields if first[f] is not None and now[f] is not None
            and not _close(first[f], now[f])]
    L.record("consistent_steps", {"same_as_step": step0, "differs_in": diff} if diff else None,
             where)


def _close(a, b) -> bool:
    """Equal to TOL per entry; values of different lengths differ (never broadcast)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=0, atol=TOL))


def _ir(L, model, rule, P, b, q, z, i, where):
    v = float(b[i])
    if v <= 0 or q is None:
        return
    if rule is not None:
        try:
            q0 = rule.evaluate(P, np.where(np.arange(len(b)) == i, 0.0, b))
        except InvalidInput:
            return
        a = model.values(P[i], np.stack([q, q0]), i)
        if not np.isfinite(a).all():
            return
        found = C.ir_violation(v * (a[0] - a[1]) - z[i], v, i, TOL, floor=0.0)
        L.record("individually_rational", None if found is None else {**found, "exact": True},
                 where)
        return
    if model.name not in ("tv", "win", "inner"):
        L.skip.setdefault("individually_rational", f"value model {model.name} may be negative: "
                          "without the rule only a >= 0 models give a bound")
        return
    bound = v * float(model.values(P[i], q[None, :], i)[0])
    L.record("individually_rational", None if z[i] <= bound + max(TOL * v, C.TINY) else
             {"agent": i, "payment": float(z[i]), "at_most": bound, "exact": False}, where)
