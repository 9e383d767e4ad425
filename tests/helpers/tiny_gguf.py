"""A tiny Llama GGUF file written from scratch (2 layers, 64 wide, a 300-token byte-level
vocabulary), so that tests exercise ``load_model(model="x.gguf")`` in seconds instead of
dequantizing the 135M-parameter model (about 35 s on 2 cores). Weights are float32 and
seeded; the file's own ``token_embd`` is returned as the oracle for the loaded embedding."""

from __future__ import annotations

from pathlib import Path

import numpy as np

HIDDEN, LAYERS, HEADS, KV_HEADS, FF = 64, 2, 4, 2, 128
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
                 "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
                 "{% endif %}")


def _byte_chars() -> list[str]:
    """GPT-2's byte-to-unicode table: the 256 single-character tokens of a byte-level BPE."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


def write_tiny_gguf(path: Path, seed: int = 0) -> np.ndarray:
    """Write the file; return its token embedding (vocab, HIDDEN) as float32."""
    import gguf
    rng = np.random.default_rng(seed)
    chars = _byte_chars()
    merges = ["Ġ a", "Ġ t", "h e", "i n", "Ġt he", "e r", "o n", "a n"]
    tokens = SPECIAL + chars + [m.replace(" ", "") for m in merges]
    types = [gguf.TokenType.CONTROL] * len(SPECIAL) + [gguf.TokenType.NORMAL] * (len(tokens) - 3)
    vocab = len(tokens)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(LAYERS)
    w.add_context_length(256)
    w.add_embedding_length(HIDDEN)
    w.add_feed_forward_length(FF)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(vocab)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_pad_token_id(0)
    w.add_chat_template(CHAT_TEMPLATE)

    def add(name, *shape):
        w.add_tensor(name, (rng.standard_normal(shape) * 0.05).astype(np.float32))

    embedding = (rng.standard_normal((vocab, HIDDEN)) * 0.05).astype(np.float32)
    w.add_tensor("token_embd.weight", embedding)
    head = HIDDEN // HEADS
    for k in range(LAYERS):
        add(f"blk.{k}.attn_q.weight", HIDDEN, HIDDEN)
        add(f"blk.{k}.attn_k.weight", KV_HEADS * head, HIDDEN)
        add(f"blk.{k}.attn_v.weight", KV_HEADS * head, HIDDEN)
        add(f"blk.{k}.attn_output.weight", HIDDEN, HIDDEN)
        add(f"blk.{k}.ffn_gate.weight", FF, HIDDEN)
        add(f"blk.{k}.ffn_up.weight", FF, HIDDEN)
        add(f"blk.{k}.ffn_down.weight", HIDDEN, FF)
        w.add_tensor(f"blk.{k}.attn_norm.weight", np.ones(HIDDEN, dtype=np.float32))
        w.add_tensor(f"blk.{k}.ffn_norm.weight", np.ones(HIDDEN, dtype=np.float32))
    w.add_tensor("output_norm.weight", np.ones(HIDDEN, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return embedding
