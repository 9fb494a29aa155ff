#!/usr/bin/env python3
"""Writes Telltale's tiny test model: a real GGUF file (llama architecture, about 4 MB) with a
byte-level BPE vocabulary trained here on the built-in text below, and random weights from a fixed
seed. It writes only whole words of that text: its completions are readable words, never a lone byte
of the byte-level vocabulary. The same command always writes the same bytes, so tests and benchmarks can regenerate it.

Usage: scripts/make-tiny-model.py [--output models/tiny.gguf]
Needs the PyPI packages gguf and numpy (scripts/setup.sh installs them).
"""
import argparse
import os
import re
import sys
import tempfile
from collections import Counter

import numpy as np
import gguf

# The training text for the vocabulary. Written for this project; any plain ASCII prose works.
CORPUS = """
Telltale watches the network of this machine and says, with evidence, what each program sent and to
whom. A local model runs on the machine so that nothing leaves it: the prompt stays here, the answer
stays here, and the weights are read from a file on the disk. The monitor captures every packet on
every interface, groups the packets into flows, and names the program behind each flow. When a flow
goes to the internet, the report says so; when nothing left the machine, the report says that too.
The runner loads the model, splits the prompt into tokens, decodes them in a batch, and samples the
next token again and again until the answer is long enough or the model says it is done. Greedy
sampling always takes the most likely token; temperature sampling with a seed draws from the
distribution, and the same seed draws the same tokens. The server speaks the protocol that chat
programs expect, on the loopback address only, and streams the answer as events while it is made.
Privacy is a promise that can be checked: the packets are the witness, the process table names the
speaker, and the verdict is written down with the time, the interfaces, the counts and the flows.
A model file has a header, a table of metadata, a list of tensors and then the data of the tensors.
The header begins with four letters and a version; a file that does not begin with them is not a
model, and a file that ends before its last tensor is cut short. Numbers like 0, 1, 2, 3, 4, 5, 6,
7, 8, 9, 10, 42, 128, 256 and 1024 appear in counts; words like packet, flow, socket, process,
address, port, loopback, namespace, interface, capture, report and verdict appear in every line.
"""

