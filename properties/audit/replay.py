"""Audit a recorded auction: replay every step and verify it.

``audit_run(run_dir)`` streams a run folder written by
``TokenAuction.run(..., record_to=run_dir)`` (format ``tokenauction-transcript/1``,
see :mod:`mechanism.transcript`) and, for each step, in this order:

1. integrity -- hash chain, step numbers, the side-file block's SHA-256 and offset
   (:mod:`properties.audit.stream`); catches edited, dropped, duplicated and
   reordered lines and edited distributions;
2. inputs -- the recorded distributions and bids are valid (finite, shapes, one
   vocabulary), with the same errors the mechanism raises (:mod:`mechanism.validation`);
3. replay -- the uniforms must equal ``step_uniforms(seed, step, n)``; then
   ``TokenAuction.step``, rebuilt from the header (rule, reference_weight, epsilon,
   payment, sampler, charge), recomputes aggregate, token and payments from the
   recorded distributions and bids and the DERIVED uniforms, and each is compared
   with the record (a tamperer who recomputes the hash chain is still caught here);
4. properties (``check_properties=True``) on the recorded distributions -- box
   monotonicity of the rule on a bid grid per agent (a violation rate; a failure only
   if the rule claims box monotonicity, as linear and winner-take-all do),
   ``0 <= z <= b``, and the payment identity: the charged expected payment against
   Myerson's identity by quadrature (:mod:`properties.checks`).

The report keeps the first divergence (step, line, agent, field, expected, recorded)
and a summary table; its ``exit_code`` is 0 clean, 1 divergence or violation, 2
unreadable input. A line that cannot be read ends the audit with an error naming it,
after every step before it has been audited. Nothing in the run folder is written.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from mechanism import TokenAuction, get_rule, step_uniforms
from mechanism.bids import total_weight
from mechanism.auction import USER_RULE
from mechanism.errors import InvalidInput, InvalidRule
from mechanism.transcript import JSONL
from mechanism.validation import as_bids, as_distribution, as_distributions

from properties import checks as C
from properties.audit import chunked, signing
from properties.audit.tally import AuditReport, Divergence
from properties.audit.stream import VerifiedStep, read_run_header
from properties.config import number

#: Payments whose per-agent charge never exceeds the bid (theory §6); the valuation
#: payment may (it prices a loss, not a bid).
AT_MOST_BID = ("second_price", "pay_your_bid", "race")
IDENTITY = ("second_price", "race", "valuation")
REPLAY_CHECKS = ("uniforms", "replay_token", "replay_payments")


def auction_from_header(header: dict) -> TokenAuction:
    """The mechanism a run was recorded with, rebuilt from its header; a header it cannot
    be rebuilt from is InvalidInput naming the header's line and field."""
    eps = float(header.get("epsilon") or 0.0)
    where = f"{JSONL}:1 (the header)"
    if str(header.get("rule", "")).startswith(USER_RULE):
        raise InvalidInput(f"{where}: field rule: the run was recorded with a rule that is "
                           f"not built in ({header.get('rule')!r}); the command line rebuilds "
                           "built-in rules only: audit it from Python with audit_run(folder, "
                           "auction=TokenAuction(your_rule, ...))", value=header.get("rule"))
    try:
        rule = get_rule(header["rule"], **({"epsilon": eps} if eps else {}))
    except TypeError as exc:
        raise InvalidInput(f"{where}: field epsilon: rule {header['rule']!r} takes no "
                           f"smoothing epsilon, but the header records epsilon={eps}",
                           value=eps) from exc
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: field rule: {exc}", value=header["rule"]) from None
    try:
        return TokenAuction(rule, payment=header["payment"], sampler=header["sampler"],
                            charge=header["charge"],
                            reference_weight=float(header.get("reference_weight") or 0.0))
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc}", value=getattr(exc, "value", None)) from None


