"""Throughput of the joint token auction on a real LLM.

For n in {1, 2, 4, 8} agents it runs ``TokenAuction("linear")`` over ``LLMAgents`` (one
batched forward per token) and reports, per generated token: ms per step and per row, the
ratio to single-prompt decoding with the same model and prompt length (the agents' prompts
have equal token lengths), and the mechanism's share of the step (aggregation + sampling +
second-price payments, i.e. everything but the provider) for every rule the demo runs
(linear; log-linear smoothed as in the demo), with unequal bids. Rounds time the baseline
and every n side by side, the order reversed every other round; medians over rounds. The
same auction with the agents stepped one by one (n forwards per token) is timed for
comparison. Goals: 8 agents >= 85% of single-prompt speed; mechanism share <= 5%.

The single-prompt baseline is the fastest of four ways to decode one prompt greedily: the
model's stock ``torch.nn.Linear`` layers, the small-batch linears ``load_model`` installs on
the CPU (oneDNN on reordered weights, kind ``packed``), the same linears the ``matmul`` way
(one row as a duplicated 2-row product, on every core), and ``model.generate``.

Where the time goes (torch.profiler, 10 decode steps, fp32, 2 threads, 2-core AMD EPYC):
with stock linears the 4-agent step spent 66% in ``aten::mm``; ``F.linear`` with 4 rows
(``x @ W.T``) cost 2-4.5x its one-row time per layer. ``W @ x.T`` on a contiguous ``x``
streams each weight once on both threads: 4 rows then cost 55 ms of mm per step against
45 ms for one row (the down projection was 3x slower until its input was made contiguous).
The rest of the 4-agent step over the one-agent step: the padded-attention mask path
(bmm, where, softmax; 1 prompt needs no mask), KV-cache growth (cat), float64 top-p.
The 8-agent step (one thread, CPU time, a shared machine) was 79% ``aten::mm`` at 110 ms;
oneDNN's inner product on reordered weights (the ``packed`` kind) makes it 50-64 ms, about
the one-agent step. Then (torch.profiler, 10 steps, one thread, 2-core AMD EPYC shared with
other work): of the 8-agent step's self CPU time, 60% oneDNN linears, 6% attention, 5%
``torch.cat`` growing the KV cache (now written in place: tokenauction/llm/cache.py), about
10% top-p in float64 over 8 x 49152 (now float32 over the vocabulary, float64 on the
candidates: tokenauction/llm/top_p.py; 8 rows 1.9-2.6 ms against 2.2-28 ms, the float64 path
paying page faults on its fresh 3 MB temporaries). The one-agent provider alone costs what
the bare model's decode costs at one thread (59-68 against 57-70 ms of self CPU per step);
on a random-init model its flat rows made top-p grow k five times per step (4x the bare
decode), which SmolLM2's one-agent run never does. Rounds start with an uncounted warm-up
round, so first uses (packed weights, oneDNN kernels per row count) land outside the figures.
The products' own ceiling (``benchmarks/llm_profile.py``): 8 rows through the packed products
run at 82-92 GFLOP/s on a 2-core AMD EPYC (cold weights; 121 GFLOP/s, about 3/4 of a Zen 5
core's float32 peak, on one warm MLP shape: ``benchmarks/llm_profile.py``), so at one thread
the 8-agent step's products take 25.9 ms against 17.8 ms for one row (bound by reading 538 MB
of weights): 69% before attention and top-p; only the second core can lift the 8-agent step
toward 85%. On cores shared with other work, two threads wait on each other at every product
(an 8-agent step measured 425 ms instead of ~31): compare there with ``--threads 1
--cpu-time`` (the process's CPU time, which the time-slicing does not inflate). That wait is
OpenMP's spinning: at a load average of 7 on the 2 cores, two threads took 1187 ms per
one-agent step as started, 95 ms with ``OMP_WAIT_POLICY=PASSIVE`` and 123 ms with
``GOMP_SPINCOUNT=1000`` in the environment (8 agents: 1368, 127, 158 ms); what they cost on
idle cores (where spinning keeps each product's hand-off short) is not measured yet, so
neither is set by the project.

  python benchmarks/llm.py                         # SmolLM2-135M, CPU, float32
  python benchmarks/llm.py --dtype bfloat16
  python benchmarks/llm.py --threads 1 --cpu-time    # on a machine shared with other work
  python benchmarks/llm.py --device cuda --random-init   # ~1B Llama, no weights needed
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from llm_decode import (SYSTEM, now, random_llama, random_prompts, time_single,  # noqa: E402
                        time_steps, use_clock)
from machine import cpu_model  # noqa: E402

from mechanism import TokenAuction, get_rule, step_uniforms  # noqa: E402
from tokenauction.llm.agents import LLMAgents, load_model  # noqa: E402
from tokenauction.llm.model import (LoadedModel, require_torch, resolve_device,  # noqa: E402
                                    resolve_dtype, use_small_batch_linears)


#: The demo's smoothing of log-linear (tokenauction/demo).
DEMO_EPSILON = 1e-4


class Timed:
    """Wrap a provider; accumulate the seconds spent inside it."""

    def __init__(self, inner):
        self.inner, self.seconds = inner, 0.0

    def __call__(self, prefix):
        t0 = now()
        out = self.inner(prefix)
        self.seconds += now() - t0
        return out


class OneByOne:
    """n single-prompt providers stepped in turn: n forwards per token."""

    def __init__(self, providers):
        self.providers = providers

    def __call__(self, prefix):
        return np.vstack([p(prefix).dists for p in self.providers]), None


def time_auction(provider, n, tokens, warmup, seed=0, auction=None, bids=None):
    """(ms per step, mechanism share) of an auction (default linear, equal bids), prefill
    excluded."""
    timed = Timed(provider)
    auction = auction or TokenAuction("linear")
    bids = [1.0] * n if bids is None else bids
    step_times, shares = [], []
    # steady state: one step at a time on a growing prefix (provider keeps its KV cache)
    prefix = []
    timed([])  # prefill, not timed
    for k in range(warmup + tokens):
        timed.seconds = 0.0
        t0 = now()
        rep = timed(prefix)
        dists = rep[0] if isinstance(rep, tuple) else rep.dists
        rec = auction.step(dists, bids, step_uniforms(seed, k, n))
        total = now() - t0
        prefix = prefix + [rec.token]
        if k >= warmup:
            step_times.append(1000 * total)
            shares.append(1 - timed.seconds / total)
    return statistics.median(step_times), statistics.median(shares)


def time_generate(loaded: LoadedModel, prompt: list[int], tokens: int, torch) -> float:
    """ms per new token of ``model.generate`` (greedy): (time for ``tokens`` + 1 new tokens
    minus time for 1) / tokens, so the prefill cancels."""
    ids = torch.tensor([prompt], device=loaded.model.device)

    def run(k):
        t0 = now()
        with torch.inference_mode():
            loaded.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                  max_new_tokens=k, min_new_tokens=k)
        return now() - t0
    run(2)
    return 1000 * (run(tokens + 1) - run(1)) / tokens


def equal_prompts(n: int) -> list[dict]:
    """n chat prompts of EQUAL token length (only a one-letter brand differs), so the
    batch's rows and the single-prompt baseline decode prompts of one length."""
    return [{"system": SYSTEM, "user": f"Write a one-sentence ad for brand {chr(65 + i)} about: "
             "Vacations in Hawaii"} for i in range(n)]


