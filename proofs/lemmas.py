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
PAIR of tokens (all 2x2 cross products vanish, :func:`proofs.encode_z3.segment`), so a
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

from proofs import encode_z3 as E

ARGUED = "ARGUED"  #: the verdict shown for a step that is an argument, not a solver query


@dataclass(frozen=True)
class Lemma:
    id: str
    statement: str
    engine: str                              #: "z3", "sympy" or "argument"
    check: Callable[[float], Verdict] | None = field(default=None, compare=False)


LEMMAS: dict[str, Lemma] = {}
_CACHE: dict[str, Verdict] = {}


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
        try:
            _CACHE[id] = lem.check(timeout_s)
        except Exception as exc:  # a crash in a lemma is UNKNOWN, never PROVED
            _CACHE[id] = Verdict.UNKNOWN
            LEMMA_ERRORS[id] = f"{type(exc).__name__}: {exc}"
    return str(_CACHE[id])


LEMMA_ERRORS: dict[str, str] = {}


def clear_cache() -> None:
    _CACHE.clear()
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
        return all(s.verdict in (str(Verdict.PROVED), ARGUED) for s in self.steps) and \
            any(s.verdict == str(Verdict.PROVED) for s in self.steps)

    def failing(self) -> list[Step]:
        return [s for s in self.steps if s.verdict not in (str(Verdict.PROVED), ARGUED)]

    def summary(self) -> str:
        n = sum(s.verdict == str(Verdict.PROVED) for s in self.steps)
        a = sum(s.verdict == ARGUED for s in self.steps)
        bad = ", ".join(f"{s.id}={s.verdict}" for s in self.failing())
        return (f"{n} lemmas proved, {a} argued steps" + (f"; NOT proved: {bad}" if bad else ""))


def run_chain(ids, timeout_s: float = 20.0, extra: list[Step] | None = None) -> Chain:
    steps = []
    for id in ids:
        t0 = time.perf_counter()
        v = verdict_of(id, timeout_s)
        lem = LEMMAS[id]
        steps.append(Step(id, lem.statement, lem.engine, v, time.perf_counter() - t0))
    return Chain(steps + list(extra or []))


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
def _mon_ca(timeout_s):
    a, b = z3.Bools("pref_up pref_down")
    return _prove([a], z3.Or(a, b), timeout_s)


# -- the characterization, 'only if': instances that violate box ------------------------

@lemma("nec_rise", "one token, a = p_i(t) = 0, the party j at x_j = 1, the rest at a: "
       "if j's weight rises (w'_j > w_j) then q' is not between q and a")
def _nec_rise(timeout_s):
    w, w2 = z3.Reals("w w2")
    q, q2 = w * 1, w2 * 1  # (1 - R) a + M with a = 0, M = w x_j
    return _prove([w >= 0, w2 > w], z3.Not(E.between(q, q2, z3.RealVal(0))), timeout_s)


@lemma("nec_shape", "one token, a = 1/2, parties j, k at x_j = a + h w_k, x_k = a - h w_j "
       "(h = 1/(2 max(w_j, w_k))), the rest at a: if w'_j w_k != w'_k w_j then x is in [0,1] "
       "and q' is not between q and a (q = a)")
def _nec_shape(timeout_s):
    wj, wk, vj, vk = z3.Reals("wj wk vj vk")
    m = z3.If(wj >= wk, wj, wk)
    h = 1 / (2 * m)
    a = z3.RealVal("1/2")
    xj, xk = a + h * wk, a - h * wj
    q = a + wj * (xj - a) + wk * (xk - a)
    q2 = a + vj * (xj - a) + vk * (xk - a)
    hyps = [wj >= 0, wk >= 0, vj >= 0, vk >= 0, m > 0, vj * wk != vk * wj]
    return _prove(hyps, z3.And(xj >= 0, xj <= 1, xk >= 0, xk <= 1,
                               z3.Not(E.between(q, q2, a))), timeout_s, True)


argument("characterization", "box-MON for all reports (V >= 2) iff raising i's bid scales "
         "every other party's weight by one common c in [0, 1]: 'if' by agg + between; "
         "'only if': a rise gives nec_rise, two parties not scaled alike give nec_shape "
         "(the other parties sit at a and contribute 0), a second token takes the rest")


