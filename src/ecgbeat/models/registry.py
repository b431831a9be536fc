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

from ..errors import EcgbeatError, first_line

#: The constructor arguments every model has (the inputs and outputs), besides its own knobs.
CONTRACT_ARGS = ("n_classes", "n_samples", "in_channels", "n_features")

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
    """Build a registered model.

    Raises :class:`~ecgbeat.errors.EcgbeatError` (a ``ValueError``) with one line naming the model:
    for an unknown name (listing the choices), an argument the model does not have (listing its
    arguments), or values its constructor refuses (naming the arguments given)."""
    if name not in _REGISTRY:
        raise EcgbeatError(f"unknown model {name!r}; choose from {', '.join(list_models())}")
    cls = _REGISTRY[name]
    args = dict(n_classes=n_classes, n_samples=n_samples, in_channels=in_channels,
                n_features=n_features, **kwargs)
    signature = inspect.signature(cls)
    params = signature.parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = [] if takes_any else [k for k in kwargs if k not in params]
    if unknown:
        own = [k for k in params if k not in CONTRACT_ARGS]
        raise EcgbeatError(f"model {name!r} has no argument {', '.join(map(repr, unknown))}; "
                           f"its arguments are {', '.join(own) or 'none'}")
    try:
        bound = signature.bind(**args)
    except TypeError as exc:
        raise EcgbeatError(f"model {name!r}: {exc}") from None
    bound.apply_defaults()
    try:
        model = cls(**bound.arguments)
    except Exception as exc:  # a value the model (or PyTorch inside it) refuses: name what was given
        given = ", ".join(f"{k}={v!r}" for k, v in args.items()
                          if k in kwargs or (k in params and v != params[k].default))
        raise EcgbeatError(f"model {name!r} with {given or 'its default arguments'}: "
                           f"{first_line(exc, 120)}") from exc
    # every constructor argument, defaults included: enough to rebuild the model from JSON
    model.init_args = dict(bound.arguments)
    return model
