"""A one-line pytest helper: assert that a rule has the properties it claims.

    def test_my_rule():
        assert_properties(my_rule, ["normalized", "monotone:box", "scale_invariant"])

Raises :class:`mechanism.PropertyViolation` (an AssertionError) carrying the shrunk
counterexample and its paste-able reproduction for the first REFUTED property.
"""

from __future__ import annotations

from mechanism.errors import PropertyViolation

from properties.checker.engine import check


def assert_properties(target, properties=None, *, orders=None, max_examples: int = 50,
                      seed: int = 0, **kwargs):
    """Run :func:`properties.check`; raise PropertyViolation on any REFUTED finding.

    Returns the :class:`properties.Report` when nothing is refuted.
    """
    report = check(target, properties, orders=orders, max_examples=max_examples, seed=seed,
                   **kwargs)
    bad = report.refutations()
    if bad:
        f = bad[0]
        what = f.property + (f":{f.order}" if f.order else "")
        repro = (f.counterexample or {}).get("repro", "")
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise PropertyViolation(f"{report.target}: {what} REFUTED{more}: {f.detail}\n"
                                f"reproduce:\n{repro}", counterexample=f.counterexample,
                                property=what)
    return report
