"""``tokenauction prove``: run every registered claim and print the theorem table.

Columns: claim, order, size, expected, verdict, engine, seconds. Claims expected to
fail are listed with their counterexamples. Exit 0 when every verdict is as
expected (holds -> PROVED, fails -> REFUTED); 1 when any claim is not, UNKNOWN included
(timeout, an engine that cannot decide, a proof that crashed), each printed with its
reason; 2 for usage errors (an unknown ``--claim``).
"""

from __future__ import annotations

import json
import math
import sys
import time

from mechanism.errors import InvalidInput
from mechanism.outputs import Case, add_output_arguments, check_output_paths, write_outputs
from mechanism.tables import WIDTH, text_table
from mechanism.verdicts import Verdict

from proofs.claims import load_all
from proofs.mechanized import prove_hooks
from proofs.registry import CLAIMS, Limits, ProofResult, as_expected, run_claim

#: The version of the JSON document ``prove --json`` prints (docs/ci.md).
SCHEMA_VERSION = 1


def load_claims() -> list[str]:
    """Import every claim module of :mod:`proofs.claims` (discovered, not listed; a module
    that fails to import is a packaging bug, so it raises). Returns their names."""
    return load_all()


def add_arguments(parser) -> None:
    parser.add_argument("--max-tokens", type=int, default=4, metavar="V",
                        help="largest vocabulary size tried (default 4; 2 to 64)")
    parser.add_argument("--max-grid", type=int, default=6, metavar="M",
                        help="largest number of grid bids tried (default 6; 2 to 64)")
    parser.add_argument("--max-agents", type=int, default=3, metavar="N",
                        help="largest number of agents in rule-level proofs (default 3; 1 to 64)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="S",
                        help="time budget of one claim in seconds (default 60)")
    parser.add_argument("--claim", action="append", metavar="ID",
                        help="run only this claim (repeatable; a prefix ending in * selects "
                             "every claim that starts with it)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--detail", action="store_true",
                        help="print each claim's derivation or solver summary")
    parser.add_argument("--explain", metavar="CLAIM",
                        help="run one claim and print its lemma chain (verdict, engine per lemma)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--strict", action="store_true",
                        help="accepted for symmetry with check and audit: prove is always "
                             "strict (an UNKNOWN claim fails the run)")
    add_output_arguments(parser, "claim")
    prove_hooks.add_arguments(parser)


def _select(patterns) -> list:
    if not patterns:
        return list(CLAIMS.values())
    chosen = []
    for pat in patterns:
        hits = [c for c in CLAIMS.values()
                if (c.id.startswith(pat[:-1]) if pat.endswith("*") else c.id == pat)]
        if not hits:
            raise InvalidInput(f"unknown claim {pat!r}; known: {', '.join(sorted(CLAIMS))}",
                               value=pat)
        chosen += [c for c in hits if c not in chosen]
    return chosen


#: The largest size a bounded claim is asked for (a compiled rule's Bounds stop at 64 too):
#: --max-tokens 100000000 built every size's query before any timeout applied (22 GB)
MAX_SIZE = 64


def _limits(args) -> Limits:
    for name, lo in (("max_tokens", 2), ("max_grid", 2), ("max_agents", 1)):
        if not lo <= getattr(args, name) <= MAX_SIZE:
            raise InvalidInput(f"--{name.replace('_', '-')} must be from {lo} to {MAX_SIZE} "
                               f"(got {getattr(args, name)}): the claims are decided size by "
                               "size, and a larger size would not finish", value=getattr(args, name))
    if not (args.timeout > 0 and math.isfinite(args.timeout)):
        raise InvalidInput("--timeout must be a positive finite number of seconds",
                           value=args.timeout)
    return Limits(max_tokens=args.max_tokens, max_grid=args.max_grid,
                  max_agents=args.max_agents, timeout_s=args.timeout)


def run_table(claims, limits: Limits, progress=None):
    """Run each claim; a crash becomes UNKNOWN with the error (and fails the run).
    ``progress``: called with one line as each claim starts."""
    rows = []
    for i, c in enumerate(claims):
        if progress is not None:
            progress(f"prove: [{i + 1}/{len(claims)}] {c.id}")
        t0 = time.perf_counter()
        try:
            res, crashed = run_claim(c, limits), False
        except Exception as exc:  # a bug in a proof: report it, never hide it
            res = ProofResult(Verdict.UNKNOWN, "-", f"crashed: {type(exc).__name__}: {exc}")
            res.seconds, crashed = time.perf_counter() - t0, True
        rows.append((c, res, crashed))
    return rows


def _fmt_cex(cex) -> str:
    return json.dumps(cex, default=str)


