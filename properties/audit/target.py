"""The object under a mechanism audit: loading it and normalizing its interface.

See :mod:`properties.audit.implementation` for the interface (``aggregate``, optional
``payments``, ``sample``, ``name``, ``reserve``, ``claims``). :class:`Audited` turns any
accepted object -- that interface, a plain ``rule(dists, bids)`` callable, a
:class:`mechanism.Rule` or a :class:`mechanism.TokenAuction` -- into ``rule`` /
``pay`` / ``sample``; :func:`load_mechanism` resolves ``package.module:NAME`` and
``path/to/file.py:NAME``.
"""

from __future__ import annotations

import inspect

import numpy as np

from mechanism import TokenAuction, expected_payments
from mechanism.errors import InvalidInput, InvalidRule
from mechanism.rules import check_output

from properties.loading import load_spec
from properties.sandbox import call_as_rule


class ThirdPartyRule:
    """A third party's ``aggregate`` with the :class:`mechanism.Rule` methods the checks use.

    Unlike :func:`mechanism.as_rule` it does not impose theory §2's ``W = 0`` convention: the
    object decides where it is defined (it raises InvalidInput elsewhere), so e.g. a
    reserve rule may show a platform default when no bid clears the reserve. Outputs are
    checked by :func:`mechanism.rules.check_output` (InvalidRule when not a distribution).
    """

    reference, weight, epsilon, generic = None, 0.0, 0.0, None

    def __init__(self, fn, name: str, claims=None):
        self.fn, self.name, self.claims = fn, name, dict(claims or {})

    def evaluate(self, P, b):
        out = call_as_rule(self.name, self.fn, (P.copy(), b.copy()), value={"bids": b.tolist()})
        try:
            return check_output(out, P.shape[1], self.name)
        except InvalidRule as exc:  # name the bids it was called at (a bid path's node)
            raise InvalidRule(str(exc), rule=exc.rule, value={"bids": b.tolist()}) from None

    __call__ = evaluate

    def batch(self, P, bid_matrix):
        bm = np.asarray(bid_matrix, dtype=np.float64)
        cage = getattr(self.fn, "__tokenauction_caged__", None)
        if cage is None or getattr(self.fn, "__tokenauction_context__", False):
            return np.stack([self.evaluate(P, row) for row in bm])
        # a caged aggregate: the whole grid in one request to its worker
        out = call_as_rule(self.name, cage.call,
                           ("aggregate_batch", np.array(P, dtype=np.float64), bm))
        if out.ndim != 2 or out.shape[0] != bm.shape[0]:
            raise InvalidRule(f"{self.name} returned {out.shape} for {bm.shape[0]} bid profiles",
                              rule=self.name)
        rows = []
        for q, row in zip(out, bm):
            try:
                rows.append(check_output(q, P.shape[1], self.name))
            except InvalidRule as exc:  # name the bid profile of the row that failed
                raise InvalidRule(str(exc), rule=exc.rule, value={"bids": row.tolist()}) from None
        return np.stack(rows)

    def with_reference(self, reference, weight=None):
        return self

    def smoothed(self, P):
        """No smoothing: the reports as given (the :class:`mechanism.Rule` protocol)."""
        return P, None


def _takes_context(fn) -> bool:
    try:
        return "context" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


class Audited:
    """The object under audit, normalized to ``rule`` / ``pay`` / ``sample``.

    ``context``: side information for an ``aggregate`` / ``payments`` that take a keyword
    ``context``: a dict (fixed) or ``draw(rng) -> dict`` (one per instance, see
    :meth:`draw_context`)."""

    def __init__(self, obj, name: str | None = None, context=None):
        self.obj = obj
        self._context_src = context
        self.context = context if isinstance(context, dict) else None
        self.reserve = float(getattr(obj, "reserve", 0.0) or 0.0)
        if isinstance(obj, TokenAuction):
            self.name = name or f"TokenAuction({obj.rule.name}, {obj.payment})"
            self.rule = self.callable_rule = obj.rule
            self.pay = lambda P, b: expected_payments(obj.rule, P, b, obj.payment).values
            self.sample = None
            return
        agg = getattr(obj, "aggregate", None)
        if agg is None and not callable(obj):
            raise InvalidRule(f"{obj!r} exposes no aggregate(dists, bids) and is not callable; "
                              "see properties.audit.implementation for the interface", value=obj)
        self.name = name or getattr(obj, "name", None) or type(obj).__name__
        fn = self._with_context(agg if agg is not None else obj)
        self.rule = ThirdPartyRule(fn, f"{self.name}.aggregate", getattr(obj, "claims", None))
        self.callable_rule = fn
        pay = getattr(obj, "payments", None)
        self.pay = None if pay is None else self._checked_payments(self._with_context(pay))
        self.sample = getattr(obj, "sample", None)
        if context is not None and not (_takes_context(agg if agg is not None else obj)
                                        or (pay is not None and _takes_context(pay))):
            raise InvalidInput(f"a context was given but {self.name}'s aggregate/payments take "
                               "no keyword 'context'", value=sorted(context)
                               if isinstance(context, dict) else context)

    def _with_context(self, fn):
        if not _takes_context(fn):
            return fn

        def call(dists, bids):
            return fn(dists, bids, context=self.context)
        call.__name__ = getattr(fn, "__name__", "call")
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

    def _checked_payments(self, pay):
        def call(P, b):
            z = np.asarray(call_as_rule(f"{self.name}.payments", pay, (P.copy(), b.copy()),
                                        self.name), dtype=np.float64)
            if z.shape != b.shape:
                raise InvalidRule(f"{self.name}.payments returned shape {z.shape}, expected "
                                  f"{b.shape} (one expected payment per agent)", rule=self.name)
            return z
        return call


def load_mechanism(spec: str, kwargs: dict | None = None):
    """``package.module:NAME`` or ``path/to/file.py:NAME``; a class is instantiated with
    ``kwargs`` (``--arg key=value``); a constructor that rejects them is a usage error."""
    if ":" not in spec:
        raise InvalidInput(f"--mechanism {spec!r}: expected package.module:NAME or file.py:NAME",
                           value=spec)
    obj = load_spec(spec, "--mechanism")
    if not isinstance(obj, type):
        if kwargs:
            raise InvalidInput(f"--arg is for a class; {spec} is not one", value=sorted(kwargs))
        return obj
    try:
        return obj(**(kwargs or {}))
    except Exception as exc:  # user code: a usage error naming the arguments
        raise InvalidInput(f"--mechanism {spec}: {obj.__name__}(**{kwargs or {}}) raised "
                           f"{type(exc).__name__}: {exc}", value=spec) from exc


def parse_args(pairs) -> dict:
    """``["k=v", ...]`` -> kwargs; each value is read as JSON when it parses (numbers, lists,
    true/false, null, quoted strings), else kept as a string."""
    import json
    out = {}
    for pair in pairs or ():
        key, sep, val = str(pair).partition("=")
        if not sep or not key.isidentifier():
            raise InvalidInput(f"--arg {pair!r}: expected key=value", value=pair)
        try:
            out[key] = json.loads(val)
        except ValueError:
            out[key] = val
    return out
