"""The built-in rules near the top of the float64 range (theory §2): normalized weights
are scale-free, so ``lambda + sum of bids`` overflowing float64 never gives a wrong
answer (each weight row is scaled by its maximum first)."""

import warnings

import numpy as np
import pytest

from mechanism.errors import InvalidInput
from mechanism.rules import get_rule

P2 = np.array([[1.0, 0.0], [0.0, 1.0]])


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # lambda + sum(b) = inf in bids.py
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
