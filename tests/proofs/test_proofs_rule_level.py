"""Rule-level z3 proofs: built-in rules PROVED, planted non-monotone rules REFUTED with
a model the numpy reference confirms, exp/log UNKNOWN, numpy-only rules SKIPPED."""

from fractions import Fraction

import numpy as np
import pytest

z3 = pytest.importorskip("z3")
sympy = pytest.importorskip("sympy")

from mechanism.arith import FRACTION, Unsupported, Vec
from mechanism.errors import InvalidInput, InvalidRule
from mechanism.orders import prefers
from mechanism.rules import as_rule, get_rule, linear, winner_take_all
from mechanism.verdicts import Verdict
from proofs.backends import SympyOps, Z3Ops
from proofs.planted import planted_rule
from proofs.rule_level import prove_rule, prove_rule_property


def confirm_on_numpy(rule, cex, prop="monotone"):
    """Independent re-run of a counterexample dict on the numpy reference."""
    P = np.array(cex["dists"])
    bf, bt = list(cex["bids"]), list(cex["bids"])
    bf[cex["agent"]], bt[cex["agent"]] = cex["bid_from"], cex["bid_to"]
    assert cex["bid_from"] < cex["bid_to"]
    qf, qt = rule.evaluate(P, np.array(bf)), rule.evaluate(P, np.array(bt))
    p = P[cex["agent"]]
    order = cex["order"]
    assert not prefers(p, qt, qf, order)
    if prop == "consistent":
        assert not prefers(p, qf, qt, order)
    np.testing.assert_allclose(qt, cex["q_to"], atol=1e-9)


@pytest.mark.parametrize("order", ["box", "segment"])
def test_linear_is_proved_up_to_three_agents_four_tokens(order):
    res = prove_rule_property(get_rule("linear"), "monotone", order, max_agents=3, max_tokens=4,
                              timeout_s=60)
    assert res.verdict is Verdict.PROVED, res.detail
    assert "n=3 V=4" in res.detail and res.engine == "z3"


@pytest.mark.parametrize("order", ["box", "segment"])
def test_winner_take_all_is_proved(order):
    res = prove_rule_property(get_rule("winner_take_all"), "monotone", order, timeout_s=60)
    assert res.verdict is Verdict.PROVED, res.detail


def test_linear_with_symbolic_and_concrete_reference_is_proved():
    res = prove_rule(get_rule("linear"), "monotone", "box", max_agents=2, max_tokens=3,
                     symbolic_reference=True, timeout_s=60)
    assert res.verdict is Verdict.PROVED, res.detail
    ref = get_rule("linear", reference=[0.2, 0.3, 0.5], weight=1.5)
    assert prove_rule_property(ref, "monotone", "segment").verdict is Verdict.PROVED


@pytest.mark.parametrize("name", ["overbid_penalty", "greedy"])
@pytest.mark.parametrize("order", ["box", "segment"])
def test_planted_rules_are_refuted_and_numpy_confirms(name, order):
    rule = planted_rule(name)
    res = prove_rule_property(rule, "monotone", order, timeout_s=60)
    assert res.verdict is Verdict.REFUTED, res.detail
    cex = res.counterexample
    assert set(cex) >= {"dists", "bids", "agent", "bid_from", "bid_to"}
    confirm_on_numpy(rule, cex)
    assert len(cex["dists"]) == 2 and len(cex["dists"][0]) == 2  # fewest agents and tokens


def test_consistency_linear_proved_greedy_refuted():
    assert prove_rule_property(get_rule("linear"), "consistent", "box").verdict is Verdict.PROVED
    rule = planted_rule("greedy")
    res = prove_rule_property(rule, "consistent", "box", max_agents=2, max_tokens=2)
    assert res.verdict is Verdict.REFUTED
    confirm_on_numpy(rule, res.counterexample, "consistent")


def test_log_linear_is_unknown_with_the_reason():
    res = prove_rule_property(get_rule("log_linear"), "monotone", "box")
    assert res.verdict is Verdict.UNKNOWN and "log" in res.detail


