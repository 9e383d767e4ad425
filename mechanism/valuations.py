"""Value models: what an agent's value for an outcome is, and Myerson's identity for it
(docs/theory.md, "Value models and their Myerson identities").

An agent with value ``v`` (its true bid) and ideal distribution ``p_i`` gets utility
``v a_i(q) - z`` for outcome ``q`` and payment ``z``. A :class:`ValueModel` gives the
per-unit value ``a_i(q)`` (vectorized over rows of outcomes) and the *allocation curve*
``x_i(s) = a_i(Q(s)) - a_i(Q(0))`` along agent i's bid path ``Q(s)`` (others fixed).
Myerson's identity is then ``Z(b) = b x(b) - int_0^b x(s) ds`` with ``Z(0) = 0``, the
unique payment that makes truthful bidding optimal when ``x`` is non-decreasing.

Built-in models (:data:`VALUE_MODELS`, :func:`get_value_model`):

* ``tv`` (default, the paper's): ``a(q) = 1 - TV(q, p_i)``. Its allocation curve is
  ``G(s) = TV(Q(0), Q(s))``, the curve of the second-price payment; the two curves agree
  whenever ``Q(s)`` lies between ``Q(0)`` and ``p_i`` token by token (a box-monotone path).
* ``kl`` / ``kl_forward`` / ``kl_reverse``: ``a(q) = -KL(p_i || q)`` or ``-KL(q || p_i)``;
  ``kl`` takes the KL the rule minimizes (forward for linear, reverse for log-linear,
  forward otherwise).
* ``win`` (single-winner shapes): every report is the one-hot indicator of the agent's
  item ``t_i``; the outcome is the distribution over items, so ``a(q) = q(t_i)`` is the
  probability that agent i wins.
* ``inner``: ``a(q) = <q, v_i>`` for a per-token value vector ``v_i`` (default the
  agent's report ``p_i``: the probability that a token the agent likes is shown).
* a user's callable ``a(p_i, q) -> float`` through :func:`as_value_model`.

Individual rationality is measured against staying out: ``v x(v) - Z(v) >= 0``.
"""

from __future__ import annotations

import numbers
from typing import Callable

import numpy as np

from . import quadrature as quad
from .divergences import kl_rows, tv_rows
from .errors import InvalidInput, InvalidValueModel

#: The value model used when none is named, by ``check`` and ``audit`` alike.
DEFAULT_VALUE_MODEL = "tv"
#: The properties whose truth depends on the value model: Myerson's identity, truthfulness
#: and individual rationality (theory §6); every other property of a payment is model-free.
MODEL_DEPENDENT = ("payment_identity", "truthful", "individually_rational")


class ValueModel:
    """A named per-unit value ``a_i(q)``; see the module docstring."""

    #: Reports this model needs: "any" or "one_hot" (distinct one-hot reports).
    reports = "any"

    def __init__(self, name: str, fn: Callable | None = None, doc: str = "",
                 source: str | None = None):
        #: ``source``: where a user's model is loaded from (``file.py:NAME``), so that a
        #: reproduction in a fresh process can load it again; None for the built-in ones
        self.name, self._fn, self.doc, self.source = name, fn, doc, source

    def __repr__(self):
        return f"ValueModel({self.name!r})"

    def check_reports(self, P: np.ndarray) -> None:
        """Raise :class:`InvalidInput` when the reports are outside the model's domain."""

    def for_rule(self, rule) -> "ValueModel":
        """The model specialized to a rule (``kl`` picks the rule's KL); default: self."""
        return self

    def values(self, p: np.ndarray, Q: np.ndarray, agent: int | None = None) -> np.ndarray:
        """``a(q)`` for every row ``q`` of ``Q`` (shape (k, V) -> (k,)). A user's value must be
        one real number, ``+-inf`` allowed (an infinite value: no utility there), NaN not:
        anything else raises :class:`InvalidValueModel` naming the model."""
        Q = np.atleast_2d(np.asarray(Q, dtype=np.float64))
        return np.array([self._real(self._fn(p, q)) for q in Q])

    def _real(self, a) -> float:
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, numbers.Real) or a != a:
            shown = repr(a) if len(repr(a)) <= 80 else repr(a)[:77] + "..."
            raise InvalidValueModel(
                f"value model {self.name!r} returned {shown} ({type(a).__name__}) for an "
                "outcome; a value model a(p_i, q) returns one real number (not NaN): fix the "
                "model, or name a built-in one (tv, kl, kl_forward, kl_reverse, win, inner)")
        return float(a)

    def allocation(self, p: np.ndarray, q0: np.ndarray, Q: np.ndarray,
                   agent: int | None = None) -> np.ndarray:
        """``x(s) = a(Q(s)) - a(Q(0))`` for the rows ``Q`` of the bid path."""
        return self.values(p, Q, agent) - self.values(p, q0[None, :], agent)[0]


