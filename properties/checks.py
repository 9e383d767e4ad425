"""Per-instance checks shared by the run audit and the mechanism audit (theory §3-5).

Each function takes one instance -- a rule (a :class:`mechanism.Rule` with its
reference bound, or :class:`properties.third_party.ThirdPartyRule`: both declare
``smoothed``, ``generic``, ``reference``, ``weight``, ``epsilon``, ``evaluate``, ``batch``), the
reports ``P`` (n, V), the bids ``b`` -- and returns ``None`` when the property holds there,
else a dict counterexample naming the agent, the bids and the token involved (errors that
carry data).

* :func:`box_violation_on_grid` -- MON under the box order on a bid grid (theory §4).
* :func:`bound_violation` -- ``0 <= z_i <= b_i`` (theory §6, item 7).
* :func:`pm_violation` -- payment monotonicity at two bids: a strictly better outcome must
  cost more, one not strictly better must not (theory §6); :func:`inapplicable` where a
  loss order cannot rank the two outcomes.
* :func:`utility_curve` -- agent i's utility ``u(s) = v (a(Q(s)) - a(Q(0))) - Z(s)`` under a
  value model (theory §6), the one definition behind :func:`regret_violation` (truthful) and
  :func:`ir_violation` (individually rational), for check and the mechanism audit alike.
* :func:`truthful_regret` -- the largest gain of a misreport over bidding ``t_i = b_i`` under
  the ``kl`` value model and a built-in payment (the run audit's and the demo's step).
* :func:`identity_payment` -- the expected payment that Myerson's identity gives,
  ``Z(b) = b x(b) - int_0^b x`` under a value model (:mod:`mechanism.valuations`), by the
  independent oracle :mod:`properties.oracle` (scipy quad, split at the other bids and at
  the allocation's own jumps, located by bisection), independent of the closed forms and
  the Gauss-Kronrod quadrature in :mod:`mechanism.payments` it is compared with.

:func:`on_support` drops tokens no party puts mass on: exact for every unsmoothed
rule (a token with no mass anywhere gets none in the aggregate), and it makes
checks on V = 49152 with short top-p rows cheap.
"""

from __future__ import annotations

import numpy as np

from mechanism import bids, orders
from mechanism import rules as R
from mechanism import valuations as VM
from mechanism.errors import InvalidInput
from mechanism import payments as PAY
from mechanism.regret import misreports, regret

from properties import oracle

#: Rules whose outcome is smooth in each bid (no jumps at the other bids), so the
#: identity's quadrature needs no split there.
SMOOTH_IN_BID = (R.linear, R.log_linear)
#: the smallest normal float: the least slack of a relative test (subnormal values round
#: off in absolute steps far below it)
TINY = float(np.finfo(np.float64).tiny)
#: the unit round-off (half an ulp of 1)
UNIT_ROUNDOFF = 0.5 * float(np.finfo(np.float64).eps)
#: Unit round-off ulps per summed term that a replayed payment may differ by, per unit of
#: the step's total weight ``W`` (sum of bids, plus the reference's weight): a
#: second-price payment is a distance of weighted sums times ``B_i``, whose rounding is
#: at most about ``u (V + n) (b_i + B_i) = u (V + n) W`` however small the payment is
#: (another BLAS sums in another order). ``tol`` times ``b_i`` was the allowance, and a
#: payment of 34 at a bid of 1e12 forged to 0 replayed clean.
ROUND_ULPS = 32


def round_allowance(terms: int, weight):
    """``ROUND_ULPS u terms W``: the round-off allowance of a replayed payment (``terms``:
    ``V + n``; ``weight``: the step's total weight), relative to nothing else, so the same
    at bids of 1e-300 and 1e300."""
    return ROUND_ULPS * UNIT_ROUNDOFF * terms * weight


def identity_mismatch(z: float, want: float, err: float, bid: float, tol: float) -> bool:
    """Whether a payment ``z`` differs from Myerson's ``want`` (error bound ``err``) by more
    than ``tol`` relative to the larger of the bid and the two payments (never an absolute
    floor: a log or mechanism at bids of 1e-10 is judged as at bids of 1)."""
    return abs(want - z) > max(tol * max(bid, abs(want), abs(z)), TINY) + 10 * err



def on_support(rule, P: np.ndarray, ref: np.ndarray | None):
    """``(rule', P', ref', cols)`` restricted to the tokens some party reports (exact
    when the rule does not smooth; unchanged otherwise)."""
    if rule.epsilon:
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


def defined_at_zero(rule, P, b, i) -> bool:
    """Whether ``Q(0)`` is defined for agent i (some competition is left: theory §2)."""
    try:
        bids.bid_path(rule, P, b, i, [0.0])
    except InvalidInput:
        return False
    return True


