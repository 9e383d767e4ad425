"""``tokenauction audit``: replay and verify a recorded auction, or judge a mechanism.

    tokenauction audit RUN_DIR [--json] [--tol T] [--identity-tol T] [--no-properties]
                               [--expect-head HASH] [--public-key PEM | --hmac-key FILE]
    tokenauction audit DIR_OR_GLOB_OR_MANIFEST [--glob] [--workers N | --scheduler ADDRESS]
                               [--json] [--report PATH] [--tol T] ...
    tokenauction audit --keygen PATH [--hmac]        (properties/audit/signing.py)
    tokenauction audit --mechanism package.module:NAME [--json] [--max-examples K]
    tokenauction audit --mechanism path/to/file.py:NAME [--orders box,segment] [--no-suite]
                       [--valuation tv|kl|win|inner|file.py:NAME] [--reports one_hot|top_k:K]
                       [--arg key=value ...] [--path DIR]
    tokenauction audit --log FILE.jsonl [--valuation MODEL]     (properties/audit/logs.py)

A run audit prints progress to stderr, then the summary table and the first divergence
(:mod:`properties.audit.replay`); a mechanism audit prints the verdict table with
counterexamples (:mod:`properties.audit.implementation`, which documents the interface an
audited object exposes). Exit codes: 0 clean, 1 divergence, violation or refuted
property, 2 unreadable input or usage error.

A target that is not one run folder (a directory of runs, a glob, a manifest; read as
:mod:`properties.audit.paths` says: an existing path is literal), or any target with
``--workers``/``--scheduler``, is a batch (:mod:`properties.audit.cluster`):
progress lines on stderr, one aggregated report (Markdown, or ``--json``; ``--report
PATH`` writes PATH.json and PATH.md), exit code the worst run's.
"""

from __future__ import annotations

import json
import sys

from mechanism.errors import InvalidInput, InvalidRule

from properties.audit import cluster
from properties.audit.heap import keep_heap
from properties.audit.paths import MAGIC, find_runs, is_run, shown
from properties.audit.progress import (BatchProgress, InstanceProgress, Progress,
                                        unread_options)
from properties.audit.replay import audit_run
from properties.audit.implementation import audit_mechanism
from properties.cage import CageFailure, caged_mechanism, failed_loading
from properties.config import (MAX_EXAMPLES_RANGE, SEED_RANGE, WORKERS_RANGE, integer,
                               number)
from properties.config import apply as apply_config, load as load_config
from properties.gates import add_gate_arguments, gate_from
from properties.loading import (add_loading_arguments, check_search_path, load_valuation,
                                source_location)
from mechanism.outputs import Case, check_output_paths, write_outputs, write_text

