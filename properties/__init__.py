"""The property suite: judge any aggregation or payment rule.

    >>> from properties import check
    >>> report = check("linear", ["normalized", "scale_invariant"], max_examples=20)
    >>> report.refuted, str(report.verdict("normalized"))
    (False, 'NOT_REFUTED')

Public API: :func:`check` -> :class:`Report` (``.findings``, ``.refuted``, ``.to_json()``,
``str(report)``), :func:`assert_properties` (raises ``PropertyViolation``),
:func:`load_target`, the catalogue (:data:`CATALOGUE`) and the hypothesis strategies
(:mod:`properties.strategies`).

The names are imported on first use (PEP 562): ``import properties.cage_worker`` (the
cage's worker, started for every caged target) does not import the checker, hypothesis's
strategies or the catalogue it never runs.
"""

from importlib import import_module

#: public name -> (module, attribute; None: the module itself)
_PUBLIC = {
    "PropertyViolation": ("mechanism.errors", "PropertyViolation"),
    "Verdict": ("mechanism.verdicts", "Verdict"),
    "strategies": ("properties.strategies", None),
    "assert_properties": ("properties.assertions", "assert_properties"),
    "ALL_ORDERS": ("properties.catalogue", "ALL_ORDERS"),
    "CATALOGUE": ("properties.catalogue", "CATALOGUE"),
    "property_ids": ("properties.catalogue", "property_ids"),
    "DEFAULT_MAX_EXAMPLES": ("properties.checker.engine", "DEFAULT_MAX_EXAMPLES"),
    "check": ("properties.checker.engine", "check"),
    "Finding": ("properties.report", "Finding"),
    "Report": ("properties.report", "Report"),
    "Target": ("properties.target", "Target"),
}


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'properties' has no attribute {name!r}")
    module, attr = _PUBLIC[name]
    value = import_module(module) if attr is None else getattr(import_module(module), attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))


def load_target(spec: str):
    """The target named by ``"file.py:NAME"`` / ``"pkg.mod:NAME"`` / a built-in name, as
    ``check`` judges it (for reproductions): a backend-generic definition
    ``f(ops, dists, bids, ...)`` comes back as its :class:`mechanism.Rule`, a registry
    factory as its rule; any other object as it is."""
    from properties.loading import load_object
    from properties.protocol import classify
    return classify(load_object(spec))[1]


__all__ = ["check", "Report", "Finding", "Verdict", "assert_properties", "PropertyViolation",
           "CATALOGUE", "ALL_ORDERS", "property_ids", "strategies", "load_target", "Target",
           "DEFAULT_MAX_EXAMPLES"]
