"""sympy derivations of the expected second-price payment (theory §6 and §9 item 7).

Myerson's identity ``Z(b) = b G(b) - int_0^b G(s) ds`` with ``G(s) = TV(Q(0), Q(s))``
is integrated symbolically and compared with the theory's closed forms; the closed forms
are then compared, at a few exact instances, with the mechanism's quadrature
(``mechanism.expected_payments(..., method="quadrature")``), which knows nothing
of them.
"""

from __future__ import annotations

import numpy as np

from mechanism.payments import expected_payments
from mechanism.rules import get_rule, linear

from mechanism.verdicts import EVERY, Scope
from proofs.registry import Limits, claim, declare_scope
from proofs.encode.sympy_common import Derivation, is_zero, ops, raw_symbols, sympy

QUAD_TOL = 1e-7


def linear_closed_form(tv, B, b):
    """theory §6: ``Z(b) = TV(p_i, m) (B ln(1 + b/B) - bB/(b + B))``."""
    sp = sympy()
    return tv * (B * sp.log(1 + b / B) - b * B / (b + B))


@claim("payment_linear_closed_form", "second price, linear: integrating Myerson's identity "
       "gives TV(p_i, m) (B ln(1 + b/B) - bB/(b+B))")
def payment_linear_closed_form(limits: Limits):
    sp = sympy()
    d = Derivation()
    V = 3
    P = [raw_symbols(f"p{j}", V) for j in range(2)]
    ref = raw_symbols("r", V)
    s = sp.Symbol("s", nonnegative=True)
    b1, lam = sp.symbols("b1 lam", positive=True)
    q = linear(ops(), P, [s, b1], ref, lam)
    q0 = [x.subs(s, 0) for x in q]
    B = b1 + lam
    m = [(b1 * P[1][t] + lam * ref[t]) / B for t in range(V)]
    a = s / (s + B)
    d.step("generic linear (2 agents + reference): Q(s) - Q(0) = s/(s+B) (p_i - m) per token, "
           "so G(s) = TV(Q(0), Q(s)) = s/(s+B) TV(p_i, m)",
           all(is_zero(q[t] - q0[t] - a * (P[0][t] - m[t])) for t in range(V)))
    tv, Bs, b, x = sp.symbols("tau B b x", positive=True)
    G = lambda u: tv * u / (u + Bs)
    Z = sp.simplify(b * G(b) - sp.integrate(G(x), (x, 0, b)))
    d.step(f"Z(b) = b G(b) - int_0^b G = {Z} (sympy's integral)")
    spec = linear_closed_form(tv, Bs, b)
    d.step("equals the theory's TV(p_i, m) (B ln(1 + b/B) - bB/(b + B))",
           is_zero(sp.expand_log(Z - spec, force=True)))
    ex = spec.subs({tv: 1, Bs: 1, b: 1})
    d.step(f"B = 1, TV = 1, b = 1: {sp.nsimplify(ex)} ≈ {float(ex):.5f} (docs/theory.md: ln 2 - 1/2)",
           is_zero(ex - (sp.log(2) - sp.Rational(1, 2))))
    d.step("bid normalization: Z(0) = 0 and dZ/db = b G'(b) >= 0, so Z >= 0, non-decreasing; "
           f"dZ/db = {sp.factor(sp.diff(spec, b))}",
           bool(sp.factor(sp.diff(spec, b)).is_nonnegative))
    d.step(*_cross_check_linear(sp, spec, tv, Bs, b))
    return d.result("any V, n=2 + reference (others enter through B and m)")


def _cross_check_linear(sp, spec, tv, Bs, b) -> tuple[str, bool]:
    rule = get_rule("linear")
    P = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    bids = np.array([1.5, 2.0])
    quad = expected_payments(rule, P, bids, method="quadrature", tol=QUAD_TOL).values[0]
    tv_num = 0.5 * np.abs(P[0] - P[1]).sum()
    exact = float(spec.subs({tv: sp.Rational(tv_num).limit_denominator(1000), Bs: 2, b: 1.5}))
    return (f"cross-check: mechanism quadrature for P = {P.tolist()}, b = {bids.tolist()} "
            f"gives {quad:.9f}, the closed form {exact:.9f}", abs(quad - exact) <= 1e-6)


@claim("payment_wta_closed_form", "second price, winner-take-all: the winner pays "
       "TV(p_i, p_k) b_k (k the runner-up), losers pay 0")
def payment_wta_closed_form(limits: Limits):
    sp = sympy()
    d = Derivation()
    tv, bk, dlt, x = sp.symbols("tau b_k delta x", positive=True)
    d.step("winner-take-all: Q(s) = p_k (the runner-up's) for s < b_k and p_i for s > b_k, "
           "so G(s) = 0 below b_k and TV(p_i, p_k) = tau above (the tie s = b_k has measure 0)")
    G = sp.Piecewise((0, x < bk), (tv, True))
    b = bk + dlt  # the winner's bid exceeds b_k
    Z = sp.simplify(b * tv - sp.integrate(G, (x, 0, b)))
    d.step(f"winner, b = b_k + delta: Z = b tau - int_0^b G = {Z}", is_zero(Z - tv * bk))
    lose = sp.Symbol("b", positive=True)
    Zl = sp.simplify(sp.integrate(sp.Integer(0), (x, 0, lose)))
    d.step("loser (b < b_k): G = 0 on [0, b], Z = 0 - 0 = 0", Zl == 0)
    d.step("no other positive bid (b_k = 0): Z = tau * 0 = 0, the winner pays nothing",
           is_zero((tv * bk).subs(bk, 0)))
    rule = get_rule("winner_take_all")
    P = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.3, 0.3, 0.4]])
    bids = np.array([3.0, 2.0, 1.0])
    quad = expected_payments(rule, P, bids, method="quadrature", tol=QUAD_TOL).values
    want = [0.5 * np.abs(P[0] - P[1]).sum() * 2.0, 0.0, 0.0]
    d.step(f"cross-check: mechanism quadrature for b = {bids.tolist()} gives "
           f"{np.round(quad, 7).tolist()}, the closed form {np.round(want, 7).tolist()}",
           bool(np.allclose(quad, want, atol=1e-5)))
    return d.result("any n, V")

declare_scope("payment_linear_closed_form", Scope(
    EVERY, EVERY, "own bid b > 0, the others' weight B > 0 (symbols)", "exact (sympy)",
    ("the representation Q(s) - Q(0) = s/(s+B)(p_i - m) checked for n = 2 agents plus a "
     "reference on 3 tokens; every n, V argued: the others enter only through B and m",
     "sympy's integral of G(s) = tau s/(s+B) taken as computed")))
declare_scope("payment_wta_closed_form", Scope(
    EVERY, EVERY, "winner's bid b = b_k + delta (delta > 0), loser's bid b < b_k",
    "exact (sympy)",
    ("G(s) = 0 below the runner-up's bid b_k and TV(p_i, p_k) above it: argued from the "
     "rule's definition (ties have measure 0)",)))
