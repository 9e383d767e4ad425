"""The batched bid paths (mechanism/paths.py) against the one-bid-at-a-time definition.

``BidPaths.tv`` evaluates ``G_i(s) = TV(Q_i(0), Q_i(s))`` for many (agent, bid) pairs as a
one-parameter family; here every pair is recomputed from the definition, the rule evaluated
at the bid profile with agent i's bid replaced (``rule.evaluate(P, with_bid(b, i, s))``),
on random dense, top-p (vetoes), smoothed and referenced steps and on a real demo step.
The payments by quadrature are compared with Myerson's identity evaluated agent by agent
on the definition, within the reported error estimates.
"""

import numpy as np
import pytest

from mechanism import get_rule
from mechanism.bids import with_bid
from mechanism.divergences import tv
from mechanism.paths import BidPaths
from mechanism.payments import QUAD_TOL, second_price_quadrature
from mechanism.rules import reduce_vocabulary
from mechanism.valuations import myerson
from tests.mechanism.test_payments import REAL_STEP


def _dense(rng, n, V):
    return rng.dirichlet(np.full(V, 0.3), size=n)


def _top_p(rng, n, V):
    P = np.zeros((n, V))
    common = rng.choice(V, size=3, replace=False)  # log-linear needs a common token
    for i in range(n):
        idx = np.union1d(common, rng.choice(V, size=int(rng.integers(2, V // 2)), replace=False))
        P[i, idx] = rng.gamma(0.5, size=len(idx)) + 1e-9
    return P / P.sum(axis=1, keepdims=True)


def _cases():
    rng = np.random.default_rng(7)
    out = []
    for k in range(6):
        n, V = int(rng.integers(2, 6)), int(rng.integers(3, 40))
        b = rng.uniform(0.0, 2.0, n)
        b[rng.integers(n)] = 0.0 if k % 3 == 0 else b[0]  # zero bids and ties
        ref = rng.dirichlet(np.ones(V))
        out += [("linear", {}, _dense(rng, n, V), b),
                ("linear", {"reference": ref, "weight": 0.5}, _top_p(rng, n, V), b),
                ("log_linear", {}, _dense(rng, n, V), b),
                ("log_linear", {}, _top_p(rng, n, V), b),
                ("log_linear", {"epsilon": 1e-3}, _top_p(rng, n, V), b),
                ("log_linear", {"reference": _dense(rng, 1, V)[0], "weight": 0.3},
                 _top_p(rng, n, V), b)]
    return out


def _real_step():
    P = np.zeros((2, REAL_STEP["V"]))
    P[:, REAL_STEP["cols"]] = REAL_STEP["rows"]
    return P / P.sum(axis=1, keepdims=True)


def _definition_tv(rule, P, b, i, s):
    q0 = rule.evaluate(P, with_bid(b, i, 0.0))
    return np.array([tv(q0, rule.evaluate(P, with_bid(b, i, x))) for x in s])


def _active(rule, b):
    W = rule.total_weight(b)
    return [i for i in range(len(b)) if b[i] > 0 and W - b[i] > 0]


@pytest.mark.parametrize("case", range(36))
def test_batched_paths_equal_the_definition(case):
    name, kw, P, b = _cases()[case]
    rule = get_rule(name, **kw)
    rng = np.random.default_rng(case)
    paths = BidPaths(rule, P, b)
    for i in _active(rule, b):
        s = np.concatenate(([0.0, b[i]], rng.uniform(0, 3 * b[i], 5), [1e-9, 1e6]))
        got = paths.tv(np.full(len(s), i), s)
        want = _definition_tv(rule, P, b, i, s)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, err_msg=f"{name} agent {i}")


def test_batched_paths_mix_agents_in_one_call():
    name, kw, P, b = _cases()[3]
    rule = get_rule(name, **kw)
    agents = np.array(_active(rule, b) * 3)
    s = np.random.default_rng(1).uniform(0, 2, len(agents))
    got = BidPaths(rule, P, b).tv(agents, s)
    want = [_definition_tv(rule, P, b, int(i), [x])[0] for i, x in zip(agents, s)]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_real_demo_step_paths_and_payments_equal_the_definition():
    """The recorded log-linear demo step (smoothed, top-p rows over V = 49152): on the
    full vocabulary and on its support-union-plus-bucket reduction alike."""
    rule, P, b = get_rule("log_linear", epsilon=1e-4), _real_step(), np.array([0.1, 0.9])
    s = np.array([1e-6, 0.05, 0.1, 0.5, 0.9, 3.0])
    small, Ps = reduce_vocabulary(rule, P)
    assert Ps.shape[1] == len(REAL_STEP["cols"]) + 1
    for i in (0, 1):
        want = _definition_tv(rule, P, b, i, s)
        for r, rows in ((rule, P), (small, Ps)):
            got = BidPaths(r, rows, b).tv(np.full(len(s), i), s)
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    _payments_equal_one_at_a_time(small, Ps, b)


def _payments_equal_one_at_a_time(rule, P, b):
    z, err = second_price_quadrature(rule, P, b, QUAD_TOL)
    for i in _active(rule, b):
        def G(s, i=i):
            return _definition_tv(rule, P, b, i, s)
        zi, ei = myerson(G, float(b[i]), QUAD_TOL, jumps=False)
        assert abs(z[i] - zi) <= err[i] + ei + 1e-12, (i, z[i], zi, err[i], ei)


@pytest.mark.parametrize("case", range(0, 36, 5))
def test_batched_payments_equal_one_agent_at_a_time(case):
    name, kw, P, b = _cases()[case]
    _payments_equal_one_at_a_time(get_rule(name, **kw), P, b)


def test_support_reduction_keeps_an_unregistered_rule_name():
    """A log-linear rule under a name the registry does not know evaluates on the support
    union plus bucket (and pays) like the registered one."""
    import copy
    from mechanism import expected_payments
    registered = get_rule("log_linear", epsilon=1e-3)
    mine = copy.copy(registered)
    mine.name = "my_geometric_pool"
    P, b = _top_p(np.random.default_rng(2), 3, 30), np.array([0.5, 1.0, 2.0])
    np.testing.assert_array_equal(mine(P, b), registered(P, b))
    np.testing.assert_array_equal(expected_payments(mine, P, b).values,
                                  expected_payments(registered, P, b).values)


def test_log_linear_nodes_whose_weights_underflow_equal_the_definition():
    """No maximum is subtracted per node (every log-weight is <= 0); 60 parties each nearly
    certain of its own token (1e-320 elsewhere) put every weight of agent 0's path near
    t = 1/61 below e^-720, where the unshifted weights are subnormal. Those nodes are
    renormalized by their maximum (planted bug: without that fallback the TVs miss the
    definition by 1.6e-11)."""
    k = 60
    P = np.full((k + 1, k + 1), 1e-320)
    np.fill_diagonal(P, 1.0)
    P /= P.sum(axis=1, keepdims=True)
    b = np.ones(k + 1)
    rule = get_rule("log_linear")
    t = 1.0 / (k + 1)
    s = np.array([k * t / (1 - t), 0.3, 0.9 * k * t / (1 - t), 2.0])
    got = BidPaths(rule, P, b).tv(np.zeros(len(s), dtype=np.int64), s)
    np.testing.assert_allclose(got, _definition_tv(rule, P, b, 0, s), rtol=0, atol=1e-12)


def test_log_linear_nodes_split_between_threads_equal_one_thread(monkeypatch):
    """A large batch is cut between threads; every node is computed as alone, so the split
    and the one-thread results are identical, in the callers' order."""
    from mechanism import paths
    rng = np.random.default_rng(3)
    P, b = _dense(rng, 4, 8192), rng.uniform(0.2, 2.0, 4)
    agents = rng.integers(0, 4, 301)
    s = rng.uniform(0, 3, 301)
    fam = BidPaths(get_rule("log_linear"), P, b)
    monkeypatch.setattr(paths, "WORKERS", 1)
    alone = fam.tv(agents, s)
    monkeypatch.setattr(paths, "WORKERS", 3)
    assert len(s) * P.shape[1] // paths.PARALLEL_ENTRIES >= 3  # the batch is split
    np.testing.assert_array_equal(fam.tv(agents, s), alone)
    np.testing.assert_allclose(alone[:5], [_definition_tv(fam.rule, P, b, int(i), [x])[0]
                                           for i, x in zip(agents[:5], s[:5])], atol=1e-12)


def test_log_linear_threads_after_fork(monkeypatch):
    """A process forked after the parent used the thread pool gets a pool of its own (the
    parent's object has no threads there: planted bug, reuse it, and the child hangs)."""
    import multiprocessing
    from mechanism import paths
    monkeypatch.setattr(paths, "WORKERS", 2)
    rng = np.random.default_rng(4)
    P, b = _dense(rng, 3, 8192), np.array([0.5, 1.0, 1.5])
    s = rng.uniform(0, 2, 200)
    agents = rng.integers(0, 3, 200)
    fam = BidPaths(get_rule("log_linear"), P, b)
    assert len(s) * P.shape[1] // paths.PARALLEL_ENTRIES >= 2  # the batch is split
    want = fam.tv(agents, s)  # the parent's pool exists now
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(fam.tv, (agents, s)).get(timeout=20)
    np.testing.assert_array_equal(got, want)
