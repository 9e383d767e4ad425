"""Target.batch: the rows of a bid grid, each called exactly as Target.evaluate calls one
(properties.sandbox.guarded_calls shares the policy's set-up, never its per-call checks):
the same answers, failures, declines, timeouts and remembered answers, row by row, and the
first bad row stops the grid."""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest

from mechanism import get_rule
from mechanism.errors import InvalidInput
from properties.sandbox import RuleFailure, Undefined, check_distributions
from properties.target import Target

P = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
GRID = np.array([[1.0, 2.0], [0.5, 2.0], [3.0, 2.0], [0.0, 2.0], [8.0, 2.0]])


def lin(dists, bids):
    b = np.asarray(bids, float)
    return b @ np.asarray(dists, float) / b.sum()


class Counted:
    """A rule misbehaving from its ``at``-th call on (``how``), counting its calls."""

    def __init__(self, how, at):
        self.how, self.at, self.calls = how, at, 0
        self.__name__ = f"counted_{how}"

    def __call__(self, dists, bids):
        self.calls += 1
        if self.calls >= self.at:
            if self.how == "hang":
                time.sleep(30)
            if self.how == "decline":
                raise InvalidInput("not at this bid", value=list(bids))
            if self.how == "raise":
                raise ZeroDivisionError("row three")
            if self.how == "exit":
                raise SystemExit(3)
            if self.how == "nan":
                return np.full(len(dists[0]), np.nan)
            if self.how == "negative":   # sums to 1, one entry below 0
                return np.array([1.5, -0.5] + [0.0] * (len(dists[0]) - 2))
            if self.how == "handler":   # replaces our alarm handler, hangs on the next call
                if self.calls == self.at:
                    signal.signal(signal.SIGALRM, lambda *a: None)
                else:
                    time.sleep(30)
        return lin(dists, bids)


def test_batch_answers_every_row_as_evaluate_does_and_remembers_each():
    t, u = Target(lin), Target(lin)
    Q = t.batch(P, GRID[[0, 1, 2, 4]])
    assert np.array_equal(Q, np.stack([u.evaluate(P, b) for b in GRID[[0, 1, 2, 4]]]))
    assert t.valid_outputs == u.valid_outputs == 4
    t.batch(P, GRID[[0, 1]])
    assert t.repeats == 2 and t.nondeterministic is None


def test_a_row_without_weight_is_declined_and_stops_the_grid():
    t = Target(Counted("none", 99))
    grid = np.array([[1.0, 2.0], [0.0, 2.0], [0.0, 0.0], [8.0, 2.0]])
    with pytest.raises(Undefined, match="W = 0"):
        t.batch(P, grid)
    assert t.obj.calls == 2 and t.last_call[1].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("how, kind, text", [
    ("raise", "raised", "raised ZeroDivisionError: row three"),
    ("exit", "raised", "raised SystemExit(3)"),
    ("nan", "nan", "non-finite probability nan for token 0"),
    ("negative", "negative", "negative probability -0.5 for token 1"),
])
def test_the_first_failing_row_fails_as_one_evaluate_and_stops_the_grid(how, kind, text):
    t, u = Target(Counted(how, 3)), Target(Counted(how, 1))
    with pytest.raises(RuleFailure) as got:
        t.batch(P, GRID)
    with pytest.raises(RuleFailure) as one:
        u.evaluate(P, GRID[2])
    assert got.value.kind == one.value.kind == kind and text in str(got.value)
    assert str(got.value).replace("2", "") == str(one.value).replace("2", "")  # names differ
    assert got.value.exception == one.value.exception
    assert t.obj.calls == 3 and t.last_call[1].tolist() == GRID[2].tolist()


def test_a_declined_row_is_undefined_from_the_rules_invalid_input():
    t = Target(Counted("decline", 2))
    with pytest.raises(Undefined, match="not at this bid") as got:
        t.batch(P, GRID)
    assert isinstance(got.value.__cause__, InvalidInput) and t.obj.calls == 2


@pytest.mark.parametrize("how", ["hang", "handler"])
def test_a_row_that_hangs_times_out_alone_and_the_handler_is_restored(how):
    before = signal.getsignal(signal.SIGALRM)
    t = Target(Counted(how, 2), timeout=0.2)
    t0 = time.perf_counter()
    with pytest.raises(RuleFailure, match=r"did not return within 0\.2 s") as got:
        t.batch(P, GRID)
    assert got.value.kind == "timeout" and time.perf_counter() - t0 < 5
    assert t.obj.calls == (2 if how == "hang" else 3)
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_each_row_has_its_own_timer_not_one_for_the_grid():
    """Five rows of 0.15 s each under a 0.25 s per-call timeout: every row answers."""
    def slow(dists, bids):
        time.sleep(0.15)
        return lin(dists, bids)
    Q = Target(slow, timeout=0.25).batch(P, GRID[[0, 1, 2, 4, 0]])
    assert Q.shape == (5, 3)


def test_check_distributions_passes_a_good_grid_and_names_the_first_bad_row():
    Q = get_rule("linear").batch(P, GRID[[0, 1, 2]])
    assert check_distributions(Q, 3, "r") is Q
    near = Q.copy()
    near[1] = [0.5, 0.5, 0.9e-6]           # within SUM_TOL, beyond the shared test's margin
    assert np.array_equal(check_distributions(near, 3, "r"), near)
    for row, kind, text in [([0.5, 0.5, 2e-6], "sum", "summing to"),
                            ([0.5, np.nan, 0.5], "nan", "non-finite"),
                            ([1.5, -0.5, 0.0], "negative", "negative probability -0.5")]:
        bad = Q.copy()
        bad[2], bad[1] = row, [np.inf, 0, 0]
        with pytest.raises(RuleFailure, match="non-finite probability inf"):
            check_distributions(bad, 3, "r")   # row 1 comes first
        bad[1] = Q[1]
        with pytest.raises(RuleFailure, match=text) as got:
            check_distributions(bad, 3, "r")
        assert got.value.kind == kind


