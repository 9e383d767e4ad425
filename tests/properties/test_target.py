"""properties.target: a judge rule given as a plain callable is called through the one
calling policy (properties.sandbox.call_as_rule)."""

import numpy as np
import pytest

from mechanism.errors import InvalidInput, InvalidRule
from properties.target import Target


def raising_rule(dists, bids):
    raise ValueError("judge broke")


def declining_rule(dists, bids):
    raise InvalidInput("not here", value=bids)


def pay_nothing(rule, dists, bids):
    return np.zeros(len(bids))


def test_raising_judge_rule_is_invalid_rule_naming_it():
    t = Target(pay_nothing, rule=raising_rule, kind="payment")
    with pytest.raises(InvalidRule, match=r"rule 'raising_rule' raised ValueError: judge broke"):
        t.judge.evaluate(np.array([[0.5, 0.5]]), np.array([1.0]))


def test_declining_judge_rule_passes_invalid_input_on():
    t = Target(pay_nothing, rule=declining_rule, kind="payment")
    with pytest.raises(InvalidInput, match="not here") as info:
        t.judge.evaluate(np.array([[0.5, 0.5]]), np.array([1.0]))
    assert not isinstance(info.value, InvalidRule)
