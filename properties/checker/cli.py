"""``tokenauction check TARGET [TARGET ...]``: judge a rule or a payment rule.

Several targets (a rule zoo) are judged one after another, or on Dask with
``--workers N`` / ``--scheduler ADDRESS`` (the audit's engine,
:func:`properties.audit.cluster.run_tasks`); each report is printed in the order given.
Defaults come from ``[tool.tokenauction]`` (:mod:`properties.config`); flags win. The gate
(:mod:`properties.gates`) decides the exit code: 0 nothing refuted, 1 something refuted (or,
with ``--strict``, UNKNOWN, thin or missing-engine), 2 usage or input error, 3 internal
error (a PROVED contradicted by a counterexample inside its scope); for many targets: the
worst. Progress lines go to stderr (``--quiet``: none); the result is the last line.
"""

from __future__ import annotations

import json
import sys

from mechanism.errors import InvalidInput, InvalidRule
from mechanism.outputs import Case, check_output_paths, write_outputs

from properties import config
from properties.catalogue import ALL_ORDERS, CATALOGUE
from properties.checker.engine import DEFAULT_MAX_EXAMPLES, DEFAULT_SEED, check
from properties.target import DEFAULT_TIMEOUT
from properties.cage import findings_from_json
from properties.gates import add_gate_arguments, gate_from
from properties.loading import (absolute_spec, add_loading_arguments, check_search_path,
                                load_valuation, source_location)

#: configuration key -> args attribute (properties.config.apply)
CONFIG_KEYS = {"properties": "properties", "orders": "orders", "max_examples": "max_examples",
               "budget": "budget", "seed": "seed", "timeout": "timeout"}
SCHEMA_VERSION = 1


def add_arguments(p) -> None:
    p.add_argument("target", nargs="+",
                   help="path/to/file.py:NAME, package.module:NAME, or a built-in "
                        "rule / payment rule name (linear, second_price, ...); several for a zoo")
    p.add_argument("--property", "--properties", action="append", dest="properties",
                   metavar="ID", help="property id, optionally ID:ORDER (repeatable or "
                   f"comma-separated; default: all of the target's kind). Known: "
                   f"{', '.join(CATALOGUE)}")
    p.add_argument("--order", "--orders", action="append", dest="orders", metavar="ORDER",
                   help="preference order for per-order properties (repeatable or "
                        f"comma-separated; default all: {', '.join(ALL_ORDERS)})")
    p.add_argument("--rule", default=None, help="for a payment-rule target: the aggregation "
                                                "rule to judge it under (default: linear)")
    p.add_argument("--max-examples", type=int, default=None,
                   help=f"sampled examples per property group (default {DEFAULT_MAX_EXAMPLES})")
    p.add_argument("--seed", type=int, default=None, help=f"default {DEFAULT_SEED}")
    p.add_argument("--timeout", type=float, default=None,
                   help=f"per-call timeout for the target's code, seconds (default "
                        f"{DEFAULT_TIMEOUT})")
    p.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                   help="wall-clock budget for the sampling (default: none)")
    p.add_argument("--thorough", action="store_true",
                   help="release-gate preset: 4x the examples on 3 seeds (slower, finds more)")
    p.add_argument("--no-prove", action="store_true", help="skip the proofs engine")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_gate_arguments(p)
    p.add_argument("--workers", type=int, metavar="N",
                   help="several targets: judge them on a local Dask cluster of N processes")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="several targets: judge them on an existing Dask cluster")
    add_loading_arguments(p)
    p.add_argument("--kind", choices=("rule", "payment", "mechanism"), default=None,
                   help="what the target is (overrides the guess from its signature); "
                        "mechanism: an object with aggregate/payments, judged as by "
                        "tokenauction audit --mechanism")


def _split(values):
    """Repeated and comma-separated values, in order, once each; None stays None."""
    if values is None:
        return None
    out = [v.strip() for item in values for v in str(item).split(",") if v.strip()]
    return list(dict.fromkeys(out))


