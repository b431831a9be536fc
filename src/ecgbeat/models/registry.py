"""Models by name: ``create_model("lstm", n_classes=5)``.

Every registered model is a pure ``nn.Module`` with the same constructor contract
(``n_classes``, ``n_samples``, ``in_channels``, ``n_features``, then its own keyword knobs), takes
``x`` of shape (batch, in_channels, n_samples) plus optional per-beat ``features`` of shape
(batch, n_features) (e.g. RR intervals), and splits ``forward_features`` (-> (batch, D)) from
``forward_head`` (-> logits (batch, n_classes)).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch.nn as nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str):
    """Class decorator adding a model to the registry under ``name``."""

    def deco(cls):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = cls
        cls.model_name = name
        return cls

    return deco


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def create_model(name: str, n_classes: int = 5, n_samples: int = 187, in_channels: int = 1,
                 n_features: int = 0, **kwargs) -> nn.Module:
    """Build a registered model; an unknown name raises ``ValueError`` listing the choices."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(list_models())}")
    cls = _REGISTRY[name]
    args = dict(n_classes=n_classes, n_samples=n_samples, in_channels=in_channels,
                n_features=n_features, **kwargs)
    try:
        bound = inspect.signature(cls).bind(**args)
    except TypeError as exc:
        raise ValueError(f"model {name!r}: {exc}") from None
    bound.apply_defaults()
    model = cls(**bound.arguments)
    # every constructor argument, defaults included: enough to rebuild the model from JSON
    model.init_args = dict(bound.arguments)
    return model
