"""Rhythm irregularity from RR intervals: an atrial-fibrillation-like rhythm detector.

During atrial fibrillation or flutter there is no organised atrial activity, so no beat is
"supraventricular ectopic": MIT-BIH annotates these beats N (AAMI class N), but their RR
intervals are irregular and a beat classifier that leans on prematurity calls many of them S.
This module flags beats that sit in an irregularly irregular stretch of rhythm, with the three
RR statistics of Dash, Chon, Lu & Raeder (2009, Annals of Biomedical Engineering 37:1701-1709),
computed over the ``window`` RR intervals that end with the beat's own previous RR (causal: a
beat's flag never depends on later beats, so a stream gets exactly what a whole record gets):

- the ``trim`` longest and ``trim`` shortest intervals of the window are dropped (isolated
  ectopic beats and pauses are not fibrillation);
- normalised RMSSD (RMS of successive differences over the mean) above ``rmssd``;
- Shannon entropy of the intervals' 16-bin histogram, over log 16, above ``entropy``;
- turning-point ratio within ``tpr_sigmas`` standard deviations of a random series' expectation.

All three must hold. A stretch of frequent ventricular ectopy can pass too (it is irregular).
Given the beats known to be ectopic (``ectopic``: in ``analyze``/``stream`` and ``evaluate``, the
beats the model calls V), the RR intervals that end or start at such a beat are left out and the
window holds the last ``window`` other intervals, as heart-rate-variability and AF detectors
remove ectopic intervals before measuring irregularity; a beat whose own interval is left out
keeps the rhythm state of the last interval that was not. The detector is a rhythm cue, not a
diagnosis.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: Dash et al. 2009: 128-beat windows, the 8 longest and 8 shortest intervals dropped.
WINDOW = 128
TRIM = 8
RMSSD = 0.1
ENTROPY = 0.7
TPR_SIGMAS = 3.0
BINS = 16


def irregularity(prev_rr_s: np.ndarray, history: np.ndarray | None = None, window: int = WINDOW,
                 trim: int = TRIM) -> np.ndarray:
    """Per beat: normalised RMSSD, normalised Shannon entropy and turning-point ratio (columns) of
    the trimmed ``window`` RR intervals ending with the beat's previous RR.

    ``history`` holds the RR intervals before ``prev_rr_s`` (at most ``window - 1`` are used).
    Rows whose window is incomplete or holds an unknown (NaN or non-positive) interval are NaN.
    """
    if window < 8 or not 0 <= trim < window // 2 - 2:
        raise ValueError(f"window must be >= 8 and 0 <= trim < window/2 - 2, got {window}, {trim}")
    prev_rr_s = np.asarray(prev_rr_s, dtype=np.float64).ravel()
    past = np.zeros(0) if history is None else np.asarray(history, dtype=np.float64).ravel()[-(window - 1):]
    rr = np.concatenate([past, prev_rr_s])
    out = np.full((len(prev_rr_s), 3), np.nan)
    first = max(0, window - 1 - len(past))  # the first beat whose window is complete
    if first >= len(prev_rr_s):
        return out
    rows = np.arange(first, len(prev_rr_s))
    win = sliding_window_view(rr, window)[rows + len(past) - window + 1]
    ok = np.all(np.isfinite(win) & (win > 0), axis=1)
    win, rows = win[ok], rows[ok]
    if not len(win):
        return out
    rank = np.argsort(np.argsort(win, axis=1, kind="stable"), axis=1)
    keep = (rank >= trim) & (rank < window - trim)
    x = win[keep].reshape(len(win), window - 2 * trim)  # row-major: time order kept
    d = np.diff(x, axis=1)
    rmssd = np.sqrt(np.mean(d ** 2, axis=1)) / x.mean(axis=1)
    lo, hi = x.min(axis=1, keepdims=True), x.max(axis=1, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    b = np.minimum(((x - lo) / span * BINS).astype(int), BINS - 1)
    counts = np.stack([(b == k).sum(axis=1) for k in range(BINS)], axis=1) / x.shape[1]
    entropy = -(counts * np.log(np.where(counts > 0, counts, 1.0))).sum(axis=1) / np.log(BINS)
    turns = ((d[:, 1:] * d[:, :-1]) < 0).sum(axis=1)
    out[rows] = np.stack([rmssd, entropy, turns / (x.shape[1] - 2)], axis=1)
    return out


def tpr_bounds(n: int, sigmas: float = TPR_SIGMAS) -> tuple[float, float]:
    """Turning-point ratio of a random series of ``n`` values: expectation -/+ ``sigmas`` std.

    A random series has ``(2n - 4) / 3`` turning points with variance ``(16n - 29) / 90``."""
    mean, std = (2 * n - 4) / 3, np.sqrt((16 * n - 29) / 90)
    return (mean - sigmas * std) / (n - 2), (mean + sigmas * std) / (n - 2)


def skipped_intervals(ectopic: np.ndarray, previous_ectopic: bool = False) -> np.ndarray:
    """Per beat: whether its previous RR interval touches an ectopic beat (the beat itself, or the
    beat before it, which for the first beat is ``previous_ectopic``)."""
    ectopic = np.asarray(ectopic, dtype=bool).ravel()
    out = ectopic.copy()
    out[1:] |= ectopic[:-1]
    if len(out):
        out[0] |= bool(previous_ectopic)
    return out


def _kept(prev_rr_s: np.ndarray, ectopic: np.ndarray | None, previous_ectopic: bool = False) -> np.ndarray:
    """Which intervals the detector reads: all, or with ``ectopic`` those not next to an ectopic beat."""
    if ectopic is None:
        return np.ones(len(prev_rr_s), dtype=bool)
    if len(ectopic) != len(prev_rr_s):
        raise ValueError(f"{len(prev_rr_s)} RR intervals but {len(ectopic)} ectopic flags")
    return ~skipped_intervals(ectopic, previous_ectopic)


def _on_beats(kept_flags: np.ndarray, keep: np.ndarray, carry: bool = False) -> np.ndarray:
    """Each beat's flag: that of its last kept interval (``carry`` before the first one)."""
    return np.concatenate([[carry], kept_flags]).astype(bool)[np.cumsum(keep)]


