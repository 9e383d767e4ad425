"""Re-check every recorded z3 query with cvc5 (docs/theory.md section 10).

:func:`recheck` sends the distinct SMT-LIB2 scripts of :mod:`proofs.mechanized.smt2` to a
worker process (``python -m proofs.mechanized.cvc5_check``, so a cvc5 that hangs or
crashes cannot take ``prove`` with it), shortest first, within a total budget: a first
pass shares half of it evenly (``left / remaining`` each, at least ``MIN_LIMIT_S``), a
second pass shares the rest among the queries that timed out under less than
``PER_QUERY_S`` (each up to ``PER_QUERY_S``; one that had it already is not asked twice).
Every query is tried (each with the :data:`ATTEMPTS` in turn); a hard one ends as an
explicit timeout. Each claim gets a
:class:`Recheck`: how many of its queries cvc5 answered alike, how many it could not
decide in time (``timeout``), left open (``unknown``), could not read (``error``) or never
reached (``not run``: the budget was spent), and every disagreement -- z3 and cvc5 giving
opposite definite answers, which ``prove`` treats as an internal error (exit 3).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PER_QUERY_S = 2.0   #: the longest time one query may take
BUDGET_S = 60.0     #: the total, shared by the queries still to come
MIN_LIMIT_S = 0.05
GRACE_S = 0.5     #: how long past its limit a tried configuration may run


def installed() -> str | None:
    """cvc5's version, or None when its Python package is not installed."""
    if importlib.util.find_spec("cvc5") is None:
        return None
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("cvc5")
    except PackageNotFoundError:
        return "?"


# -- SMT-LIB2 clean-up: z3 prints one-argument sums and products, (+ x), which the
#    standard (and cvc5) reject; they are the argument itself.
_TOKEN = re.compile(r'\(|\)|"(?:[^"]|"")*"|\|[^|]*\||;[^\n]*|[^\s()";|]+')


def standard(text: str) -> str:
    """``text`` with z3's one-argument ``+`` and ``*`` removed (standard SMT-LIB2). One pass
    over the tokens with a stack (z3's ``let`` chains nest too deep for recursion)."""
    out: list[str] = []
    frames: list[list] = []          # [output position of "(", number of items, head]
    for m in _TOKEN.finditer(text):
        t = m.group()
        if t[0] == ";":
            continue
        if t == "(":
            if frames:
                frames[-1][1] += 1
            frames.append([len(out), 0, None])
            out.append(t)
        elif t == ")":
            if not frames:
                raise ValueError("unbalanced ')' in SMT-LIB2 text")
            pos, items, head = frames.pop()
            if head in ("+", "*") and items == 2:
                del out[pos:pos + 2]     # "(+ x)" is x
            else:
                out.append(t)
        else:
            if frames:
                f = frames[-1]
                if f[1] == 0:
                    f[2] = t
                f[1] += 1
            out.append(t)
    if frames:
        raise ValueError("unbalanced '(' in SMT-LIB2 text")
    pieces = []
    for k, t in enumerate(out):
        if k and out[k - 1] != "(" and t != ")":
            pieces.append(" ")
        pieces.append(t)
    return "".join(pieces) + "\n"


#: the configurations tried on one query, in order until one is definite, each with at
#: most this many seconds (``None``: what is left of the query's limit). Cylindrical
#: algebraic coverings alone (``nl-cov`` without the incremental linearization ``nl-ext``,
#: complete for quantifier-free real arithmetic) answer the table's queries in a fraction
#: of a second, including the nonlinear ones (a weight b/(1+b^2)) the defaults cannot
#: decide in 2 s; where they say "incomplete" (a query outside that fragment) cvc5's
#: defaults get the rest. Each configuration is a decision procedure of its own: which one
#: answered changes the time, never the answer.
#: A script with an integer sort gets the defaults alone: coverings are a procedure for
#: the reals, and on nonlinear integers cvc5 does not stop at its time limit there.
ATTEMPTS = (((("nl-ext", "none"), ("nl-cov", "true")), 0.5), ((), None))
_INTEGER = re.compile(r"\bInt\b")


def _check(text: str, limit_s: float, options) -> str:
    """cvc5's answer to one script under ``options``: sat, unsat, timeout, unknown (...)."""
    import cvc5
    tm = cvc5.TermManager()
    slv = cvc5.Solver(tm)
    slv.setOption("tlimit-per", str(max(1, int(limit_s * 1000))))
    for key, value in options:
        slv.setOption(key, value)
    sm = cvc5.SymbolManager(tm)
    parser = cvc5.InputParser(slv, sm)
    parser.setStringInput(cvc5.InputLanguage.SMT_LIB_2_6, text, "query")
    result = "error: no (check-sat) in the script"
    while True:
        cmd = parser.nextCommand()
        if cmd.isNull():
            return result
        if cmd.getCommandName() == "check-sat":
            r = slv.checkSat()
            if r.isSat():
                return "sat"
            if r.isUnsat():
                return "unsat"
            why = str(r.getUnknownExplanation())
            return "timeout" if "TIMEOUT" in why or "RESOURCE" in why else f"unknown ({why})"
        cmd.invoke(slv, sm)


