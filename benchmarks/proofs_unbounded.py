"""Benchmark: time of every unbounded claim (docs/theory.md section 8), cold (each lemma
proved from scratch) and warm (lemmas cached in the process), next to the bounded claim
it supersedes at the default sizes, and the time of a user rule's verdict from
``prove_rule_property`` (family rule: PROVED for every n and V, or REFUTED).

    PYTHONPATH=. python benchmarks/proofs_unbounded.py [--quick]

Prints the CPU model; ratios are measured side by side in one run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from proofs.unbounded import chains as L  # noqa: E402
from proofs.claims import load_all  # noqa: E402
from proofs.unbounded.families import normalized  # noqa: E402
from proofs.registry import CLAIMS, Limits, run_claim  # noqa: E402
from proofs.bounded.rule_level import prove_rule_property  # noqa: E402

PAIRS = {"unbounded.linear.mon_box": "rule_linear_mon_box",
         "unbounded.wta.mon_box": "rule_wta_mon_box",
         "unbounded.theorem.box.grid_second_price_witness":
             "z3.theorem.box.grid_second_price_witness",
         "unbounded.theorem.box.converse": "z3.theorem.box.converse"}


def cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(x.split(":", 1)[1].strip() for x in out.splitlines() if "Model name" in x)
    except (OSError, StopIteration):
        return "unknown"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="the unbounded claims only")
    args = ap.parse_args(argv)
    load_all()
    print(f"CPU: {cpu()}")
    print(f"{'claim':<56} {'verdict':<8} {'cold s':>7} {'warm s':>7}")
    total = 0.0
    for cid in sorted(c for c in CLAIMS if c.startswith("unbounded.")):
        L.clear_cache()
        cold = run_claim(CLAIMS[cid], Limits())
        warm = run_claim(CLAIMS[cid], Limits())
        total += cold.seconds
        print(f"{cid:<56} {str(cold.verdict):<8} {cold.seconds:7.2f} {warm.seconds:7.2f}")
    print(f"all unbounded claims, cold: {total:.1f} s")
    if not args.quick:
        print(f"\n{'unbounded (every n, V)':<48} {'s':>6}   {'bounded (defaults)':<44} {'s':>6} ratio")
        for u, b in PAIRS.items():
            L.clear_cache()
            ru, rb = run_claim(CLAIMS[u], Limits()), run_claim(CLAIMS[b], Limits())
            print(f"{u:<48} {ru.seconds:6.2f}   {b:<44} {rb.seconds:6.2f} "
                  f"{rb.seconds / max(ru.seconds, 1e-9):5.1f}x")
    print("\nuser rules through prove_rule_property (family first):")
    for name, rule in (("min(b, 3), reference, smoothing",
                        normalized(lambda b, fn: fn.min(b, 3), reference=[.5, .3, .2],
                                   weight=1.0, epsilon=.01)),
                       ("exp(b/T), T symbolic", normalized(lambda b, fn, T: fn.exp(b / T),
                                                           params={"T": 2.0},
                                                           domains={"T": "positive"})),
                       ("b/(1+b^2) (not monotone)", normalized(lambda b, fn: b / (1 + b * b)))):
        L.clear_cache()
        t0 = time.perf_counter()
        res = prove_rule_property(rule, "monotone", "box")
        print(f"  {name:<34} {str(res.verdict):<8} {time.perf_counter() - t0:6.2f} s  "
              f"[{res.scope.sizes() if res.scope else res.size}]")
    print("\ncheck of a family rule (the unbounded verdict; target: within 10 s):")
    from properties import check
    for name, rule in (("linear (built-in)", "linear"),
                       ("exp(b/2) family", normalized(lambda b, fn: fn.exp(b / 2)))):
        L.clear_cache()
        t0 = time.perf_counter()
        rep = check(rule, properties=["monotone:box"], max_examples=20)
        proved = [f for f in rep.findings if str(f.verdict) == "PROVED"]
        print(f"  {name:<34} {'PROVED' if proved else 'not proved':<10} "
              f"{time.perf_counter() - t0:6.2f} s  "
              f"[{proved[0].scope.sizes() if proved and proved[0].scope else '-'}]")


if __name__ == "__main__":
    main()