def stock_copy(loaded: LoadedModel, kind: str | None = None) -> LoadedModel:
    """The same model with every linear layer back to the stock ``torch.nn.Linear``, or
    (``kind``) small-batch linears multiplying that way."""
    torch, _ = require_torch()
    model = copy.deepcopy(loaded.model)
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            module.__class__ = torch.nn.Linear
    if kind is not None:
        use_small_batch_linears(model, kind)
    return LoadedModel(model, loaded.tokenizer, loaded.source + f" ({kind or 'stock'} linears)")


def time_round(order, tokens, warmup, loaded, singles, make_prompts, single_ids, rules,
               shares) -> dict:
    """One round, items in ``order``: "single" (plain greedy decode on each model of
    ``singles``, then ``model.generate``; the one-agent provider alone as "provider_1") and
    each n (the auction per rule, unequal bids; the linear rule's ms/step is ``got[n]``).
    Mechanism shares are appended to ``shares`` unless it is None (the warm-up round)."""
    torch, _ = require_torch()
    got = {}
    for item in order:
        if item == "single":
            got["single"] = [statistics.median(time_single(m, single_ids, tokens, warmup, torch))
                             for m in singles] + [time_generate(loaded, single_ids, tokens, torch)]
            # the one-agent provider alone, greedy on its row, no auction
            got["provider_1"] = statistics.median(time_steps(
                [LLMAgents(loaded, make_prompts(1))], tokens, warmup, torch)[0])
            continue
        n = item
        bids = list(np.linspace(0.5, 2.0, n)) if n > 1 else [1.0]
        for name, auction in rules.items():
            ms, share = time_auction(LLMAgents(loaded, make_prompts(n)), n, tokens, warmup,
                                     auction=auction, bids=bids)
            if shares is not None:
                shares[(n, name)].append(share)
            if name == "linear":
                got[n] = ms
    return got


