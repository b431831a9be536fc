"""Per-patient self-training: a small classifier fitted on one patient's own confident beats.

A model trained on other patients gets most of a new patient's beats right with high confidence
and hesitates on the rest. Within one patient, beats of a class look alike (the same ectopic focus,
the same QRS shape, the same timing), so a classifier fitted on that patient's confident beats,
with the model's own labels, carries what the model got right over to the beats it hesitated on:
self-training (pseudo-labelling, Lee 2013; Yarowsky 1995), here per patient and unsupervised, no
expert label involved. The per-patient classifier is a balanced multinomial logistic regression
(scikit-learn) on :func:`self_training_features` and the model's log-probabilities; its
probabilities are averaged with the model's. Classes with fewer than ``min_count`` confident beats
keep the model's probabilities.

:class:`SelfTrainer` learns from a patient's *earlier* beats only (refitted every ``every`` beats on
the last ``history``), as :class:`ecgbeat.predict.CausalAdapter` does, so that ``analyze`` and
``stream`` can apply it; :func:`self_train_per_record` applies it to beats already cut, or with
``causal=False`` fits each record on all its beats at once (offline).
"""

from __future__ import annotations

import numpy as np

from .errors import EcgbeatError
from .features import rr_feature_matrix
from .types import BeatSet, records_in_time_order, refresh_blocks

MORPHOLOGY_STEP = 8  # every 8th sample of the beat minus its template (24 values at 187 samples)


def self_training_features(beats: BeatSet) -> np.ndarray:
    """What the per-patient classifier sees besides the model's probabilities (n_beats, n): the
    RR features (:func:`ecgbeat.features.rr_feature_matrix`), and with a template (beats cut from a
    recording with patient context) the context features and the beat minus its template, else the
    beat itself, every :data:`MORPHOLOGY_STEP`-th sample. A missing RR interval (a record's first
    beat) takes the local average, as in :func:`ecgbeat.features.rr_feature_matrix`; for a whole
    set of beats without any, see :func:`check_self_training_beats`."""
    if beats.template is None:
        return np.hstack([rr_feature_matrix(beats), beats.X[:, ::MORPHOLOGY_STEP]]).astype(np.float64)
    from .features import context_feature_matrix

    rr = rr_feature_matrix(beats)
    return np.hstack([rr, context_feature_matrix(beats, rr),
                      (beats.X - beats.template)[:, ::MORPHOLOGY_STEP]]).astype(np.float64)


def check_self_training_beats(beats: BeatSet) -> None:
    """A one-line error for beats without RR intervals (Kaggle CSV rows): the features of
    :func:`self_training_features` cannot be made up for them."""
    if len(beats) and not np.isfinite(beats.rr_s[:, 0]).any():
        raise EcgbeatError("self-training needs each beat's RR intervals: beats cut from whole recordings, "
                           "not Kaggle CSV rows")


def parse_self_training(text: str) -> dict:
    """``"CONFIDENCE:C"`` (e.g. ``"0.8:1"``) as :class:`SelfTrainer` keyword arguments; a one-line
    error otherwise."""
    parts = str(text).split(":")
    try:
        confidence, C = (float(v) for v in parts)
    except ValueError:
        confidence = C = float("nan")
    if len(parts) != 2 or not 0.0 < confidence <= 1.0 or not 0 < C < float("inf"):
        raise EcgbeatError(f"--self-train takes CONFIDENCE:C (0 < confidence <= 1, finite C > 0; e.g. 0.8:1), "
                           f"got {text!r}")
    return {"confidence": confidence, "C": C}


