"""What the demo's runs add up to: per-share bands, trend verdicts and the verification.

Every number of the report comes from here (docs/theory.md sections 1, 2, 4 and 6):

* :func:`share_table`: per rule and bid share, the seeds behind the point, each influence
  measure's mean and 95% bootstrap band per agent, brand-mention counts with Wilson
  intervals, and mean payments.
* :func:`trends`: per rule, measure and agent, Spearman's rho against the share with its
  bootstrap interval and a verdict; for agent 1 also whether the bands at shares 0.1 and
  0.9 separate, and from how many seeds on.
* :func:`validation_summary`: the run audit of every recorded run
  (:func:`properties.audit.replay.audit_run`) and the per-step checks of
  :mod:`properties.audit.step`, with what each rule is expected to show.
"""

from __future__ import annotations

import numpy as np

from tokenauction.demo.influence import MEASURES
from tokenauction.demo.stats import bootstrap_mean_ci, seeds_to_separate, separated, \
    trend_test, wilson

TOL_MARGINAL = 1e-9
TOL_REGRET = 1e-6
#: Fewest checked steps on which "pay-your-bid shows positive regret on some steps" is judged;
#: with fewer and none positive the verdict is :data:`INSUFFICIENT` (not FAILED).
MIN_CONTRAST_STEPS = 20
INSUFFICIENT = "INSUFFICIENT DATA"
EXTREMES = (0.1, 0.9)


def _runs(results, rule, share):
    return [r for r in results if r.rule == rule and abs(r.share - share) < 1e-9]


def measure_values(runs, name: str, agent: int) -> list[float]:
    return [r.measures[name][agent] for r in runs if r.measures.get(name) is not None]


def share_table(results, cfg) -> list[dict]:
    brands = [a["brand"] for a in cfg.agents]
    rows = []
    for rule in cfg.rules:
        for share in cfg.share_grid():
            runs = _runs(results, rule, share)
            row = {"rule": rule, "share": float(share), "seeds": len(runs),
                   "bids": [float(share * cfg.total_bid), float((1 - share) * cfg.total_bid)],
                   "example": runs[0].text if runs else ""}
            for name in MEASURES:
                row[name] = [bootstrap_mean_ci(measure_values(runs, name, i))
                             for i in range(len(brands))]
            for i, b in enumerate(brands):
                k = sum(r.mentions[b] for r in runs)
                row[f"mention_{b}"] = {"k": int(k), "n": len(runs),
                                       "rate": k / len(runs) if runs else float("nan"),
                                       "ci": wilson(int(k), len(runs))}
            row["payments"] = [bootstrap_mean_ci([r.payments[i] for r in runs])
                               for i in range(len(brands))]
            row["tokens"] = float(np.mean([len(r.tokens) for r in runs])) if runs else 0.0
            rows.append(row)
    return rows


def trends(results, cfg) -> list[dict]:
    out = []
    for rule in cfg.rules:
        runs = [r for r in results if r.rule == rule]
        for name, (_, _, direction) in MEASURES.items():
            for i, agent in enumerate(cfg.agents):
                pairs = [(r.share, r.measures[name][i]) for r in runs
                         if r.measures.get(name) is not None]
                t = trend_test([p[0] for p in pairs], [p[1] for p in pairs])
                expected = direction if i == 0 else -direction
                t.update(rule=rule, measure=name, agent=agent["name"],
                         expected="rises" if expected > 0 else "falls")
                lo_runs = sorted(_runs(results, rule, EXTREMES[0]), key=lambda r: r.seed)
                hi_runs = sorted(_runs(results, rule, EXTREMES[1]), key=lambda r: r.seed)
                a, b = measure_values(lo_runs, name, i), measure_values(hi_runs, name, i)
                t["separated"] = bool(a and b and separated(a, b))
                t["seeds_to_separate"] = seeds_to_separate(a, b) if a and b else None
                out.append(t)
    return out


def _audit_figures(audits: list[dict]) -> dict:
    """The run audits' tallies of one rule's runs, summed (steps, MON, identity, findings)."""
    def tally(name):
        return [a["checks"][name] for a in audits]
    mon, ident = tally("monotone_box"), tally("payment_identity")
    findings = [(a["run_dir"], d) for a in audits for d in a["divergences"]]
    first_ident = next((f"{run} step {d['step']}" for run, d in findings
                        if d["check"] == "payment_identity"), None)
    return {
        "steps": sum(a["steps_read"] for a in audits),
        "agent_steps": sum(t["checked"] for t in mon),
        "mon_violation_rate": sum(t["failed"] for t in mon) / max(sum(t["checked"] for t in mon), 1),
        "worst_mon_violation": max((t["max_error"] for t in mon), default=0.0),
        "identity_failed": sum(t["failed"] for t in ident),
        "identity_diff": max((t["max_error"] for t in ident), default=0.0),
        "identity_worst_at": first_ident,
        "audit_divergences": sum(a["n_divergences"] for a in audits),
        "audit_first": next((f"{run}: {d['check']} at step {d['step']} ({d['field']})"
                             for run, d in findings), None),
        "audit_errors": [f"{a['run_dir']}: {a['error']}" for a in audits if a["error"]],
    }


