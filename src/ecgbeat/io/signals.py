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

#: An ECG amplitude above this many "mV" cannot be millivolts (the input is taken to be µV; above it
#: even as µV, a warning says so).
UV_AMPLITUDE_LIMIT = 50.0
#: Samples further than this many mV (10 V) from the median cannot be ECG: they are taken as missing
#: (more than 1 % of them is an error).
IMPOSSIBLE_MV = 1e4
#: Leads tried, in order, when none is named.
DEFAULT_LEADS = ("MLII", "II", "ECG", "ECG1", "EKG")
WFDB_SUFFIXES = (".hea", ".dat")
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
EDF_SUFFIXES = (".edf", ".bdf")
_UNIT_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}
_TIME_S = {"time", "t", "time_s", "seconds", "second", "sec", "s", "elapsed", "timestamp"}
_TIME_MS = {"time_ms", "ms", "t_ms", "milliseconds"}
_SAMPLE = {"sample", "samples", "index", "sample_index", "n", "i"}
#: Sampling frequency of a WFDB record whose header gives none (the WFDB header specification).
WFDB_DEFAULT_FS = 250.0


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
                annotator: str | None = "atr", units: str | None = None,
                require_annotations: bool = False) -> EcgSignal:
    """Read one ECG lead from a WFDB record, a CSV file or an EDF file.

    Parameters
    ----------
    path : str or os.PathLike
        ``RECORD.hea``, ``RECORD.dat`` or ``RECORD`` (WFDB), ``*.csv`` / ``*.txt`` / ``*.tsv``
        (one signal column, or a time column plus signal column(s)), ``*.edf`` / ``*.bdf``.
    lead : str or int, optional
        Signal to read, by name (WFDB signal name, EDF label, CSV column) or by 0-based index
        among the file's signals (a CSV's time column does not count). Default: the first
        of :data:`DEFAULT_LEADS` present, else the first signal.
    fs : float, optional
        Sampling frequency, Hz. Required for a CSV without a time column; when given for a file
        that states its own rate, the two must agree within 1 %. A WFDB header without a rate
        takes this one, else the WFDB default of 250 Hz, with a warning.
    annotator : str or None, default "atr"
        WFDB annotation file extension read as reference annotations, when present. Their sample
        locations must be non-negative, non-decreasing and inside the signal.
    units : {"mV", "uV", "V"}, optional
        Unit of the samples, overriding the file's own and the amplitude check.
    require_annotations : bool, default False
        For callers that need the reference annotations (labelled beats) and have no warnings
        list to show: a missing annotation file, a file type without annotations and a WFDB
        header without a sampling rate are errors instead of empty annotations / 250 Hz.

    Returns
    -------
    EcgSignal

    Raises
    ------
    EcgbeatError
        Unknown file type, missing or truncated files, a malformed WFDB sampling rate, corrupt
        annotations, unknown lead, no sampling rate, text in a CSV signal or time column, a CSV
        line with too few columns, a signal with no finite sample. (Empty, NaN or infinite CSV
        samples are missing samples, NaN, counted in a warning.)
    """
    if not isinstance(path, (str, os.PathLike)):
        raise EcgbeatError(f"read_signal() takes a file path, got {type(path).__name__}; for samples in memory "
                           "use ecgbeat.signal_from_array(samples, fs)")
    p = Path(path).expanduser()
    suffix = p.suffix.lower()
    read_warnings: list[str] = []
    _check_lead(lead, str(p))
    if fs is not None:  # NaN, inf, 0, negative or text: refused before the file is read
        fs = _check_fs(fs, str(p))
    if suffix in WFDB_SUFFIXES or (not p.exists() and p.with_suffix(".hea").is_file()):
        base = p.with_suffix("") if suffix in WFDB_SUFFIXES else p
        signal, rate, lead_name, unit, ann = _read_wfdb(base, lead, annotator, require_annotations)
        if rate is None:  # the header omits the rate: the WFDB default, said where it is said
            header_path = base.with_suffix(".hea")
            if fs is not None:
                rate = _check_fs(fs, str(p))
            elif require_annotations:
                raise EcgbeatError(f"{header_path}: the record line gives no sampling frequency (labelled beats "
                                   f"need the record's own rate, not the WFDB default of {WFDB_DEFAULT_FS:g} Hz)")
            else:
                rate = WFDB_DEFAULT_FS
                read_warnings.append(f"{header_path.name}: the header gives no sampling frequency: "
                                     f"{WFDB_DEFAULT_FS:g} Hz assumed (the WFDB default)")
    elif not p.exists():
        raise EcgbeatError(f"{p}: file not found")
    elif p.is_dir():
        raise EcgbeatError(f"{p}: is a folder, not an ECG file")
    elif require_annotations:
        raise EcgbeatError(f"{p}: labelled beats need a WFDB record with reference annotations (.hea/.dat/.atr)")
    elif suffix in CSV_SUFFIXES:
        signal, rate, lead_name, unit, ann = _read_csv(p, lead, fs, read_warnings)
    elif suffix in EDF_SUFFIXES:
        signal, rate, lead_name, unit, ann = _read_edf(p, lead)
    else:
        raise EcgbeatError(f"{p}: unknown ECG file type {suffix or '(no extension)'!r}; use a WFDB "
                           f"record (.hea/.dat), a CSV (.csv/.txt/.tsv) or an EDF (.edf/.bdf) file")
    if fs is not None and not fs_agrees(fs, rate):
        raise EcgbeatError(f"{p}: --fs {fs:g} Hz contradicts the file's {rate:g} Hz")
    signal, warnings = to_millivolts(signal, units or unit, str(p))
    warnings = read_warnings + warnings
    return EcgSignal(name=record_name(p), signal_mV=signal, fs=float(rate),
                     lead=lead_name, ann_sample=ann[0], ann_symbol=ann[1], path=str(p),
                     warnings=tuple(warnings))


