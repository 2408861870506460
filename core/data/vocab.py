"""Tokenising (spaCy's blank English tokenizer: rules only, no model download) and a vocabulary with <pad>/<unk>."""
from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Iterable

import torch
from torch.nn.utils.rnn import pad_sequence

PAD, UNK = "<pad>", "<unk>"


@lru_cache(maxsize=1)
def _tokenizer():
    import spacy

    return spacy.blank("en").tokenizer


def tokenize(text: str) -> list[str]:
    """Lower-cased spaCy tokens without whitespace: ``tokenize("Not bad!") == ["not", "bad", "!"]``."""
    return [t.lower_ for t in _tokenizer()(text) if not t.is_space]


def tokenize_many(texts: Iterable[str]) -> list[list[str]]:
    """``tokenize`` over many texts (spaCy's batched pipe)."""
    return [[t.lower_ for t in doc if not t.is_space] for doc in _tokenizer().pipe(texts, batch_size=1000)]


class Vocab:
    """Token <-> id. ``<pad>`` is 0, ``<unk>`` is 1, then tokens by falling frequency (ties alphabetical)."""

    pad_index = 0
    unk_index = 1

    def __init__(self, itos: list[str]):
        self.itos = list(itos)  # id -> token; itos[0] == "<pad>", itos[1] == "<unk>"
        self.stoi = {t: i for i, t in enumerate(self.itos)}  # token -> id

    @classmethod
    def build(cls, token_lists: Iterable[list[str]], max_size: int = 20000, min_freq: int = 1) -> "Vocab":
        """The ``max_size`` (specials included) most frequent tokens seen at least ``min_freq`` times."""
        counts = Counter(t for tokens in token_lists for t in tokens)
        ranked = sorted((t for t, c in counts.items() if c >= min_freq and t not in (PAD, UNK)),
                        key=lambda t: (-counts[t], t))
        return cls([PAD, UNK] + ranked[:max(0, max_size - 2)])

    def __len__(self) -> int:
        return len(self.itos)

    def lookup(self, tokens: list[str]) -> list[int]:
        """Ids of ``tokens``; unknown tokens -> ``unk_index``."""
        return [self.stoi.get(t, self.unk_index) for t in tokens]

    def encode(self, text: str) -> list[int]:
        """Tokenise ``text`` and look the tokens up: ``vocab.encode("not bad") -> [17, 240]``."""
        return self.lookup(tokenize(text))

    def decode(self, ids) -> list[str]:
        """Tokens for ``ids`` (padding dropped)."""
        return [self.itos[int(i)] for i in ids if int(i) != self.pad_index]


def pad_collate(batch):
    """``[(ids (L_i,), y), ...]`` -> ``(ids (B, max L_i) padded with 0, y (B,))``."""
    ids, ys = zip(*batch)
    return pad_sequence(list(ids), batch_first=True, padding_value=Vocab.pad_index), torch.tensor(ys)
