"""z3 time for the equivalence theorem of theory §5 (box order, bids s_k = k)
against vocabulary size V and grid size K, direct versus decomposed encoding
(proofs/encode/decomposition.py), the growth factor per added token and grid point, and the
largest sizes proved within the time limit for each theorem.

    PYTHONPATH=. python benchmarks/proofs.py [--limit 60] [--quick]

Every solve has a timeout; a series stops at its first size not proved in time, so
the whole run stays under ~10 minutes (``--quick``: a few seconds per series).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import z3  # noqa: E402

from mechanism.verdicts import Verdict  # noqa: E402
from proofs.encode import encode_z3 as E  # noqa: E402
from proofs.encode import decomposition as S  # noqa: E402
from proofs.encode import theorem_encoding as T  # noqa: E402
from proofs.claims import z3_theorem  # noqa: E402


def timed(fn, *args) -> tuple[Verdict, float]:
    t0 = time.perf_counter()
    v = fn(*args)
    return v, time.perf_counter() - t0


def mon_implies_ca(V: int, K: int, timeout_s: float) -> Verdict:
    p, Q, base = T.outcomes(V, K)
    pref = T.order_pref("box", p, Q)
    return E.prove(base + T.mon(pref, K), z3.And(T.ca(pref, K)), timeout_s)[0]


def converse(V: int, K: int, timeout_s: float) -> Verdict:
    cons, *_ = z3_theorem.converse_query("box", V, K)
    r, _ = E.check(cons, timeout_s)
    return Verdict.PROVED if r == z3.unsat else Verdict.UNKNOWN


def segment_witness(V: int, K: int, timeout_s: float) -> Verdict:
    if T.lemma_s1(V, timeout_s) is not Verdict.PROVED:
        return Verdict.UNKNOWN
    return T.mon_implies_witness("segment", V, K, timeout_s)[0]


def one_query(V: int, K: int, timeout_s: float) -> Verdict:
    return S.decomposed(V, K, timeout_s, chained=False)


ENCODINGS = {"direct": S.direct, "abstract, one query": one_query, "decomposed": S.decomposed}


def series(fn, sizes, timeout_s: float) -> list[tuple[tuple[int, int], float | None]]:
    """Time ``fn(V, K, timeout_s)`` over ``sizes``; stop at the first size not proved."""
    out = []
    for V, K in sizes:
        v, t = timed(fn, V, K, timeout_s)
        out.append(((V, K), t if v is Verdict.PROVED else None))
        print(f"    V={V:3d} K={K:3d}  {'%8.2f s' % t if v is Verdict.PROVED else f'  > {timeout_s:.0f} s ({v})'}",
              flush=True)
        if v is not Verdict.PROVED:
            break
    return out


def growth(points, dim: int) -> str:
    """Time ratio per unit step of size ``dim`` (0: V, 1: K), geometric mean over the
    last four proved points that take at least 0.05 s."""
    pts = [(s[dim], t) for s, t in points if t is not None and t >= 0.05][-4:]
    if len(pts) < 2 or pts[-1][0] == pts[0][0]:
        return "n/a (too fast to measure)"
    r = (pts[-1][1] / pts[0][1]) ** (1 / (pts[-1][0] - pts[0][0]))
    return f"x{r:.2f} per added {'token' if dim == 0 else 'grid point'} " \
           f"(sizes {pts[0][0]}..{pts[-1][0]})"


def largest(points) -> str:
    ok = [s for s, t in points if t is not None]
    more = " (the series ends there: at least this)" if ok and len(ok) == len(points) else ""
    return f"{ok[-1][0]} tokens x {ok[-1][1]} grid bids{more}" if ok else "none"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=float, default=60.0, help="seconds per proof (default 60)")
    ap.add_argument("--quick", action="store_true", help="small sizes, 5 s per proof")
    a = ap.parse_args(argv)
    limit = 5.0 if a.quick else a.limit
    grow_limit = min(limit, 30.0)
    t0 = time.perf_counter()
    print(f"z3 {z3.get_version_string()}; MON => grid second price (Z(0)=0, Z non-decreasing, "
          f"PM), box order, bids s_k = k; per-solve timeout {grow_limit:.0f} s for growth tables")
    Ks, Vs = (4, list(range(2, 7))) if a.quick else (4, list(range(2, 13)))
    Vg, Kg = (4, list(range(2, 7))) if a.quick else (4, list(range(2, 11)))
    big = [4, 8, 12, 16] if a.quick else [4, 8, 16, 24, 32, 40, 48]
    for name, fn in ENCODINGS.items():
        print(f"\n[{name}] against vocabulary size (K={Ks}):")
        vs = series(fn, [(V, Ks) for V in Vs] + ([(V, Ks) for V in big if V > Vs[-1]]
                                                 if name == "decomposed" else []), grow_limit)
        print(f"  growth: {growth(vs, 0)}")
        print(f"[{name}] against grid size (V={Vg}):")
        ks = series(fn, [(Vg, K) for K in Kg] + ([(Vg, K) for K in big if K > Kg[-1]]
                                                 if name == "decomposed" else []), grow_limit)
        print(f"  growth: {growth(ks, 1)}")
    print(f"\nLargest square sizes V = K proved within {limit:.0f} s (series stop at the first miss):")
    theorems = {
        "MON => CA (box, direct)": (mon_implies_ca, [4, 8, 12, 16, 24, 32]),
        "CA + PM + Z non-decreasing => MON (box, direct)": (converse, [4, 8, 12, 16, 24, 32]),
        "MON => grid second price witness (box, direct)": (S.direct, [4, 5, 6, 7, 8, 9]),
        "MON => grid second price witness (box, decomposed)": (S.decomposed, big),
        "MON => grid second price witness (segment, lemma S1)": (segment_witness, [3, 4, 5, 6, 8]),
    }
    if a.quick:
        theorems = {k: (f, [n for n in ns if n <= 8]) for k, (f, ns) in theorems.items()}
    summary = []
    for name, (fn, ns) in theorems.items():
        print(f"  {name}:")
        pts = series(fn, [(n, n) for n in ns], limit)
        summary.append((name, largest(pts)))
    print("\nSummary (largest proved within the limit):")
    for name, best in summary:
        print(f"  {name:55s} {best}")
    print(f"\ntotal benchmark time {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
