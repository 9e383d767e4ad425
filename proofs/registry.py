"""The theorem table's registry: every proof function registers a claim here.

A claim function takes the size limits and returns a :class:`ProofResult`; the
``prove`` command runs every registered claim and compares the verdict with the
claim's expected outcome ("holds" -> PROVED, "fails" -> REFUTED with a counterexample;
anything else, UNKNOWN included, is not as expected).

Every claim declares its scope (``scope=``: a :class:`mechanism.verdicts.Scope`, or a
function of the :class:`Limits`): what a PROVED covers, as data. :func:`run_claim` fills it
into the result; a PROVED without a scope, or whose own scope differs from the declared
one, is turned into UNKNOWN (a bug in the claim, reported, never a silent overclaim).
docs/theory.md states each claim's scope; tests/proofs/test_theory_doc.py ties the two.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from mechanism.verdicts import Scope, Verdict

from proofs.mechanized import smt2


@dataclass(frozen=True)
class Limits:
    max_tokens: int = 4     #: largest vocabulary size V tried
    max_grid: int = 6       #: largest number of grid bids tried
    max_agents: int = 3
    timeout_s: float = 60.0


@dataclass
class ProofResult:
    verdict: Verdict
    engine: str                     #: "sympy", "z3", "numpy"
    detail: str = ""                #: the derivation, or what was checked
    size: str = ""                  #: e.g. "V<=4, grid<=6"
    counterexample: dict | None = None
    seconds: float = 0.0
    scope: Scope | None = None      #: what a PROVED covers, as data (``size`` is its old text form)
    lemmas: list = field(default_factory=list)  #: proofs.unbounded.chains.Step of an unbounded proof's chain
    queries: list = field(default_factory=list)  #: its z3 queries as SMT-LIB2 (proofs.mechanized.smt2)
    second_solver: object = None    #: proofs.mechanized.cvc5_check.Recheck of those queries


@dataclass(frozen=True)
class Claim:
    id: str                         #: stable id, cited in docs/theory.md
    statement: str
    expected: str                   #: "holds" or "fails"
    fn: Callable[[Limits], ProofResult] = field(compare=False)
    order: str | None = None
    scope: object = field(default=None, compare=False)  #: Scope or Limits -> Scope

    def scope_for(self, limits: Limits) -> Scope | None:
        """The declared scope at these limits."""
        return self.scope(limits) if callable(self.scope) else self.scope


CLAIMS: dict[str, Claim] = {}


def claim(id: str, statement: str, *, expected: str = "holds", order: str | None = None,
          scope=None):
    """Decorator: register ``fn(limits) -> ProofResult`` as claim ``id`` with its declared
    ``scope`` (a Scope or ``limits -> Scope``)."""
    if expected not in ("holds", "fails"):
        raise ValueError(f"expected must be 'holds' or 'fails', not {expected!r}")

    def register(fn):
        if id in CLAIMS:
            raise ValueError(f"claim id {id!r} registered twice")
        CLAIMS[id] = Claim(id, statement, expected, fn, order, scope)
        return fn

    return register


def declare_scope(id: str, scope) -> None:
    """Declare what claim ``id`` covers when PROVED: a Scope or ``limits -> Scope``
    (written under the claims of each module, so that decorators stay short)."""
    from dataclasses import replace
    if id not in CLAIMS:
        raise ValueError(f"declare_scope: unknown claim {id!r}")
    CLAIMS[id] = replace(CLAIMS[id], scope=scope)


def run_claim(c: Claim, limits: Limits) -> ProofResult:
    t0 = time.perf_counter()
    with smt2.recording() as queries:  # every z3 query, for the second solver
        res = c.fn(limits)
    res.queries = queries
    declared = c.scope_for(limits)
    if res.scope is None:
        res.scope = declared
    if res.verdict is Verdict.PROVED and (res.scope is None or res.scope != declared):
        why = ("has no recorded scope" if res.scope is None else
               f"recorded the scope [{res.scope}] but declares [{declared}]")
        res.detail = f"PROVED but the claim {why} (a bug in the claim)\n" + res.detail
        res.verdict = Verdict.UNKNOWN
    res.seconds = time.perf_counter() - t0
    return res


def as_expected(c: Claim, res: ProofResult) -> bool:
    """A claim expected to hold must be PROVED; one expected to fail must be REFUTED.
    UNKNOWN, NOT_REFUTED and SKIPPED are never as expected: ``prove`` says what it did."""
    return res.verdict is (Verdict.PROVED if c.expected == "holds" else Verdict.REFUTED)
