"""Pretrained token embeddings read without their libraries: the safetensors format against a file written by the
format's definition, the BPE merges and byte fallback against hand-worked examples, pooling by hand."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch

from core.models.wordllama import BPETokenizer, WordLlama, find_files, read_safetensors


def _write_safetensors(path, tensors: dict[str, np.ndarray], dtypes: dict[str, str]) -> None:
    """The format by its definition: u64 little-endian header length, JSON header, then the raw bytes."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, arr in tensors.items():
        blob = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtypes[name], "shape": list(arr.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    head = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(head)) + head + b"".join(blobs))


def test_read_safetensors_round_trips_every_dtype(tmp_path):
    rng = np.random.default_rng(0)
    f16 = rng.standard_normal((5, 3)).astype(np.float16)
    f32 = rng.standard_normal((2, 2, 2)).astype(np.float32)
    i64 = np.arange(6, dtype=np.int64).reshape(2, 3)
    bf16_source = np.array([1.5, -2.0, 3.140625], dtype=np.float32)  # exactly representable in bfloat16
    bf16 = (bf16_source.view(np.uint32) >> 16).astype(np.uint16)
    _write_safetensors(tmp_path / "t.safetensors", {"a": f16, "b": f32, "c": i64, "d": bf16},
                       {"a": "F16", "b": "F32", "c": "I64", "d": "BF16"})
    got = read_safetensors(tmp_path / "t.safetensors")
    assert set(got) == {"a", "b", "c", "d"}
    assert torch.equal(got["a"], torch.from_numpy(f16.astype(np.float32)))
    assert torch.equal(got["b"], torch.from_numpy(f32)) and torch.equal(got["c"], torch.from_numpy(i64))
    assert torch.equal(got["d"], torch.from_numpy(bf16_source))


def _tokenizer() -> BPETokenizer:
    vocab = {"<unk>": 0, "<s>": 1, "<0xC3>": 2, "<0xA9>": 3, "▁": 4, "a": 5, "b": 6, "c": 7, "▁a": 8, "ab": 9,
             "▁ab": 10, "bc": 11, "▁c": 12}
    return BPETokenizer(vocab, ["▁ a", "a b", "▁a b", "b c", "▁ c"])


def test_bpe_merges_by_rank_and_falls_back_to_bytes():
    tok = _tokenizer()
    # '▁abc': ranks ▁a (0) first -> ▁a b c; then '▁a b' (2) beats 'b c' (3) -> ▁ab c
    assert tok.tokens("abc") == ["▁ab", "c"] and tok.encode("abc") == [10, 7]
    # 'bc ab': ▁ b c ▁ a b -> (▁ a) -> ▁ b c ▁a b -> (▁a b) -> ▁ b c ▁ab -> (b c) -> ▁ bc ▁ab
    assert tok.tokens("bc ab") == ["▁", "bc", "▁ab"] and tok.encode("bc ab") == [4, 11, 10]
    assert tok.encode("é") == [4, 2, 3]  # é is not in the vocabulary: its UTF-8 bytes C3 A9
    assert tok.encode("ä") == [4, 0]  # neither the character nor its bytes (C3 A4): <unk>


def test_sentence_and_vocab_vectors_are_means_of_sub_word_vectors(tmp_path):
    emb = torch.arange(13 * 2, dtype=torch.float32).reshape(13, 2)
    w = WordLlama(emb, _tokenizer())
    assert torch.equal(w.sentence_vectors(["abc", ""]), torch.stack([(emb[10] + emb[7]) / 2, torch.zeros(2)]))
    assert torch.equal(w.vocab_vectors(["<pad>", "ab"]), torch.stack([torch.zeros(2), emb[10]]))


def test_files_found_in_a_folder_or_a_clear_error(tmp_path):
    assert find_files(tmp_path) is None
    with pytest.raises(FileNotFoundError, match="pip install wordllama"):
        WordLlama.load(tmp_path)
    (tmp_path / "weights").mkdir()
    (tmp_path / "tokenizers").mkdir()
    _write_safetensors(tmp_path / "weights/l2_supercat_256.safetensors",
                       {"embedding.weight": np.ones((13, 2), np.float16)}, {"embedding.weight": "F16"})
    (tmp_path / "tokenizers/l2_supercat_tokenizer_config.json").write_text(json.dumps(
        {"model": {"type": "BPE", "vocab": _tokenizer().vocab, "merges": ["▁ a"], "unk_token": "<unk>",
                   "byte_fallback": True}}))
    w = WordLlama.load(tmp_path)
    assert w.embedding.shape == (13, 2) and w.tokenizer.encode("a") == [8]
