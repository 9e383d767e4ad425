"""theory §6: one auction step of the linear rule (validation, aggregate, sample, every agent's
second price) against the definition agent by agent and the exact Fraction reference, through
``TokenAuction.step`` itself: the joint sampler's two-agent path (one distance shared by the
sampler and both payments), the inverse-CDF path, a reference with weight; and the scratch
arrays the step reuses (``mechanism.workspace``) never leak into what it returns."""

import sys
import threading

import numpy as np
import pytest

from mechanism import TokenAuction, compute_payments, expected_payments, get_rule, step_uniforms
from mechanism.sampling import (cumsum_search, inverse_cdf, joint_linear_two_agents,
                                maximal_coupling_draw)
from mechanism.validation import as_distributions
from mechanism.workspace import scratch
from tests.mechanism.test_linear_closed_form import (TOL, exact_payment, off_by_round_off,
                                                     one_at_a_time, profiles)


def auctions(rule, n):
    """Every sampler the linear step runs with: auto (the joint sampler for two agents
    without an active reference), and inverse CDF."""
    yield TokenAuction(rule)
    if n == 2:
        yield TokenAuction(rule, sampler="inverse_cdf")


def test_the_step_pays_the_definition_and_the_exact_reference(rng):
    checked = {"joint_linear": 0, "inverse_cdf": 0}
    for k, (P, b, ref, lam) in enumerate(profiles(rng)):
        rule = get_rule("linear", reference=ref, weight=lam)
        if rule.total_weight(b) <= 0:
            continue
        W = float(b.sum()) + lam
        u = step_uniforms(7, k, len(b))
        for auction in auctions(rule, len(b)):
            rec = auction.step(P, b, u)
            for i in range(len(b)):
                want = exact_payment(P, b, i, ref, lam)
                assert abs(rec.payments[i] - want) <= TOL * max(1.0, W), \
                    (rec.sampler, i, rec.payments[i], want, b.tolist(), lam)
                assert abs(rec.payments[i] - one_at_a_time(rule, P, b, i, ref, lam)) \
                    <= TOL * max(1.0, W)
                assert rec.payments[i] >= 0.0
                if b[i] == 0:
                    assert rec.payments[i] == 0.0
            np.testing.assert_array_equal(rec.payments, expected_payments(rule, P, b).values)
            np.testing.assert_array_equal(rec.aggregate, rule(P, b))
            checked[rec.sampler] += 1
    assert checked["joint_linear"] >= 15 and checked["inverse_cdf"] >= 100


def test_the_steps_tokens_are_the_samplers_own(rng):
    """The shared distance changes nothing the sampler decides: the same tokens and
    thresholds as the joint sampler computing it itself, and inverse CDF of the aggregate."""
    for k in range(60):
        n, V = (2, int(rng.integers(2, 3000))) if k % 2 else (int(rng.integers(3, 6)), 700)
        P = off_by_round_off(rng, n, V, zeros=k % 3 == 0)
        if k % 5 == 0:
            P[1] = P[0]                          # equal reports: the seed never switches
        b = rng.exponential(1.0, n)
        u = step_uniforms(11, k, n)
        rec = TokenAuction("linear").step(P, b, u)
        if n == 2:
            draw = joint_linear_two_agents(P, b, u)
            assert (rec.token, rec.detail) == (draw.token, draw.detail)
            np.testing.assert_array_equal(rec.thresholds, draw.thresholds)
        else:
            assert rec.token == inverse_cdf(rec.aggregate, float(u[0]))


def test_a_tiny_difference_keeps_its_relative_accuracy_through_the_step():
    """The two-agent path reads ``|p_1 - p_2|`` itself: a difference of 1e-300 on one token
    next to a shared mass of 1 is paid to 1e-12, by both samplers."""
    for tiny in (1.2364573689350497e-300, 1e-200, 3e-17):
        P = np.array([[1.0, 0.0], [1.0, tiny]])
        for b in ([0.1, 1.0], [2.0, 0.3], [1.0, 1.0]):
            for auction in auctions(get_rule("linear"), 2):
                z = auction.step(P, b, step_uniforms(0, 0, 2)).payments
                for i in range(2):
                    want = exact_payment(P, np.array(b), i)
                    assert want > 0 and abs(z[i] - want) <= 1e-12 * want, (tiny, b, i, z[i])