class SelfTrainer:
    """Self-training from a patient's earlier beats, for a stream of beats.

    ``update(proba, features)`` takes the next beats' probabilities (NaN rows: unreadable beats,
    passed through) and their :func:`self_training_features`, and returns the mean of ``proba`` and
    the probabilities of the classifier last fitted (none at first: ``proba`` unchanged). Every
    ``every`` readable beats the classifier is fitted again on the last ``history`` readable beats:
    those whose most probable class has probability >= ``confidence``, labelled with it, classes
    with at least ``min_count`` such beats, L2 strength ``1 / C``. The refresh points count beats,
    not calls, so any chunking of a stream gives the same output; memory is bounded by ``history``."""

    def __init__(self, n_classes: int, confidence: float = 0.7, C: float = 0.1, min_count: int = 20,
                 history: int = 2000, every: int = 256):
        if not 0.0 < confidence <= 1.0 or C <= 0 or min_count < 1 or history < 1 or every < 1:
            raise ValueError(f"self-training needs 0 < confidence <= 1, C > 0 and min_count, history, every "
                             f">= 1; got {confidence}, {C}, {min_count}, {history}, {every}")
        self.n_classes, self.confidence, self.C = int(n_classes), float(confidence), float(C)
        self.min_count, self.history, self.every = int(min_count), int(history), int(every)
        self._proba = np.zeros((0, self.n_classes))
        self._features: np.ndarray | None = None
        self._seen = 0
        self.model = None  # (scaler, classifier) or None

    def update(self, proba: np.ndarray, features: np.ndarray) -> np.ndarray:
        proba = np.asarray(proba, dtype=np.float64)
        features = np.asarray(features, dtype=np.float64)
        if len(features) != len(proba):
            raise ValueError(f"{len(proba)} beats but {len(features)} feature rows")
        out = proba.copy()
        rows = np.flatnonzero(np.isfinite(proba).all(axis=1))
        for block, refresh in refresh_blocks(rows, self._seen, self.every):
            out[block] = self.blend(proba[block], features[block])
            self._remember(proba[block], features[block])
            self._seen += len(block)
            if refresh:
                self.fit(self._proba, self._features)
        return out

    def _remember(self, proba: np.ndarray, features: np.ndarray) -> None:
        self._proba = np.concatenate([self._proba, proba])[-self.history:]
        self._features = (features if self._features is None
                          else np.concatenate([self._features, features]))[-self.history:]

    def fit(self, proba: np.ndarray, features: np.ndarray) -> SelfTrainer:
        """Fit the classifier on these beats (replacing the last one; none when fewer than two
        classes have ``min_count`` confident beats)."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        self.model = None
        label = proba.argmax(axis=1)
        confident = proba.max(axis=1) >= self.confidence
        classes, counts = np.unique(label[confident], return_counts=True)
        kept = classes[counts >= self.min_count]
        if len(kept) < 2:
            return self
        Z = self._inputs(proba, features)
        scaler = StandardScaler().fit(Z)
        train = confident & np.isin(label, kept)
        clf = LogisticRegression(C=self.C, max_iter=300, class_weight="balanced")
        self.model = (scaler, clf.fit(scaler.transform(Z[train]), label[train]))
        return self

    def blend(self, proba: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The mean of ``proba`` and the fitted classifier's probabilities, the classifier's classes
        sharing the mass ``proba`` gives them; ``proba`` itself before any fit."""
        if self.model is None or not len(proba):
            return np.array(proba, dtype=np.float64, copy=True)
        scaler, clf = self.model
        q = np.array(proba, dtype=np.float64, copy=True)
        mass = q[:, clf.classes_].sum(axis=1, keepdims=True)
        q[:, clf.classes_] = clf.predict_proba(scaler.transform(self._inputs(proba, features))) * mass
        return 0.5 * (proba + q)

    @staticmethod
    def _inputs(proba: np.ndarray, features: np.ndarray) -> np.ndarray:
        return np.hstack([features, np.log(np.asarray(proba, dtype=np.float64) + 1e-6)])


def self_train_per_record(proba: np.ndarray, features: np.ndarray, record: np.ndarray, sample: np.ndarray,
                          causal: bool = True, **kwargs) -> np.ndarray:
    """:class:`SelfTrainer` over each record's beats in time order (``sample``): what ``analyze`` and
    ``stream`` with self-training give, for beats already cut. ``causal=False``: each record's
    classifier fitted once on all its beats and applied to all of them (offline)."""
    proba = np.asarray(proba, dtype=np.float64)
    out = proba.copy()
    for idx in records_in_time_order(record, sample):
        trainer = SelfTrainer(proba.shape[1], **kwargs)
        if causal:
            out[idx] = trainer.update(proba[idx], features[idx])
        else:
            ok = idx[np.isfinite(proba[idx]).all(axis=1)]
            out[ok] = trainer.fit(proba[ok], features[ok]).blend(proba[ok], features[ok])
    return out
