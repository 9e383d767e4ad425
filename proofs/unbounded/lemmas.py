"""Reduction lemmas for proofs over every number of agents n and tokens V
(docs/theory.md, section 8 "Proofs for every n and V"): the per-token core and the
aggregates here; importing this module registers every lemma (it imports
:mod:`proofs.unbounded.lemmas_mixture` and :mod:`proofs.unbounded.lemmas_theorem`), in the
registry of :mod:`proofs.unbounded.chains`.

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

import z3

from proofs.encode import encode_z3 as E
from proofs.unbounded import lemmas_mixture, lemmas_theorem  # noqa: F401 - they register
from proofs.unbounded.chains import argument, lemma, z3_verdict

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
    return z3_verdict([R2 == c * R, M2 == c * M],
                  z3.And(R2 + c * w == c * (R + w), M2 + c * w * x == c * (M + w * x)),
                  timeout_s)


@lemma("agg", "aggregates: q = (1-R) a + M and q' = (1-cR) a + cM give q' - a = c (q - a)")
def _agg(timeout_s):
    a, R, M, c, q, q2 = z3.Reals("a R M c q q2")
    return z3_verdict([q == (1 - R) * a + M, q2 == (1 - c * R) * a + c * M],
                  q2 - a == c * (q - a), timeout_s)


#: the hypotheses of lemma ``between``, by name (planted-bug tests drop one)
BETWEEN_HYPS = ("c >= 0", "c <= 1")


@lemma("between", "per token, all reals: q' = a + c (q - a) with 0 <= c <= 1 puts q' "
       "between q and a (box, V-free)")
def _between(timeout_s, drop: tuple = ()):
    a, q, q2, c = z3.Reals("a q q2 c")
    hyps = {"c >= 0": c >= 0, "c <= 1": c <= 1}
    return z3_verdict([q2 == a + c * (q - a)] + [h for k, h in hyps.items() if k not in drop],
                  E.between(q, q2, a), timeout_s)


@lemma("seg_pair", "two tokens: q'_t = a_t + c (q_t - a_t) for t, u makes their cross "
       "product (q'_t - q_t)(a_u - q_u) - (q'_u - q_u)(a_t - q_t) vanish")
def _seg_pair(timeout_s):
    at, au, qt, qu, c = z3.Reals("at au qt qu c")
    q2t, q2u = at + c * (qt - at), au + c * (qu - au)
    return z3_verdict([], (q2t - qt) * (au - qu) - (q2u - qu) * (at - qt) == 0, timeout_s, True)


@lemma("seg_global", "two tokens: box on t0 with p(t0) != q(t0) and a vanishing cross "
       "product give q'_u - q_u = alpha (p_u - q_u) with one alpha = (q'_t0 - q_t0)/(p_t0 - q_t0) "
       "in [0, 1]; tokens with p_u = q_u stay put by box: the segment alpha-form, every V")
def _seg_global(timeout_s):
    p0, q0, r0, p1, q1, r1 = z3.Reals("p0 q0 r0 p1 q1 r1")
    alpha = (r0 - q0) / (p0 - q0)
    hyps = [p0 != q0, E.between(q0, r0, p0), (r0 - q0) * (p1 - q1) == (r1 - q1) * (p0 - q0)]
    return z3_verdict(hyps, z3.And(r1 - q1 == alpha * (p1 - q1), alpha >= 0, alpha <= 1),
                  timeout_s, True)


@lemma("v2_segment", "two tokens: any three distributions are collinear, so segment = box "
       "on V = 2")
def _v2_segment(timeout_s):
    p, q, r = z3.Reals("p0 q0 r0")  # token 1 is 1 - token 0
    cross = (r - q) * ((1 - p) - (1 - q)) - ((1 - r) - (1 - q)) * (p - q)
    return z3_verdict([], cross == 0, timeout_s, True)


@lemma("mon_ca", "any relation: MON on a pair (Q(s') ⪰ Q(s)) makes the pair comparable (CA)")
def _mon_ca(timeout_s, drop: tuple = ()):
    a, b = z3.Bools("pref_up pref_down")
    return z3_verdict([a] if "MON" not in drop else [], z3.Or(a, b), timeout_s)
