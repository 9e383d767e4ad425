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

from properties.loading import load_spec
from properties.checker.sandbox import RuleFailure, Undefined, check_distribution, check_payments, guarded_call

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


def _first_param(fn) -> str | None:
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None
    return params[0] if params else None


def _unusable(obj) -> str | None:
    """Why ``obj`` cannot be called as a rule or payment rule (issue 12), or None."""
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
        return "rule", R.Rule(getattr(obj, "__name__", "generic"), obj)
    k = _required_positional(obj)
    if k == 2:
        return "rule", obj
    if k == 3:
        return "payment", obj
    raise InvalidRule(f"cannot tell whether {obj!r} is a rule(dists, bids) or a "
                      f"payment(rule, dists, bids) ({k} required positional parameters); set "
                      "its attribute kind = 'rule' or 'payment'", value=obj)


def _label(obj) -> str:
    if isinstance(obj, (R.Rule, PAY.PaymentRule)):
        return obj.name
    return getattr(obj, "__name__", type(obj).__name__)


def import_lines(obj, spec: str | None, var: str) -> list[str]:
    """Python lines that bind ``var`` to ``obj`` in a paste-able reproduction."""
    if spec is not None:
        return ["from properties import load_target",
                f"{var} = load_target({spec!r})"]
    if isinstance(obj, R.Rule) and obj.name in R.RULES:
        lines = ["from mechanism import get_rule", f"{var} = get_rule({obj.name!r}"
                 + (f", epsilon={obj.epsilon!r})" if obj.epsilon else ")")]
        if obj.reference is not None:
            lines.append(f"{var} = {var}.with_reference(np.array({obj.reference.tolist()!r}), "
                         f"{obj.weight!r})")
        return lines
    if isinstance(obj, PAY.PaymentRule) and obj.name in PAY.PAYMENT_RULES:
        return ["from mechanism import get_payment_rule",
                f"{var} = get_payment_rule({obj.name!r})"]
    mod = getattr(obj, "__module__", None)
    qual = getattr(obj, "__qualname__", "")
    if mod and mod != "__main__" and "<" not in qual and "." not in qual:
        return [f"from {mod} import {qual} as {var}"]
    return [f"{var} = ...  # the {('callable ' + qual) if qual else 'object'} under test"]


class Target:
    """A guarded view of the thing under test (see the module docstring)."""

    def __init__(self, target, *, rule=None, timeout: float | None = DEFAULT_TIMEOUT,
                 kind: str | None = None):
        self.spec = target if isinstance(target, str) else None
        obj = load_object(target) if isinstance(target, str) else target
        self.kind, self.obj = classify(obj, kind)
        self.name = self.spec or _label(self.obj)
        self.timeout = timeout
        self.claims = dict(getattr(self.obj, "claims", None) or {})
        self.hung = False
        self.last_call = (np.zeros((1, 1)), np.zeros(1))
        if self.kind == "payment":
            judge = R.get_rule("linear") if rule is None else rule
            if isinstance(judge, str):
                judge = load_object(judge) if ":" in judge else R.get_rule(judge)
            kind, judge = classify(judge)
            if kind != "rule":
                raise InvalidRule(f"rule= must be an aggregation rule, got {judge!r}", value=judge)
            self.judge = judge if isinstance(judge, R.Rule) else R.as_rule(judge)
            self.judge_obj = judge
        else:
            self.judge = self.judge_obj = None
        base = self.obj if self.kind == "rule" else self.judge
        self.reference = getattr(base, "reference", None) if isinstance(base, R.Rule) else None
        self.weight = float(getattr(base, "weight", 0.0)) if self.reference is not None else 0.0

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
            raise Undefined("W = 0: every rule is undefined there (SPEC 2)")
        if isinstance(rule, R.Rule):
            out = self._call(label, rule.evaluate, (np.array(P, dtype=float),
                                                    np.array(b, dtype=float)))
        else:
            out = self._call(label, rule, (np.array(P, dtype=float), np.array(b, dtype=float)))
        return check_distribution(out, P.shape[1], label)

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
            return out
        return np.stack([self.evaluate(P, row, rule) for row in np.asarray(bid_matrix)])

    @property
    def epsilon(self) -> float:
        rule = self.rule_obj
        return float(getattr(rule, "epsilon", 0.0) or 0.0) if isinstance(rule, R.Rule) else 0.0

    def smoothed(self, P):
        """SPEC 2: with smoothing (``epsilon > 0``) the properties are judged on the smoothed
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
        return check_payments(out, P.shape[0], label)

    # -- reproduction -----------------------------------------------------------------
    def repro_header(self) -> list[str]:
        lines = ["import numpy as np", "from mechanism import prefers, strictly_prefers, tv, kl"]
        if self.kind == "rule":
            lines += import_lines(self.obj, self.spec, "rule")
        else:
            lines += import_lines(self.obj, self.spec, "payment")
            lines += import_lines(self.judge_obj, None, "rule")
        return lines
