"""The built-in rules near the top of the float64 range (theory §2): normalized weights
are scale-free, so ``lambda + sum of bids`` overflowing float64 never gives a wrong
answer (each weight row is scaled by its maximum first), and no numpy warning leaks: the
sign test ``W > 0`` cannot overflow (``mechanism.bids.has_weight``), and the total itself,
where a caller needs its value, is refused beyond float64 (``Float64Range``).

Planted bugs seen failing (reverted): ``total_weight`` summing without the overflow check
(a RuntimeWarning, then ``inf`` or NaN payments: fails the total-weight and payment
tests); ``Rule.evaluate`` testing ``total_weight(b) <= 0`` again (fails the first two:
the warning, or the refusal, reaches an input with a right answer)."""

import warnings

import numpy as np
import pytest

import mechanism
from mechanism import expected_payments
from mechanism.bids import has_weight, others_weight, total_weight
from mechanism.errors import Float64Range, InvalidInput
from mechanism.rules import get_rule

P2 = np.array([[1.0, 0.0], [0.0, 1.0]])


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)   # an overflow must not leak
        yield


def test_linear_with_a_huge_reference_weight_is_the_exact_mixture():
    rule = get_rule("linear").with_reference([.5, .5], 1e308)
    assert rule(P2, [0.0, 0.0]).tolist() == [0.5, 0.5]
    assert rule(P2, [1e308, 0.0]).tolist() == [0.75, 0.25]        # was (0, 0)
    assert np.allclose(rule.batch(P2, np.array([[0.0, 0.0], [1e308, 0.0]])),
                       [[0.5, 0.5], [0.75, 0.25]])


def test_log_linear_with_a_huge_reference_weight_is_the_geometric_mixture():
    rule = get_rule("log_linear").with_reference([.5, .5], 1e308)
    P = np.array([[.9, .1], [.9, .1]])
    assert np.allclose(rule(P, [1e308, 0.0]), [0.75, 0.25])       # was (.5, .5)


def test_bids_whose_total_overflows_are_refused_not_answered():
    with pytest.raises(InvalidInput, match="overflow"):
        get_rule("linear")(P2, [1e308, 1e308])


def test_the_total_weight_beyond_float64_is_refused_and_its_sign_is_still_known():
    with pytest.raises(Float64Range, match=r"lambda 1e\+308 is beyond float64; scale every "
                                           "bid and lambda down"):
        total_weight([1e308, 0.0], [.5, .5], 1e308)
    with pytest.raises(Float64Range, match="beyond float64"):
        total_weight([[1.0, 1.0], [1e308, 1e308]])           # one row of a batch
    with pytest.raises(Float64Range):
        others_weight([1e308, 1e308, 1.0], 2)
    assert total_weight([1e308, 0.0], [.5, .5], 1e307) == 1.1e308
    assert total_weight([[1.0, 2.0], [0.0, 0.0]], [.5, .5], 1.0).tolist() == [4.0, 1.0]
    assert has_weight([1e308, 1e308]) and has_weight([0.0, 0.0], [.5, .5], 1e308)
    assert not has_weight([0.0, 0.0]) and not has_weight([0.0, 0.0], [.5, .5], 0.0)
    assert has_weight([[0.0, 0.0], [0.0, 1e-300]]).tolist() == [False, True]


def test_payments_beyond_float64_are_refused_never_nan():
    """The closed form needs W and B_i: beyond float64 it refuses (was NaN)."""
    rule = get_rule("linear").with_reference([.5, .5], 1e308)
    with pytest.raises(InvalidInput, match="beyond float64"):
        expected_payments(rule, P2, [1e308, 0.0])


def test_the_sign_test_of_a_huge_reference_weight_is_positive():
    """lambda = 1e308 and a bid of 1e308: W overflows float64 but its sign is known (the
    compiled family rules' own sign test is tested in tests/proofs/test_family_weight_sign.py)."""
    from mechanism.bids import rule_has_weight
    huge = get_rule("linear").with_reference([.5, .5], 1e308)
    assert rule_has_weight(huge, np.array([1e308, 0.0]))       # beyond float64: positive


def test_float64_range_is_exported():
    assert "Float64Range" in mechanism.__all__ and mechanism.Float64Range is Float64Range
    assert issubclass(Float64Range, InvalidInput)
