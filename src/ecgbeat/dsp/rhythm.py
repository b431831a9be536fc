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

All three must hold. A stretch of frequent ventricular ectopy can pass too (it is irregular);
the detector is a rhythm cue, not a diagnosis.
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


def af_like(prev_rr_s: np.ndarray, history: np.ndarray | None = None, window: int = WINDOW, trim: int = TRIM,
            rmssd: float = RMSSD, entropy: float = ENTROPY, tpr_sigmas: float = TPR_SIGMAS) -> np.ndarray:
    """True for beats in an irregularly irregular (atrial-fibrillation-like) stretch; see the module."""
    stats = irregularity(prev_rr_s, history, window, trim)
    lo, hi = tpr_bounds(window - 2 * trim, tpr_sigmas)
    with np.errstate(invalid="ignore"):
        return (stats[:, 0] > rmssd) & (stats[:, 1] > entropy) & (stats[:, 2] >= lo) & (stats[:, 2] <= hi)


class RhythmTracker:
    """:func:`af_like` over a stream of beats: ``update(prev_rr_s)`` returns the flags of a batch
    of beats that follow the earlier batches; memory is bounded by ``window - 1`` RR values."""

    def __init__(self, window: int = WINDOW, trim: int = TRIM):
        irregularity(np.zeros(0), window=window, trim=trim)  # validates
        self.window, self.trim = int(window), int(trim)
        self._rr = np.zeros(0)

    def update(self, prev_rr_s: np.ndarray) -> np.ndarray:
        prev_rr_s = np.asarray(prev_rr_s, dtype=np.float64).ravel()
        flags = af_like(prev_rr_s, self._rr, self.window, self.trim)
        rr = np.concatenate([self._rr, prev_rr_s])
        self._rr = rr[len(rr) - min(len(rr), self.window - 1):]
        return flags


def af_like_by_record(prev_rr_s: np.ndarray, record: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """:func:`af_like` for beats of several records: each record's beats in time order (``sample``)."""
    from ..types import records_in_time_order

    prev_rr_s = np.asarray(prev_rr_s, dtype=np.float64)
    flags = np.zeros(len(prev_rr_s), dtype=bool)
    for idx in records_in_time_order(record, sample):
        flags[idx] = af_like(prev_rr_s[idx])
    return flags
