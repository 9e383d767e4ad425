"""Declined inputs and confirmed reproductions (theory §8, "Declined inputs and
reproductions").

A rule declines an input by raising ``InvalidInput``: that input is no evidence in any
property, never a ``normalized`` failure; a property whose examples are mostly declines is
UNKNOWN with thin evidence. An invalid OUTPUT (NaN, unnormalized) is a ``normalized``
failure. A reproduction is confirmed only when it raises the finding's error again: the
same exception type and message.

Planted bugs seen failing (each reverted): a decline counted as a ``normalized`` failure
(the old "undefined" kind: fails the three decline tests and the softmax one); the
mostly-declines rule dropped from ``SearchRun.no_violation`` (fails
``test_mostly_declines_is_thin_evidence``); a NaN output read as a decline (fails
``test_a_nan_output_is_a_normalized_failure``); a reproduction confirmed on the exception
type alone (fails ``test_a_reproduction_raising_another_error_is_not_confirmed``); a
payment rule's decline read as its failure (fails
``test_a_payment_rule_that_declines_everything_earns_no_verdict``); a
declined bid voiding its whole sweep (fails
``test_a_rule_cannot_hide_a_violation_by_declining_inside_it``); the
run's end keeping a PROVED of a target that never answered (fails
``test_a_proof_of_a_rule_that_declines_everywhere_is_not_kept``).
"""

from __future__ import annotations

import json
import textwrap
import time
import types

import numpy as np
import pytest

from mechanism import get_rule
from mechanism.verdicts import Verdict
from properties import check
from properties.cage import findings_from_json
from properties.checker.rule_checks import POINTWISE
from properties.checker.search import SearchRun
from tokenauction.cli import main as cli_main

_RULES = textwrap.dedent("""
    import os, sys
    import numpy as np
    from mechanism.errors import InvalidInput

    def _linear(dists, bids):
        b = np.asarray(bids, float)
        return b @ np.asarray(dists, float) / b.sum()

    def always_declines(dists, bids):
        raise InvalidInput("defined nowhere", value=None)

    def declines_at_3(dists, bids):          # linear, but declines where a bid is 3
        if 3.0 in np.asarray(bids, float):
            raise InvalidInput("this rule takes no bid of 3", value=3.0)
        return _linear(dists, bids)

    def nan_at_3(dists, bids):               # linear, but NaN where a bid is 3
        if 3.0 in np.asarray(bids, float):
            return np.full(np.shape(dists)[1], np.nan)
        return _linear(dists, bids)

    def hides(dists, bids):                  # weights fall on [2, 3]; declines (2.4, 2.6)
        b = np.asarray(bids, float)
        if ((b > 2.4) & (b < 2.6)).any():
            raise InvalidInput("this rule takes no bid in (2.4, 2.6)", value=b.tolist())
        w = np.where(b < 2, b, np.where(b < 3, 2 - 0.9 * (b - 2), 1.1 + (b - 3)))
        return w @ np.asarray(dists, float) / w.sum()

    def mostly_declines(dists, bids):        # takes one agent only
        if len(bids) > 1:
            raise InvalidInput("one agent only", value=len(bids))
        return _linear(dists, bids)

    def pay_declines(rule, dists, bids):     # a payment rule defined nowhere
        raise InvalidInput("this payment rule is defined nowhere", value=None)

    def pay_nan(rule, dists, bids):          # a payment rule answering NaN
        return np.full(len(bids), np.nan)

    def raises_same(dists, bids):
        raise ValueError("no rule here")

    def raises_pid(dists, bids):             # another message in every process
        raise ValueError(f"no rule in process {os.getpid()}")

    def raises_other_type(dists, bids):      # another type outside the checker's process
        raise (ValueError if "pytest" in sys.modules else KeyError)("no rule here")
""")


@pytest.fixture
def rules(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "declining.py").write_text(_RULES)
    return lambda name: f"{tmp_path / 'declining.py'}:{name}"


KEY = ("normalized", None)
PROPS = ["normalized", "anonymous", "monotone:box", "consistent:tv", "scale_invariant"]


def test_a_rule_that_declines_everything_earns_no_verdict(rules, capsys):
    r = check(rules("always_declines"), PROPS, max_examples=20)
    assert {f.property for f in r.findings} == {p.split(":")[0] for p in PROPS}
    for f in r.findings:
        assert f.verdict is Verdict.UNKNOWN, (f.property, f.verdict, f.detail)
        if f.engine == "hypothesis":
            assert f.valid == 0 and f.declined == f.examples > 0, (f.property, f.detail)
    assert r.exit_code == 0
    # the CLI (the rule in its cage): nothing refuted, and --strict fails the UNKNOWNs
    assert cli_main(["check", rules("always_declines"), "--property", "normalized",
                     "--max-examples", "10", "--json"]) == 0
    f = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["findings"][0]
    assert f["verdict"] == "UNKNOWN" and f["declined"] == f["examples"] > 0, f
    assert cli_main(["check", rules("always_declines"), "--property", "normalized",
                     "--max-examples", "10", "--strict"]) == 1


