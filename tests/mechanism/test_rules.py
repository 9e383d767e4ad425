"""theory §9, claims 1, 3 and 4: the aggregation rules."""

from fractions import Fraction

import numpy as np
import pytest

from tests.helpers.instances import random_instance
from mechanism import InvalidInput, get_rule, kl, prefers

BLOG_P = [[0.8, 0.2], [1.0, 0.0], [0.0, 1.0]]
BLOG_B = [1.0, 2.0, 2.0]


def test_claim1_blog_example():
    np.testing.assert_allclose(get_rule("linear")(BLOG_P, BLOG_B), [0.56, 0.44], atol=1e-15)
    F = Fraction
    exact = get_rule("linear").exact([[F(4, 5), F(1, 5)], [1, 0], [0, 1]], [1, 2, 2])
    assert list(exact) == [F(14, 25), F(11, 25)]
    with pytest.raises(InvalidInput, match="no token in common"):
        get_rule("log_linear")(BLOG_P, BLOG_B)


def bid_path(rule, P, b, i, grid):
    out = []
    for s in grid:
        bb = b.copy()
        bb[i] = s
        out.append(rule(P, bb))
    return out


_PATHS: dict = {}  # (recipe, P, b, i, grid) -> bid path: the tests over orders share them


def shared_path(recipe, rule, P, b, i, grid):
    """:func:`bid_path` of ``rule``, kept under ``recipe`` (the hashable inputs ``rule`` is
    built from): the tests parametrized by order draw the same instances from the same seed
    and judge the same paths (rules are deterministic)."""
    key = (recipe, P.shape, P.tobytes(), b.tobytes(), i, grid.tobytes())
    if key not in _PATHS:
        _PATHS[key] = bid_path(rule, P, b, i, grid)
    return _PATHS[key]


def is_monotone(rule, P, b, i, order, grid, Q=None):
    """Each step of agent i's bid path ``Q`` (computed from ``grid`` unless given) is
    preferred to the one before under ``order``."""
    Q = bid_path(rule, P, b, i, grid) if Q is None else Q
    return all(prefers(P[i], Q[k + 1], Q[k], order) for k in range(len(Q) - 1))


@pytest.mark.parametrize("order", ["box", "segment", "kl_forward"])
def test_claim3_linear_is_monotone_many_random_instances(rng, order):
    grid = np.concatenate(([0.0], np.geomspace(1e-3, 1e3, 25)))
    for trial in range(150):
        P, b = random_instance(rng, zeros=trial % 3 == 0)
        lam = float(rng.choice([0.0, 0.5, 2.0]))
        ref = rng.dirichlet(np.ones(P.shape[1]))
        rule = get_rule("linear", reference=ref if lam else None, weight=lam)
        if lam == 0 and np.delete(b, 0).sum() == 0:
            continue
        recipe = ("linear", ref.tobytes() if lam else None, lam)
        for i in range(P.shape[0]):
            path = shared_path(recipe, rule, P, b, i, grid)
            assert is_monotone(rule, P, b, i, order, grid, Q=path), (P, b, i, lam)


def test_claim3_log_linear_monotone_iff_two_tokens(rng):
    grid = np.concatenate(([0.0], np.geomspace(1e-3, 1e3, 25)))
    rule = get_rule("log_linear")
    for _ in range(100):
        P, b = random_instance(rng, V=2)
        for i in range(P.shape[0]):
            assert is_monotone(rule, P, b, i, "box", grid)
    # theory §3 counterexample: the middle token moves from 0.3 to 0.3798, away from 0.3
    P = np.array([[0.6, 0.3, 0.1], [0.1, 0.3, 0.6]])
    q0, q1 = rule(P, [0.0, 1.0]), rule(P, [1.0, 1.0])
    assert q0[1] == pytest.approx(0.3)
    assert q1[1] == pytest.approx(0.3798, abs=1e-4)
    assert not prefers(P[0], q1, q0, "box")


