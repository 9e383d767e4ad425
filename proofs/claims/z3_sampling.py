"""z3 checks of theory §6: plain inverse-CDF sampling is unstable for V >= 3 and
stable for V = 2; the canonical stable sampler on a grid has exact marginals, switches
at most once, in the right direction, with switch probability TV.

Plain inverse-CDF (token order 0..V-1, fixed uniform ``u``): the token at bid ``s`` is
``t`` with ``C_{t-1}(s) <= u < C_t(s)``, ``C`` the cumulative sums of ``Q(s)``. Linear rule,
others' mixture ``m``, others' weight ``B = 1``: ``Q(s) = (m + s p)/(1 + s)``; bids are
concrete (``0, 1, 3``), so everything is linear in the symbolic ``p, m, u``. Found
instances keep ``u`` at least 1/1000 from every cumulative sum (robust to float
round-off) and are re-run with ``mechanism.sampling.inverse_cdf`` and the linear rule.
A switch from ``a`` to ``b`` after bid ``s_k`` is in the right direction iff
``Q_a(s_k) > p(a)`` and ``Q_b(s_k) < p(b)`` (theory §6).
"""

from __future__ import annotations

from fractions import Fraction
from itertools import product

import numpy as np
import z3

from mechanism.rules import get_rule
from mechanism.sampling import inverse_cdf
from mechanism.verdicts import Verdict

from proofs.encode import encode_z3 as E
from mechanism.verdicts import EVERY, Scope
from proofs.registry import Limits, ProofResult, claim, declare_scope
from proofs.encode.z3_decode import round_model
from proofs.encode.theorem_encoding import mon, order_pref, outcomes

MARGIN = Fraction(1, 1000)
BIDS = (Fraction(0), Fraction(1), Fraction(3))


def token_is(q, u, t: int, margin=0):
    """Inverse-CDF gives token ``t`` for ``q`` at ``u`` (``margin`` away from the edges)."""
    lo = z3.Sum(q[:t]) if t else z3.RealVal(0)
    return z3.And(lo + margin <= u, u < z3.Sum(q[:t + 1]) - margin)


def linear_outcomes(V: int, bids):
    p, m = E.dist("p", V), E.dist("m", V)
    Q = [[(m[t] + z3.RealVal(s) * p[t]) / (1 + z3.RealVal(s)) for t in range(V)] for s in bids]
    return p, m, Q, E.simplex(p) + E.simplex(m)


def wrong_direction(p, Q, k: int, a: int, b: int, margin=0):
    """Not (``Q_a(s_k) > p(a)`` and ``Q_b(s_k) < p(b)``), by at least ``margin``."""
    return z3.Or(Q[k][a] <= p[a] - margin, Q[k][b] >= p[b] + margin)


def find_unstable(V: int, kind: str, timeout_s: float):
    """Linear rule: a ``(p, m, u)`` where inverse-CDF switches twice (``kind="twice"``, bids
    0, 1, 3) or in the wrong direction (``kind="wrong"``, bids 0, 1). Decoded, or None."""
    bids = BIDS if kind == "twice" else BIDS[:2]
    p, m, Q, base = linear_outcomes(V, bids)
    u = z3.Real("u")
    for toks in product(range(V), repeat=len(bids)):
        if any(toks[i] == toks[i + 1] for i in range(len(toks) - 1)):
            continue
        cons = base + [u >= 0, u < 1] + [token_is(Q[k], u, t, MARGIN) for k, t in enumerate(toks)]
        if kind == "wrong":
            cons.append(wrong_direction(p, Q, 0, toks[0], toks[1], MARGIN))
        mdl = round_model(cons, p + m + [u], timeout_s, denominators=(20, 100))
        if mdl is not None:
            return {"p": E.values(mdl, p), "m": E.values(mdl, m), "u": E.value(mdl, u),
                    "bids": list(bids), "tokens": list(toks)}
    return None


def confirm_unstable(cx: dict, kind: str) -> bool:
    """numpy: the linear rule with ``inverse_cdf`` gives the claimed tokens (and, for
    ``wrong``, the switch goes from a token with ``Q <= p`` or to one with ``Q >= p``)."""
    rule = get_rule("linear")
    P = np.array([E.as_floats(cx["p"]), E.as_floats(cx["m"])])
    Qs = [rule.evaluate(P, np.array([float(s), 1.0])) for s in cx["bids"]]
    toks = [inverse_cdf(q, float(cx["u"])) for q in Qs]
    if toks != cx["tokens"]:
        return False
    if kind == "twice":
        return toks[0] != toks[1] != toks[2]
    a, b, p = toks[0], toks[1], P[0]
    return a != b and not (Qs[0][a] > p[a] and Qs[0][b] < p[b])


