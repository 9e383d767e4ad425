"""Rules written from the family's building blocks (proofs.unbounded.families): PROVED for every
n and V through the lemma chain, or REFUTED with the characterization's counterexample,
re-run on the numpy reference; and the hook in proofs.bounded.rule_level."""

import numpy as np
import pytest

from tests.helpers.requires import require

require("z3", "sympy")

from mechanism.errors import InvalidInput
from mechanism.orders import prefers
from mechanism.verdicts import Verdict
from proofs.unbounded.families import normalized, prove_family, winner_take_all
from proofs.bounded.rule_level import prove_rule_property
from proofs.compile.capture import DeclarationError


def capped(b, fn):
    return fn.min(b, 3)


def hidden_spike(b, fn):
    return 5.0 if b == 0.37 else b     # `==` on the bid: not representable, refused


GOOD = {
    "linear": normalized(lambda b, fn: b),
    "capped_ref_smoothed": normalized(capped, reference=[.5, .3, .2], weight=1.0, epsilon=.01),
    "softmax_T": normalized(lambda b, fn, T: fn.exp(b / T), params={"T": 2.0},
                            domains={"T": "positive"}),
    "poly": normalized(lambda b, fn: b * b + b),
    "wta": winner_take_all(),
}


@pytest.mark.parametrize("name", sorted(GOOD))
@pytest.mark.parametrize("prop", ["monotone", "consistent"])
@pytest.mark.parametrize("order", ["box", "segment"])
def test_family_rules_are_proved_for_every_n(name, prop, order):
    rule = GOOD[name]
    res = prove_rule_property(rule, prop, order)       # through the hook
    assert res.verdict is Verdict.PROVED, res.detail
    assert res.scope.max_agents is None
    assert res.scope.max_tokens == (None if rule.reference is None else rule.reference.size)


def _confirm(rule, cex, order):
    P = np.array(cex["dists"])
    bf, bt = list(cex["bids"]), list(cex["bids"])
    bf[cex["agent"]], bt[cex["agent"]] = cex["bid_from"], cex["bid_to"]
    q0, q1 = rule(P, bf), rule(P, bt)
    return not prefers(P[cex["agent"]], q1, q0, order)


@pytest.mark.parametrize("f", [lambda b, fn: b / (1 + b * b),
                               lambda b, fn: fn.ite(fn.gt(b, 0.37), b, 5.0),
                               lambda b, fn: fn.exp(-b) + 0 * b,
                               lambda b, fn: fn.max(b, 2) - fn.min(b, 1)])
def test_non_monotone_weights_are_refuted_with_a_counterexample(f):
    rule = normalized(f)
    res = prove_rule_property(rule, "monotone", "box")
    assert res.verdict is Verdict.REFUTED, res.detail
    assert _confirm(rule, res.counterexample, "box")


def test_any_nonnegative_weight_function_is_ca():
    res = prove_family(normalized(lambda b, fn: b / (1 + b * b)), "consistent", "segment")
    assert res.verdict is Verdict.PROVED and "need not be monotone" in res.detail


def test_log_linear_pooling_every_n_on_two_tokens_refuted_on_three():
    v2 = normalized(lambda b, fn: b, pooling="log_linear", reference=[.5, .5], weight=1.0)
    assert prove_family(v2, "monotone", "box").verdict is Verdict.PROVED
    v3 = normalized(lambda b, fn: fn.exp(b), pooling="log_linear")
    res = prove_family(v3, "monotone", "box")
    assert res.verdict is Verdict.REFUTED and _confirm(v3, res.counterexample, "box")


def test_a_python_branch_on_the_bid_is_a_declaration_error_naming_the_line():
    with pytest.raises(DeclarationError, match=r"test_unbounded_families.py:\d+.*`==` on a symbol"):
        normalized(hidden_spike)
    with pytest.raises(DeclarationError, match="fn.ite"):
        normalized(lambda b, fn: b if b > 1 else 0)


def test_builtin_linear_gets_the_unbounded_proof_a_plain_rule_the_bounded_one():
    from mechanism.rules import as_rule, get_rule, linear
    res = prove_rule_property(get_rule("linear"), "monotone", "box", max_agents=2, max_tokens=2)
    assert res.verdict is Verdict.PROVED and res.scope.unbounded
    assert any(s.id == "code_tie" and s.verdict == "PROVED" for s in res.lemmas)
    from mechanism.rules import Rule
    from proofs.compile.generic_rule import compiled
    mine = compiled(linear, name="mine")                 # not the registered rule: bounded
    res = prove_rule_property(mine, "monotone", "box", max_agents=2, max_tokens=2)
    assert res.verdict is Verdict.PROVED and not res.scope.unbounded
    assert as_rule(mine) is mine
    plain = Rule("plain", linear)        # evaluates the Python definition, not generated code
    res = prove_rule_property(plain, "monotone", "box", max_agents=2, max_tokens=2)
    assert res.verdict is Verdict.UNKNOWN and "Python function" in res.detail


def test_bad_blocks_and_overflow_are_clear_input_errors():
    with pytest.raises(InvalidInput, match="pooling"):
        normalized(lambda b, fn: b, pooling="geometric")
    with pytest.raises(InvalidInput, match="weight function"):
        normalized(None)
    rule = normalized(lambda b, fn: fn.exp(b))      # log-space weights: no overflow
    q = rule(np.array([[1.0, 0.0], [0.0, 1.0]]), [1e4, 1.0])
    assert q.tolist() == [1.0, 0.0]
    q = rule(np.array([[1.0, 0.0], [0.0, 1.0]]), [709.5, 709.5])
    assert q.tolist() == [0.5, 0.5]
    grow = normalized(lambda b, fn: fn.exp(b) + 1)  # exp(1e4) + 1 overflows: declined
    with pytest.raises(InvalidInput, match="float64"):
        grow(np.array([[1.0, 0.0], [0.0, 1.0]]), [1e4, 1.0])


