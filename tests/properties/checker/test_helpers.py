"""Strategies, shrinking, the regret protocol and the pytest plugin."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings

from mechanism.verdicts import Verdict
from properties import check, strategies
from tests.helpers.regret_protocol import externality_payment, regret_protocol, softmax_mixture
from properties.checker.shrink import round_simplex, shrink

pytest_plugins = ["pytester"]

#: The user's cache directory, read before pytester points HOME at a fresh directory: the
#: inner pytest runs share it, as a user's runs do, instead of each compiling the Coq
#: development anew into an empty cache.
_CACHE_HOME = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")


def _inner_env(monkeypatch):
    root = str(pathlib.Path(__file__).resolve().parents[3])
    monkeypatch.setenv("PYTHONPATH", root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("XDG_CACHE_HOME", _CACHE_HOME)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(strategies.instances(n=(1, 4), V=(1, 6)))
def test_instances_are_valid_auction_inputs(inst):
    assert inst.P.ndim == 2 and np.allclose(inst.P.sum(axis=1), 1.0)
    assert (inst.P >= 0).all() and (inst.b >= 0).all() and inst.b.sum() > 0
    assert 0 <= inst.agent < len(inst.b)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(strategies.instances(n=(2, 4), V=3, others_positive=True))
def test_others_positive(inst):
    assert np.delete(inst.b, inst.agent).sum() > 0


def test_strategies_are_built_once_per_signature():
    """The public strategy functions return one cached object per signature (hypothesis
    validates a new strategy object on its first draw: a draw that built its pieces anew
    paid that on every example); a list and a tuple of the same values are one signature."""
    assert strategies.instances(n=[2, 4], V=3, literals=[0.37]) is \
        strategies.instances(n=(2, 4), V=3, literals=(0.37,))
    assert strategies.instances(n=(2, 4), V=3) is not strategies.instances(n=(2, 4), V=4)
    assert strategies.distributions(4) is strategies.distributions(4)
    assert strategies.distributions(4, edge=False) is not strategies.distributions(4)
    assert strategies.bid_profiles(3, literals=[0.5]) is strategies.bid_profiles(3, literals=(0.5,))
    assert strategies.bids(huge=False) is strategies.bids(huge=False)
    assert strategies.staircase(2, 3) is strategies.staircase(2, 3)


def test_edge_cases_are_drawn():
    seen = set()

    @settings(max_examples=300, derandomize=True, deadline=None)
    @given(strategies.distributions(4))
    def collect(p):
        if (p == 1).any():
            seen.add("onehot")
        if np.allclose(p, 0.25):
            seen.add("uniform")
        if ((p > 0) & (p < 1e-200)).any():
            seen.add("tiny")
        if (p == 0).any():
            seen.add("zero")
    collect()
    assert seen >= {"onehot", "uniform", "tiny", "zero"}


def test_magnitudes_staircases_and_literals_are_drawn():
    """Bids from 1e-300 to 1e300 (whole profiles rescaled), near-one-hot and
    several-zero rows, staircase reports, and the target's literals with float neighbours."""
    seen = set()

    @settings(max_examples=400, derandomize=True, deadline=None)
    @given(strategies.instances(n=(2, 4), V=(3, 6), literals=(0.37,)))
    def collect(inst):
        b, P = inst.b, inst.P
        if b.max() >= 1e150:
            seen.add("huge")
        if 0 < b[b > 0].min() <= 1e-150:
            seen.add("tiny")
        if (b == 0.37).any() or (b == np.nextafter(0.37, 0)).any():
            seen.add("literal")
        if ((P > 0.9) & (P < 1)).any() and ((P > 0) & (P < 1e-5)).any():
            seen.add("near_onehot")
        if ((P == 0).sum(axis=1) >= 2).any():
            seen.add("zeros")
        if all(P[j, j % P.shape[1]] > 0 and P[j, (j + 1) % P.shape[1]] > 0 for j in
               range(len(P))) and (P == 0).any(axis=1).all():
            seen.add("staircase")
    collect()
    assert seen == {"huge", "tiny", "literal", "near_onehot", "zeros", "staircase"}, seen