def _unstable(kind: str, limits: Limits) -> ProofResult:
    found = {}
    for V in (3, 4):
        cx = find_unstable(V, kind, limits.timeout_s)
        if cx is None or not confirm_unstable(cx, kind):
            return ProofResult(Verdict.UNKNOWN, "z3", f"no confirmed instance at V={V}")
        found[f"V={V}"] = {k: E.as_strs(v) for k, v in cx.items()}
    return ProofResult(Verdict.REFUTED, "z3+numpy", "z3 instances re-run with inverse_cdf and "
                       "the linear rule", "V=3 and V=4, B=1", found)


@claim("z3.sampling.inverse_cdf_switches_at_most_once", "plain inverse-CDF sampling with the "
       "linear rule switches at most once as one bid rises (V=3, 4) -- false", expected="fails")
def inverse_cdf_twice(limits: Limits) -> ProofResult:
    return _unstable("twice", limits)


@claim("z3.sampling.inverse_cdf_right_direction", "plain inverse-CDF sampling with the linear "
       "rule only switches from an over-served to an under-served token (V=3, 4) -- false",
       expected="fails")
def inverse_cdf_wrong(limits: Limits) -> ProofResult:
    return _unstable("wrong", limits)


@claim("z3.sampling.inverse_cdf_stable_v2", "V=2: along every box-MON chain (the linear rule "
       "included) plain inverse-CDF switches at most once, in the right direction", order="box")
def inverse_cdf_v2(limits: Limits) -> ProofResult:
    bad = []
    for K in range(2, limits.max_grid + 1):
        p, Q, base = outcomes(2, K)
        u = z3.Real("u")
        tok0 = [u < Q[k][0] for k in range(K)]          # token 0 iff u < Q_0(s_k)
        hyps = base + mon(order_pref("box", p, Q), K) + [u >= 0, u < 1]
        bad_events = []
        for k in range(K - 1):
            for a in (0, 1):
                b = 1 - a
                sw = z3.And(tok0[k] == (a == 0), tok0[k + 1] == (b == 0))
                bad_events.append(z3.And(sw, wrong_direction(p, Q, k, a, b)))
            for k2 in range(k + 1, K - 1):
                bad_events.append(z3.And(tok0[k] != tok0[k + 1], tok0[k2] != tok0[k2 + 1]))
        v, _ = E.prove(hyps, z3.Not(z3.Or(bad_events)), limits.timeout_s)
        if v is not Verdict.PROVED:
            bad.append((K, str(v)))
    return ProofResult(Verdict.PROVED if not bad else Verdict.UNKNOWN, "z3",
                       f"symbolic box-MON chains and u; not proved: {bad}",
                       f"V=2, K=2..{limits.max_grid}")


# -- the canonical stable sampler on a grid (mechanism.sampling.StableSampler) -----------

def construction(p, Q):
    """theory §6 canonical construction on a grid, as ``StableSampler.grid_marginals``
    writes it: running minima ``stay`` of over-served tokens, ``leaving`` mass per step,
    ``inc`` increments of under-served tokens, and the marginals with the exact share
    ``leaving * inc / total`` (nonlinear) or with the share replaced by ``inc``."""
    V, K = len(p), len(Q)
    over = [Q[0][t] > p[t] for t in range(V)]
    under = [Q[0][t] < p[t] for t in range(V)]
    stay = [list(Q[0])]
    for k in range(1, K):
        stay.append([z3.If(Q[k][t] < stay[-1][t], Q[k][t], stay[-1][t]) for t in range(V)])
    leaving, inc = [None], [None]
    for k in range(1, K):
        leaving.append(z3.Sum([z3.If(over[t], stay[k - 1][t] - stay[k][t], 0) for t in range(V)]))
        inc.append([z3.If(under[u], z3.If(Q[k][u] > Q[k - 1][u], Q[k][u] - Q[k - 1][u], 0), 0)
                    for u in range(V)])
    return over, under, stay, leaving, inc


def marginals(p, Q, exact_share: bool):
    over, under, stay, leaving, inc = construction(p, Q)
    V, K = len(p), len(Q)
    moved, outs = [z3.RealVal(0)] * V, [list(Q[0])]
    for k in range(1, K):
        total = z3.Sum(inc[k])
        n_under = z3.Sum([z3.If(under[u], 1, 0) for u in range(V)])
        if exact_share:
            share = [leaving[k] * z3.If(total > 0, inc[k][u] / total,
                                        z3.If(under[u], 1 / z3.ToReal(n_under), 0)) for u in range(V)]
        else:
            share = inc[k]
        moved = [z3.If(leaving[k] > 0, moved[u] + share[u], moved[u]) for u in range(V)]
        outs.append([z3.If(over[t], stay[k][t], Q[0][t] + moved[t]) for t in range(V)])
    return outs, leaving, inc, stay, over, under