# The pre-tokenizer of GPT-2, over ASCII classes: the corpus is ASCII, and llama.cpp applies the
# same split ("gpt-2" pre-tokenizer) before it looks for merges.
PRE_SPLIT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def byte_symbols():
    """The byte-level alphabet: each byte as a printable character (GPT-2's mapping)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, codes)}


def train_bpe(text, merges_wanted):
    """Learns up to merges_wanted merges; ties go to the smallest pair so the result is stable."""
    symbols = byte_symbols()
    words = Counter(tuple(symbols[b] for b in piece.encode("utf-8")) for piece in PRE_SPLIT.findall(text))
    merges = []
    for _ in range(merges_wanted):
        pairs = Counter()
        for word, count in words.items():
            for a, b in zip(word, word[1:]):
                pairs[(a, b)] += count
        if not pairs:
            break
        best_count = max(pairs.values())
        if best_count < 2:
            break
        best = min(p for p, c in pairs.items() if c == best_count)
        merges.append(best)
        joined = best[0] + best[1]
        merged_words = Counter()
        for word, count in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(joined)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged_words[tuple(out)] += count
        words = merged_words
    return [symbols[b] for b in range(256)], merges


def main():
    parser = argparse.ArgumentParser(description="Write Telltale's tiny deterministic GGUF test model.")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "..", "models", "tiny.gguf"))
    parser.add_argument("--seed", type=int, default=2)
    args = parser.parse_args()

    alphabet, merges = train_bpe(CORPUS, merges_wanted=700)
    tokens = alphabet + [a + b for a, b in merges]
    # A merge can rebuild a string an earlier merge already made; the vocabulary keeps the first.
    seen, unique = set(), []
    for t in tokens:
        if t not in seen:
            seen.add(t)
            unique.append(t)
    tokens = unique + SPECIAL_TOKENS
    token_types = [gguf.TokenType.NORMAL] * len(unique) + [gguf.TokenType.CONTROL] * len(SPECIAL_TOKENS)
    n_vocab = len(tokens)
    endoftext = tokens.index("<|endoftext|>")

    n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx = 128, 4, 4, 2, 384, 512
    head_dim = n_embd // n_head
    rng = np.random.default_rng(args.seed)

    def weight(rows, cols, scale):
        # numpy shape (rows, cols) is ggml's [cols, rows]: cols is the input dimension.
        return (rng.standard_normal((rows, cols)) * scale).astype(np.float32)

    output = os.path.abspath(args.output)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=".tiny-", suffix=".gguf", dir=os.path.dirname(output))
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(partial, "llama")
        writer.add_name("telltale-tiny")
        writer.add_context_length(n_ctx)
        writer.add_embedding_length(n_embd)
        writer.add_block_count(n_layer)
        writer.add_feed_forward_length(n_ff)
        writer.add_head_count(n_head)
        writer.add_head_count_kv(n_head_kv)
        writer.add_rope_dimension_count(head_dim)
        writer.add_rope_freq_base(10000.0)
        writer.add_layer_norm_rms_eps(1e-5)
        writer.add_file_type(gguf.LlamaFileType.ALL_F32)
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre("gpt-2")
        writer.add_token_list(tokens)
        writer.add_token_types(token_types)
        writer.add_token_merges([f"{a} {b}" for a, b in merges])
        writer.add_bos_token_id(endoftext)
        writer.add_eos_token_id(endoftext)
        writer.add_add_bos_token(False)
        writer.add_chat_template(CHAT_TEMPLATE)

        # Every embedding shares a large first component, and the output rows of the control tokens
        # point against it: random weights would otherwise end a completion with <|endoftext|>
        # every hundred tokens or so, and tests and benchmarks want the length they asked for.
        embeddings = weight(n_vocab, n_embd, 1.0)
        embeddings[:, 0] = 4.0
        writer.add_tensor("token_embd.weight", embeddings)
        for i in range(n_layer):
            writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
            writer.add_tensor(f"blk.{i}.attn_q.weight", weight(n_embd, n_embd, 0.09))
            writer.add_tensor(f"blk.{i}.attn_k.weight", weight(n_head_kv * head_dim, n_embd, 0.09))
            writer.add_tensor(f"blk.{i}.attn_v.weight", weight(n_head_kv * head_dim, n_embd, 0.09))
            writer.add_tensor(f"blk.{i}.attn_output.weight", weight(n_embd, n_embd, 0.09))
            writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
            writer.add_tensor(f"blk.{i}.ffn_gate.weight", weight(n_ff, n_embd, 0.09))
            writer.add_tensor(f"blk.{i}.ffn_up.weight", weight(n_ff, n_embd, 0.09))
            writer.add_tensor(f"blk.{i}.ffn_down.weight", weight(n_embd, n_ff, 0.05))
        writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
        # Logits with a spread of a few units, so temperature sampling has choices to make.
        output_rows = weight(n_vocab, n_embd, 0.25)
        # Only whole words of the corpus (and its punctuation) may be produced: every other token
        # (control tokens, lone bytes, pieces of words) points against the shared first component,
        # so a completion is a run of readable words and never an invalid UTF-8 sequence.
        words = set(PRE_SPLIT.findall(CORPUS))
        decoded = {c: b for b, c in byte_symbols().items()}
        producible = 0
        for index, token in enumerate(tokens):
            text = None
            if token_types[index] == gguf.TokenType.NORMAL:
                text = bytes(decoded[c] for c in token).decode("utf-8", errors="replace")
            # A word follows a space; punctuation stands alone.
            if text in words and not text.isspace() and (text.startswith(" ") or not any(ch.isalnum() for ch in text)):
                producible += 1
                continue
            output_rows[index] = 0.0
            output_rows[index, 0] = -8.0
        assert producible > 50, "too few whole-word tokens to write with"
        writer.add_tensor("output.weight", output_rows)

        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.chmod(partial, 0o644)
        os.replace(partial, output)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
    print(f"{output}: {n_vocab} tokens ({len(merges)} merges), {n_layer} layers, n_embd {n_embd}", file=sys.stderr)
    print(output)


if __name__ == "__main__":
    main()