def record_name(path: str | os.PathLike) -> str:
    """The name :func:`read_signal` gives the recording at ``path``: its file name without the
    extension (``100`` for ``mitdb/100``, ``100.hea`` or ``b/100.csv``)."""
    p = Path(path).expanduser()
    return p.stem if p.suffix else p.name


def fs_agrees(fs: float, rate: float) -> bool:
    """Whether a stated sampling rate ``fs`` is the signal's own ``rate`` (within 1 %: headers round)."""
    return abs(float(fs) - float(rate)) <= 0.01 * float(rate)


def check_options(sig: EcgSignal, lead=None, fs=None, units=None) -> EcgSignal:
    """``sig`` when ``lead``, ``fs`` and ``units`` agree with it, else a one-line error: an EcgSignal
    carries its own rate, lead and units (mV), so options that say otherwise are refused, not silently
    ignored. A lead agrees by its name (as :func:`read_signal` compares names), as index 0, or with any
    name when the signal's lead has none; empty units say nothing."""
    where = f"EcgSignal {sig.name!r}" if sig.name else "EcgSignal"
    if fs is not None and not fs_agrees(_check_fs(fs, where), sig.fs):
        raise EcgbeatError(f"{where} is sampled at {float(sig.fs)!r} Hz; fs={fs!r} contradicts it (an EcgSignal "
                           "keeps its own rate: pass the samples as an array to give another)")
    if lead is not None:
        _check_lead(lead, where)
        agrees = (not sig.lead or lead.strip().lower() == sig.lead.strip().lower()) if isinstance(lead, str) \
            else int(lead) == 0
        if not agrees:
            raise EcgbeatError(f"{where} holds one lead ({sig.lead!r}); lead={lead!r} names another: choose the "
                               "lead when reading the record (read_signal(path, lead=...))")
    if units not in (None, ""):
        key = _unit_key(units)
        if key is None:
            raise EcgbeatError(f"{where}: unknown units {units!r} (mV, uV or V)")
        if key != "mv":
            raise EcgbeatError(f"{where} is in mV already; units={units!r} contradicts it: give units when reading "
                               "the record or making the signal (signal_from_array(samples, fs, units=...))")
    return sig