def _stable_checks(V: int, K: int, timeout_s: float) -> dict[str, Verdict]:
    """Linear rule, symbolic ``p, m``, bids ``0..K-1``: the lemmas of the stable claim."""
    bids = [Fraction(k) for k in range(K)]
    p, m, Q, base = linear_outcomes(V, bids)
    outs, leaving, inc, stay, over, under = marginals(p, Q, exact_share=False)
    res = {}
    res["M1 leaving = total gain"] = E.prove(base, z3.And([leaving[k] == z3.Sum(inc[k])
                                                           for k in range(1, K)]), timeout_s)[0]
    res["marginals (share = gain)"] = E.prove(base, z3.And([outs[k][t] == Q[k][t] for k in range(K)
                                                            for t in range(V)]), timeout_s)[0]
    res["switch prob = TV"] = E.prove(base, z3.And([z3.Sum([z3.If(over[t], Q[0][t] - stay[k][t], 0)
                                                            for t in range(V)]) == E.tv(Q[0], Q[k])
                                                    for k in range(K)]), timeout_s)[0]
    res["one switch (stay non-increasing)"] = E.prove(base, z3.And(
        [stay[k][t] <= stay[k - 1][t] for k in range(1, K) for t in range(V)]), timeout_s)[0]
    y = z3.Real("y")
    right = []
    for k in range(1, K):
        for t in range(V):
            for u in range(V):
                leaves = z3.And(over[t], y >= 0, stay[k - 1][t] > y, y >= stay[k][t], inc[k][u] > 0)
                right.append(z3.Implies(leaves, z3.And(Q[k - 1][t] > p[t], Q[k - 1][u] < p[u])))
    res["right direction"] = E.prove(base, z3.And(right), timeout_s)[0]
    return res


@claim("z3.sampling.stable_grid", "stable sampling on a grid (theory §6 canonical construction), "
       "linear rule with symbolic distributions: exact marginals, at most one switch per seed, "
       "from an over-served to an under-served token, switch probability = TV", order="box")
def stable_grid(limits: Limits) -> ProofResult:
    """Exact share ``leaving * gain_u / total`` (nonlinear) in one nlsat query at V, K <= 3;
    for larger sizes the share is replaced by ``gain_u`` after proving M1 (``leaving = total``):
    then ``leaving * gain_u / total = gain_u`` when ``total > 0`` (the identity
    ``x (y / x) = y``, proved too), and when ``total = 0`` M1 gives ``leaving = 0`` and the
    construction moves nothing -- so the two marginals coincide."""
    bad, V_max, K_max = [], min(4, limits.max_tokens), min(5, limits.max_grid)
    x, yy = z3.Reals("x y")
    if E.prove([x > 0], x * (yy / x) == yy, limits.timeout_s, True)[0] is not Verdict.PROVED:
        bad.append("x (y/x) = y")
    for V in range(2, V_max + 1):
        for K in range(2, K_max + 1):
            bad += [f"{name} V={V} K={K}" for name, v in _stable_checks(V, K, limits.timeout_s)
                    .items() if v is not Verdict.PROVED]
    for V in (2, 3):  # the exact (nonlinear) share, directly
        p, m, Q, base = linear_outcomes(V, [Fraction(k) for k in range(3)])
        outs = marginals(p, Q, exact_share=True)[0]
        if E.prove(base, z3.And([outs[k][t] == Q[k][t] for k in range(3) for t in range(V)]),
                   limits.timeout_s, True)[0] is not Verdict.PROVED:
            bad.append(f"exact share V={V} K=3")
    num = _numpy_marginals()
    return ProofResult(Verdict.PROVED if not bad and num else Verdict.UNKNOWN, "z3",
                       f"not proved: {bad}; numpy StableSampler.grid_marginals on theory §9 item 5(a): {num}",
                       f"V=2..{V_max}, K=2..{K_max} (exact share: V<=3, K=3)")


def _numpy_marginals() -> bool:
    from mechanism.sampling import StableSampler
    P = np.array([[.05, .25, .7], [.35, .05, .6]])
    s = StableSampler(get_rule("linear"), P, np.array([0.0, 1.0]), 0)
    g = np.array([0, 1 / 11, .5, 3, 10])
    return bool(np.allclose(s.grid_marginals(g), s.Qs(g), atol=1e-12))

declare_scope("z3.sampling.inverse_cdf_stable_v2", lambda limits: Scope(
    EVERY, 2, f"K = 2..{limits.max_grid} increasing bids (only their order matters)",
    "exact reals (z3)",
    ("the outcomes Q(s_k) a symbolic box-MON chain (any rule), the uniform u symbolic",)))
declare_scope("z3.sampling.stable_grid", lambda limits: Scope(
    EVERY, min(4, limits.max_tokens), f"grid s_k = k, K = 2..{min(5, limits.max_grid)}",
    "exact reals (z3)",
    ("the linear rule; the other agents enter through their mixture m (symbolic) and their "
     "total weight, FIXED to B = 1",
     "switch probability = TV checked against the first grid point only: "
     "P(token at s_0 != token at s_k) = TV(Q(s_0), Q(s_k)), not for every pair of bids",
     "the exact (nonlinear) share checked at V <= 3, K = 3; larger sizes through lemma M1",
     "numpy StableSampler.grid_marginals agrees on one instance")))