# -- normalized independent weights w_j = F_j / sum_k F_k, F_j = f(b_j) (reference: F = lambda)

@lemma("norm_scale", "aggregates: F_i' >= F_i >= 0, others' total R >= F_j >= 0, "
       "S = F_i + R > 0: then S' = F_i' + R > 0 and F_j/S' = c F_j/S with c = S/S' in [0, 1]")
def _norm_scale(timeout_s, drop: tuple = ()):
    Fi, Fi2, R, Fj = z3.Reals("Fi Fi2 R Fj")
    S, S2 = Fi + R, Fi2 + R
    hyps = {"f non-decreasing": Fi2 >= Fi, "f >= 0": Fi >= 0}
    base = [R >= Fj, Fj >= 0, S > 0] + [h for k, h in hyps.items() if k not in drop]
    c = S / S2
    return _prove(base, z3.And(S2 > 0, Fj / S2 == c * (Fj / S), c >= 0, c <= 1), timeout_s,
                  True)


@lemma("norm_pos", "aggregates: F_i, F_i' >= 0, others' total R >= F_j >= 0, S = F_i + R > 0 "
       "and S' = F_i' + R > 0: F_j/S' = c F_j/S with c = S/S' > 0 (any f >= 0)")
def _norm_pos(timeout_s):
    Fi, Fi2, R, Fj = z3.Reals("Fi Fi2 R Fj")
    S, S2 = Fi + R, Fi2 + R
    c = S / S2
    return _prove([Fi >= 0, Fi2 >= 0, R >= Fj, Fj >= 0, S > 0, S2 > 0],
                  z3.And(Fj / S2 == c * (Fj / S), c > 0), timeout_s, True)


@lemma("ca_either", "per token, all reals: q' - a = c (q - a) with c > 0 puts q' between q "
       "and a (c <= 1) or q between q' and a (c >= 1): Q(s), Q(s') comparable")
def _ca_either(timeout_s):
    a, q, q2, c = z3.Reals("a q q2 c")
    return _prove([c > 0, q2 - a == c * (q - a)],
                  z3.And(z3.Implies(c <= 1, E.between(q, q2, a)),
                         z3.Implies(c >= 1, E.between(q2, q, a))), timeout_s, True)


@lemma("norm_nec", "aggregates: F_i' < F_i, another party with F_j > 0: that party's "
       "weight rises (F_j/S' > F_j/S), so nec_rise refutes MON")
def _norm_nec(timeout_s):
    Fi, Fi2, R, Fj = z3.Reals("Fi Fi2 R Fj")
    S, S2 = Fi + R, Fi2 + R
    return _prove([Fi2 >= 0, Fi2 < Fi, Fj > 0, R >= Fj], z3.And(S2 > 0, Fj / S2 > Fj / S),
                  timeout_s, True)


argument("reference_party", "a platform reference is one more party with the constant "
         "F_0 = lambda: it is part of the others' aggregate R, never of agent i")
argument("smoothing", "smoothing (1 - eps) p + eps/V maps reports to reports, and the "
         "property is proved for every report, so for the smoothed ones (lemma smooth_sum)")


@lemma("smooth_sum", "symbolic V and eps in [0, 1): sum_t ((1-eps) p_t + eps/V) = 1 when "
       "sum_t p_t = 1, and each term is >= 0", engine="sympy")
def _smooth_sum(timeout_s):
    import sympy as sp
    V = sp.Symbol("V", positive=True, integer=True)
    eps, S, p = sp.symbols("epsilon S p", nonnegative=True)
    keep = sp.Symbol("one_minus_eps", positive=True)  # 1 - eps > 0
    total = sp.simplify(((1 - eps) * S + V * (eps / V)).subs(S, 1) - 1)
    term = keep * p + eps / V
    return Verdict.PROVED if total == 0 and term.is_nonnegative else Verdict.UNKNOWN


# -- winner-take-all ---------------------------------------------------------------------

@lemma("wta_win", "others' top bid m >= 0, tie flag t: if i wins at s (s > 0 and (s > m "
       "or s = m and t)) then i wins at every s' > s")
