"""Two audit reports of the same run must agree (vectorized vs serial path)."""

from __future__ import annotations

import math


def same_reports(new, old) -> None:
    """Assert equal verdicts, divergences (in order), tallies, warnings and errors; the
    largest errors may differ by round-off only."""
    assert new.exit_code == old.exit_code, (new.summary(), old.summary())
    assert [d.to_json() for d in new.divergences] == [d.to_json() for d in old.divergences]
    assert (None if new.first_divergence is None else new.first_divergence.to_json()) == \
        (None if old.first_divergence is None else old.first_divergence.to_json())
    for key in ("n_divergences", "steps_read", "steps_replayed", "head_hash", "error",
                "error_line", "warnings"):
        assert getattr(new, key) == getattr(old, key), key
    for name, a in new.tallies.items():
        b = old.tallies[name]
        assert (a.checked, a.failed, a.skipped, a.informational, a.note) == \
            (b.checked, b.failed, b.skipped, b.informational, b.note), name
        assert math.isclose(a.max_error, b.max_error, rel_tol=1e-6, abs_tol=1e-12), name