def test_numpy_only_rule_is_skipped_and_loss_orders_too():
    user = as_rule(lambda P, b: P[int(np.argmax(b))], name="user_rule")
    assert prove_rule_property(user, "monotone", "box").verdict is Verdict.SKIPPED
    assert prove_rule_property(get_rule("linear"), "monotone", "kl_forward").verdict \
        is Verdict.SKIPPED


def test_timeout_gives_unknown():
    res = prove_rule_property(planted_rule("overbid_penalty"), "consistent", "segment",
                              timeout_s=0.01)
    assert res.verdict is Verdict.UNKNOWN and "timeout" in res.detail


@pytest.mark.parametrize("kwargs", [dict(property_id="truthful"), dict(order="sideways"),
                                    dict(max_agents=0), dict(max_tokens=1),
                                    dict(max_agents=True), dict(timeout_s=-1)])
def test_bad_input_is_invalid_input(kwargs):
    args = dict(property_id="monotone", order="box")
    args.update(kwargs)
    extra = {k: v for k, v in args.items() if k not in ("property_id", "order")}
    with pytest.raises(InvalidInput):
        prove_rule_property(get_rule("linear"), args["property_id"], args["order"], **extra)
    with pytest.raises(InvalidRule):
        prove_rule_property(42, "monotone", "box")


def test_backends_agree_with_exact_fractions():
    P = [[Fraction(1, 5), Fraction(4, 5)], [Fraction(1, 2), Fraction(1, 2)]]
    bids = [Fraction(1), Fraction(3)]
    want = list(linear(FRACTION, [FRACTION.vector(p) for p in P], bids))
    so = SympyOps()
    got = linear(so, [so.vector(p) for p in P], [so.scalar(b) for b in bids])
    assert [Fraction(str(x)) for x in got] == want
    zo = Z3Ops()
    got = linear(zo, [zo.vector(p) for p in P], [zo.scalar(b) for b in bids])
    vals = [z3.simplify(x) for x in got]
    assert [Fraction(v.numerator_as_long(), v.denominator_as_long()) for v in vals] == want
    wta = winner_take_all(zo, [zo.vector(p) for p in P], [zo.scalar(b) for b in bids])
    assert isinstance(wta, Vec) and [str(z3.simplify(x)) for x in wta] == ["1/2", "1/2"]


def test_symbolic_positivity_is_assumed_and_recorded():
    zo, so = Z3Ops(), SympyOps()
    x = z3.Real("x")
    assert zo.is_positive(x) and len(zo.assumptions) == 1
    assert zo.is_positive(zo.scalar(2)) and not zo.is_positive(zo.scalar(0))
    assert len(zo.assumptions) == 1
    y = sympy.Symbol("y", real=True)
    assert so.is_positive(y) and so.assumptions == [y > 0]
    assert not so.is_positive(sympy.Integer(0))
    with pytest.raises(Unsupported):
        zo.log(Vec([x]))
    with pytest.raises(Unsupported):
        zo.softmax(Vec([x]))


def test_rule_by_name_and_numpy_scalars():
    assert prove_rule_property("winner_take_all", "monotone", "box", max_agents=2,
                               max_tokens=2).verdict is Verdict.PROVED
    with pytest.raises(InvalidInput):
        prove_rule_property("no_such_rule", "monotone", "box")
    zo = Z3Ops()
    assert str(z3.simplify(zo.scalar(np.int64(3)) / 2)) == "3/2"
    assert SympyOps().scalar(np.int64(3)) == 3


def test_symbolic_positivity_assumption_is_reported():
    from mechanism.rules import Rule

    def dropping_linear(ops, dists, bids, reference=None, weight=0):
        parties = [(p, w) for p, w in zip(dists, bids) if ops.is_positive(w)]
        return sum(p * w for p, w in parties) / sum(w for _, w in parties)

    res = prove_rule_property(Rule("dropping_linear", dropping_linear), "monotone", "box",
                              max_agents=2, max_tokens=2)
    assert res.verdict is Verdict.PROVED
    assert "ASSUMING" in res.detail and "assumptions" in res.size
