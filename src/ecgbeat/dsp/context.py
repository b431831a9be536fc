"""Each beat against its own patient's recent past (pure numpy, causal).

Networks trained on a few dozen patients learn those patients' beat shapes; on a new patient a
normal beat of unusual shape is then called ventricular. What a cardiologist does instead is
compare a beat with the same patient's usual beat and usual rhythm. Two per-beat references give
a model the same view, computed from *earlier* beats only, so a stream computes exactly what a
whole-record analysis does:

- the **template**: the sample-by-sample median of the ``n_template`` previous beats (the
  patient's dominant beat; a median, so occasional ectopic beats do not move it);
- the **long-term RR**: the mean of the ``n_long`` RR intervals ending at the beat (about five
  minutes at 60 bpm); RR over it says how premature a beat is for *this* patient, which is how
  the strong feature-based inter-patient results (e.g. Lin & Yang 2014) use RR.

:class:`PatientContext` keeps what the next beats need, so the same code serves a whole record
(one :meth:`~PatientContext.update`) and a stream (one per decided batch).
"""

from __future__ import annotations

import numpy as np

#: Columns of :func:`template_stats`.
TEMPLATE_STATS = ("template_corr", "template_rms", "template_max_abs")


def running_templates(X: np.ndarray, n_template: int, history: np.ndarray | None = None,
                      block: int = 1024) -> np.ndarray:
    """Median of the ``n_template`` beats before each beat of ``X`` (n, n_samples).

    ``history`` holds the beats before ``X[0]`` (oldest first; only its last ``n_template`` rows
    are used). A beat with no earlier beat at all is its own template.
    """
    X = np.asarray(X, dtype=np.float32)
    hist = np.zeros((0, X.shape[1]), np.float32) if history is None else np.asarray(history, np.float32)
    hist = hist[len(hist) - min(len(hist), n_template):]
    full = np.concatenate([hist, X])
    h, n = len(hist), len(X)
    out = np.empty_like(X)
    for i in range(n):  # beats with fewer than n_template predecessors: growing windows
        k = h + i
        if k >= n_template:
            break
        out[i] = full[k] if k == 0 else np.median(full[:k], axis=0)
    first = max(0, n_template - h)  # first beat of X with a full window
    if first < n:
        windows = np.lib.stride_tricks.sliding_window_view(full, n_template, axis=0)  # (m, ns, K)
        for a in range(first, n, block):
            b = min(n, a + block)
            # beat i of X is row h + i of full; its window starts at row h + i - n_template
            out[a:b] = np.median(windows[h + a - n_template: h + b - n_template], axis=-1)
    return out


def running_mean_rr(prev_rr_s: np.ndarray, n_long: int, history: np.ndarray | None = None) -> np.ndarray:
    """Mean of the up to ``n_long`` known previous-RR values ending at each beat (NaN values, e.g.
    the first beat's, are skipped; NaN when none is known). ``history``: earlier values."""
    rr = np.asarray(prev_rr_s, dtype=np.float64)
    hist = np.zeros(0) if history is None else np.asarray(history, dtype=np.float64)
    hist = hist[len(hist) - min(len(hist), n_long):]
    full = np.concatenate([hist, rr])
    h = len(hist)
    out = np.full(len(rr), np.nan)
    for i in range(len(rr)):
        w = full[max(0, h + i + 1 - n_long): h + i + 1]
        w = w[~np.isnan(w)]
        if len(w):
            out[i] = w.mean()
    return out


def template_stats(X: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Pearson correlation, RMS difference and largest absolute difference of each beat and its
    template, shape (n, 3) float32 (:data:`TEMPLATE_STATS`); correlation 0 for a flat beat."""
    X = np.asarray(X, dtype=np.float64)
    T = np.asarray(template, dtype=np.float64)
    d = X - T
    xc = X - X.mean(axis=1, keepdims=True)
    tc = T - T.mean(axis=1, keepdims=True)
    denom = np.sqrt((xc ** 2).sum(axis=1) * (tc ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(denom > 0, (xc * tc).sum(axis=1) / denom, 0.0)
    corr = np.where((denom == 0) & (np.abs(d).max(axis=1, initial=0) == 0), 1.0, corr)  # beat == template
    return np.column_stack([corr, np.sqrt(np.mean(d ** 2, axis=1)), np.abs(d).max(axis=1, initial=0)]
                           ).astype(np.float32)


class PatientContext:
    """The template and long-term RR of beats that arrive in time order, in batches.

    ``update(X, prev_rr_s, readable)`` returns both for a batch; only readable beats enter the
    template history (an unreadable beat is not classified and its template is NaN), while every
    beat's previous RR enters the RR history (it comes from the R peaks, not the samples).
    Memory is bounded by ``n_template`` beats and ``n_long`` RR values.
    """

    def __init__(self, n_template: int = 64, n_long: int = 300):
        if n_template < 1 or n_long < 1:
            raise ValueError(f"n_template and n_long must be >= 1, got {n_template}, {n_long}")
        self.n_template, self.n_long = int(n_template), int(n_long)
        self._beats: np.ndarray | None = None
        self._rr = np.zeros(0)

    def update(self, X: np.ndarray, prev_rr_s: np.ndarray,
               readable: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.float32)
        prev_rr_s = np.asarray(prev_rr_s, dtype=np.float64)
        if len(prev_rr_s) != len(X):
            raise ValueError(f"{len(X)} beats but {len(prev_rr_s)} RR values")
        ok = np.ones(len(X), bool) if readable is None else np.asarray(readable, bool)
        long_rr = running_mean_rr(prev_rr_s, self.n_long, self._rr)
        template = np.full_like(X, np.nan)
        if ok.any():
            template[ok] = running_templates(X[ok], self.n_template, self._beats)
            past = X[ok] if self._beats is None else np.concatenate([self._beats, X[ok]])
            self._beats = past[len(past) - min(len(past), self.n_template):].copy()
        rr = np.concatenate([self._rr, prev_rr_s])
        self._rr = rr[len(rr) - min(len(rr), self.n_long):]
        return template, long_rr.astype(np.float32)
