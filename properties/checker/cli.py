"""``tokenauction check TARGET [TARGET ...]``: judge a rule or a payment rule (issue 3).

Several targets (a rule zoo) are judged one after another, or on Dask with
``--workers N`` / ``--scheduler ADDRESS`` (the audit's engine,
:func:`properties.audit.cluster.run_tasks`); each report is printed in the order given.
Exit codes: 0 nothing refuted, 1 something refuted, 2 usage or input error, 3 internal
error (a PROVED contradicted by a counterexample inside its scope); for many targets: the worst.
"""

from __future__ import annotations

import json
import sys

from mechanism.errors import InvalidInput, InvalidRule

from properties.catalogue import ALL_ORDERS, CATALOGUE
from properties.checker.engine import DEFAULT_MAX_EXAMPLES, DEFAULT_SEED, check
from properties.target import DEFAULT_TIMEOUT
from properties.loading import add_loading_arguments, add_search_path, load_valuation


def add_arguments(p) -> None:
    p.add_argument("target", nargs="+",
                   help="path/to/file.py:NAME, package.module:NAME, or a built-in "
                        "rule / payment rule name (linear, second_price, ...); several for a zoo")
    p.add_argument("--property", action="append", dest="properties", metavar="ID",
                   help="property id, optionally ID:ORDER (repeatable; default: all of the "
                        f"target's kind). Known: {', '.join(CATALOGUE)}")
    p.add_argument("--order", action="append", dest="orders", choices=ALL_ORDERS,
                   help="preference order for per-order properties (repeatable; default all)")
    p.add_argument("--rule", default=None, help="for a payment-rule target: the aggregation "
                                                "rule to judge it under (default: linear)")
    p.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help="per-call timeout for the target's code, seconds")
    p.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                   help="wall-clock budget for the sampling (default: none)")
    p.add_argument("--thorough", action="store_true",
                   help="release-gate preset: 4x the examples on 3 seeds (slower, finds more)")
    p.add_argument("--no-prove", action="store_true", help="skip the proofs engine")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--workers", type=int, metavar="N",
                   help="several targets: judge them on a local Dask cluster of N processes")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="several targets: judge them on an existing Dask cluster")
    add_loading_arguments(p)
    p.add_argument("--kind", choices=("rule", "payment", "mechanism"), default=None,
                   help="what the target is (overrides the guess from its signature); "
                        "mechanism: an object with aggregate/payments, judged as by "
                        "tokenauction audit --mechanism")

def main(args) -> int:
    if args.max_examples < 1 or args.timeout <= 0:
        print("tokenauction check: error: --max-examples and --timeout must be positive",
              file=sys.stderr)
        return 2
    if len(args.target) > 1 or args.workers is not None or args.scheduler is not None:
        return _many(args)
    try:
        add_search_path(args.path)
        if args.kind == "mechanism":
            return _mechanism(args, load_valuation(args.valuation))
        report = check(args.target[0], args.properties, orders=args.orders,
                       max_examples=args.max_examples, seed=args.seed, timeout=args.timeout,
                       rule=args.rule, prove=not args.no_prove, budget_s=args.budget,
                       valuation=load_valuation(args.valuation), reports=args.reports,
                       kind=args.kind, thorough=args.thorough)
    except (InvalidInput, InvalidRule) as exc:
        print(f"tokenauction check: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print(report)
    return report.exit_code


def check_one(target: str, options: dict) -> tuple[str, dict | None, int]:
    """One target of a zoo (a Dask task): its report as text, JSON and exit code."""
    try:
        report = check(target, **options)
    except (InvalidInput, InvalidRule) as exc:
        return f"{target}: error: {exc}", {"target": target, "error": str(exc)}, 2
    return str(report), report.to_json(), report.exit_code


def _many(args) -> int:
    from properties.audit.cluster import run_tasks

    if args.workers is not None and args.scheduler is not None:
        print("tokenauction check: error: give --workers or --scheduler, not both",
              file=sys.stderr)
        return 2
    options = dict(properties=args.properties, orders=args.orders,
                   max_examples=args.max_examples, seed=args.seed, timeout=args.timeout,
                   rule=args.rule, prove=not args.no_prove, budget_s=args.budget,
                   valuation=args.valuation, reports=args.reports, kind=args.kind)
    if args.kind == "mechanism" or (args.valuation and ":" in args.valuation):
        print("tokenauction check: error: several targets take built-in --valuation models and "
              "--kind rule|payment only; check a mechanism or a valuation file one target at a "
              "time", file=sys.stderr)
        return 2
    try:
        results, engine = run_tasks(
            check_one, [(t, options) for t in args.target], workers=args.workers,
            scheduler=args.scheduler, name="check",
            lost=lambda item, why: (f"{item[0]}: not judged: {why}",
                                    {"target": item[0], "error": why}, 2))
    except (InvalidInput, OSError, TimeoutError, ImportError) as exc:
        print(f"tokenauction check: error: {exc}", file=sys.stderr)
        return 2
    code = max(c for _, _, c in results)
    if args.json:
        print(json.dumps({"engine": engine, "exit_code": code,
                          "reports": [j for _, j, _ in results]}))
    else:
        print("\n\n".join(text for text, _, _ in results))
        print(f"\n{len(results)} targets ({engine}): "
              f"{sum(c == 0 for _, _, c in results)} nothing refuted, "
              f"{sum(c == 1 for _, _, c in results)} refuted, "
              f"{sum(c == 2 for _, _, c in results)} errors")
    return code
def _mechanism(args, valuation) -> int:
    """``check TARGET --kind mechanism``: the mechanism audit (issue 12)."""
    from properties.audit.implementation import audit_mechanism, load_mechanism
    report = audit_mechanism(load_mechanism(args.target[0]), max_examples=args.max_examples,
                             seed=args.seed, timeout=args.timeout, budget_s=args.budget,
                             valuation=valuation, reports=args.reports)
    print(json.dumps(report.to_json(), default=str) if args.json else report.summary())
    return report.exit_code
