"""The one wrapper of a user's object: what ``check`` and the mechanism audit judge.

:class:`Target` holds a rule, a payment rule or a mechanism, read once at load into typed
fields (:mod:`properties.protocol`, which says how each kind is told apart), and calls it
only through the one policy for calling user code (:mod:`properties.sandbox`; code named by
a spec runs in a worker process, :mod:`properties.cage`, whose handle is the ``cage`` field).

Two contracts for the same calls, one per consumer:

* ``check``'s search (:meth:`Target.evaluate`, :meth:`Target.batch`, :meth:`Target.pay`):
  a failure is :class:`properties.sandbox.RuleFailure`, a declined input
  :class:`properties.sandbox.Undefined`; answers are remembered to notice a target that
  answers the same input twice differently;
* the mechanism audit (:attr:`Target.rule`, :meth:`Target.payments`, :meth:`Target.sample`):
  the :class:`mechanism.Rule` contract (InvalidRule / InvalidInput), for the per-instance
  checks of :mod:`properties.checks`.

A payment rule is judged under an aggregation rule, ``rule=`` (default: linear).
Strings: ``"path/to/file.py:NAME"`` (loaded by path), ``"package.module:NAME"``
(imported; NAME may be dotted and may index dicts, e.g.
``mechanism.payments:PAYMENT_RULES.pay_your_bid``) or a bare registry name
(``linear``, ``second_price``, ...).
"""

from __future__ import annotations

import numpy as np

from mechanism.auction import TokenAuction
from mechanism.bids import grid_has_weight, has_weight, total_weight
from mechanism.smoothing import smooth_reports
from mechanism import rules as R
from mechanism.errors import InvalidInput, InvalidRule

from properties.loading import load_mechanism, load_object
from properties.protocol import UserObject, classify, read_mechanism, read_target
from properties.checker.determinism import source_numbers
from properties.checker.repro_imports import import_lines
from properties.sandbox import (RuleFailure, Undefined, call_as_rule, check_distribution,
                                check_distributions, check_payments, guarded_call,
                                guarded_calls, judge_rule, plainly_distribution)
from properties.third_party import ThirdPartyRule
from properties.memo import Memo

__all__ = ["Target", "ThirdPartyRule", "UserObject", "classify", "load_object",
           "DEFAULT_TIMEOUT"]

#: Default per-call timeout for user code (seconds).
DEFAULT_TIMEOUT = 5.0

#: Literals of the target's source used as bids: thresholds at ordinary magnitudes (tiny
#: tolerances such as 1e-9 are not bids; magnitudes are drawn anyway, strategies.MAGNITUDES).
LITERAL_RANGE = (1e-4, 1e6)


def _read_judge(rule) -> UserObject:
    """The aggregation rule a payment rule is judged under (default linear)."""
    judge = R.get_rule("linear") if rule is None else rule
    if isinstance(judge, str):
        judge = load_object(judge) if ":" in judge else R.get_rule(judge)
    user = read_target(judge)
    if user.kind != "rule":
        raise InvalidRule(f"rule= must be an aggregation rule, got {judge!r}", value=judge)
    return user


def _weighed(rule, bm):
    """``(fn to call per row of bm, W > 0 of each row)`` (theory §2). A stock Rule (stock
    ``evaluate`` and ``total_weight``, bids >= 0) is weighed once for the grid by the test
    its ``evaluate`` repeats per row, and called through ``evaluate_weighted``; any other
    rule's own ``evaluate`` is called (an override is judged by what it returns)."""
    if not isinstance(rule, R.Rule):
        return rule, has_weight(bm).reshape(len(bm)).tolist()
    own = vars(rule)   # a method replaced on the instance is not the stock one either
    stock = type(rule).total_weight is R.Rule.total_weight and "total_weight" not in own
    fast = stock and type(rule).evaluate is R.Rule.evaluate and "evaluate" not in own \
        and bool((bm >= 0).all())
    return (rule.evaluate_weighted if fast else rule.evaluate), grid_has_weight(rule, bm, stock)


