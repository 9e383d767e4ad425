"""The theorem of docs/theory.md section 5 for a SYMBOLIC grid ``0 = s_0 < s_1 < ... <
s_K``, every K and every V (section 8): each direction is a chain of
:mod:`proofs.unbounded.lemmas_theorem` lemmas over one pair of grid bids, lifted to every K and V
by the inductions written there.

The hypotheses of the converse are each needed for every size: z3 finds a counterexample
at a small size (:func:`proofs.claims.z3_theorem.dropped_counterexample`), and
:func:`pad_chain` carries it to every larger size -- a token of probability 0 in ``p``
and every outcome (box and segment hold on it trivially, TV does not change), and a grid
bid that repeats the last outcome and payment (every pair with it behaves as the pair
with the last bid; CA, PM and Z non-decreasing keep their values, MON still fails at
the old pair). The padded chains are re-checked on the numpy reference at several sizes.
"""

from __future__ import annotations

from fractions import Fraction

from mechanism.verdicts import Scope, Verdict

from proofs.encode import z3_decode as D
from proofs.claims.z3_theorem import HYPOTHESES, dropped_counterexample
from proofs.unbounded.chains import run_chain
from proofs.unbounded.lemmas_theorem import THEOREM_CHAINS
from proofs.registry import Limits, ProofResult, claim

GRID = "symbolic grid 0 = s_0 < s_1 < ... < s_K, every K"


def pad_chain(chain: dict, extra_tokens: int, extra_bids: int) -> dict:
    """The padding argument (module docstring) as code."""
    z = [Fraction(0)] * extra_tokens
    Q = [list(q) + z for q in chain["Q"]]
    Q += [list(Q[-1]) for _ in range(extra_bids)]
    return {"p": list(chain["p"]) + z, "Q": Q,
            "Z": list(chain["Z"]) + [chain["Z"][-1]] * extra_bids}


def chain_scope(name: str, order: str) -> Scope:
    """What a PROVED of the chain ``name`` covers (recorded and declared)."""
    return Scope(None, None, GRID, "exact reals",
                 ("any relation" if name in ("mon_implies_ca", "converse") else
                  f"the {order} order",))


def _chain_claim(name: str, order: str, limits: Limits) -> ProofResult:
    chain = run_chain(THEOREM_CHAINS[name], limits.timeout_s)
    scope = chain_scope(name, order)
    res = ProofResult(Verdict.PROVED if chain.proved else Verdict.UNKNOWN, "z3",
                      f"{order}: " + chain.summary(), "every K, every V, symbolic grid")
    res.scope, res.lemmas = scope, chain.steps
    return res


def _dropped(order: str, drop: str, limits: Limits) -> ProofResult:
    small = Limits(max_tokens=min(limits.max_tokens, 3), max_grid=min(limits.max_grid, 4),
                   timeout_s=limits.timeout_s)
    found = dropped_counterexample(order, drop, small)
    if found is None:
        return ProofResult(Verdict.UNKNOWN, "z3", "no counterexample at the small sizes")
    chain, V, K = found
    keep = tuple(h for h in HYPOTHESES if h != drop)
    sizes = [(0, 0), (1, 2), (3, 5), (6, 9)]
    ok = all(D.confirms(pad_chain(chain, dv, dk), order, must_hold=keep, must_fail=("MON",))
             for dv, dk in sizes)
    seen = ", ".join(f"V={V + dv} K={K + dk}" for dv, dk in sizes)
    res = ProofResult(Verdict.REFUTED if ok else Verdict.UNKNOWN, "z3+numpy",
                      f"{' + '.join(keep)} without MON at V={V}, K={K}, padded to every larger "
                      f"size (pad_chain); numpy confirms at {seen}: {ok}",
                      f"every V>={V}, K>={K}", D.report(chain, [f"s_{k}" for k in range(K)]))
    return res


_NAMES = {"CA": "CA", "PM": "PM", "Znd": "Z non-decreasing"}

for _order in ("box", "segment"):
    claim(f"unbounded.theorem.{_order}.mon_implies_ca", "MON implies CA, every K and V "
          "(symbolic grid)", order=_order, scope=chain_scope("mon_implies_ca", _order))(
        lambda limits, o=_order: _chain_claim("mon_implies_ca", o, limits))
    claim(f"unbounded.theorem.{_order}.grid_second_price_witness", "MON implies the grid "
          "second-price payment has Z(0)=0, Z non-decreasing and PM, every K and V (symbolic "
          "grid)", order=_order, scope=chain_scope(f"witness_{_order}", _order))(
        lambda limits, o=_order: _chain_claim(f"witness_{o}", o, limits))
    claim(f"unbounded.theorem.{_order}.converse", "CA + PM + Z non-decreasing imply MON, every "
          "K and V (symbolic grid)", order=_order, scope=chain_scope("converse", _order))(
        lambda limits, o=_order: _chain_claim("converse", o, limits))
    for _h in HYPOTHESES:
        claim(f"unbounded.theorem.{_order}.converse_without_{_h}",
              f"{' + '.join(_NAMES[x] for x in HYPOTHESES if x != _h)} imply MON ({_NAMES[_h]} "
              "dropped) -- false at every size from a small one on (padding)",
              expected="fails", order=_order)(
            lambda limits, o=_order, h=_h: _dropped(o, h, limits))
