"""theory §4 for the loss orders (``q ⪰ q'`` iff ``L(q) <= L(q')``, theory §3), and the
grid-sum versus continuous second-price payment (theory §4, last bullet).

* The grid second-price payment is NOT a witness for loss orders: z3 finds a MON chain
  for the TV-loss order (TV is piecewise linear) where it fails PM or the bid
  normalization, confirmed on the numpy reference; for reverse KL (not expressible in
  z3: no log) the chain of docs/theory.md is evaluated on the numpy reference, giving
  ``Z = (0, .55, -.15)``.
* The rank payment ``Z(s_k) = #{i : L(Q(s_i)) > L(Q(s_k))}`` IS a witness for every loss
  order: z3 proves it with the losses as abstract Reals (a loss order depends on the
  outcomes only through their losses, so this covers KL, TV, L2 at every V), and the
  numpy reference confirms it on the reverse-KL chain.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import z3

from mechanism import orders as ref
from mechanism.verdicts import Verdict

from proofs.encode import encode_z3 as E
from proofs.encode import z3_decode as D
from mechanism.verdicts import EVERY, Scope
from proofs.registry import Limits, ProofResult, claim, declare_scope
from proofs.encode.z3_decode import round_model
from proofs.encode.theorem_encoding import grid, grid_second_price, mon, outcomes, pm, z_nondecreasing


@claim("z3.theorem.loss.rank_witness", "for every loss order, MON implies the rank payment "
       "Z(s_k) = #{i : L(Q(s_i)) > L(Q(s_k))} satisfies Z(0)=0, Z non-decreasing and PM",
       order="loss orders")
def rank_witness(limits: Limits) -> ProofResult:
    bad = []
    for K in range(2, limits.max_grid + 1):
        L = [z3.Real(f"L{k}") for k in range(K)]
        pref = lambda k, j: L[k] <= L[j]  # noqa: E731
        Z = [z3.Sum([z3.If(L[i] > L[k], 1, 0) for i in range(K)]) for k in range(K)]
        goal = z3.And([Z[0] == 0] + z_nondecreasing(Z) + pm(pref, Z, K))
        v, _ = E.prove(mon(pref, K), goal, limits.timeout_s)
        if v is not Verdict.PROVED:
            bad.append((K, str(v)))
    chain = kl_reverse_chain()
    ok = D.properties({**chain, "Z": rank_payment(chain, "kl_reverse")}, "kl_reverse")
    verdict = Verdict.PROVED if not bad else Verdict.UNKNOWN
    return ProofResult(verdict, "z3", f"losses as abstract Reals; not proved: {bad}; numpy on "
                       f"the reverse-KL chain: {ok}", f"K=2..{limits.max_grid}, every V")


def _tv_loss(p, q):
    return E.tv(p, q)


def tv_loss_counterexample(limits: Limits):
    """Fewest tokens and bids: a TV-loss MON chain where the grid second price fails."""
    for V in range(2, limits.max_tokens + 1):
        for K in range(2, limits.max_grid + 1):
            p, Q, base = outcomes(V, K)
            pref = lambda k, j: _tv_loss(p, Q[k]) <= _tv_loss(p, Q[j])  # noqa: E731
            Z = grid_second_price(Q, grid(K))
            cons = base + mon(pref, K) + [z3.Not(z3.And([Z[0] == 0] + z_nondecreasing(Z)
                                                        + pm(pref, Z, K)))]
            m = round_model(cons, p + sum(Q, []), limits.timeout_s)
            if m is not None:
                return D.decode_chain(m, p, Q, Z), K
    return None


@claim("z3.theorem.tv_loss.grid_second_price_witness", "for the TV-loss order, MON implies the "
       "grid second-price payment satisfies PM and the bid normalization -- false",
       expected="fails", order="tv")
def tv_loss_witness(limits: Limits) -> ProofResult:
    found = tv_loss_counterexample(limits)
    if found is None:
        return ProofResult(Verdict.UNKNOWN, "z3", "no model within the limits")
    chain, K = found
    props = D.properties(chain, "tv")
    ok = props["MON"] and not (props["PM"] and props["Znd"] and props["Z0"])
    return ProofResult(Verdict.REFUTED if ok else Verdict.UNKNOWN, "z3+numpy",
                       f"numpy reference: {props}", f"V={len(chain['p'])}, K={K}",
                       D.report(chain, grid(K)))


def kl_reverse_chain() -> dict:
    """theory §4: a strictly improving reverse-KL chain on bids (0, 1, 2); the grid
    second price gives ``Z = (0, .55, -.15)``."""
    F = Fraction
    return {"p": [F(1, 2), F(1, 2)],
            "Q": [[F(4, 5), F(1, 5)], [F(1, 4), F(3, 4)], [F(3, 5), F(2, 5)]]}


def grid_second_price_np(Q, bids) -> list[Fraction]:
    G = [sum(abs(a - b) for a, b in zip(Q[0], q)) / 2 for q in Q]
    Z = [Fraction(0)]
    for k in range(1, len(Q)):
        Z.append(Z[-1] + Fraction(bids[k]) * (G[k] - G[k - 1]))
    return Z


def rank_payment(chain: dict, order: str) -> list[int]:
    loss = ref.LOSSES[order]
    p = np.array(E.as_floats(chain["p"]))
    Ls = [loss(p, np.array(E.as_floats(q))) for q in chain["Q"]]
    return [sum(1 for b in Ls if b > a + ref.ORDER_TOL) for a in Ls]


@claim("numpy.theorem.kl_reverse.grid_second_price_witness", "for the reverse-KL order, "
       "MON implies the grid second-price payment satisfies PM -- false (theory §4 chain, "
       "Z = (0, .55, -.15)); the rank payment is a witness on the same chain",
       expected="fails", order="kl_reverse")
def kl_reverse_witness(limits: Limits) -> ProofResult:
    chain = kl_reverse_chain()
    chain["Z"] = grid_second_price_np(chain["Q"], grid(3))
    props = D.properties(chain, "kl_reverse")
    strictly_improving = all(ref.strictly_prefers(np.array(E.as_floats(chain["p"])),
                                                  np.array(E.as_floats(chain["Q"][k])),
                                                  np.array(E.as_floats(chain["Q"][k - 1])),
                                                  "kl_reverse") for k in (1, 2))
    rank = D.properties({**chain, "Z": rank_payment(chain, "kl_reverse")}, "kl_reverse")
    spec_z = chain["Z"] == [0, Fraction(11, 20), Fraction(-3, 20)]
    ok = props["MON"] and strictly_improving and not props["PM"] and spec_z and rank["PM"]
    cx = D.report(chain, grid(3))
    cx["rank_payment_properties"] = rank
    return ProofResult(Verdict.REFUTED if ok else Verdict.UNKNOWN, "numpy",
                       "KL is not expressible in z3 (no log): numpy reference on the docs/theory.md "
                       f"chain; grid second price {props}; Z matches docs/theory.md: {spec_z}",
                       "V=2, K=3", cx)


@claim("sympy.theorem.grid_vs_continuous", "B=1, TV=1, grid (0, 1/2, 1): the grid second-price "
       "sum is 1/3, the continuous formula b G(b) - int_0^b G is ln 2 - 1/2 (they differ)")
def grid_vs_continuous(limits: Limits) -> ProofResult:
    import sympy as sp
    s = sp.symbols("s", nonnegative=True)
    G = s / (s + 1)                     # linear rule, B = 1, TV(p_i, m) = 1 (theory §6)
    bids = [sp.Integer(0), sp.Rational(1, 2), sp.Integer(1)]
    grid_sum = sum(bids[k] * (G.subs(s, bids[k]) - G.subs(s, bids[k - 1])) for k in (1, 2))
    cont = sp.simplify(1 * G.subs(s, 1) - sp.integrate(G, (s, 0, 1)))
    ok = sp.nsimplify(grid_sum) == sp.Rational(1, 3) and sp.simplify(cont - (sp.log(2) - sp.Rational(1, 2))) == 0
    differ = sp.simplify(grid_sum - cont) != 0
    num_ok = math.isclose(float(cont), math.log(2) - 0.5, abs_tol=1e-15)
    v = Verdict.PROVED if ok and differ and num_ok else Verdict.REFUTED
    return ProofResult(v, "sympy", f"grid sum = {grid_sum}, continuous = {cont} "
                       f"(~{float(cont):.5f}); differ: {differ}", "B=1, TV=1, grid (0, 1/2, 1)",
                       None if v is Verdict.PROVED else {"grid": str(grid_sum), "continuous": str(cont)})

declare_scope("z3.theorem.loss.rank_witness", lambda limits: Scope(
    EVERY, EVERY, f"K = 2..{limits.max_grid} increasing bids (only their order matters)",
    "exact reals (z3)",
    ("the losses L(Q(s_k)) abstract reals: any loss order, any V",
     "numpy confirms on the reverse-KL chain of theory §4")))
declare_scope("sympy.theorem.grid_vs_continuous", Scope(
    EVERY, EVERY, "grid (0, 1/2, 1), bid b = 1", "exact (sympy)",
    ("the linear rule with the others' weight B = 1 and TV(p_i, m) = 1: G(s) = s/(s+1)",)))
