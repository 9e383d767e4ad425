"""The verdict vocabulary shared by proofs, the property suite and the audit: never a bare
bool; and the exit codes every subcommand returns (:class:`ExitCode`).

* PROVED       -- a proof (sympy derivation or z3 unsat) covers the claim on the stated cases
* REFUTED      -- a concrete counterexample, re-run on the numpy reference
* NOT_REFUTED  -- sampled or searched, nothing found (no proof)
* UNKNOWN      -- the engine could not decide (timeout, unsupported operation)
* SKIPPED      -- the engine does not apply (e.g. a rule with a numpy form only)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum


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


class ExitCode(IntEnum):
    """The exit status of every subcommand (demo, check, prove, audit)."""
    OK = 0          #: nothing refuted, the run audits clean, every claim as expected
    FAILED = 1      #: a property refuted, a divergence found, a claim not as expected
    USAGE = 2       #: bad arguments or unreadable input (one line naming the value)
    INTERNAL = 3    #: the engines contradict each other (a bug of the tool)


#: How verdicts on one claim from several engines combine: the first present wins. A
#: counterexample beats a proof (a proof with a counterexample is a bug to report), a
#: proof beats sampling, sampling beats not knowing, not knowing beats not applying.
STRENGTH = (Verdict.REFUTED, Verdict.PROVED, Verdict.NOT_REFUTED, Verdict.UNKNOWN,
            Verdict.SKIPPED)


def strongest(verdicts) -> Verdict:
    """The verdict that stands for several engines' verdicts on one claim (:data:`STRENGTH`).
    ValueError when there is none."""
    found = list(verdicts)
    if not found:
        raise ValueError("no verdict to combine")
    return min(found, key=STRENGTH.index)


#: ``Scope.max_agents`` / ``max_tokens`` value meaning "every n" / "every V".
EVERY = None


#: A scope's words for a rule proved without a reference: given one, it is another rule.
NO_REFERENCE = ("no reference (lambda = 0): the rule given a reference p0 (with_reference, "
                "TokenAuction(..., reference_weight=w), a provider's reference) is another rule, "
                "not covered")


@dataclass(frozen=True)
class Scope:
    """What a PROVED verdict covers, as data (docs/theory.md, "Scope of a verdict").

    ``max_agents`` / ``max_tokens``: the largest number of agents n / tokens V covered, or
    ``None`` for every n / every V (an unbounded proof). ``bids``: the bid domain (for example
    ``"real bids >= 0"`` or ``"grid s_k = k, K <= 6"``). ``arithmetic``: ``"exact reals"``
    (sympy/z3 over the reals) or ``"float64"``. ``assumptions``: every hypothesis the proof
    used, in words (for example ``"other agents' total weight fixed to 1"``).
    """

    max_agents: int | None = None
    max_tokens: int | None = None
    bids: str = "real bids >= 0"
    arithmetic: str = "exact reals"
    assumptions: tuple[str, ...] = ()

    @property
    def unbounded(self) -> bool:
        return self.max_agents is EVERY and self.max_tokens is EVERY

    def sizes(self) -> str:
        n = "every n" if self.max_agents is EVERY else f"n <= {self.max_agents}"
        v = "every V" if self.max_tokens is EVERY else f"V <= {self.max_tokens}"
        return f"{n}, {v}"

    def contains(self, n: int, V: int) -> bool:
        """True when an instance with ``n`` agents and ``V`` tokens lies inside the scope."""
        return ((self.max_agents is EVERY or n <= self.max_agents)
                and (self.max_tokens is EVERY or V <= self.max_tokens))

    def to_json(self) -> dict:
        return {"max_agents": self.max_agents, "max_tokens": self.max_tokens, "bids": self.bids,
                "arithmetic": self.arithmetic, "assumptions": list(self.assumptions),
                "unbounded": self.unbounded}

    def __str__(self) -> str:
        text = f"{self.sizes()}; {self.bids}; {self.arithmetic}"
        if self.assumptions:
            text += "; assuming " + "; ".join(self.assumptions)
        return text
