"""The z3 claims of proofs/claims/z3_*.py return their expected verdicts, and planted wrong
claims are REFUTED with models that the numpy reference confirms."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

z3 = pytest.importorskip("z3")

from mechanism import orders as ref  # noqa: E402
from mechanism.verdicts import Verdict  # noqa: E402
from proofs.encode import encode_z3 as E  # noqa: E402
from proofs.encode import z3_decode as D  # noqa: E402
from proofs.encode import decomposition, theorem_encoding  # noqa: E402
from proofs.claims import (z3_orders, z3_sampling, z3_scale, z3_theorem,  # noqa: E402,F401
                    z3_theorem_loss)
from proofs.registry import CLAIMS, Limits, as_expected, run_claim  # noqa: E402

MINE = [c for c in CLAIMS if c.startswith(("z3.", "numpy.theorem.", "sympy.theorem.grid_vs"))]
LIMITS = Limits()


@pytest.mark.parametrize("cid", MINE)
def test_claim_has_expected_verdict(cid):
    c = CLAIMS[cid]
    res = run_claim(c, LIMITS)
    want = Verdict.PROVED if c.expected == "holds" else Verdict.REFUTED
    assert res.verdict is want, (cid, res.detail)
    assert as_expected(c, res)
    if want is Verdict.REFUTED:
        assert res.counterexample, cid


@pytest.mark.parametrize("order", ["box", "segment"])
@pytest.mark.parametrize("drop", z3_theorem.HYPOTHESES)
def test_dropped_hypothesis_counterexample_confirmed_by_numpy(order, drop):
    chain, V, K = z3_theorem.dropped_counterexample(order, drop, LIMITS)
    props = D.properties(chain, order)
    assert not props["MON"] and props["Z0"]
    assert all(props[h] for h in z3_theorem.HYPOTHESES if h != drop)
    assert not props[drop]


def _lower_endpoint(Q, bids):
    """Planted wrong payment: the grid sum with the LOWER bid of each step."""
    G = [E.tv(Q[0], q) for q in Q]
    Z = [z3.RealVal(0)]
    for k in range(1, len(Q)):
        Z.append(Z[-1] + z3.RealVal(bids[k - 1]) * (G[k] - G[k - 1]))
    return Z


def _pay_your_bid(Q, bids):
    return [z3.RealVal(b) for b in bids]


@pytest.mark.parametrize("payment", [_lower_endpoint, _pay_your_bid])
def test_planted_wrong_payment_refuted_and_confirmed(payment):
    v, chain = theorem_encoding.mon_implies_witness("box", 2, 3, 30, payment=payment)
    assert v is Verdict.REFUTED
    props = D.properties(chain, "box")
    assert props["MON"] and not (props["PM"] and props["Znd"] and props["Z0"])


def _token0_box(p, q, qp):
    """Planted order with antisymmetry dropped: box on token 0 only (a preorder)."""
    return E.between(qp[0], q[0], p[0])


def test_planted_order_without_antisymmetry_refuted():
    v, chain = theorem_encoding.mon_implies_witness(_token0_box, 3, 2, 30)
    assert v is Verdict.REFUTED
    p = np.array(E.as_floats(chain["p"]))
    Q = [np.array(E.as_floats(q)) for q in chain["Q"]]
    Z = chain["Z"]
    # numpy reference of the planted order: box on the token-0 projection
    pref = lambda k, j: ref.box(p[:1], Q[k][:1], Q[j][:1])  # noqa: E731
    strict = lambda k, j: pref(k, j) and not pref(j, k)  # noqa: E731
    assert pref(1, 0)                                           # MON holds
    pm = all(strict(k, j) == (Z[k] > Z[j]) for j, k in ((0, 1), (1, 0)))
    assert not (pm and Z[0] == 0 and Z[0] <= Z[1])              # the witness fails


def test_order_law_dropped_breaks_the_law():
    (p, a, b), base = z3_orders._dists(3, "pab")
    r, m = E.check(base + [_token0_box(p, a, b), _token0_box(p, b, a), z3.Not(E.equal(a, b))], 10)
    assert r == z3.sat  # the planted order is not antisymmetric


def test_theorem_hypotheses_are_satisfiable():
    """Non-vacuity: strictly improving box/segment MON chains exist at every size."""
    for order in ("box", "segment"):
        p, Q, base = theorem_encoding.outcomes(3, 4)
        pref = theorem_encoding.order_pref(order, p, Q)
        strict = [theorem_encoding.strict(pref, k + 1, k) for k in range(3)]
        r, _ = E.check(base + theorem_encoding.mon(pref, 4) + strict, 30, order == "segment")
        assert r == z3.sat


def test_decomposition_agrees_with_direct_and_is_not_vacuous():
    assert decomposition.decomposed(4, 5, 30) is Verdict.PROVED
    assert decomposition.direct(4, 5, 30) is Verdict.PROVED
    # a non-increasing grid (s_1 = 0) breaks PM: some chained query must be sat
    bids = [Fraction(0), Fraction(0), Fraction(2)]
    results = [E.check(cons, 10)[0] for _, cons in decomposition.chained_queries(3, 3, bids)]
    assert z3.sat in results
    assert E.check(decomposition.abstract_query(3, 3, bids), 10)[0] == z3.sat


def test_per_token_lemmas():
    assert set(decomposition.per_token_lemmas(10).values()) == {Verdict.PROVED}


def test_inverse_cdf_v3_query_is_sat_where_v2_is_unsat():
    """The V=2 stability proof is not vacuous: the same kind of instance exists at V=3."""
    cx = z3_sampling.find_unstable(3, "twice", 10)
    assert cx is not None and z3_sampling.confirm_unstable(cx, "twice")


def test_spec_sampling_instance_a():
    """theory §9 item 5(a): tokens 0, 1, 2 at bids 0, 1, 3 (two switches)."""
    cx = {"p": [Fraction(1, 20), Fraction(1, 4), Fraction(7, 10)],
          "m": [Fraction(7, 20), Fraction(1, 20), Fraction(3, 5)], "u": Fraction(13, 40),
          "bids": [0, 1, 3], "tokens": [0, 1, 2]}
    assert z3_sampling.confirm_unstable(cx, "twice")


def test_spec_emd_instance():
    assert z3_orders.confirm_emd(z3_orders.SPEC_EMD)
    p, q, qp = (E.as_floats(z3_orders.SPEC_EMD[k]) for k in ("p", "q", "q_prime"))
    assert (z3_orders.emd_np(p, qp), z3_orders.emd_np(p, q)) == (1.25, 1.5)


def test_each_query_runs_in_its_own_context_and_returns_a_usable_model():
    """encode_z3.solve translates every query into a fresh z3 context (the same query
    behaves the same whatever the process created before) and the model back."""
    x, y = z3.Reals("x y")
    query = [x + y == 1, x * x == 4 * y * y, x > 0]
    r, m, _ = E.solve(query, 10, nonlinear=True)
    first = (E.value(m, x), E.value(m, y))
    _ = [z3.Real(f"junk{k}") * k for k in range(2000)]  # shifts the main context's ids
    r2, m2, _ = E.solve(query, 10, nonlinear=True)
    assert r == r2 == z3.sat and first == (E.value(m2, x), E.value(m2, y))
    assert first[0] + first[1] == 1 and first[0] ** 2 == 4 * first[1] ** 2
