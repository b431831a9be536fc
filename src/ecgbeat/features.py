"""Per-beat inputs for the models: the beat samples and optional RR-interval features."""

from __future__ import annotations

import numpy as np

from .types import BeatSet

#: Names of the RR features (de Chazal et al. 2004 use pre-, post- and local-average RR).
RR_FEATURES = ("prev_rr_s", "next_rr_s", "local_rr_s", "prev_over_local", "next_over_local")


def rr_feature_matrix(beats: BeatSet) -> np.ndarray:
    """RR features (n_beats, 5): previous, next and local RR in seconds and the two ratios.

    Missing neighbours (first / last beat of a record) take the local average, or 0.8 s when
    nothing is known; ratios to the local average make the features patient-independent.
    """
    rr = beats.rr_s.astype(np.float64).copy()
    local = np.where(np.isnan(rr[:, 2]), np.nanmean(rr[:, :2], axis=1) if rr.size else 0.8, rr[:, 2])
    local = np.where(np.isnan(local), 0.8, local)
    prev = np.where(np.isnan(rr[:, 0]), local, rr[:, 0])
    nxt = np.where(np.isnan(rr[:, 1]), local, rr[:, 1])
    return np.column_stack([prev, nxt, local, prev / local, nxt / local]).astype(np.float32)


def model_inputs(beats: BeatSet, n_features: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """Arrays a model takes: X (n, 1, n_samples) float32, features (n, n_features) or None."""
    X = np.ascontiguousarray(beats.X[:, None, :], dtype=np.float32)
    if n_features == 0:
        return X, None
    feats = rr_feature_matrix(beats)
    if feats.shape[1] != n_features:
        raise ValueError(f"model expects {n_features} features, RR features give {feats.shape[1]}")
    return X, feats
