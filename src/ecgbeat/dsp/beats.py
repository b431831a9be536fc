"""Beat cutting as in Kachuee, Fazeli & Sarrafzadeh 2018 (the Kaggle heartbeat beats).

Pure numpy: a signal already at the target ``fs`` and R-peak positions in, fixed-length beats out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
    """

    fs: float = 125.0
    n_samples: int = 187
    window_s: float = 10.0
    rr_factor: float = 1.2

    def to_dict(self) -> dict:
        return {"fs": self.fs, "n_samples": self.n_samples, "window_s": self.window_s, "rr_factor": self.rr_factor}


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
    signal = np.asarray(signal, dtype=np.float64)
    r_peaks = np.asarray(r_peaks, dtype=np.int64)
    if signal.ndim != 1:
        raise ValueError(f"signal must be 1-D, got shape {signal.shape}")
    if len(r_peaks) and (r_peaks.min() < 0 or r_peaks.max() >= len(signal)):
        raise ValueError("R-peak index outside the signal")
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
        rr = np.diff(r_peaks[inside])
        length = int(round(params.rr_factor * (np.median(rr) if len(rr) else fallback_rr)))
        length = max(1, min(length, params.n_samples))
        for i in inside:
            piece = signal[r_peaks[i] : r_peaks[i] + length]
            beats[i, : len(piece)] = np.clip((piece - lo) * scale, 0.0, 1.0)
    return np.nan_to_num(beats, nan=0.0)


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