#: The version of every JSON document ``audit --json`` prints (docs/ci.md).
SCHEMA_VERSION = 1


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", nargs="?", metavar="RUN_DIR",
                        help="a run folder written by TokenAuction.run(record_to=...); or, "
                             "for a batch, a directory of runs, a glob or a manifest file")
    parser.add_argument("--mechanism", metavar="MODULE:NAME",
                        help="audit a mechanism object instead (package.module:NAME or file.py:NAME)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--tol", type=float, default=1e-9,
                        help="tolerance of replayed vs recorded payments (default 1e-9)")
    parser.add_argument("--identity-tol", type=float, default=1e-6,
                        help="tolerance of the payment identity, relative to the bid (default 1e-6)")
    parser.add_argument("--expect-head", metavar="HASH",
                        help="the chain head published when the run ended (catches a run "
                             "rewritten with a recomputed chain)")
    parser.add_argument("--public-key", metavar="PEM",
                        help="verify each run's head.sig with this Ed25519 public key (catches "
                             "a whole-run rewrite without --expect-head)")
    parser.add_argument("--hmac-key", metavar="FILE",
                        help="verify each run's head.sig with this HMAC-SHA256 shared secret")
    parser.add_argument("--keygen", metavar="PATH",
                        help="write a new signing key to PATH (Ed25519: PATH and PATH.pub; "
                             "with --hmac: a shared secret) and exit")
    parser.add_argument("--hmac", action="store_true", help="--keygen: an HMAC-SHA256 secret")
    parser.add_argument("--no-properties", action="store_true",
                        help="integrity and replay only: skip monotonicity, bounds, identity")
    parser.add_argument("--max-examples", type=int, default=None,
                        help="instances per property for --mechanism (default 120)")
    parser.add_argument("--seed", type=int, default=None,
                        help="instance seed for --mechanism (default 0)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="per-call limit in seconds for the mechanism's code (default 5)")
    parser.add_argument("--budget", type=float, default=None,
                        help="--mechanism: wall-clock budget of the whole audit (its own "
                             "checks and the suite), seconds; a cut says how many instances "
                             "ran (default: none, as for check: the seed decides the verdicts, "
                             "not the machine's speed)")
    parser.add_argument("--order", "--orders", action="append", dest="orders", metavar="ORDER",
                        help="preference order for the suite's per-order properties "
                             "(repeatable or comma-separated; default box)")
    parser.add_argument("--no-suite", action="store_true",
                        help="--mechanism: the audit's own checks only (no properties.check)")
    add_gate_arguments(parser)
    batch = parser.add_argument_group("many runs (a directory of runs, a glob or a manifest)")
    batch.add_argument("--workers", type=int, metavar="N",
                       help="audit on a local Dask cluster of N worker processes (loopback)")
    batch.add_argument("--scheduler", metavar="ADDRESS",
                       help="audit on an existing Dask cluster (e.g. tcp://scheduler.example.org:8786)")
    batch.add_argument("--report", metavar="PATH",
                       help="also write the aggregated report to PATH.json and PATH.md")
    batch.add_argument("--glob", action="store_true",
                       help="read RUN_DIR as a glob pattern (* ? [...] **), even if such a "
                            "path exists (without it, an existing path is always literal)")
    batch.add_argument("--serial", action="store_true",
                       help="replay step by step (no vectorized chunks; same report, slower)")
    add_value_model_arguments(parser)


def add_value_model_arguments(parser) -> None:
    add_loading_arguments(parser)
    parser.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE",
                        help="--mechanism: constructor argument of the class (repeatable; "
                             "VALUE read as JSON when it parses)")
    parser.add_argument("--log", metavar="FILE.jsonl",
                        help="audit an imported log without replay (properties/audit/logs.py)")


def _value_model_main(args):
    """The --mechanism and --log paths, with the value-model options."""
    from properties.audit.logs import audit_log
    from properties.loading import parse_args
    if args.log and (args.run_dir or args.mechanism):
        return _usage("give one of RUN_DIR, --mechanism or --log")
    gate = _gate(args)
    try:
        args.identity_tol = number("--identity-tol", args.identity_tol, positive=False)
        args.timeout = number("--timeout", args.timeout)
        args.budget = number("--budget", args.budget, none_ok=True)
        args.max_examples = integer("--max-examples", args.max_examples, MAX_EXAMPLES_RANGE)
        args.seed = integer("--seed", args.seed, SEED_RANGE)
        if args.log:
            report = audit_log(args.log, valuation=None if args.valuation is None
                               else load_valuation(args.valuation),
                               tol=args.identity_tol)
        else:
            check_search_path(args.path)  # searched by the cage's worker only
            obj = caged_mechanism(args.mechanism, parse_args(args.arg), args.path, args.timeout)
            report = audit_mechanism(obj, max_examples=args.max_examples, seed=args.seed,
                                     timeout=args.timeout, use_suite=not args.no_suite,
                                     orders=_orders(args.orders),
                                     budget_s=args.budget,
                                     progress=None if args.quiet else InstanceProgress(),
                                     valuation=load_valuation(args.valuation),
                                     reports=args.reports)
    except (InvalidInput, InvalidRule) as exc:
        return _usage(str(exc))
    except CageFailure as exc:  # the mechanism's code ended or broke its loading: a finding
        return _failed_loading(args, exc)
    where = source_location(args.mechanism) if args.mechanism else None
    code = _finish(args, report, gate.cases(report.findings, where), gate.exit_code(report))
    text = report.summary()
    line = gate.summary(report)
    print(_json(report, code) if args.json else
          (text if line is None else text.rsplit("\n", 1)[0] + "\n" + line))
    return code


def _failed_loading(args, exc: CageFailure) -> int:
    """``audit --mechanism`` of an object whose code ended, hung or broke while being
    loaded: REFUTED, exit 1 (one failed case in --junit-xml / --sarif)."""
    text, js = failed_loading("audit --mechanism", args.mechanism, exc)
    write_outputs(f"tokenauction audit {args.mechanism}",
                  [Case("mechanism", "failed", js["error"], text, "mechanism",
                        source_location(args.mechanism))],
                  junit=args.junit_xml, sarif_path=args.sarif)
    print(json.dumps({"schema_version": SCHEMA_VERSION, **js}) if args.json else text)
    return 1


