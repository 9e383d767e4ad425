"""theory §6, claims 5 and 6: samplers."""

import numpy as np
import pytest

from tests.helpers.instances import random_instance
from mechanism import (StableSampler, exponential_race, expected_payments, get_rule, inverse_cdf,
                       joint_linear_two_agents, maximal_coupling_draw, tv)
from mechanism.payments import race_payment

LINEAR = get_rule("linear")


def linear_tokens(p_i, m, u, bids):
    P = np.array([p_i, m])
    return [inverse_cdf(LINEAR(P, [b, 1.0]), u) for b in bids]


def test_claim5a_inverse_cdf_switches_twice():
    toks = linear_tokens([.05, .25, .7], [.35, .05, .6], .325,
                         [0, 0.05, 0.09, 0.092, 0.5, 1, 2.9, 2.99, 3.01, 5, 100])
    assert toks == [0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2]


def test_claim5b_inverse_cdf_switches_the_wrong_way():
    p_i, m = np.array([.3, .15, .5, .05]), np.array([.05, .35, .1, .5])
    t0, t1 = linear_tokens(p_i, m, .401, [0.0, 0.1])
    assert (t0, t1) == (2, 1)
    q0 = LINEAR(np.array([p_i, m]), [0.1, 1.0])
    assert m[2] < p_i[2] and q0[1] > p_i[1]  # from under-served to over-served


def test_claim5_inverse_cdf_stable_for_two_tokens(rng):
    grid = np.linspace(0, 10, 201)
    for name in ["linear", "log_linear", "winner_take_all"]:
        rule = get_rule(name)
        for _ in range(30):
            P, b = random_instance(rng, V=2)
            i = int(rng.integers(P.shape[0]))
            u = rng.random()
            Q = [rule(P, np.where(np.arange(len(b)) == i, s, b)) for s in grid]
            toks = np.array([inverse_cdf(q, u) for q in Q])
            changes = np.flatnonzero(np.diff(toks))
            assert len(changes) <= 1
            if len(changes):
                new = toks[-1]
                assert Q[0][new] < P[i][new]  # switched toward an under-served token


def stable_cases(rng, k=20):
    for name in ["linear", "winner_take_all"]:
        for _ in range(k):
            P, b = random_instance(rng)
            lam = 0.5 if rng.random() < 0.3 else 0.0
            rule = get_rule(name, reference=rng.dirichlet(np.ones(P.shape[1])) if lam else None,
                            weight=lam)
            i = int(rng.integers(P.shape[0]))
            if rule.total_weight(b) - b[i] <= 0:
                continue
            yield rule, P, b, i


def test_claim6_stable_sampler_exact_marginals_on_grid(rng):
    for rule, P, b, i in stable_cases(rng):
        s = StableSampler(rule, P, b, i)
        grid = np.concatenate(([0.0], np.geomspace(0.01, 3 * b[i] + 0.1, 15)))
        np.testing.assert_allclose(s.grid_marginals(grid), s.Qs(grid), atol=1e-12)


def test_claim6_marginals_reveal_a_non_monotone_rule():
    P = np.array([[0.6, 0.3, 0.1], [0.1, 0.3, 0.6]])
    s = StableSampler(get_rule("log_linear"), P, np.array([1.0, 1.0]), 0)
    grid = np.linspace(0, 1, 5)
    assert np.max(np.abs(s.grid_marginals(grid) - s.Qs(grid))) > 1e-3


def test_claim6_single_switch_right_direction_probability_tv(rng):
    for rule, P, b, i in stable_cases(rng, k=6):
        s = StableSampler(rule, P, b, i)
        grid = np.concatenate(([0.0], np.geomspace(0.01, 2 * b[i] + 0.1, 12)))
        Qg = s.Qs(grid)
        seeds = rng.random((2000, 2))
        switched = 0
        for u, v in seeds:
            path = s.grid_path(grid, u, v)
            changes = np.flatnonzero(np.diff(path))
            assert len(changes) <= 1
            if len(changes):
                switched += 1
                t, new = path[0], path[-1]
                k = changes[0]
                assert np.all(Qg[: k + 1, t] > P[i][t]) and Qg[0, new] < P[i][new]
        expected = float(tv(Qg[0], Qg[-1]))
        sigma = np.sqrt(expected * (1 - expected) / len(seeds)) + 1e-3
        assert abs(switched / len(seeds) - expected) < 5 * sigma


def test_claim7_stable_draw_thresholds_average_to_identity(rng):
    P = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [0.3, 0.3, 0.4]])
    b = np.array([1.5, 1.0, 0.5])
    for rule in [get_rule("linear"), get_rule("winner_take_all")]:
        s = StableSampler(rule, P, b, 0, bisect_tol=1e-8)
        draws = [s.draw(u, v) for u, v in rng.random((3000, 2))]
        z = np.array([d.threshold if d.switched else 0.0 for d in draws])
        assert np.all((z >= 0) & (z <= b[0] + 1e-9))
        want = expected_payments(rule, P, b).values[0]
        assert abs(z.mean() - want) < 5 * z.std() / np.sqrt(len(z)) + 1e-3
        counts = np.bincount([d.token for d in draws], minlength=3) / len(draws)
        np.testing.assert_allclose(counts, rule(P, b), atol=0.04)


