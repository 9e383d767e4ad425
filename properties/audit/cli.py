"""``tokenauction audit``: replay and verify a recorded auction, or judge a mechanism.

    tokenauction audit RUN_DIR [--json] [--tol T] [--identity-tol T] [--no-properties]
                               [--expect-head HASH]
    tokenauction audit --mechanism package.module:NAME [--json] [--max-examples K]
    tokenauction audit --mechanism path/to/file.py:NAME [--orders box,segment] [--no-suite]
                       [--valuation tv|kl|win|inner|file.py:NAME] [--reports one_hot|top_k:K]
                       [--arg key=value ...] [--path DIR]
    tokenauction audit --log FILE.jsonl [--valuation MODEL]     (properties/audit/logs.py)

A run audit prints progress to stderr, then the summary table and the first divergence
(:mod:`properties.audit.run`); a mechanism audit prints the verdict table with
counterexamples (:mod:`properties.audit.mechanism`, which documents the interface an
audited object exposes). Exit codes: 0 clean, 1 divergence, violation or refuted
property, 2 unreadable input or usage error.
"""

from __future__ import annotations

import json
import sys
import time

from mechanism.errors import InvalidInput, InvalidRule

from properties.audit.run import audit_run
from properties.audit.mechanism import audit_mechanism, load_mechanism


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", nargs="?", help="run folder written by "
                        "TokenAuction.run(record_to=...)")
    parser.add_argument("--mechanism", metavar="MODULE:NAME",
                        help="audit a mechanism object instead (package.module:NAME or file.py:NAME)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--tol", type=float, default=1e-9,
                        help="tolerance of replayed vs recorded payments (default 1e-9)")
    parser.add_argument("--identity-tol", type=float, default=1e-6,
                        help="tolerance of the payment identity, times max(1, bid) (default 1e-6)")
    parser.add_argument("--expect-head", metavar="HASH",
                        help="the chain head published when the run ended (catches a run "
                             "rewritten with a recomputed chain)")
    parser.add_argument("--no-properties", action="store_true",
                        help="integrity and replay only: skip monotonicity, bounds, identity")
    parser.add_argument("--max-examples", type=int, default=120,
                        help="instances per property for --mechanism (default 120)")
    parser.add_argument("--seed", type=int, default=0, help="instance seed for --mechanism")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="per-call limit in seconds for the mechanism's code (default 5)")
    parser.add_argument("--budget", type=float, default=120.0,
                        help="property-suite wall-clock budget per target, seconds (default 120)")
    parser.add_argument("--orders", default="box",
                        help="preference orders for the suite's per-order properties "
                             "(comma-separated; default box)")
    parser.add_argument("--no-suite", action="store_true",
                        help="--mechanism: the audit's own checks only (no properties.check)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_value_model_arguments(parser)


# -- issue 12: value models, constructor arguments, report restrictions, imported logs --
def add_value_model_arguments(parser) -> None:
    parser.add_argument("--valuation", default=None, metavar="MODEL",
                        help="value model of payment_identity, truthful, individually_rational "
                             "(tv default, kl, kl_forward, kl_reverse, win, inner, or "
                             "file.py:NAME of a callable a(p_i, q))")
    parser.add_argument("--reports", default=None, metavar="KIND",
                        help="--mechanism: restrict the reports (one_hot, top_k:K)")
    parser.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE",
                        help="--mechanism: constructor argument of the class (repeatable; "
                             "VALUE read as JSON when it parses)")
    parser.add_argument("--path", action="append", default=[], metavar="DIR",
                        help="a folder to import --mechanism from (repeatable)")
    parser.add_argument("--log", metavar="FILE.jsonl",
                        help="audit an imported log without replay (properties/audit/logs.py)")


def _value_model_main(args):
    """The --mechanism and --log paths, with the issue-12 options."""
    from properties.audit.logs import audit_log
    from properties.audit.target import parse_args
    from properties.loading import add_search_path, load_valuation
    if getattr(args, "log", None):
        if args.run_dir or args.mechanism:
            return _usage("give one of RUN_DIR, --mechanism or --log")
        try:
            report = audit_log(args.log, valuation=load_valuation(args.valuation),
                               tol=args.identity_tol)
        except (InvalidInput, InvalidRule) as exc:
            return _usage(str(exc))
        print(json.dumps(report.to_json(), indent=1, default=str) if args.json
              else report.summary())
        return report.exit_code
    try:
        add_search_path(args.path)
        obj = load_mechanism(args.mechanism, parse_args(args.arg))
        report = audit_mechanism(obj, max_examples=args.max_examples, seed=args.seed,
                                 timeout=args.timeout, use_suite=not args.no_suite,
                                 orders=tuple(o for o in args.orders.split(",") if o),
                                 budget_s=args.budget, valuation=load_valuation(args.valuation),
                                 reports=args.reports)
    except (InvalidInput, InvalidRule) as exc:
        return _usage(str(exc))
    print(json.dumps(report.to_json(), indent=1, default=str) if args.json
          else report.summary())
    return report.exit_code
# -- end issue 12 --


class Progress:
    """Prints ``audit: N steps (R steps/s)`` to stderr at most every ``every`` seconds."""

    def __init__(self, stream=sys.stderr, every: float = 2.0):
        self.stream, self.every = stream, every
        self.t0 = self.last = time.perf_counter()
        self.done = 0

    def __call__(self, done: int, _step=None) -> None:
        self.done = done
        now = time.perf_counter()
        if now - self.last >= self.every:
            self.last = now
            print(f"audit: {done} steps ({done / (now - self.t0):.0f} steps/s)",
                  file=self.stream, flush=True)


def _usage(msg: str) -> int:
    print(f"tokenauction audit: error: {msg}", file=sys.stderr)
    return 2


def main(args) -> int:
    if getattr(args, "log", None):
        return _value_model_main(args)
    if bool(args.run_dir) == bool(args.mechanism):
        return _usage("give either RUN_DIR or --mechanism MODULE:NAME (one of them)")
    if args.mechanism:
        return _value_model_main(args)
    if args.tol < 0 or args.identity_tol < 0:
        return _usage("--tol and --identity-tol must be >= 0")
    progress = None if args.quiet else Progress()
    report = audit_run(args.run_dir, tol=args.tol, identity_tol=args.identity_tol,
                       check_properties=not args.no_properties,
                       expect_head=args.expect_head, progress=progress)
    if progress is not None and progress.done:
        print(f"audit: {progress.done} steps in {report.seconds:.1f}s", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_json(), indent=1, default=str))
    else:
        print(report.summary())
        if report.error:
            print(f"tokenauction audit: error: {report.error}", file=sys.stderr)
    return report.exit_code
