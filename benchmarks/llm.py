"""Throughput of the joint token auction on a real LLM (issue 5's benchmark).

For n in {1, 2, 4, 8} agents it runs ``TokenAuction("linear")`` over ``LLMAgents`` (one
batched forward per token) and reports, per generated token: ms, tokens/s, the ratio to
plain single-prompt decoding with the same model and length, and the mechanism's share
of the step (aggregation + sampling + second-price payments, i.e. everything but the
provider). The same auction with the agents stepped one by one (n forwards per token) is
timed for comparison. Targets: at 4 agents >= 80% of single-prompt decode speed; mechanism
share < 5% of the step.

  python benchmarks/llm.py                         # SmolLM2-135M, CPU, float32
  python benchmarks/llm.py --dtype bfloat16
  python benchmarks/llm.py --device cuda --random-init   # ~1B Llama, no weights needed
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from llm_decode import prompts, random_llama, random_prompts, time_single  # noqa: E402

from mechanism import TokenAuction, step_uniforms  # noqa: E402
from tokenauction.llm.agents import LLMAgents, load_model  # noqa: E402
from tokenauction.llm.model import require_torch, resolve_device, resolve_dtype  # noqa: E402


class Timed:
    """Wrap a provider; accumulate the seconds spent inside it."""

    def __init__(self, inner):
        self.inner, self.seconds = inner, 0.0

    def __call__(self, prefix):
        t0 = time.perf_counter()
        out = self.inner(prefix)
        self.seconds += time.perf_counter() - t0
        return out


class OneByOne:
    """n single-prompt providers stepped in turn: n forwards per token."""

    def __init__(self, providers):
        self.providers = providers

    def __call__(self, prefix):
        return np.vstack([p(prefix).dists for p in self.providers]), None


def time_auction(provider, n, tokens, warmup, seed=0):
    """(ms per step, mechanism share) of a linear auction, prefill excluded."""
    timed = Timed(provider)
    auction = TokenAuction("linear")
    step_times, shares = [], []
    # steady state: one step at a time on a growing prefix (provider keeps its KV cache)
    prefix = []
    timed([])  # prefill, not timed
    for k in range(warmup + tokens):
        timed.seconds = 0.0
        t0 = time.perf_counter()
        rep = timed(prefix)
        dists = rep[0] if isinstance(rep, tuple) else rep.dists
        rec = auction.step(dists, [1.0] * n, step_uniforms(seed, k, n))
        total = time.perf_counter() - t0
        prefix = prefix + [rec.token]
        if k >= warmup:
            step_times.append(1000 * total)
            shares.append(1 - timed.seconds / total)
    return statistics.median(step_times), statistics.median(shares)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default=None)
    ap.add_argument("--model", default=None)
    ap.add_argument("--random-init", action="store_true")
    ap.add_argument("--layers", type=int, default=None)
    ap.add_argument("--agents", default="1,2,4,8")
    ap.add_argument("--tokens", type=int, default=24)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    torch, _ = require_torch()
    if args.threads:
        torch.set_num_threads(args.threads)
    device, dtype = resolve_device(args.device), resolve_dtype(args.dtype)
    if args.random_init:
        loaded, make_prompts = random_llama(device, dtype, args.layers), random_prompts
    else:
        loaded, make_prompts = load_model(args.model, device=device, dtype=dtype), prompts
    print(f"model {loaded.source}, device {device}, dtype {dtype}, "
          f"torch threads {torch.get_num_threads()}")
    single_ids = LLMAgents(loaded, make_prompts(1)).prompt_ids[0]
    single = statistics.median(time_single(loaded, single_ids, args.tokens, args.warmup, torch))
    print(f"single-prompt decode: {single:.1f} ms/token ({1000 / single:.1f} tokens/s)\n")
    print("agents | auction ms/step | tokens/s | vs single | mechanism share "
          "| one-by-one ms/step | batching speedup")
    for n in [int(x) for x in args.agents.split(",")]:
        batched, share = time_auction(LLMAgents(loaded, make_prompts(n)), n, args.tokens,
                                      args.warmup)
        serial, _ = time_auction(OneByOne([LLMAgents(loaded, [p]) for p in make_prompts(n)]),
                                 n, args.tokens, args.warmup)
        print(f"{n:>6} | {batched:>15.1f} | {1000 / batched:>8.1f} | {single / batched:>9.0%} "
              f"| {share:>15.1%} | {serial:>18.1f} | {serial / batched:>15.1f}x", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    raise SystemExit(main())
