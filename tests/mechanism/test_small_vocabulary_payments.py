"""The log-linear payment on small reduced vocabularies (the demo's smoothed top-p rows:
the support union plus one bucket), where mechanism/panels.py bisects every panel above
its share of the error per round and mechanism/crossings.py evaluates ``H`` at each
crossing token instead of a series: against the general path (worst panel first, series
always), within the reported errors (tests/mechanism/test_crossings.py compares the
demo-like steps, which take the small-vocabulary path, with the definition).
"""

import numpy as np
import pytest

from mechanism import crossings, get_rule, panels
from mechanism import quadrature as quad
from mechanism.payments import QUAD_TOL, second_price_quadrature
from mechanism.rules import reduce_vocabulary

RULE = get_rule("log_linear", epsilon=1e-4)


def _top_p(rng, n, V=49152):
    """Top-p style rows of 16..256 tokens (the benchmark's and the demo's kind): gamma
    weights on the first k tokens of a random order of the vocabulary."""
    k = rng.integers(16, 257, size=n)
    order = np.argsort(rng.random((n, V)), axis=1)
    weights = np.where(np.arange(V) < k[:, None], rng.gamma(0.5, size=(n, V)) + 1e-12, 0.0)
    P = np.zeros((n, V))
    np.put_along_axis(P, order, weights, axis=1)
    return P / P.sum(axis=1, keepdims=True)


def test_lagrange_interpolates_off_and_on_the_nodes():
    """The in-place basis (no point on a node) and the masked one (some on a node) both
    reproduce a degree-16 polynomial; a point on a node gets that node's unit row."""
    rng = np.random.default_rng(3)
    c = rng.standard_normal(17)
    x = quad.PANEL_POINTS
    u = rng.uniform(-1, 1, 50)
    want = np.polynomial.chebyshev.chebval(u, c)
    for pts in (u, np.concatenate((u, x[[0, 5, 16]]))):
        got = quad.lagrange(pts) @ np.polynomial.chebyshev.chebval(x, c)
        np.testing.assert_allclose(got[:50], want, rtol=0, atol=1e-12)
    L = quad.lagrange(np.array([x[5], 0.3]))
    np.testing.assert_array_equal(L[0], np.eye(17)[5])
    assert abs(L[1].sum() - 1.0) < 1e-14 and (L[1] != 0).all()


def test_split_now_takes_the_panels_above_their_share_worst_first():
    items = [(0, 1, None, None, 0.0, e) for e in (5.0, 1.0, 3.0, 0.5)]
    assert [p[5] for p in panels.split_now(list(items), 4.0, every=False)] == [5.0]
    left = list(items)
    assert [p[5] for p in panels.split_now(left, 4.0, every=True)] == [5.0, 3.0]
    assert sorted(p[5] for p in left) == [0.5, 1.0]  # taken out of the list
    # the worst panel is split even when none exceeds the mean share
    assert [p[5] for p in panels.split_now(list(items), 100.0, every=True)] == [5.0]
    full = [(0, 1, None, None, 0.0, 1.0 + q) for q in range(panels.MAX_PANELS - 1)]
    assert len(panels.split_now(full, 1.0, every=True)) == 1  # at most MAX_PANELS in all


@pytest.mark.parametrize("seed", range(6))
def test_small_vocabulary_paths_equal_the_general_ones(seed, monkeypatch):
    """Every-panel bisection and H at the tokens against worst-first bisection and the
    series (SMALL_V = 0, DIRECT = 0): equal within the sum of the two error estimates."""
    rng = np.random.default_rng(seed)
    n = 2 + seed % 3
    small, Ps = reduce_vocabulary(RULE, _top_p(rng, n))
    b = rng.uniform(0.5, 2.0, n)
    fast, fast_err = second_price_quadrature(small, Ps, b, QUAD_TOL)
    monkeypatch.setattr(panels, "SMALL_V", 0)
    monkeypatch.setattr(crossings, "DIRECT", 0)
    slow, slow_err = second_price_quadrature(small, Ps, b, QUAD_TOL)
    assert (np.abs(fast - slow) <= fast_err + slow_err + 1e-15).all(), (fast - slow, fast_err)
    assert (fast_err <= QUAD_TOL * np.maximum(1.0, b)).all()
