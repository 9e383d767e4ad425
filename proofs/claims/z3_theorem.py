"""The theorem of theory §4 on finite bid grids, each implication checked by z3.

Grid: ``K`` bids ``s_k = k`` (concrete ``0, 1, ..., K-1``; ``0 = s_0 < ... < s_m``, m = K-1).
Outcomes ``Q(s_k)``: symbolic distributions (one Real per probability, on the simplex);
the agent's ``p`` symbolic; payments ``Z(s_k)`` symbolic Reals, or the grid
second-price payment ``Z(s_k) = sum_{j=1..k} s_j (G(s_j) - G(s_{j-1}))``,
``G(s) = TV(Q(0), Q(s))`` (theory §4). Properties exactly as theory §4 defines them
(MON over ALL pairs ``j < k``, CA over all pairs, PM over all ordered pairs).

* (a) MON => CA.
* (b) MON => the grid second-price payment has ``Z(0) = 0``, ``Z`` non-decreasing and PM.
  box: one direct query. segment: MON and PM mention segment atoms ``seg(Q_x, Q_y)``
  (quadratic); the full nlsat query times out from V=3, K=4. We replace every atom by a
  Boolean ``S_xy`` and add the instances of lemma S1 -- ``seg(q, q') => box(q, q')`` and,
  given ``seg(q, q')``, ``seg(q', q) <=> box(q', q)`` -- proved by z3 (nlsat) at the same
  V. Sound: any model of the original query gives a model of the abstraction (set
  ``S_xy`` to the atom's truth value; the lemma instances are then true), so unsat of the
  abstraction implies unsat of the original.
* (c) CA + PM + (Z non-decreasing) => MON (``Z(0) = 0`` is not assumed: never needed).
* (d) each of CA, PM, Z non-decreasing dropped from (c): z3 returns a model (fewest
  tokens, fewest bids, round numbers), decoded and confirmed by ``proofs.encode.z3_decode``.
Loss orders: ``proofs.claims.z3_theorem_loss``; the scalable encoding: ``proofs.claims.z3_scale``.
"""

from __future__ import annotations

from typing import Callable

import z3

from mechanism.verdicts import Verdict

from proofs.encode import encode_z3 as E
from proofs.encode import z3_decode as D
from mechanism.verdicts import EVERY, Scope
from proofs.registry import Limits, ProofResult, claim, declare_scope
from proofs.encode.decomposition import decomposed
from proofs.encode.theorem_encoding import (Pref, ca, grid, lemma_s1, mon, mon_implies_witness, outcomes,
                                     order_pref, pm, z_nondecreasing)
from proofs.encode.z3_decode import round_model

def _sizes(limits: Limits):
    return [(V, K) for V in range(2, limits.max_tokens + 1) for K in range(2, limits.max_grid + 1)]


def _all_sizes(check: Callable[[int, int], Verdict], limits: Limits, what: str) -> ProofResult:
    bad = [(V, K, str(v)) for V, K in _sizes(limits) if (v := check(V, K)) is not Verdict.PROVED]
    size = f"V=2..{limits.max_tokens}, K=2..{limits.max_grid} grid bids s_k=k"
    if not bad:
        return ProofResult(Verdict.PROVED, "z3", what, size)
    refuted = [b for b in bad if b[2] == "REFUTED"]
    return ProofResult(Verdict.REFUTED if refuted else Verdict.UNKNOWN, "z3",
                       f"{what}; not proved at (V, K, verdict) {bad}", size)


def _mon_implies_ca(order: str, limits: Limits) -> ProofResult:
    def check(V, K):
        p, Q, base = outcomes(V, K)
        pref = order_pref(order, p, Q)
        return E.prove(base + mon(pref, K), z3.And(ca(pref, K)), limits.timeout_s,
                       order == "segment")[0]
    return _all_sizes(check, limits, f"{order}: unsat of MON and not CA")


def _witness(order: str, limits: Limits) -> ProofResult:
    what = f"{order}: unsat of MON and not (Z(0)=0, Z non-decreasing, PM)"
    if order == "segment":
        s1 = [lemma_s1(V, limits.timeout_s) for V in range(2, limits.max_tokens + 1)]
        if any(v is not Verdict.PROVED for v in s1):
            return ProofResult(Verdict.UNKNOWN, "z3", f"lemma S1 not proved: {s1}")
        what += "; segment atoms abstracted with lemma S1 (proved, nlsat)"
    def check(V, K):
        if order == "box" and V + K > DIRECT_MAX:  # beyond the defaults: proofs.claims.z3_scale
            return decomposed(V, K, limits.timeout_s)
        return mon_implies_witness(order, V, K, limits.timeout_s)[0]
    if order == "box" and limits.max_tokens + limits.max_grid > DIRECT_MAX:
        what += f"; sizes with V + K > {DIRECT_MAX}: decomposed encoding (proofs.claims.z3_scale)"
    return _all_sizes(check, limits, what)


HYPOTHESES = ("CA", "PM", "Znd")
DIRECT_MAX = 10  #: the box witness uses the direct encoding while V + K <= 10