def test_round_simplex():
    assert round_simplex(np.array([0.333, 0.333, 0.334]), 1).tolist() == [0.3, 0.3, 0.4]
    r = round_simplex(np.array([0.26, 0.26, 0.48]), 0)
    assert r is not None and r.sum() == 1.0


def test_shrink_drops_agents_tokens_and_rounds():
    # violation: "token 0 of agent 0 exceeds 0.5" -- independent of the other agents
    def verify(c):
        return c if c["dists"][c["agent"]][0] > 0.5 else None
    c0 = {"dists": np.array([[0.6123, 0.2, 0.1877], [0.3, 0.3, 0.4], [0.1, 0.1, 0.8]]),
          "bids": np.array([1.37, 2.22, 0.51]), "agent": 1, "bid_from": 0.1234, "bid_to": 3.3}
    c0["dists"] = c0["dists"][[1, 0, 2]]   # agent 1 is the interesting one
    out = shrink(c0, verify)
    assert len(out["bids"]) == 1 and np.shape(out["dists"]) == (1, 2)
    assert out["dists"][0][0] == 1.0 or out["dists"][0][0] in (0.6, 0.7, 0.8, 0.9)
    assert out["bids"][0] == round(out["bids"][0])


def test_regret_protocol_figure():
    r = regret_protocol(instances=40, model="kl")
    assert r["n"] == 3 and r["V"] == 50
    assert 0.005 < r["mean"] < 0.1          # positive: not truthful (0.0257 at 300 instances)
    s = regret_protocol(instances=40, model="share")
    assert s["mean"] > 0.01


def test_check_refutes_softmax_externalities_and_not_the_valuation_payment():
    rep = check(externality_payment(1.0), ["truthful"], rule=softmax_mixture(1.0),
                max_examples=20)
    assert rep.verdict("truthful") is Verdict.REFUTED
    assert rep.find("truthful")[0].counterexample["regret"] > 1e-4


_PLUGIN_TESTS = """
import numpy as np
import pytest
from mechanism import get_rule

def greedy(dists, bids):
    b = np.asarray(bids, float)
    q = np.zeros(np.shape(dists)[1])
    q[int(np.argmax(b @ np.asarray(dists, float) / b.sum()))] = 1.0
    return q

@pytest.mark.rule_properties(get_rule("linear"), ["monotone:box"], max_examples=10)
def test_linear_marker():
    pass

@pytest.mark.rule_properties(greedy, ["monotone:box"], max_examples=20, prove=False)
def test_greedy_marker():
    pass

def test_fixture(assert_rule_properties):
    assert_rule_properties(get_rule("linear"), ["scale_invariant"], max_examples=5)

def test_unmarked():
    pass
"""


#: The same tests, the marker's check without the prover: the runs that test how the plugin
#: is loaded (the entry-point run has the marker prove, as a user's default does).
_PLUGIN_TESTS_UNPROVED = _PLUGIN_TESTS.replace('["monotone:box"], max_examples=10)',
                                               '["monotone:box"], max_examples=10, prove=False)')
assert _PLUGIN_TESTS_UNPROVED != _PLUGIN_TESTS


@pytest.mark.parametrize("args", [(), ("-p", "properties.pytest_plugin")],
                         ids=["entry-point", "dash-p"])
def test_plugin_in_a_real_pytest_run(pytester, monkeypatch, args):
    """The plugin as users enable it: auto-loaded by its entry point, or with ``-p`` (which
    used to crash pytest: "Plugin already registered under a different name")."""
    _inner_env(monkeypatch)
    pytester.makepyfile(test_rules=_PLUGIN_TESTS_UNPROVED if args else _PLUGIN_TESTS)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*test_greedy_marker*", "*monotone:box REFUTED*"])
    assert "already registered" not in result.stdout.str() + result.stderr.str()


def test_plugin_without_autoload_and_with_dash_p(pytester, monkeypatch):
    _inner_env(monkeypatch)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_rules=_PLUGIN_TESTS_UNPROVED)
    result = pytester.runpytest_subprocess("-q", "-p", "properties.pytest_plugin")
    result.assert_outcomes(passed=3, failed=1)
