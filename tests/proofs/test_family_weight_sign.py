"""The sign test ``W > 0`` of a compiled family rule is the rule's own total weight
(``mechanism.bids.rule_has_weight``, theory §2): a family weighs f(b_j), not b_j."""

import numpy as np
import pytest

from mechanism.bids import rule_has_weight
from mechanism.errors import InvalidInput
from proofs.unbounded.families import normalized

P2 = np.array([[1.0, 0.0], [0.0, 1.0]])


def test_the_sign_test_is_the_rule_s_own_total_weight():
    """f(b) = max(b - 1, 0) has W = 0 at bids (0.5, 0.5) and W > 0 at bids (0, 0) for
    f(b) = exp(b) (planted: rule_has_weight testing the bids instead, bids.has_weight,
    fails this)."""
    cut = normalized(lambda b, fn: fn.max(b - 1, 0))
    soft = normalized(lambda b, fn: fn.exp(b))
    assert not rule_has_weight(cut, np.array([0.5, 0.5]))
    assert rule_has_weight(soft, np.array([0.0, 0.0]))
    with pytest.raises(InvalidInput, match="W = 0"):
        cut(P2, [0.5, 0.5])
    assert soft(P2, [0.0, 0.0]).tolist() == [0.5, 0.5]
