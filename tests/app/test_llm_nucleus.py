"""``nucleus`` (float32 full-vocabulary work, float64 on the candidates) against its
definition ``nucleus_float64`` (tokenauction/llm/top_p.py): the same kept tokens on every
row, values within 1e-13 relative; rows the float32 normaliser cannot decide for certain
go to the definition. No model needed: logits are drawn or built here."""

import importlib.util

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    not importlib.util.find_spec("torch") or not importlib.util.find_spec("transformers"),
    reason="torch/transformers absent: pip install torch==2.13.0 'tokenauction[llm]'")


def same(logits, temperature=0.7, top_p=0.9):
    """Assert nucleus == nucleus_float64 on these logits (same support, values close)."""
    from tokenauction.llm.top_p import nucleus, nucleus_float64
    fast = nucleus(logits, temperature, top_p).numpy()
    want = nucleus_float64(logits, temperature, top_p).numpy()
    assert fast.dtype == np.float64 and fast.shape == want.shape
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(want))
    np.testing.assert_array_equal(fast > 0, want > 0)
    np.testing.assert_allclose(fast, want, rtol=1e-13, atol=0)
    return fast


def boundary_rows(top_p, rows=40, vocab=3000, seed=0):
    """float32 logits whose sorted probabilities reach ``top_p`` within ~1e-7 at some
    position: each row has a head of tokens made to sum to top_p, the rest a tail."""
    import torch
    rng = np.random.default_rng(seed)
    out = np.empty((rows, vocab), dtype=np.float64)
    for r in range(rows):
        head = rng.dirichlet(np.ones(1 + r % 7)) * top_p
        tail = rng.dirichlet(np.ones(vocab - head.size)) * (1 - top_p)
        tail = np.minimum(tail, head.min() * 0.999)  # the head stays on top
        tail *= (1 - top_p) / tail.sum()
        out[r] = np.log(np.concatenate([head, tail]))
    return torch.tensor(out * 0.7, dtype=torch.float32)


def test_drawn_logits_equal_the_definition():
    import torch
    g = torch.Generator().manual_seed(0)
    for rows, vocab, scale in [(1, 49152, 3.0), (8, 49152, 3.0), (5, 300, 4.0), (33, 1000, 0.5)]:
        logits = torch.randn(rows, vocab, generator=g) * scale
        logits[:, :10] += 8
        for temperature, top_p in [(0.7, 0.9), (1.0, 0.5), (0.3, 0.99), (2.0, 0.95)]:
            same(logits, temperature, top_p)


def test_flat_rows_grow_k_and_ties_beyond_k_are_kept():
    import torch
    logits = torch.full((3, 5000), -30.0)
    logits[0] = 0.0                    # uniform: 90% of 5000 tokens, one full sort
    logits[1, :200] = 5.0              # 200 tied tokens, 0.9 reached at about 180 > k = 64
    logits[2, 10:110] = 5.0            # 10 tokens hold 0.85, then 100 ties: 0.9 is reached
    logits[2, :10] = 5.0 + 0.7 * np.log(0.85 * 100 / (0.15 * 10))  # at the 34th tie, inside
    out = same(logits)                 # the first 64 candidates; ties go on past them
    assert (out[0] > 0).all() and (out[1, :200] > 0).all() and (out[1, 200:] == 0).all()
    assert (out[2, :110] > 0).all() and (out[2, 110:] == 0).all()
    alone = same(logits[2:])           # alone: the same row, the same distribution
    assert (alone[0, :110] > 0).all() and (alone[0, 110:] == 0).all()
    np.testing.assert_array_equal(alone[0] > 0, out[2] > 0)
    np.testing.assert_allclose(alone[0], out[2], rtol=1e-15, atol=0)


def test_a_flat_row_grows_k_on_its_own(monkeypatch):
    """Only the rows whose 64 candidates fall short of top_p take more: the 8-row decode
    step of SmolLM2 otherwise sorts 8 x 1024 candidates whenever one agent's row is flat."""
    import torch
    from tokenauction.llm.top_p import nucleus
    logits = torch.randn(6, 5000, generator=torch.Generator().manual_seed(3))
    logits[:, :5] += 12.0              # five peaked rows: 64 candidates are plenty
    logits[3] = 1.0 + 0.01 * logits[3]  # one nearly flat row
    calls, topk = [], torch.topk
    monkeypatch.setattr(torch, "topk", lambda x, k, **kw: calls.append((x.shape[0], k))
                        or topk(x, k, **kw))
    out = nucleus(logits).numpy()
    assert calls == [(6, 64), (1, 5000)]
    monkeypatch.setattr(torch, "topk", topk)
    np.testing.assert_allclose(out, same(logits), rtol=0, atol=0)


def test_rows_at_the_decision_boundary_take_the_definition():
    """Cumulative masses within 1e-7 of top_p: the float32 normaliser cannot settle them, so
    the definition decides (planted: DECISION_MARGIN = 0 makes this test fail)."""
    for top_p in (0.9, 0.5, 0.75):
        for seed in range(3):
            same(boundary_rows(top_p, seed=seed), 0.7, top_p)


def test_exact_degenerate_inputs_equal_the_definition():
    import torch
    from tokenauction.llm.top_p import nucleus
    logits = torch.randn(6, 400, generator=torch.Generator().manual_seed(1))
    logits[0, 3] = float("nan")                # nan: the definition's nan row
    logits[1, 5] = float("inf")                # +inf: the definition's nan row
    logits[2, 10:] = float("-inf")             # only 10 finite tokens
    logits[3] = 1e-30                          # a threshold logit near zero
    logits[3, :3] = torch.tensor([3e-30, 2e-30, 1.5e-30])
    logits[4, 7] = 80.0                        # one token holds all the mass
    same(logits)
    greedy = nucleus(logits[2:], temperature=0).numpy()
    np.testing.assert_array_equal(greedy.argmax(1), logits[2:].numpy().argmax(1))
    assert ((greedy == 0) | (greedy == 1)).all() and (greedy.sum(1) == 1).all()
    same(logits[2:], 0.7, 1.0)                 # top_p = 1: the whole softmax


def test_other_dtypes_take_the_definition():
    import torch
    logits = torch.randn(4, 500, generator=torch.Generator().manual_seed(2)) * 3
    for dtype in (torch.float64, torch.bfloat16, torch.float16):
        same(logits.to(dtype))