def test_maximal_coupling_law(rng):
    p1, p2 = np.array([0.5, 0.3, 0.2, 0.0]), np.array([0.1, 0.3, 0.2, 0.4])
    xy = np.array([maximal_coupling_draw(p1, p2, *u) for u in rng.random((20000, 3))])
    np.testing.assert_allclose(np.bincount(xy[:, 0], minlength=4) / len(xy), p1, atol=0.015)
    np.testing.assert_allclose(np.bincount(xy[:, 1], minlength=4) / len(xy), p2, atol=0.015)
    differ = xy[:, 0] != xy[:, 1]
    assert abs(differ.mean() - tv(p1, p2)) < 0.015
    assert np.all(p1[xy[differ, 0]] > p2[xy[differ, 0]])
    assert np.all(p2[xy[differ, 1]] > p1[xy[differ, 1]])


def test_joint_linear_sampler_marginal_stability_and_payments(rng):
    P = np.array([[0.6, 0.1, 0.3], [0.2, 0.5, 0.3]])
    b = np.array([1.0, 2.0])
    U = rng.random((20000, 4))
    draws = [joint_linear_two_agents(P, b, u) for u in U]
    freq = np.bincount([d.token for d in draws], minlength=3) / len(draws)
    np.testing.assert_allclose(freq, LINEAR(P, b), atol=0.012)
    z = np.array([d.thresholds for d in draws])
    want = expected_payments(LINEAR, P, b).values
    for i in range(2):
        assert abs(z[:, i].mean() - want[i]) < 5 * z[:, i].std() / np.sqrt(len(z)) + 1e-4
        assert np.all((z[:, i] >= 0) & (z[:, i] <= b[i] + 1e-12))
    # one seed, agent 1's bid sweeps: at most one switch, toward agent 1's draw
    for u in U[:200]:
        toks = [joint_linear_two_agents(P, np.array([s, 2.0]), u).token
                for s in np.linspace(0, 20, 41)]
        changes = np.flatnonzero(np.diff(toks))
        assert len(changes) <= 1
        if len(changes):
            assert P[0][toks[-1]] > P[1][toks[-1]]


def test_exponential_race_is_a_different_mechanism(rng):
    P = np.array([[0.6, 0.1, 0.3], [0.2, 0.5, 0.3]])
    b = np.array([1.0, 2.0])
    draws = [exponential_race(P, b, u) for u in rng.random((20000, 3))]
    z = np.array([d.thresholds[0] for d in draws])
    race = race_payment(LINEAR, P, b, 0)
    assert abs(z.mean() - race) < 5 * z.std() / np.sqrt(len(z))
    second = expected_payments(LINEAR, P, b).values[0]
    assert race > second + 1e-3           # TV < 1: the race charges more
    assert second == pytest.approx(race * tv(P[0], P[1]))
    freq = np.bincount([d.token for d in draws], minlength=3) / len(draws)
    np.testing.assert_allclose(freq, LINEAR(P, b), atol=0.012)


def test_inverse_cdf_rejects_bad_uniform():
    with pytest.raises(ValueError, match="uniform"):
        inverse_cdf([0.5, 0.5], 1.0)


def test_cumsum_search_equals_the_sequential_cumulative_sum():
    """The blocked search gives np.searchsorted(np.cumsum(w), x, "right") exactly, also for
    points on, and one ulp around, partial sums (where it must fall back), runs of zeros,
    and the scaled form ``x * cumsum(w)[-1]``."""
    from mechanism.cdf_search import BLOCK, cumsum_search
    rng = np.random.default_rng(3)
    for trial in range(40):
        V = int(rng.integers(BLOCK * 4, BLOCK * 40))
        w = rng.gamma(0.3, size=V)
        w[rng.random(V) < 0.3] = 0.0
        if trial % 2:
            w /= w.sum()
        c = np.cumsum(w)
        picks = c[rng.integers(0, V, 6)]
        xs = np.concatenate((rng.uniform(0, c[-1], 6), picks, np.nextafter(picks, 0),
                             np.nextafter(picks, np.inf), [0.0]))
        for x in xs:
            want = np.searchsorted(c, x, side="right")
            assert cumsum_search(w, x)[0] == want, (trial, x)
        for u in rng.random(5):
            assert cumsum_search(w, u, scaled=True)[0] == np.searchsorted(c, u * c[-1], "right")
        many = rng.uniform(0, c[-1], 20)
        np.testing.assert_array_equal(cumsum_search(w, many), np.searchsorted(c, many, "right"))