def test_check_proves_a_user_rule_and_refutes_a_bad_one():
    from properties import check
    rep = check(GOOD["capped_ref_smoothed"], properties=["monotone:box"], max_examples=10)
    proved = [f for f in rep.findings if f.verdict is Verdict.PROVED]
    assert proved and "every n and every V" in proved[0].detail
    rep = check(normalized(lambda b, fn: b / (1 + b * b)), properties=["monotone:box"],
                max_examples=10)
    assert any(f.verdict is Verdict.REFUTED and f.engine.startswith("numpy")
               for f in rep.findings)


def test_general_weights_bounded_n_every_V_or_the_characterizations_instance():
    from proofs.unbounded.families import general
    ok = general(lambda b, fn: [x * x + 1 for x in b])
    res = prove_rule_property(ok, "monotone", "segment")
    assert res.verdict is Verdict.PROVED
    assert res.scope.max_tokens is None and res.scope.max_agents == 4
    # the others' weights move apart when agent 0 bids more (from n = 3 on)
    bad = general(lambda b, fn: [b[0]] + [x + b[0] for x in b[1:]])
    res = prove_rule_property(bad, "monotone", "box")
    assert res.verdict is Verdict.REFUTED and _confirm(bad, res.counterexample, "box")
    # non-anonymous weights: agent 1 is refuted in its own seat (no permutation)
    def seat_weights(b, fn):  # agent 1's own weight falls above bid 1
        return [b[0]] + [b[1] / (1 + b[1] * b[1]) for _ in b[1:2]] + list(b[2:])
    seat = general(seat_weights)
    res = prove_rule_property(seat, "monotone", "box")
    assert res.verdict is Verdict.REFUTED and res.counterexample["agent"] == 1
    assert _confirm(seat, res.counterexample, "box")


def test_a_float64_decline_is_no_evidence_in_check():
    """exp(b) + 1 overflows float64 from b ~ 710: the compiled rule declines there
    (Float64Range), and check counts it as no evidence, never a normalized failure
    (planted: a decline read as a normalized failure makes this fail)."""
    from mechanism.errors import Float64Range
    from properties import check
    grow = normalized(lambda b, fn: fn.exp(b) + 1, name="grow")
    with pytest.raises(Float64Range):
        grow(np.array([[1.0, 0.0], [0.0, 1.0]]), [1e4, 1.0])
    rep = check(grow, properties=["normalized"], max_examples=30, seed=0)
    f = rep.find("normalized")[0]
    assert f.verdict is Verdict.NOT_REFUTED and 0 < f.declined < f.valid, f.detail


def test_check_draws_the_compiled_trees_constants_as_bids():
    from properties.target import Target
    rule = normalized(lambda b, fn: fn.ite(b > 0.37, b, 5.0))
    assert {0.37, float(np.nextafter(0.37, 1.0))} <= set(Target(rule).literals)


def test_a_winner_take_all_bug_planted_in_the_library_is_not_proved(monkeypatch):
    """The code tie compares the library's fast path with the family's own specification
    (not with itself): ties to the HIGHEST index instead of the lowest is caught."""
    import mechanism.rules as R

    def wta_last(ops, dists, bids, reference=None, weight=0):
        top = max(bids)
        if not top > 0:
            return reference if reference is not None else dists[0]
        return dists[max(j for j, b in enumerate(bids) if b == top)]
    assert prove_rule_property("winner_take_all", "monotone", "box").verdict is Verdict.PROVED
    monkeypatch.setattr(R, "winner_take_all", wta_last)
    res = prove_rule_property("winner_take_all", "monotone", "box")
    assert res.verdict is not Verdict.PROVED and "differ" in res.detail, res.detail


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1j, True])
def test_a_parameter_that_is_no_finite_real_is_a_declaration_error(value):
    """NaN and inf reached Fraction() and raised its ValueError / OverflowError from inside
    the fractions module (found by the red team); now the parameter is named."""
    from proofs.unbounded.families import normalized
    with pytest.raises(DeclarationError, match=r"parameter k = .* (finite )?real number"):
        normalized(lambda b, fn, k: b * k, params={"k": value})


def test_a_smoothing_too_small_for_float64_is_declined_not_run_non_monotone():
    """eps = 5e-324: eps / V rounds to 0 in float64, so agent 1's zero stayed a veto at
    bid 1e-323 and vanished when its weight underflowed beside a bid of 10 (q[0] from 0
    to 0.65, outside the box [0, 0.5]) while the family was PROVED monotone for every n.
    The code now declines such a smoothing (mechanism.smoothing.MIN_SHARE)."""
    from mechanism import InvalidInput
    from proofs.unbounded.families import normalized
    rule = normalized(lambda b, fn: b, pooling="log_linear", reference=[0.999, 0.001],
                      weight=1.0, epsilon=5e-324)
    P = np.array([[0.5, 0.5], [0.0, 1.0]])
    for bids in ([0.0, 1e-323], [10.0, 1e-323]):
        with pytest.raises(InvalidInput, match="too small to smooth 2 tokens"):
            rule(P, bids)
    ok = normalized(lambda b, fn: b, pooling="log_linear", epsilon=1e-300)
    assert np.isfinite(ok(P, [1.0, 1.0])).all()
