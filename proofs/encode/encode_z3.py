"""z3 encodings of theory §§3 and 4 shared by the ``proofs/claims/z3_*`` claims.

* distributions: one z3 ``Real`` per probability, constrained to the simplex;
* box order (theory §3): per token ``t`` a disjunction
  ``(q'(t) <= q(t) <= p(t)) or (p(t) <= q(t) <= q'(t))`` -- linear, no product;
* segment order (theory §3): ``q = q' + alpha (p - q')`` with ``alpha in [0, 1]``.
  As a *hypothesis* ``alpha`` is a fresh variable (a Skolem constant). As a
  *conclusion* (negated in the query) we use the quantifier-free equivalent
  ``box(p, q, q') and (q - q') x (p - q') = 0`` (every 2x2 cross product zero):
  if ``p != q'`` the cross products vanish iff ``q - q' = alpha (p - q')`` for one real
  ``alpha``, and the box condition on a token with ``p(t) != q'(t)`` puts ``alpha`` in
  [0, 1]; if ``p = q'`` both forms say ``q = q'``. (Checked by
  ``z3_orders.segment_forms_agree``.) Quadratic terms: z3's nlsat decides them.
* TV with ``If`` (no abs in z3), strict preference as "``q ⪰ q'`` and not ``q' ⪰ q``".

:func:`prove` turns a query into a :class:`~mechanism.verdicts.Verdict`: unsat of
"hypotheses and not goal" is PROVED, sat gives the model, unknown (timeout) is UNKNOWN.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Iterable, Sequence

import z3

from mechanism.verdicts import Verdict

from proofs.mechanized import smt2

Vec = list  # a list of z3 arithmetic terms


def dist(name: str, V: int) -> Vec:
    """``V`` fresh Reals ``name_0 .. name_{V-1}``."""
    return [z3.Real(f"{name}_{t}") for t in range(V)]


def simplex(q: Sequence) -> list:
    """``q(t) >= 0`` and ``sum_t q(t) = 1`` (theory §1: a vector in Delta(T))."""
    return [x >= 0 for x in q] + [z3.Sum(list(q)) == 1]


def between(x, y, p):
    """Token-level box relation: ``y`` lies between ``x`` and ``p`` (a disjunction)."""
    return z3.Or(z3.And(x <= y, y <= p), z3.And(p <= y, y <= x))


def box(p, q, qp):
    """theory §3 box: ``q ⪰ q'`` iff every ``q(t)`` lies between ``q'(t)`` and ``p(t)``."""
    return z3.And([between(qp[t], q[t], p[t]) for t in range(len(p))])


def collinear(p, q, qp):
    """``(q - q') x (p - q') = 0``: all 2x2 cross products vanish (quadratic)."""
    d, e = [q[t] - qp[t] for t in range(len(p))], [p[t] - qp[t] for t in range(len(p))]
    V = len(p)
    return z3.And([d[s] * e[t] == d[t] * e[s] for s in range(V) for t in range(s + 1, V)])


def segment(p, q, qp):
    """theory §3 segment, quantifier-free: box and collinear (see the module docstring)."""
    return z3.And(box(p, q, qp), collinear(p, q, qp))


def segment_alpha(p, q, qp, alpha):
    """theory §3 segment with an explicit ``alpha``: ``q = q' + alpha (p - q')``, ``0<=alpha<=1``."""
    return z3.And([alpha >= 0, alpha <= 1]
                  + [q[t] == qp[t] + alpha * (p[t] - qp[t]) for t in range(len(p))])


ORDERS = {"box": box, "segment": segment}


def prefers(order: str, p, q, qp):
    """``q ⪰ q'`` for the agent with ideal ``p`` (theory §3)."""
    return ORDERS[order](p, q, qp)


def strictly(order: str, p, q, qp):
    """``q ≻ q'``: ``q ⪰ q'`` and not ``q' ⪰ q`` (theory §3, the strict part)."""
    return z3.And(prefers(order, p, q, qp), z3.Not(prefers(order, p, qp, q)))


