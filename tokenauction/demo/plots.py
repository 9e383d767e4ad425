"""The demo's figures (PNG, matplotlib, headless): influence measures, brand mentions and
payments against the bid share, one panel per rule, 95% bands, labels and units on every
axis, the seeds behind each point in the title. Returns the file names written ([] without
matplotlib)."""

from __future__ import annotations

from pathlib import Path

from tokenauction.demo.influence import MEASURES
from tokenauction.demo.sweep import rule_label

COLORS = ("tab:blue", "tab:orange", "tab:green")


def _panels(plt, cfg, rows, title):
    fig, axes = plt.subplots(1, len(cfg.rules), figsize=(5.2 * len(cfg.rules), 4.0),
                             sharey=True, squeeze=False)
    seeds = sorted({r["seeds"] for r in rows})
    fig.suptitle(f"{title}\n(mean over {'/'.join(map(str, seeds))} seeds per point; "
                 "shaded or bars: 95% interval)", fontsize=10)
    return fig, axes[0]


def _x(cfg, ax):
    ax.set_xlabel(f"bid share of {cfg.agents[0]['name']}, b1/(b1+b2)  (b1+b2 = "
                  f"{cfg.total_bid:g} per token)", fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_xlim(-0.02, 1.02)


def plots(rows, cfg, out_dir: Path) -> list[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=100)
        plt.close(fig)
        written.append(name)

    for name, (what, unit, _) in MEASURES.items():
        fig, axes = _panels(plt, cfg, rows, what)
        for ax, rule in zip(axes, cfg.rules):
            rs = [r for r in rows if r["rule"] == rule]
            x = [r["share"] for r in rs]
            for i, agent in enumerate(cfg.agents):
                mean, lo, hi = zip(*(r[name][i] for r in rs))
                ax.plot(x, mean, marker="o", ms=3, color=COLORS[i], label=agent["name"])
                ax.fill_between(x, lo, hi, color=COLORS[i], alpha=0.25)
            ax.set_title(rule_label(rule), fontsize=10)
            ax.set_ylabel(f"{name} ({unit})", fontsize=8)
            _x(cfg, ax)
            ax.legend(fontsize=8)
        save(fig, f"influence_{name}.png")

    fig, axes = _panels(plt, cfg, rows, "brand mentioned in the joint ad")
    for ax, rule in zip(axes, cfg.rules):
        rs = [r for r in rows if r["rule"] == rule]
        x = [r["share"] for r in rs]
        for i, agent in enumerate(cfg.agents):
            m = [r[f"mention_{agent['brand']}"] for r in rs]
            rate = [100 * v["rate"] for v in m]
            err = [[max(100 * (v["rate"] - v["ci"][0]), 0.0) for v in m],
                   [max(100 * (v["ci"][1] - v["rate"]), 0.0) for v in m]]
            ax.errorbar([s + 0.008 * (2 * i - 1) for s in x], rate, yerr=err, marker="o", ms=3,
                        capsize=2, color=COLORS[i], label=f"\"{agent['brand']}\" mentioned")
        ax.set_title(rule_label(rule), fontsize=10)
        ax.set_ylabel("runs mentioning the brand (%)", fontsize=8)
        ax.set_ylim(-3, 103)
        _x(cfg, ax)
        ax.legend(fontsize=8)
    save(fig, "mention_rates.png")

    fig, axes = _panels(plt, cfg, rows, "total second-price payment per ad")
    for ax, rule in zip(axes, cfg.rules):
        rs = [r for r in rows if r["rule"] == rule]
        x = [r["share"] for r in rs]
        for i, agent in enumerate(cfg.agents):
            mean, lo, hi = zip(*(r["payments"][i] for r in rs))
            ax.plot(x, mean, marker="o", ms=3, color=COLORS[i], label=f"{agent['name']} pays")
            ax.fill_between(x, lo, hi, color=COLORS[i], alpha=0.25)
        ax.set_title(rule_label(rule), fontsize=10)
        ax.set_ylabel("payment summed over the ad's tokens (bid units)", fontsize=8)
        _x(cfg, ax)
        ax.legend(fontsize=8)
    save(fig, "payments.png")
    return written