def signal_from_array(signal_mV, fs: float, name: str = "signal", lead: str = "",
                      units: str | None = "mV") -> EcgSignal:
    """An :class:`EcgSignal` from an array already in memory (``units=None``: guess mV / µV)."""
    if not isinstance(name, str):
        raise EcgbeatError(f"name must be a string, got {name!r}")
    if not isinstance(lead, str):
        raise EcgbeatError(f"{name}: lead must be the lead's name (a string), got {lead!r}")
    x = as_samples(signal_mV, name)
    if x.ndim != 1:
        raise EcgbeatError(f"{name}: the signal must be one lead (1-D), got shape {x.shape}")
    rate = _check_fs(fs, name)
    x, warnings = to_millivolts(x, units, name)
    return EcgSignal(name=name, signal_mV=x, fs=rate, lead=lead, path="", warnings=tuple(warnings))


def as_samples(values, where: str = "signal") -> np.ndarray:
    """``values`` as a float64 array; values that are not real numbers (text that is not a number,
    complex numbers, dates, a bare string) are a one-line error instead of a numpy traceback or a
    silently dropped imaginary part."""
    if isinstance(values, (str, bytes)):
        raise EcgbeatError(f"{where}: samples must be numbers, got a {type(values).__name__} (parse the text first)")
    try:
        raw = np.asarray(values)
        if raw.dtype.kind in "cVMm":
            raise TypeError(f"{raw.dtype} values are not real numbers")
        return np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EcgbeatError(f"{where}: samples must be numbers ({first_line(exc)})") from None


