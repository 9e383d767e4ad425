"""Temperature and top-p: the distribution each agent reports (theory §1), from its logits.

``nucleus_float64`` is the definition, computed the direct way in float64 over the whole
vocabulary. ``nucleus`` returns the same distributions (the same kept tokens, values within
1e-13 relative, as the tests check; about 3e-15 measured) at a fraction of the cost of a
decode step: the model's logits are float32, so their order is exactly the order of the float64 probabilities; the full-vocabulary work
(max, top-k, the normaliser) runs in float32, and float64 is computed only for the few
candidate tokens. The normaliser enters only the top-p DECISION (where the cumulative mass of
the sorted candidates first reaches ``top_p``), never the returned values (which are
``exp(x_j - max) / sum over kept``, the normaliser cancels). A row whose decision the float32
normaliser cannot settle for certain (a cumulative mass within :data:`DECISION_MARGIN` of
``top_p``, non-finite logits, a threshold logit near zero where distinct float32 logits may
share one float64 probability) is computed by the definition instead.

Error bound of the decision: each term ``exp((l - l_max) / T)`` is computed in float32 from
an argument ``a`` with relative error <= 2 * 2**-24; a term with ``a >= -30`` then carries a
relative error <= 30 * 1.2e-7 + (float32 exp's own, ~1e-7) < 3.9e-6, and the terms with
``a < -30`` are together at most ``V e**-30`` <= 1e-7 of the normaliser (which is >= 1, its
largest term being exactly 1) for ``V`` <= :data:`MAX_VOCAB`. The terms are summed in
float32 in blocks of :data:`BLOCK` (a sum of 16 non-negative terms, in any order, is off by at
most 15 * 2**-24 < 9e-7 relative) and the block sums in float64 (no float64 copy of the whole
vocabulary, which took 0.8-1.1 ms of an 8-agent SmolLM2 step in a one-thread profile on a
shared 2-core AMD EPYC; top-p on such rows, cold caches: 1.61 -> 1.37 ms): the normaliser's
relative error is below 3.9e-6 + 1e-7 + 9e-7 < 5e-6, so a cumulative mass (<= 1) is off by
less than 5e-6: :data:`DECISION_MARGIN` is twice that (the largest error measured on drawn and
boundary rows: 1.5e-7). On SmolLM2, 1 of the 216 rows of a 27-step 8-agent run lands within the
margin (flat rows pass ``top_p`` in small steps) and is computed by the definition.
"""

from __future__ import annotations

from tokenauction.llm.model import require_torch

#: Rows whose cumulative candidate mass lies within this of ``top_p`` go to the definition.
DECISION_MARGIN = 1e-5
#: Larger vocabularies take the definition (the error bound above assumes at most this).
MAX_VOCAB = 1_000_000
#: Terms summed in float32 per block before the float64 sum of the blocks (see above).
BLOCK = 16
#: A threshold logit of magnitude below this (times 1 + |max logit|) goes to the definition.
NEAR_ZERO_LOGIT = 1e-6


def nucleus_float64(logits, temperature: float = 0.7, top_p: float = 0.9):
    """Next-token distributions from logits of shape (rows, V), in float64 torch (the definition).

    ``softmax(logits / temperature)``, then top-p: per row find the smallest
    set of most likely tokens whose mass reaches ``top_p``; keep every token at
    least as likely as the least likely member of that set (so tied tokens are
    all kept or all dropped, and the result never depends on a sort order);
    set every other token to exactly 0; renormalize. ``temperature == 0`` gives
    the one-hot arg-max (greedy decoding, ties to the lower id); ``top_p == 1``
    keeps every token. Uses ``topk`` on a growing k, not a full sort of V."""
    torch, _ = require_torch()
    logits = logits.to(torch.float64)
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).to(torch.float64)
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p >= 1:
        return probs
    k, vocab = 64, probs.shape[-1]
    while True:
        top = torch.topk(probs, min(k, vocab), dim=-1).values  # descending
        reached = torch.cumsum(top, dim=-1) >= top_p
        if reached.any(-1).all() or k >= vocab:
            break
        k = _grow(k, vocab)
    last = torch.where(reached.any(-1), reached.to(torch.int8).argmax(-1), top.shape[-1] - 1)
    kept = torch.where(probs >= top.gather(-1, last[:, None]), probs, 0.0)
    return kept / kept.sum(-1, keepdim=True)


