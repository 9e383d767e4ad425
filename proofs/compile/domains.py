"""Declared domains of symbolic parameters (docs/theory.md section 8).

A domain is an interval ``Domain(lo, hi, lo_open, hi_open)`` with exact rational ends
(None: unbounded). Spelled ``"positive"`` (``(0, oo)``), ``"nonnegative"`` (``[0, oo)``),
``"negative"``, ``"real"``, or a pair ``(lo, hi)`` (closed; None for no bound).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from mechanism.errors import InvalidInput


@dataclass(frozen=True)
class Domain:
    lo: Fraction | None = None
    hi: Fraction | None = None
    lo_open: bool = False
    hi_open: bool = False

    def contains(self, v: Fraction) -> bool:
        if self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo)):
            return False
        return not (self.hi is not None and (v > self.hi or (self.hi_open and v == self.hi)))

    def __str__(self) -> str:
        lo = "-oo" if self.lo is None else str(self.lo)
        hi = "oo" if self.hi is None else str(self.hi)
        return f"{'(' if self.lo_open or self.lo is None else '['}{lo}, {hi}" \
               f"{')' if self.hi_open or self.hi is None else ']'}"


NAMED = {"positive": Domain(Fraction(0), None, True), "nonnegative": Domain(Fraction(0)),
         "negative": Domain(None, Fraction(0), False, True), "real": Domain()}


def as_domain(name: str, spec) -> Domain:
    if isinstance(spec, Domain):
        return spec
    if isinstance(spec, str) and spec in NAMED:
        return NAMED[spec]
    if isinstance(spec, tuple) and len(spec) == 2:
        ends = [None if e is None else _exact(name, e) for e in spec]
        if ends[0] is not None and ends[1] is not None and ends[0] > ends[1]:
            raise InvalidInput(f"domain of {name}: {spec!r} is empty", value=spec)
        return Domain(ends[0], ends[1])
    raise InvalidInput(f"domain of parameter {name}: {spec!r} is not a domain; use one of "
                       f"{', '.join(NAMED)} or a pair (lo, hi)", value=spec)


def _exact(name, v) -> Fraction:
    if isinstance(v, bool) or not isinstance(v, (int, float, Fraction)):
        raise InvalidInput(f"domain of {name}: {v!r} is not a number", value=v)
    return Fraction(v) if not isinstance(v, float) else Fraction(float(v))