def box_violation_on_grid(rule, P, b, i, grid=None, tol: float = orders.ORDER_TOL, cuts=(),
                          worst: bool = False):
    """First consecutive pair ``bid_from < bid_to`` of the grid with
    ``Q(bid_to) ⋡_box Q(bid_from)`` for agent i (:func:`mechanism.orders.box_path_violation`);
    with ``worst``, the pair that breaks it by the most (the demo's per-step figure).

    Box is transitive, so consecutive pairs cover the whole grid. Ideal ``p_i`` is the
    smoothed row when the rule smooths (theory §2). Returns ``None`` or a counterexample.
    """
    grid = bid_grid(b, i, cuts) if grid is None else np.asarray(grid, dtype=np.float64)
    if not defined_at_zero(rule, P, b, i):
        grid = grid[grid > 0]  # Q(0) is undefined without competition (theory §2: W = 0)
    if grid.size < 2:
        return None
    p = rule.smoothed(P)[0][i]
    Q = bids.bid_path(rule, P, b, i, grid)
    bad = _worst_pair(p, Q, tol) if worst else orders.box_path_violation(p, Q, tol)
    if bad is None:
        return None
    k, t = bad["k"], bad["token"]
    return {"agent": i, "bids": b.tolist(), "bid_from": float(grid[k]),
            "bid_to": float(grid[k + 1]), "token": t, "p_token": float(p[t]),
            "q_from_token": float(Q[k, t]), "q_to_token": float(Q[k + 1, t]),
            "excess": bad["excess"]}


def _worst_pair(p, Q, tol: float) -> dict | None:
    """:func:`mechanism.orders.box_path_violation`'s answer for the pair of largest excess."""
    excess = orders.box_path_excess(p, Q)
    if not excess.size or not excess.max() > tol:
        return None
    k = int(np.argmax(excess))
    t, amount = orders.box_violation(p, Q[k + 1], Q[k])
    return {"k": k, "token": t, "excess": amount}


def bound_violation(z, b, *, upper: bool = True, tol: float = 1e-9, floor: float = 1.0):
    """First agent with ``z_i < 0`` or (``upper``) ``z_i > b_i``, or a non-finite payment;
    slack ``tol * max(floor, b_i)`` (``floor=0``: relative to the bid alone)."""
    z = np.asarray(z, dtype=np.float64)
    for i, (zi, bi) in enumerate(zip(z, b)):
        if not np.isfinite(zi):
            return {"agent": i, "field": "payment", "bound": "finite", "payment": float(zi),
                    "bid": float(bi)}
        if zi < -tol * max(floor, bi):
            return {"agent": i, "field": "payment", "bound": ">= 0", "payment": float(zi),
                    "bid": float(bi)}
        if upper and zi > bi + tol * max(floor, bi):
            return {"agent": i, "field": "payment", "bound": "<= bid", "payment": float(zi),
                    "bid": float(bi)}
    return None


#: The value model whose Myerson payment each built-in payment is.
PAYMENT_MODELS = {"second_price": "tv", "valuation": "kl"}


def allocation_curve(rule, P, b, i, payment: str, model=None):
    """``x(s)`` whose Myerson payment is ``payment`` (theory §6): ``s/(s+B)`` for the race,
    else the value model's curve (``model``, default the payment's own: TV to ``Q(0)`` for
    the second price, ``L_i(Q(0)) - L_i(Q(s))`` for the valuation payment, with ``p_i`` the
    smoothed report when the rule smooths, as the payment itself uses)."""
    B = bids.others_weight(b, i, rule.reference, rule.weight)
    if payment == "race" and model is None:
        return lambda s: np.asarray(s) / (np.asarray(s) + B)
    if model is None:
        if payment not in PAYMENT_MODELS:
            raise ValueError(f"no allocation curve for payment {payment!r}")
        model = PAYMENT_MODELS[payment]
    return VM.allocation_curve(VM.get_value_model(model), rule, P, b, i)


def identity_payment(rule, P, b, i, payment: str = "second_price",
                     tol: float = 1e-10, cuts=(), model=None) -> tuple[float, float]:
    """``(Z, error)``: Myerson's identity ``b x(b) - int_0^b x`` by the oracle, split at every
    other bid (and extra ``cuts``, e.g. a reserve) below ``b_i`` and, unless the rule is
    smooth in the bid, at the allocation's own jumps. ``Z = 0`` for a zero bid or with no
    competition (``Q(0)`` undefined). ``tol`` is kept for callers; the oracle's own
    tolerance is fixed."""
    bi = float(b[i])
    if bi <= 0 or not defined_at_zero(rule, P, b, i):
        return 0.0, 0.0
    if model is not None:
        VM.get_value_model(model).check_reports(
            rule.smoothed(P)[0])
    x = allocation_curve(rule, P, b, i, payment, model)
    smooth = rule.generic in SMOOTH_IN_BID
    cands = [float(c) for c in ([] if smooth else list(np.delete(b, i))) + list(cuts)]
    z, err, _ = oracle.identity(x, bi, cands, jumps=not smooth, tokens=np.shape(P)[-1])
    return z, err