def _wta_win(timeout_s):
    s, s2, m = z3.Reals("s s2 m")
    t = z3.Bool("tie")
    wins = lambda x: z3.And(x > 0, z3.Or(x > m, z3.And(x == m, t)))
    return _prove([m >= 0, s2 > s, wins(s)], wins(s2), timeout_s)


argument("wta_others", "while i loses, the winner is the others' top bidder (ties to the "
         "lowest index), which does not depend on i's bid: the others' weights are one fixed "
         "0/1 vector u at both bids")


@lemma("wta_scale", "two other parties: weights ite(win, 0, u) at s and s', win(s) => win(s'), "
       "give w' = c w with c = 0 (i wins at s') or 1 (i loses at both)")
def _wta_scale(timeout_s):
    w1, w2 = z3.Bools("win_s win_s2")
    u1, u2 = z3.Reals("u1 u2")
    c = z3.If(w2, z3.RealVal(0), z3.RealVal(1))
    before = [z3.If(w1, z3.RealVal(0), u) for u in (u1, u2)]
    after = [z3.If(w2, z3.RealVal(0), u) for u in (u1, u2)]
    return _prove([z3.Implies(w1, w2)],
                  z3.And(c >= 0, c <= 1, *[a == c * b for a, b in zip(after, before)]), timeout_s)


# -- log-linear pooling --------------------------------------------------------------------

@lemma("logit_sigmoid", "two tokens, positive reports: the log-linear aggregate is "
       "q(1) = sigmoid(S_1 - S_0), S_t = sum_j w_j log p_j(t), so its logit is the mixture "
       "sum_j w_j l_j of the reports' logits; sigmoid' > 0", engine="sympy")
def _logit_sigmoid(timeout_s):
    import sympy as sp
    S0, S1, x = sp.symbols("S0 S1 x", real=True)
    same = sp.simplify(sp.exp(S1) / (sp.exp(S0) + sp.exp(S1)) - 1 / (1 + sp.exp(-(S1 - S0))))
    slope = sp.diff(1 / (1 + sp.exp(-x)), x)
    return Verdict.PROVED if same == 0 and slope.is_positive else Verdict.UNKNOWN


@lemma("monotone_map", "a strictly increasing map g keeps betweenness: y between x and z "
       "implies g(y) between g(x) and g(z)")
def _monotone_map(timeout_s):
    x, y, zz = z3.Reals("x y z")
    g = z3.Function("g", z3.RealSort(), z3.RealSort())
    inc = [z3.Implies(u < v, g(u) < g(v)) for u in (x, y, zz) for v in (x, y, zz)]
    inc += [z3.Implies(u == v, g(u) == g(v)) for u in (x, y, zz) for v in (x, y, zz)]
    return _prove(inc + [E.between(x, y, zz)], E.between(g(x), g(y), g(zz)), timeout_s)


@lemma("loglinear_v3_dip", "g(w) = (3/5)^w (1/10)^(1-w) + (1/10)^w (3/5)^(1-w) equals "
       "6^w/10 + (3/5) 6^(-w) and strictly decreases on [0, 1/2): g' = ln 6 6^(-w) "
       "(6^(2w)/10 - 3/5) < 0 iff u = 6^w < sqrt 6", engine="sympy")
def _loglinear_dip(timeout_s):
    import sympy as sp
    w = sp.Symbol("w", real=True)
    u = sp.Symbol("u", positive=True)
    a, b = sp.Rational(3, 5), sp.Rational(1, 10)
    logs = lambda e: sp.expand_log(sp.log(e), force=True)
    same = (sp.simplify(logs(a**w * b**(1 - w)) - logs(b * 6**w)) == 0
            and sp.simplify(logs(b**w * a**(1 - w)) - logs(a * 6**(-w))) == 0)
    form = b * 6**w + a * 6**(-w)
    dg = sp.simplify(sp.diff(form, w) - sp.log(6) * 6**(-w) * (6**(2 * w) / 10 - a))
    sol = sp.solve_univariate_inequality(u**2 / 10 - a < 0, u, relational=False)
    ok = same and dg == 0 and sol.intersect(sp.Interval.open(0, sp.oo)) == \
        sp.Interval.open(0, sp.sqrt(6))
    return Verdict.PROVED if ok else Verdict.UNKNOWN
