"""the theory's worked examples, checked exactly (``Fraction`` / sympy) on the rules' generic
definitions and re-run on the numpy reference (theory §1, 2, 3 and §9 items 1, 3, 4)."""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np

from mechanism.errors import InvalidInput
from mechanism.orders import prefers
from mechanism.rules import get_rule, log_linear

from proofs.bounded.planted import planted_rule
from mechanism.verdicts import Scope
from proofs.registry import Limits, claim, declare_scope
from proofs.encode.sympy_common import Derivation, ops, sympy


@claim("blog_example", "blog example: p=(.8,.2),(1,0),(0,1), bids (1,2,2) give (0.56, 0.44) "
       "under linear; log-linear is undefined there")
def blog_example(limits: Limits):
    d = Derivation()
    P = [[F(4, 5), F(1, 5)], [F(1), F(0)], [F(0), F(1)]]
    q = list(get_rule("linear").exact(P, [1, 2, 2]))
    d.step(f"linear, exact: q = {[str(x) for x in q]}", q == [F(14, 25), F(11, 25)])
    qn = get_rule("linear")(np.array(P, dtype=float), [1, 2, 2])
    d.step(f"linear, numpy: q = {qn.tolist()}", bool(np.allclose(qn, [0.56, 0.44])))
    try:
        get_rule("log_linear")(np.array(P, dtype=float), [1, 2, 2])
        undefined = False
    except InvalidInput:
        undefined = True
    d.step("log-linear raises InvalidInput: agents 2 and 3 veto each other's only token "
           "(no common support)", undefined)
    return d.result("n=3, V=2", engine="fraction")


@claim("loglinear_veto", "log-linear veto: a party with positive weight and p_j(t) = 0 "
       "forces q(t) = 0")
def loglinear_veto(limits: Limits):
    sp = sympy()
    d = Derivation()
    for V in range(2, limits.max_tokens + 1):
        o = ops()
        free = sp.symbols(f"x0:{V}", positive=True)
        p1 = o.vector([0] + list(free[1:]))            # agent 1 vetoes token 0
        p2 = o.vector(list(free))                      # agent 2 likes every token
        b = sp.symbols("b1 b2", positive=True)
        q = log_linear(o, [p1, p2], list(b))
        d.step(f"V={V}: generic log-linear (sympy) gives q_0 = {sp.simplify(q[0])}",
               sp.simplify(q[0]) == 0)
    rule = get_rule("log_linear")
    qn = rule(np.array([[0.0, 0.5, 0.5], [0.6, 0.2, 0.2]]), [1e-6, 5.0])
    d.step(f"numpy, tiny bid 1e-6 still vetoes token 0: q = {np.round(qn, 6).tolist()}",
           qn[0] == 0.0)
    return d.result(f"V<={limits.max_tokens}, n=2")


def outside_any(P, qf, qt) -> bool:
    return any(not (min(a, c) <= b <= max(a, c)) for a, b, c in zip(qf, qt, P[0]))


@claim("greedy_spec_instance", "arg-max decoding is not MON for box (docs/theory.md instance "
       "p_i=(.6,.4), m=(.3,.7), B=1)", expected="fails", order="box")
def greedy_spec_instance(limits: Limits):
    d = Derivation()
    rule = planted_rule("greedy")
    P = [[F(3, 5), F(2, 5)], [F(3, 10), F(7, 10)]]
    best = None
    for s in [F(k) for k in (1, 3, 5, 7)]:  # odd bids: no ties
        qf, qt = list(rule.exact(P, [0, 1])), list(rule.exact(P, [s, 1]))
        outside = any(not (min(a, c) <= b <= max(a, c)) for a, b, c in zip(qf, qt, P[0]))
        if outside and best is None:
            best = (s, qf, qt)
    if best is None:
        d.step("no violation found on bids s = 1, 3, 5, 7", False)
        res = d.result("n=2, V=2", engine="fraction")
        res.verdict = type(res.verdict).NOT_REFUTED
        return res
    s, qf, qt = best
    d.step(f"Q(0) = {[str(x) for x in qf]}, Q({s}) = {[str(x) for x in qt]}: a point mass "
           "that is not p_i is never between another point mass and p_i", outside_any(P, qf, qt))
    Pn = np.array(P, dtype=float)
    a, b = rule.evaluate(Pn, np.array([0.0, 1.0])), rule.evaluate(Pn, np.array([float(s), 1.0]))
    confirmed = not prefers(Pn[0], b, a, "box")
    d.step(f"numpy reference agrees: prefers(box) = {not confirmed}", confirmed)
    res = d.result("n=2, V=2", engine="fraction")
    if confirmed:
        res.verdict = type(res.verdict).REFUTED
        res.counterexample = {"dists": Pn.tolist(), "bids": [0.0, 1.0], "agent": 0,
                              "bid_from": 0.0, "bid_to": float(s), "q_from": a.tolist(),
                              "q_to": b.tolist()}
    else:
        res.verdict = type(res.verdict).UNKNOWN  # exact and numpy disagree
    return res


declare_scope("blog_example", Scope(
    3, 2, "the bids (1, 2, 2) only", "exact rationals (Fraction) and float64",
    ("the blog instance p = (.8,.2), (1,0), (0,1) only",)))
declare_scope("loglinear_veto", lambda limits: Scope(
    2, limits.max_tokens, "symbolic bids > 0; numpy: the bids (1e-6, 5)",
    "exact (sympy) and float64",
    ("agent 1 gives token 0 probability 0; every other probability a positive symbol",)))
