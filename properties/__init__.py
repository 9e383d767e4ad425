"""The property suite: judge any aggregation or payment rule.

    >>> from properties import check
    >>> report = check("linear", ["normalized", "scale_invariant"], max_examples=20)
    >>> report.refuted, str(report.verdict("normalized"))
    (False, 'NOT_REFUTED')

Public API: :func:`check` -> :class:`Report` (``.findings``, ``.refuted``, ``.to_json()``,
``str(report)``), :func:`assert_properties` (raises ``PropertyViolation``),
:func:`load_target`, the catalogue (:data:`CATALOGUE`) and the hypothesis strategies
(:mod:`properties.strategies`).
"""

from mechanism.errors import PropertyViolation
from mechanism.verdicts import Verdict

from . import strategies
from .assertions import assert_properties
from .catalogue import ALL_ORDERS, CATALOGUE, property_ids
from properties.checker.engine import DEFAULT_MAX_EXAMPLES, check
from .report import Finding, Report
from properties.loading import load_object
from properties.protocol import classify
from properties.target import Target


def load_target(spec: str):
    """The target named by ``"file.py:NAME"`` / ``"pkg.mod:NAME"`` / a built-in name, as
    ``check`` judges it (for reproductions): a backend-generic definition
    ``f(ops, dists, bids, ...)`` comes back as its :class:`mechanism.Rule`, a registry
    factory as its rule; any other object as it is."""
    return classify(load_object(spec))[1]


__all__ = ["check", "Report", "Finding", "Verdict", "assert_properties", "PropertyViolation",
           "CATALOGUE", "ALL_ORDERS", "property_ids", "strategies", "load_target", "Target",
           "DEFAULT_MAX_EXAMPLES"]
