"""What a user's object is and which methods it has, read ONCE when it is loaded.

``check`` and the mechanism audit judge three kinds of object (theory §2-6):

* a **rule** ``rule(dists, bids) -> q``: a :class:`mechanism.Rule`, a registry factory, a
  backend-generic definition ``f(ops, dists, bids, reference=None, weight=0)`` (first
  parameter named ``ops``) or a plain callable with two required positional parameters;
* a **payment rule** ``payment(rule, dists, bids) -> z``: a :class:`mechanism.PaymentRule`
  or a plain callable with three;
* a **mechanism**: an object with ``aggregate(dists, bids)`` and the optional ``payments``,
  ``sample``, ``name``, ``reserve``, ``claims``, ``uniforms`` of
  :mod:`properties.audit.implementation`; a :class:`mechanism.TokenAuction`; a plain rule
  (aggregate only); or the handle on one loaded in a worker (:class:`properties.cage.Caged`).

How ``check`` tells a rule from a payment rule (first match wins): the mechanism classes;
an attribute ``kind = "payment"`` (or ``"rule"``); a first parameter named ``ops``; else the
number of required positional parameters (2: rule, 3: payment). ``kind=`` (``check
--kind``) overrides the guess.

:func:`read_target` (``check``) and :func:`read_mechanism` (the audit) read the object into
a :class:`UserObject` of typed fields; the rest of ``properties/`` reads those fields and
never asks the object again. Every optional attribute is read once by :func:`attribute`:
a property that raises, or a value of the wrong type (an object whose ``__getattr__``
answers anything) is :class:`mechanism.InvalidInput` naming the attribute, the value and
the fix (a usage error, exit 2), never a crash later and never a silently other object.
Methods are bound at load: a class patched afterwards does not change what is judged.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field

from mechanism import payments as PAY
from mechanism import rules as R
from mechanism.auction import TokenAuction
from mechanism.payments import expected_payments
from mechanism.errors import InvalidInput, InvalidRule
from mechanism.rules import first_parameter

KINDS = ("rule", "payment", "mechanism")

#: First-parameter names that say a three-parameter callable takes the reports first (a rule
#: with an extra parameter), not an aggregation rule (a payment rule).
REPORT_NAMES = ("dists", "distributions", "reports", "P", "p", "D", "probs", "q")

_BUILTIN_GENERICS = {R.linear: "linear", R.log_linear: "log_linear",
                     R.winner_take_all: "winner_take_all"}

_MISSING = object()


@dataclass(frozen=True)
class UserObject:
    """A user's object as read at load (see the module docstring)."""

    kind: str                      #: "rule" | "payment" | "mechanism"
    obj: object                    #: the normalized object (a Rule for a generic definition)
    name: str
    claims: dict = field(default_factory=dict)
    aggregate: object = None       #: mechanism: aggregate(dists, bids[, context=])
    payments: object = None        #: mechanism: payments(dists, bids[, context=]) -> z
    sample: object = None          #: mechanism: sample(q, u) -> token
    reserve: float = 0.0           #: mechanism: the declared reserve price
    uniforms: object = 1           #: mechanism: uniforms sample() takes per step (int or "V")
    context: bool = False          #: aggregate/payments take a keyword ``context``
    rule: object = None            #: mechanism: the mechanism.Rule it is (TokenAuction, Rule)
    cage: object = None            #: the worker running this code (properties.cage.Cage)
    spec: str | None = None        #: the spec it was loaded from
    literals: tuple | None = None  #: numbers of its source, read by its worker (caged)
    call: object = None            #: rule / payment: what a call runs, bound at load
    compile_error: str | None = None  #: why a rule gets no proof (uncompilable, tampering)

    def __post_init__(self):
        if self.call is None and self.kind != "mechanism":
            object.__setattr__(self, "call", self.obj)


def attribute(obj, key: str, default=None, check=None, want: str = ""):
    """``obj.key`` read once (``default`` when absent or None); a property that raises, or a
    value ``check`` rejects, is InvalidInput naming the attribute and the fix."""
    try:
        value = getattr(obj, key, _MISSING)
    except Exception as exc:  # noqa: BLE001 - the user's property raised
        raise InvalidInput(f"reading {label(obj)}.{key} raised {type(exc).__name__}: {exc}; "
                           f"make {key} a plain attribute ({want or 'or remove it'})",
                           value=key) from None
    if value is _MISSING or value is None:
        return default
    if check is not None and not check(value):
        raise InvalidInput(f"{label(obj)}.{key} is {_short(value)}: expected {want} (or remove "
                           "the attribute)", value=key)
    return value


def _short(value) -> str:
    text = f"{type(value).__name__} {value!r}"
    return text if len(text) <= 80 else text[:77] + "..."


def _dunder(obj, key: str) -> str | None:
    """``obj.__name__`` / ``__module__`` / ``__qualname__`` when it is a string, else None (a
    property that raises or a ``__getattr__`` answering anything names nothing)."""
    try:
        value = getattr(obj, key, None)
    except Exception:  # noqa: BLE001 - the user's property raised
        return None
    return value if isinstance(value, str) else None


