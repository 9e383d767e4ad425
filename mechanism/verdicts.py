"""The verdict vocabulary shared by proofs, the property suite and the audit
(STYLE.md, CrossHair): never a bare bool.

* PROVED       -- a proof (sympy derivation or z3 unsat) covers the claim on the stated cases
* REFUTED      -- a concrete counterexample, re-run on the numpy reference
* NOT_REFUTED  -- sampled or searched, nothing found (no proof)
* UNKNOWN      -- the engine could not decide (timeout, unsupported operation)
* SKIPPED      -- the engine does not apply (e.g. a rule with a numpy form only)
"""

from __future__ import annotations

from enum import Enum


class Verdict(str, Enum):
    PROVED = "PROVED"
    REFUTED = "REFUTED"
    NOT_REFUTED = "NOT_REFUTED"
    UNKNOWN = "UNKNOWN"
    SKIPPED = "SKIPPED"

    def __str__(self) -> str:
        return self.value

    @property
    def ok(self) -> bool:
        """True unless refuted (what exit codes are computed from)."""
        return self is not Verdict.REFUTED
