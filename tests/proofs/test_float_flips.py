"""Where a compiled rule's raw float64 code parts from its tree (a threshold that is no
constant of the tree, ``b * b > C``; an underflow, ``b * b > 0``; a window of bids; a
rounding past 2**53), the code that runs takes the tree's branch and value (the enclosure,
proofs/compile/enclosure.py), so the exact-real proof is true of it: PROVED. With the
enclosure switched off (the planted bug), the float64 searches after a proof compare the raw
code on both sides of every branch's flip (proofs/compile/flips.py) and REFUTE it: seen
failing before the flips were searched (each was PROVED)."""

import numpy as np
import pytest

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


#: (rule, agent 0's bids where the raw float64 code parts from the tree): the running
#: code answers the tree's value there (the enclosure does not certify the raw code).
PARTING = {"round_above": (FC.round_above, [730213.0]),
           "underflow": (FC.underflow, [1e-200]),
           "gen_round": (FC.gen_round, [730213.0])}


def _weights_ok(rule, b):
    """The running code at agent 0's bid ``b`` against agent 1 bidding 1 equals the exact
    tree's answer (linear pooling of f(b) = b: agent 0's weight is b / (b + 1)), relatively
    (a weight of 1e-200 counts)."""
    P = np.array([[1.0, 0.0], [0.0, 1.0]])
    q, want = rule(P, np.array([b, 1.0])), b / (b + 1.0)
    return abs(q[0] - want) <= 1e-12 * want


@pytest.mark.parametrize("name", sorted(PARTING))
def test_the_running_code_takes_the_trees_branch_and_value(name):
    build, bids = PARTING[name]
    rule = build()
    assert all(_weights_ok(rule, b) for b in bids)
    assert _prove(rule).verdict is Verdict.PROVED


@pytest.mark.parametrize("name", sorted(PARTING))
def test_with_the_enclosure_off_the_raw_code_parts_and_is_refuted(name, raw_float_code):
    """The planted bug: every row certified, the raw float64 code runs; it parts from the
    tree at the bids above, and the float search refutes it on that code."""
    build, bids = PARTING[name]
    rule = build()
    assert not all(_weights_ok(rule, b) for b in bids)
    res = _prove(rule)
    assert res.verdict is Verdict.REFUTED, res.detail
    assert res.counterexample["bid_from"] < res.counterexample["bid_to"]


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


def test_general_weights_doubling_past_2_53_is_refuted_on_the_raw_code(raw_float_code):
    rule = FC.gen_big()
    for order in ("box", "segment"):
        _check(_prove_general(rule, order=order), rule, order)


def test_general_weights_jumping_in_a_float64_window_is_refuted_on_the_raw_code(
        raw_float_code):
    rule = FC.gen_window()
    _check(_prove_general(rule), rule, "box")
    P = np.array([[0.5, 0.5], [0.0, 1.0]])   # the reproducer's instance, by hand
    assert rule(P, np.array([2.3000000000024996, 1.0]))[0] < rule(P, np.array([2.0, 1.0]))[0]


def test_general_weights_the_running_code_keeps_the_trees_branches():
    """The same two rules as they run: the comparison is decided as the tree decides it,
    even in a window of bids no search grid reaches, so the exact-real proof holds."""
    P = np.array([[0.5, 0.5], [0.0, 1.0]])
    window = FC.gen_window()
    assert window(P, np.array([2.3000000000024996, 1.0]))[0] >= \
        window(P, np.array([2.0, 1.0]))[0]
    big = FC.gen_big()
    assert big(P, np.array([2.0 ** 53, 1.0]))[0] == big(P, np.array([2.0 ** 53 - 2, 1.0]))[0]
    for rule in (window, big):
        for order in ("box", "segment"):
            assert _prove_general(rule, order=order).verdict is Verdict.PROVED


def test_general_weights_the_float_search_leaves_proved_alone():
    from proofs.unbounded.families import general
    ok = general(lambda b, fn: [fn.min(x, 1) + x * x for x in b], name="ok")
    for prop in ("monotone", "consistent"):
        assert _prove_general(ok, prop).verdict is Verdict.PROVED
    # CA holds in float64 too (agent 0's outcomes form a chain): still PROVED, exact reals
    assert _prove_general(FC.gen_window(), "consistent").verdict is Verdict.PROVED


def test_general_weights_search_reads_the_code_and_never_recomputes_the_tree(monkeypatch):
    """With the enclosure on, gen_window's weights near its window and gen_big's past
    2**53 are the exact tree's (the code is not certified there). The float64 search after
    the proof reads only the weights the code gives (``log_weights(exact=False)``): it
    makes no exact evaluation, where it made about 136,000 (20 s of a 20 s budget for
    gen_window). Planted bug seen failing: ``_defined`` reading ``log_weights(B)``."""
    rule = FC.gen_big()
    B = np.array([[2.0 ** 53, 1.0], [1.0, 1.0]])
    L, _ = rule.log_weights(B, exact=False)
    assert np.isnan(L[0]).any() and np.isfinite(L[1]).all(), L
    assert np.isfinite(rule.log_weights(B)[0]).all()   # what runs: the exact tree there
    calls, exact = [], E.fraction_value

    def counted(*a, **k):   # the exact backend (patching a method would break the seal)
        calls.append(a)
        return exact(*a, **k)
    monkeypatch.setattr(E, "fraction_value", counted)
    for rule in (FC.gen_window(), FC.gen_big()):
        assert _prove_general(rule).verdict is Verdict.PROVED
        assert not calls, f"{rule.name}: the search made {len(calls)} exact evaluations"
