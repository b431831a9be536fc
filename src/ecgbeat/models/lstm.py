"""The LSTM heartbeat classifier."""

from __future__ import annotations

import torch
import torch.nn as nn

from .base import BeatClassifier, make_lstm, mlp_head, patch_embedding, patchify
from .registry import register_model


@register_model("lstm")
class LSTMClassifier(BeatClassifier):
    """LSTM over the beat's samples, pooled over time, then a fully connected head.

    The textbook version (last hidden state of one 64-unit LSTM over the zero-padded beat)
    never leaves the majority class on MIT-BIH: after ~60 padding zeros the last state has
    forgotten the QRS. This one reads the beat in both directions and pools the hidden states
    over time (mean and max), so every part of the beat reaches the head.
    ``patch_size`` consecutive samples form one LSTM time step (8 by default: 24 steps instead
    of 187), each step embedded by a small linear layer: on 2 CPU cores this is ~6x cheaper per
    epoch than one sample per step and reaches a better validation macro-F1 in the same time.
    With these defaults it trains best with a peak learning rate of 1e-2 (``default_lr``)
    under the one-cycle schedule; 1e-3 learns several times slower.

    Parameters
    ----------
    n_classes, n_samples, in_channels, n_features : int
        The registry contract (``n_features``: extra per-beat inputs, e.g. RR intervals, joined
        before the head).
    hidden_size : int
        LSTM units per direction.
    num_layers : int
        Stacked LSTM layers.
    bidirectional : bool
    dropout : float
        Between LSTM layers and in the head.
    patch_size : int
        Samples per LSTM time step (1 = one sample per step, the classic formulation).
    pooling : {"meanmax", "last"}
        "last" is the textbook last-hidden-state readout, kept for comparison.
    embed_dim : int
        When > 0, each step's patch first goes through ``Linear(patch, embed_dim)`` + GELU.
    """

    default_lr = 1e-2

    def __init__(self, n_classes: int = 5, n_samples: int = 187, in_channels: int = 1,
                 n_features: int = 0, hidden_size: int = 64, num_layers: int = 1,
                 bidirectional: bool = True, dropout: float = 0.1, patch_size: int = 8,
                 pooling: str = "meanmax", embed_dim: int = 64):
        super().__init__(n_classes, n_samples, in_channels, n_features)
        if patch_size < 1:
            raise ValueError(f"patch_size must be >= 1, got {patch_size}")
        if pooling not in ("meanmax", "last"):
            raise ValueError(f"pooling must be 'meanmax' or 'last', got {pooling!r}")
        self.patch_size, self.pooling = int(patch_size), pooling
        step_dim = in_channels * patch_size
        self.embed = patch_embedding(step_dim, embed_dim, nn.GELU)  # optional learned per-step embedding
        self.lstm = make_lstm(embed_dim or step_dim, hidden_size, num_layers, bidirectional, dropout)
        d = hidden_size * (2 if bidirectional else 1) * (2 if pooling == "meanmax" else 1)
        self.head = mlp_head(d + n_features, n_classes, hidden=64, dropout=dropout)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embed(patchify(x, self.patch_size)))
        if self.pooling == "last":
            return out[:, -1]
        return torch.cat([out.mean(dim=1), out.amax(dim=1)], dim=1)
