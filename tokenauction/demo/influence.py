"""How much each agent steers the joint text: the influence measures of the demo.

The paper's point (docs/theory.md sections 1-2) is that the bid share steers the aggregate
``q`` toward the bidder's own distribution. Three measures make that visible, per step and
averaged over each run:

* ``weight``: the weight ``w`` that best writes ``q`` as the mixture ``w p_1 + (1 - w) p_2``
  of the two agents' reports (least squares, clipped to [0, 1]; undefined where the two
  reports coincide). For the linear rule without a reference it IS the bid share, by
  construction (section 2); for other rules it measures how far ``q`` leans to each agent.
* ``tv``: ``TV(q, p_i)`` for each agent; the agent that steers more is closer (smaller TV).
* ``loglik``: the mean log-likelihood, in nats per token, of the generated tokens under each
  agent's own model (temperature 1, no top-p; stop tokens left out): the text-level view,
  how much the joint text reads like what agent i alone would have written.
"""

from __future__ import annotations

import numpy as np

from mechanism.divergences import tv_rows

MEASURES = {  # name -> (what is plotted, unit, expected direction for agent 1 as its share rises)
    "weight": ("weight of each agent in q (best mixture fit)", "fraction of q", +1),
    "tv": ("TV(q, p_i), distance of q to agent i's report", "total variation, 0-1", -1),
    "loglik": ("mean log-likelihood of the text under agent i's model", "nats per token", +1),
}


def step_measures(P: np.ndarray, q: np.ndarray, token_logp) -> dict:
    """Measures of one step: reports ``P`` (2, V), aggregate ``q``, and the raw log-probability
    of the sampled token under each agent's model (None for a stop token)."""
    support = np.flatnonzero((P != 0).any(axis=0) | (q != 0))  # top-p leaves most tokens 0
    P, q = P[:, support], q[support]
    d = P[0] - P[1]
    denom = float(d @ d)
    weight = None
    if denom > 1e-12:
        w0 = float(np.clip((q - P[1]) @ d / denom, 0.0, 1.0))
        weight = [w0, 1.0 - w0]
    return {"weight": weight, "tv": [float(x) for x in tv_rows(P, q)],
            "loglik": None if token_logp is None else [float(x) for x in token_logp]}


def run_measures(steps: list[dict]) -> dict:
    """Per-run means over the steps where each measure is defined (None if never)."""
    out = {}
    for name in MEASURES:
        rows = [s[name] for s in steps if s[name] is not None]
        out[name] = np.mean(rows, axis=0).tolist() if rows else None
    out["steps_defined"] = {name: sum(s[name] is not None for s in steps) for name in MEASURES}
    return out
