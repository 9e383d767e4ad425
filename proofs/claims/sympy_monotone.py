"""sympy derivations of monotone aggregation (theory §2, 4 and §9 item 3).

Every derivation evaluates the rule's generic definition (``mechanism.rules``) on
sympy symbols, so it is about the implemented rule.

* linear: ``Q(s) = m + a(s) (p_i - m)`` with ``a(s) = s/(s+B)``, ``B`` the others'
  total weight (reference included) and ``m`` their mixture; hence
  ``dQ_t/ds = B (p_i(t) - m_t)/(s+B)^2`` and MON for box and segment.
* log-linear, two tokens: ``logit Q(s) = c + a(s) (logit p_i - c)``; same argument.
* log-linear, three tokens: the counterexample of docs/theory.md in exact algebraic numbers.
"""

from __future__ import annotations

import numpy as np

from mechanism.orders import prefers
from mechanism.rules import get_rule, linear, log_linear

from mechanism.verdicts import EVERY, Scope
from proofs.registry import Limits, claim, declare_scope
from proofs.encode.sympy_common import Derivation, dist_symbols, is_zero, ops, raw_symbols, sympy


def _linear_setup(n: int, V: int, reference: bool):
    """Symbolic linear aggregate of n agents (agent 0 bids s) and its (B, m)."""
    sp = sympy()
    o = ops()
    P = [raw_symbols(f"p{j}", V) for j in range(n)]
    s = sp.Symbol("s", nonnegative=True)
    bids = [s] + list(sp.symbols(f"b1:{n}", positive=True)) if n > 1 else [s]
    ref, lam = (raw_symbols("r", V), sp.Symbol("lam", positive=True)) if reference else (None, 0)
    q = linear(o, P, bids, ref, lam)
    B = sp.Add(*bids[1:]) + lam
    m = [(sp.Add(*[P[j][t] * bids[j] for j in range(1, n)]) + (lam * ref[t] if reference else 0))
         / B for t in range(V)]
    return sp, s, P[0], q, B, m


def _linear_representation(d: Derivation, limits: Limits, reference: bool) -> None:
    """Step 1: Q(s) = m + a(s)(p - m) and the derivative, for n = 2..max_agents."""
    for n in range(2, max(2, limits.max_agents) + 1):
        sp, s, p, q, B, m = _linear_setup(n, 2, reference)
        a = s / (s + B)
        rep = all(is_zero(q[t] - (m[t] + a * (p[t] - m[t]))) for t in range(2))
        der = all(is_zero(sp.diff(q[t], s) - B * (p[t] - m[t]) / (s + B) ** 2) for t in range(2))
        d.step(f"n={n}{' + reference' if reference else ''}: generic linear gives "
               "Q_t(s) = m_t + s/(s+B) (p_i(t) - m_t)", rep)
        d.step(f"n={n}: dQ_t/ds = B (p_i(t) - m_t)/(s+B)^2, sign = sign(p_i(t) - m_t) "
               "since B > 0", der)
    d.step("the others enter only through B > 0 and m, so the identities hold for every n, V "
           "(tokens are independent coordinates); B = 0 leaves Q(s) = p_i for all s > 0")


def _alphas():
    sp = sympy()
    s, B = sp.Symbol("s", nonnegative=True), sp.Symbol("B", positive=True)
    dlt = sp.Symbol("delta", positive=True)  # s' = s + delta
    p, m = sp.symbols("p m", real=True)
    a, a2 = s / (s + B), (s + dlt) / (s + dlt + B)
    return sp, s, B, dlt, p, m, a, a2


def _box_step(d: Derivation) -> None:
    sp, s, B, dlt, p, m, a, a2 = _alphas()
    q, q2 = m + a * (p - m), m + a2 * (p - m)
    prod = sp.factor(sp.cancel((q2 - q) * (p - q2)))
    d.step(f"box: (Q_t(s') - Q_t(s)) (p_i(t) - Q_t(s')) = {prod} for s' = s + delta")
    d.step("which is >= 0 (B, delta > 0, s >= 0), so Q_t(s') lies between Q_t(s) and p_i(t) "
           "for every token: Q(s') ⪰_box Q(s)", bool(prod.is_nonnegative))