def comparable(order: str, p, q, qp):
    return z3.Or(prefers(order, p, q, qp), prefers(order, p, qp, q))


def absval(x):
    return z3.If(x >= 0, x, -x)


def tv(a, b):
    """``TV(a, b) = 1/2 sum_t |a(t) - b(t)|`` with ``If`` for the absolute value."""
    return z3.Sum([absval(a[t] - b[t]) for t in range(len(a))]) / 2


def equal(a, b):
    return z3.And([a[t] == b[t] for t in range(len(a))])


def num(x) -> Fraction:
    """A z3 numeral (rational, or algebraic approximated to 1e-20) as a Fraction."""
    if z3.is_rational_value(x):
        return Fraction(x.numerator_as_long(), x.denominator_as_long())
    if z3.is_algebraic_value(x):
        return Fraction(x.approx(20).as_fraction())
    return Fraction(str(x))


def value(model, term) -> Fraction:
    return num(model.eval(term, model_completion=True))


def values(model, terms: Iterable) -> list[Fraction]:
    return [value(model, t) for t in terms]


def solver(timeout_s: float, nonlinear: bool = False, ctx: z3.Context | None = None,
           rlimit: int | None = None) -> z3.Solver:
    """A solver with a wall-clock ``timeout_s`` and, when given, z3's resource limit
    ``rlimit`` (a count of z3's own steps: the same on every machine, however loaded)."""
    s = z3.SolverFor("QF_NRA", ctx=ctx) if nonlinear else z3.Solver(ctx=ctx)
    s.set("timeout", max(1, int(timeout_s * 1000)))
    if rlimit is not None:
        s.set("rlimit", int(rlimit))
    return s


def solve(constraints: Sequence, timeout_s: float, nonlinear: bool = False,
          rlimit: int | None = None, ctx: z3.Context | None = None):
    """``(z3 result, model or None, reason_unknown)`` of ``constraints``, each query in a
    fresh z3 context.

    Why a fresh context: z3 orders terms by their internal ids, which depend on every
    term the process created before, so the same query could take 0.3 s after one
    history and time out after another (the quantified segment query did, on CI).
    Translated into a new context, a query sees the same ids in every process. The
    model is translated back, so it evaluates the caller's terms. ``ctx``: a context the
    caller keeps for a fixed sequence of queries (one instance of the rule-level prover),
    whose ids then depend only on that sequence; a new context costs about 3 ms."""
    ctx = ctx if ctx is not None else z3.Context()
    s = solver(timeout_s, nonlinear, ctx, rlimit)
    for c in constraints:
        s.add(c.translate(ctx))
    r = s.check()
    smt2.note(s, r)  # kept as SMT-LIB2 for the second solver when a claim records
    if r == z3.sat:
        return z3.sat, s.model().translate(z3.main_ctx()), ""
    return (z3.unsat, None, "") if r == z3.unsat else (z3.unknown, None, s.reason_unknown())


def check(constraints: Sequence, timeout_s: float, nonlinear: bool = False):
    """Satisfiability of ``constraints``: ``(z3 result, model or None)``."""
    r, m, _ = solve(constraints, timeout_s, nonlinear)
    return r, m


def prove(hyps: Sequence, goal, timeout_s: float, nonlinear: bool = False):
    """``hyps => goal``: ``(Verdict, model)``; PROVED iff ``hyps and not goal`` is unsat."""
    r, m = check(list(hyps) + [z3.Not(goal)], timeout_s, nonlinear)
    if r == z3.unsat:
        return Verdict.PROVED, None
    if r == z3.sat:
        return Verdict.REFUTED, m
    return Verdict.UNKNOWN, None


def as_floats(xs) -> list:
    """Fractions (possibly nested lists) to floats, for the numpy reference."""
    if isinstance(xs, (list, tuple)):
        return [as_floats(x) for x in xs]
    return float(xs)


def as_strs(xs) -> list:
    """Fractions (possibly nested lists) as exact strings, for reports and JSON."""
    if isinstance(xs, (list, tuple)):
        return [as_strs(x) for x in xs]
    return str(xs)
