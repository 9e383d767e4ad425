"""Random auction instances for tests."""

import numpy as np


def random_instance(rng, n=None, V=None, zeros=False):
    n = n or int(rng.integers(2, 5))
    V = V or int(rng.integers(2, 7))
    P = rng.dirichlet(np.full(V, 0.7), size=n)
    if zeros:
        mask = rng.random((n, V)) < 0.3
        mask[:, 0] = False
        P = np.where(mask, 0.0, P)
        P /= P.sum(axis=1, keepdims=True)
    b = rng.exponential(1.0, size=n)
    return P, b
