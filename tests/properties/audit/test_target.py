"""The audited object is called through the one calling policy (properties.sandbox.call_user):
a failure is InvalidRule naming the method, InvalidInput passes through as "undefined here"."""

import numpy as np
import pytest

from mechanism.errors import InvalidInput, InvalidRule
from properties.audit.target import Audited
from properties.sandbox import RuleFailure, Undefined, call_user, guarded_call

P = np.array([[0.5, 0.5], [0.2, 0.8]])
B = np.array([1.0, 2.0])


class Raises:
    name = "raises"

    def aggregate(self, dists, bids):
        raise ValueError("bad aggregate")

    def payments(self, dists, bids):
        raise ZeroDivisionError("bad payments")


class Declines:
    def aggregate(self, dists, bids):
        raise InvalidInput("outside my domain", value=bids)


def test_raising_aggregate_is_invalid_rule_naming_it():
    with pytest.raises(InvalidRule, match=r"raises\.aggregate raised ValueError: bad aggregate"):
        Audited(Raises()).rule.evaluate(P, B)


def test_raising_payments_is_invalid_rule_naming_it():
    with pytest.raises(InvalidRule, match=r"raises\.payments raised ZeroDivisionError"):
        Audited(Raises()).pay(P, B)


def test_invalid_input_passes_through_with_its_value():
    with pytest.raises(InvalidInput, match="outside my domain") as info:
        Audited(Declines()).rule.evaluate(P, B)
    assert not isinstance(info.value, InvalidRule)


def test_check_and_audit_share_the_policy():
    def boom(dists, bids):
        raise KeyError("k")
    with pytest.raises(RuleFailure) as info:
        call_user("rule 'boom'", boom, (P, B))
    assert (info.value.kind, info.value.exception) == ("raised", "KeyError")
    with pytest.raises(Undefined, match="outside my domain"):
        guarded_call("rule 'declines'", Declines().aggregate, (P, B), None)
