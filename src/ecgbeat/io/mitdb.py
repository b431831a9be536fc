"""The MIT-BIH Arrhythmia Database: where it is, getting it, reading one record."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from ..errors import EcgbeatError, first_line
from ..labels import MITDB_RECORDS
from .atomic import make_folder
from .signals import EcgSignal, read_signal

ENV_VAR = "ECGBEAT_MITDB"


#: One lead of a WFDB record with its reference beat annotations (all annotations, beats and
#: others, as MIT-BIH symbols): the :class:`~ecgbeat.io.signals.EcgSignal` that
#: :func:`~ecgbeat.io.signals.read_signal` returns, named for the MIT-BIH API.
Record = EcgSignal


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

    folder = make_folder(folder, "download MIT-BIH into it")
    print(f"Downloading the MIT-BIH Arrhythmia Database from PhysioNet into {folder} ...", flush=True)
    try:
        wfdb.dl_database("mitdb", dl_dir=str(folder), records="all", annotators=["atr"])
    except Exception as exc:  # no network, proxy, PhysioNet down: say what to do instead
        reason = textwrap.shorten(first_line(exc, 1000), 160, placeholder=" ...")  # whole words
        raise EcgbeatError(
            f"could not download MIT-BIH from PhysioNet ({reason}); download "
            f"https://physionet.org/content/mitdb/1.0.0/ yourself and put the .hea/.dat/.atr files "
            f"in {folder}, or pass --mitdb PATH / set ${ENV_VAR}"
        ) from None
    if not _has_records(folder):
        raise EcgbeatError(f"{folder}: download from PhysioNet finished but records are missing")
    return folder


def read_record(folder: str | os.PathLike, name: str, lead: str | None = None,
                annotator: str | None = "atr", require_annotations: bool = False) -> Record:
    """Read one lead of a WFDB record and its annotations.

    A thin wrapper over :func:`ecgbeat.io.signals.read_signal` (the one WFDB reader, with its
    one-line errors for missing, unreadable and truncated files, malformed headers and corrupt
    annotations). The lead is chosen by name (default: MLII, else the first signal; MIT-BIH 102
    and 104 have V5/V2 only). Without an annotation file, the annotation arrays are empty, unless
    ``require_annotations`` (labelled beats): then it is an error, and so is a header without a
    sampling frequency.
    """
    if not str(name).strip():
        raise EcgbeatError(f"{folder}: empty record name")
    sig = read_signal(Path(folder) / f"{name}.hea", lead=lead, annotator=annotator,
                      require_annotations=require_annotations)
    return replace(sig, name=str(name))


def check_labelled_records(folder: str | os.PathLike, names: Iterable[str], annotator: str = "atr") -> None:
    """Before any reading: every record named has a header and a reference annotation file.

    An empty name (``--records 100,,201``) and a missing ``.hea`` / ``.atr`` are one-line errors."""
    names = [str(n) for n in names]
    if any(not n.strip() for n in names):
        raise EcgbeatError(f"empty record name in --records ({','.join(names)})")
    folder = Path(folder)
    for name in names:
        header = folder / f"{name}.hea"
        if not header.is_file():
            raise EcgbeatError(f"{header}: missing header file of WFDB record {name}")
        ann = folder / f"{name}.{annotator}"
        if not ann.is_file():
            raise EcgbeatError(f"{ann}: missing annotation file (labelled beats need the reference annotations)")
