"""Model registry and architectures (pure ``nn.Module`` s, no I/O)."""

from . import bilstm_attention, cnn_lstm, kachuee_cnn, lstm, transformer  # noqa: F401  (register)
from .ensemble import Ensemble, build_model
from .registry import create_model, list_models, register_model

__all__ = ["Ensemble", "build_model", "create_model", "list_models", "register_model"]
