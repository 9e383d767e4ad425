"""A decomposed encoding of "box MON implies the grid second-price payment satisfies
Z(0) = 0, Z non-decreasing and PM" (theory §4, the (=>) witness) that scales to 16 tokens
and 16 grid bids; the direct encoding is :func:`proofs.claims.z3_theorem.mon_implies_witness`.

Statement S(V, K): for all ``p, Q(s_0..s_{K-1})`` in the simplex, box-MON over all pairs
implies the three properties, ``G = TV(Q(0), .)`` and ``Z`` as in theory §4, bids ``s_k = k``.

Step 1 -- per-token lemmas, each one z3 query on four reals ``p, a, b, c`` (one token's
``p(t), Q_t(s_0), Q_t(s_j), Q_t(s_k)``), valid for every token of every vocabulary:

* PT1: ``b`` between ``a`` and ``p``, ``c`` between ``b`` and ``p``, ``c`` between ``a`` and
  ``p``  =>  ``|c - a| = |b - a| + |c - b|`` (the token moves monotonically toward p);
* PT2: ``c`` between ``b`` and ``p``  =>  (``b`` between ``c`` and ``p``  <=>  ``b = c``);
* PT3: ``|c - b| >= 0`` and (``|c - b| = 0`` <=> ``b = c``); ``a`` between ``a`` and ``p``.

Step 2 -- the abstract form at full size (V, K). Every token-level atom is replaced by a
fresh variable: Booleans ``M[k][j][t]`` for "``Q_t(s_k)`` between ``Q_t(s_j)`` and
``p(t)``" and ``E[j][k][t]`` for "``Q_t(s_j) = Q_t(s_k)``", Reals ``A[k][t]`` for
``|Q_t(s_k) - Q_t(s_0)|`` and ``D[j][k][t]`` for ``|Q_t(s_k) - Q_t(s_j)|``; the only
constraints are the instances of PT1-PT3 on them. Box is the token-wise conjunction
(``Q_k ⪰ Q_j`` iff ``And_t M[k][j][t]``), ``G(s_k) = 1/2 sum_t A[k][t]`` (TV is a sum over
tokens), and MON, Z, PM are written from these exactly as in the direct encoding.
Soundness: take any counterexample ``(p, Q)`` to S(V, K) and interpret each abstract
variable as the atom it replaces. PT1-PT3 hold for all reals, so every lemma instance
is true, and MON, G, Z, PM take the same values as in the direct encoding: the
counterexample is a model of the abstract form. So unsat of the abstract form (with
PT1-PT3 proved) implies S(V, K). (The converse need not hold -- the abstraction may
have spurious models -- so a sat answer is UNKNOWN, never REFUTED.)

One query of the abstract form (:func:`abstract_query`) still slows down past 8 x 8.

Step 3 -- chained lemmas (:func:`chained_queries`): the abstract form split into
K-1 lemmas L-mono (``G`` rises between consecutive bids) and K(K-1)/2 lemmas L-strict
(``Q_k ≻ Q_j`` iff ``G(s_k) > G(s_j)`` for ``j < k``; never ``Q_j ≻ Q_k``), each an
unsat query over the abstract variables of at most three bids (``0, j, k``) -- a subset
of the constraints, so each proves a valid consequence of the abstract form -- and one
assembly query (:func:`assembly_query`) over K reals and K^2 Booleans that derives the
goal from the lemmas' conclusions. Any counterexample to S(V, K) would satisfy every
lemma conclusion (they are valid) and hence the assembly query; it is unsat, so S(V, K).
The work is O(K^2) queries of size O(V): 16 x 16 in seconds (benchmarks/proofs.py).
"""

from __future__ import annotations

import time

import z3

from mechanism.verdicts import Verdict

from proofs.encode import encode_z3 as E
from proofs.encode.theorem_encoding import grid, mon_implies_witness


def per_token_lemmas(timeout_s: float) -> dict[str, Verdict]:
    """PT1-PT3 (module docstring), each proved by one z3 query on four reals."""
    p, a, b, c = z3.Reals("p a b c")
    bt = E.between
    return {
        "PT1": E.prove([bt(a, b, p), bt(b, c, p), bt(a, c, p)],
                       E.absval(c - a) == E.absval(b - a) + E.absval(c - b), timeout_s)[0],
        "PT2": E.prove([bt(b, c, p)], bt(c, b, p) == (b == c), timeout_s)[0],
        "PT3": E.prove([], z3.And(E.absval(c - b) >= 0, (E.absval(c - b) == 0) == (b == c),
                                  bt(a, a, p)), timeout_s)[0],
    }


class Abstraction:
    """The step-2 variables and lemma instances, created on demand per pair ``j < k``."""

    def __init__(self, V: int, K: int, bids=None):
        self.V, self.K = V, K
        self.bids = grid(K) if bids is None else bids
        T = range(V)
        self.A = [[z3.RealVal(0) if k == 0 else z3.Real(f"A_{k}_{t}") for t in T] for k in range(K)]
        self.G = [z3.Sum(self.A[k]) / 2 for k in range(K)]          # TV is a sum over tokens
        self.Z = [z3.RealVal(0)]
        for k in range(1, K):
            self.Z.append(self.Z[-1] + z3.RealVal(self.bids[k]) * (self.G[k] - self.G[k - 1]))

    def m(self, k: int, j: int, t: int):
        return z3.BoolVal(True) if k == j else z3.Bool(f"M_{k}_{j}_{t}")

    def pref(self, k: int, j: int):
        """box: ``Q_k ⪰ Q_j`` iff the token-wise relation holds at every token."""
        return z3.And([self.m(k, j, t) for t in range(self.V)])

    def strict(self, k: int, j: int):
        return z3.And(self.pref(k, j), z3.Not(self.pref(j, k)))

    def facts(self, j: int, k: int) -> list:
        """Instances of PT1-PT3 for the pair ``j < k`` (and triple ``0, j, k``) at every token."""
        out = []
        for t in range(self.V):
            d, e = z3.Real(f"D_{j}_{k}_{t}"), z3.Bool(f"E_{j}_{k}_{t}")
            out += [d >= 0, (d == 0) == e,                                                  # PT3
                    z3.Implies(self.m(k, j, t), self.m(j, k, t) == e),                      # PT2
                    z3.Implies(z3.And(self.m(j, 0, t), self.m(k, j, t), self.m(k, 0, t)),   # PT1
                               self.A[k][t] == self.A[j][t] + d)]
            if j == 0:  # A[k][t] is |Q_t(s_k) - Q_t(s_0)| = D[0][k][t] by definition
                out.append(self.A[k][t] == d)
        return out

    def mon(self, pairs) -> list:
        return [self.pref(k, j) for j, k in pairs]


