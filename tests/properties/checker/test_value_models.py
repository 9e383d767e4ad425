"""Value models: the three LLM-ad mechanisms of tests/helpers/llm_ads.py judged
under tv, kl, win and inner; the 50-draw Gumbel identity; planted bugs that must be caught."""

from __future__ import annotations

import numpy as np
import pytest

from mechanism import valuations as VM
from mechanism.errors import InvalidInput
from mechanism.rules import as_rule, get_rule
from mechanism.sampling import gumbel_max
from mechanism.verdicts import Verdict
from properties import oracle
from properties.audit.implementation import audit_mechanism
from tests.helpers.llm_ads import (FixedGumbelSegment, SegmentAuction, SlateCriticalBid,
                                   SoftmaxExternality, WinnerTakeAllRunnerUp)

MODEL_PROPS = ("payment_identity", "truthful", "individually_rational")


def audit(obj, valuation, n=30, **kw):
    return audit_mechanism(obj, valuation=valuation, use_suite=False, max_examples=n, **kw)


def verdict(rep, prop):
    return next(f for f in rep.findings if f.property == prop)


def test_segment_threshold_payment_passes_identity_and_truthful_under_win():
    rep = audit(SegmentAuction(relevance=[1.0, 0.5, 2.0, 1.5]), "win")
    for prop in MODEL_PROPS:
        f = verdict(rep, prop)
        assert f.verdict is Verdict.NOT_REFUTED, (prop, f.detail)
        assert "value model win" in f.detail and f.order == "win"


def test_segment_threshold_closed_form_matches_monte_carlo_of_the_gumbel_draw():
    # the expected threshold of the Gumbel-perturbed arg-max, by simulation (seeded)
    b, r = np.array([1.0, 2.0, 0.5]), np.array([1.0, 0.5, 2.0])
    mech = SegmentAuction(relevance=r)
    U = np.random.default_rng(0).random((40000, 3))
    pay = 0.0
    for u in U:
        i = mech.sample_winner(b, u)
        if i == 0:
            G = -np.log(-np.log(np.clip(u, 1e-300, 1 - 1e-16)))
            best_other = max(np.log(b[j] * r[j]) + G[j] for j in (1, 2))
            pay += np.exp(best_other - G[0]) / r[0]
    closed = mech.payments(np.eye(3), b)[0]
    assert pay / len(U) == pytest.approx(closed, abs=0.01)


def test_winner_take_all_runner_up_passes_under_win_and_is_refuted_under_tv():
    win = audit(WinnerTakeAllRunnerUp(), "win")
    assert verdict(win, "payment_identity").verdict is Verdict.NOT_REFUTED
    assert verdict(win, "truthful").verdict is Verdict.NOT_REFUTED
    tv = audit(WinnerTakeAllRunnerUp(), "tv")
    f = verdict(tv, "payment_identity")
    assert f.verdict is Verdict.REFUTED
    assert f.counterexample["value_model"] == "tv" and f.order == "tv"
    assert "(value model tv)" in tv.summary().splitlines()[0]   # the report names the model
    assert tv.to_json()["value_model"] == "tv"


@pytest.mark.parametrize("model", ["tv", "kl", "win", "inner"])
def test_externality_payment_is_refuted_under_every_model(model):
    rep = audit(SoftmaxExternality(temperature=1.0), model)
    refuted = [f for f in rep.findings if f.property in MODEL_PROPS
               and f.verdict is Verdict.REFUTED]
    assert refuted, rep.summary()
    cex = refuted[0].counterexample
    assert cex["value_model"] == model and "bids" in cex and "dists" in cex


def test_externality_with_reserve_is_refuted_and_reports_the_reserve():
    rep = audit(SoftmaxExternality(temperature=0.5, reserve=1.0), "tv")
    assert "payment_identity" in rep.refuted_properties()


def test_slate_critical_bid_is_not_individually_rational_under_inner():
    rep = audit(SlateCriticalBid("linear", k=1), "inner")
    f = verdict(rep, "individually_rational")
    assert f.verdict is Verdict.REFUTED
    assert f.counterexample["utility"] < 0 and f.counterexample["value_model"] == "inner"


def test_fifty_gumbel_draws_pass_the_identity_under_win():
    rep = audit(FixedGumbelSegment(draws=50, seed=0), "win", n=10)
    assert verdict(rep, "payment_identity").verdict is Verdict.NOT_REFUTED


def _gumbel_case(seed):
    mech = FixedGumbelSegment(draws=50, seed=0)
    rule = as_rule(mech.aggregate, name="fixed-gumbel")
    b = np.random.default_rng(seed).uniform(0.2, 3.0, 3)
    return mech, rule, np.eye(3), b


@pytest.mark.parametrize("seed", range(6))
def test_mechanism_identity_finds_the_fifty_draw_jumps_within_its_bound(seed):
    mech, rule, P, b = _gumbel_case(seed)
    z = mech.payments(P, b)
    for i in range(3):
        got, err = VM.identity_payment("win", rule, P, b, i)
        assert abs(got - z[i]) <= 1e-9 + 10 * err, (i, got, z[i], err)
        assert err < 1e-6
        x = VM.allocation_curve(VM.get_value_model("win"), rule, P, b, i)
        want, err_o, _ = oracle.identity(x, b[i], np.delete(b, i))
        assert abs(want - z[i]) <= 1e-9 + 10 * err_o


def test_planted_bug_splitting_only_at_the_other_bids_misses_the_gumbel_jumps():
    # the old quadrature (no jump search) is wrong on this case: the test above has teeth
    misses = 0
    for seed in range(6):
        mech, rule, P, b = _gumbel_case(seed)
        z = mech.payments(P, b)
        for i in range(3):
            got, err = VM.identity_payment("win", rule, P, b, i, jumps=False)
            misses += abs(got - z[i]) > 1e-9 + 10 * err
    assert misses > 0


def test_planted_bug_overcharging_gumbel_segment_is_refuted():
    class Over(FixedGumbelSegment):
        def payments(self, dists, bids):
            return 1.01 * super().payments(dists, bids)

    rep = audit(Over(draws=50, seed=0), "win", n=10)
    assert verdict(rep, "payment_identity").verdict is Verdict.REFUTED


def test_win_model_needs_distinct_one_hot_reports():
    with pytest.raises(InvalidInput, match="one-hot"):
        VM.get_value_model("win").check_reports(np.array([[0.5, 0.5], [0.0, 1.0]]))
    with pytest.raises(InvalidInput, match="unknown value model"):
        VM.get_value_model("nope")


def test_user_defined_value_model_is_used():
    # a(q) = q(0): the agent values token 0 only; the identity is computed under it
    model = VM.as_value_model(lambda p, q: q[0], name="token0")
    rule = get_rule("linear")
    P, b = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([1.0, 1.0])
    z, err = VM.identity_payment(model, rule, P, b, 0)
    # x(s) = s/(s+1): Z = ln 2 - 1/2
    assert z == pytest.approx(np.log(2) - 0.5, abs=1e-9)


def test_gumbel_max_and_race_samplers_have_the_right_law():
    from mechanism.sampling import gumbel_max_token, race_token
    q = np.array([0.2, 0.5, 0.3])
    U = np.random.default_rng(1).random((20000, 3))
    for draw in (gumbel_max_token, race_token):
        law = np.bincount([draw(q, u) for u in U], minlength=3) / len(U)
        assert np.abs(law - q).max() < 0.02
    assert gumbel_max(np.log([1.0, 0.0 + 1e-300]), [0.5, 0.5]) == 0
