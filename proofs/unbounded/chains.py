"""Lemma chains of the unbounded claims (docs/theory.md, section 8): the registry of
lemmas (each a z3 or sympy query over a few reals, or an *argument* written in its
statement), their cached verdicts, and the :class:`Chain` a claim strings them into.

The lemmas themselves live by concept in :mod:`proofs.unbounded.lemmas` (per-token core,
aggregates), :mod:`proofs.unbounded.lemmas_mixture` and :mod:`proofs.unbounded.lemmas_theorem`;
each registers itself here with :func:`lemma` or :func:`argument` and asks its z3 queries
through :func:`z3_verdict`.
"""

from __future__ import annotations

import functools
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

from mechanism.verdicts import Verdict

from proofs.encode import encode_z3 as E
from proofs.mechanized import smt2
from proofs.mechanized.theorems import COQ_CHECKED, coq_note, mark

ARGUED = "ARGUED"  #: the verdict shown for a step that is an argument, not a solver query
_SOUND = (str(Verdict.PROVED), ARGUED, COQ_CHECKED)  #: step verdicts a PROVED chain may have


@dataclass(frozen=True)
class Lemma:
    id: str
    statement: str
    engine: str                              #: "z3", "sympy" or "argument"
    check: Callable[[float], Verdict] | None = field(default=None, compare=False)


LEMMAS: dict[str, Lemma] = {}
_CACHE: dict[str, Verdict] = {}
_QUERIES: dict[str, list] = {}  #: the z3 queries each cached lemma asked


def lemma(id: str, statement: str, engine: str = "z3"):
    def register(fn):
        LEMMAS[id] = Lemma(id, statement, engine, fn)
        return fn
    return register


def argument(id: str, statement: str) -> None:
    """A step proved by the argument written in its statement (no solver)."""
    LEMMAS[id] = Lemma(id, statement, "argument", None)


def load_lemmas() -> None:
    """Register every lemma (deferred: the lemma modules import this one)."""
    import proofs.unbounded.lemmas  # noqa: F401 - registers the core and imports the others


def all_lemmas() -> dict[str, Lemma]:
    """Every registered lemma, by id (the lemma modules loaded first)."""
    load_lemmas()
    return LEMMAS


def verdict_of(id: str, timeout_s: float = 20.0) -> str:
    """The lemma's verdict (cached per process; :func:`clear_cache` after planting)."""
    if id not in LEMMAS:
        load_lemmas()
    lem = LEMMAS[id]
    if lem.check is None:
        return ARGUED
    if id not in _CACHE:
        with smt2.recording() as _QUERIES[id]:  # kept: a claim that reuses it re-checks them
            try:
                _CACHE[id] = lem.check(timeout_s)
            except Exception as exc:  # a crash in a lemma is UNKNOWN, never PROVED
                _CACHE[id] = Verdict.UNKNOWN
                LEMMA_ERRORS[id] = f"{type(exc).__name__}: {exc}"
    else:
        smt2.replay(_QUERIES.get(id, ()))
    return str(_CACHE[id])


LEMMA_ERRORS: dict[str, str] = {}


def clear_cache() -> None:
    _CACHE.clear()
    _QUERIES.clear()
    LEMMA_ERRORS.clear()


@contextmanager
def weakened(id: str, **kw):
    """Planted bug for tests: lemma ``id`` checked with ``kw`` (e.g. ``drop=("c <= 1",)``,
    a hypothesis left out), so its solver query is no longer valid."""
    old = LEMMAS[id]
    LEMMAS[id] = Lemma(old.id, old.statement + " [WEAKENED]", old.engine,
                       functools.partial(old.check, **kw))
    clear_cache()
    try:
        yield
    finally:
        LEMMAS[id] = old
        clear_cache()


@dataclass
class Step:
    id: str
    statement: str
    engine: str
    verdict: str
    seconds: float = 0.0

    def line(self) -> str:
        return f"{self.verdict:<8} {self.engine:<9} {self.id}: {self.statement}"


@dataclass
class Chain:
    """The lemma chain of one unbounded claim: every solver step must be PROVED."""
    steps: list[Step]

    @property
    def proved(self) -> bool:
        return all(s.verdict in _SOUND for s in self.steps) and \
            any(s.verdict == str(Verdict.PROVED) for s in self.steps)

    def failing(self) -> list[Step]:
        return [s for s in self.steps if s.verdict not in _SOUND]

    def engines(self) -> str:
        return "+".join(sorted({s.engine for s in self.steps if s.engine != "argument"})) or "-"

    def summary(self) -> str:
        n = sum(s.verdict == str(Verdict.PROVED) for s in self.steps)
        a = sum(s.verdict == ARGUED for s in self.steps)
        k = sum(s.verdict == COQ_CHECKED for s in self.steps)
        bad = ", ".join(f"{s.id}={s.verdict}" for s in self.failing())
        return (f"{n} lemmas proved, {k} steps Coq-checked, {a} argued steps"
                + (f" ({coq_note()})" if a else "") + (f"; NOT proved: {bad}" if bad else ""))


def run_chain(ids, timeout_s: float = 20.0, extra: list[Step] | None = None) -> Chain:
    steps = []
    for id in ids:
        t0 = time.perf_counter()
        v = verdict_of(id, timeout_s)
        lem = LEMMAS[id]
        step = Step(id, lem.statement, lem.engine, v, time.perf_counter() - t0)
        steps.append(mark(step))  # Coq-checked (ARGUED steps) or "also Coq" when it is
    return Chain(steps + [mark(s) if s.verdict == ARGUED else s for s in extra or []])


def z3_verdict(hyps, goal, timeout_s: float, nonlinear: bool = False) -> Verdict:
    """The verdict of one lemma's z3 query: PROVED when "hypotheses and not goal" is unsat
    (:func:`proofs.encode.encode_z3.prove`, the prover every lemma module shares)."""
    return E.prove(hyps, goal, timeout_s, nonlinear)[0]
