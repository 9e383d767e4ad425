"""z3 encodings of theory §4's objects on a finite bid grid, shared by the theorem claims
(:mod:`proofs.claims.z3_theorem`, ``z3_theorem_loss``, ``z3_sampling``, ``z3_scale``).

Grid ``s_k = k``; outcomes ``Q(s_k)`` symbolic distributions on the simplex; ``pref(k, j)``
is "``Q(s_k)`` is weakly preferred to ``Q(s_j)``" as a z3 Bool. MON over all pairs ``j < k``,
CA over all pairs, PM over all ordered pairs, exactly as theory §4 defines them; the grid
second-price payment ``Z(s_k) = sum_{j=1..k} s_j (G(s_j) - G(s_{j-1}))``, ``G = TV(Q(0), .)``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Callable

import z3

from mechanism.verdicts import Verdict

from proofs.encode import encode_z3 as E
from proofs.encode import z3_decode as D

Pref = Callable[[int, int], object]  #: pref(k, j): "Q(s_k) ⪰ Q(s_j)" as a z3 Bool


def grid(K: int) -> list[Fraction]:
    return [Fraction(k) for k in range(K)]


def outcomes(V: int, K: int):
    p = E.dist("p", V)
    Q = [E.dist(f"Q{k}", V) for k in range(K)]
    return p, Q, E.simplex(p) + sum((E.simplex(q) for q in Q), [])


def order_pref(order, p, Q) -> Pref:
    """``order``: "box", "segment", or a callable ``(p, q, q') -> Bool`` (planted orders)."""
    f = order if callable(order) else E.ORDERS[order]
    return lambda k, j: f(p, Q[k], Q[j])


def strict(pref: Pref, k: int, j: int):
    return z3.And(pref(k, j), z3.Not(pref(j, k)))


def mon(pref: Pref, K: int) -> list:
    return [pref(k, j) for j in range(K) for k in range(j + 1, K)]


def ca(pref: Pref, K: int) -> list:
    return [z3.Or(pref(k, j), pref(j, k)) for j in range(K) for k in range(j + 1, K)]


def pm(pref: Pref, Z, K: int) -> list:
    return [strict(pref, k, j) == (Z[k] > Z[j]) for j in range(K) for k in range(K) if j != k]


def z_nondecreasing(Z) -> list:
    return [Z[k - 1] <= Z[k] for k in range(1, len(Z))]


def grid_second_price(Q, bids) -> list:
    """theory §4: ``Z(s_k) = sum_{j=1..k} s_j (G(s_j) - G(s_{j-1}))``, ``G = TV(Q(0), .)``."""
    G = [E.tv(Q[0], q) for q in Q]
    Z = [z3.RealVal(0)]
    for k in range(1, len(Q)):
        Z.append(Z[-1] + z3.RealVal(bids[k]) * (G[k] - G[k - 1]))
    return Z


def segment_abstraction(p, Q):
    """Booleans ``S[x][y]`` for ``seg(Q_x, Q_y)`` plus the lemma-S1 instances (docstring)."""
    K = len(Q)
    S = [[z3.Bool(f"S_{x}_{y}") for y in range(K)] for x in range(K)]
    facts = []
    for x in range(K):
        for y in range(K):
            if x != y:
                facts.append(z3.Implies(S[x][y], E.box(p, Q[x], Q[y])))
                facts.append(z3.Implies(S[x][y], S[y][x] == E.box(p, Q[y], Q[x])))
    return (lambda k, j: S[k][j]), facts


def lemma_s1(V: int, timeout_s: float) -> Verdict:
    """``seg(q,q') => box(q,q')`` and, given ``seg(q,q')``, ``seg(q',q) <=> box(q',q)``;
    proved as two queries (the halves ``=>`` and ``<=``: one nlsat query for both is slow)."""
    p, a, b = (E.dist(n, V) for n in "pab")
    hyps = E.simplex(p) + E.simplex(a) + E.simplex(b) + [E.segment(p, a, b)]
    halves = [z3.And(E.box(p, a, b), z3.Implies(E.segment(p, b, a), E.box(p, b, a))),
              z3.Implies(E.box(p, b, a), E.segment(p, b, a))]
    vs = [E.prove(hyps, g, timeout_s, nonlinear=True)[0] for g in halves]
    return Verdict.PROVED if all(v is Verdict.PROVED for v in vs) else Verdict.UNKNOWN


def mon_implies_witness(order, V: int, K: int, timeout_s: float, payment=grid_second_price):
    """(b) at one size: ``(Verdict, chain or None)``; ``payment(Q, bids)`` is the witness."""
    p, Q, base = outcomes(V, K)
    if order == "segment":
        pref, facts = segment_abstraction(p, Q)
        base = base + facts
    else:
        pref = order_pref(order, p, Q)
    Z = payment(Q, grid(K))
    goal = z3.And([Z[0] == 0] + z_nondecreasing(Z) + pm(pref, Z, K))
    v, m = E.prove(base + mon(pref, K), goal, timeout_s)
    return v, (D.decode_chain(m, p, Q, Z) if m is not None else None)