def to_millivolts(signal: np.ndarray, unit: str | None, where: str = "signal") -> tuple[np.ndarray, list[str]]:
    """Convert ``signal`` to mV; returns the signal and the warnings about what was done.

    A known ``unit`` is applied; then, if the amplitude still exceeds
    :data:`UV_AMPLITUDE_LIMIT` "mV", the signal is taken to be in µV and divided by 1000. Samples
    further than :data:`IMPOSSIBLE_MV` from the median are then taken as missing (NaN), with a
    warning; more than 1 % of them is an error. An amplitude still above :data:`UV_AMPLITUDE_LIMIT`
    (raw ADC counts, say) is kept with a warning: beats are min-max scaled per window.
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
    finite = np.isfinite(x)
    deviation = np.where(finite, np.abs(x - np.median(x[finite])), 0.0)  # from the median, in mV
    near = finite & (deviation <= IMPOSSIBLE_MV)
    # the unit guess ignores a few impossible samples (spikes), which would otherwise make a mV
    # signal look like µV; when most samples are that far out (raw ADC counts), it looks at them all
    amplitude = _amplitude(x[near] if near.sum() >= 0.99 * finite.sum() else x)
    if amplitude > UV_AMPLITUDE_LIMIT and key not in ("uv", "µv", "μv", "nv"):
        stated = f" although the unit says {unit}" if unit else ""
        warnings.append(f"amplitude {amplitude:.0f} is too large for mV{stated}: "
                        f"taken as µV and divided by 1000")
        x, deviation = x * 1e-3, deviation * 1e-3
    wild = deviation > IMPOSSIBLE_MV
    if wild.any():
        n = int(wild.sum())
        if n > 0.01 * finite.sum():
            raise EcgbeatError(f"{where}: {n} of {int(finite.sum())} samples lie more than 10 V from the median "
                               "even read as µV; not an ECG in mV, µV or V (check the units or the column)")
        x = np.where(wild, np.nan, x)
        warnings.append(f"{n} sample(s) more than 10 V from the median (first at sample {int(np.argmax(wild))}) "
                        "taken as missing")
    amplitude = _amplitude(x)
    if amplitude > UV_AMPLITUDE_LIMIT:
        warnings.append(f"amplitude {amplitude:.0f} mV even read as µV: too large for an ECG; kept (beats are "
                        "scaled per window), but its values are not millivolts")
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
    if not unit or not isinstance(unit, str):
        return None
    u = unit.strip().lower().replace("micro", "u").replace("milli", "m").replace("volts", "v")
    u = u.replace("volt", "v")
    return u if u in _UNIT_TO_MV else None


def _check_lead(lead, where: str) -> None:
    """``lead`` is None, a name (str) or a whole-number index >= 0, else a one-line error."""
    if lead is None or isinstance(lead, str):
        return
    if isinstance(lead, (bool, np.bool_)) or not isinstance(lead, (int, np.integer)) or lead < 0:
        raise EcgbeatError(f"{where}: lead must be a lead name (e.g. 'MLII') or a 0-based index, got {lead!r}")


def _check_fs(fs, where: str) -> float:
    try:
        rate = float(fs)
    except (TypeError, ValueError):
        raise EcgbeatError(f"{where}: sampling frequency must be a number, got {fs!r}") from None
    if isinstance(fs, (bool, np.bool_, str, bytes)):  # float(True) is 1.0, float("360") 360.0: neither is a rate
        raise EcgbeatError(f"{where}: sampling frequency must be a number, got {fs!r}")
    if not np.isfinite(rate) or rate <= 0:
        raise EcgbeatError(f"{where}: sampling frequency must be a positive finite number (Hz), got {fs!r}")
    return rate


# --------------------------------------------------------------------------------------------
# WFDB
# --------------------------------------------------------------------------------------------


def _read_wfdb(base: Path, lead: str | None, annotator: str | None, require_annotations: bool = False):
    """Signal, rate (None: the header gives none), lead name, unit, annotations of a WFDB record."""
    import wfdb

    header_path = base.with_suffix(".hea")
    if not header_path.is_file():
        raise EcgbeatError(f"{header_path}: missing header file of WFDB record {base.name}")
    fs_given, n_given = _check_record_line(header_path)
    try:
        header = wfdb.rdheader(str(base))
    except Exception as exc:
        raise EcgbeatError(f"{header_path}: unreadable WFDB header ({first_line(exc)})") from None
    # wfdb's pattern skips what it cannot parse; what it read must be what the line says
    if (fs_given is not None and float(header.fs) != fs_given) or (n_given is not None and header.sig_len != n_given):
        raise EcgbeatError(f"{header_path}: malformed record line (wfdb reads {header.fs:g} Hz, "
                           f"{header.sig_len} samples)")
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
    ann_path = base.with_suffix(f".{annotator}") if annotator else None
    if require_annotations and (ann_path is None or not ann_path.is_file()):
        where = ann_path or f"{base}.atr"
        raise EcgbeatError(f"{where}: missing annotation file (labelled beats need the reference annotations)")
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
    rate = None if fs_given is None else _check_fs(rec.fs, str(header_path))
    return signal, rate, names[channel], unit, _read_annotations(base, annotator, len(signal))


#: A WFDB sampling / counter frequency: a plain decimal number (wfdb reads "1e3" as 1).
_WFDB_NUMBER = r"(?:\d+\.?\d*|\.\d+)"
_WFDB_FS = re.compile(rf"(?P<fs>{_WFDB_NUMBER})(?:/-?{_WFDB_NUMBER})?(?:\(-?{_WFDB_NUMBER}\))?")


def _check_record_line(header_path: Path) -> tuple[float | None, int | None]:
    """The sampling frequency and sample count the record line of a WFDB header gives (None when
    omitted), checked as far as wfdb would otherwise misread them.

    The record line is ``name[/segments] n_sig [fs[/counterfreq[(base)]] [n_samples [base_time
    [base_date]]]]`` (WFDB header(5)). wfdb's pattern silently takes a malformed rate (``abc``,
    ``-360``) for the 250 Hz default and then loses the sample count, so it is checked here.
    """
    try:
        with open(header_path, encoding="latin-1") as fh:
            line = next((ln.split("#", 1)[0].strip() for ln in fh
                         if ln.strip() and not ln.lstrip().startswith("#")), "")
    except OSError as exc:
        raise EcgbeatError(f"{header_path}: unreadable WFDB header ({first_line(exc)})") from None
    tokens = line.split()
    if len(tokens) < 2 or not tokens[1].isdigit():
        raise EcgbeatError(f"{header_path}: malformed record line {line[:60]!r} (expected: name, number of "
                           f"signals, sampling frequency, number of samples)")
    fs = n_samples = None
    if len(tokens) > 2:
        match = _WFDB_FS.fullmatch(tokens[2])
        if match is None or not float(match["fs"]) > 0:
            raise EcgbeatError(f"{header_path}: sampling frequency {tokens[2][:30]!r} in the record line is not "
                               f"a positive decimal number (WFDB: fs[/counterfreq[(base)]])")
        fs = float(match["fs"])
    if len(tokens) > 3:
        if not tokens[3].isdigit():
            raise EcgbeatError(f"{header_path}: number of samples {tokens[3][:30]!r} in the record line is not "
                               f"a whole number")
        n_samples = int(tokens[3])
    return fs, n_samples


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


def _read_annotations(base: Path, annotator: str | None, n_samples: int):
    """Sample locations and symbols of ``base.annotator``; empty arrays when there is no such file.

    A file that parses but holds sample locations that are negative, decrease or lie past the
    signal's ``n_samples`` is corrupt (later steps assume sorted locations inside the signal)."""
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object))
    if not annotator or not base.with_suffix(f".{annotator}").is_file():
        return empty
    import wfdb

    where = f"{base}.{annotator}"
    path = base.with_suffix(f".{annotator}")
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            f.seek(max(0, size - 2))
            tail = f.read(2)
    except OSError as exc:
        raise EcgbeatError(f"{where}: unreadable annotations ({exc.strerror or first_line(exc)})") from None
    if size == 0:
        raise EcgbeatError(f"{where}: empty annotation file")
    if tail != b"\x00\x00":  # every WFDB annotation file ends with a zero word; wfdb reads a cut one silently
        raise EcgbeatError(f"{where}: corrupt annotations: truncated (no end-of-file marker; {size} bytes)")
    try:
        ann = wfdb.rdann(str(base), annotator)
    except Exception as exc:
        raise EcgbeatError(f"{where}: unreadable annotations ({first_line(exc)})") from None
    sample = np.asarray(ann.sample, dtype=np.int64)
    symbol = np.asarray(ann.symbol, dtype=object)
    if len(symbol) != len(sample):
        raise EcgbeatError(f"{where}: corrupt annotations ({len(sample)} sample locations, {len(symbol)} symbols)")
    for bad, what in ((sample < 0, "at a negative sample"), (sample >= n_samples, "past the end of the signal")):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise EcgbeatError(f"{where}: corrupt annotations: annotation {i + 1} of {len(sample)} is {what} "
                               f"(sample {int(sample[i])}; the signal has {n_samples} samples)")
    down = np.flatnonzero(np.diff(sample) < 0)
    if len(down):
        i = int(down[0]) + 1
        raise EcgbeatError(f"{where}: corrupt annotations: sample locations must not decrease, annotation {i + 1} "
                           f"of {len(sample)} (sample {int(sample[i])}) comes after sample {int(sample[i - 1])}")
    return sample, symbol


