"""Shared set-up of the sympy derivations: symbolic reports fed to the rules' ONE
generic definition (``mechanism.rules``) through :class:`proofs.backends.SympyOps`,
so that every derivation is about the implemented rule, not a retyped formula."""

from __future__ import annotations


from mechanism.arith import Vec
from mechanism.verdicts import Verdict

from .backends import SympyOps, _sympy
from .registry import ProofResult


def sympy():
    return _sympy()


def dist_symbols(name: str, V: int, positive: bool = False) -> Vec:
    """A distribution over V tokens: V-1 free symbols, the last is 1 minus their sum."""
    sp = sympy()
    free = sp.symbols(f"{name}_0:{V - 1}", positive=True) if positive else \
        sp.symbols(f"{name}_0:{V - 1}", nonnegative=True)
    return Vec(list(free) + [1 - sp.Add(*free)])


def raw_symbols(name: str, V: int) -> Vec:
    """Unconstrained positive symbols, one per token (for per-token identities)."""
    sp = sympy()
    return Vec(sp.symbols(f"{name}_0:{V}", positive=True))


def is_zero(expr) -> bool:
    sp = sympy()
    return sp.simplify(sp.cancel(sp.together(expr))) == 0


class Derivation:
    """Collects the steps of a derivation; any failed step makes the verdict REFUTED
    (for identities that must hold) and names the step."""

    def __init__(self):
        self.lines: list[str] = []
        self.failed: list[str] = []

    def step(self, text: str, ok: bool = True):
        self.lines.append(("  " if ok else "  FAILED: ") + text)
        if not ok:
            self.failed.append(text)
        return ok

    def result(self, size: str, engine: str = "sympy", counterexample=None) -> ProofResult:
        verdict = Verdict.PROVED if not self.failed else Verdict.REFUTED
        if self.failed and counterexample is None:
            counterexample = {"failed_steps": list(self.failed)}
        return ProofResult(verdict, engine, "\n".join(self.lines), size, counterexample)


def ops() -> SympyOps:
    return SympyOps()