@pytest.mark.parametrize("order", ["kl_reverse", "kl_forward"])
def test_log_linear_monotone_for_kl_orders(rng, order):
    grid = np.concatenate(([0.0], np.geomspace(1e-3, 1e3, 25)))
    rule = get_rule("log_linear")
    for _ in range(100):
        P, b = random_instance(rng)
        for i in range(P.shape[0]):
            path = shared_path("log_linear", rule, P, b, i, grid)
            assert is_monotone(rule, P, b, i, order, grid, Q=path)


def test_log_linear_not_monotone_for_l2_spec_instance():
    P = np.array([[0.76, 0.235, 0.005], [0.002, 0.656, 0.342]])
    rule = get_rule("log_linear")
    d0 = np.linalg.norm(rule(P, [0.0, 1.0]) - P[0])
    d1 = np.linalg.norm(rule(P, [0.1, 1.0]) - P[0])  # raising b_1 from 0 to 0.1
    assert d0 == pytest.approx(0.93025, abs=1e-5) and d1 == pytest.approx(0.93729, abs=1e-5)


def test_claim3_winner_take_all_monotone_every_order(rng):
    grid = np.linspace(0, 5, 41)
    for _ in range(60):
        P, b = random_instance(rng)
        b = np.round(b * 4) / 4  # ties happen
        for i in range(P.shape[0]):
            if np.delete(b, i).sum() == 0:
                continue
            rule = get_rule("winner_take_all")
            path = bid_path(rule, P, b, i, grid)  # one path, judged under every order
            for order in ["box", "segment", "kl_forward", "kl_reverse", "tv", "l2"]:
                assert is_monotone(rule, P, b, i, order, grid, Q=path), (P, b, i, order)


def test_winner_take_all_ties_go_to_lowest_index():
    P = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    np.testing.assert_array_equal(get_rule("winner_take_all")(P, [0, 2, 2]), P[1])
    np.testing.assert_array_equal(get_rule("winner_take_all")(P, [2, 2, 2]), P[0])


def test_claim3_greedy_decoding_not_monotone():
    # p_i=(.6,.4), others' mixture (.3,.7), B=1: arg-max flips to a point mass on token 0,
    # which is not between Q(0)'s point mass on token 1 and p_i for token 0... nor better.
    p_i, m = np.array([0.6, 0.4]), np.array([0.3, 0.7])
    rule = get_rule("linear")
    P = np.array([p_i, m])
    onehot = lambda q: np.eye(2)[int(np.argmax(q))]
    g0, g1 = onehot(rule(P, [0.0, 1.0])), onehot(rule(P, [5.0, 1.0]))
    assert not prefers(p_i, g1, g0, "box")


def objective_forward(q, parties):
    return sum(w * kl(p, q) for p, w in parties)


def objective_reverse(q, parties):
    return sum(w * kl(q, p) for p, w in parties)


def test_claim4_kl_optimality(rng):
    for _ in range(40):
        P, b = random_instance(rng)
        ref, lam = rng.dirichlet(np.ones(P.shape[1])), 0.7
        parties = list(zip(P, b)) + [(ref, lam)]
        for name, obj in [("linear", objective_forward), ("log_linear", objective_reverse)]:
            q = get_rule(name, reference=ref, weight=lam)(P, b)
            best = obj(q, parties)
            for _ in range(30):
                other = 0.9 * q + 0.1 * rng.dirichlet(np.ones(P.shape[1]))
                assert best <= obj(other, parties) + 1e-12, name