def test_returned_arrays_outlive_the_next_step(rng):
    """What a step returns is its own: the next step (same shapes, same scratch arrays)
    leaves the earlier record unchanged."""
    for n in (2, 4):
        P1, P2 = (rng.dirichlet(np.full(5000, 0.5), size=n) for _ in range(2))
        b = rng.uniform(0.5, 2.0, n)
        auction = TokenAuction("linear")
        first = auction.step(P1, b, step_uniforms(0, 0, n))
        kept = (first.aggregate.copy(), first.payments.copy())
        second = auction.step(P2, b, step_uniforms(0, 1, n))
        np.testing.assert_array_equal(first.aggregate, kept[0])
        np.testing.assert_array_equal(first.payments, kept[1])
        assert not np.array_equal(first.payments, second.payments)


@pytest.mark.parametrize("n", [2, 4])
def test_threads_do_not_share_scratch_arrays(rng, n):
    """Steps of one shape run in several threads at once (numpy releases the GIL in the
    large subtractions, and the interpreter switches threads every 10 microseconds here)
    pay what each pays alone."""
    cases = [(rng.dirichlet(np.full(20000, 0.5), size=n), rng.uniform(0.5, 2.0, n))
             for _ in range(6)]
    auction = TokenAuction("linear")
    alone = [auction.step(P, b, step_uniforms(0, 0, n)).payments for P, b in cases]
    wrong = []

    def work(k):
        P, b = cases[k]
        for _ in range(20):
            z = auction.step(P, b, step_uniforms(0, 0, n)).payments
            if not np.array_equal(z, alone[k]):
                wrong.append(k)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=work, args=(k,)) for k in range(len(cases))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert wrong == []


@pytest.mark.parametrize("layout", ["strided", "fortran", "float32", "list"])
def test_reports_in_any_layout_validate_as_before(rng, layout):
    """Only float64 arrays skip the conversion; every other input is converted, then checked
    by the same rules (a strided view renormalized within SUM_TOL, not used as given)."""
    P = rng.dirichlet(np.ones(64), size=3)
    given = {"strided": (np.repeat(P, 2, axis=1) * (1 + 1e-9))[:, ::2],
             "fortran": np.asfortranarray(P), "float32": P.astype(np.float32),
             "list": P.tolist()}[layout]
    out = as_distributions(given)
    assert out.dtype == np.float64 and out.shape == (3, 64)
    assert np.all(np.abs(out.sum(axis=1) - 1.0) <= 1e-12)
    if layout == "strided":
        assert not given.flags.c_contiguous
        assert not np.array_equal(out, given)      # renormalized, not used as given


def test_scratch_is_one_array_per_name_shape_and_thread():
    a = scratch("test_scratch", (3,))
    assert scratch("test_scratch", (3,)) is a
    assert scratch("test_scratch_other", (3,)) is not a
    other = []
    worker = threading.Thread(target=lambda: other.append(scratch("test_scratch", (3,))))
    worker.start()
    worker.join()
    assert not np.shares_memory(other[0], a)
    assert scratch("test_scratch", (2, 4)).shape == (2, 4)


def _draw_as_first_written(weights, u):
    t = int(cumsum_search(weights, u, scaled=True)[0])
    return t if t < len(weights) else int(np.flatnonzero(weights > 0)[-1])


def coupling_as_first_written(p1, p2, u1, u2, u3):
    """The maximal coupling with ``max(d, 0)`` and ``max(-d, 0)`` as its two weights."""
    d = p1 - p2
    if u1 < 1.0 - 0.5 * float(np.abs(d).sum()):
        x = _draw_as_first_written(np.minimum(p1, p2), u2)
        return x, x
    return (_draw_as_first_written(np.maximum(d, 0.0), u2),
            _draw_as_first_written(np.maximum(-d, 0.0), u3))