def test_a_rule_declining_at_one_bid_is_not_refuted_and_its_declines_are_shown(rules):
    """The literal 3 of its source is drawn as a bid: there it declines (no evidence);
    everywhere else it is linear."""
    r = check(rules("declines_at_3"), ["normalized", "monotone:box", "anonymous"],
              max_examples=60)
    norm = r.find("normalized")[0]
    assert norm.verdict is Verdict.NOT_REFUTED, norm.detail
    assert 0 < norm.declined < norm.valid, (norm.declined, norm.valid)
    assert f"({norm.declined} declined: no evidence)" in norm.detail
    assert norm.to_json()["declined"] == norm.declined
    assert findings_from_json([norm.to_json()])[0].declined == norm.declined  # JUnit, Dask
    assert not r.refuted, [(f.key, f.verdict, f.detail) for f in r.findings]


def test_a_rule_cannot_hide_a_violation_by_declining_inside_it(rules):
    """Its weight falls on [2, 3] (not monotone) and it declines every bid in (2.4, 2.6),
    which every sweep across [2, 3] meets: the declined bids drop out of the path, the
    others are evidence, so it is REFUTED (was UNKNOWN: each declined point voided the
    whole path)."""
    r = check(rules("hides"), ["monotone:box"], max_examples=40)
    f = r.find("monotone", "box")[0]
    assert f.verdict is Verdict.REFUTED, f.detail
    c = f.counterexample
    assert not 2.4 < c["bid_from"] < 2.6 and not 2.4 < c["bid_to"] < 2.6
    assert c["reproduced"] is True, c.get("repro_note")


PAY_PROPS = ["payment_nonnegative", "payment_at_most_bid", "payment_monotone:box",
             "payment_identity"]


def test_a_payment_rule_that_declines_everything_earns_no_verdict(rules):
    """Its InvalidInput is the payment rule's own decline: no evidence in any payment
    property, never blamed on the rule it is judged under, never REFUTED."""
    r = check(rules("pay_declines"), PAY_PROPS, kind="payment", max_examples=20)
    assert len(r.findings) == len(PAY_PROPS)
    for f in r.findings:
        assert f.verdict is Verdict.UNKNOWN, (f.property, f.verdict, f.detail)
        assert f.valid == 0 and f.declined == f.examples > 0, (f.property, f.detail)
    nan = check(rules("pay_nan"), ["payment_nonnegative"], kind="payment", max_examples=20)
    f = nan.find("payment_nonnegative")[0]   # an invalid output of its own: a failure
    assert f.verdict is Verdict.REFUTED and f.counterexample["error"] == "nan", f.detail
    assert f.counterexample["reproduced"] is True, f.counterexample.get("repro_note")


def test_a_nan_output_is_a_normalized_failure(rules):
    """The same rule returning NaN at bid 3 instead of declining: REFUTED on normalized, the
    counterexample holds a bid of 3, and its reproduction fails its assert (confirmed)."""
    r = check(rules("nan_at_3"), ["normalized"], max_examples=60)
    f = r.find("normalized")[0]
    assert f.verdict is Verdict.REFUTED, f.detail
    assert 3.0 in f.counterexample["bids"] and f.counterexample["error"] == "nan"
    assert f.counterexample["reproduced"] is True, f.counterexample.get("repro_note")


def test_mostly_declines_is_thin_evidence(rules):
    r = check(rules("mostly_declines"), ["normalized"], max_examples=40)
    f = r.find("normalized")[0]
    assert f.verdict is Verdict.UNKNOWN, f.detail
    assert 0 < f.valid < f.declined, (f.valid, f.declined)
    assert f.detail.startswith("thin evidence: the target declined (InvalidInput) "
                               f"{f.declined} of {f.examples}")


def test_the_documented_softmax_at_bid_1000_is_not_refuted():
    """``normalized(lambda b, fn, T: fn.exp(b / T), params={"T": 0.5})``: exp(2000)
    overflows float64, the compiled rule's log-space weights do not; beyond float64
    (b / T overflowing) it declines, which is no evidence."""
    from mechanism.errors import Float64Range
    from proofs.unbounded.families import normalized
    from properties.sandbox import Undefined
    from properties.target import Target
    soft = normalized(lambda b, fn, T: fn.exp(b / T), params={"T": 0.5})
    t = Target(soft)
    P = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert np.array_equal(t.evaluate(P, np.array([1000.0, 1000.0])), [0.5, 0.5])
    assert np.array_equal(t.evaluate(P, np.array([1000.0, 0.0])), [1.0, 0.0])
    with pytest.raises(Undefined) as exc:
        t.evaluate(P, np.array([1.7e308, 1.0]))
    assert isinstance(exc.value.__cause__, Float64Range)
    # the normalized search at those two inputs: one valid example, one decline, no failure
    run = SearchRun(t, POINTWISE["normalized"](t, [KEY]), time.perf_counter(), float("inf"),
                    True)
    for b in ([1000.0, 1000.0], [1.7e308, 1.0]):
        run.body(types.SimpleNamespace(P=P, b=np.array(b)))
    assert (run.valid[KEY], run.declined[KEY], run.failures) == (1, 1, {})
    f = run.no_violation(KEY)
    assert f.verdict is Verdict.NOT_REFUTED and "(1 declined: no evidence)" in f.detail
    r = check(soft, ["normalized"], max_examples=100)
    f = r.find("normalized")[0]
    assert f.verdict is Verdict.NOT_REFUTED and f.valid > f.declined, f.detail