def validation_summary(results, rule: str, claims_box: bool) -> dict:
    runs = [r for r in results if r.rule == rule]
    checks = [c for r in runs for c in r.checks]
    val = [c["regret_valuation"] for c in checks if c["regret_valuation"] is not None]
    pyb = [c["regret_pay_your_bid"] for c in checks if c["regret_pay_your_bid"] is not None]
    s = {
        **_audit_figures([r.audit for r in runs]),
        "stable_marginal_error": max((c["stable_marginal_error"] for c in checks), default=0.0),
        "stable_switch_error": max((c["stable_switch_error"] for c in checks), default=0.0),
        "regret_valuation_max": max(val, default=None),
        "regret_valuation_steps": len(val),
        "regret_pay_your_bid_mean": float(np.mean(pyb)) if pyb else None,
        "regret_pay_your_bid_positive": float(np.mean([r > TOL_REGRET for r in pyb])) if pyb else None,
        "regret_pay_your_bid_steps": len(pyb),
        "claims_box_mon": claims_box,
    }
    problems = [f"the run audit could not read {e}" for e in s["audit_errors"]]
    if s["audit_divergences"]:
        problems.append(f"the run audit found {s['audit_divergences']} divergences (first: "
                        f"{s['audit_first']})")
    if claims_box and s["stable_marginal_error"] > TOL_MARGINAL:
        problems.append("stable sampler's law differs from Q(s)")
    if claims_box and s["stable_switch_error"] > TOL_MARGINAL:
        problems.append("switch probability differs from TV")
    if val and s["regret_valuation_max"] > TOL_REGRET:
        problems.append("truthful bidding has positive regret under the valuation payment")
    insufficient = []
    if pyb and not s["regret_pay_your_bid_positive"]:
        if len(pyb) >= MIN_CONTRAST_STEPS:
            problems.append("pay-your-bid never showed positive regret")
        else:  # an "on some steps" expectation needs steps to show on
            insufficient.append(f"pay-your-bid regret was checked on {len(pyb)} steps only "
                                f"(at least {MIN_CONTRAST_STEPS} are needed to expect a "
                                "positive one: raise --max-tokens, --seeds or --shares)")
    s["problems"], s["insufficient"] = problems, insufficient
    s["verdict"] = "FAILED" if problems else INSUFFICIENT if insufficient else "PASSED"
    return s


def validation_lines(rule: str, s: dict, regret_every: int) -> list[tuple[str, str, str]]:
    """(check, expected and why, found) in plain words, for the report and the terminal."""
    ok = lambda good: "as expected" if good else "NOT as expected"  # noqa: E731
    rate = s["mon_violation_rate"]
    if s["claims_box_mon"]:
        mon = ("none: the rule is proved monotone for the box order (docs/theory.md section 4)",
               f"{100 * rate:.1f}% of {s['agent_steps']} agent-steps violate it ({ok(rate == 0)})")
        law = ("equal to Q(s) up to rounding (1e-9): a stable sampler exists for every monotone "
               "rule (section 6)",
               f"largest difference {s['stable_marginal_error']:.1e} "
               f"({ok(s['stable_marginal_error'] <= TOL_MARGINAL)})")
    else:
        mon = ("some violations are allowed: this rule is not proved monotone for box (log-linear "
               "is monotone on 2 tokens but not on 3 or more, section 4)",
               f"{100 * rate:.1f}% of {s['agent_steps']} agent-steps violate it "
               "(allowed; reported, not required)")
        law = ("not required: where monotonicity fails no stable sampler can match Q(s) "
               "(section 6)", f"largest difference {s['stable_marginal_error']:.1e} (reported only)")
    ident_ok = s["identity_failed"] == 0
    ident = ("the charged second-price payment equals Myerson's identity b G(b) - int_0^b G, "
             "recomputed independently by quadrature (section 6), up to the two numerical "
             "methods' own error estimates (the run audit's check)",
             f"largest difference {s['identity_diff']:.1e} (bid units); "
             + ("within the error estimates of the two methods" if ident_ok else
                f"{s['identity_failed']} agent-steps exceed their error estimates, first at "
                f"{s['identity_worst_at']} (`tokenauction audit` that run to see it)")
             + f" ({ok(ident_ok)})")
    audit = ("no divergence: each run folder replays to the same tokens and payments, with "
             "payments within [0, bid] (for a built-in rule `tokenauction audit runs/NAME` "
             "reports the same; a rule loaded from a file is audited here, with the rule)",
             f"{s['audit_divergences']} divergences over {s['steps']} steps"
             + (f", first {s['audit_first']}" if s["audit_first"] else "")
             + "".join(f"; unreadable: {e}" for e in s["audit_errors"])
             + f" ({ok(not s['audit_divergences'] and not s['audit_errors'])})")
    v = s["regret_valuation_max"]
    val = ("about 0 (at most 1e-6): with the valuation-based payment, bidding one's true value "
           "is optimal (section 6); value t_i = bid, 8 misreports tried",
           "not defined on any checked step (disjoint top-p supports)" if v is None else
           f"largest regret {v:.1e} over {s['regret_valuation_steps']} checked steps "
           f"(every {regret_every}th step) ({ok(v <= TOL_REGRET)})")
    m = s["regret_pay_your_bid_mean"]
    judged = "too few steps to judge" if s.get("insufficient") else \
        ok(bool(s["regret_pay_your_bid_positive"]))
    pyb = ("above 0 on some steps: under pay-your-bid, shading the bid pays, so truthful bidding "
           "is not optimal (the contrast to the line above)",
           "not defined on any checked step" if m is None else
           f"mean regret {m:.3g} (bid units), positive on "
           f"{100 * s['regret_pay_your_bid_positive']:.0f}% of {s['regret_pay_your_bid_steps']} "
           f"checked steps ({judged})")
    return [("run audit of every recorded run (integrity, replay, payment bounds)", *audit),
            ("box monotonicity (MON) along each agent's bid path", *mon),
            ("stable sampler: exact law on a 9-bid grid vs Q(s)", *law),
            ("payment identity (second price)", *ident),
            ("regret of truthful bidding, valuation payment", *val),
            ("regret of truthful bidding, pay-your-bid payment", *pyb)]