class TVValue(ValueModel):
    def __init__(self):
        super().__init__("tv", doc="value x (1 - TV(q, p_i)); the second-price payment's "
                                   "allocation TV(Q(0), Q(s))")

    def values(self, p, Q, agent=None):
        return 1.0 - tv_rows(np.atleast_2d(np.asarray(Q, dtype=np.float64)), p)

    def allocation(self, p, q0, Q, agent=None):
        return tv_rows(np.atleast_2d(np.asarray(Q, dtype=np.float64)), q0)


class KLValue(ValueModel):
    def __init__(self, direction: str | None):
        name = "kl" if direction is None else direction
        super().__init__(name, doc="value x (-KL); kl picks the KL the rule minimizes")
        self.direction = direction

    def for_rule(self, rule) -> "ValueModel":
        if self.direction is not None:
            return self
        return KLValue(rule_kl(rule))

    def values(self, p, Q, agent=None):
        Q = np.atleast_2d(np.asarray(Q, dtype=np.float64))
        if self.direction == "kl_reverse":
            return -kl_rows(Q, p)
        return -kl_rows(p, Q)

    def allocation(self, p, q0, Q, agent=None):
        a0 = self.values(p, q0[None, :])[0]
        if not np.isfinite(a0):
            raise InvalidInput(f"{self.name} of the outcome without the agent, L_i(Q(0)), is "
                               "infinite, so the identity is inf - inf; use the tv model or "
                               "smooth the distributions", value=float(a0))
        return self.values(p, Q) - a0


class WinValue(ValueModel):
    reports = "one_hot"

    def __init__(self):
        super().__init__("win", doc="value x probability that the agent's item wins "
                                    "(one-hot reports)")

    def check_reports(self, P):
        P = np.asarray(P)
        one_hot = np.isclose(P.max(axis=1), 1.0, atol=1e-12)
        items = P.argmax(axis=1)
        if not one_hot.all() or len(set(items.tolist())) < len(items):
            raise InvalidInput("the win value model needs distinct one-hot reports (each "
                               "agent's item); restrict the reports (reports='one_hot') or "
                               "pick another value model", value=P.tolist())

    def values(self, p, Q, agent=None):
        return np.atleast_2d(np.asarray(Q, dtype=np.float64))[:, int(np.argmax(p))]


class InnerValue(ValueModel):
    def __init__(self, vectors=None):
        super().__init__("inner", doc="value x <q, v_i> (v_i the agent's report unless given)")
        self.vectors = None if vectors is None else np.asarray(vectors, dtype=np.float64)

    def values(self, p, Q, agent=None):
        v = p if self.vectors is None else self.vectors[agent]
        return np.atleast_2d(np.asarray(Q, dtype=np.float64)) @ v


def rule_kl(rule, default: str | None = "kl_forward") -> str:
    """The KL a rule minimizes (theory §2): forward for linear, reverse for log-linear. Any
    other rule minimizes no known KL: ``default`` (the ``kl`` value model's documented choice,
    forward KL), or :class:`InvalidInput` when ``default`` is None."""
    from . import rules as R
    generic = getattr(rule, "generic", None)
    if generic is R.linear:
        return "kl_forward"
    if generic is R.log_linear:
        return "kl_reverse"
    if default is None:
        raise InvalidInput(f"rule {getattr(rule, 'name', rule)!r} minimizes no known KL; pass "
                           "loss='kl_forward' or 'kl_reverse' explicitly", value=rule)
    return default


VALUE_MODELS: dict[str, Callable[[], ValueModel]] = {
    "tv": TVValue, "kl": lambda: KLValue(None), "kl_forward": lambda: KLValue("kl_forward"),
    "kl_reverse": lambda: KLValue("kl_reverse"), "win": WinValue, "inner": InnerValue,
}