def _segment_step(d: Derivation) -> None:
    sp, s, B, dlt, p, m, a, a2 = _alphas()
    q, q2 = m + a * (p - m), m + a2 * (p - m)
    beta = sp.factor(sp.cancel((a2 - a) / (1 - a)))
    d.step(f"segment: Q(s') = Q(s) + beta (p_i - Q(s)) with beta = {beta}",
           is_zero(q2 - q - beta * (p - q)))
    d.step("0 <= beta <= 1 (1 - beta = (1 - a(s'))/(1 - a(s)) >= 0): Q(s') ⪰_segment Q(s)",
           bool(beta.is_nonnegative) and bool(sp.factor(sp.cancel(1 - beta)).is_nonnegative))


def _linear_mon(limits: Limits, order: str, reference: bool):
    d = Derivation()
    _linear_representation(d, limits, reference)
    (_box_step if order == "box" else _segment_step)(d)
    return d.result("any n, V" + (", lambda > 0" if reference else ""))


@claim("linear_derivative", "linear: dQ_t/ds = B (p_i(t) - m_t)/(s+B)^2, with the sign of "
       "p_i(t) - m_t (with and without reference)")
def linear_derivative(limits: Limits):
    d = Derivation()
    _linear_representation(d, limits, reference=False)
    _linear_representation(d, limits, reference=True)
    return d.result("any n, V, lambda >= 0")


@claim("linear_mon_box", "linear is MON for the box order", order="box")
def linear_mon_box(limits: Limits):
    return _linear_mon(limits, "box", reference=False)


@claim("linear_mon_segment", "linear is MON for the segment order", order="segment")
def linear_mon_segment(limits: Limits):
    return _linear_mon(limits, "segment", reference=False)


@claim("linear_mon_box_ref", "linear with a reference term is MON for the box order", order="box")
def linear_mon_box_ref(limits: Limits):
    return _linear_mon(limits, "box", reference=True)


@claim("linear_mon_segment_ref", "linear with a reference term is MON for the segment order",
       order="segment")
def linear_mon_segment_ref(limits: Limits):
    return _linear_mon(limits, "segment", reference=True)


@claim("loglinear_mon_box_v2", "log-linear is MON for box on two tokens (positive "
       "distributions, with and without reference)", order="box")
def loglinear_mon_box_v2(limits: Limits):
    sp = sympy()
    d = Derivation()
    for reference in (False, True):
        n = max(2, limits.max_agents)
        o = ops()
        P = [dist_symbols(f"x{j}", 2, positive=True) for j in range(n)]
        s = sp.Symbol("s", positive=True)
        bids = [s] + list(sp.symbols(f"b1:{n}", positive=True))
        ref, lam = (dist_symbols("r", 2, positive=True), sp.Symbol("lam", positive=True)) \
            if reference else (None, 0)
        logit = lambda v: sp.log(v[0]) - sp.log(v[1])
        B = sp.Add(*bids[1:]) + lam
        c = (sp.Add(*[bids[j] * logit(P[j]) for j in range(1, n)])
             + (lam * logit(ref) if reference else 0)) / B
        q = log_linear(o, P, bids, ref, lam)
        lq = sp.expand_log(sp.log(sp.simplify(q[0] / q[1])), force=True)
        tag = f"n={n}{' + reference' if reference else ''}"
        d.step(f"{tag}: generic log-linear gives logit Q(s) = c + s/(s+B) (logit p_i - c), "
               "c the others' weighted mean logit", is_zero(lq - (c + s / (s + B) * (logit(P[0]) - c))))
        q0 = log_linear(o, P, [0] + bids[1:], ref, lam)   # agent i dropped at s = 0
        ratio0 = sp.simplify(q0[0] / q0[1]) - sp.simplify(sp.exp(sp.expand_log(c, force=True)))
        d.step(f"{tag}: at s = 0 the agent is dropped and logit Q(0) = c (a(0) = 0)",
               is_zero(ratio0))
    _, s_, B_, dlt, a_, c_, al, al2 = _alphas()
    L, L2 = c_ + al * (a_ - c_), c_ + al2 * (a_ - c_)
    prod = sp.factor(sp.cancel((L2 - L) * (a_ - L2)))
    shown = prod.subs({a_: sp.Symbol("logit_p_i"), c_: sp.Symbol("c")})
    d.step(f"(logit Q(s') - logit Q(s)) (logit p_i - logit Q(s')) = {shown} >= 0, s' = s + delta",
           bool(prod.is_nonnegative))
    d.step("the logistic function is increasing, so Q_0(s') lies between Q_0(s) and p_i(0); "
           "Q_1 = 1 - Q_0 follows: Q(s') ⪰_box Q(s)")
    return d.result("V=2, any n, lambda >= 0, positive distributions")