def test_a_rule_that_makes_numpy_raise_still_gets_its_output_checked():
    """A rule that turns numpy's floating-point errors into exceptions (np.seterr inside the
    grid) and then returns a vector whose sum overflows: its defect is reported as for one
    evaluate, and numpy's error state is ours again after the grid."""
    before = np.geterr()

    def raising_numpy(dists, bids):
        np.seterr(all="raise")
        return np.array([1e308, 1e308, 0.0]) if bids[0] > 2 else lin(dists, bids)
    with pytest.raises(RuleFailure, match="summing to inf") as got:
        Target(raising_numpy).batch(P, GRID)
    assert got.value.kind == "sum" and np.geterr() == before
    near = np.array([0.5, 0.5, 0.9e-6])
    Q = Target(lambda d, b: near).batch(P, GRID[:2])
    assert np.array_equal(Q, [near, near])


def test_answered_skips_the_rows_the_rule_declines_and_keeps_the_rest_in_order():
    def declines_above_2(dists, bids):
        if bids[0] > 2:
            raise InvalidInput(f"not above 2: {bids[0]}", value=list(bids))
        return lin(dists, bids)
    t = Target(declines_above_2)
    keep, Q, last = t.answered(P, GRID)
    assert keep == [0, 1, 3] and np.array_equal(Q, Target(lin).batch(P, GRID[keep]))
    assert isinstance(last, Undefined) and "not above 2: 8.0" in str(last)
    assert t.answered(P, GRID[:2])[2] is None
    with pytest.raises(Undefined, match="W = 0"):
        t.answered(P, np.array([[1.0, 1.0], [0.0, 0.0]]))
    with pytest.raises(RuleFailure, match="raised ZeroDivisionError"):
        Target(Counted("raise", 2)).answered(P, GRID)


@pytest.mark.parametrize("V", [3, 40], ids=["short-row", "long-row"])
@pytest.mark.parametrize("defect, kind", [("nan", "nan"), ("inf", "nan"),
                                          ("negative", "negative"), ("sum", "sum")])
def test_a_bad_row_is_caught_whatever_its_length(V, defect, kind):
    """The cheap test a row passes before its full check (Python floats on a few entries,
    numpy on many) never lets a bad row through; a good row of either length passes."""
    good = np.full(V, 1.0 / V)
    bad = good.copy()
    if defect == "nan":
        bad[1] = np.nan
    elif defect == "inf":
        bad[0], bad[1] = np.inf, -np.inf
    elif defect == "negative":
        bad[0], bad[1] = bad[0] + 0.5, bad[1] - 0.5
    else:
        bad[0] += 2e-6
    PV = np.full((2, V), 1.0 / V)
    grid = np.array([[1.0, 2.0], [2.0, 1.0]])
    assert np.array_equal(Target(lambda d, b: good.copy()).batch(PV, grid), [good, good])
    with pytest.raises(RuleFailure) as got:
        Target(lambda d, b: bad.copy()).batch(PV, grid)
    assert got.value.kind == kind


class Declining(type(get_rule("winner_take_all"))):
    """A Rule subclass whose own ``evaluate`` declines every profile: it must be called."""

    def evaluate(self, P, b):
        raise InvalidInput("declined by the subclass", value=None)


def test_the_weight_recheck_is_skipped_only_for_the_stock_evaluate(monkeypatch):
    """A stock Rule's rows are weighed once for the grid (mechanism.bids.grid_has_weight)
    and evaluated without the per-row re-check, with the same answers as ``evaluate``; a
    subclass overriding ``evaluate`` is still called through it (judged by what it does)."""
    wta = get_rule("winner_take_all")
    calls = []
    real = type(wta).evaluate_weighted
    monkeypatch.setattr(type(wta), "evaluate_weighted",
                        lambda self, P, b: calls.append(1) or real(self, P, b))
    bm = GRID[[0, 1, 2, 4]]
    want = np.stack([wta.evaluate(P, b) for b in bm])
    calls.clear()
    assert np.array_equal(Target(wta).batch(P, bm), want)
    assert len(calls) == len(bm)
    sub = Declining("declining", wta.generic)
    with pytest.raises(Undefined, match="declined by the subclass"):
        Target(sub).batch(P, bm)
    with pytest.raises(Undefined, match="W = 0"):
        Target(wta).batch(P, GRID[[0, 3]] * np.array([1.0, 0.0]))


def test_a_method_replaced_on_the_instance_is_called():
    """A stock Rule whose ``evaluate`` or ``total_weight`` is replaced on the instance (not
    the class) is not the stock rule: the replaced method is what is judged (without the
    ``vars(rule)`` test the fast path returns the stock aggregate for both)."""
    import copy
    bm = GRID[[0, 1, 2, 4]]
    declining = copy.copy(get_rule("winner_take_all"))

    def declines(P, b):
        raise InvalidInput("declined by the instance's evaluate", value=None)
    declining.evaluate = declines
    with pytest.raises(Undefined, match="declined by the instance's evaluate"):
        Target(declining).batch(P, bm)
    weightless = copy.copy(get_rule("winner_take_all"))
    weightless.total_weight = lambda b: 0.0     # W = 0 at every profile: undefined everywhere
    with pytest.raises(Undefined, match="W = 0"):
        Target(weightless).batch(P, bm)
