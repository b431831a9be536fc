"""Raw single-lead ECG from a WFDB record, a CSV file or an EDF file, in millivolts.

:func:`read_signal` picks the reader by file type and returns an :class:`EcgSignal` (the same
attributes as :class:`ecgbeat.io.mitdb.Record`, plus the source path and warnings). Every
problem with the input is an :class:`~ecgbeat.errors.EcgbeatError` with a one-line message that
names the file.

Units: the signal is always returned in mV. A unit in the file (WFDB header, EDF physical
dimension, a CSV column name such as ``ecg_uV``) is converted (V, mV, uV/µV). When no unit is
given, or the given one is implausible, a signal whose amplitude (99.9th percentile of the
absolute deviation from the median) exceeds :data:`UV_AMPLITUDE_LIMIT` is taken to be in µV,
divided by 1000, and a warning says so.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import EcgbeatError, first_line

#: An ECG amplitude above this many "mV" cannot be millivolts (the input is taken to be µV).
UV_AMPLITUDE_LIMIT = 50.0
#: Leads tried, in order, when none is named.
DEFAULT_LEADS = ("MLII", "II", "ECG", "ECG1", "EKG")
WFDB_SUFFIXES = (".hea", ".dat")
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
EDF_SUFFIXES = (".edf", ".bdf")
_UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}
_TIME_S = {"time", "t", "time_s", "seconds", "second", "sec", "s", "elapsed", "timestamp"}
_TIME_MS = {"time_ms", "ms", "t_ms", "milliseconds"}
_SAMPLE = {"sample", "samples", "index", "sample_index", "n", "i"}


@dataclass(frozen=True)
class EcgSignal:
    """One ECG lead in mV with optional reference beat annotations.

    Attributes
    ----------
    name : str
        Record name (file stem).
    signal_mV : ndarray, shape (n_samples,), float64
        The lead in mV; NaN marks missing samples.
    fs : float
        Sampling frequency, Hz.
    lead : str
        Lead / signal name ("" when the file names none).
    ann_sample, ann_symbol : ndarray
        Reference annotations (sample index at ``fs``, MIT-BIH symbol); empty when there are none.
    path : str
        The file read.
    warnings : tuple of str
        Conversions made on the way (e.g. "amplitude 812 looks like µV: divided by 1000").
    """

    name: str
    signal_mV: np.ndarray
    fs: float
    lead: str = ""
    ann_sample: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    ann_symbol: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    path: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def duration_s(self) -> float:
        return len(self.signal_mV) / self.fs


def read_signal(path: str | os.PathLike, lead: str | None = None, fs: float | None = None,
                annotator: str | None = "atr", units: str | None = None) -> EcgSignal:
    """Read one ECG lead from a WFDB record, a CSV file or an EDF file.

    Parameters
    ----------
    path : str or os.PathLike
        ``RECORD.hea``, ``RECORD.dat`` or ``RECORD`` (WFDB), ``*.csv`` / ``*.txt`` / ``*.tsv``
        (one signal column, or a time column plus signal column(s)), ``*.edf`` / ``*.bdf``.
    lead : str, optional
        Signal to read, by name (WFDB signal name, EDF label, CSV column). Default: the first
        of :data:`DEFAULT_LEADS` present, else the first signal.
    fs : float, optional
        Sampling frequency, Hz. Required for a CSV without a time column; when given for a file
        that states its own rate, the two must agree within 1 %.
    annotator : str or None, default "atr"
        WFDB annotation file extension read as reference annotations, when present.
    units : {"mV", "uV", "V"}, optional
        Unit of the samples, overriding the file's own and the amplitude check.

    Returns
    -------
    EcgSignal

    Raises
    ------
    EcgbeatError
        Unknown file type, missing or truncated files, unknown lead, no sampling rate, a signal
        with no finite sample.
    """
    p = Path(path).expanduser()
    suffix = p.suffix.lower()
    if suffix in WFDB_SUFFIXES or (not p.exists() and p.with_suffix(".hea").is_file()):
        sig = _read_wfdb(p.with_suffix("") if suffix in WFDB_SUFFIXES else p, lead, annotator)
    elif not p.exists():
        raise EcgbeatError(f"{p}: file not found")
    elif suffix in CSV_SUFFIXES:
        sig = _read_csv(p, lead, fs)
    elif suffix in EDF_SUFFIXES:
        sig = _read_edf(p, lead)
    else:
        raise EcgbeatError(f"{p}: unknown ECG file type {suffix or '(no extension)'!r}; use a WFDB "
                           f"record (.hea/.dat), a CSV (.csv/.txt/.tsv) or an EDF (.edf/.bdf) file")
    signal, rate, lead_name, unit, ann = sig
    if fs is not None and abs(float(fs) - rate) > 0.01 * rate:
        raise EcgbeatError(f"{p}: --fs {fs:g} Hz contradicts the file's {rate:g} Hz")
    signal, warnings = to_millivolts(signal, units or unit, str(p))
    return EcgSignal(name=p.stem if suffix else p.name, signal_mV=signal, fs=float(rate),
                     lead=lead_name, ann_sample=ann[0], ann_symbol=ann[1], path=str(p),
                     warnings=tuple(warnings))


def signal_from_array(signal_mV, fs: float, name: str = "signal", lead: str = "",
                      units: str | None = "mV") -> EcgSignal:
    """An :class:`EcgSignal` from an array already in memory (``units=None``: guess mV / µV)."""
    x = np.asarray(signal_mV, dtype=np.float64)
    if x.ndim != 1:
        raise EcgbeatError(f"{name}: the signal must be one lead (1-D), got shape {x.shape}")
    rate = _check_fs(fs, name)
    x, warnings = to_millivolts(x, units, name)
    return EcgSignal(name=name, signal_mV=x, fs=rate, lead=lead, path="", warnings=tuple(warnings))


def to_millivolts(signal: np.ndarray, unit: str | None, where: str = "signal") -> tuple[np.ndarray, list[str]]:
    """Convert ``signal`` to mV; returns the signal and the warnings about what was done.

    A known ``unit`` is applied; then, if the amplitude still exceeds
    :data:`UV_AMPLITUDE_LIMIT` "mV", the signal is taken to be in µV and divided by 1000.
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.size == 0:
        raise EcgbeatError(f"{where}: the signal is empty")
    if np.isinf(x).any():
        x = np.where(np.isinf(x), np.nan, x)
    if not np.isfinite(x).any():
        raise EcgbeatError(f"{where}: the signal has no finite sample (all NaN)")
    warnings = []
    key = _unit_key(unit)
    if key is not None:
        x = x * _UNIT_TO_MV[key]
    elif unit:
        warnings.append(f"unknown unit {unit!r}: assumed mV")
    amplitude = _amplitude(x)
    if amplitude > UV_AMPLITUDE_LIMIT and key not in ("uv", "µv", "μv", "nv"):
        stated = f" although the unit says {unit}" if unit else ""
        warnings.append(f"amplitude {amplitude:.0f} is too large for mV{stated}: "
                        f"taken as µV and divided by 1000")
        x = x * 1e-3
    return x, warnings


