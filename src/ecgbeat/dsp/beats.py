"""Beat cutting as in Kachuee, Fazeli & Sarrafzadeh 2018 (the Kaggle heartbeat beats).

Pure numpy: a signal already at the target ``fs`` and R-peak positions in, fixed-length beats out.
Two ways to scale a beat (``BeatParams.scaling``):

``"fixed"``
    :func:`segment_beats`: consecutive ``window_s`` windows from the signal start, each min-max
    scaled, beat length from the median RR of the window's peaks (the Kaggle beats). A stream
    must wait for the end of a beat's window before it can cut it (up to ``window_s`` + 1.5 s).
``"causal"``
    :func:`segment_beats_causal`: for each beat the ``window_s`` ending where the beat ends,
    beat length from the median RR of the peaks of the previous ``window_s``: the same kind of
    scaling computed from the past only, so a stream decides about one beat length after the
    R peak. A model trained on such beats is cut exactly as trained on a stream too.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import EcgbeatError, is_finite_real

SCALINGS = ("fixed", "causal")

#: Shortest beat (samples) and scaling window (samples) that ``BeatParams`` accepts.
MIN_SAMPLES = 2

#: The numeric fields of :class:`BeatParams`: (kind, what the value must be).
_NUMBERS = {
    "fs": (float, "a finite number > 0 (Hz)"),
    "n_samples": (int, f"a whole number >= {MIN_SAMPLES}"),
    "window_s": (float, "a finite number > 0 (seconds)"),
    "rr_factor": (float, "a finite number > 0"),
    "template_beats": (int, "a whole number >= 1"),
    "long_rr_beats": (int, "a whole number >= 1"),
}


def _checked_params(values: dict, where: str) -> dict:
    """``values`` (every field of :class:`BeatParams`) checked and normalised to ``float`` / ``int``,
    or an :class:`EcgbeatError` naming ``where.field`` and the problem."""
    out = dict(values)
    for name, (kind, rule) in _NUMBERS.items():
        value = values[name]
        ok = is_finite_real(value)
        if ok and kind is int:
            ok = float(value).is_integer() and value >= (MIN_SAMPLES if name == "n_samples" else 1)
        elif ok:
            ok = value > 0
        if not ok:
            raise EcgbeatError(f"{where}.{name} must be {rule}, got {value!r}")
        out[name] = kind(value)
    scaling = values["scaling"]
    if not isinstance(scaling, str) or scaling not in SCALINGS:
        raise EcgbeatError(f"{where}.scaling must be one of {', '.join(SCALINGS)}, got {scaling!r}")
    window = out["window_s"] * out["fs"]
    if not math.isfinite(window) or round(window) < MIN_SAMPLES:
        size = f"be at least {MIN_SAMPLES} samples" if math.isfinite(window) else "be a finite number of samples"
        raise EcgbeatError(f"{where}: the scaling window (window_s x fs) must {size}, got "
                           f"{out['window_s']!r} s x {out['fs']!r} Hz")
    return out


@dataclass(frozen=True)
class BeatParams:
    """How beats are cut; stored in every checkpoint so new input is cut the same way.

    Attributes
    ----------
    fs : float
        Sampling frequency of the beats, Hz (Kaggle: 125).
    n_samples : int
        Beat length after truncation / zero padding (Kaggle: 187 = 1.496 s).
    window_s : float
        Length of the windows that are min-max scaled to [0, 1] (Kaggle: 10 s).
    rr_factor : float
        Each beat spans ``rr_factor`` x the window's median RR interval from its R peak.
    scaling : {"fixed", "causal"}
        Which windows are scaled (see the module docstring; Kaggle: "fixed").
    template_beats : int
        Each beat's template is the median of this many previous beats of its record
        (:mod:`ecgbeat.dsp.context`; used by models that take the template or context features).
    long_rr_beats : int
        The long-term RR is the mean of this many RR intervals ending at the beat.
    """

    fs: float = 125.0
    n_samples: int = 187
    window_s: float = 10.0
    rr_factor: float = 1.2
    scaling: str = "fixed"
    template_beats: int = 64
    long_rr_beats: int = 300

    def __post_init__(self):
        # an EcgbeatError (a ValueError) naming the field: fs=0, window_s=nan, n_samples=0 or
        # rr_factor=-1 would otherwise fail deep in scipy / numpy / wfdb, or cut empty beats silently
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name, value in _checked_params(fields, "BeatParams").items():
            object.__setattr__(self, name, value)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str = "BeatParams") -> BeatParams:
        """The parameters in ``d`` (e.g. a checkpoint's ``preprocessing``); missing keys (or null)
        take the defaults (checkpoints written before ``scaling`` existed are "fixed"), other keys
        are ignored. A value of the wrong kind (``"abc"``, ``0``, ``187.5`` samples) is an
        :class:`EcgbeatError` naming ``where.key``."""
        if not isinstance(d, Mapping):
            raise EcgbeatError(f"{where} must be an object of beat parameters (fs, n_samples, ...), "
                               f"got {type(d).__name__} {d!r:.60}")
        defaults = cls()
        values = {f.name: getattr(defaults, f.name) if d.get(f.name) is None else d[f.name]
                  for f in dataclasses.fields(cls)}
        return cls(**_checked_params(values, where))


def cut(signal: np.ndarray, r_peaks: np.ndarray, params: BeatParams = BeatParams()) -> np.ndarray:
    """Beats cut with ``params.scaling``: :func:`segment_beats` or :func:`segment_beats_causal`."""
    if params.scaling == "causal":
        return segment_beats_causal(signal, r_peaks, params)
    return segment_beats(signal, r_peaks, params)


def segment_beats(signal: np.ndarray, r_peaks: np.ndarray, params: BeatParams = BeatParams()) -> np.ndarray:
    """Cut one fixed-length beat per R peak.

    The signal is split into consecutive windows of ``params.window_s``; each window is min-max
    scaled to [0, 1]. A beat starts at its R peak and spans ``rr_factor`` x the median RR
    interval of the R peaks inside its window (the median over the whole signal when the window
    holds fewer than two); the part of a beat that runs past its window's end is scaled with
    that window's minimum and maximum and clipped to [0, 1], so beats near a window edge are not
    cut short. Beats are truncated or zero-padded to ``n_samples``.

    Parameters
    ----------
    signal : ndarray, shape (n,)
        ECG at ``params.fs`` (any unit).
    r_peaks : ndarray of int, shape (n_beats,)
        Sorted R-peak sample indices into ``signal``.

    Returns
    -------
    ndarray, shape (n_beats, n_samples), float32
    """
    signal, r_peaks = _checked(signal, r_peaks)
    beats = np.zeros((len(r_peaks), params.n_samples), dtype=np.float32)
    if len(r_peaks) == 0:
        return beats
    window = int(round(params.window_s * params.fs))
    rr_all = np.diff(r_peaks)
    fallback_rr = float(np.median(rr_all)) if len(rr_all) else params.fs  # 60 bpm when alone
    window_of = r_peaks // window
    for w in np.unique(window_of):
        start, stop = w * window, min((w + 1) * window, len(signal))
        lo, hi = np.nanmin(signal[start:stop]), np.nanmax(signal[start:stop])
        scale = 1.0 / (hi - lo) if hi > lo else 0.0
        inside = np.flatnonzero(window_of == w)
        length = beat_length(np.diff(r_peaks[inside]), params, fallback_rr)
        for i in inside:
            piece = signal[r_peaks[i] : r_peaks[i] + length]
            beats[i, : len(piece)] = np.clip((piece - lo) * scale, 0.0, 1.0)
    return np.nan_to_num(beats, nan=0.0)


def beat_length(rr: np.ndarray, params: BeatParams, fallback_rr: float | None = None) -> int:
    """Beat length in samples: ``rr_factor`` x the median of the RR intervals ``rr`` (samples),
    ``fallback_rr`` (default ``params.fs``, i.e. 60 bpm) when there are none, clipped to
    [1, ``n_samples``]. :func:`causal_lengths` is the same rule vectorised over many beats."""
    median = np.median(rr) if len(rr) else (params.fs if fallback_rr is None else fallback_rr)
    return max(1, min(int(round(params.rr_factor * median)), params.n_samples))


def segment_beats_causal(signal: np.ndarray, r_peaks: np.ndarray, params: BeatParams = BeatParams()) -> np.ndarray:
    """Cut one fixed-length beat per R peak with past-only ("causal") scaling.

    Each beat spans ``rr_factor`` x the median RR of the peaks within ``window_s`` before (and
    at) its R peak (``fs`` samples when there are none); it is min-max scaled over the
    ``window_s`` that ends where the beat ends (NaN ignored), clipped to [0, 1] and truncated /
    zero-padded to ``n_samples``. Same shapes as :func:`segment_beats`.
    """
    signal, r_peaks = _checked(signal, r_peaks)
    X, _ = cut_causal(signal, 0, r_peaks, np.arange(len(r_peaks)), params, len(signal))
    return X


def cut_causal(y: np.ndarray, y0: int, peaks_t: np.ndarray, index: np.ndarray, params: BeatParams,
               end: int) -> tuple[np.ndarray, np.ndarray]:
    """Beats ``peaks_t[index]`` cut as :func:`segment_beats_causal` from a buffer.

    ``y`` holds the signal from absolute index ``y0`` to (at least) each beat's end; the window
    is clipped at the signal start and at ``end`` (the number of samples that exist).
    ``peaks_t`` must hold every peak of the ``window_s`` before each indexed one.
    Returns the beats (n, n_samples) and their lengths (n,).
    """
    window = int(round(params.window_s * params.fs))
    ns = params.n_samples
    p = peaks_t[index].astype(np.int64)
    length = causal_lengths(peaks_t, np.asarray(index, dtype=np.int64), params)
    X = np.zeros((len(p), ns), dtype=np.float32)
    for k in range(0, len(p), 512):  # blocks: temporary arrays of 512 x window_s samples
        X[k: k + 512] = _scale_causal(y, y0, p[k: k + 512], length[k: k + 512], window, ns, end)
    return X, length


def causal_lengths(peaks_t: np.ndarray, index: np.ndarray, params: BeatParams) -> np.ndarray:
    """Beat length of each indexed peak: ``rr_factor`` x the median RR of the peaks within
    ``window_s`` before it (vectorised: a padded matrix of those intervals)."""
    if len(index) == 0:
        return np.zeros(0, dtype=np.int64)
    window = int(round(params.window_s * params.fs))
    first = np.searchsorted(peaks_t, peaks_t[index] - window, side="left")
    rr = np.diff(peaks_t).astype(np.float64)
    count = index - first                                  # RR intervals per beat
    width = max(1, int(count.max()))
    col = np.arange(width)[None, :]
    take = np.clip(first[:, None] + col, 0, max(len(rr) - 1, 0))
    values = np.sort(np.where(col < count[:, None], rr[take] if len(rr) else np.inf, np.inf), axis=1)
    rows = np.arange(len(index))
    lo, hi = np.maximum(count - 1, 0) // 2, np.maximum(count, 1) // 2  # the middle one or two
    median = np.where(count > 0, 0.5 * (values[rows, lo] + values[rows, hi]), params.fs)
    return np.clip(np.round(params.rr_factor * median), 1, params.n_samples).astype(np.int64)


def _scale_causal(y, y0, p, length, window, ns, end) -> np.ndarray:
    stop = np.minimum(p + length, end) - y0             # window / beat end, buffer index
    lo_start = np.maximum(p + length - window, 0) - y0  # window start, buffer index
    pad_front = max(0, window - int(stop.min()))         # every window W long
    pad_back = max(0, int((p - y0).max()) + ns - len(y))  # every piece n_samples long
    nan = np.isnan(y)
    lo_src = np.concatenate([np.full(pad_front, np.inf), np.where(nan, np.inf, y)])
    hi_src = np.concatenate([np.full(pad_front, -np.inf), np.where(nan, -np.inf, y)])
    first = stop + pad_front - window
    inside = np.arange(window)[None, :] >= (lo_start - (stop - window))[:, None]
    lo = np.where(inside, np.lib.stride_tricks.sliding_window_view(lo_src, window)[first], np.inf).min(axis=1)
    hi = np.where(inside, np.lib.stride_tricks.sliding_window_view(hi_src, window)[first], -np.inf).max(axis=1)
    pieces = np.lib.stride_tricks.sliding_window_view(np.concatenate([y, np.zeros(pad_back)]), ns)[p - y0]
    keep = np.arange(ns)[None, :] < (stop + y0 - p)[:, None]
    with np.errstate(invalid="ignore", over="ignore"):
        scale = np.where(hi > lo, 1.0 / np.where(hi > lo, hi - lo, 1.0), 0.0)
        X = np.clip((pieces - lo[:, None]) * scale[:, None], 0.0, 1.0)
    return np.nan_to_num(np.where(keep, X, 0.0), nan=0.0).astype(np.float32)


def _checked(signal, r_peaks) -> tuple[np.ndarray, np.ndarray]:
    signal = np.asarray(signal, dtype=np.float64)
    r_peaks = np.asarray(r_peaks, dtype=np.int64)
    if signal.ndim != 1:
        raise ValueError(f"signal must be 1-D, got shape {signal.shape}")
    if len(r_peaks) and (r_peaks.min() < 0 or r_peaks.max() >= len(signal)):
        raise ValueError("R-peak index outside the signal")
    return signal, r_peaks


def rr_features(r_peaks: np.ndarray, fs: float, n_local: int = 10) -> np.ndarray:
    """Previous RR, next RR and local average RR (mean of the ``n_local`` previous RR), seconds.

    Returns an array of shape (n_beats, 3); NaN where a neighbour does not exist (first / last
    beat). The local average uses only past beats so it is available in real time.
    """
    r = np.asarray(r_peaks, dtype=np.float64)
    out = np.full((len(r), 3), np.nan, dtype=np.float32)
    if len(r) < 2:
        return out
    rr = np.diff(r) / fs
    out[1:, 0] = rr
    out[:-1, 1] = rr
    csum = np.concatenate([[0.0], np.cumsum(rr)])
    for i in range(1, len(r)):
        lo = max(0, i - n_local)
        out[i, 2] = (csum[i] - csum[lo]) / (i - lo)
    return out

