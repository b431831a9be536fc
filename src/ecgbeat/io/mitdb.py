"""The MIT-BIH Arrhythmia Database: where it is, getting it, reading one record."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EcgbeatError, first_line
from ..labels import MITDB_RECORDS

ENV_VAR = "ECGBEAT_MITDB"


@dataclass(frozen=True)
class Record:
    """One lead of a WFDB record with its reference beat annotations.

    Attributes
    ----------
    name : str
    signal_mV : ndarray, shape (n_samples,), float64
    fs : float
        Sampling frequency, Hz.
    lead : str
        Signal name, e.g. "MLII".
    ann_sample : ndarray of int64
        Annotation sample indices (all annotations, beats and others).
    ann_symbol : ndarray of str
        Annotation symbols (MIT-BIH codes).
    """

    name: str
    signal_mV: np.ndarray
    fs: float
    lead: str
    ann_sample: np.ndarray
    ann_symbol: np.ndarray

    @property
    def duration_s(self) -> float:
        return len(self.signal_mV) / self.fs


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ecgbeat" / "mitdb"


def _has_records(folder: Path, records=MITDB_RECORDS) -> bool:
    return all((folder / f"{r}.hea").is_file() for r in records)


def resolve_mitdb(path: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Folder holding the MIT-BIH records.

    Looks at ``path`` (the CLI's ``--mitdb``), else ``$ECGBEAT_MITDB``, else the user cache
    folder (``~/.cache/ecgbeat/mitdb``). A given path must hold the records; the cache folder is
    filled from PhysioNet with :func:`download_mitdb` when empty and ``download`` is true.
    """
    given = path if path is not None else os.environ.get(ENV_VAR) or None
    if given is not None:
        folder = Path(given).expanduser()
        if not folder.is_dir():
            source = "--mitdb" if path is not None else f"${ENV_VAR}"
            raise EcgbeatError(f"{folder}: MIT-BIH folder not found (from {source})")
        if not any(folder.glob("*.hea")):
            raise EcgbeatError(f"{folder}: no WFDB records (*.hea) in this MIT-BIH folder")
        return folder
    folder = default_cache_dir()
    if _has_records(folder):
        return folder
    if not download:
        raise EcgbeatError(
            f"MIT-BIH not found: pass --mitdb PATH, set ${ENV_VAR}, or put the 48 records in {folder}"
        )
    return download_mitdb(folder)


def download_mitdb(folder: str | os.PathLike) -> Path:
    """Download the MIT-BIH Arrhythmia Database from PhysioNet with ``wfdb.dl_database``."""
    import wfdb

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    print(f"Downloading the MIT-BIH Arrhythmia Database from PhysioNet into {folder} ...", flush=True)
    try:
        wfdb.dl_database("mitdb", dl_dir=str(folder), records="all", annotators=["atr"])
    except Exception as exc:  # no network, proxy, PhysioNet down: say what to do instead
        reason = first_line(exc, 120)
        raise EcgbeatError(
            f"could not download MIT-BIH from PhysioNet ({reason}); download "
            f"https://physionet.org/content/mitdb/1.0.0/ yourself and put the .hea/.dat/.atr files "
            f"in {folder}, or pass --mitdb PATH / set ${ENV_VAR}"
        ) from None
    if not _has_records(folder):
        raise EcgbeatError(f"{folder}: download from PhysioNet finished but records are missing")
    return folder


def read_record(
    folder: str | os.PathLike, name: str, lead: str = "MLII", annotator: str | None = "atr"
) -> Record:
    """Read one lead of a WFDB record and its annotations.

    The lead is chosen by name (default MLII); a record without it falls back to its first
    signal (MIT-BIH 102 and 104 have V5/V2 only). Without an annotation file, the annotation
    arrays are empty.
    """
    import wfdb

    base = Path(folder) / name
    for ext in ("hea", "dat"):
        if not base.with_suffix(f".{ext}").is_file() and not (ext == "dat" and _dat_named(base)):
            raise EcgbeatError(f"{base}.{ext}: missing file of record {name}")
    try:
        header = wfdb.rdheader(str(base))
        channel = header.sig_name.index(lead) if lead in header.sig_name else 0
        rec = wfdb.rdrecord(str(base), channels=[channel], physical=True)
    except EcgbeatError:
        raise
    except Exception as exc:
        raise EcgbeatError(f"{base}: unreadable WFDB record ({first_line(exc)})") from None
    signal = np.asarray(rec.p_signal[:, 0], dtype=np.float64)
    if header.sig_len and len(signal) < header.sig_len:
        raise EcgbeatError(f"{base}.dat: truncated ({len(signal)} of {header.sig_len} samples)")
    samples = np.zeros(0, dtype=np.int64)
    symbols = np.zeros(0, dtype=object)
    ann_file = base.with_suffix(f".{annotator}") if annotator else None
    if ann_file is not None and ann_file.is_file():
        try:
            ann = wfdb.rdann(str(base), annotator)
        except Exception as exc:
            raise EcgbeatError(f"{ann_file}: unreadable annotations ({first_line(exc)})") from None
        samples = np.asarray(ann.sample, dtype=np.int64)
        symbols = np.asarray(ann.symbol, dtype=object)
    return Record(
        name=name, signal_mV=signal, fs=float(rec.fs), lead=rec.sig_name[0],
        ann_sample=samples, ann_symbol=symbols,
    )


def _dat_named(base: Path) -> bool:
    """True when the header names signal files that exist (they need not be NAME.dat)."""
    header = base.with_suffix(".hea")
    if not header.is_file():
        return False
    lines = [ln for ln in header.read_text(errors="replace").splitlines() if ln and ln[0] != "#"]
    files = {ln.split()[0] for ln in lines[1:] if ln.split()}
    return bool(files) and all((base.parent / f).is_file() for f in files)