def converse_query(order, V: int, K: int, drop: str | None = None):
    """(c) with hypothesis ``drop`` left out: ``(constraints, p, Q, Z)`` of "hyps and not MON"."""
    p, Q, base = outcomes(V, K)
    Z = [z3.Real(f"Z{k}") for k in range(K)]
    pref = order_pref(order, p, Q)
    hyps = {"CA": ca(pref, K), "PM": pm(pref, Z, K), "Znd": z_nondecreasing(Z)}
    cons = base + sum((h for name, h in hyps.items() if name != drop), [])
    if drop is not None:  # the counterexample keeps Z(0) = 0 too
        cons.append(Z[0] == 0)
    return cons + [z3.Not(z3.And(mon(pref, K)))], p, Q, Z


def abstract_relation(K: int) -> Pref:
    """A free Boolean ``R_kj`` per ordered pair: an arbitrary relation on the outcomes."""
    R = [[z3.Bool(f"R_{k}_{j}") for j in range(K)] for k in range(K)]
    return lambda k, j: R[k][j]


def _converse(order: str, limits: Limits) -> ProofResult:
    """box: the direct query. segment: the order atoms abstracted to free Booleans (any
    relation at all), so unsat proves (c) for every order, segment included, at every V
    (the nlsat query with segment atoms takes minutes); the proof needs no order law."""
    def check(V, K):
        if order == "segment":
            pref, Z = abstract_relation(K), [z3.Real(f"Z{k}") for k in range(K)]
            cons = ca(pref, K) + pm(pref, Z, K) + z_nondecreasing(Z) + [z3.Not(z3.And(mon(pref, K)))]
        else:
            cons, *_ = converse_query(order, V, K)
        return Verdict.PROVED if E.check(cons, limits.timeout_s)[0] == z3.unsat else Verdict.UNKNOWN
    return _all_sizes(check, limits, f"{order}: unsat of CA, PM, Z non-decreasing, not MON "
                      "(Z(0)=0 not assumed)" + ("; order atoms abstracted: holds for any relation"
                                                if order == "segment" else ""))


def dropped_counterexample(order, drop: str, limits: Limits):
    """Fewest tokens, then fewest bids, then round numbers: ``(chain, V, K)`` or None."""
    for V in range(2, limits.max_tokens + 1):
        for K in range(2, limits.max_grid + 1):
            cons, p, Q, Z = converse_query(order, V, K, drop)
            m = round_model(cons, p + sum(Q, []) + Z, limits.timeout_s)
            if m is not None:
                return D.decode_chain(m, p, Q, Z), V, K
    return None


def _dropped(order: str, drop: str, limits: Limits) -> ProofResult:
    found = dropped_counterexample(order, drop, limits)
    if found is None:
        return ProofResult(Verdict.UNKNOWN, "z3", "no model within the limits")
    chain, V, K = found
    keep = tuple(h for h in HYPOTHESES if h != drop)
    ok = D.confirms(chain, order, must_hold=keep, must_fail=("MON",))
    return ProofResult(Verdict.REFUTED if ok else Verdict.UNKNOWN, "z3+numpy",
                       f"model of {' + '.join(keep)} and not MON; numpy-confirmed={ok}",
                       f"V={V}, K={K}", D.report(chain, grid(K)))


_NAMES = {"CA": "CA", "PM": "PM", "Znd": "Z non-decreasing"}

for _order in ("box", "segment"):
    claim(f"z3.theorem.{_order}.mon_implies_ca", "MON implies CA on every finite bid grid",
          order=_order)(lambda limits, o=_order: _mon_implies_ca(o, limits))
    claim(f"z3.theorem.{_order}.grid_second_price_witness", "MON implies the grid second-price "
          "payment satisfies Z(0)=0, Z non-decreasing and PM", order=_order)(
        lambda limits, o=_order: _witness(o, limits))
    claim(f"z3.theorem.{_order}.converse", "CA + PM + Z non-decreasing imply MON (Z(0)=0 "
          "never needed)", order=_order)(lambda limits, o=_order: _converse(o, limits))
    for _h in HYPOTHESES:
        keep = " + ".join(_NAMES[x] for x in HYPOTHESES if x != _h)
        claim(f"z3.theorem.{_order}.converse_without_{_h}", f"{keep} imply MON ({_NAMES[_h]} "
              "dropped) -- false: counterexample", expected="fails", order=_order)(
            lambda limits, o=_order, h=_h: _dropped(o, h, limits))

def _theorem_scope(*extra):
    return lambda limits: Scope(
        EVERY, limits.max_tokens, f"grid s_k = k (0, 1, ..., K-1), K = 2..{limits.max_grid}",
        "exact reals (z3)", ("outcomes Q(s_k) and p symbolic distributions (any rule); "
                             "payments Z(s_k) symbolic reals",) + extra)


for _order in ("box", "segment"):
    declare_scope(f"z3.theorem.{_order}.mon_implies_ca", _theorem_scope())
    declare_scope(f"z3.theorem.{_order}.grid_second_price_witness", _theorem_scope(
        *(("segment atoms abstracted to Booleans with lemma S1 (proved by z3 at the same V)",)
          if _order == "segment" else ())))
    declare_scope(f"z3.theorem.{_order}.converse", _theorem_scope(
        "Z(0) = 0 not assumed", *(("order atoms abstracted: holds for any relation",)
                                 if _order == "segment" else ())))
