"""Time one auction step (aggregation, sampling, second-price payments for every agent).

For n in {2, 4, 8} agents and V = 49152 (SmolLM2's vocabulary), prints each variant as a
ratio to a 35 ms LLM decode step (SmolLM2-135M on these machines, our measurements) and to
one dense n x V matrix-vector product measured in the same run.

Targets (issue 2): linear with closed-form payments <= 2% of the decode step at n = 4;
any monotone rule through quadrature <= 25%.

    python benchmarks/step.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mechanism import TokenAuction, step_uniforms
from mechanism.validation import as_bids, as_distributions

DECODE_MS = 35.0
V = 49152


def best_ms(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def llm_like(rng, n):
    """Top-p truncated softmax rows, like real next-token distributions (few hundred tokens)."""
    logits = rng.standard_normal((n, V)) * 3
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    return P


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"one auction step, V = {V}; median of {args.repeat} runs")
    print(f"{'n':>2}  {'variant':<34} {'ms':>8} {'/decode':>8} {'/matvec':>8}")
    for n in (2, 4, 8):
        P = llm_like(rng, n)
        b = rng.uniform(0.5, 2.0, n)
        u = step_uniforms(0, 0, n)
        w = rng.random(n)
        mv = best_ms(lambda: w @ P, args.repeat)
        variants = {
            "validation only": lambda: as_bids(b, as_distributions(P).shape[0]),
            "linear, closed form (auto sampler)": lambda: TokenAuction("linear").step(P, b, u),
            "linear, quadrature": None,
            "winner_take_all, closed form": lambda: TokenAuction("winner_take_all").step(P, b, u),
            "log_linear, quadrature": None,
        }
        from mechanism import payments as pay

        lin = TokenAuction("linear")
        variants["linear, quadrature"] = lambda: (lin.step.__self__.rule.evaluate(P, b),
                                                 pay.expected_payments(lin.rule, P, b,
                                                                       method="quadrature"))
        ll = TokenAuction("log_linear")
        variants["log_linear, quadrature"] = lambda: ll.step(P, b, u)
        for name, fn in variants.items():
            reps = args.repeat if "log_linear" not in name else max(3, args.repeat // 10)
            ms = best_ms(fn, reps)
            print(f"{n:>2}  {name:<34} {ms:8.3f} {ms / DECODE_MS:8.2%} {ms / mv:8.1f}")
        print(f"{n:>2}  {'(dense n x V matvec)':<34} {mv:8.3f} {mv / DECODE_MS:8.2%} {1.0:8.1f}")


if __name__ == "__main__":
    main()
