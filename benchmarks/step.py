"""Time one auction step (validation, aggregate, sample, every agent's second-price payment).

V = 49152 (SmolLM2's vocabulary). Every row is printed as a ratio to a dense n x V
matrix-vector product and to one decode step of the packaged model (SmolLM2-135M, the
fastest single-prompt decode we have, ``tokenauction.llm.agents.single_prompt_step_ms``),
both measured in the same run, interleaved with the rows, over ``--rounds`` rounds; the
figures are medians over the rounds. With ``--gpu`` and CUDA present, a column divides by
the decode step on the GPU. The CPU model and the load average are printed: the ratios are
the figures to compare across machines.

Goals (ratio to the matvec): linear closed form n = 4 <= 5x; linear by quadrature n = 8
<= 50x; log-linear by quadrature, dense reports, n = 8 <= 1000x; log-linear on smoothed
top-p reports (the LLM case) n = 8 <= 50x (also timed at n = 1, 2, 4, the demo's other
agent counts).

    python benchmarks/step.py [--repeat 20] [--rounds 3] [--no-decode] [--gpu] [--only TEXT]
    python benchmarks/step.py --floor     # the linear step's numpy passes one by one

Why the linear closed form stays above 5x with numpy alone (``--floor``, n = 4, 2-core AMD
EPYC Zen 5): the passes the step must make over its n x V reports sum to about 6.5x before
any fixed cost (about 1.2x: the step at V = 8). The distance ``sum_t |p_i(t) - q(t)|`` alone
is three passes, about 3.7x (``P - q`` written 1.9x, abs in place 1.1x, row sums 0.75x):
numpy has no absolute-difference ufunc and no fused sum of absolute values, and the two
one-pass forms lose what the closed form keeps (a sum of minima or of maxima against the
rows' sums cancels, losing the per-token relative accuracy of a tiny distance); with the
aggregate (1.1x) that is 4.8x. Validation (row sums 0.75x, minimum 0.75x) cannot fold into
those passes: its row sums must be the rows' own (the accept/renormalize/refuse thresholds
are decided on them), and ``P - q`` does not show a negative entry of ``P``. Tried and
slower or no faster: the distance row by row into a buffer that stays in L2 (52 against
55 us for ``P - q``: the passes are bound by the arithmetic, 4 to 6 G elements/s even in
L1), column blocks (more calls), row sums by BLAS (``P @ ones``: 18 against einsum's 17
us), the minimum on the int64 view (15 us either way).

The ``mechanism`` package comes from ``PYTHONPATH`` when it is set there (then this checkout
only fills in what is missing): to time another checkout's mechanism with this decode step,
point ``PYTHONPATH`` at a folder holding links to that ``mechanism`` and this ``tokenauction``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.append(str(Path(__file__).resolve().parents[1]))  # PYTHONPATH first: see --help

from mechanism import TokenAuction, expected_payments, get_rule, step_uniforms  # noqa: E402
from mechanism.sampling import inverse_cdf  # noqa: E402

from machine import cpu_model  # noqa: E402

V = 49152
#: The demo's smoothing of log-linear (tokenauction/demo/run.py).
EPSILON = 1e-4


def median_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def dense_rows(rng, n):
    """Softmax rows over the whole vocabulary (every token has mass)."""
    logits = rng.standard_normal((n, V)) * 3
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    return P / P.sum(axis=1, keepdims=True)


def top_p_rows(rng, n):
    """Top-p style rows: 16..256 tokens each, zeros elsewhere (what LLM agents report)."""
    P = np.zeros((n, V))
    for i in range(n):
        k = int(rng.integers(16, 257))
        P[i, rng.choice(V, size=k, replace=False)] = rng.gamma(0.5, size=k) + 1e-12
    return P / P.sum(axis=1, keepdims=True)


def quadrature_step(rule):
    """Validation, aggregate, sample, payments by quadrature (no closed form used)."""
    def step(P, b, u):
        q = rule(P, b)
        inverse_cdf(q, float(u[0]))
        return expected_payments(rule, P, b, method="quadrature")
    return step


def rows(rng):
    """(label, n, fn(P, b, u), P): the issue's table."""
    lin = TokenAuction("linear")
    ll = TokenAuction("log_linear")
    ll_s = TokenAuction(get_rule("log_linear", epsilon=EPSILON))
    out = []
    for n in (2, 4):
        out.append(("linear, closed form", n, lin.step, dense_rows(rng, n)))
    out.append(("linear by quadrature", 8, quadrature_step(get_rule("linear")),
                dense_rows(rng, 8)))
    for n in (4, 8):
        out.append(("log-linear by quadrature, dense", n, ll.step, dense_rows(rng, n)))
    out.append(("log-linear, smoothed top-p", 8, ll_s.step, top_p_rows(rng, 8)))
    extra = np.random.default_rng(1)  # the demo's other n: their own stream (rows above unchanged)
    for n in (1, 2, 4):
        out.append(("log-linear, smoothed top-p", n, ll_s.step, top_p_rows(extra, n)))
    return out