def abstract_query(V: int, K: int, bids=None) -> list:
    """Step 2 in one query: "MON and not (Z(0)=0, Z non-decreasing, PM)" at size (V, K)."""
    ab = Abstraction(V, K, bids)
    pairs = [(j, k) for j in range(K) for k in range(j + 1, K)]
    goal = [ab.Z[0] == 0] + [ab.Z[k - 1] <= ab.Z[k] for k in range(1, K)] + \
        [ab.strict(k, j) == (ab.Z[k] > ab.Z[j]) for j in range(K) for k in range(K) if j != k]
    return sum((ab.facts(j, k) for j, k in pairs), []) + ab.mon(pairs) + [z3.Not(z3.And(goal))]


def chained_queries(V: int, K: int, bids=None):
    """Step 2 as chained per-pair lemmas (step 3 assembles them); each yields a query
    whose unsat proves the lemma about the abstract variables of the one-query form:

    * L-mono(i), ``0 < i < K``: MON on the pairs of ``{0, i-1, i}`` and their PT instances
      imply ``G(s_i) >= G(s_{i-1})``;
    * L-strict(j, k), ``j < k``: MON on the pairs of ``{0, j, k}`` and their PT instances
      imply ``Q_k ≻ Q_j  <=>  G(s_k) > G(s_j)``, and not ``Q_j ≻ Q_k``.
    """
    ab = Abstraction(V, K, bids)

    def local(*idx) -> list:
        pairs = sorted({(a, b) for a in idx for b in idx if a < b})
        return sum((ab.facts(a, b) for a, b in pairs), []) + ab.mon(pairs)

    for i in range(1, K):
        yield f"L-mono({i})", local(0, i - 1, i) + [ab.G[i] < ab.G[i - 1]]
    for j in range(K):
        for k in range(j + 1, K):
            goal = z3.And(ab.strict(k, j) == (ab.G[k] > ab.G[j]), z3.Not(ab.strict(j, k)))
            yield f"L-strict({j},{k})", local(0, j, k) + [z3.Not(goal)]
    yield "assembly", assembly_query(K, ab.bids)


def assembly_query(K: int, bids) -> list:
    """Step 3: the lemmas' conclusions as hypotheses on fresh atoms -- Reals ``g_k`` for
    ``G(s_k)`` (``g_0 = TV(Q(0), Q(0)) = 0``) and Booleans ``ST[k][j]`` for ``Q_k ≻ Q_j`` --
    and the negated goal, with ``Z`` written from ``g`` exactly as theory §4 writes it from G.
    Any counterexample to S(V, K) interprets these atoms and satisfies every lemma
    conclusion, so unsat here (and every lemma proved) implies S(V, K)."""
    g = [z3.RealVal(0)] + [z3.Real(f"g_{k}") for k in range(1, K)]
    ST = [[z3.Bool(f"ST_{k}_{j}") for j in range(K)] for k in range(K)]
    hyps = [g[i] >= g[i - 1] for i in range(1, K)]
    for j in range(K):
        for k in range(j + 1, K):
            hyps += [ST[k][j] == (g[k] > g[j]), z3.Not(ST[j][k])]
    Z = [z3.RealVal(0)]
    for k in range(1, K):
        Z.append(Z[-1] + z3.RealVal(bids[k]) * (g[k] - g[k - 1]))
    goal = [Z[0] == 0] + [Z[k - 1] <= Z[k] for k in range(1, K)] + \
        [ST[k][j] == (Z[k] > Z[j]) for j in range(K) for k in range(K) if j != k]
    return hyps + [z3.Not(z3.And(goal))]


def decomposed(V: int, K: int, timeout_s: float, lemmas: dict | None = None,
               chained: bool = True) -> Verdict:
    """S(V, K) by the decomposition: PROVED iff PT1-PT3 are proved and step 2 is unsat
    (every chained lemma and the assembly, or the one query); ``timeout_s`` bounds step 2."""
    lemmas = per_token_lemmas(timeout_s) if lemmas is None else lemmas
    if any(v is not Verdict.PROVED for v in lemmas.values()):
        return Verdict.UNKNOWN
    queries = chained_queries(V, K) if chained else [("all", abstract_query(V, K))]
    deadline = time.perf_counter() + timeout_s
    for _, cons in queries:
        left = deadline - time.perf_counter()
        if left <= 0 or E.check(cons, left)[0] != z3.unsat:
            return Verdict.UNKNOWN
    return Verdict.PROVED


def direct(V: int, K: int, timeout_s: float) -> Verdict:
    """S(V, K) by the direct encoding (one Real per probability, TV with If)."""
    return mon_implies_witness("box", V, K, timeout_s)[0]
