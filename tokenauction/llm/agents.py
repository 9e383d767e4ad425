"""LLM agents: every agent's next-token distribution from one batched forward.

theory §1: at each step every agent reports its LLM's next-token
distribution on the shared prefix (prompt + tokens so far); an optional
platform reference prompt reports ``p_0``. Here all agents are the same causal
LM, each with its own chat prompt, and the story of one generation is:

1. prefill: all prompts (+ the prefix so far) in ONE left-padded batch; keep
   the KV cache;
2. each later call appends the one token the auction sampled to every row and
   runs ONE forward of shape (rows, 1) on the cache;
3. the last position's logits become distributions (temperature, then top-p:
   ``tokenauction/llm/top_p.py``), returned as float64 ``Reports(dists, reference)`` to
   the auction. The KV cache grows in place (``tokenauction/llm/cache.py``).

Measured facts relied on: the GGUF tokenizer pads on the right, so we set
``padding_side="left"`` and build ``position_ids`` from the attention mask;
chat-templated text is tokenized with ``add_special_tokens=False``; on the CPU a
batched step of 8 agents costs about one single-prompt step (fp32, one thread: 50 against
46 ms of CPU on a 2-core AMD EPYC, with the small-batch linears ``load_model`` installs;
``benchmarks/llm.py`` measures the wall clock on every core), stepping them one by one
costs n times more; fp32 batched and single logits agree to 1e-4 (tested), bf16 ones
do not (see ``resolve_dtype``).
torch and transformers are imported lazily (``import mechanism`` stays numpy-only).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np

from mechanism.errors import InvalidInput
from tokenauction.llm.cache import growing_cache
from tokenauction.llm.model import LoadedModel, cache_dir, load_model, require_torch
from tokenauction.llm.top_p import nucleus

from mechanism.auction import Reports

__all__ = ["LLMAgents", "LoadedModel", "Reports", "cache_dir", "chat_token_ids",
           "single_prompt_step_ms",
           "load_model", "nucleus"]


def chat_token_ids(tokenizer, prompt: Mapping[str, str] | Sequence[Mapping[str, str]]) -> list[int]:
    """Token ids of a chat prompt, ready for the assistant's reply.

    ``prompt`` is ``{"system": ..., "user": ...}`` (system optional: the template
    then inserts its own default) or a list of ``{"role", "content"}`` messages.
    The template's text already holds the special tokens, so it is tokenized
    with ``add_special_tokens=False`` (measured on this project's machines)."""
    if isinstance(prompt, Mapping):
        unknown = set(prompt) - {"system", "user"}
        if "user" not in prompt or unknown:
            raise InvalidInput(f"a chat prompt needs a 'user' key and at most a 'system' key; "
                               f"got keys {sorted(prompt)}", value=prompt)
        messages = [{"role": r, "content": prompt[r]} for r in ("system", "user") if r in prompt]
    elif isinstance(prompt, Sequence) and not isinstance(prompt, str) and prompt:
        messages = list(prompt)
    else:
        raise InvalidInput("a chat prompt is a dict with 'system'/'user' or a list of messages; "
                           f"got {prompt!r}", value=prompt)
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


class LLMAgents:
    """A provider (docs/architecture.md): ``agents(prefix) -> Reports(dists, reference)``.

    ``dists`` has shape (n, V) and ``reference`` shape (V,) or is None; both are
    read-only float64 arrays, each row finite, non-negative, summing to 1.

    Temperature and top-p are applied to each agent's distribution BEFORE the
    auction aggregates them, so the distributions the rule sees are exactly the
    ones it mixes and samples from. the theory's properties (MON under the box order,
    stable sampling, the second-price payment identity) are statements about the
    rule applied to the reported ``p_i``; applying temperature or top-p after
    aggregation would sample from ``T(A(P, b))`` instead, a different rule, and
    one that is not MON: top-p (0.9) after the linear rule fails it for box (``p_i=(.01,.72,.27)``, others' mixture ``(.16,.53,.31)``,
    ``B=1``: raising ``b_i`` from 0 to 1 moves token 2 from 0.31 to 0.3169, away
    from agent i's 0.27, and token 0 from 0.16 to 0, below its 0.01). The
    exact zeros top-p leaves are what log-linear's veto acts on (theory §2).

    Calls, in order (the state is the KV cache of one generation):

    - the first call, a call with ``[]``, or the first call after ``reset()``
      prefills the prompts followed by ``prefix`` in one forward;
    - a call whose prefix extends the previous one by exactly one token runs
      one forward of shape (rows, 1): one forward per generated token for all
      agents and the reference together;
    - the same prefix again returns the same ``Reports`` object, no forward;
    - any other prefix raises ``InvalidInput`` (never a silent re-prefill, which
      would hide a bookkeeping bug in the caller and cost a full prefill).
    """

    def __init__(self, loaded: LoadedModel, prompts: Sequence, reference=None,
                 temperature: float = 0.7, top_p: float = 0.9):
        if not prompts:
            raise InvalidInput("LLMAgents needs at least one agent prompt")
        if not temperature >= 0 or not 0 < top_p <= 1:
            raise InvalidInput(f"need temperature >= 0 and 0 < top_p <= 1; got {temperature}, {top_p}",
                               value=(temperature, top_p))
        self.loaded = loaded
        self.model, self.tokenizer = loaded[0], loaded[1]
        self.prompts = list(prompts) + ([reference] if reference is not None else [])
        self.n, self.has_reference = len(prompts), reference is not None
        self.temperature, self.top_p = float(temperature), float(top_p)
        self.prompt_ids = [chat_token_ids(self.tokenizer, p) for p in self.prompts]
        self.vocab_size = self.model.get_output_embeddings().weight.shape[0]
        self.reset()

    @functools.cached_property
    def stop_token_ids(self) -> frozenset[int]:
        """Tokens that end a reply: the tokenizer's eos, the generation config's eos, <|im_end|>
        (read once: ``get_vocab`` builds the tokenizer's whole vocabulary, 0.12 s)."""
        tok, ids = self.tokenizer, {self.tokenizer.eos_token_id}
        eos = getattr(self.model.generation_config, "eos_token_id", None)
        ids.update(eos if isinstance(eos, (list, tuple)) else [eos])
        if "<|im_end|>" in tok.get_vocab():
            ids.add(tok.convert_tokens_to_ids("<|im_end|>"))
        return frozenset(i for i in ids if i is not None)

    def decode(self, ids: Sequence[int]) -> str:
        """Text of generated token ids, special tokens left out."""
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def reset(self) -> None:
        """Forget the KV cache: the next call prefills whatever prefix it gets."""
        self._prefix, self._cache, self._mask, self._reports = None, None, None, None

    def __call__(self, prefix: Sequence[int]) -> Reports:
        prefix = [int(t) for t in prefix]
        if prefix == self._prefix:
            return self._reports
        extends = (self._prefix is not None and len(prefix) == len(self._prefix) + 1
                   and prefix[:-1] == self._prefix)
        if self._prefix is not None and prefix and not extends:
            at = next((k for k, (a, b) in enumerate(zip(prefix, self._prefix)) if a != b),
                      min(len(prefix), len(self._prefix)))
            raise InvalidInput(
                f"prefix of length {len(prefix)} does not extend the previous prefix "
                f"(length {len(self._prefix)}) by exactly one token (first difference at "
                f"position {at}); call reset() to prefill a new prefix, or pass [] to start over",
                value=prefix)
        try:  # a forward that fails half-way leaves the cache unusable: start over next time
            logits = self._decode(prefix[-1]) if extends else self._prefill(prefix)
            probs = nucleus(logits, self.temperature, self.top_p).cpu().numpy()
        except BaseException:
            self.reset()
            raise
        probs.setflags(write=False)
        reference = probs[self.n] if self.has_reference else None
        self._prefix, self._reports = prefix, Reports(probs[:self.n], reference)
        return self._reports

    def _prefill(self, prefix: list[int]):
        torch, _ = require_torch()
        rows = [ids + prefix for ids in self.prompt_ids]
        width, pad = max(map(len, rows)), self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        return self._forward(input_ids, mask, growing_cache(self.model.config))

    def _decode(self, token: int):
        torch, _ = require_torch()
        return self._decode_tokens(torch.full((len(self.prompts),), token))

    def _decode_tokens(self, tokens):
        """One (rows, 1) forward on the cache, appending ``tokens[row]`` to each row."""
        torch, _ = require_torch()
        mask = torch.cat([self._mask, torch.ones_like(self._mask[:, :1])], dim=1)
        return self._forward(tokens[:, None], mask, self._cache)

    def _forward(self, input_ids, mask, cache):
        """One model call; position ids count only real tokens, so a left-padded
        row sees the same positions as it would alone. Only the last position's logits
        are computed (on the CPU the linear layers run as ``load_model`` sets them up:
        a few rows cost about one, see ``tokenauction.llm.model.use_small_batch_linears``)."""
        torch, _ = require_torch()
        device = self.model.device
        input_ids, mask = input_ids.to(device), mask.to(device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, -input_ids.shape[1]:]
        with torch.inference_mode():
            out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                             cache=cache, use_cache=True, logits_to_keep=1)
        self._cache, self._mask = out.cache, mask
        return out.logits[:, -1, :]

    def solo_generate(self, agent_index: int, max_tokens: int, greedy: bool = True,
                      seed: int | None = None) -> list[int]:
        """Generate for one prompt alone (index n is the reference), batch of one.

        Greedy takes the arg-max (= the arg-max of the raw logits, since
        temperature and top-p keep the order); else it samples the agent's
        distribution with ``numpy.random.default_rng(seed)``. Stops before a stop
        token, so the result is the reply's tokens. Tests compare it with the
        auction at bid share 0 and 1 (fp32: batched and single logits agree)."""
        if not 0 <= agent_index < len(self.prompts):
            raise InvalidInput(f"agent_index={agent_index}; expected 0..{len(self.prompts) - 1}",
                               value=agent_index, agent=agent_index)
        solo = LLMAgents(self.loaded, [self.prompts[agent_index]],
                         temperature=self.temperature, top_p=self.top_p)
        rng, stop, tokens = np.random.default_rng(seed), self.stop_token_ids, []
        while len(tokens) < max_tokens:
            p = solo(tokens).dists[0]
            token = int(np.argmax(p)) if greedy else int(rng.choice(len(p), p=p))
            if token in stop:
                break
            tokens.append(token)
        return tokens


#: The prompt :func:`single_prompt_step_ms` decodes (a short ad request, as in the demo).
TIMING_PROMPT = {"system": "You are an advertising copywriter.",
                 "user": "Write a one-sentence ad for Alpha Airlines about: Vacations in Hawaii"}


def single_prompt_step_ms(loaded: LoadedModel | None = None, *, device: str = "cpu",
                          tokens: int = 16, warmup: int = 3) -> float:
    """Median ms of one decode step of one prompt through :class:`LLMAgents` (the
    product's one-agent path: a (1, 1) forward on the KV cache, temperature and top-p),
    greedy on the reported distribution; the prefill and ``warmup`` steps are not timed.
    ``loaded`` defaults to the packaged model on ``device``. The benchmarks' unit of
    time (``benchmarks/step.py``)."""
    import time
    loaded = loaded or load_model(device=device)
    agent = LLMAgents(loaded, [TIMING_PROMPT])
    prefix, times = [], []
    for step in range(warmup + tokens + 1):
        start = time.perf_counter()
        p = agent(prefix).dists[0]
        prefix.append(int(np.argmax(p)))  # the reports are numpy: the device is synced
        if step > warmup:
            times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))
