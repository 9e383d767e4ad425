"""Decode throughput of the LLM provider (tokenauction/llm/agents.py), independent of the auction.

For n agents it times one generated token three ways:
  batched   LLMAgents: one (n, 1) forward on the KV cache + temperature/top-p
  one-by-one  n single-agent LLMAgents, each stepped in turn (n forwards per token)
  single    plain greedy decoding of one prompt ((1, 1) forward + arg-max), the baseline

we measured (bf16, 2 threads) 32 / 34 / 34 / 36 ms per batched step for
1-4 agents; fp32 is 2-3x slower. The issue's target: batched at 4 agents reaches at
least 80% of single-prompt decode speed (in tokens of the joint text per second).

  python benchmarks/llm_decode.py                      # SmolLM2-135M, cpu/auto, fp32
  python benchmarks/llm_decode.py --dtype bfloat16
  python benchmarks/llm_decode.py --device cuda --random-init        # ~1B Llama, no weights
  python benchmarks/llm_decode.py --random-init --layers 2 --tokens 8  # CPU smoke test
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tokenauction.llm.agents import LLMAgents, LoadedModel, load_model  # noqa: E402
from tokenauction.llm.model import require_torch, resolve_device, resolve_dtype  # noqa: E402

SYSTEM = "You are an advertising copywriter. Always mention the exact brand name from the request."
BRANDS = ["Alpha Airlines", "Beta Resort", "Gamma Tours", "Delta Diving",
          "Epsilon Eats", "Zeta Zipline", "Eta Hotels", "Theta Surf"]


def prompts(n: int) -> list[dict]:
    """n chat prompts of different lengths, so the batch really is left-padded."""
    return [{"system": SYSTEM, "user": f"Write a one-sentence ad for {b} about: Vacations in Hawaii"
             + " Keep it short." * (i % 3)} for i, b in enumerate(BRANDS[:n])]


def random_llama(device: str, dtype, layers: int | None) -> LoadedModel:
    """A randomly initialized ~1.1B Llama (Llama-3.2-1B shapes, 49152-token vocab) and a
    word-level stand-in tokenizer ("w17" is token 17): throughput needs no weights."""
    torch, transformers = require_torch()
    from tokenizers import Tokenizer, models, pre_tokenizers
    vocab = 49152
    words = Tokenizer(models.WordLevel({f"w{i}": i for i in range(vocab)}, unk_token="w3"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=words, pad_token="w0", eos_token="w2", unk_token="w3", padding_side="left")
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}"
    config = transformers.LlamaConfig(
        vocab_size=vocab, hidden_size=2048, intermediate_size=8192, num_hidden_layers=layers or 16,
        num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=4096,
        tie_word_embeddings=True, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    with torch.device(device):
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=dtype)
    return LoadedModel(model.eval(), tokenizer, f"random-init:{config.num_hidden_layers} layers")


def random_prompts(n: int) -> list[dict]:
    """For the stand-in tokenizer: user texts of 40-47 random words, different lengths."""
    import random
    rng = random.Random(0)
    return [{"user": " ".join(f"w{rng.randrange(10, 49152)}" for _ in range(40 + i))} for i in range(n)]


#: What the benchmarks time with: the wall clock, or (``--cpu-time``, one thread) the process's
#: CPU time, which other work sharing the cores does not inflate by taking turns on them.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_CLOCK = [time.perf_counter]


def now() -> float:
    """Seconds on the clock chosen by :func:`use_clock` (default: the wall clock)."""
    return _CLOCK[0]()


def use_clock(name: str) -> None:
    """Time with ``CLOCKS[name]`` from now on."""
    _CLOCK[0] = CLOCKS[name]


def sync(torch) -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


class ForwardClock:
    """Time spent inside the model's decoder stack (hooks), to split a step into the
    forward and the provider's own work (output layer, temperature, top-p, copies)."""

    def __init__(self, model, torch):
        self.total, self.torch = 0.0, torch
        decoder = model.get_decoder()  # called by both LLMAgents paths and by generate
        self.hooks = [decoder.register_forward_pre_hook(self.enter),
                      decoder.register_forward_hook(self.leave)]

    def enter(self, *_):
        sync(self.torch)
        self.start = now()

    def leave(self, *_):
        sync(self.torch)
        self.total += (now() - self.start) * 1000

    def remove(self):
        for hook in self.hooks:
            hook.remove()