def label(obj) -> str:
    """How a report names ``obj``: a rule's name, a callable's ``__name__``, else its type."""
    if isinstance(obj, (R.Rule, PAY.PaymentRule)):
        return obj.name
    return _dunder(obj, "__name__") or type(obj).__name__


def origin(obj) -> tuple[str | None, str | None]:
    """``(module, qualname)`` where ``obj`` says it is defined (None for what it does not say
    as a string; a Rule or PaymentRule instance has no qualname of its own)."""
    qual = None if isinstance(obj, (R.Rule, PAY.PaymentRule)) else _dunder(obj, "__qualname__")
    return _dunder(obj, "__module__"), qual


def _claims(obj) -> dict:
    """``obj.claims`` (a dict keyed by property name; never trusted, always checked)."""
    return dict(attribute(obj, "claims", {}, lambda v: isinstance(v, dict) and all(
        isinstance(k, str) for k in v), "a dict {property name: claim}"))


def _method(obj, key: str, required: bool = False):
    fn = attribute(obj, key, None, callable, f"a method {key}(...)")
    if fn is None and required:
        raise InvalidInput(f"{label(obj)} has no method {key}: define {key}(self, dists, bids)"
                           " (see properties.audit.implementation)", value=key)
    return fn


def _name(obj, default: str) -> str:
    return str(attribute(obj, "name", None, lambda v: isinstance(v, str), "a string")
               or default)


def takes_context(fn) -> bool:
    try:
        return "context" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _required_positional(fn) -> int | None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in sig.parameters.values()
               if p.kind in kinds and p.default is inspect.Parameter.empty)


def _unusable(obj) -> str | None:
    """Why ``obj`` cannot be called as a rule or payment rule, or None."""
    if isinstance(obj, type):
        return (f"{obj.__qualname__} is a class: name an instance, or use "
                "tokenauction audit --mechanism for a mechanism class")
    if inspect.isfunction(obj):
        parts, first = obj.__qualname__.split("."), first_parameter(obj)
        if len(parts) >= 2 and parts[-2] != "<locals>" and first in ("self", "cls"):
            return (f"{obj.__qualname__} is an unbound method (first parameter {first!r}): "
                    "name a bound method of an instance, or a function "
                    "rule(dists, bids) / payment(rule, dists, bids)")
    return None


def classify(obj, kind: str | None = None):
    """``("rule" | "payment", normalized object)`` per the module docstring's rules;
    ``kind`` overrides the guess."""
    why = _unusable(obj) if not isinstance(obj, (R.Rule, PAY.PaymentRule)) else None
    if why:
        raise InvalidInput(why, value=label(obj))
    if kind is not None:
        return _forced(obj, kind)
    if isinstance(obj, R.Rule):
        return "rule", obj
    if isinstance(obj, PAY.PaymentRule):
        return "payment", obj
    if not callable(obj):
        raise InvalidRule(f"{obj!r} is not callable: a target is rule(dists, bids) -> q or "
                          "payment(rule, dists, bids) -> z", value=obj)
    if any(obj is f for f in R.RULES.values()):  # a registry factory
        return "rule", obj()
    said = attribute(obj, "kind", None, lambda v: v in ("payment", "rule", "aggregation"),
                     "'rule' or 'payment'")
    if said is not None:
        return ("payment" if said == "payment" else "rule"), obj
    if obj in _BUILTIN_GENERICS:
        return "rule", R.get_rule(_BUILTIN_GENERICS[obj])
    if first_parameter(obj) == "ops":  # compiled where it can be (the proofs' plug-in)
        _generic_signature(obj)
        from properties.checker.proving import generic_target
        return "rule", generic_target(obj)
    return _by_arity(obj)


def _generic_signature(fn) -> None:
    """A generic definition is called ``fn(ops, dists, bids, reference, weight)``: one that
    cannot take those five arguments is a usage error naming the fix, never a rule that
    raises TypeError at every call (which would read as a refutation)."""
    try:
        inspect.signature(fn).bind(None, None, None, None, None)
    except TypeError:
        raise InvalidRule(f"{label(fn)}{inspect.signature(fn)} is a generic rule (first parameter "
                          "'ops') but cannot be called as fn(ops, dists, bids, reference, weight): "
                          "declare it as def f(ops, dists, bids, reference=None, weight=0)",
                          value=label(fn)) from None


def _forced(obj, kind: str):
    if kind not in ("rule", "payment"):
        raise InvalidInput(f"--kind {kind!r}: use rule or payment", value=kind)
    if not isinstance(obj, (R.Rule, PAY.PaymentRule)) and not callable(obj):
        raise InvalidRule(f"--kind {kind}: {label(obj)} is not callable; a {kind} is "
                          + ("rule(dists, bids) -> q" if kind == "rule" else
                             "payment(rule, dists, bids) -> z"), value=label(obj))
    if kind == "rule" and not isinstance(obj, PAY.PaymentRule):
        if isinstance(obj, R.Rule) or first_parameter(obj) != "ops":
            return "rule", obj
    if kind == "payment" and not isinstance(obj, R.Rule):
        return "payment", obj
    raise InvalidInput(f"--kind {kind}: {obj!r} is not a {kind}", value=kind)


