"""theory §6: the block searches of ``mechanism.cdf_search`` return the sequential
cumulative sum's index, token for token: :func:`pair_search` (the coupling's two draws from
``d + a`` and ``a - d`` without writing them) against the sequential search of each weight
vector materialized, on random, sparse, tiny and adversarial points next to partial sums."""

import numpy as np

from mechanism.cdf_search import BLOCK, cumsum_search, pair_search, sequential_search
from mechanism.divergences import tv
from mechanism.sampling import joint_linear_two_agents, maximal_coupling_draw


def reference(d, a, u_plus, u_minus):
    """The definition: each weight vector written, its whole cumulative sum searched."""
    out = []
    for w, u in ((a + d, u_plus), (a - d, u_minus)):
        t = int(sequential_search(w, u, True)[0])
        out.append(t if t < len(w) else int(np.flatnonzero(w > 0)[-1]))
    return tuple(out)


def pairs(rng):
    for trial in range(200):
        V = int(rng.choice([7, 3 * BLOCK, 4 * BLOCK, 4 * BLOCK + 1, 9 * BLOCK + 333, 49152]))
        p1, p2 = rng.dirichlet(np.full(V, 0.3), size=2)
        if trial % 4 == 1:
            p2[rng.random(V) < 0.5] = 0.0             # sparse rows
            p2 /= p2.sum()
        if trial % 4 == 2:
            p2 = p1.copy()
            p2[[0, V - 1]] += [1e-13, -1e-13]          # tiny distance at both ends
            p2 = np.clip(p2, 0, None)
        yield p1, p2


def test_pair_search_is_the_sequential_search(rng):
    checked = 0
    for p1, p2 in pairs(rng):
        d = p1 - p2
        a = np.abs(d)
        if not (a > 0).any():
            continue
        cp, cm = np.cumsum(a + d), np.cumsum(a - d)
        points = [tuple(rng.random(2)) for _ in range(4)]
        # adversarial: exactly at, and one ulp around, a partial sum (scaled back to a uniform)
        k = int(rng.integers(len(d)))
        for c in (cp, cm):
            if c[-1] > 0:
                x = c[k] / c[-1]
                points += [(x, x), (np.nextafter(x, 0), np.nextafter(x, 1)), (x, 0.5)]
        for up, um in points:
            up, um = float(min(up, np.nextafter(1, 0))), float(min(um, np.nextafter(1, 0)))
            if cp[-1] > 0 and cm[-1] > 0:
                assert pair_search(d, a, up, um) == reference(d, a, up, um), (len(d), up, um)
                checked += 1
    assert checked >= 600


def draw(w, u):
    """Inverse CDF of the written weights ``w`` at ``u`` times their total."""
    t = int(cumsum_search(w, u, scaled=True)[0])
    return t if t < len(w) else int(np.flatnonzero(w > 0)[-1])


def test_the_coupling_draws_as_it_did_writing_the_weights(rng):
    """The coupling's tokens equal the draws from the written vectors ``d + a``, ``a - d``
    and ``min(p1, p2)`` (its definition), and the joint sampler's distance is ``TV``."""
    for p1, p2 in pairs(rng):
        d = p1 - p2
        a = np.abs(d)
        for u in rng.random((3, 4)):
            dist = joint_linear_two_agents(np.vstack([p1, p2]), np.ones(2), u).detail["tv"]
            assert dist == tv(p1, p2) == 0.5 * float(a.sum())
            if u[0] < 1.0 - dist:
                want = (draw(np.minimum(p1, p2), u[1]),) * 2
            else:
                want = (draw(d + a, u[1]), draw(a - d, u[2]))
            assert maximal_coupling_draw(p1, p2, *u[:3]) == want
