"""The demo's report: report.md (read without help), results.json, the figures, and the
terminal summary. Numbers come from :mod:`tokenauction.demo.summary`, figures from
:mod:`tokenauction.demo.plots`."""

from __future__ import annotations

import json
from pathlib import Path

from tokenauction.demo.influence import MEASURES
from tokenauction.demo.plots import plots
from tokenauction.demo.sweep import make_rule, rule_label
from tokenauction.demo.summary import EXTREMES, share_table, trends, validation_lines, \
    validation_summary

SHOWS = {
    "weight": "Each point is the weight w that best writes the aggregate q as w p_Alpha + (1-w) "
              "p_Beta, averaged over a run's tokens and then over seeds. For the linear rule q is "
              "that mixture with w = the bid share (docs/theory.md section 2), so the line is the "
              "diagonal: the check that the recorded aggregates are what the rule says. For "
              "log-linear, q is a weighted geometric mean; its best linear fit shows how far it "
              "actually leans to each agent.",
    "tv": "Each point is the total variation distance between the aggregate q and one agent's "
          "own next-token distribution, averaged over the run's tokens. The agent whose bid "
          "share rises gets closer to the aggregate (its line falls), the other moves away: "
          "the bid steers the distribution the text is sampled from (section 2).",
    "loglik": "Each point is the mean log-likelihood per token of the finished joint ad under "
              "one agent's own model (its prompt, temperature 1, no top-p). Higher (closer to "
              "0) means the text reads more like what that agent alone would have written: the "
              "text-level effect of the bid.",
}


def _trend_row(t) -> str:
    got = t["verdict"]
    agree = "as expected" if got == t["expected"] else "not as expected" \
        if got in ("rises", "falls") else "no clear trend"
    sep = "yes" if t["separated"] else "no"
    k = t["seeds_to_separate"]
    return (f"| {rule_label(t['rule'])} | {t['measure']} | {t['agent']} | {t['rho']:+.2f} "
            f"[{t['low']:+.2f}, {t['high']:+.2f}] | {t['runs']} | {got} | {t['expected']} "
            f"({agree}) | {sep}" + (f", from {k} seeds" if k else "") + " |")


def print_tables(report, cfg, out=print) -> None:
    brands = [a["brand"] for a in cfg.agents]
    out(f"\n{'rule':<11}{'share':>6}{'seeds':>6}  " + "".join(f"{b + ' ment.':>12}" for b in brands)
        + "".join(f"{'pay ' + b:>11}" for b in brands) + "  joint ad (first seed)")
    for r in report["rows"]:
        out(f"{rule_label(r['rule']):<11}{r['share']:>6.1f}{r['seeds']:>6}  "
            + "".join(f"{r['mention_' + b]['k']:>7}/{r['mention_' + b]['n']:<4}" for b in brands)
            + "".join(f"{r['payments'][i][0]:>11.4f}" for i in range(len(brands)))
            + f"  {r['example'][:60]!r}")
    out("\ninfluence of the bid share (Spearman's rho [95% bootstrap interval] -> verdict):")
    for t in report["trends"]:
        if t["agent"] == cfg.agents[0]["name"]:
            out(f"  {rule_label(t['rule']):<11} {t['measure']:<7} {t['agent']}: rho {t['rho']:+.2f} "
                f"[{t['low']:+.2f}, {t['high']:+.2f}] over {t['runs']} runs -> {t['verdict']} "
                f"(expected {t['expected']}); bands at {EXTREMES[0]} and {EXTREMES[1]} "
                + ("separate" + (f" from {t['seeds_to_separate']} seeds on"
                                 if t["seeds_to_separate"] else "") if t["separated"]
                   else "overlap"))
    out("\nverification on the real next-token distributions (every generated step):")
    for rule, s in report["summaries"].items():
        out(f"  {rule_label(rule)}: {s['verdict']} ({s['steps']} steps)")
        for check, expected, found in validation_lines(rule, s, cfg.regret_every):
            out(f"    - {check}: expected {expected}.\n      found: {found}")


def write_report(results, cfg, out_dir: Path, meta: dict, figures: bool = True) -> dict:
    """Write results.json and report.md (and, with ``figures``, the PNG figures) to
    ``out_dir``; the report's tables, trends and verification summaries."""
    rows = share_table(results, cfg)
    trend = trends(results, cfg)
    summaries = {rule: validation_summary(results, rule,
                                          "box" in make_rule(cfg, rule).claims.get("monotone", ()))
                 for rule in cfg.rules}
    pngs = plots(rows, cfg, out_dir) if figures else []
    report = {"rows": rows, "trends": trend, "summaries": summaries, "plots": pngs}
    data = {"meta": meta, "config": dict(cfg.__dict__), "shares": rows, "trends": trend,
            "validation": summaries,
            "runs": [{k: v for k, v in r.__dict__.items() if k != "checks"} for r in results]}
    (out_dir / "results.json").write_text(json.dumps(data, indent=1, default=float))
    (out_dir / "report.md").write_text("\n".join(markdown(report, cfg, meta)))
    return report


