"""Aggregation rules ``q = A(P, b)`` (theory §2) and their registry.

Each built-in rule is written once, backend-generic (see :mod:`mechanism.arith`), and
wrapped in :class:`Rule`, which validates the inputs (theory §1) and checks the rule's
precondition ``W = lambda + sum_j b_j > 0`` (theory §2: ``W = 0`` is ``InvalidInput``).
A rule may *declare* claims (``claims={"monotone": ("box", ...)}``); nothing trusts
them: ``properties.check`` proves or refutes each one.
"""

from __future__ import annotations

import inspect
from typing import Callable, Mapping

import numpy as np

from . import arith
from .errors import InvalidInput, InvalidRule, lookup
from .bids import (bid_path, bid_profiles, has_weight,  # noqa: F401 - bid_path/profiles
                   rule_has_weight, total_weight)     # re-exported
from .orders import ALL_ORDERS
from .smoothing import smooth, smooth_reports
from .validation import as_bids, as_distribution, as_distributions, as_weight, output_defect

Generic = Callable[..., object]


# ---------------------------------------------------------------------------
# Generic definitions (one per rule; each cites theory §2)
# ---------------------------------------------------------------------------

def _parties(dists, bids, reference, weight):
    parties = list(zip(dists, bids))
    if reference is not None:
        parties.append((reference, weight))
    return parties


def linear(ops, dists, bids, reference=None, weight=0):
    """theory §2 linear [paper]: ``q = w_0 p_0 + sum_j w_j p_j``, ``w_j = b_j / W``."""
    parties = _parties(dists, bids, reference, weight)
    total = sum(w for _, w in parties)
    return sum(p * w for p, w in parties) / total


def log_linear(ops, dists, bids, reference=None, weight=0):
    """theory §2 log-linear [paper]: ``q ∝ p_0^{w_0} prod_j p_j^{w_j}``, in log space.

    Zero-weight parties are dropped first (``0 log 0`` would be NaN). A party with
    positive weight and ``p_j(t) = 0`` vetoes ``t``; with no common support the numpy
    backend raises :class:`InvalidInput`.
    """
    parties = [(p, ops.scalar(w)) for p, w in _parties(dists, bids, reference, weight)
               if ops.is_positive(w)]
    total = sum(w for _, w in parties)  # backend scalars: exact in Fraction and sympy
    return ops.softmax(sum(ops.log(p) * (w / total) for p, w in parties))


def winner_take_all(ops, dists, bids, reference=None, weight=0):
    """theory §2 winner-take-all [ours]: ``q = p_k``, k the highest positive bidder, ties to
    the lowest index; with no positive bid, the reference (it never competes otherwise)."""
    n = len(dists)
    result = reference if reference is not None else dists[0]  # precondition: some weight > 0
    for j in reversed(range(n)):
        wins = ops.and_(ops.gt(bids[j], 0),
                        *[ops.gt(bids[j], bids[k]) for k in range(j)],
                        *[ops.ge(bids[j], bids[k]) for k in range(j + 1, n)])
        result = ops.ite(wins, dists[j], result)
    return result


# ---------------------------------------------------------------------------
# The Rule wrapper: validation, fast numpy paths, reference binding
# ---------------------------------------------------------------------------

