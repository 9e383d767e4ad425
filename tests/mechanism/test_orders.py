"""theory §3 and claim 2: preference orders."""

import numpy as np
import pytest

from mechanism import InvalidInput, comparable, kl, prefers, strictly_prefers, tv
from mechanism.orders import box_violation


def rand(rng, V, k=1):
    return rng.dirichlet(np.full(V, 0.5), size=k)


def box_between(rng, p, qp):
    """A random q with q(t) between q'(t) and p(t) for every t, summing to 1: a segment
    point, then random mass moves between token pairs within their boxes."""
    lo, hi = np.minimum(p, qp), np.maximum(p, qp)
    q = qp + rng.random() * (p - qp)
    for _ in range(4):
        t, u = rng.choice(len(p), size=2, replace=False)
        room = min(q[t] - lo[t], hi[u] - q[u])
        delta = rng.random() * max(room, 0.0)
        q[t] -= delta
        q[u] += delta
    return q


def test_claim2_box_laws_random(rng):
    for _ in range(300):
        V = int(rng.integers(2, 7))
        p, q, r, s = rand(rng, V, 4)
        assert prefers(p, q, q, "box")                         # reflexive
        assert prefers(p, p, q, "box")                         # p on top
        if prefers(p, q, r, "box") and prefers(p, r, q, "box"):
            np.testing.assert_allclose(q, r, atol=1e-9)        # antisymmetric
        mid = box_between(rng, p, r)
        top = box_between(rng, p, mid)
        assert prefers(p, mid, r, "box") and prefers(p, top, mid, "box")
        assert prefers(p, top, r, "box")                       # transitive


def test_claim2_box_is_loss_consistent(rng):
    losses = {
        "kl_forward": lambda p, q: kl(p, q), "kl_reverse": lambda p, q: kl(q, p),
        "tv": lambda p, q: tv(p, q), "l2": lambda p, q: np.linalg.norm(p - q),
        "linf": lambda p, q: np.max(np.abs(p - q)),
        "hellinger": lambda p, q: np.sum((np.sqrt(p) - np.sqrt(q)) ** 2),
        "chi2": lambda p, q: np.sum((p - q) ** 2 / q),
    }
    for _ in range(300):
        V = int(rng.integers(2, 7))
        p, qp = rand(rng, V, 2)
        q = box_between(rng, p, qp)
        assert prefers(p, q, qp, "box")
        for name, L in losses.items():
            assert L(p, q) <= L(p, qp) + 1e-9, name


def test_box_disagrees_with_earth_mover():
    p = np.array([0.5, 0, 0.5, 0])
    qp = np.array([0, 0.25, 0.25, 0.5])
    q = np.array([0, 0, 0.5, 0.5])
    emd = lambda a, b: np.abs(np.cumsum(a - b)).sum()
    assert prefers(p, q, qp, "box")
    assert emd(p, qp) == pytest.approx(5 / 4) and emd(p, q) == pytest.approx(3 / 2)


def test_segment_and_strict_part():
    p, qp = np.array([0.7, 0.2, 0.1]), np.array([0.1, 0.3, 0.6])
    q = qp + 0.4 * (p - qp)
    assert prefers(p, q, qp, "segment") and strictly_prefers(p, q, qp, "segment")
    assert not prefers(p, qp, q, "segment")
    off = q + np.array([0.01, -0.01, 0.0])
    assert not prefers(p, off, qp, "segment")
    assert prefers(p, q, q, "box") and not strictly_prefers(p, q, q, "box")
    # incomparable under box: each moves a different token the wrong way
    a, b = np.array([0.5, 0.3, 0.2]), np.array([0.3, 0.5, 0.2])
    assert not comparable(np.array([0.4, 0.4, 0.2]), a, b, "box")


@pytest.mark.parametrize("order", ["kl_forward", "kl_reverse", "tv", "l2"])
def test_loss_orders_are_total(rng, order):
    for _ in range(50):
        p, q, r = rand(rng, 4, 3)
        assert comparable(p, q, r, order)


def test_box_violation_reports_worst_token():
    p, qp, q = np.array([0.6, 0.3, 0.1]), np.array([0.1, 0.3, 0.6]), np.array([0.31, 0.38, 0.31])
    t, amount = box_violation(p, q, qp)
    assert t == 1 and amount == pytest.approx(0.08)


def test_unknown_order():
    with pytest.raises(InvalidInput, match="unknown preference order"):
        prefers([1, 0], [1, 0], [0, 1], "cosine")


def test_segment_is_robust_when_q_from_is_already_close_to_p():
    """A third-party softmax mixture: q_to equals p to 5e-17 while |p - q_from| is
    about 1e-9, so the step alpha is 1 + 5e-8 in floats; the segment order must still hold."""
    from mechanism import comparable, prefers
    from tests.helpers.regret_protocol import softmax_mixture
    P = np.array([[0.006312370045234993, 0.4989276584296301, 0.494759971525135],
                  [0.27017886185815787, 0.31956368736784985, 0.41025745077399217]])
    rule = softmax_mixture(1.0)
    q_from, q_to = rule(P, [19.350634913151673, 0.0]), rule(P, [36.9800211555317, 0.0])
    p = P[0]
    assert 1e-10 < np.abs(p - q_from).max() < 1e-8 and np.abs(p - q_to).max() < 1e-15
    assert prefers(p, q_to, q_from, "segment") and comparable(p, q_from, q_to, "segment")
    # still strict where it must be: a point off the segment by 1e-6 is not preferred
    assert not prefers(p, q_to + np.array([1e-6, -1e-6, 0.0]), q_from, "segment")
    assert not prefers(p, q_from, q_to, "segment")   # moving away from p is worse


def test_loss_orders_compare_relative_to_the_loss():
    from mechanism import prefers
    p = np.array([1.0, 0.0])
    q = np.array([1e-300, 1.0])   # KL(p || q) ~ 690
    q2 = q.copy()
    q2[0] *= 1 + 1e-14             # the same loss up to rounding
    assert prefers(p, q, q2, "kl_forward") and prefers(p, q2, q, "kl_forward")
    assert not prefers(p, q, np.array([0.5, 0.5]), "kl_forward")
