"""Validation of the theory on the distributions an auction actually saw (theory §4-6).

``verify_step`` checks, for one step and every agent:

* MON under the box order along a bid grid (theory §4; expected to hold for linear and
  winner-take-all, to fail sometimes for log-linear with 3+ tokens);
* the canonical stable sampler (theory §6): its exact law on the grid equals ``Q(s)`` and
  its switch probability equals ``TV(Q(0), Q(b_i))`` -- both fail when MON fails;
* the payment identity: the charged expected second-price payment equals
  ``b G(b) - int_0^b G`` (the ``tv`` value model) recomputed by the independent oracle
  :mod:`properties.oracle` (QUADPACK; :func:`properties.checks.identity_payment`), up to
  the two methods' stated error bounds (``identity_error`` is the excess beyond them);
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
from mechanism import payments as pay
from mechanism import rules as R
from mechanism.divergences import tv
from mechanism.sampling import StableSampler

from properties import checks as C


@dataclass
class StepCheck:
    agents: int
    mon_violations: int             #: agents whose bid path breaks box-MON
    worst_violation: float          #: largest per-token excess (0 if none)
    worst_where: tuple | None       #: (agent, token, bid_from, bid_to)
    stable_marginal_error: float    #: max |law of the stable sampler - Q(s)| on the grid
    stable_switch_error: float      #: max |Pr[switch] - TV(Q(0), Q(b_i))|
    identity_error: float           #: max |charged - identity by Simpson| beyond both bounds
    identity_diff: float            #: max |charged - identity by Simpson| (raw)
    regret_valuation: float | None  #: max over agents, None if undefined for every agent
    regret_pay_your_bid: float | None

    def to_json(self) -> dict:
        return asdict(self)


def step_grid(b: np.ndarray, i: int, W: float, points: int = 9) -> np.ndarray:
    """0, ``b_i`` and a geometric grid up to ``max(2 b_i, W)`` (:func:`mechanism.bids.bid_grid`)."""
    top = max(2.0 * float(b[i]), W, 1e-9)
    return bids.bid_grid(b, i, factors=np.geomspace(1e-3, 1.0, points - 1), scale=top,
                         around_others=False)


#: The step's regret check is the shared one (kept under this name for callers).
regret = C.truthful_regret


def verify_step(rule, P: np.ndarray, b: np.ndarray, charged: np.ndarray | None = None,
                charged_errors: np.ndarray | None = None, *,
                check_regret: bool = True) -> StepCheck:
    """All the checks above for one step (inputs validated, ``rule`` a mechanism Rule).

    ``charged_errors`` are the stated error bounds of the charged payments (the
    quadrature's estimate; 0 for closed forms); the identity check allows them."""
    n = P.shape[0]
    if charged is None:
        res = pay.compute_payments(rule, P, b)
        charged, charged_errors = res.values, res.errors
    if charged_errors is None:
        charged_errors = np.zeros(n)
    rule, P = R.reduce_vocabulary(rule, P)
    scale = rule.total_weight(b)
    violations, worst, where = 0, 0.0, None
    marg_err = switch_err = ident_err = ident_diff = 0.0
    reg_val, reg_pyb = [], []
    for i in range(n):
        if rule.total_weight(b) - b[i] <= 0:
            continue  # Q(0) undefined: the agent faces no competition
        grid = step_grid(b, i, scale)
        cex = C.box_violation_on_grid(rule, P, b, i, grid=grid, tol=1e-9, worst=True)
        violations += cex is not None
        if cex is not None and cex["excess"] > worst:
            worst, where = cex["excess"], (i, cex["token"], cex["bid_from"], cex["bid_to"])
        Q = bids.bid_path(rule, P, b, i, grid)
        sampler = StableSampler(rule, P, b, i)
        law = sampler.grid_marginals(grid)
        marg_err = max(marg_err, float(np.max(np.abs(law - Q))))
        at_bid = int(np.searchsorted(grid, b[i]))
        switch_err = max(switch_err, abs(float(sampler.switch_probability(grid)[at_bid])
                                         - float(tv(Q[0], Q[at_bid]))))
        identity, bound = C.identity_payment(rule, P, b, i, "second_price")
        diff = abs(float(charged[i]) - identity)
        ident_diff = max(ident_diff, diff)
        ident_err = max(ident_err, diff - float(charged_errors[i]) - bound)
        if check_regret:
            reg_val.append(C.truthful_regret(rule, P, b, i, "valuation"))
            reg_pyb.append(C.truthful_regret(rule, P, b, i, "pay_your_bid"))
    rv = [r for r in reg_val if r is not None]
    rp = [r for r in reg_pyb if r is not None]
    return StepCheck(n, violations, worst, where, marg_err, switch_err, max(ident_err, 0.0),
                     ident_diff,
                     max(rv) if rv else None, max(rp) if rp else None)
