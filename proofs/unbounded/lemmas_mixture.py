"""Lemmas of the mixture characterization, normalized weights, smoothing,
winner-take-all and log-linear pooling (docs/theory.md section 8); the registry is
:mod:`proofs.unbounded.chains`, the per-token core and the aggregate lemmas are in
:mod:`proofs.unbounded.lemmas`, whose module docstring gives the V-free and n-free
arguments."""

from __future__ import annotations

import z3

from mechanism.verdicts import Verdict

from proofs.encode import encode_z3 as E
from proofs.unbounded.chains import argument, lemma, z3_verdict

# -- the characterization, 'only if': instances that violate box ------------------------

@lemma("nec_rise", "one token, a = p_i(t) = 0, the party j at x_j = 1, the rest at a: "
       "if j's weight rises (w'_j > w_j) then q' is not between q and a")
def _nec_rise(timeout_s):
    w, w2 = z3.Reals("w w2")
    q, q2 = w * 1, w2 * 1  # (1 - R) a + M with a = 0, M = w x_j
    return z3_verdict([w >= 0, w2 > w], z3.Not(E.between(q, q2, z3.RealVal(0))), timeout_s)


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
    return z3_verdict(hyps, z3.And(xj >= 0, xj <= 1, xk >= 0, xk <= 1,
                               z3.Not(E.between(q, q2, a))), timeout_s, True)


argument("characterization", "box-MON for all reports (V >= 2) iff raising i's bid scales "
         "every other party's weight by one common c in [0, 1]: 'if' by agg + between; "
         "'only if': a rise gives nec_rise, two parties not scaled alike give nec_shape "
         "(the other parties sit at a and contribute 0), a second token takes the rest")


# -- normalized independent weights w_j = F_j / sum_k F_k, F_j = f(b_j) (reference: F = lambda)

@lemma("norm_scale", "aggregates: F_i' >= F_i, others' total R >= F_j >= 0, S = F_i + R > 0: "
       "then S' = F_i' + R > 0 and F_j/S' = c F_j/S with c = S/S' in [0, 1]")
def _norm_scale(timeout_s, drop: tuple = ()):
    Fi, Fi2, R, Fj = z3.Reals("Fi Fi2 R Fj")
    S, S2 = Fi + R, Fi2 + R
    hyps = {"f non-decreasing": Fi2 >= Fi, "S > 0": S > 0}
    base = [R >= Fj, Fj >= 0] + [h for k, h in hyps.items() if k not in drop]
    c = S / S2
    return z3_verdict(base, z3.And(S2 > 0, Fj / S2 == c * (Fj / S), c >= 0, c <= 1), timeout_s,
                  True)


@lemma("norm_pos", "aggregates: F_i, F_i' >= 0, others' total R >= F_j >= 0, S = F_i + R > 0 "
       "and S' = F_i' + R > 0: F_j/S' = c F_j/S with c = S/S' > 0 (any f >= 0)")
def _norm_pos(timeout_s):
    Fi, Fi2, R, Fj = z3.Reals("Fi Fi2 R Fj")
    S, S2 = Fi + R, Fi2 + R
    c = S / S2
    return z3_verdict([Fi >= 0, Fi2 >= 0, R >= Fj, Fj >= 0, S > 0, S2 > 0],
                  z3.And(Fj / S2 == c * (Fj / S), c > 0), timeout_s, True)


@lemma("ca_either", "per token, all reals: q' - a = c (q - a) with c > 0 puts q' between q "
       "and a (c <= 1) or q between q' and a (c >= 1): Q(s), Q(s') comparable")
def _ca_either(timeout_s):
    a, q, q2, c = z3.Reals("a q q2 c")
    return z3_verdict([c > 0, q2 - a == c * (q - a)],
                  z3.And(z3.Implies(c <= 1, E.between(q, q2, a)),
                         z3.Implies(c >= 1, E.between(q2, q, a))), timeout_s, True)


@lemma("norm_nec", "aggregates: F_i' < F_i, another party with F_j > 0: that party's "
       "weight rises (F_j/S' > F_j/S), so nec_rise refutes MON")
def _norm_nec(timeout_s):
    Fi, Fi2, R, Fj = z3.Reals("Fi Fi2 R Fj")
    S, S2 = Fi + R, Fi2 + R
    return z3_verdict([Fi2 >= 0, Fi2 < Fi, Fj > 0, R >= Fj], z3.And(S2 > 0, Fj / S2 > Fj / S),
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
    return z3_verdict([m >= 0, s2 > s, wins(s)], wins(s2), timeout_s)


argument("wta_others", "while i loses, the winner is the others' top positive bidder (ties "
         "to the lowest index), or the reference when no one bids > 0; neither depends on i's "
         "bid, so the others' weights are one fixed 0/1 vector u at both bids")


@lemma("wta_scale", "two other parties: weights ite(win, 0, u) at s and s', win(s) => win(s'), "
       "give w' = c w with c = 0 (i wins at s') or 1 (i loses at both)")
def _wta_scale(timeout_s):
    w1, w2 = z3.Bools("win_s win_s2")
    u1, u2 = z3.Reals("u1 u2")
    c = z3.If(w2, z3.RealVal(0), z3.RealVal(1))
    before = [z3.If(w1, z3.RealVal(0), u) for u in (u1, u2)]
    after = [z3.If(w2, z3.RealVal(0), u) for u in (u1, u2)]
    return z3_verdict([z3.Implies(w1, w2)],
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
    return z3_verdict(inc + [E.between(x, y, zz)], E.between(g(x), g(y), g(zz)), timeout_s)


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
