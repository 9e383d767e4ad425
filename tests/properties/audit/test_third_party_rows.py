"""ThirdPartyRule.batch of an uncaged object: its rows in one guarded block give exactly what
evaluate gives row by row: the same values, the same InvalidRule naming the same bids, the
object's own InvalidInput, each row in its own numpy error state."""

from __future__ import annotations

import numpy as np
import pytest

from mechanism.errors import InvalidInput, InvalidRule
from properties.third_party import ThirdPartyRule

P = np.array([[0.6, 0.4], [0.3, 0.7]])
GRID = np.column_stack([np.linspace(0.0, 1.0, 9), np.full(9, 0.5)])


def linear(dists, bids):
    return bids @ dists / bids.sum()


def test_rows_equal_evaluate_row_by_row():
    rule = ThirdPartyRule(linear, "lin")
    want = np.stack([rule.evaluate(P, row) for row in GRID])
    got = rule.batch(P, GRID)
    assert got.dtype == np.float64 and got.shape == (9, 2)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(rule.batch(P, GRID[:1]), want[:1])  # one row: evaluate's path


def test_inputs_are_copies_per_row():
    seen = []

    def mutating(dists, bids):
        seen.append(float(dists[0, 0]))
        dists[0, 0] = 99.0  # an object that writes into its inputs sees fresh ones each row
        bids[:] = 0.0
        return np.array([0.5, 0.5])
    ThirdPartyRule(mutating, "m").batch(P, GRID)
    assert seen == [0.6] * 9 and GRID[3, 0] == pytest.approx(3 / 8)


def test_a_failing_row_names_its_bids_and_stops_the_grid():
    calls = []

    def bad_at_half(dists, bids):
        calls.append(bids[0])
        if bids[0] == 0.5:
            raise ZeroDivisionError("planted")
        return linear(dists, bids)
    rule = ThirdPartyRule(bad_at_half, "bad")
    with pytest.raises(InvalidRule) as alone:
        rule.evaluate(P, GRID[4])
    calls.clear()
    with pytest.raises(InvalidRule) as grid:
        rule.batch(P, GRID)
    assert str(grid.value) == str(alone.value) and "ZeroDivisionError: planted" in str(grid.value)
    assert grid.value.value == {"bids": [0.5, 0.5]} == alone.value.value
    assert isinstance(grid.value.__cause__, ZeroDivisionError)
    assert calls == list(GRID[:5, 0])  # rows after the failing one are not called


def test_a_bad_output_names_its_bids():
    def sums_to_two_at_zero(dists, bids):
        return dists[0] * 2 if bids[0] == 0 else linear(dists, bids)
    with pytest.raises(InvalidRule, match="summing to") as grid:
        ThirdPartyRule(sums_to_two_at_zero, "two").batch(P, GRID)
    assert grid.value.value == {"bids": [0.0, 0.5]}


def test_the_objects_invalid_input_passes_through():
    planted, calls = InvalidInput("no bid clears the reserve", value=0.25), []

    def declines(dists, bids):
        calls.append(bids[0])
        if bids[0] == 0.25:
            raise planted
        return linear(dists, bids)
    with pytest.raises(InvalidInput) as grid:
        ThirdPartyRule(declines, "d").batch(P, GRID)
    assert grid.value is planted and calls == [0.0, 0.125, 0.25]  # the grid stops there


def test_each_row_has_its_own_numpy_error_state():
    """A row that calls np.seterr(all='raise') changes nothing for the next rows (their 0/0
    is a nan they ignore, not a FloatingPointError), nor for the caller."""
    def raising_state(dists, bids):
        if bids[0] == 0:
            np.seterr(all="raise")
            return dists[0]
        _ = np.float64(0.0) / np.float64(0.0)
        return linear(dists, bids)
    before = np.geterr()
    out = ThirdPartyRule(raising_state, "s").batch(P, GRID)
    assert out.shape == (9, 2) and np.geterr() == before