def settle(args):
    """Fill the options not given from the configuration, then the built-in defaults;
    returns the gate. InvalidInput for a bad value."""
    table = {} if args.no_config else config.load(args.config)[0]
    config.apply(args, table, CONFIG_KEYS)
    for attr, default in (("max_examples", DEFAULT_MAX_EXAMPLES), ("seed", DEFAULT_SEED),
                          ("timeout", DEFAULT_TIMEOUT)):
        if getattr(args, attr) is None:
            setattr(args, attr, default)
    args.properties, args.orders = _split(args.properties), _split(args.orders)
    args.max_examples = config.integer("--max-examples", args.max_examples,
                                       config.MAX_EXAMPLES_RANGE)
    args.seed = config.integer("--seed", args.seed, config.SEED_RANGE)
    if args.workers is not None:
        args.workers = config.integer("--workers", args.workers, config.WORKERS_RANGE)
    args.timeout = config.number("--timeout", args.timeout)
    args.budget = config.number("--budget", args.budget, none_ok=True)
    return gate_from(args, table)


def _progress(args):
    if args.quiet:
        return None
    return lambda line: print(line, file=sys.stderr, flush=True)


def options(args) -> dict:
    return dict(properties=args.properties, orders=args.orders, max_examples=args.max_examples,
                seed=args.seed, timeout=args.timeout, rule=args.rule, prove=not args.no_prove,
                budget_s=args.budget, reports=args.reports, kind=args.kind,
                thorough=args.thorough)


def main(args) -> int:
    check_output_paths(args)
    gate = settle(args)
    if len(args.target) > 1 or args.workers is not None or args.scheduler is not None:
        return _many(args, gate)
    check_search_path(args.path)  # the cage's worker searches them, never this process
    if args.kind == "mechanism":
        return _mechanism(args, load_valuation(args.valuation), gate)
    spec = absolute_spec(args.target[0])
    if ":" in args.target[0]:  # user code: loaded and run in the cage (properties/cage.py)
        return _caged(args, spec, gate)
    report = check(spec, **options(args), valuation=load_valuation(args.valuation),
                   progress=_progress(args))
    report.target = args.target[0]
    return _finish(args, gate, report, str(report), report.to_json(), source_location(spec),
                   version=report.settings["versions"]["tokenauction"] or "")


def _finish(args, gate, report, text: str, js: dict, location, version: str = "") -> int:
    """The one ending of a judged target: the gate's exit code, --junit-xml / --sarif, then
    the JSON object or the text with the gate's result line (``report``: anything with
    ``findings`` and ``exit_code``)."""
    code = gate.exit_code(report)
    cases = gate.cases(report.findings, location)
    write_outputs(f"tokenauction check {args.target[0]}", cases, junit=args.junit_xml,
                  sarif_path=args.sarif, version=version)
    if args.json:
        print(json.dumps({"schema_version": SCHEMA_VERSION, **js, "exit_code": code,
                          "gate": gate_json(gate, cases)}, default=str))
        return code
    print(with_gate_line(text, gate.summary(report)))
    return code


def with_gate_line(text: str, line: str | None) -> str:
    """The report's text, its last line (the result) replaced by the gate's where it has one."""
    return text if line is None else text.rsplit("\n", 1)[0] + "\n" + line


def gate_json(gate, cases) -> dict:
    return {"strict": gate.strict, "min_valid": gate.min_valid,
            "failed": [c.name for c in cases if c.status == "failed"],
            "ignored": [{"property": i.property, "order": i.order, "reason": i.reason}
                        for i in gate.ignore]}


def _caged(args, spec: str, gate) -> int:
    """A user-code target: the search in the cage (properties/cage.py); the gate, JUnit and
    SARIF from the findings that come back."""
    from types import SimpleNamespace
    from properties.cage import check_in_cage
    text, js, code = check_in_cage(spec, dict(options(args), valuation=args.valuation),
                                   paths=args.path)
    if code == 2 and "error" in js and not js.get("refuted"):
        raise InvalidInput(js["error"].split(": error: ")[-1], value=args.target[0])
    if "findings" not in js:  # the target ended, crashed or hung the worker: REFUTED, as is
        return _refuted_target(args, text, js, code)
    own = SimpleNamespace(findings=findings_from_json(js["findings"]), exit_code=code)
    return _finish(args, gate, own, text, js, source_location(spec))


