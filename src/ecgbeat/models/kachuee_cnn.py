"""The residual CNN of Kachuee, Fazeli & Sarrafzadeh (2018)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .base import BeatClassifier
from .registry import register_model


class _ResidualBlock(nn.Module):
    """conv - ReLU - conv, add the input, ReLU, max-pool (width 5, stride 2)."""

    def __init__(self, channels: int, kernel_size: int, pool_size: int, pool_stride: int):
        super().__init__()
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2)
        self.pool = nn.MaxPool1d(pool_size, stride=pool_stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(F.relu(x + self.conv2(F.relu(self.conv1(x)))))


@register_model("kachuee_cnn")
class KachueeCNN(BeatClassifier):
    """"ECG Heartbeat Classification: A Deep Transferable Representation" (ICHI 2018).

    The paper's network for the 187-sample Kaggle beats: a convolution (32 filters, width 5,
    no padding, no activation: 187 -> 183), five residual blocks (two width-5 convolutions with a skip
    connection, ReLU, max pooling of width 5 and stride 2: 183 -> 90 -> 43 -> 20 -> 8 -> 2),
    flattened (32 x 2 = 64 values), then FC 32 - ReLU - FC 32 - ReLU - FC ``n_classes``
    (softmax in the loss). The paper reports 93.4 % accuracy on the Kaggle (intra-patient) split.
    The paper trains with Adam at 1e-3 and exponential decay; under this package's one-cycle
    schedule a peak of 3e-3 (``default_lr``) learned clearly faster in short runs.

    Parameters
    ----------
    n_classes, n_samples, in_channels, n_features : int
        The registry contract (``n_features`` extra inputs join the flattened convolution output
        before the first fully connected layer).
    filters : int
        Convolution filters everywhere (paper: 32).
    n_blocks : int
        Residual blocks (paper: 5).
    kernel_size : int
        Convolution width (paper: 5; odd).
    fc_size : int
        Width of the two fully connected layers (paper: 32).
    dropout : float
        Dropout before the fully connected layers (paper: none).
    """

    POOL_SIZE, POOL_STRIDE = 5, 2
    default_lr = 3e-3

    def __init__(self, n_classes: int = 5, n_samples: int = 187, in_channels: int = 1,
                 n_features: int = 0, filters: int = 32, n_blocks: int = 5, kernel_size: int = 5,
                 fc_size: int = 32, dropout: float = 0.0):
        super().__init__(n_classes, n_samples, in_channels, n_features)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 1, got {kernel_size}")
        if filters < 1 or n_blocks < 0 or fc_size < 1:
            raise ValueError("filters and fc_size must be >= 1 and n_blocks >= 0")
        length = self.output_length(self.n_samples, kernel_size, n_blocks)
        if length < 1:
            raise ValueError(f"n_samples={n_samples} is too short for kernel_size={kernel_size} "
                             f"and {n_blocks} residual blocks")
        self.conv = nn.Conv1d(in_channels, filters, kernel_size)
        self.blocks = nn.Sequential(*[_ResidualBlock(filters, kernel_size, self.POOL_SIZE, self.POOL_STRIDE)
                                      for _ in range(n_blocks)])
        self.flat_size = filters * length
        self.head = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(self.flat_size + n_features, fc_size), nn.ReLU(),
            nn.Linear(fc_size, fc_size), nn.ReLU(), nn.Linear(fc_size, n_classes))

    @classmethod
    def output_length(cls, n_samples: int, kernel_size: int, n_blocks: int) -> int:
        """Time steps left after the first convolution and the blocks' pooling (< 1: too short)."""
        length = n_samples - kernel_size + 1
        for _ in range(n_blocks):
            if length < cls.POOL_SIZE:
                return 0
            length = (length - cls.POOL_SIZE) // cls.POOL_STRIDE + 1
        return length

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.conv(x)).flatten(1)
