"""The demo's statistics and influence measures against independent oracles (scipy where
installed, closed forms otherwise), each with a planted variant that must be caught."""

import numpy as np
import pytest

from tokenauction.demo.influence import run_measures, step_measures
from tokenauction.demo.stats import bootstrap_mean_ci, ranks, seeds_to_separate, separated, \
    spearman, trend_test, wilson


def test_ranks_and_spearman():
    assert ranks([3, 1, 2, 2]).tolist() == [4.0, 1.0, 2.5, 2.5]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(spearman([1, 2, 3], [5, 5, 5]))
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x = np.repeat(np.linspace(0, 1, 6), 4)
    y = np.round(x + rng.normal(0, 0.4, x.size), 1)  # with ties on both sides
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


def test_trend_verdicts():
    rng = np.random.default_rng(1)
    s = np.repeat(np.linspace(0, 1, 11), 6)
    up = trend_test(s, s + rng.normal(0, 0.2, s.size))
    assert up["verdict"] == "rises" and up["low"] > 0 and up["low"] <= up["rho"] <= up["high"]
    assert trend_test(s, -s + rng.normal(0, 0.2, s.size))["verdict"] == "falls"
    flat = trend_test(s, rng.normal(0, 1, s.size))
    assert flat["verdict"] == "no monotone trend detected" and flat["low"] < 0 < flat["high"]
    assert trend_test(s, np.ones(s.size))["verdict"].startswith("undefined")


def test_bootstrap_and_separation():
    mean, lo, hi = bootstrap_mean_ci([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5 and 1.0 <= lo < 2.5 < hi <= 4.0
    assert separated([0, 0.1, 0.2, 0.1], [1, 1.1, 0.9, 1.0])
    assert not separated([0, 1, 0, 1], [0.5, 0.6, 0.4, 0.5])
    a, b = [0.0, 0.5, 0.1, 0.1, 0.2, 0.1], [0.4, 1.0, 1.0, 0.9, 1.1, 1.0]
    k = seeds_to_separate(a, b)
    assert k is not None and 3 <= k <= 6 and separated(a[:k], b[:k])
    assert seeds_to_separate([0, 1, 0, 1], [0, 1, 1, 0]) is None


def test_wilson_interval():
    lo, hi = wilson(5, 10)  # textbook value: 0.2366 .. 0.7634
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    assert wilson(0, 8)[0] == 0 and 0 < wilson(0, 8)[1] < 0.4
    assert np.isnan(wilson(0, 0)[0])


def test_step_measures_recover_the_linear_weight():
    """For q = w p1 + (1-w) p2 the fitted weight is w (the linear rule's own weight).
    Planted bug caught: swapping the agents gives 1 - w."""
    rng = np.random.default_rng(2)
    P = rng.dirichlet(np.ones(8), size=2)
    for w in (0.0, 0.3, 0.9):
        q = w * P[0] + (1 - w) * P[1]
        m = step_measures(P, q, np.log(P[:, 1]))
        assert m["weight"][0] == pytest.approx(w, abs=1e-12)
        assert m["tv"][0] == pytest.approx(0.5 * np.abs(q - P[0]).sum())
        assert m["tv"][0] == pytest.approx((1 - w) * 0.5 * np.abs(P[0] - P[1]).sum())
        assert step_measures(P[::-1], q, None)["weight"][0] == pytest.approx(1 - w, abs=1e-12)
    assert step_measures(np.vstack([P[0], P[0]]), P[0], None)["weight"] is None
    agg = run_measures([step_measures(P, P[0], np.log(P[:, 1])), step_measures(P, P[1], None)])
    assert agg["weight"] == pytest.approx([0.5, 0.5]) and agg["steps_defined"]["loglik"] == 1
    assert agg["loglik"] == pytest.approx(np.log(P[:, 1]).tolist())
