"""A small built-in synthetic provider: two "advertisers" over a 12-word vocabulary.

Used by ``tokenauction demo --synthetic`` and by tests; no LLM needed. Each agent's
next-token distribution depends on the prefix deterministically (a fixed random
bigram model per agent, biased toward its own brand word), so runs are reproducible.
"""

from __future__ import annotations

import numpy as np

VOCAB = ["<end>", "Alpha", "Beta", "Airlines", "Resort", "flights", "beaches", "to",
         "Hawaii", "and", "relax", "!"]
STOP = 0


class SyntheticAgents:
    """Provider ``prefix -> (dists, reference)`` for ``n`` agents over ``VOCAB``."""

    def __init__(self, n: int = 2, seed: int = 0, with_reference: bool = False):
        rng = np.random.default_rng(seed)
        V = len(VOCAB)
        self.n, self.with_reference = n, with_reference
        self.tables = rng.dirichlet(np.full(V, 0.6), size=(n + 1, V))  # (party, prev, next)
        for i in range(n):
            favourite = 1 + (i % 2)  # agent 0 likes "Alpha", agent 1 "Beta"
            self.tables[i, :, favourite] += 0.5
            self.tables[i, :, favourite + 2] += 0.3
        self.tables[:, :, STOP] += np.linspace(0, 0.4, V)[None, :]
        self.tables /= self.tables.sum(axis=2, keepdims=True)

    stop_token_ids = frozenset({STOP})

    def reset(self) -> None:
        """Stateless: nothing to forget (same interface as the LLM provider)."""

    def decode(self, ids) -> str:
        return render(ids)

    def __call__(self, prefix):
        prev = prefix[-1] if prefix else len(VOCAB) - 1
        dists = self.tables[: self.n, prev].copy()
        ref = self.tables[self.n, prev].copy() if self.with_reference else None
        return dists, ref


    def batch(self, runs: int):
        """A batch step function for R runs (the interface of ``tokenauction.llm.batch``):
        ``{run: prefix} -> {run: (Reports, log-probabilities of each agent)}``."""
        from mechanism.auction import Reports

        def step(prefixes):
            out = {}
            for r, prefix in prefixes.items():
                dists, ref = self(prefix)
                with np.errstate(divide="ignore"):
                    out[r] = (Reports(dists, ref), np.log(dists))
            return out
        return step


def render(tokens) -> str:
    return " ".join(VOCAB[t] for t in tokens)