def test_the_coupling_draws_what_its_first_form_drew(rng):
    """The draws weigh ``d + |d|`` and ``|d| - d``, twice ``max(+-d, 0)`` exactly: the same
    tokens, also with subnormal and near-equal reports and seeds at the edge of a token."""
    for k in range(300):
        V = int(rng.integers(2, 4000))
        P = off_by_round_off(rng, 2, V, zeros=k % 2 == 0)
        if k % 3 == 0:
            P[1] = P[0]
            P[1, rng.integers(V, size=3)] += rng.choice([1e-310, 5e-324, 1e-17], size=3)
        if k % 7 == 0:
            P[:, : V // 2] *= 1e-300
            P /= P.sum(axis=1, keepdims=True)
        u1, u2, u3 = rng.random(3)
        if k % 4 == 0:
            u1 = float(np.nextafter(1.0, 0.0))   # the seeds that switch
        if k % 5 == 0:                           # at a token's edge of the first weights
            c = np.cumsum(np.maximum(P[0] - P[1], 0.0))
            if c[-1] > 0:
                u2 = float(c[rng.integers(V)] / c[-1])
                u2 = u2 if u2 < 1.0 else float(np.nextafter(1.0, 0.0))
        assert maximal_coupling_draw(P[0], P[1], u1, u2, u3) == \
            coupling_as_first_written(P[0], P[1], u1, u2, u3), k


def test_one_profile_evaluates_bit_for_bit_as_the_batch(rng):
    """The step's aggregate (``Rule.evaluate``) is the bid path's (``Rule.batch``) at the
    same bids, to the last bit: bids from 1e-300 to 1e300, zero bids, with and without a
    reference."""
    for k in range(300):
        n, V = int(rng.integers(1, 9)), int(rng.integers(1, 2000))
        P = rng.dirichlet(np.ones(V), size=n)
        b = rng.exponential(1.0, n) * 10.0 ** float(rng.integers(-300, 300))
        if k % 3 == 0:
            b[rng.integers(n)] = 0.0
        ref = rng.dirichlet(np.ones(V)) if k % 4 == 0 else None
        rule = get_rule("linear", reference=ref, weight=0.5 if ref is not None else 0.0)
        if rule.total_weight(b) <= 0:
            continue
        np.testing.assert_array_equal(rule.evaluate(P, b), rule.batch(P, b[None, :])[0])


@pytest.mark.parametrize("b,ref", [([1e20, 1.0], False), ([1e17, 3.0], False),
                                   ([1e20, 1.0, 2.0], False), ([1e18, 1.0, 1.0], True)])
def test_a_dominant_bid_pays_its_second_price(b, ref):
    """An agent holding nearly all the weight: ``W - b_i`` and the one-pass ``W p_i - S``
    cancel to 0 in float64 (bids (1e20, 1): ``W - 1e20 = 0``), which made the closed form
    say 0 and quadrature say 0 with error 0 (the true payment is about 22.5). The closed
    form equals the definition from the others' own sum and mixture; quadrature's value is
    within its reported error of it."""
    from fractions import Fraction
    import math
    rule = get_rule("linear")
    P = np.array([[0.7, 0.3], [0.2, 0.8], [0.5, 0.5]])[:len(b)]
    if ref:
        rule = rule.with_reference(np.array([0.1, 0.9]), 0.5)
    b = np.array(b)
    others = [Fraction(x) for x in b[1:]] + ([Fraction(0.5)] if ref else [])
    B = sum(others)
    rows = [P[j] for j in range(1, len(b))] + ([np.array([0.1, 0.9])] if ref else [])
    m = [sum(w * Fraction(float(r[v])) for w, r in zip(others, rows)) / B for v in range(2)]
    TV = sum(abs(Fraction(float(P[0][v])) - m[v]) for v in range(2)) / 2
    Bf, bf = float(B), float(b[0])
    want = float(TV) * (Bf * math.log1p(bf / Bf) - bf * Bf / (bf + Bf))
    got = compute_payments(rule, P, b)
    assert got.values[0] == pytest.approx(want, rel=1e-12), (got.values, want)
    quad = compute_payments(rule, P, b, method="quadrature")
    assert abs(quad.values[0] - want) <= quad.errors[0], (quad.values, quad.errors, want)