def test_claim4_logit_averaging_identity(rng):
    for _ in range(30):
        n, V = 3, 6
        logits = rng.normal(size=(n, V)) * 3
        P = np.exp(logits - logits.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        b = rng.exponential(size=n)
        avg = (b / b.sum()) @ logits
        expected = np.exp(avg - avg.max())
        np.testing.assert_allclose(get_rule("log_linear")(P, b), expected / expected.sum(),
                                   rtol=1e-10)


def test_claim4_veto_and_tiny_probabilities():
    P = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    q = get_rule("log_linear")(P, [1.0, 1.0])
    assert q[2] == 0.0 and q.sum() == pytest.approx(1.0)
    P = np.array([[1 - 2e-300, 1e-300, 1e-300], [1e-300, 0.5, 0.5 - 1e-300]])
    q = get_rule("log_linear")(P, [1.0, 1.0])
    assert np.isfinite(q).all() and q.sum() == pytest.approx(1.0)
    # zero-weight party is dropped: its zeros veto nothing
    P = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    np.testing.assert_allclose(get_rule("log_linear")(P, [0.0, 1.0]), P[1])


def test_smoothing_is_explicit_and_moves_away_from_raw():
    P = np.array([[0.4, 0.6], [0.395, 0.605]])
    rule = get_rule("log_linear", epsilon=0.1)
    path = [rule(P, [s, 1.0])[0] for s in (0.0, 1.0, 8.0, 20.0)]
    assert path[0] == pytest.approx(0.4055)
    assert path[2] < 0.4096 < path[3]          # the theory's 0.4096 is reached at b_i ~ 10
    assert np.all(np.diff(path) > 0)           # toward the smoothed p_i(0) = 0.41,
    assert abs(path[3] - 0.4) > abs(path[0] - 0.4)  # away from the raw p_i(0) = 0.4


def test_winner_take_all_equals_an_independent_argmax(rng):
    """winner-take-all has no numpy fast path (evaluate IS the generic definition), so it is
    compared with an independent oracle: the report of the highest bidder, ties to the
    lowest index, the reference when no bid is positive."""
    for trial in range(40):
        P, b = random_instance(rng)
        b[rng.integers(len(b))] = b.max() if trial % 3 == 0 else b[0]  # ties
        if trial % 5 == 0:
            b[:] = 0.0
        ref = rng.dirichlet(np.ones(P.shape[1]))
        rule = get_rule("winner_take_all", reference=ref, weight=0.5)
        want = P[int(np.argmax(b))] if b.max() > 0 else ref
        np.testing.assert_array_equal(rule.evaluate(P, b), want)


def test_a_backend_generic_function_is_wrapped_as_its_generic_definition():
    """``TokenAuction(f)`` / ``as_rule(f)`` for ``f(ops, dists, bids, reference, weight)``
    runs f on the numpy backend (planted: as_rule wrapping every callable as f(dists, bids),
    the old code, raises InvalidRule 'missing ... bids')."""
    from mechanism import TokenAuction
    from mechanism.auction import step_uniforms
    from mechanism.rules import as_rule, get_rule

    def doubled(ops, dists, bids, reference=None, weight=0):
        ws = [2 * b for b in bids]
        return sum(p * w for p, w in zip(dists, ws)) / sum(ws)

    P, b = np.array([[0.7, 0.3], [0.2, 0.8]]), np.array([1.0, 2.0])
    rule = as_rule(doubled)
    assert rule.generic is doubled and rule.name == "doubled"
    assert np.allclose(rule(P, b), get_rule("linear")(P, b), rtol=0, atol=1e-15)
    from mechanism.rules import Rule
    rec = TokenAuction(doubled).step(P, b, step_uniforms(0, 0, 2))
    same = TokenAuction(Rule("doubled", doubled)).step(P, b, step_uniforms(0, 0, 2))
    linear = TokenAuction("linear").step(P, b, step_uniforms(0, 0, 2))
    assert rec.token == same.token and np.array_equal(rec.payments, same.payments)
    assert np.allclose(rec.payments, linear.payments, rtol=1e-6, atol=1e-9)



def test_a_smoothing_too_small_for_float64_is_declined():
    """eps = 5e-324 passes [0, 1), but eps / V rounds to 0 in float64: the smoothed rows
    kept their zeros (every entry positive in exact reals), and a zero vetoes in log-linear
    pooling (found by the red team: tests/proofs/test_unbounded_families.py shows the
    family it made non-monotone)."""
    from mechanism.smoothing import MIN_SHARE, smooth_reports
    P = np.array([[0.5, 0.5], [0.0, 1.0]])
    with pytest.raises(InvalidInput, match="epsilon = 5e-324 is too small to smooth 2 tokens"):
        smooth_reports(P, None, 5e-324)
    with pytest.raises(InvalidInput, match="too small"):
        smooth_reports(P, None, MIN_SHARE)            # eps / 2 is subnormal
    Ps, _ = smooth_reports(P, None, 2 * MIN_SHARE)
    assert (Ps > 0).all()