def unit_factor(unit: str) -> float:
    """Factor that converts samples in ``unit`` ("mV", "uV"/"µV", "V") to mV."""
    key = _unit_key(unit)
    if key is None:
        raise EcgbeatError(f"unknown signal unit {unit!r}; use mV, uV or V")
    return _UNIT_TO_MV[key]


def _amplitude(x: np.ndarray) -> float:
    finite = x[np.isfinite(x)]
    return float(np.percentile(np.abs(finite - np.median(finite)), 99.9))


def _unit_key(unit: str | None) -> str | None:
    if not unit:
        return None
    u = unit.strip().lower().replace("micro", "u").replace("milli", "m").replace("volts", "v")
    u = u.replace("volt", "v")
    return u if u in _UNIT_TO_MV else None


def _check_fs(fs, where: str) -> float:
    try:
        rate = float(fs)
    except (TypeError, ValueError):
        raise EcgbeatError(f"{where}: sampling frequency must be a number, got {fs!r}") from None
    if not np.isfinite(rate) or rate <= 0:
        raise EcgbeatError(f"{where}: sampling frequency must be positive, got {fs!r}")
    return rate


# --------------------------------------------------------------------------------------------
# WFDB
# --------------------------------------------------------------------------------------------


def _read_wfdb(base: Path, lead: str | None, annotator: str | None):
    import wfdb

    header_path = base.with_suffix(".hea")
    if not header_path.is_file():
        raise EcgbeatError(f"{header_path}: missing header file of WFDB record {base.name}")
    try:
        header = wfdb.rdheader(str(base))
    except Exception as exc:
        raise EcgbeatError(f"{header_path}: unreadable WFDB header ({first_line(exc)})") from None
    names = list(header.sig_name or [])
    if not names:
        raise EcgbeatError(f"{header_path}: the record has no signals")
    channel = _pick(names, lead, str(header_path))
    files = getattr(header, "file_name", None)  # None for multi-segment records
    dat = base.parent / files[channel] if files else base.with_suffix(".dat")
    if files and not dat.is_file():
        raise EcgbeatError(f"{dat}: missing signal file of WFDB record {base.name}")
    if files:
        _check_dat_size(dat, header, str(header_path))
    try:
        rec = wfdb.rdrecord(str(base), channels=[channel], physical=True)
    except Exception as exc:
        raise EcgbeatError(f"{dat}: unreadable WFDB signal ({first_line(exc)})") from None
    if rec.p_signal is None or rec.p_signal.shape[0] == 0:
        raise EcgbeatError(f"{dat}: the record holds no samples")
    signal = np.asarray(rec.p_signal[:, 0], dtype=np.float64)
    if header.sig_len and len(signal) < header.sig_len:
        raise EcgbeatError(f"{dat}: truncated ({len(signal)} of {header.sig_len} samples)")
    unit = (rec.units or [None])[0]
    rate = _check_fs(rec.fs, str(header_path))
    return signal, rate, names[channel], unit, _read_annotations(base, annotator)