def audit_run(run_dir, *, tol: float = 1e-9, identity_tol: float = 1e-6,
              check_properties: bool = True, expect_head: str | None = None,
              progress: Callable[[int, VerifiedStep], None] | None = None,
              vectorized: bool = True, key: tuple[str, str] | None = None,
              auction: TokenAuction | None = None) -> AuditReport:
    """Replay and verify a recorded run; see the module docstring.

    ``tol``: relative tolerance when comparing replayed payments (thresholds, stated
    errors) with recorded ones: ``|replayed - recorded| <= tol * max(|replayed|,
    |recorded|) + checks.round_allowance(V + n, W)`` (``W`` the step's total weight),
    never absolute (replay on the same numpy is bit-exact; the slack absorbs another BLAS), so it
    means the same at bids of 1e-300 and 1e300.
    ``identity_tol``: tolerance of the payment identity, times ``b_i`` (plus the
    quadrature's error bounds).
    ``expect_head``: the chain head (last line's hash) published when the run ended; a
    run rewritten with a recomputed chain no longer matches it.
    ``progress(steps_done, step)`` is called after every step.
    ``vectorized``: replay the linear/second-price configuration in chunks
    (:mod:`properties.audit.chunked`; same report); False: step by step, as before.
    ``key``: ``(alg, key file)`` (:mod:`properties.audit.signing`): the run's ``head.sig``
    must verify under it and sign the audited head (check ``signature``).
    ``auction``: the mechanism the run was recorded with, when the caller holds it (the
    demo: a user's rule loaded from a file is not in the registry); default: rebuilt from
    the header (:func:`auction_from_header`).
    """
    tol = number("tol", tol, positive=False)
    identity_tol = number("identity_tol", identity_tol, positive=False)
    report = AuditReport(str(run_dir))
    report.tolerances = (f"replayed payments within {tol:g} x max(|replayed|, |recorded|) + "
                         f"{C.ROUND_ULPS} ulps x (V + n) x total weight; identity within "
                         f"{identity_tol:g} x bid + quadrature error")
    t0 = time.perf_counter()
    try:
        header = read_run_header(run_dir)
        report.header = header
        auction = auction_from_header(header) if auction is None else \
            _recorded_with(auction, header)
    except InvalidInput as exc:
        report.error, report.error_line = str(exc), _line(exc)
        report.seconds = time.perf_counter() - t0
        return report
    claims = auction.rule.claims.get("monotone", ())
    report.tallies["monotone_box"].informational = "box" not in claims
    if not check_properties:
        for name in ("monotone_box", "payment_bounds", "payment_identity"):
            report.tallies[name].note = "not requested"
    try:
        chunks = None
        if vectorized and chunked.supported(header, auction, tol, identity_tol):
            chunks = chunked.ChunkAuditor(header, tol, identity_tol,
                                          chunked.payment_method(auction, header),
                                          check_properties)
        step = RunStep(auction, header, report, tol, identity_tol, check_properties)
        chunked.audit_stream(run_dir, header, report, step, chunks=chunks, progress=progress)
    except InvalidInput as exc:
        report.error, report.error_line = str(exc), _line(exc)
    if expect_head is not None and report.error is None:
        report.count("chain")
        if report.head_hash != expect_head:
            report.fail(Divergence("chain", None, None, "head", expect_head, report.head_hash,
                                   message="the run differs from the one whose head was "
                                           "published"))
    if key is not None and report.error is None:
        try:
            _check_signature(run_dir, key, report)
        except InvalidInput as exc:
            report.error = str(exc)
    report.seconds = time.perf_counter() - t0
    return report


def _recorded_with(auction: TokenAuction, header: dict) -> TokenAuction:
    """``auction`` if the header records its configuration, else a clear error."""
    for key, value in auction.header().items():
        if header.get(key) != value:
            raise InvalidInput(f"the run was recorded with {key}={header.get(key)!r}, the "
                               f"mechanism given to audit it has {key}={value!r}", value=value)
    return auction


def _check_signature(run_dir, key: tuple[str, str], report: AuditReport) -> None:
    alg, path = key
    head, why = signing.signed_head(run_dir, signing.load_key(path, alg))
    report.count("signature")
    if head is None:
        report.fail(Divergence("signature", None, None, signing.SIG_FILE, "a valid signature",
                               None, message=why))
    elif head != report.head_hash:
        report.fail(Divergence("signature", None, None, "head", head, report.head_hash,
                               message="the run differs from the one whose head was signed"))


def _line(exc) -> int | None:
    return exc.value if isinstance(exc.value, int) and not isinstance(exc.value, bool) else None


def _skip(report: AuditReport, names) -> None:
    for name in names:
        report.tallies[name].skipped += 1


def _inputs(item: VerifiedStep, header: dict, report: AuditReport):
    """Validated ``(P, ref, b)`` or None (after recording why)."""
    rec, n, V = item.record, int(header["n"]), int(header["V"])
    step, line = rec.get("step"), item.line
    report.count("inputs")
    try:
        b = as_bids(rec["bids"], n)
    except InvalidInput as exc:
        report.fail(Divergence("inputs", step, line, "bids", f"{n} finite bids >= 0",
                               rec["bids"], agent=exc.agent, message=str(exc)))
        return None
    if item.rows is None:
        return None
    try:
        P = as_distributions(item.rows[:n])
        ref = as_distribution(item.rows[n], vocab=V) if header.get("has_reference") else None
    except InvalidInput as exc:
        report.fail(Divergence("inputs", step, line, "reports", "distributions over V tokens",
                               exc.value, agent=exc.agent, message=str(exc)))
        return None
    return P, ref, b


