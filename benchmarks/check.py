"""Benchmark of ``tokenauction check`` (not a timed test).

Prints: the default run time of ``check`` on the built-in rules (target: <= 60 s),
hypothesis examples per second per property group, the time to the first
counterexample for every known-bad rule, and the regret figure of the softmax(bid/T)
mixture with bid-based externalities (protocol in :mod:`tests.helpers.regret_protocol`).

    PYTHONPATH=. python benchmarks/check.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [_ROOT]

from properties import check  # noqa: E402
from properties.catalogue import parse_property  # noqa: E402
from tests.helpers.regret_protocol import regret_protocol  # noqa: E402
from tests.helpers.known_bad import KNOWN_BAD  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer examples (smoke run)")
    args = ap.parse_args(argv)
    n = 20 if args.quick else None
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}")
    print("\n== default `tokenauction check` run on built-in rules ==")
    for target, kw in [("linear", {}), ("winner_take_all", {}), ("log_linear", {}),
                       ("second_price", {}), ("second_price", {"rule": "log_linear"})]:
        t0 = time.perf_counter()
        rep = check(target, **({"max_examples": n} if n else {}), **kw)
        dt = time.perf_counter() - t0
        by_engine = {}
        for f in rep.findings:
            if f.engine == "hypothesis" and f.seconds > 0:
                by_engine.setdefault(round(f.seconds, 6), f.examples)
        ex = sum(by_engine.values())
        secs = sum(by_engine)
        label = target + (f" (rule={kw['rule']})" if kw else "")
        print(f"{label:32s} {dt:6.1f} s  {'REFUTED' if rep.refuted else 'clean':8s} "
              f"{ex} examples in {secs:.1f} s of sampling = {ex / max(secs, 1e-9):6.1f} ex/s "
              f"{'OK' if dt <= 60 else 'OVER 60 s'}")
    print("\n== time to first counterexample, known-bad collection (default settings) ==")
    for bad in KNOWN_BAD:
        t0 = time.perf_counter()
        rep = check(bad.target, [bad.key], prove=False, **bad.options,
                    **({"max_examples": n} if n else {}))
        pid, order = parse_property(bad.key)
        f = rep.find(pid, order)[0]
        shape = "x".join(str(d) for d in (len(f.counterexample["dists"]),
                                           len(f.counterexample["dists"][0]))) \
            if f.counterexample else "-"
        first = f.first_counterexample_s
        print(f"{bad.name:28s} {bad.key:24s} {str(f.verdict):11s} first "
              f"{first if first is None else f'{first:6.3f} s'}  total "
              f"{time.perf_counter() - t0:5.2f} s  cex {shape} (agents x tokens)")
    print("\n== regret protocol: softmax(bid/T) mixture + bid-based externalities ==")
    for model in ("kl", "share"):
        t0 = time.perf_counter()
        r = regret_protocol(model=model, instances=60 if args.quick else 300)
        print(f"model {model:5s}: mean regret {r['mean']:.4f}, max {r['max']:.4f}, positive in "
              f"{r['share_positive']:.0%} of agent-instances (n={r['n']}, V={r['V']}, "
              f"{r['instances']} instances, {time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
