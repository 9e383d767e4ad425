"""The one-home concepts of mechanism/ (docs/architecture.md, "Where each concept lives"):
bid paths and grids, smoothing, the box order along a path, regret, simplex rounding,
output checks, verdict combination, text tables."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from mechanism import Verdict, get_rule
from mechanism.arith import round_simplex
from mechanism.bids import bid_grid, bid_path, bid_profiles, others_weight, total_weight, with_bid
from mechanism.orders import box, box_path_excess, box_path_violation
from mechanism.regret import misreports, regret
from mechanism.smoothing import smooth, smooth_reports
from mechanism.tables import text_table
from mechanism.validation import output_defect
from mechanism.verdicts import strongest


def test_bid_profiles_replace_only_the_agent():
    b = np.array([1.0, 2.0, 3.0])
    B = bid_profiles(b, 1, [0.0, 5.0])
    np.testing.assert_array_equal(B, [[1, 0, 3], [1, 5, 3]])
    np.testing.assert_array_equal(with_bid(b, 2, 7.0), [1, 2, 7])
    assert b.tolist() == [1.0, 2.0, 3.0]  # never modified in place
    rule, P = get_rule("linear"), np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    np.testing.assert_allclose(bid_path(rule, P, b, 0, [1.0, 3.0]),
                               [rule(P, [1, 2, 3]), rule(P, [3, 2, 3])])


def test_weights():
    ref = np.array([0.5, 0.5])
    assert total_weight([1.0, 2.0]) == 3.0
    assert total_weight([1.0, 2.0], ref, 0.5) == 3.5
    np.testing.assert_array_equal(total_weight(np.array([[1.0, 2.0], [0.0, 0.0]]), ref, 1.0),
                                  [4.0, 1.0])
    assert others_weight([1.0, 2.0], 0) == 2.0 and others_weight([1.0, 0.0], 0) == 0.0
    assert others_weight([1.0, 0.0], 0, ref, 0.25) == 0.25
    assert get_rule("linear", reference=ref, weight=0.5).total_weight(np.array([1.0])) == 1.5


def test_bid_grid_has_zero_own_bid_and_the_jumps_of_others():
    g = bid_grid(np.array([1.0, 2.0, 0.0]), 0, cuts=(0.7,))
    assert g[0] == 0.0 and 1.0 in g and np.all(np.diff(g) > 0)
    for x in (2.0, 0.7):
        assert {x * (1 - 1e-6), x, x * (1 + 1e-6)} <= set(g)
    assert set(0.125 * 2 ** np.arange(6)) <= set(g)          # multiples of the own bid
    g0 = bid_grid(np.array([0.0, 2.0]), 0, around_others=False)
    assert set(g0) == {0.0} | set(2.0 * np.array([0.125, 0.25, 0.5, 1.0, 2.0, 4.0]))
    g1 = bid_grid(np.array([1.0, 2.0]), 0, factors=(1.0,), scale=10.0, around_others=False)
    assert g1.tolist() == [0.0, 1.0, 10.0]


def test_smoothing_is_one_formula_for_floats_and_fractions():
    P = np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    S = smooth(P, 0.3)
    np.testing.assert_allclose(S, 0.7 * P + 0.1)
    assert smooth(P, 0.0) is P
    Ps, ref = smooth_reports(P, P[0], 0.3)
    np.testing.assert_allclose(ref, S[0])
    np.testing.assert_allclose(get_rule("log_linear", epsilon=0.3).smoothed(P)[0], S)
    f = [Fraction(1), Fraction(0)]
    assert [smooth(x, Fraction(1, 2), 2) for x in f] == [Fraction(3, 4), Fraction(1, 4)]


def test_box_path_violation_finds_the_first_bad_pair():
    p = np.array([0.6, 0.3, 0.1])
    good = np.array([[0.1, 0.3, 0.6], [0.3, 0.3, 0.4], [0.5, 0.3, 0.2]])  # moves towards p
    assert box_path_violation(p, good) is None
    assert np.all(box_path_excess(p, good) <= 0)
    bad = np.vstack([good, [[0.5, 0.4, 0.1]]])  # token 1 leaves [Q(t), p(t)] = [0.3, 0.3]
    got = box_path_violation(p, bad)
    assert got["k"] == 2 and got["token"] == 1 and got["excess"] == pytest.approx(0.1)
    assert not box(p, bad[3], bad[2]) and box(p, bad[2], bad[1])
    twice = np.vstack([good[:1], [[0.1, 0.2, 0.7]], good[1:], [[0.5, 0.4, 0.1]]])
    assert box_path_violation(p, twice)["k"] == 0            # the first of two bad pairs
    np.testing.assert_allclose(box_path_excess(p, twice), [0.1, 0.0, 0.0, 0.1], atol=1e-15)


def test_regret_is_the_best_gain_over_the_truthful_bid():
    def utility(s):  # best bid 2: u = -(s - 2)^2
        return -(s - 2.0) ** 2
    gain, best = regret(1.0, misreports(1.0), utility)
    assert best == 2.0 and gain == pytest.approx(1.0)
    assert regret(2.0, misreports(2.0), utility) == (0.0, 2.0)   # truthful is optimal
    assert regret(1.0, [3.0], lambda s: np.where(s == 3.0, np.inf, 0.0)) == (0.0, 1.0)
    assert regret(1.0, [3.0], lambda s: np.where(s == 1.0, np.nan, 0.0)) is None


def test_round_simplex_stays_on_the_simplex():
    r = round_simplex([0.333333, 0.333333, 0.333334], 10)
    assert sum(r) == 1 and all(x.denominator in (1, 2, 5, 10) for x in r)
    assert r == [Fraction(3, 10), Fraction(3, 10), Fraction(4, 10)]
    assert round_simplex([0.01, 0.26, 0.26, 0.47], 10, fix=0) is None  # fix-up would be -0.1


@pytest.mark.parametrize("out, kind", [
    ("x", "not_numeric"), ([0.5, 0.5, 0.0], "shape"), ([np.nan, 1.0], "nan"),
    ([-0.1, 1.1], "negative"), ([0.5, 0.6], "sum")])
def test_output_defect_names_the_problem(out, kind):
    v, defect = output_defect(out, 2, "rule 'r'")
    assert v is None and defect[0] == kind and "rule 'r'" in defect[1]
    assert output_defect([0.25, 0.75], 2, "r")[1] is None


def test_strongest_verdict():
    V = Verdict
    assert strongest([V.NOT_REFUTED, V.PROVED]) is V.PROVED
    assert strongest([V.PROVED, V.REFUTED, V.UNKNOWN]) is V.REFUTED
    assert strongest([V.SKIPPED, V.UNKNOWN]) is V.UNKNOWN
    with pytest.raises(ValueError):
        strongest([])


def test_text_table():
    out = text_table([("a", "bb", "note"), ("ccc", "1", ""), ("d", "22", "x")], rule=True,
                     right=[1])
    assert out.splitlines() == ["a    bb  note", "---  --  ----", "ccc   1", "d    22  x"]
