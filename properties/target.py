"""What ``check`` judges: an aggregation rule or a payment rule, and how it is loaded.

How a target declares its kind (first match wins):

1. a :class:`mechanism.Rule` is an aggregation rule; a :class:`mechanism.PaymentRule`
   is a payment rule;
2. a callable with an attribute ``kind = "payment"`` (or ``"rule"``) says so itself;
3. a backend-generic definition ``f(ops, dists, bids, reference=None, weight=0)`` (first
   parameter named ``ops``) is an aggregation rule (built-ins map to their registry entry);
4. otherwise the number of required positional parameters decides:
   ``rule(dists, bids) -> q`` (2) or ``payment(rule, dists, bids) -> z`` (3).

``kind="rule" | "payment"`` (``check --kind``) overrides the guess. An unusable callable
is a usage error (:class:`mechanism.InvalidInput`, exit 2), never a target to refute: an
unbound method (``Class.method`` whose first parameter is ``self``), a class, or a
callable whose kind cannot be told.

A payment rule is judged under an aggregation rule, ``rule=`` (default: linear).
Strings: ``"path/to/file.py:NAME"`` (loaded by path), ``"package.module:NAME"``
(imported; NAME may be dotted and may index dicts, e.g.
``mechanism.payments:PAYMENT_RULES.pay_your_bid``) or a bare registry name
(``linear``, ``second_price``, ...).
"""

from __future__ import annotations

import inspect

import numpy as np

from mechanism.bids import total_weight
from mechanism.smoothing import smooth_reports
from mechanism import payments as PAY
from mechanism import rules as R
from mechanism.errors import InvalidInput, InvalidRule

from properties.checker.proving import generic_target
from properties.loading import load_spec
from properties.checker.repro_imports import import_lines
from properties.sandbox import (RuleFailure, Undefined, call_as_rule, check_distribution,
                                check_payments, guarded_call)

#: Default per-call timeout for user code (seconds).
DEFAULT_TIMEOUT = 5.0


def load_object(spec: str):
    """The object named by ``file.py:NAME``, ``pkg.mod:NAME`` or a bare registry name."""
    if not isinstance(spec, str) or not spec:
        raise InvalidInput(f"target must be a non-empty string, got {spec!r}", value=spec)
    if ":" not in spec:
        if spec in R.RULES:
            return R.get_rule(spec)
        if spec in PAY.PAYMENT_RULES:
            return PAY.PAYMENT_RULES[spec]
        raise InvalidInput(f"target {spec!r}: use path/to/file.py:NAME or package.module:NAME "
                           f"(or a built-in: {', '.join([*R.RULES, *PAY.PAYMENT_RULES])})",
                           value=spec)
    return load_spec(spec)


_BUILTIN_GENERICS = {R.linear: "linear", R.log_linear: "log_linear",
                     R.winner_take_all: "winner_take_all"}


def _required_positional(fn) -> int | None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in sig.parameters.values()
               if p.kind in kinds and p.default is inspect.Parameter.empty)


#: First-parameter names that say a three-parameter callable takes the reports first (a rule
#: with an extra parameter), not an aggregation rule (a payment rule).
REPORT_NAMES = ("dists", "distributions", "reports", "P", "p", "D", "probs", "q")


def _first_param(fn) -> str | None:
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None
    return params[0] if params else None


def _unusable(obj) -> str | None:
    """Why ``obj`` cannot be called as a rule or payment rule, or None."""
    if isinstance(obj, type):
        return (f"{obj.__qualname__} is a class: name an instance, or use "
                "tokenauction audit --mechanism for a mechanism class")
    qual = getattr(obj, "__qualname__", "")
    parts = qual.split(".")
    if inspect.isfunction(obj) and len(parts) >= 2 and parts[-2] != "<locals>" \
            and _first_param(obj) in ("self", "cls"):
        return (f"{qual} is an unbound method (first parameter {_first_param(obj)!r}): name "
                "a bound method of an instance, or a function rule(dists, bids) / "
                "payment(rule, dists, bids)")
    return None


