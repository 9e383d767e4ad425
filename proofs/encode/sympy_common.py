"""Shared set-up of the sympy derivations: symbolic reports fed to the rules' ONE
generic definition (``mechanism.rules``) through :class:`proofs.bounded.backends.SympyOps`,
so that every derivation is about the implemented rule, not a retyped formula."""

from __future__ import annotations


from mechanism.arith import Vec
from mechanism.verdicts import Verdict

from proofs.bounded.backends import SympyOps, sympy_module
from proofs.registry import ProofResult


def sympy():
    return sympy_module()


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
    """The steps of a derivation, CHECKED apart from ARGUED.

    ``step(text, ok)`` with ``ok`` a bool computed by sympy (or numpy) is a checked step;
    ``step(text)`` (no ``ok``) is an argued step: printed as "argued", never counted as
    evidence. :meth:`result` is PROVED only when at least one step was checked and every
    checked step held. A failed check is UNKNOWN: a simplification that did not close is
    no counterexample (a claim expected to fail gives its counterexample explicitly).
    """

    def __init__(self):
        self.lines: list[str] = []
        self.failed: list[str] = []
        self.checked = 0

    def step(self, text: str, ok: bool | None = None):
        if ok is None:
            self.lines.append("  argued:  " + text)
            return True
        ok = bool(ok)
        self.checked += 1
        self.lines.append(("  checked: " if ok else "  FAILED CHECK: ") + text)
        if not ok:
            self.failed.append(text)
        return ok

    def result(self, size: str, engine: str = "sympy", counterexample=None,
               scope=None) -> ProofResult:
        if self.failed:
            verdict = Verdict.UNKNOWN
            self.lines.append(f"  UNKNOWN: {len(self.failed)} checked step(s) did not hold; a "
                              "failed simplification proves nothing either way")
        elif not self.checked:
            verdict = Verdict.UNKNOWN
            self.lines.append("  UNKNOWN: no step was checked")
        else:
            verdict = Verdict.PROVED
        return ProofResult(verdict, engine, "\n".join(self.lines), size, counterexample,
                           scope=scope)


def ops() -> SympyOps:
    return SympyOps()
