"""The token-by-token auction (theory §1): at each step every agent reports a
next-token distribution and a bid; the rule aggregates them, one token is sampled
and appended to the shared prefix, and each agent pays.

Reads top to bottom: ``run`` = loop(provider -> ``step`` -> record -> append -> stop?).
``step`` = aggregate, sample (from explicit uniforms derived from ``(seed, step)``),
pay. Same seed, same transcript (theory §9, item 10).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Sequence

import numpy as np

from . import payments as pay
from . import rules as R
from . import sampling as S
from .errors import InvalidInput
from .transcript import TranscriptWriter
from .validation import (as_bids, as_count, as_distribution, as_distributions, as_tokens,
                         as_uniforms)

SAMPLERS = ("auto", "inverse_cdf", "joint_linear", "exponential_race")
#: Uniforms drawn per step (enough for every sampler with up to ``n + 1`` racers).
EXTRA_UNIFORMS = 5


class Reports(NamedTuple):
    """What a provider returns for one step: ``dists`` (n, V), optional ``reference`` (V,)."""

    dists: np.ndarray
    reference: np.ndarray | None = None


@dataclass
class StepRecord:
    """One step of the auction, with everything needed to replay it."""

    step: int
    token: int
    bids: np.ndarray
    aggregate: np.ndarray
    payments: np.ndarray            #: charged: expected payments (default) or realized
    payment_errors: np.ndarray
    payment_method: str
    sampler: str
    uniforms: np.ndarray
    thresholds: np.ndarray | None = None  #: realized per-seed payments of a joint sampler
    detail: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"step": self.step, "token": self.token, "bids": self.bids.tolist(),
                "payments": self.payments.tolist(),
                "payment_errors": (self.payment_errors + 0.0).tolist(),  # never -0.0
                "payment_method": self.payment_method, "sampler": self.sampler,
                "uniforms": self.uniforms.tolist(),
                "thresholds": None if self.thresholds is None else self.thresholds.tolist()}


@dataclass
class Transcript:
    """A finished run: header, steps, and (unless streamed to disk) the reports."""

    header: dict
    steps: list[StepRecord]
    reports: list[Reports]
    tokens: list[int]
    stopped: str
    totals: np.ndarray | None = None  #: running sum of the charges (kept without steps)

    @property
    def total_payments(self) -> np.ndarray:
        """Sequence charge = sum of per-token charges (theory §1)."""
        if self.totals is None:
            return np.zeros(int(self.header["n"]))
        return self.totals


def step_uniforms(seed: int, step: int, n: int) -> np.ndarray:
    """The uniforms of step ``step``: a pure function of ``(seed, step)``; ``seed``, ``step``
    and ``n`` are integers ``>= 0`` (InvalidInput otherwise: seed 1.5 was truncated to 1)."""
    seed, step, n = as_count("seed", seed), as_count("step", step), as_count("n", n)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, step])))
    return rng.random(n + EXTRA_UNIFORMS)


#: The prefix a run's header gives a user's rule named like a built-in one.
USER_RULE = "user-rule:"


def recorded_rule_name(rule: R.Rule) -> str:
    """The rule's name as a run's header records it: a user's rule named like a built-in
    one (a file's ``linear`` squaring the bids) is ``user-rule:linear``, so that an audit
    never rebuilds the built-in in its place (it reported a false divergence)."""
    name = rule.name
    factory = R.RULES.get(name)
    if factory is not None and rule.generic is not factory().generic:
        return USER_RULE + name
    return name


class TokenAuction:
    """An aggregation rule, a payment rule and a sampler (theory §1, 2, 6).

    ``payment``: ``second_price`` (default), ``pay_your_bid``, ``valuation`` or
    ``race``; expected payments are charged by default (deterministic, auditable).
    ``charge="realized"`` charges the joint sampler's per-seed thresholds instead
    (only with ``joint_linear`` or ``exponential_race``).
    ``sampler``: ``auto`` picks ``joint_linear`` for a two-agent linear rule without an
    active reference (stable for both agents), else ``inverse_cdf`` (theory §6: for three or
    more parties no jointly stable sampler is known). ``joint_linear`` and
    ``exponential_race`` draw from the linear mixture of the reports, so they take the
    linear rule only (InvalidInput for another rule: its tokens would not follow q).
    """

    def __init__(self, rule="linear", payment: str = "second_price", sampler: str = "auto",
                 charge: str = "expected", reference_weight: float | None = None):
        self.rule = R.get_rule(rule) if isinstance(rule, str) else R.as_rule(rule)
        if reference_weight is not None:  # p_0 itself may come per step from the provider
            self.rule = self.rule.with_reference(self.rule.reference, reference_weight)
        if payment not in pay.PAYMENTS:
            raise InvalidInput(f"unknown payment {payment!r}; use one of {', '.join(pay.PAYMENTS)}",
                               value=payment)
        if sampler not in SAMPLERS:
            raise InvalidInput(f"unknown sampler {sampler!r}; choose one of {SAMPLERS}",
                               value=sampler)
        if charge not in ("expected", "realized"):
            raise InvalidInput(f"charge must be 'expected' or 'realized', not {charge!r}",
                               value=charge)
        if charge == "realized" and sampler not in ("joint_linear", "exponential_race"):
            raise InvalidInput("charge='realized' needs a joint sampler with thresholds: "
                               "sampler='joint_linear' or 'exponential_race'", value=sampler)
        if sampler in ("joint_linear", "exponential_race") and \
                (self.rule.generic is not R.linear or self.rule.epsilon):
            # their draws follow the linear mixture: under another rule (or smoothing) the
            # token's law is not q (a race under winner_take_all drew tokens of probability
            # 0, and its run audited clean)
            raise InvalidInput(f"sampler {sampler!r} draws from the linear mixture of the "
                               f"reports: it needs the linear rule without smoothing, not "
                               f"{self.rule.name!r}; use sampler='inverse_cdf' (or 'auto')",
                               value=sampler)
        self.payment, self.sampler, self.charge = payment, sampler, charge

    def header(self) -> dict:
        return {"rule": recorded_rule_name(self.rule), "reference_weight": self.rule.weight,
                "epsilon": self.rule.epsilon, "payment": self.payment, "sampler": self.sampler,
                "charge": self.charge}

    def _sampler_for(self, rule: R.Rule, n: int) -> str:
        if self.sampler != "auto":
            return self.sampler
        active_ref = rule.reference is not None and rule.weight > 0
        return "joint_linear" if (rule.generic is R.linear and n == 2 and not active_ref) \
            else "inverse_cdf"

    def step(self, dists, bids, uniforms, reference=None, step: int = 0) -> StepRecord:
        """Aggregate, sample (from the given uniforms) and pay, for one token."""
        P = as_distributions(dists)
        return self._step(P, as_bids(bids, P.shape[0]), uniforms, reference, step)

    def _step(self, P, b, uniforms, reference, step) -> StepRecord:
        """:meth:`step` on validated reports ``P`` and bids ``b``: each row is read once for
        the aggregate and once for all agents' payments."""
        n, V = P.shape
        rule = self.rule
        if reference is not None:
            rule = rule.with_reference(as_distribution(reference, vocab=V))
        elif rule.reference is not None and rule.reference.size != V:
            raise InvalidInput(f"reference has {rule.reference.size} tokens, agents report {V}",
                               value=rule.reference.size)
        u = as_uniforms(uniforms, n + EXTRA_UNIFORMS)
        q, reduced = R.evaluate_reduced(rule, P, b)
        kind = self._sampler_for(rule, n)
        thresholds = pair_tv = None
        if kind == "joint_linear":
            if rule.generic is not R.linear or (rule.reference is not None and rule.weight > 0):
                raise InvalidInput("sampler 'joint_linear' needs the linear rule with two agents "
                                   "and no active reference", value=rule.name)
            draw = S.joint_linear_two_agents(P, b, u)
            token, thresholds, detail = draw.token, draw.thresholds, draw.detail
            pair_tv = detail["tv"]  # the closed form's TV(p_1, p_2): two rows read once
        elif kind == "exponential_race":   # the linear rule only: checked when built
            draw = S.exponential_race(P, b, u, rule.reference, rule.weight)
            token, thresholds, detail = draw.token, draw.thresholds, draw.detail
        else:
            token, detail = S.inverse_cdf(q, float(u[0])), {}
        if self.charge == "realized":
            charged, errors, method = thresholds, np.zeros(n), f"realized_{kind}"
        else:
            res = pay.compute_payments(rule, P, b, self.payment, aggregate=q, pair_tv=pair_tv,
                                       reduced=reduced)
            charged, errors, method = res.values, res.errors, res.method
        return StepRecord(step, int(token), b, q, charged, errors, method, kind, u, thresholds,
                          detail)

    def run(self, provider: Callable[[list[int]], object], bids, *, seed: int,
            max_tokens: int, stop_tokens: Sequence[int] = (), prefix: Sequence[int] = (),
            record_to=None, keep_reports: bool = True, keep_steps: bool = True,
            on_step: Callable[[StepRecord], None] | None = None) -> Transcript:
        """Generate up to ``max_tokens`` tokens; stop early at a token in ``stop_tokens``.

        ``provider(prefix) -> Reports | (dists, reference) | dists``. ``bids`` is one bid
        per agent (fixed) or a callable ``bids(step, prefix)``. ``record_to`` streams the
        transcript to a run folder (:mod:`mechanism.transcript`). For long runs,
        ``keep_reports=False`` / ``keep_steps=False`` keep memory bounded (the totals are
        still accumulated).
        """
        seed, max_tokens = as_count("seed", seed), as_count("max_tokens", max_tokens)
        prefix, stop_tokens = as_tokens("prefix", prefix), as_tokens("stop_tokens", stop_tokens)
        tokens = list(prefix)
        generated: list[int] = []
        steps, reports = [], []
        totals = None
        writer = None
        header = None
        stopped = "length"
        try:
            for k in range(max_tokens):
                rep = _as_reports(provider(list(tokens)))
                P = as_distributions(rep.dists)
                b = as_bids(bids(k, list(tokens)) if callable(bids) else bids, P.shape[0])
                n, V = P.shape
                if header is not None:
                    _same_run(header, k, n, V, rep.reference is not None
                              or self.rule.reference is not None)
                if header is None:
                    as_tokens("prefix", prefix, V), as_tokens("stop_tokens", stop_tokens, V)
                    header = {**self.header(), "seed": int(seed), "n": n, "V": V,
                              "max_tokens": int(max_tokens),
                              "prefix": [int(t) for t in prefix],
                              "stop_tokens": [int(t) for t in stop_tokens],
                              "has_reference": (rep.reference is not None
                                                or self.rule.reference is not None)}
                    if not header["has_reference"]:  # lambda weighs no reference: one spelling
                        header["reference_weight"] = 0.0
                    if record_to is not None:
                        writer = TranscriptWriter(record_to, header)
                rec = self._step(P, b, step_uniforms(seed, k, n), rep.reference, k)
                if writer is not None:
                    ref = rep.reference if rep.reference is not None else self.rule.reference
                    rows = P if ref is None else np.vstack([P, ref])
                    writer.write_step(rec.to_json(), rows)
                totals = rec.payments.copy() if totals is None else totals + rec.payments
                if keep_steps:
                    steps.append(rec)
                if keep_reports:
                    reports.append(Reports(P, rep.reference))
                if on_step is not None:
                    on_step(rec)
                tokens.append(rec.token)
                generated.append(rec.token)
                if rec.token in stop_tokens:
                    stopped = "stop_token"
                    break
            if writer is not None:
                writer.finish(stopped)
        finally:
            if writer is not None:
                writer.close()
        return Transcript(header or {**self.header(), "seed": int(seed), "n": 0, "V": 0},
                          steps, reports, generated, stopped, totals)


def _same_run(header, k, n, V, has_reference) -> None:
    """A run keeps its agents, its vocabulary and its reference: the header recorded at
    step 0 describes every step (a vocabulary grown mid-run wrote tokens its header did
    not allow, and the run's own audit refused the transcript)."""
    was = (header["n"], header["V"], header["has_reference"])
    if (n, V, has_reference) != was:
        raise InvalidInput(f"step {k}: the provider gave {n} agents over {V} tokens"
                           f"{' with' if has_reference else ' without'} a reference, but the "
                           f"run began with {was[0]} agents over {was[1]} tokens"
                           f"{' with' if was[2] else ' without'} one; a run keeps one set of "
                           "agents, one vocabulary and its reference", value=(n, V))


def _as_reports(out) -> Reports:
    if isinstance(out, Reports):
        return out
    if isinstance(out, tuple) and len(out) == 2:
        return Reports(out[0], out[1])
    return Reports(out, None)