class Target:
    """A guarded view of the thing under test (see the module docstring).

    ``kind``: ``"rule"`` / ``"payment"`` (``check --kind``; guessed when None) or
    ``"mechanism"`` (the audit); ``name`` and ``context`` apply to a mechanism."""

    def __init__(self, target, *, rule=None, timeout: float | None = DEFAULT_TIMEOUT,
                 kind: str | None = None, name: str | None = None, context=None):
        spec = target if isinstance(target, str) else None
        if kind == "mechanism" or (isinstance(target, UserObject) and target.kind == "mechanism"):
            self.user = read_mechanism(load_mechanism(target) if spec else target, name)
        else:
            self.user = read_target(load_object(target) if spec else target, kind, spec)
        u = self.user
        self.kind, self.obj, self.spec = u.kind, u.obj, spec or u.spec
        self.name = u.name if self.kind == "mechanism" else self.spec or u.name
        self.claims = dict(u.claims)
        self.timeout = timeout
        self.rule_spec = rule if isinstance(rule, str) else None
        self.memo = Memo()
        self.valid_outputs = 0   #: calls that returned a valid distribution (evaluate)
        self.hung = False        #: a call ran past the timeout (the search stops calling)
        self._literals: tuple | None = None
        self.last_call = (np.zeros((1, 1)), np.zeros(1))
        self.judge = self.judge_obj = self.judge_user = None
        if self.kind == "payment":
            self.judge_user = _read_judge(rule)
            self.rule_spec = self.rule_spec or self.judge_user.spec  # a caged judge: its spec
            j = self.judge_obj = self.judge_user.obj
            self.judge = j if isinstance(j, R.Rule) else \
                judge_rule(self.judge_user.call, self.judge_user.name, self.judge_user.claims)
        if self.kind == "mechanism":
            self._mechanism(context)
        base = self.rule_obj
        self.reference = base.reference if isinstance(base, R.Rule) else None
        self.weight = float(base.weight) if self.reference is not None else 0.0

    # -- the determinism memo (properties.memo) --------------------------------------
    @property
    def nondeterministic(self) -> dict | None:
        """Evidence of two answers for one input (None while none was seen)."""
        return self.memo.evidence

    @property
    def repeats(self) -> int:
        """Evaluations compared with an earlier answer for the same input."""
        return self.memo.repeats

    def remember(self, label, inputs, out, rule=None) -> None:
        self.memo.remember(label, inputs, out, rule)

    @property
    def judge_name(self) -> str | None:
        """The aggregation rule a payment rule is judged under, as the report names it."""
        return None if self.judge_user is None else self.rule_spec or self.judge_user.name

    @property
    def worker_ended(self) -> bool:
        """The cage worker ended for good (the code exited or hung): judge nothing more."""
        return self.user.cage is not None and self.user.cage.fatal is not None

    @property
    def literals(self) -> tuple:
        """:attr:`path_literals` in :data:`LITERAL_RANGE`: drawn as bids."""
        lo, hi = LITERAL_RANGE
        return tuple(v for v in self.path_literals if lo <= v <= hi)[:64]

    @property
    def path_literals(self) -> tuple:
        """Every positive number up to 1e300 in the source of the modules defining the
        target (and its judge rule): put, with its float neighbours, on every bid sweep, so a
        branch at ``1e7`` or ``1e300``, where no draw reaches, is crossed on every path."""
        if self._literals is None:
            vals = (self.user.literals if self.user.literals is not None  # read by the worker
                    else source_numbers(self.obj, self.judge_obj))
            self._literals = tuple(dict.fromkeys(
                float(v) for v in vals if np.isfinite(float(v)) and 0 < float(v) <= 1e300))[:256]
        return self._literals

    # -- aggregation --------------------------------------------------------------
    @property
    def fixed_vocab(self) -> int | None:
        """V is fixed when a reference distribution is bound."""
        return None if self.reference is None else int(self.reference.size)

    @property
    def rule_obj(self):
        if self.kind == "mechanism":
            return self.rule
        return self.user.call if self.kind == "rule" else self.judge

    @property
    def _rule_user(self) -> UserObject:
        return self.user if self.kind != "payment" else self.judge_user

    def _call(self, label, fn, args):
        return guarded_call(label, fn, args, self.timeout)

    def _rule_label(self, rule) -> str:
        return f"rule {rule.name if isinstance(rule, R.Rule) else self._rule_user.name!r}"

    def evaluate(self, P: np.ndarray, b: np.ndarray, rule=None) -> np.ndarray:
        """q = rule(P, b), checked (RuleFailure / Undefined on trouble)."""
        rule = self.rule_obj if rule is None else rule
        return self._rows(P, np.asarray(b, dtype=float)[None, :], rule,
                          self._rule_label(rule))[0]

    def probe_determinism(self, repeats: int = 6) -> None:
        """Call the target ``repeats`` times on two fixed inputs (stable detection of a
        target that answers at random); failures here are ignored (the search reports them)."""
        P = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
        for b in (np.array([1.0, 2.0]), np.array([0.5, 0.25])):
            if not self._again(P, b, repeats):
                return

    def recheck(self, c: dict, repeats: int = 4) -> None:
        """Evaluate a counterexample's input again (a violation that vanished on re-run is
        most often a target answering at random)."""
        self._again(np.asarray(c["dists"], dtype=float), np.asarray(c["bids"], dtype=float),
                    repeats)

    def _again(self, P, b, repeats: int) -> bool:
        for _ in range(repeats):
            try:
                self.evaluate(P, b) if self.kind == "rule" else self.pay(P, b)
            except (RuleFailure, Undefined):
                return False
        return True

    def batch(self, P: np.ndarray, bid_matrix: np.ndarray, rule=None) -> np.ndarray:
        """:meth:`evaluate` of every row: a rule's own batch in one call, a caged target's
        rows in one request, else row by row (each as :meth:`evaluate` calls it)."""
        own = rule is None or rule is self.rule_obj
        rule = self.rule_obj if rule is None else rule
        bm = np.asarray(bid_matrix, dtype=float)
        label = self._rule_label(rule)
        if isinstance(rule, R.Rule) and rule._batch_fn is not None:
            self.last_call = (P, bm[0])
            out = np.asarray(self._call(label, rule.batch, (P, bm)), dtype=np.float64)
            if out.shape != (len(bm), P.shape[1]):
                raise RuleFailure("shape", f"{label} batch returned shape {out.shape}")
            out = check_distributions(out, P.shape[1], label)
            self.valid_outputs += len(out)
            return out
        cage = self._rule_user.cage if own and not self._rule_user.context else None
        if cage is not None and len(bm) > 1 and bool(np.all(bm.sum(axis=1) > 0)):
            return self._caged_batch(rule, cage, np.array(P, dtype=float), bm)
        return self._rows(P, bm, rule, label)

    def answered(self, P: np.ndarray, bid_matrix: np.ndarray):
        """:meth:`evaluate` of each row, skipping those the rule declines (its InvalidInput;
        W = 0 and failures raise): ``(kept row indices, their Q, the last decline or None)``."""
        declines: list = []
        keep, Q = self._rows(P, np.asarray(bid_matrix, dtype=float), self.rule_obj,
                             self._rule_label(self.rule_obj), declines)
        return keep, Q, (declines[-1] if declines else None)

    def _rows(self, P, bm, rule, label, declines=None):
        """:meth:`evaluate` of each row in order -> Q (the first failure or decline raises);
        with a ``declines`` list the rule's declines go there, -> ``(kept indices, Q)``."""
        fn, weighted = _weighed(rule, bm)
        remember = self.memo.rows(label, P, rule)
        V, rows, keep, P64 = P.shape[1], [], [], np.asarray(P, dtype=float)
        with guarded_calls(label, self.timeout) as call:
            for k, b in enumerate(bm):
                self.last_call = (P, b)
                if not weighted[k]:
                    raise Undefined("W = 0: every rule is undefined there (theory §2)")
                try:   # the callee gets its own copies (it may write into them)
                    q = call(fn, (P64.copy(), np.array(b)))
                except Undefined as exc:   # the rule's own InvalidInput
                    if declines is None:
                        raise
                    declines.append(exc)
                    continue
                if getattr(q, "shape", None) != (V,) or not plainly_distribution(q, V):
                    q = check_distribution(q, V, label)   # one row: (1, V) is a wrong shape
                self.valid_outputs += 1
                remember(b, q)
                rows.append(q)
                keep.append(k)
        Q = np.stack(rows) if rows else np.zeros((0, V))
        return Q if declines is None else (keep, Q)

    def _caged_batch(self, rule, cage, P, bm) -> np.ndarray:
        """Every row of a bid grid in one request to the target's worker; each answer
        validated here and remembered, as :meth:`evaluate` does one at a time."""
        label = self._rule_label(rule)
        self.last_call = (P, bm[0])
        out = self._call(label, cage.call, ("aggregate_batch", P, bm))
        try:
            out = np.asarray(out, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise RuleFailure("not_numeric", f"{label} sent {type(out).__name__}: {exc}") \
                from None
        if out.ndim != 2 or out.shape != (len(bm), P.shape[1]):
            raise RuleFailure("shape", f"{label} returned shape {out.shape} for {len(bm)} rows")
        rows = check_distributions(out, P.shape[1], label)
        for b, q in zip(bm, rows):
            self.valid_outputs += 1
            self.remember(label, (P, b), q, rule)
        return rows

    @property
    def epsilon(self) -> float:
        rule = self.rule_obj
        return float(rule.epsilon) if isinstance(rule, R.Rule) else 0.0

    def smoothed(self, P):
        """theory §2: with smoothing (``epsilon > 0``) the properties are judged on the smoothed
        reports ``(1 - eps) p + eps / V``: ``(P, reference)`` as the rule sees them."""
        return smooth_reports(np.asarray(P, dtype=np.float64), self.reference, self.epsilon)

    def ideal(self, P, i: int) -> np.ndarray:
        """Agent i's ideal distribution: its (smoothed, if the rule smooths) report."""
        return self.smoothed(P)[0][i]

    def total_weight(self, b) -> float:
        return total_weight(b, self.reference, self.weight)

    def variant(self, reference, weight):
        """The target rule with another reference/weight (Rules only; else None)."""
        rule = self.rule_obj
        if isinstance(rule, R.Rule) and rule.reference is not None:
            return rule.with_reference(reference, weight)
        return None

    # -- payments -----------------------------------------------------------------
    def pay(self, P: np.ndarray, b: np.ndarray) -> np.ndarray:
        label = f"payment rule {self.user.name!r}"
        self.last_call = (P, b)
        out = self._call(label, self.user.call, (self.judge, np.array(P, dtype=float),
                                           np.array(b, dtype=float)))
        z = check_payments(out, P.shape[0], label)
        self.remember(label, (P, b), z)
        return z

    # -- a mechanism (the audit) ----------------------------------------------------
    def _mechanism(self, context) -> None:
        u = self.user
        self._context_src = context
        self.context = context if isinstance(context, dict) else None
        self.reserve, self.uniforms = float(u.reserve), u.uniforms
        if context is not None and not u.context:
            raise InvalidInput(f"a context was given but {self.name}'s aggregate/payments take "
                               "no keyword 'context'", value=sorted(context)
                               if isinstance(context, dict) else context)
        self.callable_rule = u.rule if u.rule is not None else self._with_context(u.aggregate)
        if isinstance(u.obj, TokenAuction):  # our own rule: its closed forms, unwrapped
            self.rule = u.rule
        else:
            self.rule = ThirdPartyRule(self._with_context(u.aggregate), f"{self.name}.aggregate",
                                       u.claims, cage=None if u.context else u.cage)

    @property
    def has_payments(self) -> bool:
        return self.user.payments is not None

    @property
    def has_sample(self) -> bool:
        return self.user.sample is not None

    def _with_context(self, fn):
        if not self.user.context:
            return fn

        def call(dists, bids):
            return fn(dists, bids, context=self.context)
        call.__name__ = "aggregate" if fn is self.user.aggregate else "payments"
        return call

    def draw_context(self, rng):
        """The context of the next instance: the fixed dict, or a fresh draw (None if none)."""
        src = self._context_src
        if callable(src):
            ctx = src(rng)
            if not isinstance(ctx, dict):
                raise InvalidInput(f"the context strategy returned {type(ctx).__name__}, "
                                   "expected a dict", value=ctx)
            self.context = ctx
        return self.context

    def payments(self, P, b) -> np.ndarray:
        """The mechanism's expected payments z (shape (n,)); InvalidRule when it misbehaves."""
        label = f"{self.name}.payments"
        z = np.asarray(call_as_rule(label, self._with_context(self.user.payments),
                                    (P.copy(), b.copy()), self.name), dtype=np.float64)
        if z.shape != b.shape:
            raise InvalidRule(f"{label} returned shape {z.shape}, expected {b.shape} (one "
                              "expected payment per agent)", rule=self.name)
        return z

    def sample_many(self, q, uniforms) -> np.ndarray:
        """The mechanism's tokens for the aggregate q, one per entry of ``uniforms`` (a
        uniform, or a vector of them); InvalidRule when its ``sample`` misbehaves (raises,
        ends, hangs) or answers other than a token in 0..V-1."""
        label, fn, V = f"{self.name}.sample", self.user.sample, np.size(q)

        def tokens():
            return [fn(np.array(q), u) for u in uniforms]
        out = call_as_rule(label, tokens, (), self.name)
        try:
            got = np.array([np.asarray(t).item() for t in out])
            ok = got.dtype.kind in "iu" or bool(np.all(got == np.floor(got)))
        except (TypeError, ValueError) as exc:
            raise InvalidRule(f"{label} returned a non-token ({exc})", rule=self.name) from None
        if not ok or got.min() < 0 or got.max() >= V:
            raise InvalidRule(f"{label} returned a token outside 0..{V - 1}", rule=self.name)
        return got.astype(np.int64)

    # -- reproduction -----------------------------------------------------------------
    def repro_header(self) -> list[str]:
        lines = ["import numpy as np", "from mechanism import prefers, strictly_prefers, tv, kl"]
        if self.kind == "rule":
            lines += import_lines(self.obj, self.spec, "rule")
        else:
            lines += import_lines(self.obj, self.spec, "payment")
            lines += import_lines(self.judge_obj, self.rule_spec if self.rule_spec and ":" in
                                  self.rule_spec else None, "rule")
        return lines
