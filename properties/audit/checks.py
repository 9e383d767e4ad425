"""Per-instance checks shared by the run audit and the mechanism audit (SPEC 3-5).

Each function takes one instance -- a rule (a :class:`mechanism.Rule` with its
reference bound), the reports ``P`` (n, V), the bids ``b`` -- and returns ``None``
when the property holds there, else a dict counterexample naming the agent, the
bids and the token involved (STYLE.md: errors that carry data).

* :func:`box_violation_on_grid` -- MON under the box order on a bid grid (SPEC 4).
* :func:`bound_violation` -- ``0 <= z_i <= b_i`` (SPEC 5, claim 7).
* :func:`identity_payment` -- the expected payment that Myerson's identity gives,
  ``Z(b) = b x(b) - int_0^b x``, by adaptive quadrature split at the other bids
  (where winner-take-all jumps), independent of the closed forms in
  :mod:`mechanism.payments` it is compared with.

:func:`on_support` drops tokens no party puts mass on: exact for every unsmoothed
rule (a token with no mass anywhere gets none in the aggregate), and it makes
checks on V = 49152 with short top-p rows cheap.
"""

from __future__ import annotations

import numpy as np

from mechanism import bids, orders
from mechanism import rules as R
from mechanism.divergences import kl, tv
from mechanism.errors import InvalidInput
from mechanism.payments import valuation_loss
from mechanism.quadrature import integrate

#: Rules whose outcome is smooth in each bid (no jumps at the other bids), so the
#: identity's quadrature needs no split there.
SMOOTH_IN_BID = (R.linear, R.log_linear)



def on_support(rule, P: np.ndarray, ref: np.ndarray | None):
    """``(rule', P', ref', cols)`` restricted to the tokens some party reports (exact
    when the rule does not smooth; unchanged otherwise)."""
    if getattr(rule, "epsilon", 0.0):
        return rule, P, ref, None
    mass = (P > 0).any(axis=0)
    if ref is not None:
        mass |= ref > 0
    if mass.all():
        return rule, P, ref, None
    cols = np.flatnonzero(mass)
    ref_s = None if ref is None else ref[cols]
    rule_s = rule.with_reference(ref_s) if ref_s is not None else rule
    return rule_s, P[:, cols], ref_s, cols


def bid_grid(b: np.ndarray, i: int, cuts=()) -> np.ndarray:
    """0, multiples of ``b_i`` (or of the others' scale if ``b_i = 0``), and every other bid
    and extra cut (e.g. a reserve) with its two neighbours (:func:`mechanism.bids.bid_grid`)."""
    return bids.bid_grid(b, i, cuts=cuts)


def _defined_at_zero(rule, P, b, i) -> bool:
    try:
        bids.bid_path(rule, P, b, i, [0.0])
    except InvalidInput:
        return False
    return True


def box_violation_on_grid(rule, P, b, i, grid=None, tol: float = orders.ORDER_TOL, cuts=()):
    """First consecutive pair ``bid_from < bid_to`` of the grid with
    ``Q(bid_to) ⋡_box Q(bid_from)`` for agent i (:func:`mechanism.orders.box_path_violation`).

    Box is transitive, so consecutive pairs cover the whole grid. Ideal ``p_i`` is the
    smoothed row when the rule smooths (SPEC 2). Returns ``None`` or a counterexample.
    """
    grid = bid_grid(b, i, cuts) if grid is None else np.asarray(grid, dtype=np.float64)
    if not _defined_at_zero(rule, P, b, i):
        grid = grid[grid > 0]  # Q(0) is undefined without competition (SPEC 2: W = 0)
    if grid.size < 2:
        return None
    p = rule.smoothed(P)[0][i] if hasattr(rule, "smoothed") else P[i]
    Q = bids.bid_path(rule, P, b, i, grid)
    bad = orders.box_path_violation(p, Q, tol)
    if bad is None:
        return None
    k, t = bad["k"], bad["token"]
    return {"agent": i, "bids": b.tolist(), "bid_from": float(grid[k]),
            "bid_to": float(grid[k + 1]), "token": t, "p_token": float(p[t]),
            "q_from_token": float(Q[k, t]), "q_to_token": float(Q[k + 1, t]),
            "excess": bad["excess"]}


def bound_violation(z, b, *, upper: bool = True, tol: float = 1e-9):
    """First agent with ``z_i < 0`` or (``upper``) ``z_i > b_i``, or a non-finite payment."""
    z = np.asarray(z, dtype=np.float64)
    for i, (zi, bi) in enumerate(zip(z, b)):
        if not np.isfinite(zi):
            return {"agent": i, "field": "payment", "bound": "finite", "payment": float(zi),
                    "bid": float(bi)}
        if zi < -tol * max(1.0, bi):
            return {"agent": i, "field": "payment", "bound": ">= 0", "payment": float(zi),
                    "bid": float(bi)}
        if upper and zi > bi + tol * max(1.0, bi):
            return {"agent": i, "field": "payment", "bound": "<= bid", "payment": float(zi),
                    "bid": float(bi)}
    return None


def allocation_curve(rule, P, b, i, payment: str):
    """``x(s)`` whose Myerson payment is ``payment`` (SPEC 5): TV to ``Q(0)`` for the second
    price, ``s/(s+B)`` for the race, ``L_i(Q(0)) - L_i(Q(s))`` for the valuation payment."""
    B = bids.others_weight(b, i, rule.reference, rule.weight)
    if payment == "race":
        return lambda s: np.asarray(s) / (np.asarray(s) + B)
    q0 = bids.bid_path(rule, P, b, i, [0.0])[0]
    if payment == "second_price":
        return lambda s: tv(bids.bid_path(rule, P, b, i, np.asarray(s)), q0)
    if payment == "valuation":
        loss = valuation_loss(rule)
        p_i = rule.smoothed(P)[0][i]  # SPEC 2: the agent's smoothed report, as the payment
        L = (lambda q: kl(p_i, q)) if loss == "kl_forward" else (lambda q: kl(q, p_i))
        L0 = L(q0)
        return lambda s: np.array([L0 - L(q) for q in bids.bid_path(rule, P, b, i, np.asarray(s))])
    raise ValueError(f"no allocation curve for payment {payment!r}")


def identity_payment(rule, P, b, i, payment: str = "second_price",
                     tol: float = 1e-10, cuts=()) -> tuple[float, float]:
    """``(Z, error)``: Myerson's identity ``b x(b) - int_0^b x`` by quadrature, split at
    every other bid (and extra ``cuts``, e.g. a reserve) below ``b_i``. ``Z = 0`` for a
    zero bid or with no competition (``Q(0)`` undefined)."""
    bi = float(b[i])
    if bi <= 0 or not _defined_at_zero(rule, P, b, i):
        return 0.0, 0.0
    x = allocation_curve(rule, P, b, i, payment)
    if getattr(rule, "generic", None) not in SMOOTH_IN_BID:  # may jump at another bid
        cuts = np.concatenate((np.delete(b, i), np.asarray(cuts, float)))
    cuts = np.unique(np.concatenate(([0.0, bi], np.asarray(cuts, float))))
    cuts = cuts[(cuts >= 0) & (cuts <= bi)]
    area = err = 0.0
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        a, e = integrate(x, float(lo), float(hi), tol=tol)
        area, err = area + a, err + e
    return float(bi * x(np.array([bi]))[0] - area), err
