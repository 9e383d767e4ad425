"""Many generations at once: R runs of the same agent prompts in ONE forward per step.

docs/theory.md section 1 (the auction) runs one joint text per (bids, seed); the demo runs
hundreds of them. ``RunBatch`` steps R of them together: row ``a * R + r`` of the batch is
agent ``a`` (the reference last) in run ``r``, so one forward of shape (m R, 1) serves every
agent of every live run. The story of one batch:

1. the prompts (m rows) are prefilled ONCE and their KV cache is repeated R times (every run
   starts from the same prompts);
2. each later ``step`` gets every live run's prefix, which extends its previous prefix by
   exactly the one token that run's auction sampled, and runs one forward;
3. a run that is absent from a step has finished: its rows leave the cache, so finished runs
   cost nothing.

Each step returns, per run, the ``Reports`` its auction sees (temperature and top-p applied,
as :class:`~tokenauction.llm.agents.LLMAgents` does) and the raw log-probabilities of the
agents' models (temperature 1, no top-p), from which the demo reads the log-likelihood of
the sampled token under each agent's own model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mechanism.auction import Reports
from mechanism.errors import InvalidInput
from tokenauction.llm.agents import LLMAgents, nucleus
from tokenauction.llm.model import require_torch


class RunBatch:
    """R independent generations over the prompts of ``agents`` (an :class:`LLMAgents`)."""

    def __init__(self, agents: LLMAgents, runs: int):
        if runs < 1:
            raise InvalidInput(f"runs={runs}; a batch needs at least one run", value=runs)
        self.agents, self.runs = agents, int(runs)
        self.m = len(agents.prompts)  # agents + reference rows per run
        self.live: list[int] = []     # run ids in cache order
        self.prefixes: dict[int, list[int]] = {}

    def step(self, prefixes: Mapping[int, Sequence[int]]) -> dict[int, tuple[Reports, np.ndarray]]:
        """``{run: prefix}`` for every live run -> ``{run: (Reports, raw log-probs (n, V))}``.

        The first call gives every run the empty prefix; later calls give each run its
        previous prefix plus one token. Runs left out are finished and dropped."""
        torch, _ = require_torch()
        agents = self.agents
        prefixes = {int(r): [int(t) for t in p] for r, p in prefixes.items()}
        if not self.live:
            if sorted(prefixes) != list(range(self.runs)) or any(prefixes.values()):
                raise InvalidInput("the first step of a RunBatch gives every run 0..R-1 the empty "
                                   "prefix", value=sorted(prefixes))
            logits = agents._prefill([])
            agents._cache.batch_repeat_interleave(self.runs)
            agents._mask = agents._mask.repeat_interleave(self.runs, dim=0)
            logits = logits.repeat_interleave(self.runs, dim=0)
            self.live = list(range(self.runs))
        else:
            unknown = set(prefixes) - set(self.live)
            if unknown:
                raise InvalidInput(f"runs {sorted(unknown)} are finished or unknown", value=unknown)
            for r, p in prefixes.items():
                old = self.prefixes[r]
                if len(p) != len(old) + 1 or p[:-1] != old:
                    raise InvalidInput(f"run {r}: the prefix must extend the previous one by "
                                       "exactly one token", value=p)
            keep = [j for j, r in enumerate(self.live) if r in prefixes]
            if len(keep) < len(self.live):  # finished runs leave the batch
                R = len(self.live)
                rows = torch.tensor([a * R + j for a in range(self.m) for j in keep])
                agents._cache.batch_select_indices(rows.to(agents._mask.device))
                agents._mask = agents._mask[rows.to(agents._mask.device)]
                self.live = [self.live[j] for j in keep]
            tokens = torch.tensor([prefixes[r][-1] for r in self.live]).repeat(self.m)
            logits = agents._decode_tokens(tokens)
        self.prefixes = {r: prefixes[r] for r in self.live}
        R, n = len(self.live), agents.n
        probs = nucleus(logits, agents.temperature, agents.top_p).cpu().numpy()
        raw = torch.log_softmax(logits.float(), dim=-1).cpu().numpy()
        out = {}
        for j, r in enumerate(self.live):
            rows = [a * R + j for a in range(self.m)]
            dists, mine = probs[rows[:n]], raw[rows[:n]]
            dists.setflags(write=False)
            out[r] = (Reports(dists, probs[rows[n]] if agents.has_reference else None), mine)
        return out


class LLMBackend:
    """What the demo needs from the LLM: ``batch(R)`` (a fresh :class:`RunBatch` step
    function for R runs), ``stop_token_ids`` and ``decode``."""

    def __init__(self, loaded, prompts: Sequence, reference=None, temperature: float = 0.7,
                 top_p: float = 0.9):
        self.make = lambda: LLMAgents(loaded, prompts, reference=reference,
                                      temperature=temperature, top_p=top_p)
        probe = self.make()
        self.stop_token_ids, self.decode = probe.stop_token_ids, probe.decode

    def batch(self, runs: int):
        return RunBatch(self.make(), runs).step
