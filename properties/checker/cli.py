"""``tokenauction check TARGET``: judge a rule or a payment rule (issue 3).

Exit codes: 0 nothing refuted, 1 something refuted, 2 usage or input error, 3 internal
error (a PROVED contradicted by a counterexample inside its scope).
"""

from __future__ import annotations

import json
import sys

from mechanism.errors import InvalidInput, InvalidRule

from properties.catalogue import ALL_ORDERS, CATALOGUE
from properties.checker.engine import DEFAULT_MAX_EXAMPLES, DEFAULT_SEED, check
from properties.checker.targets import DEFAULT_TIMEOUT


def add_arguments(p) -> None:
    p.add_argument("target", help="path/to/file.py:NAME, package.module:NAME, or a built-in "
                                  "rule / payment rule name (linear, second_price, ...)")
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


def main(args) -> int:
    if args.max_examples < 1 or args.timeout <= 0:
        print("tokenauction check: error: --max-examples and --timeout must be positive",
              file=sys.stderr)
        return 2
    try:
        report = check(args.target, args.properties, orders=args.orders,
                       max_examples=args.max_examples, seed=args.seed, timeout=args.timeout,
                       rule=args.rule, prove=not args.no_prove, budget_s=args.budget,
                       thorough=getattr(args, "thorough", False))
    except (InvalidInput, InvalidRule) as exc:
        print(f"tokenauction check: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print(report)
    return report.exit_code
