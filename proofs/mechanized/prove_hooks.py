"""What ``tokenauction prove`` adds for the independent checks (docs/theory.md section
10): ``--emit-smt2 DIR``, the cvc5 re-check of every z3 query (``--no-cvc5``,
``--cvc5-budget``), and the Coq theorems of the unbounded claims in ``--json``.
A z3/cvc5 disagreement is an internal error: exit 3."""

from __future__ import annotations

import sys

from proofs.mechanized import smt2
from proofs.mechanized.cvc5_check import BUDGET_S, PER_QUERY_S, Recheck, recheck

INTERNAL_ERROR = 3


def _positive(text: str) -> float:
    import argparse
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"--cvc5-budget must be a positive number of seconds, "
                                         f"not {text!r}")
    return value


def _directory(text: str) -> str:
    """--emit-smt2 DIR: created now, so an unwritable path fails before the table runs."""
    import argparse
    import os
    try:
        os.makedirs(text, exist_ok=True)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"--emit-smt2: cannot create {text!r} ({exc}); "
                                         "give a writable directory")
    return text


def add_arguments(parser) -> None:
    parser.add_argument("--emit-smt2", metavar="DIR", type=_directory,
                        help="write every z3 query as SMT-LIB2 under DIR/<claim>/")
    parser.add_argument("--no-cvc5", action="store_true",
                        help="do not re-check the z3 queries with cvc5")
    parser.add_argument("--cvc5-budget", type=_positive, default=BUDGET_S, metavar="S",
                        help=f"total seconds for the cvc5 re-check (default {BUDGET_S:g}; "
                             f"{PER_QUERY_S:g} s per query)")


def after_table(args, rows, err=None) -> int | None:
    """Emit and re-check the recorded queries; attach each claim's :class:`Recheck`.
    Returns :data:`INTERNAL_ERROR` when z3 and cvc5 disagree, else None."""
    err = err or sys.stderr
    batches = {c.id: r.queries for c, r, _ in rows}
    if getattr(args, "emit_smt2", None):
        n = smt2.emit(args.emit_smt2, batches)
        print(f"prove: wrote {n} SMT-LIB2 files under {args.emit_smt2}", file=err)
    if getattr(args, "no_cvc5", False):
        checks = {cid: Recheck("cvc5 not run (--no-cvc5)") for cid, qs in batches.items() if qs}
    else:
        checks = recheck(batches, getattr(args, "cvc5_budget", BUDGET_S))
    bad = []
    for c, r, _ in rows:
        r.second_solver = checks.get(c.id)
        if r.second_solver is not None:
            r.detail = (r.detail + "\n" if r.detail else "") + r.second_solver.line()
            bad += [(c.id, d) for d in r.second_solver.disagreements]
    for cid, d in bad:
        print(f"INTERNAL ERROR: z3 and cvc5 disagree on query {d['query']} of {cid}: "
              f"z3 {d['z3']}, cvc5 {d['cvc5']} (see --emit-smt2)", file=err)
    return INTERNAL_ERROR if bad else None


def totals(rows) -> str:
    """One line: the second solver's answers over the whole table."""
    counts: dict = {}
    for _, r, _ in rows:
        if r.second_solver is not None:
            for k, v in r.second_solver.counts.items():
                counts[k] = counts.get(k, 0) + v
    if not counts:
        return "no z3 queries re-checked"
    names = {r.second_solver.solver for _, r, _ in rows if r.second_solver is not None}
    return f"{'/'.join(sorted(names))}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))


def json_fields(claim, res) -> dict:
    from proofs.mechanized.theorems import claim_info
    return {"second_solver": None if res.second_solver is None else res.second_solver.to_json(),
            "coq": claim_info(claim.id)}