def _by_arity(obj):
    k = _required_positional(obj)
    if k == 2:
        return "rule", obj
    if k == 3 and first_parameter(obj) in REPORT_NAMES:
        raise InvalidRule(f"{label(obj)}{inspect.signature(obj)} takes three required "
                          f"parameters and its first, {first_parameter(obj)!r}, names the reports: "
                          "a payment rule is payment(rule, dists, bids). If it is an aggregation "
                          "rule, give the third parameter a default (it is called rule(dists, "
                          "bids)) and pass --kind rule (or set its attribute kind = 'rule')",
                          value=obj)
    if k == 3:
        return "payment", obj
    raise InvalidRule(f"cannot tell whether {obj!r} is a rule(dists, bids) or a "
                      f"payment(rule, dists, bids) ({k} required positional parameters); set "
                      "its attribute kind = 'rule' or 'payment'", value=obj)


def read_target(obj, kind: str | None = None, spec: str | None = None) -> UserObject:
    """What ``check`` judges: a rule or a payment rule (a UserObject passes through)."""
    if isinstance(obj, UserObject):
        return obj
    kind, norm = classify(obj, kind)
    name = norm.name if isinstance(norm, (R.Rule, PAY.PaymentRule)) else label(norm)
    refused = None
    if kind == "rule":   # code planted in our namespaces runs beside the proved trees
        from properties import tamper
        planted = tamper.foreign()
        refused = tamper.described(planted, loaded=False) if planted else None
    return UserObject(kind, norm, name, _claims(norm), spec=spec, call=_bound_call(norm),
                      compile_error=refused)


def _bound_call(obj):
    """What a call of ``obj`` runs, bound now: a callable instance's ``__call__`` (a class
    patched after load does not change what is judged); ``obj`` itself otherwise."""
    if isinstance(obj, (R.Rule, PAY.PaymentRule)) or inspect.isroutine(obj):
        return obj
    slot = inspect.getattr_static(type(obj), "__call__")  # what obj(...) looks up, as Python
    return slot.__get__(obj, type(obj))                    # binds it (staticmethod included)


#: the most uniforms a mechanism's ``sample`` may ask for per step (besides "V")
MAX_UNIFORMS = 1 << 16


def is_reserve(v) -> bool:
    """A mechanism's ``reserve``: a finite number >= 0 (not a bool)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
        and v >= 0


def is_uniforms(v) -> bool:
    """A mechanism's ``uniforms``: ``"V"`` or an int in [1, MAX_UNIFORMS] (not a bool)."""
    return (isinstance(v, str) and v == "V") or (
        isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_UNIFORMS)


def read_mechanism(obj, name: str | None = None) -> UserObject:
    """What the mechanism audit judges (see the module docstring); a UserObject of kind
    mechanism passes through."""
    if isinstance(obj, UserObject) and obj.kind == "mechanism":
        return obj
    from properties.cage import Caged
    if isinstance(obj, Caged):
        return UserObject("mechanism", obj, name or obj.name, dict(obj.claims),
                          obj.aggregate, obj.payments, obj.sample, obj.reserve, obj.uniforms,
                          obj.context, cage=obj.cage, spec=obj.cage.spec, literals=obj.literals)
    reserve = float(attribute(obj, "reserve", 0.0, is_reserve, "a number >= 0"))
    if isinstance(obj, TokenAuction):
        def payments(P, b):  # its expected payments (theory §6)
            return expected_payments(obj.rule, P, b, obj.payment).values
        return UserObject("mechanism", obj, name or f"TokenAuction({obj.rule.name}, "
                          f"{obj.payment})", _claims(obj), obj.rule.evaluate, payments,
                          reserve=reserve, rule=obj.rule)
    agg = _method(obj, "aggregate")
    if agg is None and not callable(obj):
        raise InvalidRule(f"{label(obj)} exposes no aggregate(dists, bids) and is not callable;"
                          " see properties.audit.implementation for the interface", value=obj)
    agg = obj if agg is None else agg
    pay, sample = _method(obj, "payments"), _method(obj, "sample")
    uniforms = 1 if sample is None else \
        attribute(obj, "uniforms", 1, is_uniforms,
                  f"an int in [1, {MAX_UNIFORMS}] or 'V' (uniforms per sample)")
    return UserObject(
        "mechanism", obj, name or _name(obj, label(obj)),
        _claims(obj), agg, pay, sample, reserve, uniforms,
        takes_context(agg) or (pay is not None and takes_context(pay)),
        rule=obj if isinstance(obj, R.Rule) else None)
