"""Where an n-agent decode step's time goes, and what the linear products can reach.

Three measurements, all on the CPU in float32 (``benchmarks/llm.py`` measures the ratios):

1. kernels: every weight shape of the model (one decoder layer's seven projections, the
   49152 x 576 output layer, and the stacked q/k/v and gate/up weights a fused projection
   would multiply), for 1, 2 and 8 rows, four ways: oneDNN's inner product on the reordered
   weight (``packed``, what ``load_model`` installs), ``x @ W.T`` on a pre-transposed
   contiguous weight (MKL), ``W @ x.T`` and ``F.linear``. Weights are cold as in a decode
   step (each timing cycles through enough copies to overflow the last-level cache);
   medians of the per-product time, GFLOP/s and the GB/s of weight read.
2. profile: torch.profiler over decode steps of ``LLMAgents`` with n agents (equal prompt
   lengths), self time per op in ms per step, the ops' total against the step's wall time
   (the rest is Python and dispatch; the profiler's own cost inflates it).
3. what-if (``--part what-if``): the step as is against the step with attention, top-p or
   the products' extra rows made (nearly) free (:func:`what_if`): what each costs in place.

Measured (2-core AMD EPYC with AVX-512, ``--part kernels --threads 1 --cpu-time``, load
average 3.4-3.6: the machine was shared by other work): 8 rows through the packed products
run at 82-92 GFLOP/s on the MLP and output-layer shapes, about one core's float32 peak, so the
8-agent step's products are compute-bound (25.9 ms for 2.15 GFLOP) where one row is bound by
reading the weights (17.8 ms for 538 MB, 31-35 GB/s on the large shapes): at one thread the
products alone cap an 8-agent step at 69% of the single-prompt speed. Two idle cores halve
the compute while the weights' read gains only what a second core adds to the memory
bandwidth: the goal of 85% can come only from there (not measurable on a loaded machine,
where two threads wait on each other at every product). The other ways
reach 32-42 GFLOP/s at 8 rows (MKL on a pre-transposed weight 58.3 ms a step, ``W @ x.T``
64.1, ``F.linear`` 62.2). Stacked weights: q|k|v (960 x 576) 110 us against 72 + 34 + 34,
gate|up (3072 x 576) 309 against 2 x 157: a fused projection saves ~1 ms of an 8-agent
step's products; a fused model (each member taking its columns of one product, opened by
forward hooks on the 60 parent modules) measured no gain over the whole step (44.9 against
44.1 ms per step, one thread, CPU time, interleaved), so the model is not fused. In the
8-agent profile (one thread) the products are 68-71% of the op time, attention 10-12% (8 rows
of keys and values read: about 4x the one-row time), top-p about 6% (``topk`` over
8 x 49152 0.9 ms).

What the kernels are (torch 2.13.0 CPU: MKL 2024.2, oneDNN v3.12; Zen 5 EPYC, 2.6 GHz,
``torch.backends.cpu.get_cpu_capability()`` = ``AVX512``): the packed products run oneDNN's
``brg_matmul:avx512_core`` (``ONEDNN_VERBOSE=1``) on weights in its ``AB16b64a`` layout;
``torch.ops.mkldnn._reorder_linear_weight(w, batch_size)`` with 1, 8 or 64 picks the same
layout. One thread, CPU time, a shared machine (load 2-6): 8 rows through 1536 x 576 117 us,
121 GFLOP/s, about 3/4 of the core's 166 (two 512-bit FMA pipes at 2.6 GHz), while its weights
stream at 30 GB/s (16 FLOP per 4-byte weight), what one core reads: the 82-92 GFLOP/s above
is the output layer and cold MLP weights, not the kernel's ceiling. The output layer cut into
2048-16384-row products (each packed): 5.8-6.5 ms at 8 rows against 5.4 whole; MKL on the
pre-transposed weight 15.9. Attention: the 30 attention calls of an 8-agent step (86
positions cached) take ~9 ms at one thread against ~0.7 for one row, and two ``torch.bmm``
over the (row, key/value head) pairs cost the same as sdpa's fused kernel (timed inside the
calls, the two stepped alternately: 9.00 against 9.47 ms with equal prompts, 9.65 against
8.79 with left padding), so the kernel is not what costs there (a shared-prefix attention
might be: the agents' prompts share their system prompt). Top-p on recorded SmolLM2 logits,
8 rows: 2.1-3.1 ms against 0.39 for one row (``topk`` 0.56-0.71, the exp pass 0.40-0.58; in
1 of 11 steps one flat row made ``topk`` grow to k = 1024 for all 8 rows). The provider's
step takes no page faults (``ru_minflt``: 0 per 8-agent step; 34 with the auction's step).
Two what-if runs (one thread, CPU time, load 4-7, 3 and 5 rounds): of 51-62 ms per 8-agent
step, attention 7.0-7.4 ms, the products' extra rows 5.6-7.4, top-p about 2 (less the float64
softmax that replaces it); the one-agent step, whose products and attention the variants
barely change, moved by up to 3 ms: the noise of such a machine. Two-thread wall-clock
comparisons were not possible at a load of 5-7 on the 2 cores (steps of 150-1300 ms).

  python benchmarks/llm_profile.py                   # kernels and profile, the installed SmolLM2
  python benchmarks/llm_profile.py --part kernels --threads 1
  python benchmarks/llm_profile.py --part what-if --threads 1 --cpu-time --repeats 3 --steps 12
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from llm import equal_prompts  # noqa: E402
from machine import cpu_model  # noqa: E402

from tokenauction.llm.agents import LLMAgents, load_model  # noqa: E402
from tokenauction.llm.model import require_torch  # noqa: E402

#: (name, out, in) of the products of one SmolLM2-135M decode step, and how many a step has.
SHAPES = (("q, o", 576, 576, 60), ("k, v", 192, 576, 60), ("gate, up", 1536, 576, 60),
          ("down", 576, 1536, 30), ("output layer", 49152, 576, 1),
          ("q|k|v stacked", 960, 576, 0), ("gate|up stacked", 3072, 576, 0))
ROWS = (1, 2, 8)
#: Bytes of weights each timing cycles through, so that every product reads cold weights.
COLD_BYTES = 96 << 20


def product_ways(torch, weight):
    """name -> f(x) for the four ways of multiplying (rows, in) by ``weight`` (out, in)."""
    packed = torch.ops.mkldnn._reorder_linear_weight(weight)
    transposed = weight.t().contiguous()
    return {"packed": lambda x: torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], ""),
            "x@Wt": lambda x: torch.matmul(x, transposed),
            "W@xT": lambda x: torch.matmul(weight, x.T),
            "F.linear": lambda x: torch.nn.functional.linear(x, weight)}


def time_kernels(torch, clock, repeats: int) -> None:
    """Part 1: per shape and row count, the median us of each way, its GFLOP/s and GB/s."""
    print("\nshape | rows | " + " | ".join(f"{w} us (GFLOP/s, GB/s)" for w in
                                          ("packed", "x@Wt", "W@xT", "F.linear")))
    totals = {}
    for name, out, inp, count in SHAPES:
        copies = max(2, COLD_BYTES // (4 * out * inp))
        ways = [product_ways(torch, torch.randn(out, inp)) for _ in range(copies)]
        for rows in ROWS:
            x = torch.randn(rows, inp)
            cells = []
            for way in ways[0]:
                with torch.inference_mode():
                    for w in ways:
                        w[way](x)
                    samples = []
                    for _ in range(repeats):
                        start = clock()
                        for w in ways:
                            w[way](x)
                        samples.append((clock() - start) / copies)
                us = statistics.median(samples) * 1e6
                totals[(rows, way)] = totals.get((rows, way), 0.0) + count * us / 1e3
                cells.append(f"{us:7.0f} ({2 * rows * out * inp / us / 1e3:3.0f}, "
                             f"{4 * out * inp / us / 1e3:4.1f})")
            print(f"{name} {out}x{inp} | {rows} | " + " | ".join(cells), flush=True)
    flops = 2 * sum(out * inp * count for _, out, inp, count in SHAPES)
    for rows in ROWS:
        print(f"a decode step's products ({flops * rows / 1e9:.2f} GFLOP), {rows} rows: "
              + ", ".join(f"{way} {totals[(rows, way)]:.1f} ms" for way in ways[0]))


def profile_steps(torch, loaded, n: int, steps: int, rows: int) -> None:
    """Part 2: torch.profiler over ``steps`` decode steps of ``n`` agents."""
    from torch.profiler import ProfilerActivity, profile
    agents, prefix = LLMAgents(loaded, equal_prompts(n)), []
    for _ in range(4):  # the prefill and warm-up steps (first uses), not profiled
        prefix.append(int(agents(prefix).dists[0].argmax()))
    start = time.perf_counter()
    for _ in range(steps):
        prefix.append(int(agents(prefix).dists[0].argmax()))
    wall = (time.perf_counter() - start) * 1e3 / steps
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            prefix.append(int(agents(prefix).dists[0].argmax()))
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in events) / 1e3 / steps
    print(f"\n{n} agents: {wall:.1f} ms per step unprofiled; ops' self time {total:.1f} ms per "
          f"step profiled (the rest of a profiled step is Python, dispatch and the profiler)")
    for e in events[:rows]:
        ms = e.self_cpu_time_total / 1e3 / steps
        print(f"  {e.key:<52} {ms:7.2f} ms/step {ms / total:6.1%}  {e.count // steps:5d} calls/step")


def what_if(torch, loaded, ns, steps: int, rounds: int, clock) -> None:
    """Part 3: the ms per decode step of ``LLMAgents`` with n agents as it is ("as is") and
    with one piece made (nearly) free: attention returning zeros, top-p replaced by a float64
    softmax, every linear product computed on the first row only and broadcast. Wrong
    numbers, right attribution: what each piece costs inside a real step (cold weights, the
    KV cache, the allocator) rather than alone. Variants and n interleave, the order
    reversed every other round, after an uncounted warm-up round; medians over rounds of the
    per-step median."""
    import torch.nn.functional as F

    import tokenauction.llm.agents as agents_module
    linear_cls = next(type(m) for m in loaded.model.modules() if isinstance(m, torch.nn.Linear))
    saved = (F.scaled_dot_product_attention, agents_module.nucleus, linear_cls.forward)

    def first_row(self, x):
        y = saved[2](self, x[:1])
        return y.expand(x.shape[0], *y.shape[1:])
    variants = {"as is": saved,
                "no attention": (lambda q, k, v, **kw: torch.zeros_like(q),) + saved[1:],
                "no top-p": (saved[0], lambda logits, t, p: torch.softmax(logits.double(), -1),
                             saved[2]),
                "one-row products": saved[:2] + (first_row,)}
    got = {}
    try:
        for rnd in range(-1, rounds):  # round -1 is not counted: first uses land there
            order = list(variants.items()) if rnd % 2 == 0 else list(variants.items())[::-1]
            for n in ns:
                for name, (attention, nucleus, forward) in order:
                    F.scaled_dot_product_attention, agents_module.nucleus = attention, nucleus
                    linear_cls.forward = forward
                    agents, prefix, times = LLMAgents(loaded, equal_prompts(n)), [], []
                    for step in range(3 + steps):  # the prefill and two warm-up steps untimed
                        start = clock()
                        prefix.append(int(agents(prefix).dists[0].argmax()))
                        if step >= 3:
                            times.append((clock() - start) * 1e3)
                    if rnd >= 0:
                        got.setdefault((n, name), []).append(statistics.median(times))
    finally:
        F.scaled_dot_product_attention, agents_module.nucleus, linear_cls.forward = saved
    for n in ns:
        base = statistics.median(got[(n, "as is")])
        print(f"\n{n} agents: {base:.1f} ms per step as is; ms per step changed by: " + ", ".join(
            f"{name} {statistics.median(got[(n, name)]) - base:+.1f}" for name in variants
            if name != "as is"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("kernels", "profile", "what-if", "both"), default="both",
                    help="both = kernels and profile")
    ap.add_argument("--agents", default="1,8")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--rows", type=int, default=14, help="ops listed per profile")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--cpu-time", action="store_true",
                    help="time the kernels in this thread's CPU time (one thread on a shared machine)")
    args = ap.parse_args(argv)
    torch, _ = require_torch()
    if args.threads:
        torch.set_num_threads(args.threads)
    clock = time.thread_time if args.cpu_time else time.perf_counter
    print(f"CPU: {cpu_model()} (load average "
          f"{os.getloadavg()[0]:.1f}); float32, torch threads {torch.get_num_threads()}, "
          f"{'CPU' if args.cpu_time else 'wall'} time")
    if args.part in ("kernels", "both"):
        time_kernels(torch, clock, args.repeats)
    if args.part in ("profile", "both"):
        loaded = load_model(device="cpu")
        for n in (int(a) for a in args.agents.split(",")):
            profile_steps(torch, loaded, n, args.steps, args.rows)
    if args.part == "what-if":
        what_if(torch, load_model(device="cpu"), [int(a) for a in args.agents.split(",")],
                args.steps, args.repeats, clock)
    print(f"load average after {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    raise SystemExit(main())