class RunStep:
    """The run audit's step, the same for the serial and the chunked replay
    (:func:`properties.audit.chunked.audit_stream`): :meth:`audit` checks one step in full
    and writes its divergences; :meth:`passed` records the tallies of a clean step (one the
    chunk filter passed), exactly those :meth:`audit` records for it."""

    def __init__(self, auction, header, report, tol, identity_tol, check_properties):
        self.auction, self.header, self.report = auction, header, report
        self.tol, self.identity_tol, self.check_properties = tol, identity_tol, check_properties

    def audit(self, item: VerifiedStep) -> None:
        _audit_step(item, self.auction, self.header, self.report, self.tol, self.identity_tol,
                    self.check_properties)

    def passed(self, k: int = 1) -> None:
        """The tallies of ``k`` clean steps."""
        report = self.report
        report.count("inputs", k)
        report.count("uniforms", k)
        report.steps_replayed += k
        report.count("replay_token", k)
        report.count("replay_payments", k)
        if self.check_properties:
            report.count("monotone_box", k * int(self.header["n"]))
            report.count("payment_bounds", k)
            report.count("payment_identity", k)


def _audit_step(item, auction, header, report, tol, identity_tol, check_properties) -> None:
    rec, line = item.record, item.line
    step = rec["step"] if isinstance(rec.get("step"), int) else report.steps_read - 1
    n = int(header["n"])
    got = _inputs(item, header, report)
    if got is None:
        _skip(report, REPLAY_CHECKS + ("monotone_box", "payment_bounds", "payment_identity"))
        return
    P, ref, b = got
    u = step_uniforms(header["seed"], step, n)
    report.count("uniforms")
    ru = np.asarray(rec.get("uniforms"), dtype=np.float64).ravel() \
        if isinstance(rec.get("uniforms"), list) else np.array([])
    if ru.shape != u.shape or not np.array_equal(ru, u):
        k = _first_diff(u, ru)
        report.fail(Divergence("uniforms", step, line, f"uniforms[{k}]",
                               float(u[k]) if k < u.size else None,
                               float(ru[k]) if k < ru.size else None,
                               message="uniforms must be step_uniforms(seed, step, n)"))
    # Replay from the rows as stored, exactly what TokenAuction.step saw (validating them
    # again here would renormalize once more and could move the last bit).
    raw_ref = item.rows[n] if header.get("has_reference") else None
    if not _replay(auction, item.rows[:n], raw_ref, b, u, step, line, rec, report, tol):
        _skip(report, ("monotone_box", "payment_bounds", "payment_identity"))
        return
    if check_properties:
        with np.errstate(all="ignore"):
            _properties(auction, P, ref, b, step, line, rec, header, report, identity_tol)


def _stated_error(rec: dict, i: int) -> float:
    """The error bound the auction stated for payment i (``payment_errors``; the schema
    makes it a finite number >= 0, and the replay has recomputed it)."""
    return float(rec["payment_errors"][i])


def _first_diff(a: np.ndarray, b: np.ndarray) -> int:
    m = min(a.size, b.size)
    neq = np.flatnonzero(a[:m] != b[:m])
    return int(neq[0]) if neq.size else m


def _close(x, y, tol, allowance) -> bool:
    """Equal up to ``tol`` relative to the larger of the two, plus the round-off
    ``allowance`` (:func:`properties.checks.round_allowance`; no absolute floor)."""
    return abs(x - y) <= tol * max(abs(x), abs(y)) + allowance