def _pick(names: list[str], lead: str | int | None, where: str, fallback: int = 0,
          among: list[int] | None = None) -> int:
    """Index of the lead to read: ``lead`` when asked for (a name, case-insensitive, or an index into
    ``among``, default all of ``names``), else the first name of :data:`DEFAULT_LEADS` present, else
    ``fallback``."""
    folded = [n.strip().lower() for n in names]
    if isinstance(lead, (int, np.integer)):  # bool refused by _check_lead
        among = list(range(len(names))) if among is None else among
        if not 0 <= lead < len(among):
            raise EcgbeatError(f"{where}: no lead index {int(lead)}; the file has {len(among)} lead(s), 0.."
                               f"{len(among) - 1}: {', '.join(names[i] for i in among)}")
        return among[int(lead)]
    if lead is not None:
        if lead.strip().lower() not in folded:
            raise EcgbeatError(f"{where}: no lead {lead!r}; the file has {', '.join(names)}")
        return folded.index(lead.strip().lower())
    return next((folded.index(c.lower()) for c in DEFAULT_LEADS if c.lower() in folded), fallback)


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def _read_csv(path: Path, lead: str | None, fs: float | None, warnings: list[str]):
    """Signal column, rate, lead name, unit, (no) annotations of a CSV file; ``warnings`` gets the
    count of missing samples (empty, NaN or infinite cells) in the signal column."""
    import pandas as pd

    sep = _delimiter(path)
    try:
        table = pd.read_csv(path, sep=sep, comment="#", header=None, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise EcgbeatError(f"{path}: the file is empty") from None
    except Exception as exc:
        raise EcgbeatError(f"{path}: unreadable CSV ({first_line(exc)})") from None
    first = table.iloc[0]
    has_header = any(_not_number(v) and str(v).strip() != "" for v in first)
    names = [str(v).strip() for v in first] if has_header else [f"column{i + 1}" for i in range(table.shape[1])]
    body = table.iloc[1:] if has_header else table
    try:
        data = body.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    except Exception as exc:
        raise EcgbeatError(f"{path}: non-numeric CSV data ({first_line(exc)})") from None
    lines = None
    if np.isnan(data).all(axis=1).any():  # pandas reads an indented comment line as a row of NaN: drop it
        lines = _data_lines(path)
        if len(lines) == len(data) + int(has_header):
            keep = np.array([bool(text.strip()) for _, text in lines[int(has_header):]], dtype=bool)
            data = data[keep]
            lines = lines[:int(has_header)] + [ln for ln, k in zip(lines[int(has_header):], keep) if k]
    if data.shape[0] < 2:
        raise EcgbeatError(f"{path}: fewer than 2 samples")
    kinds = [_time_kind(n) if has_header else None for n in names]
    if not has_header and data.shape[1] >= 2 and _increasing(data[:, 0]):
        kinds[0] = "sample" if np.allclose(np.diff(data[:, 0]), 1.0) else "s"
    signal_cols = [i for i, k in enumerate(kinds) if k is None]
    if not signal_cols:
        raise EcgbeatError(f"{path}: no signal column (only time columns {', '.join(names)})")
    col = _pick([_strip_unit(n) for n in names], lead, str(path), fallback=signal_cols[0], among=signal_cols)
    time_col = next((i for i, k in enumerate(kinds) if k in ("s", "ms")), None)
    _check_csv_cells(path, sep, data, int(has_header), names, col, time_col, warnings, lines)
    rate = _csv_rate(path, data, kinds, fs)
    unit = _unit_in_name(names[col]) if has_header else None
    lead_name = _strip_unit(names[col]) if has_header else ""
    return data[:, col], rate, lead_name, unit, (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object))