def _print_table(rows, out) -> None:
    """The theorem table; the widest cell (scope and size) comes last, so it wraps."""
    head = ("claim", "order", "expected", "verdict", "engine", "seconds", "scope; size")
    data = [(c.id, c.order or "-", c.expected, str(r.verdict)
             + ("" if as_expected(c, r) and not bad else "  <-- UNEXPECTED"), r.engine,
             f"{r.seconds:.2f}", f"{r.scope.sizes() if r.scope else '-'}; {r.size or '-'}")
            for c, r, bad in rows]
    print(text_table([head, *data], rule=True), file=out)


def explain(claim_id: str, limits: Limits, out) -> int:
    """``--explain``: the claim's verdict, scope and lemma chain, one line per lemma."""
    [(c, r, bad)] = run_table(_select([claim_id]), limits)
    print(f"[{c.id}] {c.statement}\n  verdict {r.verdict} ({r.engine}), expected {c.expected}; "
          f"scope: {r.scope or r.size or '-'}", file=out)
    if not r.lemmas:
        print("  no lemma chain (a bounded proof, or the claim crashed):\n  " + r.detail, file=out)
    for step in r.lemmas:
        print("  " + step.line(), file=out)
    return 0 if as_expected(c, r) and not bad else 1


def main(args) -> int:
    check_output_paths(args)
    load_claims()
    limits = _limits(args)
    if getattr(args, "explain", None):
        return explain(args.explain, limits, sys.stdout)
    claims = _select(args.claim)
    t0 = time.perf_counter()
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    rows = run_table(claims, limits, progress)
    internal = prove_hooks.after_table(args, rows)  # SMT-LIB2 files, the cvc5 re-check
    total = time.perf_counter() - t0
    ok = all(as_expected(c, r) and not bad for c, r, bad in rows)
    _write_outputs(args, rows)
    if args.json:
        print(json.dumps({"schema_version": SCHEMA_VERSION, "claims": [
            {"claim": c.id, "order": c.order, "size": r.size, "expected": c.expected,
             "scope": r.scope.to_json() if r.scope else None,
             "lemmas": [vars(s) for s in r.lemmas],
             "verdict": str(r.verdict), "engine": r.engine, "seconds": round(r.seconds, 4),
             "counterexample": r.counterexample, "statement": c.statement,
             "as_expected": as_expected(c, r) and not bad, "detail": r.detail,
             **prove_hooks.json_fields(c, r)}
            for c, r, bad in rows], "ok": ok, "seconds": round(total, 3),
            "second_solver": prove_hooks.totals(rows)}, default=str, indent=1))
        return internal or (0 if ok else 1)
    out = sys.stdout
    _print_table(rows, out)
    off = [c.id for c, r, bad in rows if bad or not as_expected(c, r)]
    _print_details(rows, args.detail, out)
    code = internal or (0 if ok else 1)
    print(f"\n{prove_hooks.totals(rows)}", file=out)
    print(f"\n{len(rows)} claims in {total:.1f} s; "
          + ("all as expected" if ok else f"{len(off)} NOT AS EXPECTED: {', '.join(off)}")
          + f" (exit {code})", file=out)
    return code


def _wrap(text: str, indent: str = "  ") -> str:
    """Detail lines wrapped at :data:`mechanism.tables.WIDTH` columns."""
    import textwrap
    return "\n".join(textwrap.fill(line, WIDTH, subsequent_indent=indent + "  ",
                                    break_on_hyphens=False) if len(line) > WIDTH else line
                      for line in text.splitlines())


def _write_outputs(args, rows) -> None:
    """--junit-xml / --sarif: one case per claim, failed when not as expected."""
    if not (args.junit_xml or args.sarif):
        return
    cases = [Case(c.id + (f":{c.order}" if c.order else ""),
                  "passed" if as_expected(c, r) and not bad else "failed",
                  f"expected {c.expected}, got {r.verdict} ({r.engine}): "
                  + " ".join(str(r.detail).split())[:300], rule_id=c.id, seconds=r.seconds)
             for c, r, bad in rows]
    write_outputs("tokenauction prove", cases, junit=args.junit_xml, sarif_path=args.sarif)


def _print_details(rows, detail: bool, out) -> None:
    for c, r, bad in rows:
        if c.expected == "fails" or r.verdict is Verdict.REFUTED or bad or detail \
                or not as_expected(c, r):
            print(_wrap(f"\n[{c.id}] {c.statement}\n  expected {c.expected}: {r.verdict} "
                        f"({r.engine})"), file=out)
            if r.scope is not None and (detail or r.verdict is Verdict.PROVED):
                print(_wrap(f"  scope: {r.scope}"), file=out)
            if r.counterexample is not None:
                print(_wrap(f"  counterexample: {_fmt_cex(r.counterexample)}"), file=out)
            if detail or bad or not as_expected(c, r) or r.counterexample is None:
                print(_wrap("  " + r.detail.replace("\n", "\n  ")), file=out)