def classify(obj, kind: str | None = None):
    """``("rule" | "payment", normalized object)`` per the module docstring's rules;
    ``kind`` overrides the guess."""
    why = _unusable(obj) if not isinstance(obj, (R.Rule, PAY.PaymentRule)) else None
    if why:
        raise InvalidInput(why, value=getattr(obj, "__qualname__", repr(obj)))
    if kind is not None:
        if kind not in ("rule", "payment"):
            raise InvalidInput(f"--kind {kind!r}: use rule or payment", value=kind)
        if kind == "rule" and not isinstance(obj, PAY.PaymentRule):
            if isinstance(obj, R.Rule) or _first_param(obj) != "ops":
                return "rule", obj
        if kind == "payment" and not isinstance(obj, R.Rule):
            return "payment", obj
        raise InvalidInput(f"--kind {kind}: {obj!r} is not a {kind}", value=kind)
    if isinstance(obj, R.Rule):
        return "rule", obj
    if isinstance(obj, PAY.PaymentRule):
        return "payment", obj
    if not callable(obj):
        raise InvalidRule(f"{obj!r} is not callable: a target is rule(dists, bids) -> q or "
                          "payment(rule, dists, bids) -> z", value=obj)
    if any(obj is f for f in R.RULES.values()):  # a registry factory
        return "rule", obj()
    kind = getattr(obj, "kind", None)
    if kind in ("payment", "rule", "aggregation"):
        return ("payment" if kind == "payment" else "rule"), obj
    if obj in _BUILTIN_GENERICS:
        return "rule", R.get_rule(_BUILTIN_GENERICS[obj])
    if _first_param(obj) == "ops":
        return "rule", generic_target(obj)
    k = _required_positional(obj)
    if k == 2:
        return "rule", obj
    if k == 3 and _first_param(obj) in REPORT_NAMES:
        name = getattr(obj, "__name__", repr(obj))
        raise InvalidRule(f"{name}{inspect.signature(obj)} takes three required parameters "
                          f"and its first, {_first_param(obj)!r}, names the reports: a payment "
                          "rule is payment(rule, dists, bids). If it is an aggregation rule, "
                          "give the third parameter a default (it is called rule(dists, bids)) "
                          "and pass --kind rule (or set its attribute kind = 'rule')", value=obj)
    if k == 3:
        return "payment", obj
    raise InvalidRule(f"cannot tell whether {obj!r} is a rule(dists, bids) or a "
                      f"payment(rule, dists, bids) ({k} required positional parameters); set "
                      "its attribute kind = 'rule' or 'payment'", value=obj)


def _label(obj) -> str:
    if isinstance(obj, (R.Rule, PAY.PaymentRule)):
        return obj.name
    return getattr(obj, "__name__", type(obj).__name__)


def _judge_rule(fn, label: str) -> R.Rule:
    """A user's judge rule as a :class:`mechanism.Rule` that passes ``InvalidInput`` through
    (the rule declines the input: the same as in rule checks) and checks the output."""
    def numpy_fn(P, b, ref, lam):
        out = call_as_rule(f"rule {label!r}", fn, (P.copy(), b.copy()), label)
        return R.check_output(out, P.shape[1], label)
    return R.Rule(label, None, numpy_fn=numpy_fn, claims=getattr(fn, "claims", None))


def _rule_key(rule) -> tuple:
    if isinstance(rule, R.Rule):
        ref = None if rule.reference is None else rule.reference.tobytes()
        return (ref, rule.weight, rule.epsilon)
    return (id(rule),)


