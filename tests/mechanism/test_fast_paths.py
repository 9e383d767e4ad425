"""The numpy fast paths of the built-in rules (``_linear_batch``, ``_log_linear_batch`` and
their single-profile forms, what the auction runs) equal the rules' generic definitions
(what the rule-level proofs trace), evaluated exactly in ``Fraction`` (log-linear: on
``NumpyOps``): hypothesis property tests
with edge cases (bid 0, denormal and huge bids, zero probabilities, one-hot rows, a
reference with weight 0 or positive, smoothing) and shrinking (docs/theory.md, "Two kinds
of engines"). A planted fast-path bug (the log-linear veto dropped) must fail them."""

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from mechanism import rules  # noqa: E402
from mechanism.errors import InvalidInput  # noqa: E402
from mechanism.rules import get_rule  # noqa: E402

EDGE_BIDS = [0.0, 5e-324, 1e-300, 1e-9, 0.37, 1.0, 3.0, 1e9, 1e300]
#: log-linear is compared with its generic definition in float64, which is only meaningful
#: while every weight b_j / W stays a normal float: with bid ratios beyond ~1e300 a positive
#: weight underflows to 0 and both paths lose that party's veto (the generic one as NaN ->
#: InvalidInput, the fast path silently). So its bids stay within 1e-150 .. 1e150.
LOGLIN_EDGE_BIDS = [0.0, 1e-150, 1e-9, 0.37, 1.0, 3.0, 1e9, 1e150]
PROB = st.one_of(st.sampled_from([0.0, 0.0, 1.0, 1e-300, 0.5]),
                 st.floats(0.0, 1.0, allow_nan=False, allow_subnormal=False))


def bids(name):
    if name == "log_linear":
        return st.one_of(st.sampled_from(LOGLIN_EDGE_BIDS),
                         st.floats(1e-150, 1e6, allow_subnormal=False))
    return st.one_of(st.sampled_from(EDGE_BIDS), st.floats(0.0, 1e6, allow_nan=False))


@st.composite
def instances(draw, name):
    n = draw(st.integers(1, 4))
    V = draw(st.integers(2, 5))
    rows = []
    for _ in range(n):
        row = np.array(draw(st.lists(PROB, min_size=V, max_size=V)))
        if row.sum() <= 0:
            row[draw(st.integers(0, V - 1))] = 1.0
        rows.append(row / row.sum())
    P = np.array(rows)
    BID = bids(name)
    B = np.array(draw(st.lists(st.lists(BID, min_size=n, max_size=n), min_size=1, max_size=3)))
    lam = draw(st.sampled_from([0.0, 0.0, 0.5, 2.0]))
    ref = None
    if lam or draw(st.booleans()):
        ref = np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=V, max_size=V)))
        ref /= ref.sum()
    eps = draw(st.sampled_from([0.0, 0.0, 0.1])) if name == "log_linear" else 0.0
    opts = {"epsilon": eps} if eps else {}
    return get_rule(name, reference=ref, weight=lam, **opts), P, B


def _outcome(f):
    """The value of ``f()``, or the name of the exception it raised: both paths must agree on
    the value, or raise the same exception (only ``InvalidInput`` is an answer; any other
    exception is a crash and fails the test where it happens)."""
    try:
        with np.errstate(all="ignore"):
            return np.asarray(f(), dtype=float)
    except InvalidInput:
        return "InvalidInput"


def reference(rule, P, b):
    """The generic definition: evaluated EXACTLY (Fraction) where it has no exp/log, as the
    proofs read it; log-linear on NumpyOps. (In float64 the generic linear underflows: a lone
    bid of 5e-324 gives q = 0, while exactly, and in the fast path, q = p.)"""
    if rule.name == "log_linear":
        return rule.generic_numpy(P, b)
    from fractions import Fraction
    q = rule.exact([[Fraction(float(x)) for x in row] for row in P], [Fraction(float(x)) for x in b])
    return [float(x) for x in q]


def check_fast_path(rule, P, B):
    for b in B:
        if rule.total_weight(b) <= 0:
            assert _outcome(lambda: rule.evaluate(P, b)) == "InvalidInput"
            continue
        want = _outcome(lambda: reference(rule, P, b))
        got = _outcome(lambda: rule.evaluate(P, b))
        if isinstance(want, str) or isinstance(got, str):
            assert isinstance(got, str) and got == want, (b, got, want)
            continue
        np.testing.assert_allclose(got, want, atol=1e-12, rtol=1e-9)
    ok = [b for b in B if rule.total_weight(b) > 0]
    if ok:
        want = [_outcome(lambda b=b: reference(rule, P, b)) for b in ok]
        got = _outcome(lambda: rule.batch(P, np.array(ok)))
        if any(isinstance(w, str) for w in want):
            # one undefined profile makes the whole batch raise the same error
            assert isinstance(got, str) and got in want, (got, want)
            return
        np.testing.assert_allclose(got, np.stack(want), atol=1e-12, rtol=1e-9)


SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", ["linear", "log_linear", "winner_take_all"])
def test_fast_path_equals_the_generic_definition(name):
    @SETTINGS
    @given(instances(name))
    def prop(inst):
        check_fast_path(*inst)
    prop()


def test_planted_fast_path_bug_is_caught(monkeypatch):
    """Plant: the log-linear fast path forgets the veto of a zero probability."""
    def no_veto(P, B, ref, lam):
        P, B = rules._with_reference(P, B, ref, lam)
        W = B / B.sum(axis=1, keepdims=True)
        logP = np.log(np.where(P > 0, P, 1.0))
        return rules.arith.NUMPY.softmax(W @ logP)
    monkeypatch.setattr(rules, "_log_linear_batch", no_veto)

    @SETTINGS
    @given(instances("log_linear"))
    def prop(inst):
        rule, P, B = inst
        rule._batch_fn = no_veto
        rule._numpy_fn = lambda P, b, ref, lam: no_veto(P, b[None, :], ref, lam)[0]
        check_fast_path(rule, P, B)
    with pytest.raises(AssertionError):
        prop()
