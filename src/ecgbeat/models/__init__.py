"""Model registry and architectures (pure ``nn.Module`` s, no I/O)."""

from . import bilstm_attention, cnn_lstm, kachuee_cnn, lstm, transformer  # noqa: F401  (register)
from .registry import create_model, list_models, register_model

__all__ = ["create_model", "list_models", "register_model"]
