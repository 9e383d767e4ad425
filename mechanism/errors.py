"""One root error for the whole project (errors that carry data).

Every error raised on purpose by tokenauction derives from ``TokenAuctionError``
and from the builtin it refines, so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class TokenAuctionError(Exception):
    """Root of every error raised on purpose by tokenauction."""


class InvalidInput(TokenAuctionError, ValueError):
    """A distribution, bid, reference or option is not acceptable.

    Carries the offending ``value`` and, where known, the ``agent`` and ``token``;
    the message always says how to fix the input.
    """

    def __init__(self, message: str, *, value=None, agent: int | None = None,
                 token: int | None = None):
        super().__init__(message)
        self.value = value
        self.agent = agent
        self.token = token


class Float64Range(InvalidInput):
    """The input is valid in exact reals but beyond what float64 can compute for this rule
    (a weight overflows, or rounds below 0): a declined input, never a wrong answer, and no
    evidence for or against any property."""


def lookup(registry, name, what: str):
    """``registry[name]``, or InvalidInput naming ``what`` and the known names (every
    registry lookup by name: rules, payment rules, preference orders)."""
    try:
        return registry[name]
    except (KeyError, TypeError):
        raise InvalidInput(f"unknown {what} {name!r}; known {what}s: {', '.join(registry)}",
                           value=name) from None


class InvalidRule(TokenAuctionError, TypeError):
    """A rule (aggregation or payment) misbehaved: raised, returned the wrong
    shape, a non-finite or unnormalized vector, or cannot be used as asked."""

    def __init__(self, message: str, *, rule: str | None = None, value=None):
        super().__init__(message)
        self.rule = rule
        self.value = value


class InvalidValueModel(TokenAuctionError, TypeError):
    """A user's value model ``a(p_i, q)`` returned something that is not one real number (NaN,
    a string, a bool) or could not be called: a usage error about the yardstick, not a
    finding about the judged mechanism. Deliberately not an :class:`InvalidInput`, which the
    checkers read as "declined here, no evidence": no verdict may rest on such a value."""


class PropertyViolation(TokenAuctionError, AssertionError):
    """A property of theory §4, §6 or §9 does not hold; carries the counterexample."""

    def __init__(self, message: str, *, counterexample=None, property: str | None = None):
        super().__init__(message)
        self.counterexample = counterexample
        self.property = property


class MissingDependency(TokenAuctionError, ImportError):
    """An optional dependency is missing; the message names the pip command."""

    def __init__(self, package: str, install: str):
        super().__init__(f"{package} is not installed; install it with: {install}")
        self.package = package
        self.install = install


def require(module: str, install: str):
    """Import an optional dependency lazily, or raise MissingDependency naming ``install``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised where the package is absent
        raise MissingDependency(module, install) from exc