#: Cells that mean "no value" (pandas' usual missing-value markers, and "-" for an invalid sample as
#: wfdb's rdsamp prints it), besides NaN and infinity.
_MISSING_CELLS = {"", "na", "n/a", "nan", "-nan", "null", "none", "#n/a", "<na>", "-", "?"}


def _check_csv_cells(path: Path, sep: str, data: np.ndarray, offset: int, names: list[str], col: int,
                     time_col: int | None, warnings: list[str], lines: list | None = None) -> None:
    """Look at the cells of the signal and time columns that did not become finite numbers.

    Text (not a number) and a line too short to reach the column are errors naming the line. In
    the signal column, an empty, NaN or infinite cell (or one that overflows) is a missing sample:
    NaN marks missing samples (see :class:`EcgSignal`; analysis marks them unreadable), and a
    warning gives their count and first line. The time column must have every value.
    """
    columns = [(c, ~np.isfinite(data[:, c])) for c in ((time_col, col) if time_col is not None else (col,))]
    if not any(bad.any() for _, bad in columns):
        return
    lines = lines if lines is not None else _data_lines(path)
    if len(lines) != len(data) + offset:  # cannot happen unless pandas skips lines differently: rows then
        lines = [(f"data row {i + 1 - offset}", None) for i in range(len(data) + offset)]
    for c, bad in columns:
        rows = np.flatnonzero(bad)
        for r in rows:
            where, text = lines[r + offset]
            where = f"line {where}" if isinstance(where, int) else where
            fields = None if text is None else (text.split() if sep == r"\s+" else text.split(sep))
            if fields is not None and len(fields) <= c:
                raise EcgbeatError(f"{path}: {where}: {len(fields)} of {len(names)} columns, no value for "
                                   f"column {c + 1} ({names[c]})")
            cell = "" if fields is None else fields[c].strip().strip("\"'")
            if cell.lower() not in _MISSING_CELLS and _not_number(cell):
                raise EcgbeatError(f"{path}: {where}, column {c + 1}: not a number: {cell[:30]!r}")
            if c == time_col:
                raise EcgbeatError(f"{path}: {where}, column {c + 1}: time value {cell[:30]!r} is not a finite number")
        if len(rows):
            first = lines[int(rows[0]) + offset][0]
            warnings.append(f"{len(rows)} missing sample{'s' if len(rows) > 1 else ''} (empty, NaN or infinite "
                            f"values) in column {c + 1} ({names[c]}), the first at "
                            f"{'line ' if isinstance(first, int) else ''}{first}: kept as missing (NaN)")


