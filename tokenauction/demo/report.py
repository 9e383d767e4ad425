"""Summaries, the Markdown/JSON report and the PNG plots of the demo.

Expectations checked (SPEC 4-6): for rules that claim box-MON (linear, winner-take-all)
the monotonicity violation rate is 0, the stable sampler's law equals ``Q(s)``; for every
rule the charged payment equals the identity and truthful bidding has ~0 regret under the
valuation-based payment; pay-your-bid shows positive regret. Log-linear's violation rate
is reported (expected above 0 on 3+ tokens), not required.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mechanism.rules import get_rule
from mechanism.tables import text_table

TOL_MARGINAL = 1e-9
TOL_IDENTITY = 1e-6  #: on the excess beyond both methods' error bounds (as the audit's identity_tol)
TOL_REGRET = 1e-6


def validation_summary(results, rule: str) -> dict:
    checks = [c for r in results if r.rule == rule for c in r.checks]
    agent_steps = sum(c["agents"] for c in checks)
    val = [c["regret_valuation"] for c in checks if c["regret_valuation"] is not None]
    pyb = [c["regret_pay_your_bid"] for c in checks if c["regret_pay_your_bid"] is not None]
    claims_box = "box" in get_rule(rule).claims.get("monotone", ())
    s = {
        "steps": len(checks),
        "agent_steps": agent_steps,
        "mon_violation_rate": sum(c["mon_violations"] for c in checks) / max(agent_steps, 1),
        "worst_mon_violation": max((c["worst_violation"] for c in checks), default=0.0),
        "stable_marginal_error": max((c["stable_marginal_error"] for c in checks), default=0.0),
        "stable_switch_error": max((c["stable_switch_error"] for c in checks), default=0.0),
        "identity_error": max((c["identity_error"] for c in checks), default=0.0),
        "identity_diff": max((c["identity_diff"] for c in checks), default=0.0),
        "regret_valuation_max": max(val, default=None),
        "regret_valuation_steps": len(val),
        "regret_pay_your_bid_mean": float(np.mean(pyb)) if pyb else None,
        "regret_pay_your_bid_positive": float(np.mean([r > TOL_REGRET for r in pyb])) if pyb else None,
        "claims_box_mon": claims_box,
    }
    problems = []
    if claims_box and s["mon_violation_rate"] > 0:
        problems.append("box-MON violated although the rule claims it")
    if claims_box and s["stable_marginal_error"] > TOL_MARGINAL:
        problems.append("stable sampler's law differs from Q(s)")
    if s["stable_switch_error"] > TOL_MARGINAL and claims_box:
        problems.append("switch probability differs from TV")
    if s["identity_error"] > TOL_IDENTITY:
        problems.append("charged payment differs from the payment identity")
    if val and s["regret_valuation_max"] > TOL_REGRET:
        problems.append("truthful bidding has positive regret under the valuation payment")
    if pyb and not s["regret_pay_your_bid_positive"]:
        problems.append("pay-your-bid never showed positive regret")
    s["problems"] = problems
    s["verdict"] = "PASSED" if not problems else "FAILED"
    return s


def share_table(results, cfg) -> list[dict]:
    rows = []
    brands = [a["brand"] for a in cfg.agents]
    for rule in cfg.rules:
        for share in cfg.share_grid():
            runs = [r for r in results if r.rule == rule and abs(r.share - share) < 1e-12]
            rows.append({
                "rule": rule, "share": float(share),
                **{f"mention_{b}": float(np.mean([r.mentions[b] for r in runs])) for b in brands},
                **{f"payment_{i}": float(np.mean([r.payments[i] for r in runs]))
                   for i in range(len(brands))},
                "example": runs[0].text if runs else "",
            })
    return rows


def print_tables(rows, summaries, cfg, out=print) -> None:
    brands = [a["brand"] for a in cfg.agents]
    table = [["rule", "share", *(b + "%" for b in brands), *("pay " + b for b in brands),
              "joint ad (seed 0)"]]
    for r in rows:
        table.append([r["rule"], f"{r['share']:.1f}",
                      *(f"{100 * r['mention_' + b]:.0f}%" for b in brands),
                      *(f"{r[f'payment_{i}']:.4f}" for i in range(len(brands))),
                      repr(r["example"][:70])])
    out("\n" + text_table(table, right=range(1, 1 + 2 * len(brands))))
    out("\nvalidation on the real next-token distributions (every generated step):")
    for rule, s in summaries.items():
        val = "n/a" if s["regret_valuation_max"] is None else f"{s['regret_valuation_max']:.1e}"
        pyb = "n/a" if s["regret_pay_your_bid_mean"] is None else \
            f"{s['regret_pay_your_bid_mean']:.3g} (positive in {100 * s['regret_pay_your_bid_positive']:.0f}%)"
        out(f"  {rule:<11} {s['verdict']:<7} steps {s['steps']}, box-MON violation rate "
            f"{s['mon_violation_rate']:.3f}, stable-law error {s['stable_marginal_error']:.1e}, "
            f"identity |diff| {s['identity_diff']:.1e} (beyond error bounds "
            f"{s['identity_error']:.1e}), regret valuation {val} "
            f"({s['regret_valuation_steps']} steps defined), pay-your-bid {pyb}")
        for p in s["problems"]:
            out(f"      problem: {p}")


def plots(rows, cfg, out_dir: Path) -> list[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    brands = [a["brand"] for a in cfg.agents]
    written = []
    for what, ylabel, fname in [("mention", "brand mention rate", "mention_rates.png"),
                                ("payment", "mean total payment", "payments.png")]:
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        for rule in cfg.rules:
            rs = [r for r in rows if r["rule"] == rule]
            x = [r["share"] for r in rs]
            for i, b in enumerate(brands):
                key = f"mention_{b}" if what == "mention" else f"payment_{i}"
                ax.plot(x, [r[key] for r in rs], marker="o",
                        linestyle="-" if rule == cfg.rules[0] else "--", label=f"{b} ({rule})")
        ax.set_xlabel(f"bid share of {cfg.agents[0]['name']}  b1/(b1+b2)")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out_dir / fname, dpi=110)
        plt.close(fig)
        written.append(fname)
    return written


def write_report(results, cfg, out_dir: Path, meta: dict) -> dict:
    rows = share_table(results, cfg)
    summaries = {rule: validation_summary(results, rule) for rule in cfg.rules}
    pngs = plots(rows, cfg, out_dir)
    data = {"meta": meta, "config": {k: v for k, v in cfg.__dict__.items()},
            "shares": rows, "validation": summaries,
            "runs": [{k: v for k, v in r.__dict__.items() if k != "checks"} for r in results]}
    (out_dir / "results.json").write_text(json.dumps(data, indent=1, default=float))
    brands = [a["brand"] for a in cfg.agents]
    md = [f"# Token auction demo: {cfg.agents[0]['name']} vs {cfg.agents[1]['name']}",
          "", f"Query: *{cfg.query}*. Model: {meta.get('model')}. Rules: {', '.join(cfg.rules)}; "
          f"{cfg.shares} bid shares; seeds {cfg.seeds}; up to {cfg.max_tokens} tokens; "
          f"temperature {cfg.temperature}, top-p {cfg.top_p}"
          + (f"; log-linear smoothed with epsilon = {cfg.log_linear_epsilon}"
             if "log_linear" in cfg.rules else "") + ".", "",
          "| rule | share | " + " | ".join(f"{b} mentioned" for b in brands) + " | "
          + " | ".join(f"{b} pays" for b in brands) + " | joint ad (seed 0) |",
          "|---|---|" + "---|" * (2 * len(brands) + 1)]
    for r in rows:
        md.append(f"| {r['rule']} | {r['share']:.1f} | "
                  + " | ".join(f"{100 * r['mention_' + b]:.0f}%" for b in brands) + " | "
                  + " | ".join(f"{r[f'payment_{i}']:.4f}" for i in range(len(brands)))
                  + f" | {r['example'].replace('|', '/').replace(chr(10), ' ')} |")
    md += ["", "## Validation on the real next-token distributions", "",
           "| rule | verdict | steps | box-MON violation rate | stable-law error | "
           "identity: max diff (beyond error bounds) | max regret, valuation payment | "
           "mean regret, pay-your-bid |",
           "|---|---|---|---|---|---|---|---|"]
    for rule, s in summaries.items():
        md.append(f"| {rule} | {s['verdict']} | {s['steps']} | {s['mon_violation_rate']:.3f} | "
                  f"{s['stable_marginal_error']:.1e} | {s['identity_diff']:.1e} "
                  f"({s['identity_error']:.1e}) | "
                  f"{s['regret_valuation_max']} ({s['regret_valuation_steps']} steps) | "
                  f"{s['regret_pay_your_bid_mean']} |")
    md += ["", "Plots: " + ", ".join(f"![{p}]({p})" for p in pngs) if pngs else
           "Plots: matplotlib is not installed.", "",
           "Transcripts (replayable, `tokenauction audit runs/NAME`): `runs/`.", ""]
    (out_dir / "report.md").write_text("\n".join(md))
    return {"rows": rows, "summaries": summaries, "plots": pngs}
