"""Small auction instances for the mechanism audit, smallest and roundest first.

Hypothesis-style, without the shrinking loop: instances come ordered by size (agents,
then tokens) with probabilities on a 0.05 grid and bids from a few round values, so the
first counterexample found is already small and can be pasted back. The theory's own
counterexamples come first (greedy decoding, log-linear with V = 3, one-hot reports).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

#: docs/theory.md instances every audit tries first (sections 2-5).
SPEC_INSTANCES = [
    {"dists": [[0.6, 0.4], [0.3, 0.7]], "bids": [1.0, 1.0]},            # greedy is not MON
    {"dists": [[1.0, 0.0], [0.0, 1.0]], "bids": [1.0, 2.0]},            # one-hot reports
    {"dists": [[0.5, 0.5], [0.2, 0.8]], "bids": [0.0, 1.0]},            # a zero bid
    {"dists": [[0.6, 0.3, 0.1], [0.1, 0.3, 0.6]], "bids": [1.0, 1.0]},  # log-linear, V = 3
    {"dists": [[0.8, 0.2], [1.0, 0.0], [0.0, 1.0]], "bids": [1.0, 2.0, 2.0]},  # the blog's
]
#: (agents, vocabulary) of the random instances; 5 and 8 agents too, so that a mechanism that
#: misbehaves only with more agents than the small sizes is caught
SIZES = ((2, 2), (2, 3), (3, 2), (3, 3), (2, 4), (3, 4), (4, 3), (5, 3), (8, 2))
BIDS = (0.0, 0.5, 1.0, 2.0, 3.0)
#: (agents, vocabulary) of one instance each after the others, whatever the count: a
#: mechanism that misbehaves only past the small vocabularies (an LLM's is tens of
#: thousands of tokens) was judged on V <= 12 alone, and nothing was refuted
LARGE = ((2, 64), (3, 1024))


def _round_dist(rng, V: int) -> list[float]:
    p = np.round(rng.dirichlet(np.ones(V)) * 20) / 20
    p[-1] = 0.0
    p[-1] = round(1.0 - p.sum(), 2)
    if p[-1] < 0:
        p = np.full(V, 1.0 / V)
    return [float(x) for x in p]


def _reserve_bids(rng, n: int, r: float) -> list[float]:
    """Top bid above the reserve, the second below it: where a reserve matters most."""
    b = [2 * r, r / 2] + [float(rng.choice([0.0, r / 4])) for _ in range(n - 2)]
    return [float(x) for x in rng.permutation(b)]


def instances(count: int, seed: int = 0, reserve: float = 0.0) -> Iterator[dict]:
    """About ``count`` instances ``{"dists": (n, V) list, "bids": (n,) list}``: the
    docs/theory.md ones, then ``max(1, count // len(SIZES))`` random ones of each size of
    :data:`SIZES` (so counts in one multiple of ``len(SIZES)`` draw the same instances),
    then one of each size of :data:`LARGE`."""
    yield from SPEC_INSTANCES
    rng = np.random.default_rng(seed)
    per = max(1, count // len(SIZES))
    for n, V in SIZES:
        for k in range(per):
            dists = [_round_dist(rng, V) for _ in range(n)]
            if reserve and k % 2 == 0:
                bids = _reserve_bids(rng, n, reserve)
            else:
                bids = [float(x) for x in rng.choice(BIDS, size=n)]
            yield {"dists": dists, "bids": bids}
    for n, V in LARGE:
        yield {"dists": [_round_dist(rng, V) for _ in range(n)],
               "bids": [float(x) for x in rng.choice(BIDS[1:], size=n)]}
