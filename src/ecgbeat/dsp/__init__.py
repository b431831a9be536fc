"""Signal processing for raw ECG: filters and R-peak detection (NumPy/SciPy only)."""

from .filters import FS_MAX_HZ, FS_MIN_HZ, bandpass, fill_nan
from .peaks import MIN_DURATION_S, RPeakDetector, detect_r_peaks

__all__ = [
    "FS_MAX_HZ",
    "FS_MIN_HZ",
    "MIN_DURATION_S",
    "RPeakDetector",
    "bandpass",
    "detect_r_peaks",
    "fill_nan",
]
