"""Rule-level z3 proofs: built-in rules PROVED, planted non-monotone rules REFUTED with
a model the numpy reference confirms, exp/log UNKNOWN, numpy-only rules SKIPPED."""

from fractions import Fraction

import numpy as np
import pytest

from tests.helpers.requires import require

z3 = pytest.importorskip("z3")
require("sympy")

from mechanism.arith import FRACTION
from mechanism.errors import InvalidInput, InvalidRule
from mechanism.orders import prefers
from mechanism.rules import as_rule, get_rule, linear, winner_take_all
from mechanism.verdicts import Verdict
from proofs.bounded.backends import SympyOps
from proofs.compile.generic_rule import compiled
from proofs.bounded.planted import planted_rule
from proofs.bounded.rule_level import prove_rule, prove_rule_property


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
    res = prove_rule(get_rule("linear"), "monotone", order, max_agents=3, max_tokens=4,
                     timeout_s=60)   # the bounded engine (prove_rule_property: every n)
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
    assert prove_rule_property(get_rule("linear"), "consistent", "box",
                               timeout_s=120).verdict is Verdict.PROVED
    rule = planted_rule("greedy")
    res = prove_rule_property(rule, "consistent", "box", max_agents=2, max_tokens=2)
    assert res.verdict is Verdict.REFUTED
    confirm_on_numpy(rule, res.counterexample, "consistent")


def test_log_linear_is_decided_by_the_exact_search():
    """z3 has no exp/log: the exact search refutes log-linear MON (box) on 3 tokens and
    sympy re-evaluates the violation; two tokens only: nothing found, UNKNOWN, not PROVED."""
    rule = get_rule("log_linear")
    res = prove_rule(rule, "monotone", "box")
    assert res.verdict is Verdict.REFUTED and "exp/log" in res.detail, res.detail
    assert res.engine == "search+sympy" and "q_to" in res.counterexample["exact"]
    confirm_on_numpy(rule, res.counterexample)
    two = prove_rule(rule, "monotone", "box", max_tokens=2, max_agents=2)
    assert two.verdict is Verdict.UNKNOWN and "proves nothing" in two.detail


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
    """The compiled tree, read by Fraction, sympy and numpy, agrees with the generic
    definition on exact fractions."""
    P = [[Fraction(1, 5), Fraction(4, 5)], [Fraction(1, 2), Fraction(1, 2)]]
    bids = [Fraction(1), Fraction(3)]
    want = list(linear(FRACTION, [FRACTION.vector(p) for p in P], bids))
    so = SympyOps()
    got = linear(so, [so.vector(p) for p in P], [so.scalar(b) for b in bids])
    assert [Fraction(str(x)) for x in got] == want
    rule = compiled(linear)
    assert list(rule.exact(P, bids)) == want
    got = rule._generic(so, [so.vector(p) for p in P], [so.scalar(b) for b in bids])
    assert [Fraction(str(x)) for x in got] == want
    np.testing.assert_allclose(rule(np.array(P, float), np.array(bids, float)),
                               [float(x) for x in want], rtol=0, atol=1e-15)
    wta = compiled(winner_take_all).exact(P, bids)
    assert list(wta) == [Fraction(1, 2), Fraction(1, 2)]


def test_symbolic_positivity_is_a_case_split_not_an_assumption():
    """An undecided is_positive is compiled as ite(x > 0, ., .) on both feasible sides;
    nothing is assumed, so the bid domain keeps bid 0. A side no input reaches (every bid
    0 without a reference: W = 0) is not explored."""
    import sympy

    from proofs.compile import tree as T
    from proofs.compile.generic import capture_rule

    def half(ops, dists, bids, reference=None, weight=0):
        return ops.vector([ops.ite(ops.is_positive(bids[0]), 1, 0),
                           ops.ite(ops.is_positive(bids[0]), 0, 1)])
    q0 = capture_rule(half, 2, 2, False)[0]
    assert T.show(q0) == "ite(b > 0, 1, 0)"
    one = capture_rule(half, 1, 2, False)[0]   # n = 1: b0 = 0 would make W = 0
    assert T.show(one) == "1"
    so = SympyOps()
    y = sympy.Symbol("y", real=True)
    assert so.is_positive(y) and so.assumptions == [y > 0]
    assert not so.is_positive(sympy.Integer(0))