def _orders(values) -> tuple:
    out = [o.strip() for v in (values or ["box"]) for o in v.split(",") if o.strip()]
    return tuple(dict.fromkeys(out))


#: --mechanism options: configuration key -> (args attribute, built-in default); check's
#: keys of the same name mean the same, and neither command has a default wall-clock budget
MECHANISM_DEFAULTS = {"max_examples": ("max_examples", 120), "seed": ("seed", 0),
                      "timeout": ("timeout", 5.0), "budget": ("budget", None),
                      "orders": ("orders", None)}


def _gate(args):
    """The gate, after filling the options not given from [tool.tokenauction], then the
    built-in defaults (flags win)."""
    table = {} if args.no_config else load_config(args.config)[0]
    apply_config(args, table, {k: a for k, (a, _) in MECHANISM_DEFAULTS.items()})
    for attr, default in MECHANISM_DEFAULTS.values():
        if getattr(args, attr) is None:
            setattr(args, attr, default)
    return gate_from(args, table)


def _json(report, code: int) -> str:
    """The report as JSON; ``ok`` and ``exit_code`` are the gate's (``--strict`` may fail a
    clean report: ``ok`` said true beside exit code 1)."""
    doc = {"schema_version": SCHEMA_VERSION, **report.to_json(), "exit_code": code}
    if "ok" in doc:
        doc["ok"] = code == 0
    return json.dumps(doc, indent=1, default=str)


def _finish(args, report, cases, code: int) -> int:
    """Write --junit-xml / --sarif; the exit code (the gate's, never below the report's)."""
    target = shown(args.run_dir or args.mechanism or args.log)
    write_outputs(f"tokenauction audit {target}", cases, junit=args.junit_xml,
                  sarif_path=args.sarif)
    return max(code, report.exit_code) if report.exit_code != 0 else code


def run_cases(report, strict: bool) -> list:
    """One case per check of a run audit (its tally's verdict), plus the replay itself."""
    first = report.first_divergence
    cases = [Case("replay", {0: "passed", 1: "failed"}.get(report.exit_code, "error"),
                  str(first or report.error or ""), rule_id="replay")]
    for name, tally in report.tallies.items():
        verdict = str(tally.verdict(name))
        status = {"REFUTED": "failed", "SKIPPED": "skipped"}.get(verdict, "passed")
        if tally.informational and status == "failed":
            status = "skipped"
        if strict and verdict in ("SKIPPED", "UNKNOWN") and not tally.informational:
            status = "failed"
        cases.append(Case(name, status, f"{verdict}: {tally.note}".rstrip(": "), rule_id=name))
    return cases


def _usage(msg: str) -> int:
    """A usage error: raised, so the dispatcher prints it (one line; JSON with --json)."""
    raise InvalidInput(msg, value=None)


def _key(args):
    """``(alg, path)`` of the verifying key, None without one; InvalidInput for both."""
    if args.public_key and args.hmac_key:
        raise InvalidInput("give --public-key or --hmac-key, not both", value=None)
    if args.public_key:
        return ("ed25519", args.public_key)
    return ("hmac-sha256", args.hmac_key) if args.hmac_key else None


def _keygen(args) -> int:
    from properties.audit.signing import generate_key
    try:
        for path in generate_key(args.keygen, "hmac-sha256" if args.hmac else "ed25519"):
            print(f"wrote {shown(path)}")
    except (InvalidInput, OSError) as exc:
        return _usage(str(exc))
    return 0


