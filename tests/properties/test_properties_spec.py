"""Facts of docs/theory.md, as the property suite sees them, and the docs' examples (they run)."""

from __future__ import annotations

import threading

import numpy as np

from mechanism import get_rule
from mechanism.verdicts import Verdict
from properties import check
from properties.checker.groups import cex
from properties.checker.sweeps import PathGroup
from properties.target import Target


def _verify(rule, key, P, b, agent, s0, s1):
    t = Target(rule)
    return PathGroup(t, [key]).verify(key, cex(np.array(P), np.array(b, float), agent, s0, s1))


def test_spec3_log_linear_counterexample():
    got = _verify(get_rule("log_linear"), ("monotone", "box"),
                  [[.6, .3, .1], [.1, .3, .6]], [0.0, 1.0], 0, 0.0, 1.0)
    assert got is not None and got["token"] == 1
    g = np.sqrt(np.array([.6, .3, .1]) * np.array([.1, .3, .6]))  # equal weights: geometric mean
    np.testing.assert_allclose(got["q_to"], g / g.sum(), rtol=1e-12)
    np.testing.assert_allclose(got["q_from"], [.1, .3, .6], rtol=1e-12)
    assert abs(got["q_to"][1] - 0.3798) < 1e-4


def test_spec3_greedy_instance():
    def greedy(dists, bids):
        b = np.asarray(bids, float)
        q = np.zeros(2)
        q[np.argmax(b @ np.asarray(dists, float) / b.sum())] = 1
        return q
    # p_i = (.6, .4), others' mixture (.3, .7), B = 1
    got = _verify(greedy, ("monotone", "box"), [[.6, .4], [.3, .7]], [0.0, 1.0], 0, 0.0, 3.0)
    assert got is not None


def test_spec3_log_linear_l2_instance_with_the_bid_it_needs():
    # docs/theory.md: 0.93025 -> 0.93729; it holds for b_1 from 0 to about 0.0997 (b_1 = 1 gives 0.9056)
    P = [[.76, .235, .005], [.002, .656, .342]]
    assert _verify(get_rule("log_linear"), ("monotone", "l2"), P, [0.0, 1.0], 0, 0.0, 0.0997)
    assert _verify(get_rule("log_linear"), ("monotone", "l2"), P, [0.0, 1.0], 0, 0.0, 1.0) is None


def test_spec2_smoothed_log_linear_is_judged_on_smoothed_distributions():
    """Agent 0's raw report puts 0.4 on token 0, its smoothed report 0.41. Raising its bid
    moves q_0 from 0.4055 to above it: away from the raw report (a box violation if judged
    on raw reports), towards the smoothed one. check's verification of a bid path
    (PathGroup.verify, the step that decides every sampled monotone verdict) judges on the
    smoothed reports, so it finds no violation."""
    from mechanism import prefers
    sm = get_rule("log_linear", epsilon=0.1)
    P = np.array([[.4, .6], [.395, .605]])
    q0, q1 = sm(P, [0.0, 1.0]), sm(P, [1.0, 1.0])
    assert abs(q0[0] - 0.4055) < 1e-4 and q1[0] > q0[0] > 0.4   # away from the raw 0.4
    assert not prefers(P[0], q1, q0, "box")                        # raw: a violation
    assert _verify(sm, ("monotone", "box"), P, [0.0, 1.0], 0, 0.0, 1.0) is None


def test_timeout_also_works_off_the_main_thread():
    import time

    def hang(dists, bids):
        while True:
            time.sleep(0.01)
    out = {}
    th = threading.Thread(target=lambda: out.setdefault(
        "r", check(hang, ["normalized"], max_examples=5, timeout=0.3)))
    t0 = time.perf_counter()
    th.start()
    th.join(30)
    assert not th.is_alive() and time.perf_counter() - t0 < 30
    f = out["r"].find("normalized")[0]
    assert f.verdict is Verdict.REFUTED and f.counterexample["error"] == "timeout"
