"""The float64 searches after a proof compare the code that runs on both sides of every
branch's flip (proofs/compile/flips.py, docs/theory.md section 8): a threshold that is no
constant of the tree (``b * b > C``) or an underflow (``b * b > 0``) is REFUTED on the
code, never PROVED. Seen failing before the flips were searched (each was PROVED)."""

import numpy as np

from tests.helpers.requires import require

require("z3", "sympy")

from mechanism.verdicts import Verdict  # noqa: E402
from proofs.bounded.rule_level import prove_rule_property  # noqa: E402
from proofs.compile import evaluate as E  # noqa: E402
from proofs.compile import flips  # noqa: E402

from tests.proofs import float_code_corpus as FC  # noqa: E402


def _prove(rule, n=2, V=2):
    return prove_rule_property(rule, "monotone", "box", max_agents=n, max_tokens=V,
                               timeout_s=20.0)


def test_flip_bids_reach_adjacent_floats_of_the_generated_condition():
    tree = FC.round_above().runtime_tree
    cmps = flips.comparisons([tree])
    cond = flips.conditions(cmps, lambda ns, x: E.numpy_values(ns, x, elementwise=True))
    pts = flips.flip_bids(cond)
    c = cond(pts)[0]
    k = np.nonzero(c[1:] != c[:-1])[0]
    assert len(k) and np.nextafter(pts[k[0]], np.inf) == pts[k[0] + 1]
    assert 730212 < pts[k[0]] < 730213


def test_family_rounding_past_a_threshold_is_refuted():
    res = _prove(FC.round_above())
    assert res.verdict is Verdict.REFUTED, res.detail
    assert res.counterexample["bid_from"] < res.counterexample["bid_to"]


def test_family_underflow_of_a_condition_is_refuted():
    res = _prove(FC.underflow())
    assert res.verdict is Verdict.REFUTED, res.detail


def test_generic_rounding_past_a_threshold_is_refuted():
    res = _prove(FC.gen_round())
    assert res.verdict is Verdict.REFUTED, res.detail
    assert "float64" in res.engine


def _prove_general(rule, prop="monotone", order="box"):
    return prove_rule_property(rule, prop, order, timeout_s=20.0)


def _check(res, rule, order):
    from mechanism.orders import prefers
    assert res.verdict is Verdict.REFUTED, res.detail
    c = res.counterexample
    P, a = np.array(c["dists"]), c["agent"]
    bf, bt = np.array(c["bids"]), np.array(c["bids"])
    bf[a], bt[a] = c["bid_from"], c["bid_to"]
    assert c["bid_from"] < c["bid_to"]
    assert not prefers(P[a], rule(P, bt), rule(P, bf), order)
    assert res.scope.arithmetic.startswith("float64")


def test_general_weights_doubling_past_2_53_is_refuted_on_the_code():
    rule = FC.gen_big()
    for order in ("box", "segment"):
        _check(_prove_general(rule, order=order), rule, order)


def test_general_weights_jumping_in_a_float64_window_is_refuted_on_the_code():
    rule = FC.gen_window()
    _check(_prove_general(rule), rule, "box")
    P = np.array([[0.5, 0.5], [0.0, 1.0]])   # the reproducer's instance, by hand
    assert rule(P, np.array([2.3000000000024996, 1.0]))[0] < rule(P, np.array([2.0, 1.0]))[0]


def test_general_weights_the_float_search_leaves_proved_alone():
    from proofs.unbounded.families import general
    ok = general(lambda b, fn: [fn.min(x, 1) + x * x for x in b], name="ok")
    for prop in ("monotone", "consistent"):
        assert _prove_general(ok, prop).verdict is Verdict.PROVED
    # CA holds in float64 too (agent 0's outcomes form a chain): still PROVED, exact reals
    assert _prove_general(FC.gen_window(), "consistent").verdict is Verdict.PROVED
