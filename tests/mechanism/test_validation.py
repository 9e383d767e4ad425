"""Every bad input named in the brief has a defined, tested behaviour (theory §1, 2)."""

import numpy as np
import pytest

from mechanism import InvalidInput, TokenAuction, expected_payments, get_rule
from mechanism.validation import SUM_TOL, as_distributions

P = np.array([[0.5, 0.5], [0.2, 0.8]])
RULES = ["linear", "log_linear", "winner_take_all"]


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("bad, agent, token, words", [
    ([[0.5, np.nan], [0.2, 0.8]], 0, 1, "nan"),
    ([[0.5, 0.5], [np.inf, 0.8]], 1, 0, "inf"),
    ([[1.2, -0.2], [0.2, 0.8]], 0, 1, "negative"),
    ([[0.5, 0.6], [0.2, 0.8]], 0, None, "sum"),
    ([[0.1, 0.1], [0.2, 0.8]], 0, None, "sum"),
])
def test_bad_distribution_names_agent_and_token(rule, bad, agent, token, words):
    with pytest.raises(InvalidInput) as info:
        get_rule(rule)(bad, [1.0, 1.0])
    assert info.value.agent == agent
    assert info.value.token == token
    assert words in str(info.value).lower()


def test_mismatched_vocabularies():
    with pytest.raises(InvalidInput, match="agent 1: vocabulary size 3") as info:
        get_rule("linear")([[0.5, 0.5], [0.2, 0.3, 0.5]], [1, 1])
    assert info.value.agent == 1
    with pytest.raises(InvalidInput, match="reference distribution has 3 tokens"):
        get_rule("linear", reference=[0.2, 0.3, 0.5], weight=1.0)(P, [1, 1])


@pytest.mark.parametrize("bids, words", [
    ([1.0, -0.5], "negative"), ([1.0, np.inf], "finite"), ([np.nan, 1.0], "finite"),
    ([1.0], "expected 2 bids"), ([[1.0, 1.0]], "expected 2 bids"), (["a", 1], "not numeric"),
])
def test_bad_bids(bids, words):
    with pytest.raises(InvalidInput, match=words):
        get_rule("linear")(P, bids)


@pytest.mark.parametrize("rule", RULES)
def test_all_zero_bids_without_reference_is_invalid(rule):
    with pytest.raises(InvalidInput, match="every bid is 0"):
        get_rule(rule)(P, [0.0, 0.0])
    with pytest.raises(InvalidInput):
        expected_payments(get_rule(rule), P, [0.0, 0.0])
    with pytest.raises(InvalidInput):
        TokenAuction(rule).step(P, [0.0, 0.0], np.full(8, 0.5))


@pytest.mark.parametrize("rule", RULES)
def test_all_zero_bids_with_reference_returns_reference(rule):
    ref = np.array([0.3, 0.7])
    q = get_rule(rule, reference=ref, weight=0.5)(P, [0.0, 0.0])
    np.testing.assert_allclose(q, ref)


def test_zero_weight_reference_does_not_count():
    with pytest.raises(InvalidInput):
        get_rule("linear", reference=[0.3, 0.7], weight=0.0)(P, [0.0, 0.0])


def test_bad_reference_weight_and_smoothing():
    for w in (-1.0, np.inf, "x"):
        with pytest.raises(InvalidInput):
            get_rule("linear", reference=[0.3, 0.7], weight=w)
    with pytest.raises(InvalidInput, match="epsilon"):
        get_rule("log_linear", epsilon=1.5)


def test_small_round_off_is_renormalized_exactly():
    x = as_distributions([[0.5, 0.5 + SUM_TOL / 2]])
    assert x.sum() == pytest.approx(1.0, abs=1e-15)


def test_empty_and_wrong_shape():
    for bad in ([], [[]], [0.5, 0.5], np.zeros((2, 2, 2))):
        with pytest.raises(InvalidInput):
            get_rule("linear")(bad, [1.0])


def test_unknown_names():
    with pytest.raises(InvalidInput, match="known rules"):
        get_rule("nope")
    with pytest.raises(InvalidInput, match="unknown payment"):
        expected_payments(get_rule("linear"), P, [1, 1], payment="nope")
    with pytest.raises(InvalidInput, match="unknown sampler"):
        TokenAuction("linear", sampler="nope")


def test_huge_bids_whose_total_overflows():
    with pytest.raises(InvalidInput, match="overflow"):
        get_rule("linear")(np.eye(3), [1e308, 1e308, 1.0])
    q = get_rule("linear")(P, [1e300, 1e300])  # large but finite: fine
    np.testing.assert_allclose(q, [0.35, 0.65])


def test_inverse_cdf_refuses_a_non_distribution():
    from mechanism import inverse_cdf
    with pytest.raises(InvalidInput, match="cannot sample"):
        inverse_cdf([np.nan, 0.5], 0.3)


