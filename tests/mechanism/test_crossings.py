"""Log-linear payments split at the tokens' crossings (mechanism/crossings.py) against fine
references that do not split: within the reported error, and the error within the tolerance.

* small vocabularies: the one-bid-at-a-time definition (``rule.evaluate`` at
  ``with_bid(b, i, s)``), its kinks (each token's sign change of ``q_v(s) - q0_v`` on a
  linear and a geometric grid, located by brentq) handed to scipy's adaptive QUADPACK as
  break points, to 1e-13 (without the geometric grid QUADPACK missed crossings below
  ``b / 128``: 3.4e-8 of a payment, with an error estimate of 8e-16);
* dense rows over a larger vocabulary (thousands of kinks, the benchmark's kind of step):
  composite Gauss-Legendre in ``t`` over ``BidPaths.tv`` (itself tested against the
  definition in test_paths.py) at 8000 and 16000 nodes, their difference its error.
"""

import numpy as np
import pytest

from mechanism import crossings, expected_payments, get_rule
from mechanism.bids import with_bid
from mechanism.divergences import tv
from mechanism.paths import BidPaths
from mechanism.payments import QUAD_TOL, second_price_quadrature
from mechanism.rules import reduce_vocabulary
from tests.mechanism.test_payments import REAL_STEP


def _definition_payment(rule, P, b, i):
    """``(Z_i, error)`` of Myerson's identity on the definition, split at the kinks."""
    from scipy.integrate import quad  # imported here: collecting this module needs no scipy
    from scipy.optimize import brentq
    q0 = rule.evaluate(P, with_bid(b, i, 0.0))
    bi = float(b[i])

    def gap(s):
        return rule.evaluate(P, with_bid(b, i, s)) - q0

    grid = np.union1d(np.linspace(0.0, bi, 129)[1:], np.geomspace(1e-9 * bi, bi, 64))
    signs = np.sign(np.array([gap(s) for s in grid]))
    kinks = []
    for k, v in zip(*np.nonzero(signs[1:] != signs[:-1])):
        kinks.append(brentq(lambda s: gap(s)[v], grid[k], grid[k + 1], xtol=1e-15))

    def G(s):
        return float(tv(q0, q0 + gap(s))) if s > 0 else 0.0

    area, err = quad(G, 0.0, bi, points=sorted(set(kinks)) or None, limit=800,
                     epsabs=1e-14, epsrel=1e-13)
    return bi * G(bi) - area, err


def _active(rule, b):
    W = rule.total_weight(b)
    return [i for i in range(len(b)) if b[i] > 0 and W - b[i] > 0]


def _small_cases():
    rng = np.random.default_rng(11)
    out = []
    for k in range(8):
        n, V = int(rng.integers(2, 6)), int(rng.integers(3, 33))
        b = rng.uniform(0.05, 3.0, n)
        P = rng.dirichlet(np.full(V, 0.4), size=n)
        kw = [{}, {"epsilon": 1e-3}, {"reference": rng.dirichlet(np.ones(V)), "weight": 0.4},
              {}][k % 4]
        if k % 4 == 3:  # top-p style rows with a common token: vetoes of both kinds
            P = P * (rng.random((n, V)) < 0.6)
            P[:, 0] = 0.05
            P /= P.sum(axis=1, keepdims=True)
        out.append((kw, P, b))
    return out


@pytest.mark.parametrize("case", range(8))
def test_small_steps_equal_the_definition(case):
    kw, P, b = _small_cases()[case]
    rule = get_rule("log_linear", **kw)
    z, err = second_price_quadrature(rule, P, b, QUAD_TOL)
    for i in _active(rule, b):
        want, ref_err = _definition_payment(rule, P, b, i)
        assert abs(z[i] - want) <= err[i] + ref_err + 1e-13, (i, z[i], want, err[i])
        assert err[i] <= QUAD_TOL * max(1.0, b[i]), (i, err[i])


def test_real_demo_step_equals_the_definition():
    """The recorded demo step (smoothed top-p rows, V = 49152) on its support-union-plus-
    bucket reduction, as the payment runs it."""
    P = np.zeros((2, REAL_STEP["V"]))
    P[:, REAL_STEP["cols"]] = REAL_STEP["rows"]
    P /= P.sum(axis=1, keepdims=True)
    small, Ps = reduce_vocabulary(get_rule("log_linear", epsilon=1e-4), P)
    b = np.array([0.1, 0.9])
    got = expected_payments(get_rule("log_linear", epsilon=1e-4), P, b)
    for i in (0, 1):
        want, ref_err = _definition_payment(small, Ps, b, i)
        assert abs(got.values[i] - want) <= got.errors[i] + ref_err + 1e-13
        assert got.errors[i] <= QUAD_TOL


