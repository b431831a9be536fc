"""Zero-phase filters and small signal helpers for single-lead ECG.

Only NumPy and SciPy are used.  All functions take the sampling frequency as
``fs`` (in Hz) and validate their input, raising :class:`ValueError` with an
explicit message on bad arguments.

NaN samples are treated as *gaps*: they are linearly interpolated before
filtering (so that a gap never poisons the whole output) and are set back to
NaN in the returned array.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

__all__ = [
    "FS_MIN_HZ",
    "FS_MAX_HZ",
    "bandpass",
    "fill_nan",
    "validate_fs",
    "validate_signal",
]

#: Smallest sampling frequency accepted by :mod:`ecgbeat.dsp` (Hz).
FS_MIN_HZ = 50.0
#: Largest sampling frequency accepted by :mod:`ecgbeat.dsp` (Hz).
FS_MAX_HZ = 2000.0


def validate_fs(fs: float) -> float:
    """Check a sampling frequency and return it as ``float``.

    Parameters
    ----------
    fs : float
        Sampling frequency in Hz.

    Returns
    -------
    float
        ``fs`` as a Python float.

    Raises
    ------
    ValueError
        If ``fs`` is not a finite real number in ``[FS_MIN_HZ, FS_MAX_HZ]``.
    """
    try:
        fs_f = float(fs)
    except (TypeError, ValueError):
        raise ValueError(f"fs must be a number in Hz, got {fs!r}") from None
    if not np.isfinite(fs_f) or not FS_MIN_HZ <= fs_f <= FS_MAX_HZ:
        raise ValueError(f"fs must be between {FS_MIN_HZ:g} and {FS_MAX_HZ:g} Hz, got {fs!r}")
    return fs_f


def validate_signal(signal, *, min_samples: int = 1, name: str = "signal") -> np.ndarray:
    """Convert ``signal`` to a 1-D float64 array and check it.

    Parameters
    ----------
    signal : array_like
        Single-lead signal.  Must be one-dimensional and numeric.  NaN values
        are allowed (they mark gaps); infinite values are not.
    min_samples : int, optional
        Minimum number of samples required.
    name : str, optional
        Name used in error messages.

    Returns
    -------
    numpy.ndarray
        A float64 copy-or-view of the input.

    Raises
    ------
    ValueError
        If the array is not 1-D, not numeric, contains ``inf`` or is shorter
        than ``min_samples``.
    """
    try:
        x = np.asarray(signal, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric 1-D array") from None
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D (a single lead), got an array of shape {x.shape}")
    if x.size < min_samples:
        raise ValueError(f"{name} is too short: {x.size} samples, at least {min_samples} required")
    if np.isinf(x).any():
        raise ValueError(f"{name} contains infinite values")
    return x


def fill_nan(signal) -> tuple[np.ndarray, np.ndarray]:
    """Replace NaN gaps by linear interpolation.

    Parameters
    ----------
    signal : array_like
        1-D signal possibly containing NaN.

    Returns
    -------
    filled : numpy.ndarray
        Copy of the signal (float64) where NaN samples are linearly
        interpolated between the nearest finite neighbours (held constant at
        the ends).  An all-NaN signal becomes all zeros.
    nan_mask : numpy.ndarray of bool
        ``True`` where the input was NaN.
    """
    x = np.array(signal, dtype=np.float64, copy=True)
    mask = np.isnan(x)
    if not mask.any():
        return x, mask
    good = np.flatnonzero(~mask)
    if good.size == 0:
        x[:] = 0.0
        return x, mask
    bad = np.flatnonzero(mask)
    x[bad] = np.interp(bad, good, x[good])
    return x, mask


def _butter_sos(fs: float, low_hz: float | None, high_hz: float | None, order: int):
    nyq = fs / 2.0
    if low_hz is not None and not (0.0 < float(low_hz) < nyq):
        raise ValueError(f"low_hz must be in (0, fs/2={nyq:g}) Hz, got {low_hz!r}")
    if high_hz is not None and not (0.0 < float(high_hz) < nyq):
        raise ValueError(f"high_hz must be in (0, fs/2={nyq:g}) Hz, got {high_hz!r}")
    if low_hz is not None and high_hz is not None:
        if float(low_hz) >= float(high_hz):
            raise ValueError(f"low_hz ({low_hz!r}) must be smaller than high_hz ({high_hz!r})")
        return sps.butter(order, [low_hz, high_hz], btype="bandpass", fs=fs, output="sos")
    if low_hz is not None:
        return sps.butter(order, low_hz, btype="highpass", fs=fs, output="sos")
    if high_hz is not None:
        return sps.butter(order, high_hz, btype="lowpass", fs=fs, output="sos")
    raise ValueError("at least one of low_hz and high_hz must be given")


def bandpass(
    signal,
    fs: float,
    low_hz: float | None = 0.5,
    high_hz: float | None = 40.0,
    *,
    order: int = 2,
) -> np.ndarray:
    """Zero-phase Butterworth band-pass filter.

    Implemented with :func:`scipy.signal.sosfiltfilt` (forward-backward, so no
    phase shift: peaks stay where they are).  With ``low_hz=None`` the filter is
    a low-pass, with ``high_hz=None`` a high-pass.

    Parameters
    ----------
    signal : array_like
        1-D signal (any unit).  NaN samples are treated as gaps, see Notes.
    fs : float
        Sampling frequency in Hz (50..2000).
    low_hz : float or None, optional
        Lower cut-off in Hz (default 0.5 Hz: removes baseline wander).
    high_hz : float or None, optional
        Upper cut-off in Hz (default 40 Hz: removes mains and EMG noise).
    order : int, optional
        Butterworth order of each edge (default 2); the effective order is
        doubled by the forward-backward pass.

    Returns
    -------
    numpy.ndarray
        Filtered signal, float64, same length as the input.

    Raises
    ------
    ValueError
        On invalid ``fs``, cut-offs, order, non 1-D input or a signal shorter
        than 3 samples.

    Notes
    -----
    NaN samples are linearly interpolated before filtering and set back to
    NaN in the output, so a gap only affects the filter output close to it.
    """
    fs = validate_fs(fs)
    x = validate_signal(signal, min_samples=3)
    if int(order) != order or order < 1 or order > 8:
        raise ValueError(f"order must be an integer in 1..8, got {order!r}")
    sos = _butter_sos(fs, low_hz, high_hz, int(order))
    x, nan_mask = fill_nan(x)
    # Default sosfiltfilt padding is 3 * (2 * n_sections + 1) samples; shrink
    # it for very short inputs instead of failing.
    padlen = min(3 * (2 * sos.shape[0] + 1), x.size - 1)
    y = sps.sosfiltfilt(sos, x, padlen=padlen)
    if nan_mask.any():
        y[nan_mask] = np.nan
    return y
