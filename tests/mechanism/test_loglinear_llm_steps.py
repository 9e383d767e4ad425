"""The log-linear step on the LLM's rows (smoothed top-p reports, V = 49152, reduced to the
support union plus one bucket): the vectorized pieces of mechanism/crossings.py against
the one-bid-at-a-time definition and against mechanism.quadrature.lagrange.

* :func:`mechanism.quadrature.interpolate` / ``interpolate_at`` (the barycentric values
  without the normalized basis) equal ``lagrange(u) @ y`` off the nodes, on them and next
  to them (where a term overflows);
* every range's Chebyshev series of a round in one pass (``theta_series.together``) and
  the crossing roots: the payments of demo-like steps with 4 and 8 agents (rows of 16..256
  tokens, bids uniform in 0.5..2, the benchmark's kind) equal the definition's, within
  the reported error; two of them go through the series (more crossing tokens than H is
  evaluated at), the third evaluates H at each crossing token.
"""

import numpy as np
import pytest

from mechanism import crossings, expected_payments, get_rule
from mechanism import quadrature as quad
from mechanism.rules import reduce_vocabulary
from mechanism.payments import QUAD_TOL
from tests.mechanism.test_crossings import _definition_payment

EPSILON = 1e-4


def _top_p(rng, n, V=49152, lo=16, hi=257):
    P = np.zeros((n, V))
    for i in range(n):
        k = int(rng.integers(lo, hi))
        P[i, rng.choice(V, size=k, replace=False)] = rng.gamma(0.5, size=k) + 1e-12
    return P / P.sum(axis=1, keepdims=True)


def test_interpolate_equals_the_lagrange_basis():
    """Off, on and next to the nodes (a subnormal distance from the node 0 overflowed
    ``w / (u - x)``: NaN before ``NEAR``)."""
    rng = np.random.default_rng(3)
    x = quad.PANEL_POINTS
    Y = rng.standard_normal((6, 17))
    u = rng.uniform(-1.0, 1.0, (6, 30))
    u[1, 3], u[2, 0], u[3, 7] = x[5], -1.0, 1.0            # on nodes
    u[4, 2], u[5, 9] = np.nextafter(x[8], 1.0), x[3] + 1e-300  # next to one
    want = np.stack([quad.lagrange(u[k]) @ Y[k] for k in range(6)])
    got = quad.interpolate(u, Y)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)
    assert got[1, 3] == Y[1, 5] and got[2, 0] == Y[2, 0] and got[3, 7] == Y[3, 16]
    assert got[4, 2] == Y[4, 8] and got[5, 9] == Y[5, 3]  # x[8] = 0: subnormal neighbours
    at = quad.interpolate_at(u[:, 3], Y)
    np.testing.assert_allclose(at, want[:, 3], rtol=0, atol=1e-13)
    assert at[1] == Y[1, 5]
    # points off the formula: all exactly on nodes (looked up), or one only next to a node
    ends = quad.interpolate_at(np.array([x[0], x[16], x[8]]), Y[:3])
    assert ends.tolist() == [Y[0, 0], Y[1, 16], Y[2, 8]]
    mixed = quad.interpolate_at(np.array([x[0], x[16], np.nextafter(x[8], 1.0)]), Y[:3])
    assert mixed.tolist() == [Y[0, 0], Y[1, 16], Y[2, 8]]
    Yi = Y.copy()
    Yi[0, 4] = np.inf  # no number off the nodes, as with the basis; on the others, the value
    with np.errstate(invalid="ignore"):
        bad = quad.interpolate(u[:1], Yi[:1])
        assert not np.isfinite(bad).any() and not np.isfinite(quad.lagrange(u[0]) @ Yi[0]).any()
    assert quad.interpolate(x[None, [4, 6]], Yi[:1]).tolist() == [[np.inf, Yi[0, 6]]]


@pytest.mark.parametrize("n, seed, series", [(4, 1, True), (4, 9, True), (8, 5, False)])
def test_demo_like_steps_equal_the_definition(n, seed, series, monkeypatch):
    rng = np.random.default_rng(seed)
    P, b = _top_p(rng, n), rng.uniform(0.5, 2.0, n)
    rule = get_rule("log_linear", epsilon=EPSILON)
    evaluated, crossing = [], []
    H, part = crossings.Crossing.H, crossings.Crossing.part

    def count_H(self, a, theta):
        evaluated.append(len(a))
        return H(self, a, theta)

    def count_part(self, budget):
        crossing.append(int(self.tok.cross.sum()))
        return part(self, budget)

    monkeypatch.setattr(crossings.Crossing, "H", count_H)
    monkeypatch.setattr(crossings.Crossing, "part", count_part)
    got = expected_payments(rule, P, b)
    # the series served some crossing tokens, or H ran at each of them
    assert sum(crossing) > 0 and (sum(evaluated) < sum(crossing)) == series
    small, Ps = reduce_vocabulary(rule, P)
    for i in range(n):
        want, ref_err = _definition_payment(small, Ps, b, i)
        assert abs(got.values[i] - want) <= got.errors[i] + ref_err + 1e-13, (i, got.values[i],
                                                                              want)
        assert got.errors[i] <= QUAD_TOL * max(1.0, b[i])
