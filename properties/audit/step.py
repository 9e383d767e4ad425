"""What the demo verifies per step beyond the run audit (theory §6).

Every step of a run the demo records is verified by the run audit's step
(:class:`properties.audit.replay.RunStep`: the demo calls
:func:`properties.audit.replay.audit_run` on the run folder with its own mechanism):
integrity, replay of token and payments, box monotonicity on a bid grid per agent (a
failure only when the rule claims it), ``0 <= z <= b`` and the payment identity by the
independent oracle -- exactly what ``tokenauction audit`` reports for that folder.

Two checks the run audit does not make are added per step by :func:`sampler_step`:

* the canonical stable sampler (theory §6): its exact law on a bid grid equals ``Q(s)`` and
  its switch probability equals ``TV(Q(0), Q(b_i))`` -- both fail when MON fails;
* regret of truthful bidding under the ``kl`` value model ``t_i (-L_i(q))`` (theory §6;
  :mod:`mechanism.valuations`), with ``t_i = b_i``: ~0 under the valuation-based payment,
  positive under pay-your-bid. Undefined (None) where ``L_i(Q(0))`` is infinite (e.g.
  disjoint top-p supports).

With smoothing (``epsilon > 0``) the agent's ideal distribution is its smoothed report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from mechanism import bids
from mechanism import rules as R
from mechanism.divergences import tv
from mechanism.sampling import StableSampler

from properties import checks as C


@dataclass
class SamplerCheck:
    agents: int
    stable_marginal_error: float    #: max |law of the stable sampler - Q(s)| on the grid
    stable_switch_error: float      #: max |Pr[switch] - TV(Q(0), Q(b_i))|
    regret_valuation: float | None  #: max over agents, None if undefined for every agent
    regret_pay_your_bid: float | None

    def to_json(self) -> dict:
        return asdict(self)


def step_grid(b: np.ndarray, i: int, W: float, points: int = 9) -> np.ndarray:
    """0, ``b_i`` and a geometric grid up to ``max(2 b_i, W)`` (:func:`mechanism.bids.bid_grid`)."""
    top = max(2.0 * float(b[i]), W, 1e-9)
    return bids.bid_grid(b, i, factors=np.geomspace(1e-3, 1.0, points - 1), scale=top,
                         around_others=False)


def sampler_step(rule, P: np.ndarray, b: np.ndarray, *, check_regret: bool = True) -> SamplerCheck:
    """The stable sampler's law and switch probability, and the regret of truthful bidding,
    for one step (inputs validated, ``rule`` a mechanism Rule with its reference bound)."""
    n = P.shape[0]
    rule, P = R.reduce_vocabulary(rule, P)
    scale = rule.total_weight(b)
    marg_err = switch_err = 0.0
    reg_val, reg_pyb = [], []
    for i in range(n):
        if scale - b[i] <= 0:
            continue  # Q(0) undefined: the agent faces no competition
        grid = step_grid(b, i, scale)
        Q = bids.bid_path(rule, P, b, i, grid)
        sampler = StableSampler(rule, P, b, i)
        law = sampler.grid_marginals(grid)
        marg_err = max(marg_err, float(np.max(np.abs(law - Q))))
        at_bid = int(np.searchsorted(grid, b[i]))
        switch_err = max(switch_err, abs(float(sampler.switch_probability(grid)[at_bid])
                                         - float(tv(Q[0], Q[at_bid]))))
        if check_regret:
            reg_val.append(C.truthful_regret(rule, P, b, i, "valuation"))
            reg_pyb.append(C.truthful_regret(rule, P, b, i, "pay_your_bid"))
    rv = [r for r in reg_val if r is not None]
    rp = [r for r in reg_pyb if r is not None]
    return SamplerCheck(n, marg_err, switch_err, max(rv) if rv else None,
                        max(rp) if rp else None)
