"""A small Markov provider for the mechanism's tests (the mechanism's tests import nothing
from the app): each party's next-token distribution depends on the previous token only."""

from __future__ import annotations

import numpy as np

STOP = 0          #: the stop token
VOCAB_SIZE = 12


class MarkovAgents:
    """Provider ``prefix -> (dists, reference)`` for ``n`` agents over ``VOCAB_SIZE`` tokens,
    drawn once from ``seed``; the reference row is returned when ``with_reference``."""

    def __init__(self, n: int = 2, seed: int = 0, with_reference: bool = False):
        rng = np.random.default_rng(seed)
        self.n, self.with_reference = n, with_reference
        self.tables = rng.dirichlet(np.full(VOCAB_SIZE, 0.6), size=(n + 1, VOCAB_SIZE))
        self.tables[:, :, STOP] += np.linspace(0, 0.4, VOCAB_SIZE)[None, :]
        self.tables /= self.tables.sum(axis=2, keepdims=True)

    def __call__(self, prefix):
        prev = prefix[-1] if prefix else VOCAB_SIZE - 1
        ref = self.tables[self.n, prev].copy() if self.with_reference else None
        return self.tables[: self.n, prev].copy(), ref
