"""Decode z3 models into concrete chains and confirm them on the numpy reference.

A *chain* is what theory §4 talks about on a finite grid ``0 = s_0 < ... < s_m``:
the agent's ``p``, the outcomes ``Q(s_k)`` and the payments ``Z(s_k)``. Every REFUTED
verdict of ``proofs/claims/z3_theorem*.py`` is re-run here with ``mechanism.orders.prefers``,
``strictly_prefers`` and ``comparable`` (float, :data:`mechanism.orders.ORDER_TOL`);
payments are compared exactly (``Fraction``).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import z3

from mechanism import orders as ref

from proofs.encode import encode_z3 as E


def decode_chain(model, p, Q, Z) -> dict:
    """Exact values of ``p``, ``Q(s_k)`` and ``Z(s_k)`` in a z3 model."""
    return {"p": E.values(model, p), "Q": [E.values(model, q) for q in Q],
            "Z": E.values(model, Z)}


def properties(chain: dict, order: str) -> dict[str, bool]:
    """MON, CA, PM, ``Z(0) = 0`` and ``Z`` non-decreasing of a concrete chain (theory §4),
    on the numpy reference. ``order`` is a name of ``mechanism.orders.ORDERS``."""
    p = np.array(E.as_floats(chain["p"]))
    Q = [np.array(E.as_floats(q)) for q in chain["Q"]]
    Z = [Fraction(z) for z in chain["Z"]]
    K = len(Q)
    pairs = [(j, k) for j in range(K) for k in range(K) if j != k]
    return {
        "MON": all(ref.prefers(p, Q[k], Q[j], order) for j, k in pairs if j < k),
        "CA": all(ref.comparable(p, Q[k], Q[j], order) for j, k in pairs),
        "PM": all(ref.strictly_prefers(p, Q[k], Q[j], order) == (Z[k] > Z[j]) for j, k in pairs),
        "Z0": Z[0] == 0,
        "Znd": all(Z[k - 1] <= Z[k] for k in range(1, K)),
    }


def confirms(chain: dict, order: str, must_hold: tuple, must_fail: tuple) -> bool:
    """The numpy reference agrees: every property in ``must_hold`` holds and every one
    in ``must_fail`` fails on ``chain``."""
    props = properties(chain, order)
    return all(props[h] for h in must_hold) and not any(props[f] for f in must_fail)


def report(chain: dict, bids) -> dict:
    """The counterexample as exact strings (paste-able), with the grid bids."""
    return {"bids": [str(b) for b in bids], "p": E.as_strs(chain["p"]),
            "Q": E.as_strs(chain["Q"]), "Z": E.as_strs(chain["Z"])}


def round_model(constraints: list, xs: list, timeout_s: float, denominators=(2, 4, 8)):
    """A model of ``constraints`` with every ``x`` a multiple of ``1/D`` for the smallest
    ``D`` that works (shrinking), else any model; None if unsat/unknown."""
    for D in denominators:
        r, m = E.check(constraints + [z3.IsInt(D * x) for x in xs], timeout_s)
        if r == z3.sat:
            return m
    return E.check(constraints, timeout_s)[1]
