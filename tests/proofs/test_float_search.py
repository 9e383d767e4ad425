"""The float64 search after a z3 proof (proofs/bounded/float_search.py) is the same on every
machine: a fixed work list, never cut by a clock, so a loaded machine cannot turn its
REFUTED into a PROVED; a proof whose budget stops the search is UNKNOWN, never PROVED. The
searches here run on raw float64 code (``raw_float_code``: the enclosure that makes a
compiled rule's code agree with its tree is switched off), the code a search must catch.

Planted bugs seen failing (reverted): ``refute`` returning None when the budget is spent
(the old behaviour: fails the budget tests); a time budget of its own (3 s, the old
behaviour) with a slowed clock (fails the slowed-clock test)."""

import time

import numpy as np
import pytest

pytest.importorskip("z3")

from mechanism.verdicts import Verdict
from proofs.bounded import float_search
from proofs.bounded.budget import Budget
from proofs.bounded.rule_level import prove_rule_property
from tests.proofs.generic_corpus import CORPUS

PAIRS = [(n, V) for n in (1, 2, 3) for V in (2, 3, 4)]


def _rule(name):
    return CORPUS[name][0]()


def test_the_plan_is_fixed_and_bounded():
    a, b = float_search._plan(PAIRS, 0), float_search._plan(PAIRS, 0)
    assert len(a) == float_search.MAX_BATCHES
    assert all(np.array_equal(x[0], y[0]) and x[1] == y[1] and np.array_equal(x[2], y[2])
               for x, y in zip(a, b))


def test_cancellation_is_refuted_by_the_fixed_search(raw_float_code):
    cex = float_search.refute(_rule("cancellation"), "monotone", "box", PAIRS, [],
                              Budget(600))
    assert isinstance(cex, dict) and cex["bid_from"] < cex["bid_to"]


def test_a_search_stopped_by_its_budget_says_so():
    out = float_search.refute(_rule("dropping_linear"), "monotone", "box", PAIRS, [],
                              Budget(0))
    assert out == float_search.UNFINISHED


def test_a_slowed_clock_does_not_change_the_verdict(monkeypatch, raw_float_code):
    """Each clock read advances 1 s (a loaded machine): the search still runs to its end
    within the proof's 10-minute budget and finds the float64 violation."""
    rule = _rule("cancellation")
    ticks = iter(range(0, 10 ** 6))
    start = time.monotonic()
    budget = Budget(600, wall=lambda: start + next(ticks))   # the search's clock only
    cex = float_search.refute(rule, "monotone", "box", PAIRS, [], budget)
    assert isinstance(cex, dict)


def test_a_proof_whose_float_search_is_cut_is_unknown_not_proved(monkeypatch):
    monkeypatch.setattr(float_search, "refute", lambda *a, **k: float_search.UNFINISHED)
    res = prove_rule_property(_rule("dropping_linear"), "monotone", "box", max_agents=2,
                              max_tokens=2, timeout_s=60)
    assert res.verdict is Verdict.UNKNOWN and "float64 search" in res.detail


def test_the_search_reads_the_float64_code_and_never_recomputes_the_tree(monkeypatch):
    """With the enclosure on, the cancellation's rows at large bids are answered by the
    exact tree (the code is not certified there). The search reads only the rows where
    the float64 code answers (:meth:`GenericRule.code_rows`, NaN elsewhere), so it never
    evaluates the tree in exact rationals: that recomputed the proof at about 1 ms a row
    and spent the proof's budget (an UNKNOWN "budget ran out" for a rule z3 proved).
    Planted bug seen failing: ``rows`` reading ``rule.batch`` (the old code)."""
    from proofs.compile import evaluate as E
    rule = _rule("cancellation")
    P, B = np.array([[0.6, 0.4], [0.3, 0.7]]), np.array([[1.0, 2.0], [1e12, 2.0]])
    Q = rule.code_rows(P, B)
    assert np.isfinite(Q[0]).all() and np.isnan(Q[1]).all(), Q
    assert np.allclose(Q[0], rule.rows(P, B)[0], rtol=0, atol=0)
    assert np.isfinite(rule.rows(P, B)[1]).all()   # what runs there: the exact tree

    calls, exact = [], E.fraction_value

    def counted(*a, **k):   # the exact backend (patching a method would break the seal)
        calls.append(a)
        return exact(*a, **k)
    monkeypatch.setattr(E, "fraction_value", counted)
    assert float_search.refute(rule, "monotone", "box", PAIRS, [], Budget(600)) is None
    assert not calls, f"the search made {len(calls)} exact evaluations"