def time_steps(providers, tokens: int, warmup: int, torch) -> tuple[list[float], list[float]]:
    """ms of each generated token, and of its forwards: each step calls every provider
    once on the shared prefix. Steps 0..warmup (0 is the prefill) are not timed."""
    prefix, times, forwards = [], [], []
    clock = ForwardClock(providers[0].model, torch)
    try:
        for step in range(warmup + tokens + 1):
            sync(torch)
            clock.total, start = 0.0, now()
            reports = [p(prefix) for p in providers]
            prefix.append(int(reports[0].dists[0].argmax()))
            sync(torch)
            if step > warmup:
                times.append((now() - start) * 1000)
                forwards.append(clock.total)
    finally:
        clock.remove()
    return times, forwards


def time_single(loaded: LoadedModel, prompt: list[int], tokens: int, warmup: int, torch) -> list[float]:
    """ms of each token of plain greedy decoding of one prompt: a (1, 1) forward on
    the KV cache and an arg-max, nothing else (what ``generate`` does, minus its overhead)."""
    _, transformers = require_torch()
    ids, cache, times = torch.tensor([prompt], device=loaded.model.device), None, []
    cache = transformers.DynamicCache(config=loaded.model.config)
    with torch.inference_mode():
        for step in range(warmup + tokens + 1):
            sync(torch)
            start = now()
            logits = loaded.model(input_ids=ids, cache=cache, use_cache=True, logits_to_keep=1).logits
            ids = logits[:, -1].argmax(-1, keepdim=True)
            int(ids[0, 0])
            sync(torch)
            if step > warmup:  # step 0 is the prefill
                times.append((now() - start) * 1000)
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    ap.add_argument("--dtype", default=None, help="float32 (default) | bfloat16 | float16")
    ap.add_argument("--model", default=None, help="a local transformers model folder")
    ap.add_argument("--random-init", action="store_true", help="random ~1B Llama (no weights needed)")
    ap.add_argument("--layers", type=int, default=None, help="with --random-init: fewer layers")
    ap.add_argument("--agents", default="1,2,4,8", help="comma-separated agent counts")
    ap.add_argument("--tokens", type=int, default=32, help="timed tokens per measurement")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = ap.parse_args(argv)
    torch, transformers = require_torch()
    if args.threads:
        torch.set_num_threads(args.threads)
    device, dtype = resolve_device(args.device), resolve_dtype(args.dtype)

    start = time.perf_counter()
    if args.random_init:
        loaded = random_llama(device, dtype, args.layers)
        make_prompts = random_prompts
    else:
        loaded = load_model(args.model, device=device, dtype=dtype)
        make_prompts = prompts
    load_s = time.perf_counter() - start
    params = sum(p.numel() for p in loaded.model.parameters()) / 1e6
    print(f"model {loaded.source} ({params:.0f} M params), device {device}, dtype {dtype}, "
          f"torch threads {torch.get_num_threads()}, load {load_s:.1f} s, "
          f"torch {torch.__version__}, transformers {transformers.__version__}")

    single_prompt = LLMAgents(loaded, make_prompts(1)).prompt_ids[0]
    single = statistics.median(time_single(loaded, single_prompt, args.tokens, args.warmup, torch))
    print(f"single-prompt decode: {single:.1f} ms/token ({1000 / single:.1f} tokens/s)")
    print(f"medians over {args.tokens} tokens; [min] is less disturbed by other load on the machine\n")
    print("agents | batched ms/step [min] | forward share | tokens/s | vs single "
          "| one-by-one ms/step [min] | batching speedup")
    for n in [int(x) for x in args.agents.split(",")]:
        batched, forwards = time_steps([LLMAgents(loaded, make_prompts(n))], args.tokens,
                                       args.warmup, torch)
        alone = [LLMAgents(loaded, [p]) for p in make_prompts(n)]
        serial, _ = time_steps(alone, args.tokens, args.warmup, torch)
        b, s = statistics.median(batched), statistics.median(serial)
        share = statistics.median(f / t for f, t in zip(forwards, batched))
        print(f"{n:>6} | {b:>13.1f} [{min(batched):>5.1f}] | {share:>13.0%} | {1000 / b:>8.1f} "
              f"| {single / b:>9.0%} | {s:>16.1f} [{min(serial):>5.1f}] | {s / b:>15.1f}x",
              flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    raise SystemExit(main())