def _counterexample_exact():
    sp = sympy()
    R = sp.Rational
    p1 = [R(6, 10), R(3, 10), R(1, 10)]
    p2 = [R(1, 10), R(3, 10), R(6, 10)]
    o = ops()
    dists = [o.vector(p1), o.vector(p2)]
    zero, one = o.scalar(0), o.scalar(1)
    q_from = [sp.simplify(x) for x in log_linear(o, dists, [zero, one])]
    q_to = [sp.radsimp(sp.simplify(x)) for x in log_linear(o, dists, [one, one])]
    return sp, p1, p2, q_from, q_to


@claim("loglinear_mon_box_v3", "log-linear is MON for box on three tokens (docs/theory.md: false; "
       "exact counterexample)", expected="fails", order="box")
def loglinear_mon_box_v3(limits: Limits):
    sp, p1, p2, q_from, q_to = _counterexample_exact()
    d = Derivation()
    d.step(f"p1 = {p1}, p2 = {p2}, b2 = 1; b1 = 0 drops agent 1: Q(0) = {q_from}",
           q_from == p2)
    d.step(f"b1 = 1: Q(1) ∝ sqrt(p1 p2) = {q_to}")
    mid = q_to[1]
    gap = sp.radsimp(mid - sp.Rational(3, 10))
    outside = bool(gap.is_positive)
    d.step(f"token 1: Q_1(0) = p1(1) = 3/10 but Q_1(1) = {mid} ≈ {float(mid):.5f}; "
           f"Q_1(1) - 3/10 = {gap} > 0: Q(1) is not ⪰_box Q(0)", outside)
    rule = get_rule("log_linear")
    P = np.array([[float(x) for x in p1], [float(x) for x in p2]])
    qf, qt = rule(P, [0.0, 1.0]), rule(P, [1.0, 1.0])
    confirmed = outside and not prefers(P[0], qt, qf, "box")
    d.step(f"numpy reference: Q(0) = {np.round(qf, 6).tolist()}, Q(1) = "
           f"{np.round(qt, 6).tolist()}, prefers(box) = {not confirmed}", confirmed)
    res = d.result("V=3, n=2")
    if confirmed:
        res.verdict = type(res.verdict).REFUTED
        res.counterexample = {"dists": P.tolist(), "bids": [0.0, 1.0], "agent": 0,
                              "bid_from": 0.0, "bid_to": 1.0, "q_from": qf.tolist(),
                              "q_to": qt.tolist(), "token": 1,
                              "exact": {"q_to": [str(x) for x in q_to]}}
    else:
        res.verdict = type(res.verdict).UNKNOWN  # the exact check and numpy disagree
    return res

def _linear_scope(reference: bool, extra=()):
    def scope(limits: Limits) -> Scope:
        top = max(2, limits.max_agents)
        return Scope(EVERY, EVERY, "own bid s >= 0 symbolic; the others' bids > 0 symbolic",
                     "exact (sympy)",
                     (f"checked by sympy for n = 2..{top} agents on 2 tokens (probabilities as "
                      "free positive symbols); every n and V argued: the others enter only "
                      "through B and m, tokens are separate coordinates",
                      "B > 0: the others' total weight (reference included) is positive")
                     + (("a reference p0 with weight lambda > 0",) if reference else ())
                     + tuple(extra))
    return scope


declare_scope("linear_derivative", _linear_scope(False, ("also checked with a reference p0 and "
                                                         "weight lambda > 0",)))
declare_scope("linear_mon_box", _linear_scope(False, ("the box step checked on one token with "
                                                      "symbolic p, m",)))
declare_scope("linear_mon_segment", _linear_scope(False, ("the segment step checked with "
                                                          "symbolic p, m",)))
declare_scope("linear_mon_box_ref", _linear_scope(True, ("the box step checked on one token "
                                                         "with symbolic p, m",)))
declare_scope("linear_mon_segment_ref", _linear_scope(True, ("the segment step checked with "
                                                             "symbolic p, m",)))
declare_scope("loglinear_mon_box_v2", lambda limits: Scope(
    EVERY, 2, "own bid s > 0 symbolic and s = 0 separately; the others' bids > 0 symbolic",
    "exact (sympy)",
    (f"checked by sympy at n = {max(2, limits.max_agents)} agents, without a reference and with "
     "one (lambda > 0); every n argued: the others enter only through c and B",
     "positive distributions (every probability > 0)",
     "the final step (the logistic function is increasing) argued")))