def floor_passes(rng, n):
    """(label, fn) of the bare numpy passes the linear closed-form step makes over its
    n x V reports (each on its own, same arrays), the step at V = 8 (its fixed cost), and
    the cancelling distance ``s_i + sum q - 2 sum min(p_i, q)`` (measured, not used: it
    loses the per-token relative accuracy)."""
    P = dense_rows(rng, n)
    w = rng.uniform(0.5, 2.0, n)
    q = (w / w.sum()) @ P
    D = np.empty_like(P)
    nb = V // 512
    small = dense_rows(rng, n)[:, :8]
    small /= small.sum(axis=1, keepdims=True)
    lin = TokenAuction("linear")
    u = step_uniforms(0, 0, n)
    common = [("validation: row sums (einsum)", lambda: np.einsum("ij->i", P)),
              ("validation: min", lambda: P.min()),
              ("aggregate: w @ P", lambda: (w / w.sum()) @ P)]
    last = [("fixed cost: the step at V = 8", lambda: lin.step(small, w, u))]
    if n == 2:                  # the joint sampler's coupling; its distance serves the payments
        d, a = D[0], D[1]
        np.subtract(P[0], P[1], out=d)
        return common + [
            ("coupling: p1 - p2 (written)", lambda: np.subtract(P[0], P[1], out=d)),
            ("coupling: abs (written)", lambda: np.abs(d, out=a)),
            ("coupling: sum |d|", lambda: a.sum()),
            ("coupling, near rows: min(p1, p2)", lambda: np.minimum(P[0], P[1], out=q)),
            ("coupling, far rows: block sums of d, |d|",
             lambda: (np.einsum("ij->i", d.reshape(nb, 512)),
                      np.einsum("ij->i", a.reshape(nb, 512))))] + last
    return common + [
        ("distance: P - q (written)", lambda: np.subtract(P, q, out=D)),
        ("distance: abs in place", lambda: np.abs(D, out=D)),
        ("distance: row sums of |P - q|", lambda: np.einsum("ij->i", D)),
        ("sampler: block sums of q", lambda: np.einsum("ij->i", q.reshape(nb, 512)))] + last + [
        ("(not used) minimum(P, q) + row sums",
         lambda: np.einsum("ij->i", np.minimum(P, q, out=D)))]


#: Passes of :func:`floor_passes` that are alternatives to others or not made by the step:
#: left out of the floor's sum (two agents: near rows take the minimum, far rows the block
#: sums; the larger is counted).
NOT_SUMMED = ("(not used)", "coupling, near rows")


def print_floor(args, rng):
    """The floor of the linear closed-form step with numpy: each pass as a ratio to the
    matvec, interleaved with it, medians over the rounds, and their sum (the step can cost
    no less with these passes; the matvec and the passes are timed alike: each repeated on
    arrays it has just read, so both are cache-warm)."""
    for n in (2, 4):
        passes = floor_passes(rng, n)
        P, w = dense_rows(rng, n), rng.random(n)
        got = {label: [] for label, _ in passes}
        for _ in range(args.rounds):
            for label, fn in passes:
                m = median_ms(lambda: w @ P, args.repeat)
                got[label].append((median_ms(fn, args.repeat), m))
        print(f"passes of the linear step, n = {n}: {'us':>8} {'x matvec':>9}")
        total = [0.0, 0.0]
        for label, pairs in got.items():
            t = statistics.median(a for a, _ in pairs)
            r = statistics.median(a / b for a, b in pairs)
            print(f"  {label:<40} {1e3 * t:8.1f} {r:9.2f}")
            if not label.startswith(NOT_SUMMED):
                total = [total[0] + t, total[1] + r]
        print(f"  {'floor: the sum of the passes above':<40} {1e3 * total[0]:8.1f} {total[1]:9.2f}")