def _check_dat_size(dat: Path, header, where: str) -> None:
    """A signal file shorter than the header promises is truncated (wfdb may read garbage)."""
    fmt = str((header.fmt or ["16"])[0])
    bits = {"8": 8, "16": 16, "61": 16, "80": 8, "160": 16, "212": 12, "310": 10, "311": 10,
            "24": 24, "32": 32}.get(fmt)
    if bits is None or not header.sig_len:
        return
    same_file = sum(1 for f in header.file_name if f == dat.name) or 1
    offset = int((header.byte_offset or [0])[0] or 0)
    expected = offset + int(np.ceil(header.sig_len * same_file * bits / 8))
    size = dat.stat().st_size
    if size < expected:
        raise EcgbeatError(f"{dat}: truncated ({size} of {expected} bytes the header promises)")


def _read_annotations(base: Path, annotator: str | None):
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object))
    if not annotator or not base.with_suffix(f".{annotator}").is_file():
        return empty
    import wfdb

    try:
        ann = wfdb.rdann(str(base), annotator)
    except Exception as exc:
        raise EcgbeatError(f"{base}.{annotator}: unreadable annotations ({first_line(exc)})") from None
    return np.asarray(ann.sample, dtype=np.int64), np.asarray(ann.symbol, dtype=object)


def _pick(names: list[str], lead: str | None, where: str, fallback: int = 0) -> int:
    """Index of the lead to read: ``lead`` when asked for (case-insensitive), else the first name of
    :data:`DEFAULT_LEADS` present, else ``fallback``."""
    folded = [n.strip().lower() for n in names]
    if lead is not None:
        if lead.strip().lower() not in folded:
            raise EcgbeatError(f"{where}: no lead {lead!r}; the file has {', '.join(names)}")
        return folded.index(lead.strip().lower())
    return next((folded.index(c.lower()) for c in DEFAULT_LEADS if c.lower() in folded), fallback)


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def _read_csv(path: Path, lead: str | None, fs: float | None):
    import pandas as pd

    try:
        table = pd.read_csv(path, sep=_delimiter(path), comment="#", header=None, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise EcgbeatError(f"{path}: the file is empty") from None
    except Exception as exc:
        raise EcgbeatError(f"{path}: unreadable CSV ({first_line(exc)})") from None
    first = table.iloc[0]
    has_header = any(_not_number(v) for v in first)
    names = [str(v).strip() for v in first] if has_header else [f"column{i + 1}" for i in range(table.shape[1])]
    body = table.iloc[1:] if has_header else table
    try:
        data = body.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    except Exception as exc:
        raise EcgbeatError(f"{path}: non-numeric CSV data ({first_line(exc)})") from None
    if data.shape[0] < 2:
        raise EcgbeatError(f"{path}: fewer than 2 samples")
    kinds = [_time_kind(n) if has_header else None for n in names]
    if not has_header and data.shape[1] >= 2 and _increasing(data[:, 0]):
        kinds[0] = "sample" if np.allclose(np.diff(data[:, 0]), 1.0) else "s"
    signal_cols = [i for i, k in enumerate(kinds) if k is None]
    if not signal_cols:
        raise EcgbeatError(f"{path}: no signal column (only time columns {', '.join(names)})")
    col = _pick([_strip_unit(n) for n in names], lead, str(path), fallback=signal_cols[0])
    rate = _csv_rate(path, data, kinds, fs)
    unit = _unit_in_name(names[col]) if has_header else None
    lead_name = _strip_unit(names[col]) if has_header else ""
    return data[:, col], rate, lead_name, unit, (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object))