def _data_lines(path: Path) -> list[tuple[int, str]]:
    """(1-based line number, text before any ``#``) of each line pandas reads as a row: all but
    blank lines and lines that start with ``#`` (an indented comment is a row, of NaN)."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip() and not line.startswith("#"):
                out.append((number, line.split("#", 1)[0].rstrip("\r\n")))
    return out


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
    mean = float(t[-1] - t[0]) / (len(t) - 1)  # over the whole span: a rounded step would bias the median
    if np.abs(step - mean).max() > 0.01 * mean + 1e-9 and not _rounded_grid(t, step, mean):
        raise EcgbeatError(f"{path}: irregular sampling (time steps from {step.min():g} to {step.max():g}); "
                           f"resample to a constant rate first")
    rate = (1000.0 if kinds[time_col] == "ms" else 1.0) / mean
    return _check_fs(float(np.round(rate, 6)), str(path))


def _rounded_grid(t: np.ndarray, step: np.ndarray, mean: float) -> bool:
    """Whether times ``t`` are a regular grid of ``mean`` steps printed to a coarser resolution
    (0.000, 0.003, 0.006, 0.008 s at 360 Hz, as WFDB's ``rdsamp -p`` writes them): every step is one
    of the two whole numbers of print steps around the mean (one when the mean is a whole number of
    them), and no time strays from the fitted grid by more than the rounding (half a print step).
    A dropped sample (a double step) is neither."""
    r = _resolution(t)
    if r <= 0 or mean < r:
        return False
    ratio = mean / r
    k = round(ratio)
    allowed = [k] if abs(ratio - k) < 0.01 else [int(np.floor(ratio)), int(np.ceil(ratio))]
    k_all = np.arange(len(t), dtype=np.float64)
    slope, start = np.polyfit(k_all, t - t[0], 1)
    off_grid = np.abs(t - t[0] - (start + slope * k_all))  # rounding alone: at most half a print step
    return bool(np.isin(np.round(step / r), allowed).all() and off_grid.max() <= 0.55 * r)


def _resolution(t: np.ndarray) -> float:
    """The step of the decimal places ``t`` is printed with (0.001 for milliseconds in seconds)."""
    for decimals in range(10):
        scaled = t * 10.0 ** decimals
        if np.abs(scaled - np.round(scaled)).max() <= 1e-6:  # whole numbers, but for float rounding
            return 10.0 ** -decimals
    return 0.0


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


