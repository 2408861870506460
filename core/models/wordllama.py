"""Pretrained token embeddings for text, offline: the ``wordllama`` wheel (MIT) ships a 32,000 x 256 embedding table
(``wordllama/weights/l2_supercat_256.safetensors``, distilled from Llama-2-family models) and its Llama-2 BPE
tokenizer (``wordllama/tokenizers/l2_supercat_tokenizer_config.json``). Its own loader looks for the tokenizer in
the wrong folder and then tries to download it, so the two files are read here directly, without importing the
package and without the ``safetensors`` / ``tokenizers`` libraries (both small formats, written out below).

- ``read_safetensors(path)``: the safetensors format is an 8-byte little-endian header length, a JSON header
  (name -> dtype, shape, byte offsets) and the raw little-endian tensors.
- ``BPETokenizer``: Llama-2's normaliser (prepend '▁', spaces -> '▁'), then byte-pair merges by rank over the whole
  string (no pre-tokeniser), characters outside the vocabulary as their UTF-8 bytes ``<0xNN>`` (byte fallback).
- ``vocab_vectors(itos)``: one 256-d vector per word of a lab vocabulary (mean of the word's sub-word vectors), the
  way pretrained vectors enter the lab's own text models; ``sentence_vectors(texts)``: mean-pooled sentences.

>>> emb = WordLlama.load()                              # doctest: +SKIP   (needs the wordllama wheel installed)
>>> emb.sentence_vectors(["a fine film", "dull"]).shape  # doctest: +SKIP
torch.Size([2, 256])
"""
from __future__ import annotations

import importlib.util
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

WEIGHTS = "weights/l2_supercat_256.safetensors"
TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64, "BF16": None, "I64": np.int64, "I32": np.int32}


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor of a .safetensors file, as float32 / int CPU tensors (no code runs from the file)."""
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        buf = raw[8 + n + start:8 + n + end]
        if info["dtype"] == "BF16":  # bfloat16 is the upper half of a float32
            arr = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(buf, dtype=np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<"))
        t = torch.from_numpy(arr.reshape(info["shape"]).copy())
        out[name] = t.float() if t.is_floating_point() else t
    return out


class BPETokenizer:
    """A Hugging Face ``tokenizer.json`` BPE model with Llama-2's normaliser and byte fallback (encode only)."""

    def __init__(self, vocab: dict[str, int], merges: list, unk: str = "<unk>", byte_fallback: bool = True):
        self.vocab, self.unk, self.byte_fallback = vocab, unk, byte_fallback
        pairs = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in merges]
        self.ranks = {p: i for i, p in enumerate(pairs)}

    @classmethod
    def from_file(cls, path: str | Path) -> "BPETokenizer":
        """Read a tokenizer.json whose model is BPE."""
        model = json.loads(Path(path).read_text(encoding="utf-8"))["model"]
        if model.get("type") != "BPE":
            raise ValueError(f"not a BPE tokenizer: {model.get('type')!r}")
        return cls(model["vocab"], model["merges"], model.get("unk_token") or "<unk>",
                   bool(model.get("byte_fallback")))

    def tokens(self, text: str) -> list[str]:
        """The sub-word strings of ``text`` ('▁' marks a word start)."""
        if not text:
            return []  # the Prepend normaliser leaves an empty string empty
        symbols = list("▁" + text.replace(" ", "▁"))
        while len(symbols) > 1:
            ranked = [(self.ranks.get((a, b), None), i) for i, (a, b) in enumerate(zip(symbols, symbols[1:]))]
            ranked = [(r, i) for r, i in ranked if r is not None]
            if not ranked:
                break
            _, i = min(ranked)  # the lowest-ranked pair, leftmost first
            symbols[i:i + 2] = [symbols[i] + symbols[i + 1]]
        return symbols

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no <s>): known sub-words by id, unknown ones as UTF-8 bytes, else <unk>."""
        ids = []
        for s in self.tokens(text):
            if s in self.vocab:
                ids.append(self.vocab[s])
            elif self.byte_fallback and all(f"<0x{b:02X}>" in self.vocab for b in s.encode("utf-8")):
                ids += [self.vocab[f"<0x{b:02X}>"] for b in s.encode("utf-8")]
            else:
                ids.append(self.vocab.get(self.unk, 0))
        return ids


def find_files(root: str | Path | None = None) -> tuple[Path, Path] | None:
    """(weights, tokenizer) from ``root`` (a folder holding ``weights/`` and ``tokenizers/``) or from the installed
    ``wordllama`` package (located without importing it); None when neither is there."""
    if root is None:
        spec = importlib.util.find_spec("wordllama")
        if spec is None or not spec.submodule_search_locations:
            return None
        root = list(spec.submodule_search_locations)[0]
    weights, tokenizer = Path(root) / WEIGHTS, Path(root) / TOKENIZER
    return (weights, tokenizer) if weights.is_file() and tokenizer.is_file() else None


@dataclass
class WordLlama:
    """The embedding table (V, D) and its tokenizer."""

    embedding: torch.Tensor  # (32000, 256) float32
    tokenizer: BPETokenizer

    @classmethod
    def load(cls, root: str | Path | None = None) -> "WordLlama":
        """From ``root`` or the installed wheel; ``FileNotFoundError`` saying what to install otherwise."""
        files = find_files(root)
        if files is None:
            raise FileNotFoundError("pretrained token embeddings need the wordllama package (pip install wordllama; "
                                    "MIT licence, 19 MB, nothing downloaded at run time)")
        weights = read_safetensors(files[0])
        return cls(weights["embedding.weight"], BPETokenizer.from_file(files[1]))

    def sentence_vectors(self, texts: list[str]) -> torch.Tensor:
        """(N, D): the mean of each sentence's sub-word vectors (zeros for an empty sentence)."""
        out = torch.zeros(len(texts), self.embedding.shape[1])
        for i, text in enumerate(texts):
            ids = self.tokenizer.encode(text)
            if ids:
                out[i] = self.embedding[ids].mean(0)
        return out

    def vocab_vectors(self, itos: list[str]) -> torch.Tensor:
        """(len(itos), D): each word of a lab vocabulary as the mean of its sub-word vectors ('▁word'); specials
        like <pad> and <unk> get zeros."""
        out = torch.zeros(len(itos), self.embedding.shape[1])
        for i, word in enumerate(itos):
            if word.startswith("<") and word.endswith(">"):
                continue
            ids = self.tokenizer.encode(word)
            if ids:
                out[i] = self.embedding[ids].mean(0)
        return out
