"""Known-good rules get no REFUTED; facts of docs/theory.md come out as it says."""

from __future__ import annotations

import numpy as np
import pytest

from mechanism import get_payment_rule, get_rule
from mechanism.verdicts import Verdict
from properties import check
from tests.helpers.known_bad import KNOWN_GOOD


@pytest.mark.parametrize("name", list(KNOWN_GOOD))
def test_known_good_rules_are_not_refuted(name):
    report = check(KNOWN_GOOD[name], max_examples=30, seed=1)
    assert not report.refuted, str(report)
    assert report.exit_code == 0
    assert report.verdict("monotone", "box") in (Verdict.NOT_REFUTED, Verdict.PROVED)


def test_log_linear_matches_spec_section_3():
    report = check(get_rule("log_linear"), ["monotone"], prove=False)  # default budget
    assert report.verdict("monotone", "box") is Verdict.REFUTED          # V >= 3
    assert report.verdict("monotone", "l2") is Verdict.REFUTED           # docs/theory.md: L2 fails
    assert report.verdict("monotone", "kl_reverse") is Verdict.NOT_REFUTED  # revealed pref.
    assert report.verdict("monotone", "kl_forward") is Verdict.NOT_REFUTED  # a fact of docs/theory.md


def test_log_linear_on_two_tokens_is_box_monotone():
    two = get_rule("log_linear", reference=[0.5, 0.5], weight=0.0)  # pins V = 2
    report = check(two, ["monotone:box"], max_examples=30, prove=False)
    assert report.verdict("monotone", "box") is Verdict.NOT_REFUTED


@pytest.mark.parametrize("rule", ["linear", "winner_take_all"])
def test_second_price_payment_properties(rule):
    report = check(get_payment_rule("second_price"), ["payment_monotone:box",
                   "payment_nonnegative", "payment_at_most_bid", "zero_bid_pays_zero",
                   "payment_identity"], rule=rule, max_examples=20)
    assert not report.refuted, str(report)


def test_pay_your_bid_passes_pm_for_linear_away_from_flat_outcomes():
    """theory §6: pay-your-bid passes PM for linear with B > 0 and p_i != m (the others'
    mixture), fails it exactly where Q is flat (p_i = m: dearer, not better); only regret
    tells it apart from second price."""
    from properties.checker.payment_checks import PaymentGroup
    from properties.strategies import Instance
    from properties.target import Target
    key = ("payment_monotone", "box")
    group = PaymentGroup(Target(get_payment_rule("pay_your_bid")), [key])
    rng = np.random.default_rng(3)
    for _ in range(25):
        P = rng.dirichlet(np.ones(3), size=3)
        b = rng.uniform(0.2, 2.0, size=3)
        assert group.search(Instance(P, b, 0)) == {}, (P, b)
    flat = np.array([[0.3, 0.7], [0.3, 0.7]])            # p_0 = m: Q(s) = p_0 for every s
    found = group.search(Instance(flat, np.array([1.0, 1.0]), 0))[key]
    assert found["q_from"] == pytest.approx(found["q_to"], abs=1e-12)
    assert found["bid_from"] < found["bid_to"]
    report = check(get_payment_rule("pay_your_bid"), ["truthful"], max_examples=20)
    assert report.verdict("truthful") is Verdict.REFUTED


def test_valuation_payment_is_truthful_under_kl_and_second_price_under_tv():
    # each payment is Myerson's for its own value model (docs/theory.md, value models)
    v = check(get_payment_rule("valuation"), ["truthful"], max_examples=20, valuation="kl")
    assert v.verdict("truthful") is Verdict.NOT_REFUTED
    sp = check(get_payment_rule("second_price"), ["truthful"], max_examples=20, valuation="kl")
    assert sp.verdict("truthful") is Verdict.REFUTED
    assert "value model kl_forward" in sp.find("truthful")[0].detail
    sp_tv = check(get_payment_rule("second_price"), ["truthful"], max_examples=20)
    assert sp_tv.verdict("truthful") is Verdict.NOT_REFUTED           # default: tv
    v_tv = check(get_payment_rule("valuation"), ["truthful"], max_examples=20, valuation="tv")
    assert v_tv.verdict("truthful") is Verdict.REFUTED


def test_race_payment_is_told_apart_from_second_price():
    from tests.helpers.known_bad import race_payment
    race = check(race_payment, ["payment_identity"], max_examples=20)
    sp = check(get_payment_rule("second_price"), ["payment_identity"], max_examples=20)
    assert race.refuted and not sp.refuted
