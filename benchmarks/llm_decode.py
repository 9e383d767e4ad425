"""Decode throughput of the LLM provider (mechanism/llm.py), independent of the auction.

For n agents it times one generated token three ways:
  batched   LLMAgents: one (n, 1) forward on the KV cache + temperature/top-p
  one-by-one  n single-agent LLMAgents, each stepped in turn (n forwards per token)
  single    plain ``model.generate`` of one prompt (greedy), the speed to compare with

shared/LLM.md measured (bf16, 2 threads) 32 / 34 / 34 / 36 ms per batched step for
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
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mechanism.llm import LLMAgents, LoadedModel, load_model  # noqa: E402
from mechanism.llm_model import require_torch, resolve_device, resolve_dtype  # noqa: E402

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


def sync(torch) -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def time_steps(providers, tokens: int, warmup: int, torch) -> float:
    """ms per generated token: each step calls every provider once on the shared prefix."""
    prefix = []
    for step in range(warmup + tokens):
        if step == warmup:
            sync(torch)
            start = time.perf_counter()
        reports = [p(prefix) for p in providers]
        prefix.append(int(reports[0].dists[0].argmax()))
    sync(torch)
    return (time.perf_counter() - start) * 1000 / tokens


def time_generate(loaded: LoadedModel, prompt: list[int], tokens: int, torch) -> float:
    """ms per token of plain greedy ``generate`` (prefill cost removed: T tokens minus 1)."""
    ids = torch.tensor([prompt], device=loaded.model.device)

    def run(new: int) -> float:
        sync(torch)
        start = time.perf_counter()
        with torch.inference_mode():
            loaded.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                  max_new_tokens=new, min_new_tokens=new,
                                  pad_token_id=loaded.tokenizer.pad_token_id)
        sync(torch)
        return time.perf_counter() - start

    run(2)  # warm-up
    return (run(tokens + 1) - run(1)) * 1000 / tokens


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
    args = ap.parse_args(argv)
    torch, transformers = require_torch()
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
    single_ms = time_generate(loaded, single_prompt, args.tokens, torch)
    print(f"single-prompt generate: {single_ms:.1f} ms/token ({1000 / single_ms:.1f} tokens/s)\n")
    print(f"{'agents':>6} {'batched ms/step':>16} {'tokens/s':>9} {'vs single':>10} "
          f"{'one-by-one ms/step':>19} {'batching speedup':>17}")
    for n in [int(x) for x in args.agents.split(",")]:
        batched = time_steps([LLMAgents(loaded, make_prompts(n))], args.tokens, args.warmup, torch)
        alone = [LLMAgents(loaded, [p]) for p in make_prompts(n)]
        serial = time_steps(alone, args.tokens, args.warmup, torch)
        print(f"{n:>6} {batched:>16.1f} {1000 / batched:>9.1f} {single_ms / batched:>9.0%} "
              f"{serial:>19.1f} {serial / batched:>16.1f}x", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    raise SystemExit(main())