def _refuted_target(args, text: str, js: dict, code: int) -> int:
    """A target that ended, crashed or hung its worker: REFUTED as is (one failed case in
    --junit-xml / --sarif), printed as text or JSON."""
    write_outputs(f"tokenauction check {args.target[0]}",
                  [Case("target", "failed", js.get("error", ""), text, "target",
                        source_location(args.target[0]))],
                  junit=args.junit_xml, sarif_path=args.sarif)
    print(json.dumps({"schema_version": SCHEMA_VERSION, **js}) if args.json else text)
    return code


def check_one(target: str, options: dict) -> tuple[str, dict | None, int]:
    """One target of a zoo (a Dask task): its report as text, JSON and exit code.

    On a Dask worker the worker's own threads use the ``random`` module while hypothesis
    draws, and hypothesis warns (HypothesisDeprecationWarning, "Do not use the `random`
    module inside strategies") once per strategy; our strategies do not use it (an
    in-process run never warns), so that one warning is silenced here. User code (a ``:``
    spec) is caged as for one target (:func:`properties.cage.check_in_cage`)."""
    if ":" in str(target):
        from properties.cage import check_in_cage
        return check_in_cage(absolute_spec(target), options)
    import warnings
    from hypothesis.errors import HypothesisDeprecationWarning
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Do not use the `random` module",
                                    category=HypothesisDeprecationWarning)
            report = check(absolute_spec(target), **options)
    except (InvalidInput, InvalidRule) as exc:
        return f"{target}: error: {exc}", {"target": target, "error": str(exc)}, 2
    report.target = target
    return str(report), report.to_json(), report.exit_code


def _many(args, gate) -> int:
    from properties.audit.cluster import run_tasks

    if args.workers is not None and args.scheduler is not None:
        raise InvalidInput("give --workers or --scheduler, not both", value=args.workers)
    if args.kind == "mechanism" or (args.valuation and ":" in args.valuation):
        raise InvalidInput("several targets take built-in --valuation models and --kind "
                           "rule|payment only; check a mechanism or a valuation file one "
                           "target at a time", value=args.valuation)
    opts = {**options(args), "valuation": args.valuation}
    try:
        results, engine = run_tasks(
            check_one, [(t, opts) for t in args.target], workers=args.workers,
            scheduler=args.scheduler, name="check",
            lost=lambda item, why: (f"{item[0]}: not judged: {why}",
                                    {"target": item[0], "error": why}, 2))
    except (OSError, TimeoutError) as exc:
        raise InvalidInput(f"cannot reach the Dask cluster: {exc}", value=args.scheduler)
    codes, cases = [], []
    for target, (_, j, c) in zip(args.target, results):
        found = findings_from_json(j.get("findings", [])) if "findings" in j else []
        codes.append(c if c not in (0, 1) or not found else
                     max(c if c == 3 else 0, 1 if gate.failures(found) else 0))
        cases += [type(k)(f"{target} {k.name}", k.status, k.message, k.text, k.rule_id,
                          source_location(target), k.seconds)
                  for k in gate.cases(found)]
    code = max(codes)
    write_outputs("tokenauction check", cases, junit=args.junit_xml, sarif_path=args.sarif)
    if args.json:
        print(json.dumps({"schema_version": SCHEMA_VERSION, "engine": engine, "exit_code": code,
                          "reports": [j for _, j, _ in results]}))
        return code
    print("\n\n".join(text for text, _, _ in results))
    print(f"\n{len(results)} targets ({engine}): {sum(c == 0 for c in codes)} passed the gate, "
          f"{sum(c == 1 for c in codes)} refuted or failed the gate, "
          f"{sum(c == 2 for c in codes)} errors (exit {code})")
    return code


def _mechanism(args, valuation, gate) -> int:
    """``check TARGET --kind mechanism``: the mechanism audit, the mechanism in the cage."""
    from properties.audit.implementation import audit_mechanism
    from properties.cage import CageFailure, caged_mechanism, failed_loading
    try:
        obj = caged_mechanism(args.target[0], None, args.path, args.timeout)
    except CageFailure as exc:  # its code ended or broke its loading: a finding (exit 1)
        return _refuted_target(args, *failed_loading("check", args.target[0], exc), 1)
    report = audit_mechanism(obj, max_examples=args.max_examples,
                             seed=args.seed, timeout=args.timeout, budget_s=args.budget,
                             valuation=valuation, reports=args.reports)
    return _finish(args, gate, report, report.summary(), report.to_json(),
                   source_location(args.target[0]))
