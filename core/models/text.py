"""Text classifiers: embedding -> LSTM or GRU -> linear, with padding handled by packed sequences.

Packing means the recurrent layers never see the padding tokens, so adding padding to a sentence does not change
its prediction (tests/core/test_models.py checks this).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence


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