def get_value_model(name) -> ValueModel:
    """A model by name (``tv``, ``kl``, ``kl_forward``, ``kl_reverse``, ``win``, ``inner``),
    a :class:`ValueModel`, or a callable ``a(p_i, q)`` (see :func:`as_value_model`)."""
    if name is None:
        name = DEFAULT_VALUE_MODEL
    if isinstance(name, ValueModel):
        return name
    if isinstance(name, str):
        if name not in VALUE_MODELS:
            raise InvalidInput(f"unknown value model {name!r}; use one of "
                               f"{', '.join(VALUE_MODELS)} or a callable a(p_i, q)", value=name)
        return VALUE_MODELS[name]()
    return as_value_model(name)


def as_value_model(fn, name: str | None = None, source: str | None = None) -> ValueModel:
    """A user's per-unit value ``a(p_i, q) -> float`` as a :class:`ValueModel` (``source``:
    the ``file.py:NAME`` it was loaded from, if any)."""
    if not callable(fn):
        raise InvalidInput(f"a value model is a name or a callable a(p_i, q), got {fn!r}",
                           value=fn)
    return ValueModel(name or getattr(fn, "__name__", "custom"), fn, doc="user-defined",
                      source=source)


def utility(model: ValueModel, p, q, q0, value: float, payment: float, agent=None) -> float:
    """``value (a(q) - a(Q(0))) - payment``: the gain over staying out (bid 0, pay 0)."""
    a = model.values(np.asarray(p, dtype=np.float64),
                     np.stack([np.asarray(q, dtype=np.float64), np.asarray(q0, dtype=np.float64)]),
                     agent)
    return float(value * (a[0] - a[1]) - payment)


def myerson(x: Callable[[np.ndarray], np.ndarray], bid: float, tol: float = 1e-10, *,
            first: np.ndarray | None = None, jumps: bool = True,
            candidates=()) -> tuple[float, float]:
    """Myerson's identity ``bid x(bid) - int_0^bid x(s) ds`` and its error bound: the one
    implementation (the property suite's oracle in ``properties/oracle.py`` differs in
    method on purpose). ``x`` takes an array of bids. ``jumps``: split the integral at the
    allocation's own jumps, located by bisection (:func:`quadrature.find_jumps`), not only
    at the ``candidates`` (e.g. the other bids); off for allocations known to be smooth.
    ``first``: ``x`` at ``quadrature.points(0, bid)`` from a batched first pass."""
    if bid <= 0:
        return 0.0, 0.0
    if jumps:
        top = _at(x, bid)
        end = flat_tail(x, bid, top)
        area, err, _ = quad.integrate_with_jumps(x, 0.0, end[0], tol=tol, candidates=[
            c for c in candidates if c < end[0]])
        if end[0] < bid:  # the kink's tiny interval by its trapezoid, the flat tail exactly
            area += 0.5 * (end[1] - end[0]) * (end[2] + top) + top * (bid - end[1])
            err += (end[1] - end[0]) * abs(top - end[2])
        return float(bid * top - area), err
    first = None if first is None else np.asarray(first, dtype=np.float64)[None, :]
    z, err = myerson_many(lambda _which, s: x(s), np.array([float(bid)]), tol, first=first)
    return float(z[0]), float(err[0])


def flat_tail(x, bid: float, top: float) -> tuple[float, float, float]:
    """``(lo, hi, x(lo))``: ``x`` is exactly ``top = x(bid)`` on ``[hi, bid]`` after a kink
    in ``[lo, hi]`` (``hi - lo <= quadrature.JUMP_WIDTH bid``), e.g. a rule whose weight is
    capped: the outcome freezes. Gauss-Kronrod's estimate under-reports next to such a
    kink (a cap at 1 gave ``Z(1.001)`` 1.1e-7 below ``Z(1)`` with an estimate of 5e-9), so
    the integral stops there. ``(bid, bid, top)`` (nothing cut) unless ``x`` equals ``top``
    already at :data:`FLAT_PROBE` below ``bid``, is off it somewhere on ``[0, bid]``, and
    meets it continuously (a jump into the tail is :func:`quadrature.find_jumps`')."""
    none = (bid, bid, top)
    probe = bid * (1.0 - FLAT_PROBE)
    if _at(x, probe) != top:
        return none   # the usual case: one evaluation, nothing changes
    xs = quad.points(0.0, bid)[:16]
    off = np.flatnonzero(np.asarray(x(xs), dtype=np.float64) != top)
    if not len(off):
        return none
    lo, hi = float(xs[off[-1]]), float(xs[off[-1] + 1]) if off[-1] < 15 else probe
    ylo = _at(x, lo)
    while hi - lo > quad.JUMP_WIDTH * bid:   # 16 sections per call (a caged rule's trips)
        ms = lo + (hi - lo) * np.arange(1, 16) / 16.0
        ys = np.asarray(x(ms), dtype=np.float64)
        k = int(np.argmax(ys == top)) if (ys == top).any() else 15   # first on top
        lo, ylo = (float(ms[k - 1]), float(ys[k - 1])) if k > 0 else (lo, ylo)
        hi = float(ms[k]) if k < 15 else hi
    if abs(ylo - top) > 1e-9 * max(1.0, abs(top)) or \
            (np.asarray(x(quad.nodes(hi, bid)), dtype=np.float64) != top).any():
        return none   # a jump, or not flat after all
    return lo, hi, ylo


