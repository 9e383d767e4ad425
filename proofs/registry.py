"""The theorem table's registry: every proof function registers a claim here.

A claim function takes the size limits and returns a :class:`ProofResult`; the
``prove`` command runs every registered claim and compares the verdict with the
claim's expected outcome ("holds" -> PROVED, "fails" -> REFUTED with a counterexample).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from mechanism.verdicts import Scope, Verdict


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
    lemmas: list = field(default_factory=list)  #: proofs.lemmas.Step of an unbounded proof's chain


@dataclass(frozen=True)
class Claim:
    id: str                         #: stable id, cited in docs/theory.md
    statement: str
    expected: str                   #: "holds" or "fails"
    fn: Callable[[Limits], ProofResult] = field(compare=False)
    order: str | None = None


CLAIMS: dict[str, Claim] = {}


def claim(id: str, statement: str, *, expected: str = "holds", order: str | None = None):
    """Decorator: register ``fn(limits) -> ProofResult`` as claim ``id``."""
    if expected not in ("holds", "fails"):
        raise ValueError(f"expected must be 'holds' or 'fails', not {expected!r}")

    def register(fn):
        if id in CLAIMS:
            raise ValueError(f"claim id {id!r} registered twice")
        CLAIMS[id] = Claim(id, statement, expected, fn, order)
        return fn

    return register


def run_claim(c: Claim, limits: Limits) -> ProofResult:
    t0 = time.perf_counter()
    res = c.fn(limits)
    res.seconds = time.perf_counter() - t0
    return res


def as_expected(c: Claim, res: ProofResult) -> bool:
    """A claim expected to hold must not be REFUTED; one expected to fail must not be PROVED."""
    if c.expected == "holds":
        return res.verdict is not Verdict.REFUTED
    return res.verdict is not Verdict.PROVED