def block_sum(terms):
    """Row sums of non-negative float32 ``terms`` (rows, V) as float64: float32 sums of
    :data:`BLOCK` consecutive terms, then their float64 sum (error bound: module docstring)."""
    torch, _ = require_torch()
    rows, vocab = terms.shape
    cut = vocab - vocab % BLOCK
    total = terms[:, :cut].reshape(rows, cut // BLOCK, BLOCK).sum(-1).sum(-1, dtype=torch.float64)
    if cut < vocab:
        total = total + terms[:, cut:].sum(-1, dtype=torch.float64)
    return total


def _grow(k: int, vocab: int) -> int:
    return k * 16 if k * 16 <= vocab // 8 else vocab  # a flat row: one full sort beats many topks


def nucleus(logits, temperature: float = 0.7, top_p: float = 0.9):
    """:func:`nucleus_float64`'s distributions (same kept tokens; values within 1e-13
    relative), with the full-vocabulary work in float32 (see the module docstring). Logits
    that are not float32 (bf16, fp16, float64) and ``top_p == 1`` take the definition."""
    torch, _ = require_torch()
    if temperature == 0:  # the arg-max of float32 logits is the arg-max of their float64 copy
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).to(torch.float64)
    if (top_p >= 1 or logits.dtype != torch.float32 or logits.ndim != 2 or not logits.numel()
            or logits.shape[-1] > MAX_VOCAB):
        return nucleus_float64(logits, temperature, top_p)
    return _nucleus_from(logits, temperature, top_p, 64)


def _nucleus_from(logits, temperature: float, top_p: float, k: int):
    """:func:`nucleus` of float32 rows from their ``k`` most likely tokens; a row whose ``k``
    candidates do not reach ``top_p`` (a flat row) is computed again on its own with more
    (:func:`_grow`), so a row's candidates never depend on the other rows of its batch."""
    torch, _ = require_torch()
    rows, vocab = logits.shape
    k = min(k, vocab)
    vals, idx = torch.topk(logits, k, dim=-1)  # descending: the probs' order
    top_logit = vals[:, :1]
    scaled = (logits - top_logit).div_(temperature).exp_()
    norm, x_max = block_sum(scaled), top_logit.to(torch.float64) / temperature
    del scaled
    mass = torch.cumsum(torch.exp(vals.to(torch.float64) / temperature - x_max), -1)
    mass = mass / norm[:, None]
    low = mass >= top_p - DECISION_MARGIN
    done = low.any(-1) | (k >= vocab)  # the others take more candidates, below
    first = torch.where(low.any(-1), low.to(torch.int8).argmax(-1), vals.shape[-1] - 1)
    threshold = vals.gather(-1, first[:, None])
    certain = (low.any(-1) & (mass.gather(-1, first[:, None])[:, 0] >= top_p + DECISION_MARGIN)
               & torch.isfinite(norm) & torch.isfinite(top_logit[:, 0])
               & (threshold[:, 0].abs() >= NEAR_ZERO_LOGIT * (1 + top_logit[:, 0].abs())))
    if k >= vocab or bool(((vals[:, -1] < threshold[:, 0]) | ~done).all()):
        row, at = ((vals >= threshold) & certain[:, None]).nonzero(as_tuple=True)
        col = idx[row, at]  # every kept token is a candidate: the last candidate is below
    else:  # ties with the threshold may reach past the candidates: compare every token
        row, col = ((logits >= threshold) & certain[:, None]).nonzero(as_tuple=True)
    weight = torch.exp(logits[row, col].to(torch.float64) / temperature - x_max[row, 0])
    total = torch.zeros(rows, dtype=torch.float64, device=logits.device).index_add_(0, row, weight)
    out = torch.zeros(rows, vocab, dtype=torch.float64, device=logits.device)
    out[row, col] = weight / total[row]
    if not bool(certain.all()):
        unsure = (done & ~certain).nonzero(as_tuple=True)[0]
        if unsure.numel():
            out[unsure] = nucleus_float64(logits[unsure], temperature, top_p)
        later = (~done).nonzero(as_tuple=True)[0]
        if later.numel():
            out[later] = _nucleus_from(logits[later], temperature, top_p, _grow(k, vocab))
    return out
