"""R-peak (QRS) detection for single-lead ECG.

The detector is a Pan-Tompkins / Hamilton-Tompkins style design:

1. *QRS envelope*: zero-phase Butterworth band-pass (5-18 Hz), derivative,
   centred moving RMS over 150 ms.
2. *Candidates*: local maxima of the envelope that dominate a +-200 ms
   neighbourhood (200 ms is also the refractory period).
3. *Sequential decision* on the candidates: adaptive threshold between a
   robust QRS level (median of the last 8 QRS envelope peaks) and a noise
   level (median of the recent non-QRS envelope peaks), T-wave discrimination
   by slope for candidates closer than 360 ms to the previous beat, and
   search-back with half the threshold when no beat was found for 1.66 x the
   mean RR interval.  A candidate whose envelope stays above half its peak
   for more than 500 ms is not a QRS complex (noise burst, artefact) and is
   never accepted.  After 4 s without any beat the QRS level decays, so a
   sudden drop of amplitude (gain change, electrode) cannot stall detection.
4. *Ventricular flutter / fibrillation guard*: where the envelope no longer
   returns to baseline between consecutive detections (median valley/peak
   ratio of the last 3 s above 0.35), the activity is a flutter/fibrillation
   wave, not a QRS complex, and no R peak is reported (the MIT-BIH reference
   does not annotate beats there either).  Can be switched off.
5. *Localisation*: each accepted envelope peak is moved to the main
   deflection of the QRS complex (+-100 ms) in the 40 Hz low-passed signal,
   then snapped to the extremum of the raw signal within +-10 ms.
   The polarity of the deflection is chosen per beat with a preference for
   the dominant polarity of the recent beats, so that upright and inverted
   complexes are both located on their extremum (where the MIT-BIH reference
   annotations sit).

:func:`detect_r_peaks` runs this on a whole recording.  :class:`RPeakDetector`
runs the very same decision code on a stream of chunks; it re-filters a short
sliding window with the same zero-phase filters and a look-ahead margin, so
that its output on a whole record matches the offline function (up to
filter-edge round-off) while using bounded memory.  A peak is confirmed about
0.7-1.0 s after it occurred (later only when it is recovered by search-back).

NaN samples are treated as gaps: they are interpolated for filtering and no
peak is ever reported inside (or within 50 ms of) a NaN gap, i.e. a run of
at least 20 ms of NaN.  Shorter runs (isolated drop-outs) are only
interpolated, and a peak never sits on a NaN sample.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import ndimage
from scipy import signal as sps

from .filters import fill_nan, validate_fs, validate_signal

__all__ = ["MIN_DURATION_S", "RPeakDetector", "detect_r_peaks"]

#: Shortest signal (in seconds) accepted by :func:`detect_r_peaks`.
MIN_DURATION_S = 0.5


@dataclass(frozen=True)
class _Params:
    """Tuning constants (all durations in seconds)."""

    qrs_low_hz: float = 5.0
    qrs_high_hz: float = 18.0
    loc_high_hz: float = 40.0
    mwi_s: float = 0.150
    refractory_s: float = 0.200
    learn_s: float = 2.0
    level_len: int = 8
    noise_win_s: float = 5.0
    th_coef: float = 0.30
    twave_s: float = 0.360
    twave_slope_ratio: float = 0.5
    searchback_factor: float = 1.66
    searchback_coef: float = 0.5
    recover_s: float = 4.0
    rr_init_s: float = 1.0
    rr_min_s: float = 0.2
    rr_max_s: float = 3.0
    slope_half_s: float = 0.075
    loc_half_s: float = 0.100
    base_half_s: float = 0.200
    snap_half_s: float = 0.010
    polarity_ratio: float = 1.8
    polarity_len: int = 31
    gap_margin_s: float = 0.05
    gap_min_s: float = 0.02
    max_width_s: float = 0.5
    width_cap_s: float = 0.4
    vf_window_s: float = 3.0
    vf_valley_ratio: float = 0.35
    vf_min_beats: int = 3
    # Streaming only.
    stream_margin_s: float = 0.3
    stream_context_s: float = 1.0
    stream_step_s: float = 0.25


_DEFAULT = _Params()


class _Cand(NamedTuple):
    """An envelope candidate and everything needed to report it later."""

    t: int  # envelope peak (absolute sample index)
    amp: float  # envelope value
    slope: float  # max |derivative| of the QRS band around t
    valley: float  # min envelope since the previous candidate
    width: int  # samples around t where the envelope stays above half of amp
    pos_i: int  # positive extremum (absolute index) and its height
    pos_a: float
    neg_i: int  # negative extremum (absolute index) and its depth
    neg_a: float
    pos_gap: bool  # extremum within gap_margin_s of a NaN gap
    neg_gap: bool


# ---------------------------------------------------------------------------
# Signal features
# ---------------------------------------------------------------------------


class _Filters:
    def __init__(self, fs: float, p: _Params):
        nyq = fs / 2.0
        high = min(p.qrs_high_hz, 0.8 * nyq)
        low = min(p.qrs_low_hz, 0.5 * high)
        self.qrs = _ZeroPhase(sps.butter(2, [low, high], btype="bandpass", fs=fs, output="sos"))
        self.loc = _ZeroPhase(sps.butter(2, min(p.loc_high_hz, 0.8 * nyq), btype="lowpass", fs=fs, output="sos"))
        self.fs = fs
        self.mwi = max(1, int(round(p.mwi_s * fs)))
        self.ref = max(1, int(round(p.refractory_s * fs)))
        self.slope_half = max(1, int(round(p.slope_half_s * fs)))
        self.loc_half = max(1, int(round(p.loc_half_s * fs)))
        self.base_half = max(1, int(round(p.base_half_s * fs)))
        self.gap_margin = max(0, int(round(p.gap_margin_s * fs)))
        self.gap_min = max(1, int(round(p.gap_min_s * fs)))
        self.snap = max(1, int(round(p.snap_half_s * fs)))
        self.width_cap = max(1, int(round(p.width_cap_s * fs)))


class _ZeroPhase:
    """Forward-backward SOS filter, same result as ``sosfiltfilt`` (odd padding).

    The initial-condition vector is computed once, which matters for the
    streaming detector that filters many short windows.
    """

    def __init__(self, sos: np.ndarray):
        self.sos = sos
        self.zi = sps.sosfilt_zi(sos)
        self.pad = 3 * (2 * sos.shape[0] + 1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        padlen = min(self.pad, x.size - 1)
        if padlen > 0:
            ext = np.concatenate((2.0 * x[0] - x[padlen:0:-1], x, 2.0 * x[-1] - x[-2 : -(padlen + 2) : -1]))
        else:
            ext = x
        y, _ = sps.sosfilt(self.sos, ext, zi=self.zi * ext[0])
        y, _ = sps.sosfilt(self.sos, y[::-1], zi=self.zi * y[-1])
        y = y[::-1]
        return y[padlen : y.size - padlen] if padlen > 0 else y


def _features(x: np.ndarray, f: _Filters):
    """QRS envelope, absolute QRS-band slope and localisation signal."""
    xb = f.qrs(x)
    slope = np.abs(np.gradient(xb)) * f.fs
    env = np.sqrt(np.maximum(ndimage.uniform_filter1d(slope * slope, f.mwi, mode="nearest"), 0.0))
    xl = f.loc(x)
    return env, slope, xl


def _local_maxima(env: np.ndarray, half: int, lo: int, hi: int, floor: float) -> np.ndarray:
    """Indices in ``[lo, hi)`` where ``env`` rises and dominates +-``half`` samples."""
    lo = max(lo, 1)
    hi = min(hi, env.size - 1)
    if hi <= lo:
        return np.empty(0, dtype=np.int64)
    mx = ndimage.maximum_filter1d(env, 2 * half + 1, mode="nearest")
    seg = slice(lo, hi)
    idx = np.flatnonzero((env[seg] >= mx[seg]) & (env[seg] > env[lo - 1 : hi - 1]) & (env[seg] > floor)) + lo
    if idx.size > 1:
        # Exact ties inside one neighbourhood: keep the first index.
        keep = np.ones(idx.size, dtype=bool)
        keep[1:] = np.diff(idx) > half
        idx = idx[keep]
    return idx.astype(np.int64)


def _snap(x: np.ndarray, i: int, half: int, arg) -> int:
    """Move ``i`` to the extremum (``arg`` = argmax/argmin) of the raw signal nearby."""
    a = max(0, i - half)
    return a + int(arg(x[a : i + half + 1]))


def _near_gaps(nan_mask: np.ndarray, min_len: int, margin: int) -> np.ndarray:
    """Samples inside or within ``margin`` of a NaN run of at least ``min_len`` samples.

    Shorter runs (isolated drop-outs) are only interpolated, not treated as gaps.
    """
    labels, n_runs = ndimage.label(nan_mask)
    if n_runs == 0:
        return np.zeros(nan_mask.size, dtype=bool)
    sizes = np.bincount(labels)
    sizes[0] = 0
    gaps = sizes[labels] >= min_len
    if margin > 0 and gaps.any():
        gaps = ndimage.binary_dilation(gaps, iterations=margin)
    return gaps


def _nearest_finite(nan_mask: np.ndarray, i: int) -> int:
    """``i`` or the closest index (left first) that was not NaN in the input."""
    if not nan_mask[i]:
        return i
    n = nan_mask.size
    for d in range(1, n):
        if i - d >= 0 and not nan_mask[i - d]:
            return i - d
        if i + d < n and not nan_mask[i + d]:
            return i + d
    return i


def _half_width(env: np.ndarray, c: int, cap: int) -> int:
    """Samples around ``c`` where ``env`` exceeds half of ``env[c]`` (each side capped)."""
    half = 0.5 * env[c]
    left = env[max(0, c - cap) : c][::-1]
    below = np.flatnonzero(left <= half)
    n_left = int(below[0]) if below.size else left.size
    right = env[c + 1 : c + 1 + cap]
    below = np.flatnonzero(right <= half)
    n_right = int(below[0]) if below.size else right.size
    return n_left + n_right + 1


def _extract(
    x: np.ndarray,
    nan_mask: np.ndarray,
    offset: int,
    lo: int,
    hi: int,
    run_min: float,
    f: _Filters,
) -> tuple[list[_Cand], float]:
    """Candidates with envelope peak in ``[lo, hi)`` of the (NaN-filled) window ``x``.

    ``offset`` is the absolute index of ``x[0]``; ``run_min`` is the minimum
    envelope since the last candidate before ``lo``.  Returns the candidates
    (absolute indices) and the updated running minimum up to ``hi``.
    """
    env, slope, xl = _features(x, f)
    floor = 1e-7 * f.fs * float(np.max(np.abs(x))) if x.size else 0.0
    idx = _local_maxima(env, f.ref, lo, hi, floor)
    has_nan = bool(nan_mask.any())
    near_gap = None
    if has_nan:
        near_gap = _near_gaps(nan_mask, f.gap_min, f.gap_margin)
        if idx.size:
            idx = idx[~near_gap[idx]]
    n = x.size
    out: list[_Cand] = []
    start = lo
    for c in idx.tolist():
        seg = env[start : c + 1]
        valley = min(run_min, float(seg.min())) if seg.size else run_min
        run_min = np.inf
        start = c
        s = float(slope[max(0, c - f.slope_half) : min(n, c + f.slope_half + 1)].max())
        base = float(np.median(xl[max(0, c - f.base_half) : min(n, c + f.base_half + 1)]))
        w0 = max(0, c - f.loc_half)
        w = xl[w0 : min(n, c + f.loc_half + 1)]
        j_max = w0 + int(np.argmax(w))
        j_min = w0 + int(np.argmin(w))
        i_max = _snap(x, j_max, f.snap, np.argmax)
        i_min = _snap(x, j_min, f.snap, np.argmin)
        if has_nan:
            i_max = _nearest_finite(nan_mask, i_max)
            i_min = _nearest_finite(nan_mask, i_min)
        out.append(
            _Cand(
                t=c + offset,
                amp=float(env[c]),
                slope=s,
                valley=valley,
                width=_half_width(env, c, f.width_cap),
                pos_i=i_max + offset,
                pos_a=float(xl[j_max]) - base,
                neg_i=i_min + offset,
                neg_a=base - float(xl[j_min]),
                pos_gap=bool(near_gap[i_max]) if near_gap is not None else False,
                neg_gap=bool(near_gap[i_min]) if near_gap is not None else False,
            )
        )
    if hi > start:
        run_min = min(run_min, float(env[start:hi].min()))
    return out, run_min


# ---------------------------------------------------------------------------
# Sequential decision logic (shared by offline and streaming detection)
# ---------------------------------------------------------------------------


def _median(values) -> float:
    """Median of a short sequence (much faster than ``np.median`` on a few items)."""
    v = sorted(values)
    n = len(v)
    if n == 0:
        return 0.0
    h = n // 2
    return float(v[h]) if n % 2 else 0.5 * (v[h - 1] + v[h])


class _Decider:
    """Adaptive-threshold classification of envelope candidates.

    Candidates must be fed in increasing time order.  ``advance(now)`` must be
    called once every candidate with ``t < now`` has been fed; it runs the
    search-back for missed beats.  The result only depends on the sequence of
    candidates, never on how the calls were split, which is what makes the
    streaming detector reproduce the offline one.
    """

    def __init__(self, fs: float, p: _Params):
        self.fs = fs
        self.p = p
        self.ref = p.refractory_s * fs
        self.twave = p.twave_s * fs
        self.rr_min = p.rr_min_s * fs
        self.rr_max = p.rr_max_s * fs
        self.learn_end = p.learn_s * fs
        self.noise_win = p.noise_win_s * fs
        self.vf_win = p.vf_window_s * fs
        self.max_width = p.max_width_s * fs
        self.learning = True
        self.learn_buf: list[_Cand] = []
        self.qrs_lvl: deque[float] = deque(maxlen=p.level_len)
        self.noise_lvl: deque[tuple[int, float]] = deque(maxlen=p.level_len)
        self.rr: deque[float] = deque(maxlen=8)
        self.vf_keep = self.vf_win + 2.0 * p.searchback_factor * self.rr_max
        self.vf_vals: deque[tuple[int, float]] = deque()  # (t, valley/peak ratio)
        self.ev_amp: float | None = None  # envelope of the last major deflection
        self.ev_valley = np.inf  # min envelope since then
        self.last: _Cand | None = None
        # Candidates after the last beat: (cand, eligible for search-back).
        self.pending: list[tuple[_Cand, bool]] = []
        self.searched_until = -1.0
        self.beats: list[tuple[_Cand, bool]] = []  # (cand, vf_suppressed), drained by caller

    # -- levels -----------------------------------------------------------
    def _qrs_level(self) -> float:
        return _median(self.qrs_lvl)

    def _noise_level(self, t: float) -> float:
        horizon = t - self.noise_win
        vals = [a for (tn, a) in self.noise_lvl if tn >= horizon]
        return _median(vals)

    def _threshold(self, t: float) -> float:
        q = self._qrs_level()
        nz = self._noise_level(t)
        return nz + self.p.th_coef * max(q - nz, 0.0)

    def _rr_mean(self) -> float:
        return sum(self.rr) / len(self.rr) if self.rr else self.p.rr_init_s * self.fs

    # -- acceptance ---------------------------------------------------------
    def _accept(self, c: _Cand, event: bool = True) -> None:
        prev = self.last
        if prev is not None:
            rr = c.t - prev.t
            if self.rr_min <= rr <= self.rr_max:
                self.rr.append(float(rr))
        if event:
            self._guard_event(c)
        suppressed = self._guard_active(c.t)
        self.qrs_lvl.append(c.amp)
        self.last = c
        self.pending = [q for q in self.pending if q[0].t > c.t]
        self.searched_until = -1.0
        self.beats.append((c, suppressed))

    # -- ventricular flutter / fibrillation guard ----------------------------
    def _guard_event(self, c: _Cand) -> None:
        """Record a major deflection (a beat, or a candidate above threshold)."""
        if self.ev_amp is not None:
            top = max(self.ev_amp, c.amp)
            self.vf_vals.append((c.t, self.ev_valley / top if top > 0 else 0.0))
            while self.vf_vals and self.vf_vals[0][0] < c.t - self.vf_keep:
                self.vf_vals.popleft()
        self.ev_amp = c.amp
        self.ev_valley = np.inf

    def _guard_active(self, t: int) -> bool:
        """True when the envelope did not return to baseline between deflections."""
        vals = [v for tv, v in self.vf_vals if t - self.vf_win <= tv <= t]
        return len(vals) >= self.p.vf_min_beats and _median(vals) > self.p.vf_valley_ratio

    # -- learning phase ---------------------------------------------------
    def _finish_learning(self) -> None:
        self.learning = False
        buf = self.learn_buf
        self.learn_buf = []
        if not buf:
            return
        narrow = [c for c in buf if c.width <= self.max_width] or buf
        amps = np.array([c.amp for c in narrow])
        self.qrs_lvl.append(float(amps.max()) * 0.5)
        self.noise_lvl.append((int(self.learn_end), float(np.median(amps)) * 0.5))
        for c in buf:
            self.advance(c.t)
            self._classify(c)

    # -- classification -----------------------------------------------------
    def _classify(self, c: _Cand) -> None:
        self.ev_valley = min(self.ev_valley, c.valley)
        last = self.last
        if last is not None and c.t - last.t < self.ref:
            self.pending.append((c, False))
            return
        eligible = True
        if c.width > self.max_width:
            eligible = False  # energy spread over too long for one QRS complex
            if c.amp >= self._threshold(c.t):
                self._guard_event(c)
        elif c.amp >= self._threshold(c.t):
            if last is not None and c.t - last.t < self.twave and c.slope < self.p.twave_slope_ratio * last.slope:
                eligible = False  # T wave
            else:
                self._accept(c)
                return
        self.noise_lvl.append((c.t, c.amp))
        self.pending.append((c, eligible))

    def feed(self, c: _Cand) -> None:
        if self.learning:
            if c.t < self.learn_end:
                self.learn_buf.append(c)
                return
            self._finish_learning()
        self.advance(c.t)
        self._classify(c)

    def end(self, now: float) -> None:
        """The end of the input at ``now``: a learning phase still open ends on the candidates seen
        (a signal shorter than it has beats too), then the search runs up to ``now``."""
        if self.learning:
            self._finish_learning()
        self.advance(now)

    def advance(self, now: float) -> None:
        if self.learning:
            if now < self.learn_end:
                return
            self._finish_learning()
        if self.last is None:
            self._prune(now - 2.0 * self.rr_max)
            return
        while True:
            window = self.p.searchback_factor * self._rr_mean()
            if self.searched_until < 0:
                lo = self.last.t + self.ref
                hi = self.last.t + window
            else:
                lo = self.searched_until
                hi = self.searched_until + window
            if now <= hi:
                return
            thr2 = self.p.searchback_coef * self._threshold(hi)
            best = None
            for c, eligible in self.pending:
                if eligible and lo <= c.t <= hi and c.amp >= thr2:
                    if best is None or c.amp > best.amp:
                        best = c
            if best is None:
                # Nothing found: the next window is searched once it has passed.
                self.searched_until = hi
                self._prune(hi)
                if self.p.recover_s > 0 and hi - self.last.t > self.p.recover_s * self.fs:
                    # Long silence: let the QRS level decay so that a lasting
                    # drop of amplitude cannot block detection for ever.
                    self.qrs_lvl = deque((0.5 * q for q in self.qrs_lvl), maxlen=self.p.level_len)
                continue
            self._accept(best, event=False)

    def _prune(self, before: float) -> None:
        keep = []
        for item in self.pending:
            if item[0].t > before:
                keep.append(item)
        self.pending = keep


# ---------------------------------------------------------------------------
# Output stage: polarity / localisation, VF guard, gaps, de-duplication
# ---------------------------------------------------------------------------


class _Emitter:
    """Turns accepted candidates into R-peak indices (same code offline and streaming)."""

    def __init__(self, fs: float, p: _Params, vf_guard: bool):
        self.p = p
        self.vf_guard = vf_guard
        self.ref = p.refractory_s * fs
        self.diffs: deque[float] = deque(maxlen=p.polarity_len)
        self.last_out: int | None = None

    def process(self, beats: list[tuple[_Cand, bool]]) -> list[int]:
        out = []
        ratio = self.p.polarity_ratio
        for c, suppressed in beats:
            self.diffs.append(c.pos_a - c.neg_a)
            dominant_pos = _median(self.diffs) >= 0.0
            pos_a = max(c.pos_a, 0.0)
            neg_a = max(c.neg_a, 0.0)
            if dominant_pos:
                use_neg = neg_a > ratio * pos_a
            else:
                use_neg = not (pos_a > ratio * neg_a)
            i, gap = (c.neg_i, c.neg_gap) if use_neg else (c.pos_i, c.pos_gap)
            if (suppressed and self.vf_guard) or gap:
                continue
            if self.last_out is not None and i - self.last_out < self.ref:
                continue
            self.last_out = i
            out.append(i)
        return out


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def detect_r_peaks(signal, fs: float, *, vf_guard: bool = True) -> np.ndarray:
    """Detect R peaks in a single-lead ECG.

    Parameters
    ----------
    signal : array_like
        1-D raw ECG (any unit, any baseline).  NaN samples mark gaps: no peak
        is reported inside a NaN run of 20 ms or more, nor within 50 ms of
        it; shorter drop-outs are interpolated and a peak never sits on a NaN
        sample.
    fs : float
        Sampling frequency in Hz (50..2000).
    vf_guard : bool, optional
        If True (default), detections inside ventricular flutter/fibrillation
        like activity (the QRS envelope does not return to baseline between
        consecutive detections for 3 s) are not reported, since those waves
        are not QRS complexes.  Set to False to report every detection.

    Returns
    -------
    numpy.ndarray of int64
        Sorted sample indices of the R peaks, placed on the main deflection of
        each QRS complex (the R wave, or the S/QS wave for predominantly
        negative complexes).

    Raises
    ------
    ValueError
        If ``fs`` is outside 50..2000 Hz, the signal is not 1-D, contains
        ``inf``, or is shorter than :data:`MIN_DURATION_S` seconds.

    Notes
    -----
    The first 2 s are used to initialise the adaptive thresholds and are then
    re-examined, so beats at the very start are detected as well.  Flat or
    all-NaN input yields an empty array.
    """
    fs = validate_fs(fs)
    x = validate_signal(signal, min_samples=int(np.ceil(MIN_DURATION_S * fs)))
    return _detect_offline(x, fs, _DEFAULT, vf_guard=vf_guard)


def _detect_offline(x: np.ndarray, fs: float, p: _Params, vf_guard: bool = True) -> np.ndarray:
    x, nan_mask = fill_nan(x)
    if nan_mask.all() or np.ptp(x) == 0.0:
        return np.empty(0, dtype=np.int64)
    f = _Filters(fs, p)
    cands, _ = _extract(x, nan_mask, 0, 0, x.size, np.inf, f)
    dec = _Decider(fs, p)
    for c in cands:
        dec.feed(c)
    dec.end(float(x.size))
    peaks = _Emitter(fs, p, vf_guard).process(dec.beats)
    return np.asarray(peaks, dtype=np.int64)


class RPeakDetector:
    """Streaming R-peak detector with bounded memory.

    Feed consecutive chunks of one ECG lead with :meth:`push`; each call
    returns the absolute sample indices (counted from the first pushed
    sample) of the R peaks confirmed by that call.  Call :meth:`flush` at the
    end of the stream to get the peaks still held in the look-ahead window.

    The decision logic is exactly the one of :func:`detect_r_peaks`; the
    filters are applied zero-phase on a sliding window (1 s of history, the
    new samples and 0.7 s of look-ahead, of which 0.3 s only absorb the
    filter edge), so the peaks of a whole record agree with the offline
    result (on all 48 MIT-BIH records they are identical; differences could
    only come from borderline decisions flipped by filter-edge round-off).
    Memory is bounded (a few seconds of samples and a few dozen candidates).
    Samples are processed in steps of at least 0.25 s, so a peak is
    confirmed about 0.7-1.0 s after it occurred; beats recovered by
    search-back are confirmed once 1.66 mean RR intervals have passed
    without a beat.

    Parameters
    ----------
    fs : float
        Sampling frequency in Hz (50..2000).
    vf_guard : bool, optional
        Suppress detections in ventricular flutter/fibrillation like activity,
        as in :func:`detect_r_peaks`.

    Raises
    ------
    ValueError
        If ``fs`` is outside 50..2000 Hz.

    Examples
    --------
    >>> det = RPeakDetector(fs=360)
    >>> peaks = [det.push(chunk) for chunk in chunks]      # doctest: +SKIP
    >>> peaks.append(det.flush())                          # doctest: +SKIP
    >>> peaks = np.concatenate(peaks)                      # doctest: +SKIP
    """

    def __init__(self, fs: float, *, vf_guard: bool = True):
        self._fs = validate_fs(fs)
        self._p = _DEFAULT
        self._vf_guard = bool(vf_guard)
        self._f = _Filters(self._fs, self._p)
        p = self._p
        self._ctx = int(round(p.stream_context_s * self._fs))
        # Candidates need env up to t + refractory and xl up to t + base window,
        # both computed at least ``stream_margin_s`` away from the window end.
        self._look = int(round(p.stream_margin_s * self._fs)) + max(self._f.ref, self._f.base_half, self._f.width_cap)
        self._step = max(1, int(round(p.stream_step_s * self._fs)))
        self.reset()

    @property
    def fs(self) -> float:
        """Sampling frequency in Hz."""
        return self._fs

    @property
    def n_samples(self) -> int:
        """Number of samples pushed so far."""
        return self._n

    def reset(self) -> None:
        """Forget all state and start a new stream at sample index 0."""
        self._buf = np.empty(0, dtype=np.float64)
        self._buf_start = 0  # absolute index of self._buf[0]
        self._n = 0  # samples received
        self._done = 0  # candidates before this index have been extracted
        self._run_min = np.inf
        self._dec = _Decider(self._fs, self._p)
        self._emit = _Emitter(self._fs, self._p, self._vf_guard)
        self._finished = False

    def push(self, chunk) -> np.ndarray:
        """Append samples and return newly confirmed R peaks.

        Parameters
        ----------
        chunk : array_like
            1-D block of consecutive samples (may be empty; NaN marks gaps).

        Returns
        -------
        numpy.ndarray of int64
            Absolute sample indices of the peaks confirmed by this call, in
            increasing order.

        Raises
        ------
        ValueError
            If the chunk is not 1-D or contains infinite values, or if
            :meth:`flush` was already called (use :meth:`reset`).
        """
        if self._finished:
            raise ValueError("push() after flush(): call reset() to start a new stream")
        x = validate_signal(chunk, min_samples=0, name="chunk")
        if x.size:
            self._buf = np.concatenate([self._buf, x])
            self._n += x.size
        out: list[int] = []
        while self._n - self._look - self._done >= self._step:
            out.extend(self._process(self._n - self._look))
        return np.asarray(out, dtype=np.int64)

    def flush(self) -> np.ndarray:
        """Process the remaining samples as the end of the recording.

        Returns
        -------
        numpy.ndarray of int64
            Absolute sample indices of the remaining confirmed R peaks.
        """
        if self._finished:
            return np.empty(0, dtype=np.int64)
        self._finished = True
        out = self._process(self._n) if self._n > self._done else []
        self._dec.end(float(self._n))
        out.extend(self._drain())
        return np.asarray(out, dtype=np.int64)

    # -- internals ----------------------------------------------------------
    def _process(self, hi: int) -> list[int]:
        w0 = max(self._buf_start, self._done - self._ctx)
        x = self._buf[w0 - self._buf_start :]
        if x.size >= 3:
            xf, nan_mask = fill_nan(x)
            cands, self._run_min = _extract(xf, nan_mask, w0, self._done - w0, hi - w0, self._run_min, self._f)
            for c in cands:
                self._dec.feed(c)
        self._dec.advance(float(hi))
        self._done = hi
        keep_from = max(self._buf_start, self._done - self._ctx)
        if keep_from > self._buf_start:
            self._buf = self._buf[keep_from - self._buf_start :].copy()
            self._buf_start = keep_from
        return self._drain()

    def _drain(self) -> list[int]:
        beats = self._dec.beats
        self._dec.beats = []
        return self._emit.process(beats)
