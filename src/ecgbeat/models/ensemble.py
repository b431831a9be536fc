"""An ensemble of trained classifiers: the average of their class probabilities.

Averaging a few independently trained models (different seeds, or different architectures) is the
cheapest way to gain accuracy and stability on patients never seen: on the inter-patient split
three LSTM seeds averaged beat every single one of them (``benchmarks/results``). An
:class:`Ensemble` is an ordinary ``nn.Module`` with the model contract's attributes, so
checkpoints, ``predict``, ``evaluate``, ``analyze``, ``stream`` and ONNX export take it like any
other model. Its output is the *log* of the mean probabilities: ``softmax`` of it gives the mean
probabilities back, and its ``argmax`` is the ensemble's decision.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from .registry import CONTRACT_ARGS as CONTRACT
from .registry import create_model


class Ensemble(nn.Module):
    """Mean of the softmax outputs of ``members`` (models made by :func:`create_model`) that take
    the same inputs (``n_samples``, ``in_channels``, ``n_features``) and give the same classes."""

    model_name = "ensemble"

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        members = list(members)
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
        for i, m in enumerate(members):
            if not hasattr(m, "init_args") or not hasattr(m, "model_name") or isinstance(m, Ensemble):
                raise ValueError(f"member {i} is not a registered model made by create_model")
            for attr in CONTRACT:
                if int(getattr(m, attr, 0) or 0) != int(getattr(members[0], attr, 0) or 0):
                    raise ValueError(f"member {i} ({m.model_name}) has {attr}={getattr(m, attr, 0)}, "
                                     f"member 0 ({members[0].model_name}) {getattr(members[0], attr, 0)}: "
                                     "members must take the same inputs and give the same classes")
        self.members = nn.ModuleList(members)
        for attr in CONTRACT:
            setattr(self, attr, int(getattr(members[0], attr, 0) or 0))
        # enough to rebuild the ensemble (architecture, not weights) from JSON
        self.init_args = {"members": [{"model": m.model_name, "model_args": m.init_args} for m in members]}

    @classmethod
    def from_args(cls, members: Sequence[dict]) -> Ensemble:
        """Rebuild from ``init_args["members"]`` (weights to be loaded afterwards)."""
        if not isinstance(members, (list, tuple)):
            raise ValueError("ensemble members must be a list of {model, model_args}")
        built = []
        for i, m in enumerate(members):
            if not (isinstance(m, dict) and isinstance(m.get("model"), str)
                    and isinstance(m.get("model_args"), dict)):
                raise ValueError(f"ensemble member {i} must be {{'model': NAME, 'model_args': {{...}}}}")
            built.append(create_model(m["model"], **m["model_args"]))
        return cls(built)

    def forward(self, x: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        proba = torch.stack([torch.softmax(m(x, features), dim=1) for m in self.members]).mean(dim=0)
        return torch.log(proba.clamp_min(torch.finfo(proba.dtype).tiny))


def build_model(name: str, args: dict) -> nn.Module:
    """The model a checkpoint describes: a registered model or an :class:`Ensemble` of them."""
    if name == Ensemble.model_name:
        return Ensemble.from_args(**args)
    return create_model(name, **args)
