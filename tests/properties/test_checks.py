"""properties/checks.py, the one home of the per-instance checks: utility under a value
model, truthfulness (regret) and individual rationality, in one vocabulary (theory §6)."""

from __future__ import annotations

import numpy as np
import pytest

from mechanism import expected_payments, get_rule
from mechanism.bids import with_bid
from mechanism.errors import InvalidInput
from mechanism.regret import misreports
from mechanism.valuations import get_value_model
from properties import checks as C

RULE = get_rule("linear")
P = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
B = np.array([1.0, 1.5])


def _utility(payment: str, i: int = 0, model: str = "tv"):
    m = get_value_model(model).for_rule(RULE)
    return C.utility_curve(m, P[i], lambda s: RULE(P, with_bid(B, i, s)),
                           lambda s: expected_payments(RULE, P, with_bid(B, i, s),
                                                       payment).values[i], float(B[i]), i)


def test_utility_is_value_times_gain_minus_payment():
    u = _utility("pay_your_bid")
    q0, q1 = RULE(P, with_bid(B, 0, 0.0)), RULE(P, with_bid(B, 0, 0.5))
    a = get_value_model("tv").values(P[0], np.stack([q1, q0]), 0)
    assert u(0.5) == pytest.approx(1.0 * (a[0] - a[1]) - 0.5, abs=1e-12)
    assert u(0.0) == pytest.approx(0.0, abs=1e-12)


def test_regret_refutes_pay_your_bid_and_passes_second_price():
    """Under tv, second price is Myerson's payment (no misreport gains); pay-your-bid is not
    (shading the bid gains). The counterexample names the better bid and its gain."""
    grid = misreports(1.0)
    def utilities(u):
        return lambda S: np.array([u(s) for s in S])
    assert C.regret_violation(utilities(_utility("second_price")), 1.0, grid, 0, 1e-6) is None
    found = C.regret_violation(utilities(_utility("pay_your_bid")), 1.0, grid, 0, 1e-6)
    assert set(found) == {"agent", "value", "bid_from", "bid_to", "regret"}
    assert found["bid_from"] == 1.0 and found["bid_to"] < 1.0 and found["regret"] > 1e-3
    u = _utility("pay_your_bid")
    assert found["regret"] == pytest.approx(u(found["bid_to"]) - u(1.0), rel=1e-12)


def test_ir_holds_for_second_price_and_fails_for_an_overcharge():
    u = _utility("second_price")(1.0)
    assert u >= 0 and C.ir_violation(u, 1.0, 0, 1e-9) is None
    found = C.ir_violation(u - 1.0, 1.0, 0, 1e-9)   # charging one more than Myerson
    assert found == {"agent": 0, "value": 1.0, "bid_from": 1.0, "utility": pytest.approx(u - 1)}
    assert C.ir_violation(-1e-12, 1.0, 0, 1e-9) is None   # within tolerance


def test_an_infinite_value_is_no_utility():
    """KL to an outcome with zero mass where the report has some: no utility there."""
    Pz = np.array([[0.5, 0.5], [1.0, 0.0]])
    m = get_value_model("kl").for_rule(RULE)
    with pytest.raises(InvalidInput, match="infinite"):
        C.utility_curve(m, Pz[0], lambda s: RULE(Pz, with_bid(np.array([1.0, 1.0]), 0, s)),
                        lambda s: 0.0, 1.0, 0)


def test_truthful_regret_is_zero_under_valuation_payment_and_positive_under_pay_your_bid():
    from mechanism import rules as R
    from properties.checks import truthful_regret
    rule = R.get_rule("linear")
    P = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.3, 0.3, 0.4]])
    b = np.array([1.0, 2.0, 0.5])
    for i in range(3):
        assert abs(truthful_regret(rule, P, b, i, "valuation")) < 1e-6
        assert truthful_regret(rule, P, b, i, "pay_your_bid") > 1e-3


def test_box_violation_worst_pair_is_the_largest_excess_of_the_path():
    from mechanism import bids as BIDS
    from mechanism import orders
    from mechanism import rules as R
    rule = R.get_rule("log_linear")
    rng = np.random.default_rng(3)
    found = 0
    for _ in range(60):
        P = rng.dirichlet(np.ones(4) * 0.5, size=3)
        b = rng.exponential(1.0, size=3)
        grid = np.geomspace(1e-3, 4.0, 12)
        first = C.box_violation_on_grid(rule, P, b, 0, grid=grid)
        worst = C.box_violation_on_grid(rule, P, b, 0, grid=grid, worst=True)
        assert (first is None) == (worst is None)
        if worst is None:
            continue
        found += 1
        excess = orders.box_path_excess(P[0], BIDS.bid_path(rule, P, b, 0, grid))
        k = int(np.argmax(excess))
        assert (worst["bid_from"], worst["bid_to"]) == (grid[k], grid[k + 1])
        assert worst["excess"] == float(excess[k]) >= first["excess"]
    assert found >= 3