def _forked(text: str, limit_s: float, options) -> str:
    """:func:`_check` in a forked child, killed ``GRACE_S`` after its limit: a configuration
    that does not stop at its own time limit (coverings on some divisions do not) cannot
    hang the worker. Where there is no fork the configuration is not tried (None)."""
    if not hasattr(os, "fork"):
        return "unknown (no fork)"
    try:  # loaded before the fork, so each child starts with the library (it was imported
        import cvc5  # noqa: F401 - anew in every child: ~30 ms CPU per query)
    except ImportError:  # the child says so
        pass
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer, write, leave at once
        try:
            os.close(r)
            a = _check(text, limit_s, options)
        except BaseException as exc:  # noqa: BLE001 - an option this cvc5 lacks
            a = f"unknown ({type(exc).__name__})"
        os.write(w, a.encode()[:4000])
        os._exit(0)
    os.close(w)
    a = ""
    try:
        ready, _, _ = select.select([r], [], [], limit_s + GRACE_S)
        a = os.read(r, 4096).decode() if ready else ""
    finally:
        if not a:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)
    return a or "timeout"


def answer(text: str, limit_s: float) -> str:
    """cvc5's answer to one script within ``limit_s`` in all: sat, unsat, timeout, unknown
    or error: ... (the :data:`ATTEMPTS` in turn until one is definite; timeout when one
    ran out of time and none answered)."""
    text, deadline, got = standard(text), time.monotonic() + limit_s, []
    for options, cap in ATTEMPTS if not _INTEGER.search(text) else ATTEMPTS[-1:]:
        left = deadline - time.monotonic()
        if got and left <= 0:
            break
        limit = left if cap is None else min(cap, left)
        a = _forked(text, limit, options) if options else _check(text, limit, options)
        if a in ("sat", "unsat") or a.startswith("error"):
            return a
        got.append(a)
    return "timeout" if "timeout" in got else got[-1]


def _worker() -> None:
    """stdin: {"texts": [...], "limit_s", "budget_s"}; one JSON line per answer (a later line
    for the same query replaces an earlier timeout)."""
    job = json.loads(sys.stdin.read())
    texts, t0 = job["texts"], time.monotonic()
    todo = list(range(len(texts)))
    # pass 1: half the budget shared evenly (the quick queries); pass 2: the rest shared
    # by the queries that timed out, each up to limit_s (a query that timed out with the
    # whole limit_s already is not asked again with the same limit)
    for share in (0.5, 1.0):
        later = []
        for pos, k in enumerate(todo):
            left = job["budget_s"] * share - (time.monotonic() - t0)
            if left <= MIN_LIMIT_S and share == 1.0:
                break  # the first pass tries every query, even past its share
            limit = min(job["limit_s"], max(MIN_LIMIT_S, left / (len(todo) - pos)))
            try:
                a = answer(texts[k], limit)
            except Exception as exc:  # a script cvc5 cannot read: said, never hidden
                a = f"error: {type(exc).__name__}: {str(exc)[:200]}"
            print(json.dumps([k, a]), flush=True)
            if a == "timeout" and limit < job["limit_s"]:
                later.append(k)
        todo = later


@dataclass
class Recheck:
    solver: str
    counts: dict = field(default_factory=dict)   #: outcome -> number of queries
    disagreements: list = field(default_factory=list)
    limit_s: float = PER_QUERY_S
    answers: list = field(default_factory=list)  #: [z3, cvc5] per query, in order

    def line(self) -> str:
        n = sum(self.counts.values())
        parts = ", ".join(f"{v} {k}" for k, v in sorted(self.counts.items()) if v)
        return f"{self.solver} re-checked {n} z3 queries: {parts or 'none'}" + \
            (f" (time limit <= {self.limit_s:g} s per query, the budget shared by all queries)"
             if self.counts.get("timeout") else "")

    def to_json(self) -> dict:
        return {"solver": self.solver, "counts": self.counts, "limit_s": self.limit_s,
                "disagreements": self.disagreements, "answers": self.answers}


def _outcome(z3_answer: str, cvc: str | None) -> str:
    if cvc is None:
        return "not run (budget spent)"
    if cvc in ("sat", "unsat"):
        if z3_answer not in ("sat", "unsat"):
            return "z3 unknown"
        return "agree" if cvc == z3_answer else "DISAGREE"
    return cvc.split(" ")[0].rstrip(":")


def recheck(batches: dict, budget_s: float = BUDGET_S, limit_s: float = PER_QUERY_S) -> dict:
    """claim id -> :class:`Recheck` (a claim without z3 queries gets none)."""
    version = installed()
    if version is None:
        return {cid: Recheck("cvc5 not installed") for cid, qs in batches.items() if qs}
    texts = sorted({q.smt2 for qs in batches.values() for q in qs}, key=len)
    answers: dict[str, str] = {}
    if texts:
        root = str(Path(__file__).resolve().parents[2])  # this checkout's proofs package
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
        proc = subprocess.Popen([sys.executable, "-m", "proofs.mechanized.cvc5_check"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                env=env)
        try:
            out, _ = proc.communicate(json.dumps({"texts": texts, "limit_s": limit_s,
                                                  "budget_s": budget_s}),
                                      timeout=budget_s + MIN_LIMIT_S * len(texts) + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        for line in out.splitlines():
            try:
                k, a = json.loads(line)
                answers[texts[k]] = a
            except (ValueError, IndexError, TypeError):
                continue
    result = {}
    for cid, qs in batches.items():
        if not qs:
            continue
        rc = Recheck(f"cvc5 {version}", limit_s=limit_s)
        for i, q in enumerate(qs):
            o = _outcome(q.z3, answers.get(q.smt2))
            rc.counts[o] = rc.counts.get(o, 0) + 1
            rc.answers.append([q.z3, answers.get(q.smt2, "not run")])
            if o == "DISAGREE":
                rc.disagreements.append({"query": i, "z3": q.z3, "cvc5": answers[q.smt2]})
        result[cid] = rc
    return result


if __name__ == "__main__":
    _worker()