def test_validation_is_idempotent():
    rng = np.random.default_rng(0)
    raw = rng.random((3, 1000))
    raw /= raw.sum(axis=1, keepdims=True)
    once = as_distributions(raw)
    np.testing.assert_array_equal(as_distributions(once), once)


def test_fast_paths_hand_every_defect_to_the_detailed_errors():
    """The validation fast paths (one row sum + min; min/max of the bids; one output sum)
    must not accept what the detailed checks refuse, nor warn before the clear error:
    inf and -inf in one row sum to NaN, huge entries overflow, -0.0 is not negative."""
    import warnings
    from mechanism.validation import as_bids, output_defect
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy RuntimeWarning would fail the test
        for row, words in (([np.inf, -np.inf], "finite"), ([1e308, 1e308], "sum to"),
                           ([np.nan, 1.0], "finite"), ([1.5, -0.5], "negative"),
                           ([0.5, 0.5 + 1e-3], "sum to")):
            with pytest.raises(InvalidInput, match=words):
                as_distributions([row])
        np.testing.assert_array_equal(as_distributions([[-0.0, 1.0]]), [[0.0, 1.0]])
        for bids, words in (([np.inf, 1.0], "finite"), ([np.nan, 1.0], "finite"),
                            ([1e308, 1e308], "overflow"), ([-1e-300, 1.0], "negative")):
            with pytest.raises(InvalidInput, match=words):
                as_bids(bids, 2)
        np.testing.assert_array_equal(as_bids([1e301, 1.0], 2), [1e301, 1.0])
        assert output_defect([np.inf, -np.inf], 2, "r")[1][0] == "nan"
        assert output_defect([0.6, 0.6], 2, "r")[1][0] == "sum"
        assert output_defect([1.2, -0.2], 2, "r")[1][0] == "negative"
        assert output_defect([np.inf, -np.inf], 2, "z", "payment")[1][0] == "nan"
        v, defect = output_defect([-3.0, 2.5], 2, "z", "payment")
        assert defect is None and v.tolist() == [-3.0, 2.5]


def test_an_output_whose_sum_overflows_is_a_sum_defect_under_a_raising_errstate():
    """Finite entries whose total overflows: a "sum" defect naming the total, not a
    FloatingPointError from numpy when the caller (or a user's rule) set np.seterr to raise."""
    from mechanism.validation import output_defect
    with np.errstate(all="raise"):
        v, (kind, message) = output_defect([1e308, 1e308, 0.0], 3, "r")
    assert v is None and kind == "sum" and "inf" in message


@pytest.mark.parametrize("u,words", [([np.nan] * 7, "uniform 0 is"), ([0.3] * 6 + [1.0], "uniform 6"),
                                     ([-0.1] + [0.3] * 6, "uniform 0"), ([0.3] * 2, "need 7"),
                                     (["a"] * 7, "not numeric")])
def test_bad_uniforms_are_refused(u, words):
    """A step's uniforms lie in [0, 1), as step_uniforms draws them (planted: the old size
    check alone, which drew a token from NaN uniforms, fails this)."""
    P = np.array([[0.5, 0.5], [0.2, 0.8]])
    with pytest.raises(InvalidInput, match=words):
        TokenAuction("linear").step(P, [1.0, 1.0], u)


@pytest.mark.parametrize("kw,words", [({"seed": -1}, "seed must be an integer"),
                                      ({"seed": 1.5}, "seed must be an integer"),
                                      ({"seed": True}, "seed must be an integer"),
                                      ({"max_tokens": 1.5}, "max_tokens must be an integer"),
                                      ({"stop_tokens": [-1]}, r"stop_tokens\[0\]"),
                                      ({"stop_tokens": [10 ** 9]}, "outside the vocabulary"),
                                      ({"record_to": __file__}, "is a file, not a folder")])
def test_bad_run_arguments_are_refused(kw, words):
    """Planted: the old code crashed deep in numpy on seed -1, truncated seed 1.5 to 1 in
    the header, and accepted stop tokens no step can produce."""
    from tests.helpers.recording import SyntheticAgents
    args = {"seed": 0, "max_tokens": 2, **kw}
    with pytest.raises(InvalidInput, match=words):
        TokenAuction("linear").run(SyntheticAgents(2), [1.0, 1.0], **args)


@pytest.mark.parametrize("call", [
    lambda P: expected_payments(get_rule("linear"), P, [10 ** 400, 1]),
    lambda P: TokenAuction("linear").step(P, [1.0, 1.0], uniforms=[10 ** 400] * 7),
    lambda P: TokenAuction("linear", reference_weight=10 ** 400),
    lambda P: get_rule("linear")(np.array([[10 ** 400, 0], [0.5, 0.5]], dtype=object),
                                 [1.0, 1.0])])
def test_an_int_beyond_float64_is_invalid_input_not_overflow_error(call):
    """Was (red team): a bare OverflowError (not a ValueError) from numpy's conversion."""
    with pytest.raises(InvalidInput, match="too large"):
        call(np.array([[0.5, 0.5], [0.2, 0.8]]))
