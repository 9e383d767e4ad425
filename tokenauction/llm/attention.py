"""Attention of a batched decode step as two batched products.

A decode step of n agents asks attention for one new position per row: per row and key/value
head, the ``H / G`` query heads that share the head (grouped-query attention) against that
row's cached keys and values. transformers' ``sdpa`` path hands this to torch's fused CPU
kernel one (row, query head) at a time; for one row that is the fastest way, for several rows
its per-pair work dominates. :func:`decode_attention` computes the same attention (theory §1:
each agent's next-token distribution is its own model's, so every row attends only to its own
cache) as ``softmax(q K^T * scale) V`` with two ``torch.bmm`` over all (row, key/value head)
pairs at once, each pair a ``(H / G) x D`` by ``D x L`` product, on the cache's views (no
copy of the keys or values). Only the summation order differs from the fused kernel
(tests/app/test_llm_attention.py: within 1e-5 on the outputs, within 1e-4 on the model's
logits, the same greedy tokens). Measured on a 2-core AMD EPYC shared with other work, one
thread, CPU time, the two ways stepped alternately: an 8-agent SmolLM2 decode step 3-5%
faster (attention is about 14% of that step, about 1% of a one-row step).

torch and transformers are imported inside the functions (``tokenauction/llm/model.py``
installs this on the models it loads). Everything else (prefill, one row, dropout, masks that are neither boolean nor additive
floats, a row with no position to attend to, extra arguments such as softcapping or position
biases, a device other than the CPU) is passed to transformers' ``sdpa_attention_forward``.
"""

from __future__ import annotations

#: The name :func:`use_decode_attention` registers with transformers' attention interface.
NAME = "tokenauction_decode"
#: Keyword arguments that change what ``sdpa_attention_forward`` does: when one is set, it does.
SDPA_OWN = ("softcap", "position_bias", "output_attentions")


def decode_attention(module, query, key, value, attention_mask, dropout: float = 0.0,
                     scaling: float | None = None, is_causal=None, **kwargs):
    """transformers' attention-function signature: ``query`` (B, H, Q, D), ``key``/``value``
    (B, G, L, D) -> (output (B, Q, H, D), None). Rows B > 1 with Q == 1 take the two batched
    products (module docstring), anything else ``sdpa_attention_forward``."""
    import torch  # imported already: the model calling this runs on it
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    rows, heads, positions, dim = query.shape
    groups = key.shape[1]
    mask = attention_mask
    if (positions != 1 or rows == 1 or any(kwargs.get(k) for k in SDPA_OWN)
            or (dropout and module.training)
            or query.device.type != "cpu" or heads % groups or value.shape[-1] != dim
            or mask is not None and not _usable_mask(torch, mask, rows, key.shape[2])):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                      scaling=scaling, is_causal=is_causal, **kwargs)
    share = heads // groups  # query heads per key/value head, adjacent as in repeat_kv
    scale = dim ** -0.5 if scaling is None else scaling
    scores = torch.bmm(query.reshape(rows * groups, share, dim), key.flatten(0, 1).transpose(1, 2))
    scores = scores.view(rows, groups, share, -1).mul_(scale)
    if mask is not None:
        scores = (scores.masked_fill_(~mask, float("-inf")) if mask.dtype == torch.bool
                  else scores.add_(mask))
    weights = torch.softmax(scores, dim=-1).view(rows * groups, share, -1)
    out = torch.bmm(weights, value.flatten(0, 1))
    return out.view(rows, 1, heads, dim), None


def _usable_mask(torch, mask, rows: int, length: int) -> bool:
    """A boolean (attend = True) or additive float mask of shape (B or 1, 1, 1, L) in which
    every row keeps at least one position (a row with none is left to sdpa's convention)."""
    if mask.ndim != 4 or mask.shape[1:3] != (1, 1) or mask.shape[-1] != length:
        return False
    if mask.shape[0] not in (1, rows):
        return False
    if mask.dtype == torch.bool:
        return bool(mask.any(-1).all())
    return mask.is_floating_point() and bool((mask > float("-inf")).any(-1).all())


def use_decode_attention(model) -> bool:
    """Register :func:`decode_attention` with transformers (once per process) and make
    ``model`` use it where it used ``sdpa``; returns whether the model was switched (a model
    on another attention implementation, e.g. ``eager``, is left as it is)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask
    if getattr(model.config, "_attn_implementation", None) not in ("sdpa", NAME):
        return False
    AttentionInterface.register(NAME, decode_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)  # the masks sdpa gets
    model.set_attn_implementation(NAME)
    return True