def print_table(ns, rows, ratios, shares, rules, args, loaded, make_prompts) -> None:
    """The medians over rounds per n, and (unless ``--no-serial``) the one-by-one step."""
    print("\nagents | single ms/token | auction ms/step | ms/row | vs single: median [min, max] "
          "| mechanism share, unequal bids: " + ", ".join(rules) + " | one-by-one ms/step")
    for n in ns:
        single = statistics.median(r[0] for r in rows[n])
        batched = statistics.median(r[1] for r in rows[n])
        share = ", ".join(f"{statistics.median(shares[(n, r)]):.1%}" for r in rules)
        serial = float("nan")
        if not args.no_serial:
            serial, _ = time_auction(OneByOne([LLMAgents(loaded, [p]) for p in make_prompts(n)]),
                                     n, args.tokens, args.warmup)
        print(f"{n:>6} | {single:>15.1f} | {batched:>15.1f} | {batched / n:>6.1f} | "
              f"{statistics.median(ratios[n]):>6.0%} [{min(ratios[n]):.0%}, {max(ratios[n]):.0%}] "
              f"| {share:>24} | {serial:>10.1f}", flush=True)


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
    ap.add_argument("--repeats", type=int, default=3,
                    help="rounds; each round times single-prompt and every n side by side")
    ap.add_argument("--no-serial", action="store_true", help="skip the one-by-one comparison")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time in the process's CPU time (needs --threads 1): on cores shared "
                         "with other work, the time-slicing then inflates neither side")
    args = ap.parse_args(argv)
    torch, _ = require_torch()
    if args.cpu_time and args.threads != 1:
        ap.error("--cpu-time needs --threads 1 (with more threads the CPU time counts every "
                 "thread, waiting ones included)")
    use_clock("cpu" if args.cpu_time else "wall")
    if args.threads:
        torch.set_num_threads(args.threads)
    device, dtype = resolve_device(args.device), resolve_dtype(args.dtype)
    if args.random_init:
        loaded, make_prompts = random_llama(device, dtype, args.layers), random_prompts
        if device == "cpu":
            use_small_batch_linears(loaded.model)  # as load_model does on the CPU
    else:
        loaded, make_prompts = load_model(args.model, device=device, dtype=dtype), equal_prompts
    stock = stock_copy(loaded)
    matmul = stock_copy(loaded, "matmul") if device == "cpu" else stock
    print(f"CPU: {cpu_model()} (load average "
          f"{os.getloadavg()[0]:.1f}); model {loaded.source}, device {device}, dtype {dtype}, "
          f"torch threads {torch.get_num_threads()}, {'CPU' if args.cpu_time else 'wall'} time")
    ns = [int(x) for x in args.agents.split(",")]
    lengths = {len(ids) for ids in LLMAgents(loaded, make_prompts(max(ns))).prompt_ids}
    print(f"prompt lengths (tokens): {sorted(lengths)}"
          + ("" if len(lengths) == 1 else " -- NOT equal: the ratios compare unequal work"))
    single_ids = LLMAgents(loaded, make_prompts(1)).prompt_ids[0]
    rules = {"linear": TokenAuction("linear"),
             "log_linear": TokenAuction(get_rule("log_linear", epsilon=DEMO_EPSILON))}
    ratios = {n: [] for n in ns}
    rows = {n: [] for n in ns}
    shares = {(n, r): [] for n in ns for r in rules}
    provider_1 = []  # the product's one-agent provider alone (LLMAgents, no auction)
    for rnd in range(-1, args.repeats):  # side by side, the order reversed every other round
        # the first round (a few tokens, printed as "warm-up") is not counted: first uses
        # (the packed weights' reorder, oneDNN's kernels per row count, new buffers) land there
        order = ["single", *ns] if rnd % 2 == 0 else [*reversed(ns), "single"]
        tokens = min(args.tokens, 4) if rnd < 0 else args.tokens
        got = time_round(order, tokens, args.warmup, loaded, (stock, loaded, matmul),
                         make_prompts, single_ids, rules,
                         None if rnd < 0 else shares)
        single = min(got["single"])  # the fastest baseline: the ratio never flatters the batch
        s1, s2, s3, g = got["single"]
        label = "warm-up (not counted)" if rnd < 0 else f"round {rnd + 1}/{args.repeats}"
        print(f"{label}: single-prompt {s1:.1f} ms/token (stock linears), "
              f"{s2:.1f} (small-batch linears as loaded), {s3:.1f} (small-batch matmul, one row "
              f"duplicated), {g:.1f} (model.generate), {got['provider_1']:.1f} (LLMAgents, one "
              "prompt, no auction); "
              + ", ".join(f"{n} agents {got[n]:.1f} ms/step ({single / got[n]:.0%})" for n in ns),
              flush=True)
        if rnd < 0:
            continue
        provider_1.append(got["provider_1"] / s2)
        for n in ns:
            ratios[n].append(single / got[n])
            rows[n].append((single, got[n]))
    print_table(ns, rows, ratios, shares, rules, args, loaded, make_prompts)
    print(f"the one-agent provider (LLMAgents, no auction) over the same model's plain greedy "
          f"decode (time_single, small-batch linears as loaded): median "
          f"{statistics.median(provider_1):.2f}x [{min(provider_1):.2f}, {max(provider_1):.2f}]")
    print(f"load average after {os.getloadavg()[0]:.1f} (above 0 means other work shared the "
          "cores: the ratios, measured side by side, are what to read)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    raise SystemExit(main())