_LOADED: dict = {}


def decode_ms(device: str) -> float | None:
    """ms of one decode step of the packaged model, or None (printed why) without it."""
    if device in _LOADED and _LOADED[device] is None:
        return None
    try:
        from tokenauction.llm.agents import load_model, single_prompt_step_ms
        if device not in _LOADED:
            _LOADED[device] = load_model(device=device)
        return single_prompt_step_ms(_LOADED[device])
    except Exception as exc:  # no torch, no model package, no GPU: say so, time the rest
        print(f"decode step on {device}: could not be measured ({type(exc).__name__}: {exc})")
        _LOADED[device] = None
        return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20, help="timings per row and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-decode", action="store_true", help="skip the decode step")
    ap.add_argument("--gpu", action="store_true", help="also a decode step on CUDA")
    ap.add_argument("--only", default="", help="only the rows whose label contains this")
    ap.add_argument("--floor", action="store_true",
                    help="only the numpy passes of the linear closed-form step, one by one")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    if args.floor:
        print(f"V = {V}; CPU {cpu_model()}, load average {os.getloadavg()[0]:.2f}")
        return print_floor(args, rng)
    table = [r for r in rows(rng) if args.only in r[0]]
    bids = {n: rng.uniform(0.5, 2.0, n) for n in (2, 4, 8)}
    w = {n: rng.random(n) for n in (2, 4, 8)}
    mats = {n: dense_rows(rng, n) for n in (2, 4, 8)}
    extra = np.random.default_rng(2)  # n = 1 (after the others: their figures unchanged)
    bids[1], w[1], mats[1] = extra.uniform(0.5, 2.0, 1), extra.random(1), dense_rows(extra, 1)
    ratios = {k: [] for k in range(len(table))}
    ms = {k: [] for k in range(len(table))}
    mv = {n: [] for n in (1, 2, 4, 8)}
    dec, gpu = [], []
    print(f"one auction step, V = {V}; CPU {cpu_model()}, load average before "
          f"{os.getloadavg()[0]:.2f}; {args.rounds} rounds of {args.repeat} timings", flush=True)
    for rnd in range(args.rounds):
        if not args.no_decode:
            d = decode_ms("cpu")
            dec += [d] if d is not None else []
            if args.gpu:
                g = decode_ms("cuda")
                gpu += [g] if g is not None else []
        for k, (label, n, fn, P) in enumerate(table):
            m = median_ms(lambda: w[n] @ mats[n], args.repeat)
            mv[n].append(m)
            u = step_uniforms(0, rnd, n)
            reps = args.repeat if "log-linear" not in label else max(3, args.repeat // 4)
            t = median_ms(lambda: fn(P, bids[n], u), reps)
            ms[k].append(t)
            ratios[k].append(t / m)
    dec_ms = statistics.median(dec) if dec else None
    gpu_ms = statistics.median(gpu) if gpu else None
    head = f"{'row':<34} {'n':>2} {'ms':>9} {'x matvec':>9} {'/decode':>8}"
    print(head + (f" {'/gpu decode':>11}" if args.gpu else ""))
    for k, (label, n, _, _) in enumerate(table):
        t = statistics.median(ms[k])
        line = (f"{label:<34} {n:>2} {t:9.3f} {statistics.median(ratios[k]):9.1f} "
                + (f"{t / dec_ms:8.2%}" if dec_ms else f"{'-':>8}"))
        if args.gpu:
            line += f" {t / gpu_ms:11.2%}" if gpu_ms else f" {'-':>11}"
        print(line)
    for n in (1, 2, 4, 8):
        if mv[n]:
            print(f"{'(dense n x V matvec)':<34} {n:>2} {statistics.median(mv[n]):9.4f}")
    if dec_ms:
        per = max((n for n in mv if mv[n]), default=None)
        print(f"decode step of the packaged model (CPU): {dec_ms:.1f} ms"
              + (f" = {dec_ms / statistics.median(mv[per]):.0f} n={per} matvecs" if per else ""))
    if gpu_ms:
        print(f"decode step on the GPU: {gpu_ms:.1f} ms")
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