def _digest(P, b) -> tuple:
    P, b = np.asarray(P, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (P.shape, P.tobytes(), b.tobytes())


#: Literals of the target's source used as bids: thresholds at ordinary magnitudes (tiny
#: tolerances such as 1e-9 are not bids; magnitudes are drawn anyway, strategies.MAGNITUDES).
LITERAL_RANGE = (1e-4, 1e6)

#: Outputs remembered per target to notice a different answer for the same input.
MEMO_SIZE = 20000


class Target:
    """A guarded view of the thing under test (see the module docstring)."""

    def __init__(self, target, *, rule=None, timeout: float | None = DEFAULT_TIMEOUT,
                 kind: str | None = None):
        self.spec = target if isinstance(target, str) else \
            getattr(target, "__tokenauction_spec__", None)  # a caged target: its spec
        self.rule_spec = rule if isinstance(rule, str) else None
        self.nondeterministic: dict | None = None   #: evidence: same input, two answers
        self._memo: dict = {}
        self.repeats = 0    #: evaluations compared with an earlier answer for the same input
        self.valid_outputs = 0   #: calls that returned a valid distribution (evaluate)
        obj = load_object(target) if isinstance(target, str) else target
        self.kind, self.obj = classify(obj, kind)
        self.name = self.spec or _label(self.obj)
        self.timeout = timeout
        self.claims = dict(getattr(self.obj, "claims", None) or {})
        self.hung = False
        self._literals: tuple | None = None
        self.last_call = (np.zeros((1, 1)), np.zeros(1))
        if self.kind == "payment":
            judge = R.get_rule("linear") if rule is None else rule
            if isinstance(judge, str):
                judge = load_object(judge) if ":" in judge else R.get_rule(judge)
            kind, judge = classify(judge)
            if kind != "rule":
                raise InvalidRule(f"rule= must be an aggregation rule, got {judge!r}", value=judge)
            self.judge = judge if isinstance(judge, R.Rule) else _judge_rule(judge, _label(judge))
            self.judge_obj = judge
        else:
            self.judge = self.judge_obj = None
        base = self.obj if self.kind == "rule" else self.judge
        self.reference = base.reference if isinstance(base, R.Rule) else None
        self.weight = float(base.weight) if self.reference is not None else 0.0

    @property
    def literals(self) -> tuple:
        """Numbers in the source of the modules defining the target (and its judge rule):
        drawn as bids, and put on every bid sweep (:mod:`properties.strategies`)."""
        caged = getattr(self.obj, "__tokenauction_literals__", None)
        if self._literals is None and caged is not None:
            lo, hi = LITERAL_RANGE  # the worker read them from the target's own source
            self._literals = tuple(float(v) for v in caged if lo <= float(v) <= hi)[:64]
        if self._literals is None:
            try:
                from properties.checker.determinism import constants_of
                pool = constants_of([self.obj, self.judge_obj])
                vals = sorted({float(x) for x in pool.floats} | {float(x) for x in
                                                                  pool.integers})
            except Exception:  # noqa: BLE001 - hypothesis internals absent: no literals
                vals = []
            if type(self.obj).__module__.startswith("proofs.compile."):  # its trees' constants
                vals = list(self.obj.constants()) + vals
            lo, hi = LITERAL_RANGE
            self._literals = tuple(v for v in vals if lo <= v <= hi)[:64]
        return self._literals

    # -- aggregation --------------------------------------------------------------
    @property
    def fixed_vocab(self) -> int | None:
        """V is fixed when a reference distribution is bound."""
        return None if self.reference is None else int(self.reference.size)

    @property
    def rule_obj(self):
        return self.obj if self.kind == "rule" else self.judge

    def _call(self, label, fn, args):
        return guarded_call(label, fn, args, self.timeout)

    def evaluate(self, P: np.ndarray, b: np.ndarray, rule=None) -> np.ndarray:
        """q = rule(P, b), checked (RuleFailure / Undefined on trouble)."""
        rule = self.rule_obj if rule is None else rule
        label = f"rule {_label(rule)!r}"
        self.last_call = (P, b)
        W = rule.total_weight(np.asarray(b, dtype=float)) if isinstance(rule, R.Rule) \
            else float(np.sum(b))
        if not W > 0:
            raise Undefined("W = 0: every rule is undefined there (theory §2)")
        if isinstance(rule, R.Rule):
            out = self._call(label, rule.evaluate, (np.array(P, dtype=float),
                                                    np.array(b, dtype=float)))
        else:
            out = self._call(label, rule, (np.array(P, dtype=float), np.array(b, dtype=float)))
        q = check_distribution(out, P.shape[1], label)
        self.valid_outputs += 1
        self.remember(label, (P, b), q, rule)
        return q

    def remember(self, label, inputs, out, rule=None) -> None:
        """Compare ``out`` with the answer given earlier for the same ``inputs`` (and the same
        rule: a variant with another reference or weight is another rule)."""
        if self.nondeterministic is not None:
            return
        key = (label, _rule_key(rule), _digest(*inputs))
        prev = self._memo.get(key)
        if prev is None:
            if len(self._memo) < MEMO_SIZE:
                self._memo[key] = np.array(out, dtype=np.float64)
            return
        out = np.asarray(out, dtype=np.float64)
        self.repeats += 1
        if prev.shape != out.shape or not np.allclose(prev, out, rtol=1e-12, atol=1e-12,
                                                      equal_nan=True):
            self.nondeterministic = {"label": label, "dists": np.array(inputs[0]),
                                     "bids": np.array(inputs[1]), "first": prev, "second": out}

    def probe_determinism(self, repeats: int = 6) -> None:
        """Call the target ``repeats`` times on two fixed inputs (stable detection of a
        target that answers at random); failures here are ignored (the search reports them)."""
        P = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
        for b in (np.array([1.0, 2.0]), np.array([0.5, 0.25])):
            for _ in range(repeats):
                try:
                    if self.kind == "rule":
                        self.evaluate(P, b)
                    else:
                        self.pay(P, b)
                except (RuleFailure, Undefined):
                    return

    def recheck(self, c: dict, repeats: int = 4) -> None:
        """Evaluate a counterexample's input again (a violation that vanished on re-run is
        most often a target answering at random)."""
        P, b = np.asarray(c["dists"], dtype=float), np.asarray(c["bids"], dtype=float)
        for _ in range(repeats):
            try:
                self.evaluate(P, b) if self.kind == "rule" else self.pay(P, b)
            except (RuleFailure, Undefined):
                return

    def batch(self, P: np.ndarray, bid_matrix: np.ndarray, rule=None) -> np.ndarray:
        rule = self.rule_obj if rule is None else rule
        if isinstance(rule, R.Rule) and rule._batch_fn is not None:
            label = f"rule {_label(rule)!r}"
            self.last_call = (P, np.asarray(bid_matrix, dtype=float)[0])
            out = self._call(label, rule.batch, (P, np.asarray(bid_matrix, dtype=float)))
            out = np.asarray(out, dtype=np.float64)
            if out.shape != (len(bid_matrix), P.shape[1]):
                raise RuleFailure("shape", f"{label} batch returned shape {out.shape}")
            for row in out:
                check_distribution(row, P.shape[1], label)
            self.valid_outputs += len(out)
            return out
        bm = np.asarray(bid_matrix, dtype=float)
        if getattr(rule, "__tokenauction_caged__", None) is not None and len(bm) > 1 \
                and bool(np.all(bm.sum(axis=1) > 0)):
            return self._caged_batch(rule, np.array(P, dtype=float), bm)
        return np.stack([self.evaluate(P, row, rule) for row in np.asarray(bid_matrix)])

    def _caged_batch(self, rule, P, bm) -> np.ndarray:
        """Every row of a bid grid in one request to the target's worker; each answer
        validated here and remembered, as :meth:`evaluate` does one at a time."""
        label = f"rule {_label(rule)!r}"
        self.last_call = (P, bm[0])
        cage = rule.__tokenauction_caged__
        out = self._call(label, cage.call, ("aggregate_batch", P, bm))
        try:
            out = np.asarray(out, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise RuleFailure("not_numeric", f"{label} sent {type(out).__name__}: {exc}") \
                from None
        if out.ndim != 2 or out.shape != (len(bm), P.shape[1]):
            raise RuleFailure("shape", f"{label} returned shape {out.shape} for {len(bm)} rows")
        rows = [check_distribution(row, P.shape[1], label) for row in out]
        for b, q in zip(bm, rows):
            self.valid_outputs += 1
            self.remember(label, (P, b), q, rule)
        return np.stack(rows)

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
        label = f"payment rule {_label(self.obj)!r}"
        self.last_call = (P, b)
        out = self._call(label, self.obj, (self.judge, np.array(P, dtype=float),
                                           np.array(b, dtype=float)))
        z = check_payments(out, P.shape[0], label)
        self.remember(label, (P, b), z)
        return z

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
