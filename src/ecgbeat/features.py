"""Per-beat inputs for the models: the beat (and optionally its template) and per-beat features.

A model with ``in_channels=2`` takes the beat and its template (the median of the patient's
previous beats, :mod:`ecgbeat.dsp.context`) as two channels, so it can judge a beat's shape
against the patient's own usual beat rather than against the training patients'.

Two feature sets (``FEATURE_SETS``), chosen at training time and stored in the checkpoint:

``"rr"``
    The RR intervals around the beat (de Chazal et al. 2004: previous, next and local-average
    RR) and the two ratios to the local average.
``"rr+context"``
    ``"rr"`` plus the beat against its own patient's recent past
    (:mod:`ecgbeat.dsp.context`): the three RR values over the patient's long-term
    average RR (prematurity for *this* patient), and how far the beat is from the median of the
    patient's previous beats. Patient-adaptive features of this kind are what carries
    inter-patient generalisation in the published feature-based results.
"""

from __future__ import annotations

import numpy as np

from .errors import EcgbeatError
from .types import BeatSet

#: Names of the RR features (de Chazal et al. 2004 use pre-, post- and local-average RR).
RR_FEATURES = ("prev_rr_s", "next_rr_s", "local_rr_s", "prev_over_local", "next_over_local")
#: Names of the patient-context features added by the "rr+context" set.
CONTEXT_FEATURES = ("prev_over_long", "next_over_long", "local_over_long",
                    "template_corr", "template_rms", "template_max_abs")
FEATURE_SETS = {"rr": RR_FEATURES, "rr+context": RR_FEATURES + CONTEXT_FEATURES}


def rr_feature_matrix(beats: BeatSet) -> np.ndarray:
    """RR features (n_beats, 5): previous, next and local RR in seconds and the two ratios.

    Missing neighbours (first / last beat of a record) take the local average, or 0.8 s when
    nothing is known; ratios to the local average make the features patient-independent. Beats
    with neither RR nor position (Kaggle CSV rows) raise ``EcgbeatError``: their RR cannot be made up.
    """
    if len(beats) and np.isnan(beats.rr_s).all() and (np.asarray(beats.sample) < 0).all():
        raise EcgbeatError("this model reads each beat's RR intervals, so it needs beats cut from whole "
                           "recordings (MIT-BIH records or raw ECG), not pre-cut beats such as Kaggle CSV rows")
    rr = beats.rr_s.astype(np.float64).copy()
    local = np.where(np.isnan(rr[:, 2]), np.nanmean(rr[:, :2], axis=1) if rr.size else 0.8, rr[:, 2])
    local = np.where(np.isnan(local), 0.8, local)
    prev = np.where(np.isnan(rr[:, 0]), local, rr[:, 0])
    nxt = np.where(np.isnan(rr[:, 1]), local, rr[:, 1])
    return np.column_stack([prev, nxt, local, prev / local, nxt / local]).astype(np.float32)


def _template(beats: BeatSet) -> np.ndarray:
    if beats.template is None:
        raise EcgbeatError("this model compares each beat with its patient's earlier beats, so it needs "
                         "beats cut from whole recordings (MIT-BIH records or raw ECG), not pre-cut beats "
                         "such as Kaggle CSV rows")
    return beats.template


def context_feature_matrix(beats: BeatSet, rr: np.ndarray | None = None) -> np.ndarray:
    """Patient-context features (n_beats, 6), :data:`CONTEXT_FEATURES`: previous, next and local
    RR over the long-term RR, and :func:`ecgbeat.dsp.context.template_stats`. ``rr``: the beats'
    :func:`rr_feature_matrix` when the caller has it already.

    Raises ``EcgbeatError`` when the beats carry no template (beats not cut from a recording, e.g.
    Kaggle CSV rows): these features cannot be made up."""
    from .dsp.context import template_stats

    template = _template(beats)
    rr = (rr_feature_matrix(beats) if rr is None else rr).astype(np.float64)
    long = beats.long_rr_s.astype(np.float64)
    long = np.where(np.isnan(long), rr[:, 2], long)  # first beat of a record: no past yet
    ratios = np.column_stack([rr[:, 0] / long, rr[:, 1] / long, rr[:, 2] / long]).astype(np.float32)
    return np.hstack([ratios, template_stats(beats.X, template)])


def feature_matrix(beats: BeatSet, name: str) -> np.ndarray:
    """The named feature set of :data:`FEATURE_SETS` for ``beats``."""
    if name == "rr":
        return rr_feature_matrix(beats)
    if name == "rr+context":
        rr = rr_feature_matrix(beats)
        return np.hstack([rr, context_feature_matrix(beats, rr)])
    raise ValueError(f"unknown feature set {name!r}; known: {', '.join(FEATURE_SETS)}")


def feature_set_for(n_features: int) -> str:
    """The feature set a model with ``n_features`` inputs takes (the sets differ in size)."""
    for name, columns in FEATURE_SETS.items():
        if len(columns) == n_features:
            return name
    raise ValueError(f"no feature set has {n_features} features "
                     f"({', '.join(f'{k}: {len(v)}' for k, v in FEATURE_SETS.items())})")


def needs_context(n_features: int = 0, in_channels: int = 1) -> bool:
    """Whether a model taking ``in_channels`` channels and ``n_features`` features compares each
    beat with its patient's earlier beats (a template channel, or the "rr+context" features), so
    its beats need the template and long-term RR of :mod:`ecgbeat.dsp.context`."""
    return in_channels >= 2 or (n_features > 0 and feature_set_for(n_features) == "rr+context")


def inputs_for(model, beats: BeatSet) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`model_inputs` shaped for ``model`` (its ``in_channels`` and ``n_features``)."""
    return model_inputs(beats, int(getattr(model, "n_features", 0) or 0),
                        int(getattr(model, "in_channels", 1) or 1))


def model_inputs(beats: BeatSet, n_features: int = 0,
                 in_channels: int = 1) -> tuple[np.ndarray, np.ndarray | None]:
    """Arrays a model takes: X (n, in_channels, n_samples) float32 (channel 0 the beat, channel 1
    its template), features (n, n_features) or None."""
    if in_channels == 1:
        X = np.ascontiguousarray(beats.X[:, None, :], dtype=np.float32)
    elif in_channels == 2:
        X = np.ascontiguousarray(np.stack([beats.X, _template(beats)], axis=1), dtype=np.float32)
    else:
        raise ValueError(f"models take 1 (beat) or 2 (beat, template) channels, not {in_channels}")
    if n_features == 0:
        return X, None
    return X, feature_matrix(beats, feature_set_for(n_features))
