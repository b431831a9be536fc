"""Shared pieces of the model contract."""

from __future__ import annotations

import torch
import torch.nn as nn


class BeatClassifier(nn.Module):
    """Base class: stores the contract arguments and joins features with extra inputs.

    Subclasses implement ``forward_features(x) -> (batch, D)`` and set ``self.head`` to a module
    mapping ``D + n_features`` to ``n_classes``.
    """

    def __init__(self, n_classes: int, n_samples: int, in_channels: int, n_features: int):
        super().__init__()
        for name, value in (("n_classes", n_classes), ("n_samples", n_samples),
                            ("in_channels", in_channels)):
            if int(value) < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if int(n_features) < 0:
            raise ValueError(f"n_features must be >= 0, got {n_features}")
        self.n_classes, self.n_samples = int(n_classes), int(n_samples)
        self.in_channels, self.n_features = int(in_channels), int(n_features)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_head(self, z: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_features:
            if features is None:
                raise ValueError(f"{type(self).__name__} needs {self.n_features} extra features")
            z = torch.cat([z, features], dim=1)
        return self.head(z)

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim == 2:  # (batch, n_samples): one channel
            x = x.unsqueeze(1)
        return self.forward_head(self.forward_features(x), features)


def patchify(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, T) -> (B, ceil(T / p), C * p): each step holds p consecutive samples of every channel
    (the end zero-padded to a whole patch)."""
    b, c, t = x.shape
    pad = (-t) % patch_size
    if pad:
        x = torch.nn.functional.pad(x, (0, pad))
    return x.reshape(b, c, -1, patch_size).permute(0, 2, 1, 3).reshape(b, -1, c * patch_size)


def patch_embedding(step_dim: int, embed_dim: int, activation: type[nn.Module] = nn.GELU) -> nn.Module:
    """Per-step ``Linear(step_dim, embed_dim)`` + activation, or the identity when ``embed_dim`` is 0."""
    return nn.Sequential(nn.Linear(step_dim, embed_dim), activation()) if embed_dim else nn.Identity()


def make_lstm(input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = True,
              dropout: float = 0.0) -> nn.LSTM:
    """A batch-first LSTM; dropout applies between layers only, so it is dropped for one layer."""
    return nn.LSTM(input_size, hidden_size, num_layers=num_layers, batch_first=True,
                   bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0)


def init_lstm_(lstm: nn.LSTM, forget_bias: float = 1.0) -> nn.LSTM:
    """Orthogonal recurrent weights per gate and forget-gate bias 1 (Jozefowicz et al. 2015).

    PyTorch's default (uniform everything) left one LSTM in three stuck at chance for the first
    two epochs in short runs; with this init every seed tried learned.
    """
    hidden = lstm.hidden_size
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            if name.startswith("weight_hh"):
                for gate in range(4):  # PyTorch order: input, forget, cell, output
                    nn.init.orthogonal_(p[gate * hidden:(gate + 1) * hidden])
            elif name.startswith("bias_ih"):
                p[hidden:2 * hidden].fill_(forget_bias)
            elif name.startswith("bias_hh"):
                p[hidden:2 * hidden].zero_()
    return lstm


def mlp_head(d_in: int, n_classes: int, hidden: int = 64, dropout: float = 0.1) -> nn.Module:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, n_classes))
