"""Reduction lemmas for proofs over every number of agents n and tokens V
(docs/theory.md, section 8 "Proofs for every n and V").

Each lemma is a statement over a FIXED, small number of reals (one or two tokens, two
other parties, aggregates), proved once by z3 (unsat of "hypotheses and not goal") or
sympy. A :class:`Chain` strings lemmas together with the *arguments* that lift them to
every n and V; the arguments are written here, in the docstrings, and are not checked
by a solver (``engine="argument"``, shown as ARGUED by ``tokenauction prove --explain``).

V-free (per token). The box order is a per-token condition: ``q' ⪰ q`` iff for every
token t, ``q'(t)`` lies between ``q(t)`` and ``p(t)``. So a lemma over ONE token whose
values range over all reals (or [0, 1]) implies the property for every V: dropping the
simplex only weakens the hypotheses. The segment order is box plus a condition on every
PAIR of tokens (all 2x2 cross products vanish, :func:`proofs.encode.encode_z3.segment`), so a
lemma over two tokens implies it for every V (lemmas ``seg_pair`` and ``seg_global``).
Conversely, for V >= 2 a one-token instance with values in [0, 1] extends to a
distribution (the remaining mass on a second token), so a one-token counterexample is a
counterexample for every V >= 2 (pad with tokens of probability 0).

n-free (aggregates). For a mixture ``q = sum_j w_j p_j`` (weights >= 0, summing to 1)
agent i's token value is ``q(t) = (1 - R) a + M`` with ``a = p_i(t)``, ``R`` the other
parties' total weight and ``M`` their weighted mass on t. If raising i's bid scales
every other weight by one common ``c``, then ``R' = c R`` and ``M' = c M`` for ANY
number of parties (lemma ``distrib``: the step of an induction over the parties, base
``0 = c 0``), so lemma ``agg`` over the four aggregates covers every n.
"""

from __future__ import annotations

import functools
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import z3

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


def verdict_of(id: str, timeout_s: float = 20.0) -> str:
    """The lemma's verdict (cached per process; :func:`clear_cache` after planting)."""
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


def _prove(hyps, goal, timeout_s, nonlinear=False) -> Verdict:
    return E.prove(hyps, goal, timeout_s, nonlinear)[0]


# ---------------------------------------------------------------------------
# Mixtures: the per-token core (V-free) and the aggregates (n-free)
# ---------------------------------------------------------------------------

argument("v_free_box", "box is a per-token condition: a one-token lemma over all reals "
         "implies MON for every V (dropping the simplex only weakens the hypotheses)")
argument("v_free_segment", "segment is box plus a condition on every pair of tokens: a "
         "two-token lemma implies it for every V")
argument("mixture_form", "the rule is a mixture q = sum_j w_j(b) p_j with weights >= 0 "
         "summing to 1 that depend on the bids only")


@lemma("distrib", "n-induction step: R' = cR and M' = cM imply R' + c w = c (R + w) and "
       "M' + c w x = c (M + w x); base 0 = c 0, so every n")
def _distrib(timeout_s):
    R, R2, M, M2, c, w, x = z3.Reals("R R2 M M2 c w x")
    return _prove([R2 == c * R, M2 == c * M],
                  z3.And(R2 + c * w == c * (R + w), M2 + c * w * x == c * (M + w * x)),
                  timeout_s)


@lemma("agg", "aggregates: q = (1-R) a + M and q' = (1-cR) a + cM give q' - a = c (q - a)")
def _agg(timeout_s):
    a, R, M, c, q, q2 = z3.Reals("a R M c q q2")
    return _prove([q == (1 - R) * a + M, q2 == (1 - c * R) * a + c * M],
                  q2 - a == c * (q - a), timeout_s)


#: the hypotheses of lemma ``between``, by name (planted-bug tests drop one)
BETWEEN_HYPS = ("c >= 0", "c <= 1")


@lemma("between", "per token, all reals: q' = a + c (q - a) with 0 <= c <= 1 puts q' "
       "between q and a (box, V-free)")
def _between(timeout_s, drop: tuple = ()):
    a, q, q2, c = z3.Reals("a q q2 c")
    hyps = {"c >= 0": c >= 0, "c <= 1": c <= 1}
    return _prove([q2 == a + c * (q - a)] + [h for k, h in hyps.items() if k not in drop],
                  E.between(q, q2, a), timeout_s)


@lemma("seg_pair", "two tokens: q'_t = a_t + c (q_t - a_t) for t, u makes their cross "
       "product (q'_t - q_t)(a_u - q_u) - (q'_u - q_u)(a_t - q_t) vanish")
def _seg_pair(timeout_s):
    at, au, qt, qu, c = z3.Reals("at au qt qu c")
    q2t, q2u = at + c * (qt - at), au + c * (qu - au)
    return _prove([], (q2t - qt) * (au - qu) - (q2u - qu) * (at - qt) == 0, timeout_s, True)


@lemma("seg_global", "two tokens: box on t0 with p(t0) != q(t0) and a vanishing cross "
       "product give q'_u - q_u = alpha (p_u - q_u) with one alpha = (q'_t0 - q_t0)/(p_t0 - q_t0) "
       "in [0, 1]; tokens with p_u = q_u stay put by box: the segment alpha-form, every V")
def _seg_global(timeout_s):
    p0, q0, r0, p1, q1, r1 = z3.Reals("p0 q0 r0 p1 q1 r1")
    alpha = (r0 - q0) / (p0 - q0)
    hyps = [p0 != q0, E.between(q0, r0, p0), (r0 - q0) * (p1 - q1) == (r1 - q1) * (p0 - q0)]
    return _prove(hyps, z3.And(r1 - q1 == alpha * (p1 - q1), alpha >= 0, alpha <= 1),
                  timeout_s, True)


@lemma("v2_segment", "two tokens: any three distributions are collinear, so segment = box "
       "on V = 2")
def _v2_segment(timeout_s):
    p, q, r = z3.Reals("p0 q0 r0")  # token 1 is 1 - token 0
    cross = (r - q) * ((1 - p) - (1 - q)) - ((1 - r) - (1 - q)) * (p - q)
    return _prove([], cross == 0, timeout_s, True)


@lemma("mon_ca", "any relation: MON on a pair (Q(s') ⪰ Q(s)) makes the pair comparable (CA)")
def _mon_ca(timeout_s, drop: tuple = ()):
    a, b = z3.Bools("pref_up pref_down")
    return _prove([a] if "MON" not in drop else [], z3.Or(a, b), timeout_s)


# The other lemmas register themselves on import (kept in their own modules by concept).
from proofs.unbounded import lemmas_mixture, lemmas_theorem  # noqa: E402,F401