def _demo_like(rng, n, V=49152):
    """Smoothed top-p rows (16..64 tokens each) as the demo's agents report them."""
    P = np.zeros((n, V))
    for i in range(n):
        k = int(rng.integers(16, 65))
        P[i, rng.choice(V, size=k, replace=False)] = rng.gamma(0.5, size=k) + 1e-12
    return P / P.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_demo_like_steps_equal_the_definition(n):
    rng = np.random.default_rng(20 + n)
    P, b = _demo_like(rng, n + 1), rng.uniform(0.2, 2.0, n + 1)
    rule = get_rule("log_linear", epsilon=1e-4)
    got = expected_payments(rule, P, b)
    small, Ps = reduce_vocabulary(rule, P)
    for i in range(n + 1):
        want, ref_err = _definition_payment(small, Ps, b, i)
        assert abs(got.values[i] - want) <= got.errors[i] + ref_err + 1e-13, i
        assert got.errors[i] <= QUAD_TOL * max(1.0, b[i])


def _composite_payment(paths, b, i, panels):
    """Composite 20-point Gauss-Legendre in ``t`` of ``G_i`` (kinks and all)."""
    x, w = np.polynomial.legendre.leggauss(20)
    B = paths.family.B[i]
    T = b[i] / (b[i] + B)
    e = np.linspace(0.0, T, panels + 1)
    h = 0.5 * np.diff(e)
    t = ((0.5 * (e[1:] + e[:-1]))[:, None] + h[:, None] * x).ravel()
    s = B * t / (1.0 - t)
    G = paths.tv(np.full(len(s), i), s)
    area = (h[:, None] * w).ravel() @ (G * B / (1.0 - t) ** 2)
    return b[i] * paths.tv(np.array([i]), np.array([b[i]]))[0] - area


@pytest.mark.parametrize("n", [4, 8])
def test_dense_step_error_estimate_does_not_understate(n):
    """Dense rows over 2048 tokens, most crossing somewhere: Gauss-Kronrod on ``G``
    stopped on such steps with estimates below the true error (1.7e-9 against 9.1e-9 on
    the benchmark's dense step); split at the crossings, the estimate covers the error
    (planted: A's error estimated from the 15 Kronrod nodes instead of the 9 points, and
    n = 4 fails here, a true error of 4.7e-9 against an estimate of 3.9e-9)."""
    rng = np.random.default_rng(n)
    logits = 3.0 * rng.standard_normal((n, 2048))
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    b = rng.uniform(0.5, 2.0, n)
    rule = get_rule("log_linear")
    z, err = second_price_quadrature(rule, P, b, QUAD_TOL)
    paths = BidPaths(rule, P, b)
    for i in range(4):  # every agent is paid, the reference is costly: four of them
        fine, finer = (_composite_payment(paths, b, i, k) for k in (300, 600))
        assert abs(z[i] - finer) <= err[i] + abs(fine - finer), (i, z[i], finer, err[i])
        assert err[i] <= QUAD_TOL * max(1.0, b[i])


def test_a_token_only_one_agent_leaves_out():
    """A token only agent 0 leaves out (``d = -inf``): its path jumps at 0 (``A(0+) < 0``)
    and every token of agent 0's crosses; both agents' payments equal the definition."""
    P = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    rule = get_rule("log_linear", reference=np.array([0.3, 0.3, 0.4]), weight=0.5)
    b = np.array([1.0, 0.7])
    fam = BidPaths(rule, P, b).family
    tok = crossings.Tokens(fam, np.array([0, 1]), b)
    assert tok.theta0[0] == -np.inf and tok.start[0, 0] < 0 and tok.start[1, 0] == 0
    z, err = second_price_quadrature(rule, P, b, QUAD_TOL)
    for i in (0, 1):
        want, ref_err = _definition_payment(rule, P, b, i)
        assert abs(z[i] - want) <= err[i] + ref_err + 1e-13, (i, z[i], want, err[i])
        assert err[i] <= QUAD_TOL


def test_nodes_split_between_threads_equal_one_thread(monkeypatch):
    """A large batch of nodes is cut between threads; every node is computed as alone, so
    the split and the one-thread results are identical, in the callers' order."""
    from mechanism import paths
    rng = np.random.default_rng(3)
    P, b = rng.dirichlet(np.full(8192, 0.3), size=4), rng.uniform(0.2, 2.0, 4)
    tok = crossings.Tokens(BidPaths(get_rule("log_linear"), P, b).family, np.arange(4), b)
    agents, s = rng.integers(0, 4, 301), rng.uniform(0, 3, 301)
    monkeypatch.setattr(paths, "WORKERS", 1)
    alone = tok.nodes(agents, s)
    monkeypatch.setattr(paths, "WORKERS", 3)
    assert len(s) * tok.m.shape[1] // paths.PARALLEL_ENTRIES >= 3  # the batch is split
    split = tok.nodes(agents, s)
    np.testing.assert_array_equal(split[0], alone[0])
    np.testing.assert_array_equal(split[1], alone[1])