def test_rule_by_name_and_numpy_scalars():
    import sympy

    assert prove_rule_property("winner_take_all", "monotone", "box", max_agents=2,
                               max_tokens=2).verdict is Verdict.PROVED
    with pytest.raises(InvalidInput):
        prove_rule_property("no_such_rule", "monotone", "box")
    assert SympyOps().scalar(np.int64(3)) == 3
    assert SympyOps().scalar(0.1) == sympy.Rational(*Fraction(0.1).as_integer_ratio())


def test_dropping_zero_bids_is_proved_with_bid_zero_in_scope():
    """A rule that drops zero-weight parties with is_positive is proved by case split: the
    scope keeps every real bid >= 0 and names no positivity assumption."""
    from mechanism.rules import Rule

    def dropping_linear(ops, dists, bids, reference=None, weight=0):
        parties = [(p, w) for p, w in zip(dists, bids) if ops.is_positive(w)]
        return sum(p * w for p, w in parties) / sum(w for _, w in parties)

    res = prove_rule_property(compiled(dropping_linear), "monotone", "box",
                              max_agents=2, max_tokens=2)
    assert res.verdict is Verdict.PROVED, res.detail
    assert "bid 0 included" in res.scope.bids
    plain = prove_rule_property(Rule("dropping_linear", dropping_linear), "monotone", "box",
                                max_agents=2, max_tokens=2)
    assert plain.verdict is Verdict.UNKNOWN and "Python function" in plain.detail
    assert not any("> 0" in a and "W" not in a for a in res.scope.assumptions)


def test_proved_carries_its_scope():
    res = prove_rule(get_rule("linear"), "monotone", "box", max_agents=2, max_tokens=3)
    assert res.verdict is Verdict.PROVED
    sc = res.scope
    assert (sc.max_agents, sc.max_tokens, sc.arithmetic) == (2, 3, "exact reals")
    assert sc.contains(2, 3) and not sc.contains(3, 3) and not sc.contains(2, 4)
    assert any("W" in a for a in sc.assumptions)
    ref = prove_rule(get_rule("linear"), "monotone", "box", max_agents=1, max_tokens=2,
                     symbolic_reference=True)
    assert any("symbolic reference" in a for a in ref.scope.assumptions)


def _ref_flips(ops, dists, bids, reference=None, weight=0):
    """Linear without a reference; with one, each agent's weight 1 / (1 + b): not monotone."""
    ws = list(bids) if reference is None else [1 / (1 + b) for b in bids] + [weight]
    rows = list(dists) if reference is None else list(dists) + [reference]
    total = sum(ws)
    return [sum(p[t] * w for p, w in zip(rows, ws)) / total for t in range(len(dists[0]))]


def test_a_proof_without_a_reference_says_so_and_the_reference_rule_is_another():
    """PROVED for the trees without a reference; the scope says the rule given one is not
    covered (planted: the scope named only 'W = lambda + sum of bids > 0', and the same rule
    with a reference, which TokenAuction runs, moved q away from the raised bid)."""
    from mechanism import prefers
    from mechanism.verdicts import NO_REFERENCE
    from proofs.bounded.rule_level import prove_rule_property
    from proofs.compile.generic_rule import compiled
    rule = compiled(_ref_flips, name="ref_flips")
    res = prove_rule_property(rule, "monotone", "box", max_agents=2, max_tokens=2, timeout_s=60)
    assert str(res.verdict) == "PROVED" and NO_REFERENCE in res.scope.assumptions
    with_ref = rule.with_reference(np.array([0.5, 0.5]), 1.0)
    P = np.eye(2)
    lo, hi = with_ref(P, [0.0, 1.0]), with_ref(P, [1.0, 1.0])
    assert not prefers(P[0], hi, lo, "box")
    res = prove_rule_property(with_ref, "monotone", "box", max_agents=2, max_tokens=2,
                              timeout_s=60)
    assert str(res.verdict) == "REFUTED", res.detail
