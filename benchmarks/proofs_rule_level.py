"""Benchmark: z3 time of the rule-level MON proof against agents and tokens.

Prints (1) time vs agents at a fixed vocabulary and vs tokens at a fixed number of
agents, with the growth factor per added agent / token (each size is ONE (n, V) pair,
every agent i checked); (2) the largest agents x tokens that linear is PROVED within
the time limit (default 60 s), walking the frontier: more tokens while it fits, then
one more agent. Target: growth per added agent well under 3.5x (FairCon's
published per-bidder growth).

    PYTHONPATH=. python benchmarks/proofs_rule_level.py [--quick] [--limit 60] [--overhead]

``--overhead``: the share of the float64 refutation search (after z3's unsat) in a proof.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mechanism.rules import get_rule  # noqa: E402
from mechanism.verdicts import Verdict  # noqa: E402
from proofs.bounded.budget import Budget  # noqa: E402
from proofs.bounded.compiled_form import subject  # noqa: E402
from proofs.bounded.rule_level import Job, search  # noqa: E402


def timed(rule, order, n, V, limit):
    t0 = time.monotonic()
    res = search(Job(subject(rule), "monotone", order, ((n, V),), Budget(limit)))
    return time.monotonic() - t0, res.verdict


def series(rule, order, sizes, limit, label):
    print(f"\n{rule.name} MON ({order}), time vs {label}")
    print(f"  {'agents':>6} {'tokens':>6} {'seconds':>8} {'verdict':>8} {'growth':>7}")
    prev, factors = None, []
    for n, V in sizes:
        sec, verdict = timed(rule, order, n, V, limit)
        g = sec / prev if prev else float("nan")
        if prev:
            factors.append(g)
        print(f"  {n:>6} {V:>6} {sec:8.2f} {str(verdict):>8} {g:7.2f}", flush=True)
        prev = sec
        if verdict is not Verdict.PROVED:
            break
    if factors:
        geo = math.exp(sum(map(math.log, factors)) / len(factors))
        print(f"  growth per added {label[:-1]}: geometric mean {geo:.2f}x, max {max(factors):.2f}x")
    return factors


AGENTS = (2, 3, 4, 6, 8, 10, 12, 16)
TOKENS = (2, 3, 4, 6, 8, 12, 16, 24, 32)


def frontier(rule, order, limit):
    """Largest V proved within ``limit`` s for each n. Time grows with n, so the largest V
    can only shrink as n grows: the first row climbs, later rows step down from there."""
    print(f"\nlargest sizes proved within {limit:.0f} s ({rule.name}, {order}):")

    def attempt(n, k):
        sec, verdict = timed(rule, order, n, TOKENS[k], limit)
        print(f"  n={n:>2} V={TOKENS[k]:>2}: {sec:6.2f} s {verdict}", flush=True)
        return (n, TOKENS[k], sec) if verdict is Verdict.PROVED else None

    k, best = 0, None
    for n in AGENTS:
        row = None
        while k >= 0 and row is None:
            row = attempt(n, k)
            k -= row is None
        if row is None:
            break
        while n == AGENTS[0] and k + 1 < len(TOKENS):
            up = attempt(n, k + 1)
            if up is None:
                break
            row, k = up, k + 1
        print(f"  -> n={n}: largest V = {row[1]}", flush=True)
        if best is None or row[0] * row[1] > best[0] * best[1]:
            best = row
    if best:
        print(f"  largest agents x tokens proved: {best[0]} x {best[1]} ({best[2]:.1f} s)")
    return best


def soundness_overhead(limit):
    """Time of the default-size proofs (n <= 3, V <= 4) and, side by side in one run, of
    the float64 refutation search alone that follows z3's unsat: its share of the proof."""
    from proofs.bounded import float_search
    from proofs.bounded.rule_level import prove_rule
    print("\nfloat64 search share, n <= 3, V <= 4 (CPU seconds, same process)")
    print(f"  {'rule':>16} {'order':>8} {'proof':>7} {'search':>7} {'share':>6}")
    pairs = [(n, V) for n in range(1, 4) for V in range(2, 5)]
    for name, order in (("linear", "box"), ("linear", "segment"), ("winner_take_all", "box")):
        rule = get_rule(name)
        t0 = time.process_time()
        res = prove_rule(rule, "monotone", order, timeout_s=limit)
        proof = time.process_time() - t0
        assert res.verdict is Verdict.PROVED, res.detail
        t0 = time.process_time()
        float_search.refute(rule, "monotone", order, pairs, [], Budget(limit))
        alone = time.process_time() - t0
        print(f"  {name:>16} {order:>8} {proof:7.2f} {alone:7.2f} {alone / proof:6.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    ap.add_argument("--limit", type=float, default=60.0, help="seconds per size (default 60)")
    ap.add_argument("--overhead", action="store_true",
                    help="only the float64 search's share at the default sizes")
    args = ap.parse_args(argv)
    if args.overhead:
        soundness_overhead(args.limit)
        return 0
    rule = get_rule("linear")
    n_top, v_top = (4, 4) if args.quick else (8, 10)
    for order in ("box", "segment"):
        series(rule, order, [(n, 4) for n in range(1, n_top + 1)], args.limit, "agents")
        series(rule, order, [(3, V) for V in range(2, v_top + 1)], args.limit, "tokens")
    series(get_rule("winner_take_all"), "box", [(n, 4) for n in range(1, n_top + 1)],
           args.limit, "agents")
    if not args.quick:
        frontier(rule, "box", args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