def test_crossings_are_where_the_token_stops_gaining():
    """``sigma(theta)``, from A's interpolant, against the exact nodes: ``c(sigma) =
    theta`` and ``sigma > 0``, also just above ``theta_0``, where ``theta t - A`` has a
    second zero at ``s = 0`` (planted: Illinois steps on ``theta t - A`` there converge
    to ``s = 0``, H comes out 0 near ``theta_0`` and the dense payments were 1e-10 off)."""
    rng = np.random.default_rng(8)
    logits = 3.0 * rng.standard_normal((3, 2048))
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    b = np.array([0.8, 1.5, 0.4])
    tok = crossings.Tokens(BidPaths(get_rule("log_linear"), P, b).family, np.arange(3), b)
    cross = crossings.Crossing(tok, crossings.refine(tok, 0.5 * QUAD_TOL))
    for j in range(3):
        span = tok.theta_b[j] - tok.theta0[j]
        theta = tok.theta0[j] + span * np.array([1e-6, 1e-3, 0.02, 0.3, 0.7, 0.99])
        a = np.full(len(theta), j)
        p, u = cross.roots(a, theta)
        s = cross._s(cross.lo[a, p], cross.hi[a, p], u)
        assert (s > 0).all(), (j, s)
        A, _ = tok.nodes(a, s)  # A's own rounding (1e-15) over t, near 0
        t = tok.t(a, s)
        assert (np.abs(A / t - theta) <= 1e-9 * span + 1e-14 / t).all(), (j, A / t - theta)


@pytest.mark.parametrize("b", [[1e17, 1.0, 1.0], [1e-300, 1.0, 0.5], [1e300, 1e-300, 1.0],
                               [1e150, 1e150, 1e150], [1e-200, 3e-200, 2e-200]])
def test_extreme_bids(b):
    """Bids far apart or near the ends of float64: no NaN, payments in [0, b] up to their
    error, equal to the definition where it can be integrated. The others' weight is
    their own sum (``W - b_i`` was 0 at ``(1e17, 1, 1)``, and at 1e300 a 0/0 gave NaN);
    an agent whose ``t(b)`` underflows pays 0 within its bid."""
    P = np.random.default_rng(5).dirichlet(np.full(6, 0.5), size=3)
    rule = get_rule("log_linear")
    b = np.array(b)
    z, err = second_price_quadrature(rule, P, b, QUAD_TOL)
    assert np.isfinite(z).all() and np.isfinite(err).all(), (z, err)
    assert (z >= -err).all() and (z <= b + err).all(), (z, err)
    if np.log10(b.max()) - np.log10(b.min()) < 20 and b.max() < 1e100:
        for i in range(3):
            want, ref_err = _definition_payment(rule, P, b, i)
            assert abs(z[i] - want) <= err[i] + ref_err + 1e-13 * b[i], (i, z[i], want)


@pytest.mark.parametrize("q0,d,t_b", [([0.97, 0.02, 0.01], [0.0, 3.0, 8.0], 0.91),
                                      ([0.5, 0.3, 0.2], [0.0, 2.0, 6.0], 0.5)])
def test_cross_mass_bounds_the_crossing_tokens_mass_on_the_path(q0, d, t_b):
    """``Tokens.cross_mass`` bounds the crossing tokens' mass at every point of the path
    (it scales A's error term in the panels' estimates: an understated bound stops the
    refinement early). Planted: the old bound ``exp(t_b (theta_b - lowest crossing d))``
    claimed 0.021 on the first case, where the mass reaches 0.056."""
    q0, d = np.array(q0), np.array(d)
    # two agents whose log-linear path from agent 0's bid is q0 tilted by d: p_0 = q0 e^d
    # (normalized) and p_1 = q0, so log q(t) = log q0 + t d - A(t), t = s / (s + B)
    p0 = q0 * np.exp(d)
    P = np.array([p0 / p0.sum(), q0])
    B = 1.0
    b = np.array([t_b * B / (1 - t_b), B])
    tok = crossings.Tokens(BidPaths(get_rule("log_linear"), P, b).family, np.array([0]), b)
    t = np.linspace(0.0, t_b, 20001)[1:]
    w = q0[None, :] * np.exp(t[:, None] * d[None, :])
    q = w / w.sum(axis=1, keepdims=True)
    true = (q * tok.cross[0][None, :]).sum(axis=1).max()
    assert tok.cross[0].any()
    assert tok.cross_mass[0] >= true * (1 - 1e-12), (tok.cross_mass[0], true)