class Rule:
    """An aggregation rule ``rule(dists, bids) -> q`` (theory §2).

    ``reference``/``weight`` bind the platform's ``p_0`` and ``lambda``; ``epsilon``
    smooths every party as ``(1 - eps) p + eps / V`` first (theory §2: then the properties
    hold for the smoothed distributions, not the raw ones). ``generic`` is the
    backend-generic definition (None for numpy-only user rules).
    """

    def __init__(self, name: str, generic: Generic | None = None, *, numpy_fn=None,
                 reference=None, weight: float = 0.0, epsilon: float = 0.0,
                 claims: Mapping[str, tuple] | None = None, batch_fn=None):
        if generic is None and numpy_fn is None:
            raise InvalidRule(f"rule {name!r} needs a generic or a numpy definition", rule=name)
        self.name = name
        self.generic = generic
        self._numpy_fn = numpy_fn
        self._batch_fn = batch_fn
        self.weight = as_weight(weight)
        self.reference = None if reference is None else as_distribution(reference)
        if not (0.0 <= float(epsilon) < 1.0):
            raise InvalidInput(f"smoothing epsilon {epsilon!r} must be in [0, 1)", value=epsilon)
        self.epsilon = float(epsilon)
        self.claims = dict(claims or {})

    # -- construction helpers -------------------------------------------------
    def with_reference(self, reference, weight: float | None = None) -> "Rule":
        """The same rule with the platform reference ``p_0`` (and optionally ``lambda``)."""
        return Rule(self.name, self.generic, numpy_fn=self._numpy_fn, reference=reference,
                    weight=self.weight if weight is None else weight, epsilon=self.epsilon,
                    claims=self.claims, batch_fn=self._batch_fn)

    def __repr__(self):
        extra = f", weight={self.weight}" if self.reference is not None else ""
        extra += f", epsilon={self.epsilon}" if self.epsilon else ""
        return f"Rule({self.name!r}{extra})"

    # -- evaluation -------------------------------------------------------------
    def __call__(self, dists, bids) -> np.ndarray:
        """Validate ``P`` (n, V) and ``b`` (n,), then return ``q`` (V,)."""
        P = as_distributions(dists)
        b = as_bids(bids, P.shape[0])
        if self.reference is not None and self.reference.size != P.shape[1]:
            raise InvalidInput(f"the reference distribution has {self.reference.size} tokens but "
                               f"the agents report {P.shape[1]}; all reports must share one "
                               "vocabulary", value=self.reference.size)
        return self.evaluate(P, b)

    def total_weight(self, b) -> float:
        """``W`` of one bid profile (:func:`mechanism.bids.total_weight`)."""
        return total_weight(b, self.reference, self.weight)

    def evaluate(self, P: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Evaluate on already-validated float64 inputs (internal fast path)."""
        if not rule_has_weight(self, b):
            raise InvalidInput(f"rule {self.name!r} is undefined when every bid is 0 and there is "
                               "no reference with positive weight (theory §2: W = 0); give some "
                               "agent a positive bid or bind a reference", value=b.tolist())
        return self.evaluate_weighted(P, b)

    def evaluate_weighted(self, P: np.ndarray, b: np.ndarray) -> np.ndarray:
        """:meth:`evaluate` where ``W > 0`` at ``b`` is already established by the same
        weight test (theory §2; a caller that checked a whole bid grid at once)."""
        if self._numpy_fn is _log_linear_numpy:  # logs and exps only on the support
            cols = support_columns(self, P)
            if cols is not None:
                return self._on_support(P, b, cols)[0]
        return self._on_every_token(P, b)

    def _on_every_token(self, P: np.ndarray, b: np.ndarray) -> np.ndarray:
        """:meth:`evaluate_weighted` on the whole vocabulary (no support reduction)."""
        P, ref = self.smoothed(P)
        if self._numpy_fn is not None:
            return self._numpy_fn(P, b, ref, self.weight)
        return np.asarray(self.generic(arith.NUMPY, list(P), list(b), ref, self.weight),
                          dtype=np.float64)

    def _on_support(self, P, b, cols):
        """``(q, (rule', P'))``: the aggregate computed on :func:`reduce_vocabulary`'s
        problem over the supported columns ``cols``, and that problem. The callers checked
        the weight; the reduced problem is smoothed and every column of it supported, so
        its ``evaluate`` would go straight to the numpy definition: called directly."""
        small, Ps = reduce_vocabulary(self, P, cols)
        q = small._numpy_fn(Ps, b, small.reference, small.weight)
        return expand_columns(q, cols, P.shape[1]), (small, Ps)

    def smoothed(self, P):
        """theory §2: smoothing by epsilon, only when asked for: ``(1 - eps) p + eps / V``."""
        return smooth_reports(P, self.reference, self.epsilon)

    def generic_numpy(self, P: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Evaluate the generic definition on the numpy backend (tests compare the fast
        paths with it)."""
        P, ref = self.smoothed(P)
        return np.asarray(self.generic(arith.NUMPY, list(P), list(b), ref, self.weight),
                          dtype=np.float64)

    def batch(self, P: np.ndarray, bid_matrix: np.ndarray) -> np.ndarray:
        """``q`` for each row of ``bid_matrix`` (K, n) -> (K, V); validated inputs."""
        if self._batch_fn is not None:
            if not np.all(has_weight(bid_matrix, self.reference, self.weight)):
                raise InvalidInput(f"rule {self.name!r} is undefined at a bid profile with W = 0",
                                   value=None)
            P, ref = self.smoothed(P)
            return self._batch_fn(P, bid_matrix, ref, self.weight)
        return np.stack([self.evaluate(P, row) for row in bid_matrix])

    def exact(self, dists, bids):
        """Evaluate the generic definition in exact rationals (``Fraction``).

        Pass Fractions, integers or decimal strings ("0.3") for exact decimals: a float is
        converted to its exact binary value, and so is a bound reference (stored as float64).
        """
        if self.generic is None:
            raise InvalidRule(f"rule {self.name!r} has no generic definition", rule=self.name)
        ops = arith.FRACTION
        ref = None if self.reference is None else ops.vector(self.reference)
        return self.generic(ops, [ops.vector(p) for p in dists], [ops.scalar(x) for x in bids],
                            ref, ops.scalar(self.weight))


def _with_reference(P, B, ref, lam):
    """The parties' rows and weights, each weight row scaled by its maximum: the normalized
    weights are scale-free, and ``lambda + sum of bids`` may overflow float64 unscaled."""
    if ref is not None and lam > 0:
        P, B = np.vstack([P, ref]), np.hstack([B, np.full((B.shape[0], 1), lam)])
    return P, B / np.max(B, axis=1, keepdims=True)


def _linear_batch(P, B, ref, lam):
    """Numpy fast path of :func:`linear` for K bid profiles at once (tested equal)."""
    P, B = _with_reference(P, B, ref, lam)
    return (B / B.sum(axis=1, keepdims=True)) @ P


def _linear_numpy(P, b, ref, lam):
    """:func:`_linear_batch` of one profile, bit for bit (the same scaling, sum and product;
    without a reference in 1-D steps that cost less than their 2-D forms)."""
    if ref is not None and lam > 0:
        return _linear_batch(P, b[None, :], ref, lam)[0]
    B = b / b.max()
    return ((B / B.sum())[None, :] @ P)[0]


def _log_linear_batch(P, B, ref, lam):
    """Numpy fast path of :func:`log_linear` for K bid profiles (tested equal): the log
    of each report is taken once; zero-weight parties are dropped per profile."""
    P, B = _with_reference(P, B, ref, lam)
    W = B / B.sum(axis=1, keepdims=True)
    support = P > 0
    if support.all():  # no veto (smoothed reports, a reduced vocabulary): no masks
        return arith.NUMPY.softmax(np.einsum("kn,nv->kv", W, np.log(P)))
    logP = np.log(np.where(support, P, 1.0))
    S = np.einsum("kn,nv->kv", W, logP)
    vetoed = np.einsum("kn,nv->kv", (W > 0).astype(np.float64),
                       (~support).astype(np.float64)) > 0
    S[vetoed] = -np.inf
    return arith.NUMPY.softmax(S)


def _log_linear_numpy(P, b, ref, lam):
    return _log_linear_batch(P, b[None, :], ref, lam)[0]


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------

RULES: dict[str, Callable[..., Rule]] = {}


def register_rule(name: str, factory: Callable[..., Rule]) -> None:
    """Register ``factory(reference=None, weight=0.0, **options) -> Rule`` under ``name``."""
    RULES[name] = factory


def get_rule(name: str, reference=None, weight: float = 0.0, **options) -> Rule:
    """A registered rule, optionally with a reference distribution and weight (theory §2)."""
    factory = lookup(RULES, name, "rule")
    return factory(reference=reference, weight=weight, **options)


register_rule("linear", lambda reference=None, weight=0.0: Rule(
    "linear", linear, numpy_fn=_linear_numpy, batch_fn=_linear_batch, reference=reference,
    weight=weight, claims={"monotone": ("box", "segment", "kl_forward")}))
register_rule("log_linear", lambda reference=None, weight=0.0, epsilon=0.0: Rule(
    "log_linear", log_linear, numpy_fn=_log_linear_numpy, batch_fn=_log_linear_batch,
    reference=reference, weight=weight, epsilon=epsilon,
    claims={"monotone": ("kl_reverse", "kl_forward")}))
register_rule("winner_take_all", lambda reference=None, weight=0.0: Rule(
    "winner_take_all", winner_take_all, reference=reference, weight=weight,
    claims={"monotone": ALL_ORDERS}))

#: the names registered here (``repr`` of each, as :mod:`properties.tamper` keys them): a
#: rule registered later under one of them replaces ours
BUILT_IN_RULES = frozenset(repr(name) for name in RULES)


#: Rules whose token t's aggregate depends only on column t (then normalization): for
#: them, tokens whose columns agree across all parties can be merged exactly.
COLUMNWISE = (linear, log_linear, winner_take_all)


def support_columns(rule: Rule, P: np.ndarray) -> np.ndarray | None:
    """The tokens some party supports (the reference included), as sorted indices, or None
    when every token is supported. One comparison and one reduction over the rows (entries
    are >= 0: a column is supported iff some entry is positive; a boolean reduction costs
    less than the maximum of the floats)."""
    supported = (P > 0).any(axis=0)
    if rule.reference is not None:
        supported |= rule.reference > 0
    return None if supported.all() else np.flatnonzero(supported)


def reduce_vocabulary(rule: Rule, P: np.ndarray, cols: np.ndarray | None = None):
    """An equivalent smaller problem: ``(rule', P')`` over the tokens some party supports,
    plus one bucket for the rest (only needed with smoothing).

    Exact for the built-in rules: tokens no party supports have identical (smoothed)
    columns, and merging identical columns by summing commutes with linear pooling,
    geometric pooling (weights sum to 1) and winner-take-all; TV and KL are additive
    over the merged tokens and the box order holds for the bucket iff for each member.
    Other rules are returned unchanged. ``cols``: :func:`support_columns`, if known.
    Only the supported columns are smoothed: each unsupported one is ``eps / V`` in
    every row, so the bucket is their count times that.
    """
    if rule.generic not in COLUMNWISE:
        return rule, P
    cols = support_columns(rule, P) if cols is None else cols
    if cols is None:
        return rule, P
    rows = P[:, cols] if rule.reference is None else np.vstack([P[:, cols], rule.reference[cols]])
    V = P.shape[1]
    merged = smooth(rows, rule.epsilon, V)
    if rule.epsilon:
        bucket = np.full((len(rows), 1), (V - len(cols)) * (rule.epsilon / V))
        merged = np.hstack((merged, bucket))
    merged /= merged.sum(axis=1, keepdims=True)
    ref = merged[-1] if rule.reference is not None else None
    small = Rule(rule.name, rule.generic, numpy_fn=rule._numpy_fn, batch_fn=rule._batch_fn,
                 reference=ref, weight=rule.weight, claims=rule.claims)  # smoothing done
    return small, merged[: P.shape[0]]


def evaluate_reduced(rule: Rule, P: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple | None]:
    """``(rule.evaluate(P, b), reduction)``: :func:`reduce_vocabulary`'s ``(rule', P')``
    where the built-in log-linear evaluation ran on it, for a payment of the same step
    to reuse; else None (any rule whose ``evaluate`` is replaced or overridden runs its own
    ``evaluate``, and nothing is reused)."""
    own = vars(rule)
    plain = type(rule).evaluate is Rule.evaluate and "evaluate" not in own and \
        type(rule).evaluate_weighted is Rule.evaluate_weighted and "evaluate_weighted" not in own
    if plain and rule._numpy_fn is _log_linear_numpy and rule_has_weight(rule, b):
        cols = support_columns(rule, P)   # evaluate's own two paths, the support scanned once
        if cols is not None:
            return rule._on_support(P, b, cols)
        return rule._on_every_token(P, b), (rule, P)
    return rule.evaluate(P, b), None


def expand_columns(q_small: np.ndarray, cols: np.ndarray, V: int) -> np.ndarray:
    """``q`` over all V tokens from its value on :func:`reduce_vocabulary`'s problem:
    ``q_small`` over ``cols`` (plus the bucket, shared equally by the other tokens)."""
    rest = V - len(cols)
    q = np.full(V, q_small[len(cols)] / rest if len(q_small) > len(cols) else 0.0)
    q[cols] = q_small[:len(cols)]
    return q


def as_rule(rule, name: str | None = None) -> Rule:
    """Wrap a plain callable ``f(dists, bids) -> q`` (a user's rule) as a :class:`Rule`.

    The wrapped call checks the output: a vector of length V, finite, non-negative,
    summing to 1 within ``SUM_TOL``; anything else raises :class:`InvalidRule`.
    """
    if isinstance(rule, Rule):
        return rule
    if not callable(rule):
        raise InvalidRule(f"{rule!r} is not callable; a rule is f(dists, bids) -> q", value=rule)
    label = name or getattr(rule, "__name__", type(rule).__name__)
    if first_parameter(rule) == "ops":   # a backend-generic definition (theory §2)
        return Rule(label, rule, claims=getattr(rule, "claims", None))

    def numpy_fn(P, b, ref, lam, _f=rule, _label=label):
        try:
            out = _f(P.copy(), b.copy())
        except Exception as exc:  # user code: report, never crash deep inside
            raise InvalidRule(f"rule {_label!r} raised {type(exc).__name__}: {exc}",
                              rule=_label) from exc
        return check_output(out, P.shape[1], _label)

    return Rule(label, None, numpy_fn=numpy_fn, claims=getattr(rule, "claims", None))


def first_parameter(fn) -> str | None:
    """The name of ``fn``'s first parameter, or None (no signature, or none): ``"ops"``
    marks a backend-generic definition (here and in ``properties.protocol``)."""
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None
    return params[0] if params else None


def check_output(out, V: int, label: str) -> np.ndarray:
    """Check that a rule returned a distribution over V tokens (else InvalidRule naming
    the defect; :func:`mechanism.validation.output_defect` is the check)."""
    q, defect = output_defect(out, V, f"rule {label!r}")
    if defect is not None:
        raise InvalidRule(defect[1], rule=label, value=defect[0])
    return q