def _delimiter(path: Path) -> str:
    """",", tab or ";" when the first data line holds one, else runs of white space."""
    with open(path, errors="replace") as fh:
        for line in fh:
            if line.strip() and not line.lstrip().startswith("#"):
                for sep in (",", "\t", ";"):
                    if sep in line:
                        return sep
                break
    return r"\s+"


def _csv_rate(path: Path, data: np.ndarray, kinds: list, fs: float | None) -> float:
    time_col = next((i for i, k in enumerate(kinds) if k in ("s", "ms")), None)
    if time_col is None:
        if fs is None:
            raise EcgbeatError(f"{path}: no time column, so the sampling frequency is unknown; pass --fs HZ")
        return _check_fs(fs, str(path))
    t = data[:, time_col]
    if not np.isfinite(t).all() or not _increasing(t):
        raise EcgbeatError(f"{path}: the time column is not strictly increasing")
    step = np.diff(t)
    median = float(np.median(step))
    if np.abs(step - median).max() > 0.01 * median + 1e-9:
        raise EcgbeatError(f"{path}: irregular sampling (time steps from {step.min():g} to {step.max():g}); "
                           f"resample to a constant rate first")
    rate = (1000.0 if kinds[time_col] == "ms" else 1.0) / median
    return _check_fs(float(np.round(rate, 6)), str(path))


def _time_kind(name: str) -> str | None:
    n = name.strip().lower().replace(" ", "_")
    base = re.sub(r"[\[\(].*?[\]\)]", "", n).strip("_")
    if n in _TIME_MS or base in _TIME_MS or "[ms]" in n or "(ms)" in n:
        return "ms"
    if base in _TIME_S:
        return "s"
    if base in _SAMPLE:
        return "sample"
    return None


def _unit_in_name(name: str) -> str | None:
    m = re.search(r"[\[\(_ ]\s*(mv|uv|µv|μv|v)\s*[\]\)]?$", name.strip().lower())
    return m.group(1) if m else None


def _strip_unit(name: str) -> str:
    return re.sub(r"\s*[\[\(_ ]\s*(mv|uv|µv|μv|v)\s*[\]\)]?$", "", name.strip(), flags=re.IGNORECASE)


def _not_number(value) -> bool:
    try:
        float(value)
        return False
    except (TypeError, ValueError):
        return True


def _increasing(t: np.ndarray) -> bool:
    return bool(np.all(np.diff(t) > 0))


# --------------------------------------------------------------------------------------------
# EDF
# --------------------------------------------------------------------------------------------


def _read_edf(path: Path, lead: str | None):
    try:
        import pyedflib
    except ImportError:
        raise EcgbeatError(f"{path}: reading EDF needs pyedflib (pip install pyedflib)") from None
    try:
        reader = pyedflib.EdfReader(str(path))
    except Exception as exc:
        raise EcgbeatError(f"{path}: unreadable EDF file ({first_line(exc)})") from None
    try:
        labels = [s.strip() for s in reader.getSignalLabels()]
        if not labels:
            raise EcgbeatError(f"{path}: the EDF file has no signals")
        ecg = [i for i, s in enumerate(labels) if re.search(r"ecg|ekg|mlii|\bii\b", s, re.I)]
        channel = _pick(labels, lead, str(path), fallback=ecg[0] if ecg else 0)
        signal = np.asarray(reader.readSignal(channel), dtype=np.float64)
        rate = _check_fs(reader.getSampleFrequency(channel), str(path))
        unit = reader.getPhysicalDimension(channel).strip() or None
    except EcgbeatError:
        raise
    except Exception as exc:
        raise EcgbeatError(f"{path}: unreadable EDF signal ({first_line(exc)})") from None
    finally:
        reader.close()
    return signal, rate, labels[channel], unit, (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object))


