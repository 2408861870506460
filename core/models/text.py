"""Text classifiers: embedding -> LSTM or GRU -> linear, with padding handled by packed sequences.

Packing means the recurrent layers never see the padding tokens, so adding padding to a sentence does not change
its prediction (tests/core/test_models.py checks this).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class RNNClassifier(nn.Module):
    """ids (B, L) with ``pad_index`` padding -> class logits (B, num_classes)."""

    def __init__(self, num_classes: int, vocab_size: int = 10000, pad_index: int = 0, rnn: str = "lstm",
                 embed_dim: int = 64, hidden: int = 64, layers: int = 1, bidirectional: bool = True,
                 dropout: float = 0.3):
        super().__init__()
        if rnn not in ("lstm", "gru"):
            raise ValueError(f"rnn must be 'lstm' or 'gru', got {rnn!r}")
        self.pad_index = pad_index
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_index)
        cls = nn.LSTM if rnn == "lstm" else nn.GRU
        self.rnn = cls(embed_dim, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional,
                       dropout=dropout if layers > 1 else 0.0)
        self.directions = 2 if bidirectional else 1
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden * self.directions, num_classes))

    def forward(self, ids):
        lengths = (ids != self.pad_index).sum(1).clamp(min=1)  # an empty text still gets one (pad) step
        emb = self.embedding(ids)  # (B, L) -> (B, L, E)
        packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, state = self.rnn(packed)
        h = state[0] if isinstance(state, tuple) else state  # LSTM returns (h, c); GRU returns h
        last = h[-self.directions:]  # final layer: (dirs, B, H)
        return self.head(torch.cat(list(last), dim=1))  # (B, dirs*H) -> (B, C)

    def layer_groups(self):
        return [[self.embedding], [self.rnn], [self.head]]


def _mask(ids: torch.Tensor, pad_index: int) -> torch.Tensor:
    """(B, L) True where a real token is; an all-padding row keeps its first position (so pooling is defined)."""
    mask = ids != pad_index
    mask[:, 0] |= ~mask.any(1)
    return mask


class BagOfNgrams(nn.Module):
    """The fastText / torchtext-tutorial classifier: the mean of word and hashed word-bigram embeddings -> linear.

    Bigram (a, b) gets the id ``vocab_size + (a * 1_000_003 + b) % buckets``; word order beyond pairs is ignored,
    which is why it trains in seconds and rarely overfits short sentences.
    """

    def __init__(self, num_classes: int, vocab_size: int = 10000, pad_index: int = 0, embed_dim: int = 64,
                 buckets: int = 20000, dropout: float = 0.3):
        super().__init__()
        self.pad_index, self.vocab_size, self.buckets = pad_index, vocab_size, buckets
        self.embedding = nn.EmbeddingBag(vocab_size + buckets, embed_dim, mode="mean", padding_idx=pad_index)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(embed_dim, num_classes))

    def ngrams(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, L) word ids -> (B, 2L-1) word and bigram ids; pairs touching padding become padding."""
        a, b = ids[:, :-1], ids[:, 1:]
        pairs = self.vocab_size + (a * 1_000_003 + b) % self.buckets
        pairs = torch.where((a == self.pad_index) | (b == self.pad_index), self.pad_index, pairs)
        return torch.cat([ids, pairs], dim=1)

    def forward(self, ids):
        return self.head(self.embedding(self.ngrams(ids)))  # (B, 2L-1) -> (B, E) (mean, padding left out) -> (B, C)

    def layer_groups(self):
        return [[self.embedding], [self.head]]


class TextCNN(nn.Module):
    """Kim's CNN for sentences: embeddings -> 1-D convolutions of widths 3, 4, 5 -> max over time -> linear."""

    def __init__(self, num_classes: int, vocab_size: int = 10000, pad_index: int = 0, embed_dim: int = 64,
                 channels: int = 64, dropout: float = 0.3):
        super().__init__()
        self.pad_index = pad_index
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_index)
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, channels, k, padding=k // 2) for k in (3, 4, 5))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(3 * channels, num_classes))

    def forward(self, ids):
        mask = _mask(ids, self.pad_index)  # (B, L)
        x = self.embedding(ids).transpose(1, 2)  # (B, L) -> (B, E, L)
        pooled = []
        for conv in self.convs:
            h = torch.relu(conv(x))[..., :ids.shape[1]]  # (B, channels, L) (even kernels give one extra step)
            pooled.append(h.masked_fill(~mask[:, None, :], float("-inf")).amax(dim=2))  # -> (B, channels)
        return self.head(torch.cat(pooled, dim=1))  # (B, 3*channels) -> (B, C)

    def layer_groups(self):
        return [[self.embedding], [self.convs], [self.head]]


class PooledRNN(nn.Module):
    """Bidirectional GRU (or LSTM) whose outputs are max-pooled over the real tokens -> linear."""

    def __init__(self, num_classes: int, vocab_size: int = 10000, pad_index: int = 0, rnn: str = "gru",
                 embed_dim: int = 64, hidden: int = 64, dropout: float = 0.3):
        super().__init__()
        self.pad_index = pad_index
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_index)
        self.rnn = (nn.GRU if rnn == "gru" else nn.LSTM)(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden, num_classes))

    def forward(self, ids):
        mask = _mask(ids, self.pad_index)
        packed = pack_padded_sequence(self.embedding(ids), mask.sum(1).cpu(), batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=ids.shape[1])  # (B, L, 2H)
        return self.head(out.masked_fill(~mask[..., None], float("-inf")).amax(dim=1))  # (B, 2H) -> (B, C)

    def layer_groups(self):
        return [[self.embedding], [self.rnn], [self.head]]
