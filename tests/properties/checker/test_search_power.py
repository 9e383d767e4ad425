"""Search power at the default settings: rules that break only from n = 3 agents on are
refuted on every one of 5 seeds (docs/ci.md, "What the default search covers")."""

from __future__ import annotations

import numpy as np
import pytest

from mechanism.verdicts import Verdict
from properties import check


def median_halved(dists, bids):
    """Linear; from three agents with distinct bids on, the median bidder's weight is
    halved (an agent climbing past the median loses weight). Monotone for n <= 2."""
    d, b = np.asarray(dists, float), np.asarray(bids, float)
    w = b.copy()
    if len(b) >= 3 and len(np.unique(b)) == len(b):
        w[np.argsort(b)[len(b) // 2]] *= 0.5
    return w @ d / w.sum()


def neighbour_boost(dists, bids):
    """A mixture whose weights w_j = b_j (1 + 0.01 b_{j+1}) rescale the others unequally when
    one agent raises its bid: box-MON fails from n = 3 (for n = 2 the one other weight is a
    common factor, so it holds; theory §4, the characterization of mixtures)."""
    d, b = np.asarray(dists, float), np.asarray(bids, float)
    w = b * (1.0 + 0.01 * np.roll(b, -1)) if len(b) >= 3 else b
    return w @ d / w.sum()


@pytest.mark.parametrize("rule", [median_halved, neighbour_boost])
@pytest.mark.parametrize("seed", range(5))
def test_default_search_finds_a_rule_that_breaks_only_from_three_agents(rule, seed):
    r = check(rule, ["monotone:box"], seed=seed, prove=False, run_reproductions=False)
    [f] = r.find("monotone", "box")
    assert f.verdict is Verdict.REFUTED, f.detail
    assert len(f.counterexample["bids"]) >= 3


@pytest.mark.parametrize("rule", [median_halved, neighbour_boost])
def test_the_same_rules_hold_for_two_agents(rule):
    """The planted defect really needs three agents: on two it is linear and never refuted."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        P = rng.dirichlet(np.ones(3), size=2)
        b = rng.uniform(0.1, 5.0, size=2)
        lin = b @ P / b.sum()
        assert np.allclose(rule(P, b), lin, atol=1e-15)