def _at(x, s: float) -> float:
    """``x(s)`` at one point, as a float."""
    return float(np.asarray(x(np.array([s])), dtype=np.float64)[0])


#: :func:`flat_tail` looks for a flat tail only where ``x(bid (1 - FLAT_PROBE)) = x(bid)``.
FLAT_PROBE = 1e-6


def myerson_many(x: Callable[[np.ndarray, np.ndarray], np.ndarray], bids: np.ndarray,
                 tol: float = 1e-10, *, first: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`myerson` of m smooth allocations at once (no jump search):
    ``x(which, s)`` is allocation ``which[k]`` at bid ``s[k]``; ``bids`` (m,) all > 0.
    The integrals run side by side in :func:`quadrature.integrate_many`; ``first``:
    (m, 17) values at ``quadrature.points_many(0, bids)``."""
    bids = np.asarray(bids, dtype=np.float64)
    zeros = np.zeros(len(bids))
    if first is None:
        pts = quad.points_many(zeros, bids)
        first = np.asarray(x(np.repeat(np.arange(len(bids)), 17), pts.ravel()),
                           dtype=np.float64).reshape(len(bids), 17)
    area, err = quad.integrate_many(x, zeros, bids, tol=tol, first=first)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: the caller declines it
        return bids * first[:, -1] - area, err


def allocation_curve(model: ValueModel, rule, P: np.ndarray, b: np.ndarray, i: int):
    """``x(s)`` of agent i under ``model`` along its bid path of ``rule`` (vectorized over s).
    The agent's ideal is its smoothed report when the rule smooths (theory §2)."""
    from . import rules as R
    model = model.for_rule(rule)
    if type(model) in (TVValue, KLValue) and isinstance(rule, R.Rule):
        # exact: TV and KL add over merged identical columns (rules.reduce_vocabulary)
        rule, P = R.reduce_vocabulary(rule, P)
    p = rule.smoothed(P)[0][i] if hasattr(rule, "smoothed") else np.asarray(P)[i]
    q0 = R.bid_path(rule, P, b, i, [0.0])[0]
    return lambda s: model.allocation(p, q0, R.bid_path(rule, P, b, i, np.atleast_1d(s)), i)


def identity_payment(model, rule, P: np.ndarray, b: np.ndarray, i: int, *,
                     tol: float = 1e-10, jumps: bool = True, cuts=()) -> tuple[float, float]:
    """``(Z_i, error)`` that Myerson's identity gives agent i under ``model`` (a name or a
    :class:`ValueModel`). 0 for a zero bid or with no competition (``Q(0)`` undefined)."""
    from . import rules as R
    model = get_value_model(model)
    bi = float(b[i])
    if bi <= 0:
        return 0.0, 0.0
    try:
        R.bid_path(rule, P, b, i, [0.0])
    except InvalidInput:
        return 0.0, 0.0
    model.check_reports(rule.smoothed(P)[0] if hasattr(rule, "smoothed") else P)
    x = allocation_curve(model, rule, P, b, i)
    candidates = [c for c in list(np.delete(b, i)) + list(cuts) if 0 < c < bi]
    return myerson(x, bi, tol, jumps=jumps, candidates=candidates)


__all__ = ["myerson", "myerson_many", "allocation_curve", "identity_payment", "ValueModel", "VALUE_MODELS", "DEFAULT_VALUE_MODEL", "get_value_model",
           "as_value_model", "utility", "rule_kl"]