def utility_curve(model, p, outcome, payment, value: float, i: int):
    """``u(s) = v (a_i(Q(s)) - a_i(Q(0))) - Z_i(s)``: agent i's gain over staying out (bid 0,
    pay 0) when it bids ``s`` with true value ``v`` (theory §6). ``outcome(s)`` is ``Q(s)``
    (V,), ``payment(s)`` is ``Z_i(s)``, ``p`` agent i's (smoothed) report, ``model`` a value
    model bound to the rule. Raises ``InvalidInput`` where the value of an outcome is
    infinite (no utility there)."""
    a0 = model.values(p, np.asarray(outcome(0.0))[None, :], i)[0]
    if not np.isfinite(a0):
        raise InvalidInput("the value of the outcome without the agent is infinite")

    def u(s):
        a = model.values(p, np.asarray(outcome(s))[None, :], i)[0]
        if not np.isfinite(a):
            raise InvalidInput("the value model is infinite here")
        return value * (a - a0) - float(payment(s))
    return u


def regret_violation(utilities, value: float, grid, i: int, tol: float,
                     floor: float = 1.0) -> dict | None:
    """Truthfulness at value ``v``: the best bid of ``grid`` must not gain more than
    ``tol * max(floor, v)`` over bidding ``v`` (``floor=0``: relative to the value alone,
    never below the smallest normal float) (:func:`mechanism.regret.regret`;
    ``utilities(S)`` is ``u`` on an array of bids). The counterexample: ``agent``, ``value``,
    ``bid_from`` (= v, truthful), ``bid_to`` (the better bid) and ``regret`` (its gain)."""
    out = regret(value, np.asarray(grid, dtype=np.float64), utilities)
    if out is None or out[0] <= max(tol * max(floor, value), TINY):
        return None
    gain, best = out
    return {"agent": i, "value": value, "bid_from": value, "bid_to": float(best),
            "regret": float(gain)}


def ir_violation(u_truthful: float, value: float, i: int, tol: float,
                 floor: float = 1.0) -> dict | None:
    """Individual rationality: bidding one's value ``v`` must not lose more than
    ``tol * max(floor, v)`` against staying out (``floor=0``: relative to the value alone,
    as an imported log is judged in the unit of its own bids; never below the smallest
    normal float, the round-off of a subnormal value). The counterexample: ``agent``,
    ``value``, ``bid_from`` (= v) and ``utility``."""
    if u_truthful >= -max(tol * max(floor, value), TINY):
        return None
    return {"agent": i, "value": value, "bid_from": value, "utility": float(u_truthful)}


def truthful_regret(rule, P, b, i, payment: str) -> float | None:
    """max over misreports of utility minus truthful utility, value ``t_i = b_i``, under the
    ``kl`` value model (the KL the rule minimizes); :func:`mechanism.regret.regret`, the
    outcomes of all misreports in one batch."""
    try:
        PAY.valuation_loss(rule)
    except InvalidInput:  # the rule minimizes no known KL: no valuation model
        return None
    model = VM.get_value_model("kl").for_rule(rule)
    p_i = rule.smoothed(P)[0][i]
    t = float(b[i])

    def utilities(s):
        Q = bids.bid_path(rule, P, b, i, s)
        if payment == "valuation":
            z = [PAY.valuation_payment(rule, P, bids.with_bid(b, i, r), i)[0] for r in s]
        else:
            z = s
        with np.errstate(invalid="ignore"):  # t = 0 with an infinite loss: undefined
            return t * model.values(p_i, Q) - np.asarray(z, dtype=np.float64)

    try:
        out = regret(t, misreports(t), utilities)
    except InvalidInput:  # L_i(Q(0)) infinite: the valuation payment is undefined
        return None
    return None if out is None else out[0]


# -- payment monotonicity (theory §6, PM) --------------------------------------------------
#: "strictly better" needs this margin when it is the evidence for a violation; "not
#: strictly better" is read at EQUAL_TOL
STRICT_MARGIN = 1e-6
EQUAL_TOL = 1e-12

INFINITE_BOTH = ("the loss is infinite for both outcomes compared (p_i has mass where Q has "
                 "none), so the loss order cannot rank them (theory §3-4)")


def inapplicable(p, q0, q1, order) -> bool:
    """A loss order with infinite loss on both sides: the comparison says nothing."""
    loss = orders.LOSSES.get(order)
    return loss is not None and np.isinf(loss(p, q0)) and np.isinf(loss(p, q1))


def pm_violation(p, q0, q1, z0, z1, order) -> str | None:
    """PM at (s, s') = (from, to): 'better_not_dearer' or 'dearer_not_better' or None
    (None too where the order does not apply: infinite loss on both sides)."""
    if inapplicable(p, q0, q1, order):
        return None
    better_robust = orders.prefers(p, q1, q0, order, EQUAL_TOL) and \
        not orders.prefers(p, q0, q1, order, STRICT_MARGIN)
    if better_robust and z1 <= z0:   # no tolerance here: 1e-302 more is dearer (REFUTED
        # needs evidence; a tiny payment for a tiny-probability gain is exactly right)
        return "better_not_dearer"
    if z1 > z0 + 1e-9 * max(1.0, abs(z0)) and \
            not orders.strictly_prefers(p, q1, q0, order, EQUAL_TOL):
        return "dearer_not_better"
    return None