def test_a_reproduction_raising_the_same_error_is_confirmed(rules, capsys):
    r = check(rules("raises_same"), ["normalized"], max_examples=5)
    c = r.find("normalized")[0].counterexample
    assert c["error"] == "raised" and c["exception"] == "ValueError"
    assert c["exception_message"] == "no rule here" and c["reproduced"] is True
    # the caged CLI run records the same message from its worker
    assert cli_main(["check", rules("raises_same"), "--property", "normalized",
                     "--max-examples", "5", "--json"]) == 1
    f = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["findings"][0]
    assert f["counterexample"]["exception_message"] == "no rule here"
    assert f["counterexample"]["reproduced"] is True, f["counterexample"].get("repro_note")


@pytest.mark.parametrize("name, got", [("raises_pid", "ValueError: no rule in process"),
                                       ("raises_other_type", "KeyError")])
def test_a_reproduction_raising_another_error_is_not_confirmed(rules, name, got):
    r = check(rules(name), ["normalized"], max_examples=5)
    f = r.find("normalized")[0]
    assert f.verdict is Verdict.REFUTED   # the finding stands; its reproduction is not one
    assert f.counterexample["reproduced"] is False
    assert f.counterexample["repro_note"].startswith(f"it failed differently: {got}")


def test_a_proof_of_a_rule_that_declines_everywhere_is_not_kept():
    """f(b) = exp(exp(b + 1000)) is increasing (the calculus proves MON in exact reals), but
    its log-weight exp(b + 1000) overflows float64 at every bid: the code that runs declines
    every input, so the proof is no evidence about it: UNKNOWN, never PROVED (planted: the
    run's end keeping PROVED when the target never answered fails this)."""
    from proofs.unbounded.families import normalized
    rule = normalized(lambda b, fn: fn.exp(fn.exp(b + 1000)))
    r = check(rule, ["monotone:box", "normalized", "consistent:tv"], max_examples=20)
    assert [f.verdict for f in r.findings] == [Verdict.UNKNOWN] * 4, \
        [(f.key, f.engine, f.verdict) for f in r.findings]
    proof = next(f for f in r.findings if f.engine != "hypothesis" and f.key ==
                 ("monotone", "box"))
    assert "never returned a distribution" in proof.detail and proof.scope is None


@pytest.mark.parametrize("target", ["linear", "linear_ref", "plain"])
def test_a_bid_profile_without_weight_is_undefined_not_a_decline(target):
    """A row of a bid grid with W = 0 (theory §2) ends the grid as undefined (no cause: not
    the rule's decline) at that row, for a Rule (by its own total weight, the whole grid at
    once) as for a plain function; a row whose total is beyond float64 has weight and is
    evaluated."""
    from properties.sandbox import Undefined
    from properties.target import Target
    obj = {"linear": get_rule("linear"),
           "linear_ref": get_rule("linear").with_reference(np.array([0.5, 0.5]), 1.0),
           "plain": lambda dists, bids: np.asarray(dists)[0]}[target]
    t = Target(obj)
    P = np.array([[0.5, 0.5], [0.2, 0.8]])
    grid = np.array([[1.0, 1.0], [0.0, 0.0], [2.0, 1.0]])
    if target == "linear_ref":   # lambda > 0: W > 0 at every profile
        keep, Q, last = t.answered(P, grid)
        assert keep == [0, 1, 2] and last is None
        assert np.allclose(Q, [[0.4, 0.6], [0.5, 0.5], [0.425, 0.575]])
    else:
        with pytest.raises(Undefined, match="W = 0") as err:
            t.answered(P, grid)
        assert err.value.__cause__ is None
        assert t.valid_outputs == 1   # the row before it was evaluated, the one after not
    keep, Q, last = t.answered(P, np.array([[1e308, 1e308], [0.0, 1.0]]))
    assert keep == [0, 1] and last is None and Q.shape == (2, 2)
    if target != "linear_ref":   # a total beyond float64 in the grid: row by row, the same
        with pytest.raises(Undefined, match="W = 0") as err:
            t.answered(P, np.array([[1e308, 1e308], [0.0, 0.0], [1.0, 1.0]]))
        assert err.value.__cause__ is None
