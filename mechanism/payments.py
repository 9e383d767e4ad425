"""Payment rules (theory §6) and expected payments.

* ``second_price`` (default): ``Z(b) = b G(b) - int_0^b G(s) ds`` with
  ``G(s) = TV(Q(0), Q(s))`` (Myerson's identity). Closed forms are used automatically
  for linear (``TV(p_i, m) (B ln(1 + b/B) - bB/(b + B))``) and winner-take-all
  (``TV(p_i, p_k) b_k`` for the winner); any other rule goes through adaptive
  quadrature with a reported error estimate.
* ``pay_your_bid``: ``Z(s) = s`` (the blog's illustration).
* ``valuation``: Myerson payment for the valuation ``t_i (-L_i(q))`` with ``L_i`` the
  KL the rule minimizes (forward KL for linear, reverse for log-linear):
  ``x(s) = L_i(Q(0)) - L_i(Q(s))``, ``Z(b) = b x(b) - int_0^b x``.

Conventions (documented, tested): a zero bid pays 0; an agent facing no competition
(every other party has weight 0, so ``Q(0)`` is undefined) pays 0, since every
positive bid yields the same outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import crossings
from . import rules as R
from .bids import dominant, others_weight, others_weights
from .divergences import tv
from .errors import Float64Range, InvalidInput, lookup
from .paths import BidPaths, others_mixture
from . import valuations as V
from .validation import as_bids, as_distributions, row_sums
from .workspace import scratch

#: Default tolerance of the payment quadrature: error estimate <= QUAD_TOL * max(1, |integral|).
#: The estimate is a heuristic (QUADPACK's, and the crossing split's of mechanism/crossings.py),
#: not a bound: on a real log-linear step of the demo
#: (tests/mechanism/test_payments.py::test_quadrature_error_on_a_real_log_linear_step)
#: Gauss-Kronrod on G at 1e-6 stopped with an estimate of 9e-7 while the true error was
#: 6.2e-6. tests/mechanism/test_crossings.py compares the estimates with fine references.
QUAD_TOL = 1e-8


@dataclass
class Payments:
    """Per-agent expected payments with their method and error estimate."""

    values: np.ndarray
    errors: np.ndarray
    method: str
    detail: dict = field(default_factory=dict)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.values, dtype=dtype)


def _others_weight(rule: R.Rule, b: np.ndarray, i: int) -> float:
    return others_weight(b, i, rule.reference, rule.weight)


def race_share(s, B):
    """``f(r) = ln(1 + r) - r / (1 + r)`` at ``r = s / B`` (``s, B > 0``, arrays), so that
    ``B f(s / B) = s x(s) - int_0^s x`` for ``x(t) = t / (t + B)``: Myerson's identity of
    the race payment, and times ``TV`` the linear second price (theory §6 [fact]). Computed without the two float64 traps of the direct form:
    at ``r < 0.01`` the series ``sum_k (-1)^k (k-1)/k r^k``, k = 2..12 (the difference
    cancels, losing ``2e-16 / r`` relatively: it gave -1.6e-318 at bids 1e-310, 1e6), and at
    ``r > 1e15`` or ``s / B = inf`` (bids 1e-300, 1e300) the logs ``ln s - ln B + ln(1 + B/s)
    - 1 / (1 + B/s)`` (it gave inf and NaN payments). Relative error below 1e-13."""
    s, B = np.asarray(s, dtype=np.float64), np.asarray(B, dtype=np.float64)
    if s.shape != B.shape:
        s, B = np.broadcast_arrays(s, B)
    if 0 < s.size <= 16 and all(0.01 * y <= x <= 1e15 * y for x, y in zip(s.flat, B.flat)):
        r = s / B      # the usual case of one step's agents: the direct form, no overflow
        return np.log1p(r) - r / (1.0 + r)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):
        r = s / B
        mid = np.log1p(r) - r / (1.0 + r)
        poly = np.zeros_like(r)
        for k in range(12, 1, -1):                 # Horner: sum_k c_k r^(k-2), then r^2
            poly = poly * r + (-1.0) ** k * (k - 1) / k
        small = r * r * poly
        inv = B / s
        big = (np.log(s) - np.log(B)) + np.log1p(inv) - 1.0 / (1.0 + inv)
        return np.where(r < 0.01, small, np.where(r > 1e15, big, mid))


def _linear_closed_form(rule, P, b, aggregate=None, pair_tv=None):
    """theory §6 [fact]: ``Z_i(b) = TV(p_i, m_i) (B_i ln(1 + b_i/B_i) - b_i B_i/(b_i + B_i))``,
    ``m_i`` the others' mixture (reference included) and ``B_i`` their total weight.

    One pass over the reports serves every agent: ``W p_i - S = W (p_i - q)`` (``S`` the
    weighted sum, ``q = S / W`` the aggregate), so ``TV(p_i, m_i) = W |p_i - q|_1 / (2 B_i)``,
    token by token (a difference of 1e-300 on one token keeps its relative accuracy; a sum
    of maxima minus the rows' sums would lose it to the mass of the others). ``aggregate``
    (``q``) is the step's own, when it has it. Two agents and no active reference: each
    one's ``m_i`` is the other's report, so ``TV(p_1, p_2)`` serves both and the aggregate
    is not read (``pair_tv``: that distance, when the step has it from its sampler)."""
    W = rule.total_weight(b)
    B = others_weights(b, W, rule.reference, rule.weight)  # the others' weight B_i >= 0
    every = min(b.tolist()) > 0 and min(B.tolist()) > 0  # every agent pays (no NaN: validated)
    ok = None if every else (b > 0) & (B > 0)
    if not every and not ok.any():              # W = 0 included: nobody pays
        return np.zeros(len(b))
    n, V = P.shape
    if n == 2 and not (rule.reference is not None and rule.weight > 0):
        tv_B = B * float(tv(P[0], P[1]) if pair_tv is None else pair_tv)
    else:
        q = rule.evaluate(P, b) if aggregate is None else aggregate
        diff = np.subtract(P, q, out=scratch("linear_closed_form.diff", P.shape))
        tv_B = (0.5 * W) * row_sums(np.abs(diff, out=diff))
        i = dominant(b, W)  # W p_i - S lost the others' mixture to p_i's weight: m_i itself
        if i is not None and B[i] > 0:
            tv_B[i] = B[i] * float(tv(P[i], others_mixture(P, b, i, B[i], rule.reference,
                                                          rule.weight)))
    # TV_i B_i f(b_i / B_i), tv_B = TV_i B_i = W l1_i / 2 (no b_i B_i and no division by
    # B_i, which under/overflow at bids of 1e+-300; race_share: no overflow of b_i / B_i)
    if every:                                   # the same values as below, without masks
        return np.minimum(tv_B * race_share(b, B), b)
    return np.where(ok, np.minimum(tv_B * race_share(b, np.where(ok, B, 1.0)), b), 0.0)


def _wta_closed_form(rule, P, b, aggregate=None, pair_tv=None):
    """theory §6 [fact]: the winner i pays ``TV(p_i, p_k) b_k``, k the runner-up; others 0
    (two rows read: the step's aggregate is not needed; ``pair_tv`` is not used either: only
    the joint linear sampler computes it, and its rule is linear)."""
    z = np.zeros(len(b))
    i = _wta_winner(b)
    if b[i] <= 0 or not (np.delete(b, i) > 0).any():
        return z
    k = _wta_winner(np.where(np.arange(len(b)) == i, -1.0, b))
    z[i] = float(tv(P[i], P[k])) * float(b[k])
    return z


def _wta_winner(b) -> int:
    return int(np.argmax(b))  # argmax returns the lowest index among ties


#: Closed forms of the second-price payment, keyed by the rule's generic definition.
CLOSED_FORMS = {R.linear: _linear_closed_form, R.winner_take_all: _wta_closed_form}


def race_payment(rule, P, b, i) -> float:
    """Expected race-threshold payment (theory §6, exponential race): Myerson with
    ``x(s) = s / (s + B)``, i.e. ``B ln(1 + b/B) - bB/(b + B) = B f(b / B)``
    (:func:`race_share`)."""
    B = _others_weight(rule, b, i)
    s = float(b[i])
    if s <= 0 or B <= 0:
        return 0.0
    return float(min(max(B * float(race_share(s, B)), 0.0), s))   # 0 <= z <= b (rounding)


#: Myerson's identity lives once, in :mod:`mechanism.valuations` (re-exported here).
myerson = V.myerson


def second_price_quadrature(rule, P, b, tol=QUAD_TOL) -> tuple[np.ndarray, np.ndarray]:
    """Second-price expected payments of every agent by quadrature of the identity.

    ``G_i(s) = TV(Q_i(0), Q_i(s))`` comes from :class:`mechanism.paths.BidPaths` (one
    precomputation per step, many nodes per call). Log-linear: ``G_i`` is split at the
    tokens' crossings into smooth pieces (:mod:`mechanism.crossings`; its kinks held
    Gauss-Kronrod to slow convergence and to estimates below the true error). Linear (no
    jumps in the own bid): every agent's integral runs in :func:`quadrature.integrate_many`:
    the first pass evaluates all agents at their 17 ``quadrature.points(0, b_i)`` in one
    call, each refinement round all agents' new nodes in one call. Other rules go agent by
    agent through the jump-aware identity.
    """
    n = len(b)
    z, err = np.zeros(n), np.zeros(n)
    # B_i > 0 (competition): the others' weights, each row a sum of non-negative terms
    B = np.where(np.eye(n, dtype=bool), 0.0, b[None, :]).sum(axis=1)
    if not np.isfinite(B).all():  # beyond float64: others_weight says so
        B = np.array([_others_weight(rule, b, i) for i in range(n)])
    active = np.flatnonzero((b > 0) & ((B > 0) | (rule.reference is not None
                                                  and rule.weight > 0)))
    if not len(active):
        return z, err
    paths = BidPaths(rule, P, b)
    if rule.generic is R.log_linear:  # G split at the tokens' crossings
        z[active], err[active] = crossings.payments(paths.family, active, b, tol)
        return z, err
    if rule.generic is R.linear:  # no jumps in the own bid
        z[active], err[active] = V.myerson_many(lambda which, s: paths.tv(active[which], s),
                                                b[active], tol)
        return z, err
    for i in active:
        def G_of(s, i=i):
            return paths.tv(np.full(len(s), i), s)

        z[i], err[i] = myerson(G_of, float(b[i]), tol, jumps=True,
                               candidates=[c for c in np.delete(b, i) if 0 < c < b[i]])
    return z, err


def valuation_loss(rule) -> str:
    """The KL that ``rule`` minimizes (theory §2; :func:`mechanism.valuations.rule_kl`), or
    InvalidInput for a rule that minimizes no known KL."""
    return V.rule_kl(rule, default=None)


#: The relative rounding of the identity ``b x(b) - int_0^b x`` (its terms are of size b).
IDENTITY_ROUNDING = 1e-15


def rounding_clipped(z, err, b, upper=True) -> np.ndarray:
    """Payments by the identity, a value that lies below 0 (above ``b``, with ``upper``) by no
    more than its error bound plus the identity's rounding moved to that bound: theory §6
    puts the payment of a monotone allocation in ``[0, b]``, and where an allocation is
    flat ``b x(b) - int x`` cancels to about -1e-16 b (was: -1.1e14 at bid 1e30, which the
    audit's payment_bounds then flagged on a genuine run). A value beyond that slack stays
    as computed (a non-monotone allocation's identity can leave the interval: the audit
    says so)."""
    z, err, b = (np.asarray(a, dtype=np.float64) for a in (z, err, b))
    slack = err + IDENTITY_ROUNDING * b
    z = np.where((z < 0) & (z >= -slack), 0.0, z)
    return np.where((z > b) & (z <= b + slack), b, z) if upper else z


def valuation_payment(rule, P, b, i, loss=None, tol=QUAD_TOL) -> tuple[float, float]:
    """Myerson payment for the valuation ``t_i (-L_i(q))`` (theory §6, valuation-based): the
    identity of the ``kl_forward`` / ``kl_reverse`` value model
    (:func:`mechanism.valuations.identity_payment`); ``loss`` may also name any value model."""
    loss = loss or valuation_loss(rule)
    smooth = rule.generic in (R.linear, R.log_linear)
    if b[i] <= 0 or _others_weight(rule, b, i) <= 0:
        return 0.0, 0.0
    try:
        return V.identity_payment(loss, rule, P, b, i, tol=tol, jumps=not smooth)
    except InvalidInput as exc:
        raise InvalidInput(f"agent {i}: {exc}", agent=i, value=loss) from exc


def expected_payments(rule, dists, bids, payment: str = "second_price", *,
                      method: str = "auto", loss: str | None = None,
                      tol: float = QUAD_TOL) -> Payments:
    """Expected payment of every agent (theory §6), after validating the inputs.

    ``payment``: second_price | pay_your_bid | valuation | race.
    ``method`` (second price): auto (closed form when the rule has one) | closed_form |
    quadrature.
    """
    rule = R.as_rule(rule)
    P = as_distributions(dists)
    b = as_bids(bids, P.shape[0])
    q, reduced = R.evaluate_reduced(rule, P, b)  # InvalidInput when the rule is undefined at b
    return compute_payments(rule, P, b, payment, method=method, loss=loss, tol=tol, aggregate=q,
                            reduced=reduced)


def compute_payments(rule: R.Rule, P: np.ndarray, b: np.ndarray, payment: str = "second_price",
                     *, method: str = "auto", loss: str | None = None,
                     tol: float = QUAD_TOL, aggregate: np.ndarray | None = None,
                     pair_tv: float | None = None, reduced: tuple | None = None) -> Payments:
    """:func:`expected_payments` on inputs already validated (the auction's fast path).
    ``aggregate``: ``rule.evaluate(P, b)``, and ``pair_tv``: ``divergences.tv(P[0], P[1])``
    of two agents, when the caller has them (a closed form reuses them instead of reading
    the reports again); ``reduced``: ``rules.reduce_vocabulary(rule, P)``, when the caller
    has it (:meth:`mechanism.rules.Rule.evaluate_reduced`)."""
    z = _payments(rule, P, b, payment, method, loss, tol, aggregate, pair_tv, reduced)
    if not np.isfinite(z.values).all() or np.isnan(z.errors).any():   # e.g. overflow
        raise Float64Range(f"{payment} payments at bids {b.tolist()} are {z.values.tolist()} "
                           f"(error bounds {z.errors.tolist()}) in float64 (an integral over "
                           "the bid range overflows or is undefined); the input is declined: "
                           "bid in smaller units", value=b.tolist())
    return z


def _payments(rule, P, b, payment, method, loss, tol, aggregate, pair_tv, reduced):
    n = P.shape[0]
    if payment == "pay_your_bid":
        return Payments(b.copy(), np.zeros(n), "pay_your_bid")
    if payment == "race":
        return Payments(np.array([race_payment(rule, P, b, i) for i in range(n)]), np.zeros(n),
                        "closed_form_race")
    if payment == "valuation":
        out = [valuation_payment(rule, P, b, i, loss, tol) for i in range(n)]
        z, err = np.array([v for v, _ in out]), np.array([e for _, e in out])
        return Payments(rounding_clipped(z, err, b, upper=False), err, "valuation_quadrature")
    if payment != "second_price":
        raise InvalidInput(f"unknown payment {payment!r}; use one of {', '.join(PAYMENTS)}",
                           value=payment)
    if method not in ("auto", "closed_form", "quadrature"):
        raise InvalidInput(f"unknown method {method!r}; use auto, closed_form or quadrature",
                           value=method)
    closed = CLOSED_FORMS.get(rule.generic) if not rule.epsilon else None
    if method == "closed_form" and closed is None:
        raise InvalidInput(f"rule {rule.name!r} has no closed-form payment; use quadrature",
                           value=rule.name)
    if closed is not None and method != "quadrature":
        return Payments(closed(rule, P, b, aggregate, pair_tv), np.zeros(n),
                        f"closed_form_{rule.name}")
    # exact; cheaper when reports are sparse
    small, Ps = R.reduce_vocabulary(rule, P) if reduced is None else reduced
    z, err = second_price_quadrature(small, Ps, b, tol)
    return Payments(rounding_clipped(z, err, b), err, "quadrature")


# ---------------------------------------------------------------------------
# Payment rules as objects (registry), judged by properties.check
# ---------------------------------------------------------------------------

class PaymentRule:
    """``payment_rule(rule, dists, bids) -> z`` (n,), with declared claims.

    ``claims`` hold under the default value model (:data:`valuations.DEFAULT_VALUE_MODEL`);
    ``claims_under`` maps another value model's name to the claims that change under it
    (``payment_identity``, ``truthful`` and ``individually_rational`` depend on the model)."""

    def __init__(self, name: str, fn: Callable, claims=None, claims_under=None):
        self.name, self._fn, self.claims = name, fn, dict(claims or {})
        self.claims_under = {k: dict(v) for k, v in (claims_under or {}).items()}

    def claims_for(self, model: str) -> dict:
        """The claims under the value model named ``model``."""
        if model == V.DEFAULT_VALUE_MODEL:
            return dict(self.claims)
        base = {k: v for k, v in self.claims.items()
                if k not in V.MODEL_DEPENDENT}
        return {**base, **self.claims_under.get(model, {})}

    def __call__(self, rule, dists, bids) -> np.ndarray:
        return np.asarray(self._fn(rule, dists, bids), dtype=np.float64)

    def __repr__(self):
        return f"PaymentRule({self.name!r})"


_KL_TRUTHFUL = {"payment_identity": True, "truthful": True, "individually_rational": True}

PAYMENT_RULES: dict[str, PaymentRule] = {
    "second_price": PaymentRule(
        "second_price", lambda r, d, b: expected_payments(r, d, b).values,
        # Myerson's payment for the tv value model (docs/theory.md, value models)
        claims={"payment_nonnegative": True, "payment_at_most_bid": True,
                "zero_bid_pays_zero": True, "payment_identity": True, "truthful": True,
                "individually_rational": True},
        claims_under={"kl": {"payment_identity": False, "truthful": False}}),
    "pay_your_bid": PaymentRule(
        "pay_your_bid", lambda r, d, b: expected_payments(r, d, b, "pay_your_bid").values,
        claims={"payment_nonnegative": True, "payment_at_most_bid": True,
                "zero_bid_pays_zero": True, "truthful": False, "payment_identity": False,
                "individually_rational": False}),
    "valuation": PaymentRule(
        "valuation", lambda r, d, b: expected_payments(r, d, b, "valuation").values,
        # Myerson's payment for the kl value model, not for tv
        claims={"payment_nonnegative": True, "payment_at_most_bid": False,
                "zero_bid_pays_zero": True, "truthful": False, "payment_identity": False},
        claims_under={"kl": _KL_TRUTHFUL}),
    "race": PaymentRule(
        "race", lambda r, d, b: expected_payments(r, d, b, "race").values,
        # Myerson's payment for the exponential race's win probability s / (s + B_i)
        claims={"payment_nonnegative": True, "payment_at_most_bid": True,
                "zero_bid_pays_zero": True}),
}

#: The payments ``compute_payments`` knows (theory §6): the registry's names.
PAYMENTS = tuple(PAYMENT_RULES)


def get_payment_rule(name: str) -> PaymentRule:
    return lookup(PAYMENT_RULES, name, "payment rule")