def main(args) -> int:
    if args.keygen:
        return _keygen(args)
    report = getattr(args, "report", None)
    check_output_paths(args, *[("--report", report + ext) for ext in (".json", ".md")
                               if report], inputs=(args.run_dir, args.log))
    unread = unread_options(args, "--log" if args.log else "RUN_DIR")
    if args.log and not (args.run_dir or args.mechanism) and unread:
        return _usage(unread)
    if args.log:
        return _value_model_main(args)
    if bool(args.run_dir) == bool(args.mechanism):
        return _usage("give either RUN_DIR or --mechanism MODULE:NAME (one of them)")
    if args.mechanism:
        return _value_model_main(args)
    if unread:
        return _usage(unread)
    try:
        args.tol = number("--tol", args.tol, positive=False)
        args.identity_tol = number("--identity-tol", args.identity_tol, positive=False)
    except InvalidInput as exc:
        return _usage(str(exc))
    if args.run_dir.endswith(".py"):
        return _usage(f"{args.run_dir} is a Python file, not a run folder or a manifest; to "
                      f"audit a mechanism defined there give --mechanism {args.run_dir}:NAME")
    key = _key(args)
    if _is_batch(args):
        return _batch(args, key)
    if getattr(args, "report", None):   # was accepted, checked, and never written
        return _usage("--report writes a batch's aggregated report; for one run folder "
                      "use --json (or --junit-xml / --sarif)")
    progress = None if args.quiet else Progress()
    keep_heap()
    report = audit_run(args.run_dir, tol=args.tol, identity_tol=args.identity_tol,
                       check_properties=not args.no_properties,
                       expect_head=args.expect_head, progress=progress,
                       vectorized=not args.serial, key=key)
    if progress is not None and progress.done:
        print(f"audit: {progress.done} steps in {report.seconds:.1f}s", file=sys.stderr)
    gate = _gate(args)
    cases = run_cases(report, gate.strict)
    code = _finish(args, report, cases,
                   1 if any(c.status == "failed" for c in cases) else report.exit_code)
    if args.json:
        print(_json(report, code))
        return code
    print(report.summary())
    if code != report.exit_code:   # the gate's word: the summary above gave the report's
        failed = [c.name for c in cases if c.status == "failed" and c.name != "replay"]
        print(f"--strict: {', '.join(failed)} not verified (SKIPPED or UNKNOWN) fails the run "
              f"(exit {code})")
    if report.error:
        print(f"tokenauction audit: error: {shown(report.error)}", file=sys.stderr)
    return code


# -- many runs ----------------------------------------------------------------------
def _is_batch(args) -> bool:
    """One run folder (or a path that does not exist) keeps the single-run audit."""
    from pathlib import Path

    if args.workers is not None or args.scheduler is not None or args.glob:
        return True
    path = Path(args.run_dir)
    if not path.exists():
        return bool(MAGIC.search(args.run_dir))  # a pattern, since no such path exists
    return path.is_file() or (path.is_dir() and not is_run(path))


def _batch(args, key) -> int:
    if args.expect_head:
        return _usage("--expect-head names one run; give heads per run in a manifest "
                      "(a line 'RUN_DIR HEAD')")
    if args.workers is not None and args.scheduler is not None:
        return _usage("give --workers N or --scheduler ADDRESS, not both")
    if args.strict:   # was ignored: a batch reports each run's status, not its checks
        return _usage("--strict judges one run's checks (SKIPPED and UNKNOWN fail it); a "
                      "batch reports each run as clean, diverged or unreadable: audit the "
                      "runs one by one with --strict")
    try:
        if args.workers is not None:
            integer("--workers", args.workers, WORKERS_RANGE)
        runs = find_runs(args.run_dir, glob=args.glob)
        report = cluster.audit_many(
            runs, workers=args.workers, scheduler=args.scheduler,
            source=f"{args.run_dir}, read as {runs.how}",
            progress=None if args.quiet else BatchProgress(), tol=args.tol,
            identity_tol=args.identity_tol, check_properties=not args.no_properties,
            vectorized=not args.serial, key=key)
    except InvalidInput as exc:
        return _usage(str(exc))
    except (OSError, TimeoutError) as exc:  # no scheduler at that address, ...
        return _usage(f"cannot reach the Dask scheduler {args.scheduler}: {exc}"
                      if args.scheduler else f"cannot start a local cluster: {exc}")
    except ImportError:
        return _usage('Dask is not installed: pip install "tokenauction[scale]"')
    cases = [Case(shown(r["run"]),
                  {"clean": "passed", "diverged": "failed"}.get(r["status"], "error"),
                  shown(r.get("first_divergence_text") or r.get("error") or ""),
                  rule_id=r["status"])
             for r in report.runs]
    code = _finish(args, report, cases, report.exit_code)
    def files():
        if args.report:
            write_text("--report", args.report + ".json", json.dumps(report.to_json(), indent=1))
            write_text("--report", args.report + ".md", report.markdown() + "\n")
    if args.json:   # stdout stays one JSON document: a failed write is the only one (exit 2)
        files()
        print(_json(report, code))
    else:           # after the report is printed: a failed write loses nothing (exit 2)
        print(report.markdown())
        files()
    return code
