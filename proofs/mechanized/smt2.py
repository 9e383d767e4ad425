"""SMT-LIB2 copies of the z3 queries of the theorem table (docs/theory.md section 10).

Every z3 query of :mod:`proofs` goes through :func:`proofs.encode.encode_z3.solve`, which
calls :func:`note` with its solver and answer. Inside :func:`recording` (one per claim,
opened by :func:`proofs.registry.run_claim`) each query is kept as a :class:`Query`: the
solver's own ``to_smt2()`` text, made self-contained with ``(set-logic ALL)``, and z3's
answer. :func:`emit` writes them as files for any SMT-LIB2 solver;
:mod:`proofs.mechanized.cvc5_check` re-checks them with cvc5.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mechanism.errors import InvalidInput

_STACK: list[list] = []


@dataclass(frozen=True)
class Query:
    smt2: str          #: a complete SMT-LIB2 script ending in (check-sat)
    z3: str            #: z3's answer: "sat", "unsat" or "unknown"


@contextmanager
def recording():
    """Collect the z3 queries asked inside the block (a list of :class:`Query`)."""
    queries: list[Query] = []
    _STACK.append(queries)
    try:
        yield queries
    finally:  # by identity: two recordings with equal contents are different lists
        del _STACK[next(i for i in range(len(_STACK) - 1, -1, -1) if _STACK[i] is queries)]


def active() -> bool:
    return bool(_STACK)


_DROP = re.compile(r"^\s*\((set-logic|set-info :status)\b.*$", re.MULTILINE)


def script(solver) -> str:
    """The solver's assertions as one SMT-LIB2 script for any solver."""
    body = _DROP.sub("", solver.to_smt2())
    return "(set-logic ALL)\n" + body.strip() + "\n"


def note(solver, answer) -> None:
    """Called by the z3 query function after each ``check()``."""
    if _STACK:
        q = Query(script(solver), str(answer))
        for queries in _STACK:
            queries.append(q)


def replay(queries) -> None:
    """Queries answered earlier (a cached lemma) count for the recordings open now, so
    every claim that uses the lemma carries its queries."""
    for q in queries:
        for recorded in _STACK:
            recorded.append(q)


def emit(directory: str, batches: dict[str, list[Query]]) -> int:
    """Write ``DIR/<claim>/<k>.smt2`` (z3's answer in a leading comment); returns the number
    of files. A directory that cannot be created is a clear error."""
    root = Path(directory)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"--emit-smt2: cannot create {directory!r}: {exc}; give a writable "
                           "directory", value=directory) from None
    count = 0
    for claim_id, queries in batches.items():
        if not queries:
            continue
        sub = root / re.sub(r"[^A-Za-z0-9_.-]", "_", claim_id)
        sub.mkdir(exist_ok=True)
        for k, q in enumerate(queries):
            (sub / f"{k:03d}.smt2").write_text(f"; claim {claim_id}, query {k}; z3 answered "
                                               f"{q.z3}\n" + q.smt2)
            count += 1
    return count