def _replay(auction, P, ref, b, u, step, line, rec, report, tol) -> bool:
    """Recompute the step; False when the recorded inputs cannot be replayed."""
    try:
        with np.errstate(all="ignore"):
            mine = auction.step(P, b, u, reference=ref, step=step)
        if not (np.isfinite(mine.aggregate).all() and np.isfinite(mine.payments).all()):
            raise InvalidInput(f"replay gives a non-finite aggregate or payment at bids "
                               f"{b.tolist()}: values this large overflow float64", value=b.tolist())
    except (InvalidInput, InvalidRule, ArithmeticError, IndexError, ValueError) as exc:
        report.count("inputs")
        text = str(exc) if isinstance(exc, (InvalidInput, InvalidRule)) else \
            f"the mechanism failed on these inputs: {type(exc).__name__}: {exc}"
        report.fail(Divergence("inputs", step, line, "replay", "a defined step", text))
        _skip(report, ("replay_token", "replay_payments"))
        return False
    report.steps_replayed += 1
    report.count("replay_token")
    if rec.get("token") != mine.token:
        report.fail(Divergence("replay_token", step, line, "token", mine.token, rec.get("token")))
    report.count("replay_payments")
    for key, want in (("sampler", mine.sampler), ("payment_method", mine.payment_method)):
        if rec.get(key) != want:
            report.fail(Divergence("replay_payments", step, line, key, want, rec.get(key)))
            return True
    allowance = C.round_allowance(P.shape[1] + P.shape[0],
                                  float(total_weight(b, ref, auction.rule.weight)))
    for key, want in (("payments", mine.payments), ("thresholds", mine.thresholds),
                      ("payment_errors", mine.payment_errors)):
        have = rec.get(key)
        if want is None or have is None:
            if (want is None) != (have is None):
                report.fail(Divergence("replay_payments", step, line, key,
                                       None if want is None else want.tolist(), have))
                return True
            continue
        try:
            h = np.asarray(have, dtype=np.float64)
        except (TypeError, ValueError):
            h = np.array([np.nan])
        if h.shape != want.shape:
            report.fail(Divergence("replay_payments", step, line, key, want.tolist(), have,
                                   message=f"expected {want.size} values (one per agent)"))
            return True
        for i in range(want.size):
            err = abs(float(want[i]) - float(h[i])) if np.isfinite(h[i]) else np.inf
            report.tallies["replay_payments"].max_error = max(
                report.tallies["replay_payments"].max_error, err if np.isfinite(err) else 0.0)
            if not _close(float(want[i]), float(h[i]), tol, allowance) or \
                    not np.isfinite(h[i]):
                report.fail(Divergence("replay_payments", step, line, f"{key}[{i}]",
                                       float(want[i]), float(h[i]), agent=i))
                return True
    return True


def _properties(auction, P, ref, b, step, line, rec, header, report, identity_tol) -> None:
    rule = auction.rule if ref is None else auction.rule.with_reference(ref)
    rule_s, P_s, _, cols = C.on_support(rule, P, ref)
    n = P.shape[0]
    report.count("monotone_box", n)
    for i in range(n):
        try:
            cex = C.box_violation_on_grid(rule_s, P_s, b, i)
        except (InvalidInput, InvalidRule) as exc:
            cex = None
            report.warn(f"step {step}: monotonicity not checked for agent {i}: {exc}")
        if cex is not None:
            if cols is not None:
                cex["token"] = int(cols[cex["token"]])
            report.tallies["monotone_box"].max_error = max(
                report.tallies["monotone_box"].max_error, cex["excess"])
            report.fail(Divergence("monotone_box", step, line, f"Q(bid_to)[{cex['token']}]",
                                   f"between Q(bid_from) = {cex['q_from_token']:.6g} and p_i = "
                                   f"{cex['p_token']:.6g}", cex["q_to_token"], agent=i,
                                   message=f"raising the bid from {cex['bid_from']:.6g} to "
                                           f"{cex['bid_to']:.6g} moves the token away"))
    z = np.asarray(rec.get("payments"), dtype=np.float64)
    if z.shape != (n,):
        return  # already reported by the replay
    report.count("payment_bounds")
    realized = header["charge"] == "realized"
    cex = C.bound_violation(z, b, upper=realized or header["payment"] in AT_MOST_BID, floor=0.0)
    if cex is not None:
        report.fail(Divergence("payment_bounds", step, line, "payments", f"z {cex['bound']}",
                               cex["payment"], agent=cex["agent"], message=f"bid {cex['bid']}"))
    if realized or header["payment"] not in IDENTITY:
        report.tallies["payment_identity"].skipped += 1
        report.tallies["payment_identity"].note = (
            "realized charges: per-seed thresholds (identity holds in expectation only)"
            if realized else f"{header['payment']} is not defined by the identity")
        return
    report.count("payment_identity")
    for i in range(n):
        try:
            want, err = C.identity_payment(rule_s, P_s, b, i, header["payment"])
        except (InvalidInput, InvalidRule) as exc:
            report.warn(f"step {step}: payment identity not checked for agent {i}: {exc}")
            continue
        diff = abs(want - float(z[i]))
        t = report.tallies["payment_identity"]
        t.max_error = max(t.max_error, diff)
        stated = _stated_error(rec, i)  # the recorded payment's own quadrature error bound
        if diff > identity_tol * float(b[i]) + 10 * err + stated:
            report.fail(Divergence("payment_identity", step, line, f"payments[{i}]", want,
                                   float(z[i]), agent=i,
                                   message=f"Myerson identity by quadrature (error {err:.1e})"))
