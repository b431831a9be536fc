"""Beat-to-beat smoothing: a hidden Markov model over the beat classes, filtered forward.

Ectopic beats come in runs and patterns (supraventricular tachycardia, bigeminy, couplets); a
classifier that looks at one beat at a time sees only the part of that in its RR features. Here
each beat's probabilities are combined with what the previous beats say about it, through the
class-to-class transition probabilities of labelled training beats (a hybrid HMM: the classifier's
probabilities divided by its training class mix act as emission likelihoods; Bourlard & Morgan
1994), by the forward algorithm: causal, one state vector per patient, so ``analyze`` and
``stream`` apply it as they go. ``strength`` mixes the learned transitions with none
(each row the training mix: the probabilities are then unchanged). The transitions must come from
whole records in time order: the inter-patient split's training beats (``train_transitions`` of its
checkpoints); an intra-patient split's training beats are a random part of each record, so its
checkpoints store none. A beat whose S probability the AF gate set to 0 keeps it at 0 (smoothing
multiplies), so the gate need not run again after it.
"""

from __future__ import annotations

import numpy as np

from .errors import EcgbeatError
from .types import records_in_time_order


def parse_smoothing(text) -> float:
    """``--smooth STRENGTH`` (a number in [0, 1]); a one-line error otherwise."""
    try:
        strength = float(text)
    except (TypeError, ValueError):
        strength = float("nan")
    if not 0.0 <= strength <= 1.0:
        raise EcgbeatError(f"--smooth takes a strength between 0 and 1 (e.g. 1), got {text!r}")
    return strength


def transitions_of(meta: dict) -> np.ndarray:
    """A checkpoint's ``train_transitions`` (what :class:`BeatSmoother` needs), checked."""
    k = len(meta["classes"])
    t = meta.get("train_transitions")
    if t is None or (hasattr(t, "__len__") and len(t) == 0):
        raise EcgbeatError("--smooth needs the class-to-class transitions of the model's training beats "
                           "(train_transitions), which this checkpoint lacks: train or refit it with this version "
                           "of ecgbeat on the inter-patient split (whole MIT-BIH records)")
    try:
        t = np.asarray(t, dtype=np.float64)
    except (TypeError, ValueError):
        t = np.full((0, 0), np.nan)
    if t.shape != (k, k) or not np.isfinite(t).all() or (t < 0).any() or not np.allclose(t.sum(axis=1), 1.0):
        raise EcgbeatError(f"checkpoint train_transitions must be a {k} x {k} row-stochastic matrix")
    return t


def transition_matrix(y: np.ndarray, record: np.ndarray, sample: np.ndarray, n_classes: int) -> np.ndarray:
    """Row-stochastic (n_classes, n_classes) matrix of class-to-next-class transitions of labelled
    beats, counted within each record in time order, with one pseudo-count per cell."""
    counts = np.ones((n_classes, n_classes))
    y = np.asarray(y)
    if (y < 0).any() or (y >= n_classes).any():
        raise ValueError("transitions need labelled beats (classes 0..n_classes-1)")
    for idx in records_in_time_order(record, sample):
        np.add.at(counts, (y[idx][:-1], y[idx][1:]), 1)
    return counts / counts.sum(axis=1, keepdims=True)


def mixed_transitions(transitions: np.ndarray, train_prior: np.ndarray, strength: float) -> np.ndarray:
    """``strength`` x ``transitions`` + (1 - ``strength``) x no dependence (each row ``train_prior``)."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"smoothing strength must be in [0, 1], got {strength}")
    prior = np.asarray(train_prior, dtype=np.float64)
    return strength * np.asarray(transitions, dtype=np.float64) + (1.0 - strength) * np.tile(prior, (len(prior), 1))


def stationary(transitions: np.ndarray) -> np.ndarray:
    """The stationary distribution of a row-stochastic matrix (the class mix its chain settles to)."""
    vals, vecs = np.linalg.eig(np.asarray(transitions, dtype=np.float64).T)
    pi = np.abs(np.real(vecs[:, np.argmin(np.abs(vals - 1.0))]))
    return pi / pi.sum()


class BeatSmoother:
    """Forward filtering of one patient's beats: ``update(proba)`` takes the next beats' class
    probabilities (NaN rows: unreadable beats, passed through and skipped) and returns them
    re-weighted by what the earlier beats predict about this one, relative to what the chain
    predicts without them: ``p(c|x) * m(c) / pi(c)``, with ``m`` the prediction of the filtered
    state through the transitions and ``pi`` their stationary mix. So smoothing adds context only:
    it does not move the class mix the model was trained to (its ``train_prior``, which class
    weighting makes differ from the label mix the transitions settle to). The state itself is the
    filtered label distribution (emissions ``p(c|x) / train_prior(c)``). Any chunking gives the same
    output."""

    def __init__(self, transitions: np.ndarray, train_prior: np.ndarray, strength: float = 1.0):
        self.train_prior = np.asarray(train_prior, dtype=np.float64)
        if self.train_prior.ndim != 1 or (self.train_prior <= 0).any():
            raise ValueError("train_prior must be positive values, one per class")
        transitions = np.asarray(transitions, dtype=np.float64)
        if transitions.shape != (len(self.train_prior),) * 2:
            raise ValueError(f"transitions must be {len(self.train_prior)} x {len(self.train_prior)}, "
                             f"got {transitions.shape}")
        self.transitions = mixed_transitions(transitions, self.train_prior, strength)
        self.stationary = stationary(self.transitions)
        self.state = self.stationary.copy()

    def update(self, proba: np.ndarray) -> np.ndarray:
        proba = np.asarray(proba, dtype=np.float64)
        out = proba.copy()
        for t in np.flatnonzero(np.isfinite(proba).all(axis=1)):
            m = self.state @ self.transitions
            a = proba[t] / self.train_prior * m
            total = a.sum()
            self.state = a / total if total > 0 else self.stationary.copy()
            q = proba[t] * m / self.stationary
            out[t] = q / q.sum() if q.sum() > 0 else proba[t]
        return out


def smooth_per_record(proba: np.ndarray, record: np.ndarray, sample: np.ndarray, transitions: np.ndarray,
                      train_prior: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """:class:`BeatSmoother` over each record's beats in time order (``sample``): what ``analyze`` and
    ``stream`` with smoothing give, for beats already cut."""
    proba = np.asarray(proba, dtype=np.float64)
    out = proba.copy()
    for idx in records_in_time_order(record, sample):
        out[idx] = BeatSmoother(transitions, train_prior, strength).update(proba[idx])
    return out
