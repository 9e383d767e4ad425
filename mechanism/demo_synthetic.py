"""``tokenauction demo --synthetic``: a short auction over the synthetic provider,
printing each step's token, aggregate and payments, then verifying the run (same
seed, same transcript; payments within [0, bid]; stable-sampler switch probability
equals TV at every step)."""

from __future__ import annotations

import numpy as np

from .auction import TokenAuction
from .divergences import tv
from .sampling import StableSampler
from .synthetic import STOP, VOCAB, SyntheticAgents, render


def run(rule: str = "linear", bids=(1.0, 2.0), seed: int = 0, max_tokens: int = 12,
        out=print) -> int:
    provider = SyntheticAgents(n=len(bids), seed=seed)
    auction = TokenAuction(rule)
    out(f"synthetic token auction: rule={rule}, bids={list(bids)}, seed={seed}")
    out(f"{'step':>4}  {'token':<9} {'top of aggregate':<40} payments")

    def show(rec):
        top = np.argsort(rec.aggregate)[::-1][:3]
        agg = ", ".join(f"{VOCAB[t]}={rec.aggregate[t]:.2f}" for t in top)
        out(f"{rec.step:>4}  {VOCAB[rec.token]:<9} {agg:<40} "
            + " ".join(f"{z:.4f}" for z in rec.payments))

    transcript = auction.run(provider, list(bids), seed=seed, max_tokens=max_tokens,
                             stop_tokens=[STOP], on_step=show)
    out(f"text: {render(transcript.tokens)}")
    out("total payments: " + " ".join(f"{z:.4f}" for z in transcript.total_payments))
    problems = []
    again = auction.run(SyntheticAgents(n=len(bids), seed=seed), list(bids), seed=seed,
                        max_tokens=max_tokens, stop_tokens=[STOP])
    if again.tokens != transcript.tokens or not np.array_equal(again.total_payments,
                                                                transcript.total_payments):
        problems.append("same seed gave a different transcript")
    for rec, rep in zip(transcript.steps, transcript.reports):
        if np.any(rec.payments < -1e-12) or np.any(rec.payments > rec.bids + 1e-12):
            problems.append(f"step {rec.step}: payment outside [0, bid]")
        for i in range(len(bids)):
            s = StableSampler(auction.rule, rep.dists, rec.bids, i)
            grid = np.linspace(0, rec.bids[i], 9)
            marg = s.grid_marginals(grid)
            if np.max(np.abs(marg - s.Qs(grid))) > 1e-9:
                problems.append(f"step {rec.step}, agent {i}: stable sampler marginals differ")
            switch = float(tv(s.q0, marg[-1]))
            if abs(switch - float(tv(s.q0, s.Q(rec.bids[i])))) > 1e-9:
                problems.append(f"step {rec.step}, agent {i}: switch probability != TV")
    verdict = "PASSED" if not problems else "FAILED"
    out(f"verification: {verdict} (replay, payment bounds, stable sampling on "
        f"{len(transcript.steps)} steps)")
    for p in problems:
        out(f"  - {p}")
    return 0 if not problems else 1
