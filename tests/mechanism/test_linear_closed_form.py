"""theory §6: the linear second-price closed form, computed for every agent in one pass
(``mechanism.payments``), against the definition agent by agent and an exact reference.

The exact reference takes the float inputs as Fractions: the others' mixture ``m_i``, its
total weight ``B_i`` and ``TV(p_i, m_i)`` are exact; only ``B_i (ln(1 + r) - r / (1 + r))``
(``r = b_i / B_i``, not rational) is rounded, once. Rows sum to 1 only within validation's
``EXACT_TOL`` (used as given), so a closed form that assumed sums of exactly 1 would miss by
about 1e-13 and fail the 1e-14 tolerance below; a difference of 1e-300 on one token must
keep its relative accuracy."""

import math
from fractions import Fraction

import numpy as np
import pytest

from mechanism import TokenAuction, expected_payments, get_rule, step_uniforms
from mechanism.divergences import tv
from mechanism.validation import EXACT_TOL

#: Agreement required, times max(1, W): float round-off of a sum over V <= 64 tokens.
TOL = 1e-14


def exact_payment(P, b, i, ref=None, lam=0.0) -> float:
    """Agent i's second price by the definition, in exact arithmetic up to the last factor."""
    Pf = [[Fraction(float(x)) for x in row] for row in P]
    bf = [Fraction(float(x)) for x in b]
    lamf = Fraction(float(lam)) if ref is not None else Fraction(0)
    B = sum(bf) - bf[i] + lamf
    if bf[i] <= 0 or B <= 0:
        return 0.0
    V = len(Pf[0])
    m = [(sum(bf[j] * Pf[j][t] for j in range(len(bf)) if j != i)
          + (lamf * Fraction(float(ref[t])) if ref is not None else 0)) / B for t in range(V)]
    dist = sum(abs(Pf[i][t] - m[t]) for t in range(V)) / 2
    r = bf[i] / B
    return float(dist * B) * (math.log1p(float(r)) - float(r / (1 + r)))


def one_at_a_time(rule, P, b, i, ref=None, lam=0.0) -> float:
    """The closed form agent by agent, as first written: ``TV(p_i, m_i)`` from the others'
    aggregate ``m_i = rule(P_{-i}, b_{-i})``, times the race factor."""
    others = np.delete(np.arange(len(b)), i)
    B = float(b[others].sum()) + (lam if ref is not None else 0.0)
    if b[i] <= 0 or B <= 0:
        return 0.0
    m = rule(P[others], b[others]) if b[others].sum() > 0 or ref is not None and lam > 0 \
        else ref
    r = b[i] / B
    return float(tv(P[i], m)) * B * (math.log1p(r) - r / (1 + r))


def off_by_round_off(rng, n, V, zeros):
    """Rows summing to 1 only within EXACT_TOL / 2 (validation keeps them as given)."""
    P = rng.dirichlet(np.full(V, 0.6), size=n)
    if zeros:
        P[rng.random((n, V)) < 0.3] = 0.0
        P[:, 0] += 1e-3
        P /= P.sum(axis=1, keepdims=True)
    P[:, 0] += rng.uniform(-0.5, 0.5, n) * EXACT_TOL
    P = np.clip(P, 0.0, None)
    assert np.all(np.abs(P.sum(axis=1) - 1.0) <= EXACT_TOL)
    return P


def profiles(rng):
    """Random profiles, zero bids, tied bids, a reference with weight (some with every
    other bid 0), large and tiny bid ratios."""
    for trial in range(120):
        n, V = int(rng.integers(2, 7)), int(rng.integers(2, 65))
        P = off_by_round_off(rng, n, V, zeros=trial % 3 == 0)
        b = rng.exponential(1.0, n)
        if trial % 5 == 0:
            b[rng.integers(n)] = 0.0
        if trial % 7 == 0:
            b[:] = b[0]                       # every bid tied
        if trial % 11 == 0:
            b[1:] *= 1e-9                     # one agent dominates
        lam = 0.0
        ref = None
        if trial % 4 == 1:
            ref, lam = rng.dirichlet(np.ones(V)), float(rng.uniform(0.1, 2.0))
            if trial % 8 == 1:
                b[1:] = 0.0                   # agent 0 competes with the reference only
        yield P, b, ref, lam


def test_linear_closed_form_equals_the_exact_reference_and_the_definition(rng):
    checked = 0
    for P, b, ref, lam in profiles(rng):
        rule = get_rule("linear", reference=ref, weight=lam)
        if rule.total_weight(b) <= 0:
            continue
        z = expected_payments(rule, P, b).values
        W = float(b.sum()) + lam
        for i in range(len(b)):
            want = exact_payment(P, b, i, ref, lam)
            assert abs(z[i] - want) <= TOL * max(1.0, W), (i, z[i], want, b.tolist(), lam)
            assert abs(z[i] - one_at_a_time(rule, P, b, i, ref, lam)) <= TOL * max(1.0, W)
            assert z[i] >= 0.0
            if b[i] == 0:
                assert z[i] == 0.0
        checked += 1
    assert checked >= 100


def test_agent_equal_to_the_aggregate_pays_exactly_nothing_negative(rng):
    """p_i = m_i: the distance is 0 up to round-off, and never a negative payment."""
    for _ in range(30):
        P = rng.dirichlet(np.ones(40), size=4)
        P[1:] = P[0]
        z = expected_payments(get_rule("linear"), P, rng.exponential(1.0, 4)).values
        assert np.all(z >= 0.0) and np.all(z <= 1e-15)


def test_the_step_reuses_its_aggregate_bit_for_bit(rng):
    """The auction's step hands the closed form its own aggregate; the payments are exactly
    those of a call that evaluates the rule itself."""
    for n, V in ((4, 2048), (3, 64), (6, 5000)):
        P = rng.dirichlet(np.full(V, 0.5), size=n)
        b = rng.uniform(0.5, 2.0, n)
        for ref in (None, rng.dirichlet(np.ones(V))):
            auction = TokenAuction(get_rule("linear", reference=ref, weight=0.7 if ref is not
                                            None else 0.0))
            rec = auction.step(P, b, step_uniforms(3, 1, n))
            np.testing.assert_array_equal(
                rec.payments, expected_payments(auction.rule, P, b).values)
            np.testing.assert_array_equal(rec.aggregate, auction.rule(P, b))


def test_a_tiny_difference_keeps_its_relative_accuracy():
    """A difference of 1e-300 on one token next to a shared mass of 1 (the property
    checker's payment_monotone counterexample to a sum-of-maxima formula, which paid 0
    for a strictly better outcome): the payment is positive and exact to 1e-12."""
    for tiny in (1.2364573689350497e-300, 1e-200, 3e-17):
        P = np.array([[1.0, 0.0], [1.0, tiny]])
        for b in ([0.1, 1.0], [2.0, 0.3], [1.0, 1.0]):
            z = expected_payments(get_rule("linear"), P, b).values
            for i in range(2):
                want = exact_payment(P, np.array(b), i)
                assert want > 0 and abs(z[i] - want) <= 1e-12 * want, (tiny, b, i, z[i], want)


@pytest.mark.parametrize("bad", [-1e-300, np.nan, np.inf])
def test_bad_entries_still_raise_naming_agent_and_token(rng, bad):
    from mechanism import InvalidInput
    P = rng.dirichlet(np.ones(10), size=3)
    P[2, 7] = bad
    with pytest.raises(InvalidInput) as exc:
        TokenAuction("linear").step(P, np.ones(3), step_uniforms(0, 0, 3))
    assert exc.value.agent == 2