def markdown(report, cfg, meta) -> list[str]:
    a1, a2 = (a["name"] for a in cfg.agents)
    rows, seeds = report["rows"], len(cfg.seeds)
    md = [f"# Token auction demo: {a1} vs {a2}", "",
          f"Two advertisers' agents write one ad together for the query *{cfg.query}*, token by "
          f"token (docs/theory.md section 1). At every token each agent reports its model's "
          f"next-token distribution, the rule aggregates them by the bids, a stable sampler "
          f"picks the token and each agent pays a second-price payment (section 6). The bids "
          f"are fixed per run: {a1} bids b1 = share x {cfg.total_bid:g} and {a2} bids "
          f"b2 = (1 - share) x {cfg.total_bid:g} at every token (total {cfg.total_bid:g} per "
          f"token), for {cfg.shares} shares from 0 to 1.", "",
          f"Model: {meta.get('model')}. Rules: {', '.join(map(rule_label, cfg.rules))}. Seeds "
          f"per point: {seeds}. Up to {cfg.max_tokens} tokens per ad; temperature "
          f"{cfg.temperature}, top-p {cfg.top_p}"
          + (f"; log-linear smoothed with epsilon = {cfg.log_linear_epsilon}"
             if "log_linear" in cfg.rules else "")
          + f". Profile {cfg.profile}, {cfg.batch} runs per batched forward; "
          f"{meta.get('runs')} runs in {meta.get('seconds')} s "
          f"(CPU time {meta.get('cpu_seconds')} s).", "",
          "## Does the bid share steer the text?", "",
          "Trend test per rule, measure and agent: Spearman's rank correlation rho between the "
          f"bid share of {a1} and the per-run measure, with a 95% bootstrap interval (runs "
          "resampled within each share). Verdict \"rises\" or \"falls\" when the interval "
          "excludes 0. \"Bands separate\": the 95% bootstrap intervals of the mean at shares "
          f"{EXTREMES[0]} and {EXTREMES[1]} do not overlap (and from how many seeds on).", "",
          "| rule | measure | agent | rho [95% CI] | runs | verdict | expected | bands at 0.1/0.9 separate |",
          "|---|---|---|---|---|---|---|---|"]
    md += [_trend_row(t) for t in report["trends"]]
    for name, (what, unit, _) in MEASURES.items():
        fname = f"influence_{name}.png"
        md += ["", f"### {what}", ""]
        if fname in report["plots"]:
            md.append(f"![{what}]({fname})")
        lines = [t for t in report["trends"] if t["measure"] == name and t["agent"] == a1]
        md += ["", f"*What this shows.* {SHOWS[name]} Unit: {unit}. Found for {a1}: "
               + "; ".join(f"{rule_label(t['rule'])} {t['verdict']} (rho {t['rho']:+.2f} "
                           f"[{t['low']:+.2f}, {t['high']:+.2f}])" for t in lines) + "."]
    md += ["", "## Brand mentions and payments", "",
           "![brand mentions](mention_rates.png)" if "mention_rates.png" in report["plots"]
           else "", "",
           "*What this shows.* The share of runs whose ad contains each brand name, with Wilson "
           "95% intervals. A 135M-parameter model often drops or garbles brand names, so this "
           "is the noisiest view; the influence measures above are the precise one.", "",
           "![payments](payments.png)" if "payments.png" in report["plots"] else "", "",
           "*What this shows.* What each agent pays for the whole ad, summed over its tokens "
           "(bid units; the two bids total " f"{cfg.total_bid:g} per token). An agent pays "
           "only for how much its bid changed the aggregate (second price, section 6): nothing "
           "when it bids 0 or when the other bids 0 (then nobody competes).", "",
           "| rule | share | bids b1 / b2 | seeds | "
           + " | ".join(f"{a['brand']} mentioned (runs)" for a in cfg.agents)
           + " | " + " | ".join(f"{a['brand']} pays" for a in cfg.agents)
           + " | mean tokens | joint ad (first seed) |",
           "|---|---|---|---|" + "---|" * (2 * len(cfg.agents) + 2)]
    for r in rows:
        ment = " | ".join(f"{r['mention_' + a['brand']]['k']}/{r['mention_' + a['brand']]['n']}"
                          for a in cfg.agents)
        pays = " | ".join(f"{r['payments'][i][0]:.4f}" for i in range(len(cfg.agents)))
        md.append(f"| {rule_label(r['rule'])} | {r['share']:.1f} | {r['bids'][0]:.2f} / "
                  f"{r['bids'][1]:.2f} | {r['seeds']} | {ment} | {pays} | {r['tokens']:.1f} | "
                  f"{r['example'].replace('|', '/').replace(chr(10), ' ')} |")
    md += ["", "## Verification on the real next-token distributions", "",
           "Every generated token's real distributions were checked against the theory: each "
           "recorded run by the run audit (properties/audit/replay.py, what `tokenauction "
           "audit` reports for it) and each step's stable sampler and regret "
           "(properties/audit/step.py). Each line says what was expected, why, and what was "
           "found.", ""]
    for rule, s in report["summaries"].items():
        md += [f"### {rule_label(rule)}: {s['verdict']} ({s['steps']} steps)", "",
               "| check | expected, and why | found |", "|---|---|---|"]
        md += [f"| {c} | {e} | {f} |" for c, e, f in validation_lines(rule, s, cfg.regret_every)]
        md.append("")
    md += [f"Same seeds, same transcripts: re-running the first batch of "
           f"{rule_label(cfg.rules[0])} gave "
           f"{'identical tokens and payments' if meta.get('replay_identical') else 'DIFFERENT results'}.",
           "", "Transcripts (replayable: `tokenauction audit runs/NAME`): `runs/`.", ""]
    return md
