"""properties.target: the one wrapper calls the user's code through the one calling policy
(properties.sandbox): a judge rule given as a plain callable, and an audited mechanism,
fail as InvalidRule naming the method; InvalidInput passes through as "undefined here"."""

import numpy as np
import pytest

from mechanism.errors import InvalidInput, InvalidRule
from properties.sandbox import RuleFailure, Undefined, call_user, guarded_call
from properties.target import Target

P = np.array([[0.5, 0.5], [0.2, 0.8]])
B = np.array([1.0, 2.0])


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
        Target(Raises(), kind="mechanism").rule.evaluate(P, B)


def test_raising_payments_is_invalid_rule_naming_it():
    with pytest.raises(InvalidRule, match=r"raises\.payments raised ZeroDivisionError"):
        Target(Raises(), kind="mechanism").payments(P, B)


def test_invalid_input_passes_through_with_its_value():
    with pytest.raises(InvalidInput, match="outside my domain") as info:
        Target(Declines(), kind="mechanism").rule.evaluate(P, B)
    assert not isinstance(info.value, InvalidRule)


def test_check_and_audit_share_the_policy():
    def boom(dists, bids):
        raise KeyError("k")
    with pytest.raises(RuleFailure) as info:
        call_user("rule 'boom'", boom, (P, B))
    assert (info.value.kind, info.value.exception) == ("raised", "KeyError")
    with pytest.raises(Undefined, match="outside my domain"):
        guarded_call("rule 'declines'", Declines().aggregate, (P, B), None)


PAYS = '''
import numpy as np

def rule(dists, bids):
    b = np.asarray(bids, dtype=float)
    return b @ np.asarray(dists) / b.sum()

def overcharge(rule, dists, bids):
    return 2.0 * np.asarray(bids, dtype=float) + 1.0
'''


def test_a_caged_judge_rule_is_named_and_reproduced_by_its_spec(capsys, tmp_path):
    """Planted bug (the judge's spec not taken from its worker's handle): the reproduction
    printed ``from properties.cage import rule as rule`` and was not reproduced."""
    import json
    from tests.helpers.recording import run_cli
    (tmp_path / "pays.py").write_text(PAYS)
    spec = f"{tmp_path / 'pays.py'}:rule"
    rc, out = run_cli(capsys, "check", f"{tmp_path / 'pays.py'}:overcharge", "--rule", spec,
                      "--property", "payment_at_most_bid", "--max-examples", "10", "--no-prove",
                      "--json")
    got = json.loads(out.strip().splitlines()[-1])
    cex = next(f for f in got["findings"] if f["verdict"] == "REFUTED")["counterexample"]
    assert rc == 1 and got["judged_under"] == spec
    assert f"rule = load_target({spec!r})" in cex["repro"] and cex["reproduced"] is True