def af_like(prev_rr_s: np.ndarray, history: np.ndarray | None = None, window: int = WINDOW, trim: int = TRIM,
            rmssd: float = RMSSD, entropy: float = ENTROPY, tpr_sigmas: float = TPR_SIGMAS,
            ectopic: np.ndarray | None = None) -> np.ndarray:
    """True for beats in an irregularly irregular (atrial-fibrillation-like) stretch; see the module.

    With ``ectopic`` (one flag per beat) the intervals next to ectopic beats are left out
    (:func:`skipped_intervals`); ``history`` then holds the earlier intervals that were kept."""
    prev_rr_s = np.asarray(prev_rr_s, dtype=np.float64).ravel()
    keep = _kept(prev_rr_s, ectopic)
    stats = irregularity(prev_rr_s[keep], history, window, trim)
    lo, hi = tpr_bounds(window - 2 * trim, tpr_sigmas)
    with np.errstate(invalid="ignore"):
        flags = (stats[:, 0] > rmssd) & (stats[:, 1] > entropy) & (stats[:, 2] >= lo) & (stats[:, 2] <= hi)
    return _on_beats(flags, keep)


class RhythmTracker:
    """:func:`af_like` over a stream of beats: ``update(prev_rr_s, ectopic=None)`` returns the flags
    of a batch of beats that follow the earlier batches; memory is bounded by ``window - 1`` RR
    values. Give ``ectopic`` with every batch or with none."""

    def __init__(self, window: int = WINDOW, trim: int = TRIM):
        irregularity(np.zeros(0), window=window, trim=trim)  # validates
        self.window, self.trim = int(window), int(trim)
        self._rr = np.zeros(0)  # the last kept intervals
        self._last_flag = False  # what a beat without a kept interval of its own carries
        self._last_ectopic = False

    def update(self, prev_rr_s: np.ndarray, ectopic: np.ndarray | None = None) -> np.ndarray:
        prev_rr_s = np.asarray(prev_rr_s, dtype=np.float64).ravel()
        keep = _kept(prev_rr_s, ectopic, self._last_ectopic)
        kept = prev_rr_s[keep]
        out = _on_beats(af_like(kept, self._rr, self.window, self.trim), keep, self._last_flag)
        if len(out):
            self._last_flag = bool(out[-1])
            self._last_ectopic = ectopic is not None and bool(np.asarray(ectopic).ravel()[-1])
        rr = np.concatenate([self._rr, kept])
        self._rr = rr[len(rr) - min(len(rr), self.window - 1):]
        return out


def af_like_by_record(prev_rr_s: np.ndarray, record: np.ndarray, sample: np.ndarray,
                      ectopic: np.ndarray | None = None) -> np.ndarray:
    """:func:`af_like` for beats of several records: each record's beats in time order (``sample``);
    ``ectopic`` (per beat, optional) as there."""
    from ..types import records_in_time_order

    prev_rr_s = np.asarray(prev_rr_s, dtype=np.float64)
    flags = np.zeros(len(prev_rr_s), dtype=bool)
    for idx in records_in_time_order(record, sample):
        flags[idx] = af_like(prev_rr_s[idx], ectopic=None if ectopic is None else np.asarray(ectopic)[idx])
    return flags
