"""Kaggle "ECG Heartbeat Categorization" CSV files (Kachuee et al. 2018).

Each line: 187 beat samples (125 Hz, scaled to [0, 1], zero-padded) then the label, no header,
numbers written like ``7.582644820213317871e-01``. ``mitbih_*.csv`` labels are 0..4 (N, S, V, F,
Q); ``ptbdb_*.csv`` labels are 0..1 (normal, abnormal).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import EcgbeatError
from ..labels import CLASSES, PTB_CLASSES
from ..types import BeatSet
from .atomic import atomic_path

N_SAMPLES = 187
FS_HZ = 125.0


def _classes_for(path: Path, classes: tuple[str, ...] | None) -> tuple[str, ...]:
    if classes is not None:
        return tuple(classes)
    return PTB_CLASSES if path.name.lower().startswith("ptbdb") else CLASSES


def load_kaggle_csv(
    path: str | os.PathLike,
    has_label: bool | None = None,
    classes: tuple[str, ...] | None = None,
    n_samples: int = N_SAMPLES,
) -> BeatSet:
    """Read a Kaggle heartbeat CSV with strict validation.

    Parameters
    ----------
    path : path-like
        ``mitbih_train.csv``, ``mitbih_test.csv``, ``ptbdb_normal.csv``, ``ptbdb_abnormal.csv`` or
        any file in that format.
    has_label : bool or None
        Whether the last column is the label. ``None``: decided by the column count
        (``n_samples + 1`` columns: labelled; ``n_samples``: unlabelled, ``y`` is -1).
    classes : tuple of str or None
        Class names; default MIT-BIH's N, S, V, F, Q, or normal/abnormal for ``ptbdb*`` files.

    Raises
    ------
    EcgbeatError
        One line naming the file, the line number and the problem: missing or empty file, wrong
        column count, non-numeric or non-finite value (also one beyond float32, the dtype of the
        returned samples), label not an integer in range.
    """
    import pandas as pd

    path = Path(path)
    classes = _classes_for(path, classes)
    if path.is_dir():
        raise EcgbeatError(f"{path}: is a folder, not a Kaggle-format CSV file")
    if not path.is_file():
        raise EcgbeatError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise EcgbeatError(f"{path}: file is empty")
    try:
        frame = pd.read_csv(path, header=None, dtype=np.float64, engine="c", skip_blank_lines=True)
        data = frame.to_numpy()
    except Exception:  # the fast reader only says "something is wrong": find what, and where
        _scan_for_error(path, has_label, n_samples)
        raise EcgbeatError(f"{path}: not a valid Kaggle heartbeat CSV") from None
    if data.shape[0] == 0:
        raise EcgbeatError(f"{path}: file has no data lines")
    n_cols = data.shape[1]
    if has_label is None:
        if n_cols not in (n_samples, n_samples + 1):
            _scan_for_error(path, has_label, n_samples)
            raise EcgbeatError(
                f"{path}: line 1: expected {n_samples + 1} columns ({n_samples} samples + label) "
                f"or {n_samples} (no label), found {n_cols}"
            )
        has_label = n_cols == n_samples + 1
    expected = n_samples + int(has_label)
    if n_cols != expected or not np.isfinite(data).all():
        _scan_for_error(path, has_label, n_samples)
        raise EcgbeatError(f"{path}: expected {expected} finite numeric columns per line")
    with np.errstate(over="ignore"):
        X = np.ascontiguousarray(data[:, :n_samples], dtype=np.float32)
    if not np.isfinite(X).all():  # finite as float64, beyond float32 (the dtype the models take)
        row, column = (int(i) for i in np.argwhere(~np.isfinite(X))[0])
        raise EcgbeatError(f"{path}: line {_line_of_row(path, row)}, column {column + 1}: value "
                           f"{float(data[row, column]):g} overflows float32 (largest {np.finfo(np.float32).max:.4g})")
    if has_label:
        y = _check_labels(path, data[:, n_samples], classes)
    else:
        y = np.full(len(X), -1, dtype=np.int64)
    return BeatSet(X=X, y=y, fs=FS_HZ, classes=classes)


def _check_labels(path: Path, labels: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    bad = (labels != np.round(labels)) | (labels < 0) | (labels > len(classes) - 1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise EcgbeatError(
            f"{path}: line {_line_of_row(path, row)}: label {float(labels[row])!r} is not an integer in "
            f"0..{len(classes) - 1} ({', '.join(classes)})"
        )
    return labels.astype(np.int64)


def _line_of_row(path: Path, row: int) -> int:
    """1-based line number of data row ``row`` (blank lines are skipped by the reader)."""
    with open(path, "rb") as fh:
        seen = -1
        for number, line in enumerate(fh, start=1):
            if line.strip():
                seen += 1
                if seen == row:
                    return number
    return row + 1


def _scan_for_error(path: Path, has_label: bool | None, n_samples: int) -> None:
    """Slow line-by-line pass, only on failure: raise an error naming the first bad line."""
    allowed = (n_samples + 1,) if has_label else (n_samples,) if has_label is False else None
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split(",")
            if allowed is None:
                allowed = (len(fields),) if len(fields) in (n_samples, n_samples + 1) else (
                    n_samples + 1,
                )
            if len(fields) not in allowed:
                raise EcgbeatError(
                    f"{path}: line {number}: expected {allowed[0]} comma-separated values, "
                    f"found {len(fields)}"
                )
            for column, text in enumerate(fields, start=1):
                text = text.strip()
                if len(text) >= 2 and text[0] == text[-1] == '"':  # quoted, as the reader takes it
                    text = text[1:-1]
                try:
                    if "_" in text:  # Python's float() takes 1_0; a CSV reader does not
                        raise ValueError(text)
                    value = float(text)
                except ValueError:
                    raise EcgbeatError(
                        f"{path}: line {number}, column {column}: not a number: {text.strip()[:30]!r}"
                    ) from None
                if not np.isfinite(value):
                    raise EcgbeatError(
                        f"{path}: line {number}, column {column}: non-finite value {text.strip()!r}"
                    )


def save_kaggle_csv(beats: BeatSet, path: str | os.PathLike, with_label: bool = True) -> Path:
    """Write beats in the published Kaggle format (``%.18e``, label as a float), atomically.

    What :func:`load_kaggle_csv` would refuse is refused here, before anything is written, as a
    one-line :class:`EcgbeatError` naming the path: no beats, beats not at 125 Hz, a non-finite
    sample (or one beyond float32), and with ``with_label`` a label that is not a class index of
    ``beats.classes``."""
    path = Path(path)
    if path.is_dir():
        raise EcgbeatError(f"{path}: is a folder; give the CSV file to write")
    if len(beats) == 0:
        raise EcgbeatError(f"{path}: no beats to write")
    if beats.n_samples != N_SAMPLES:
        raise EcgbeatError(f"{path}: Kaggle format needs {N_SAMPLES} samples per beat, got {beats.n_samples}")
    if beats.fs != FS_HZ:  # the file has no rate: it would read back as 125 Hz beats
        raise EcgbeatError(f"{path}: Kaggle format holds {FS_HZ:g} Hz beats, got beats at {beats.fs:g} Hz")
    data = beats.X.astype(np.float64)
    bad = ~np.isfinite(data) | (np.abs(np.nan_to_num(data)) > np.finfo(np.float32).max)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise EcgbeatError(f"{path}: beat {row}, sample {column + 1} is {data[row, column]:g}; the Kaggle format "
                           f"holds finite float32 values ({int(bad.any(axis=1).sum())} beat(s) do not)")
    if with_label:
        if (beats.y < 0).any():
            raise EcgbeatError(f"{path}: cannot write labels: some beats are unlabelled")
        y = np.asarray(beats.y)
        wrong = (y != np.round(y)) | (y > len(beats.classes) - 1)
        if wrong.any():
            row = int(np.flatnonzero(wrong)[0])
            raise EcgbeatError(f"{path}: cannot write labels: beat {row} has label {float(y[row]):g}, not a class "
                               f"index 0..{len(beats.classes) - 1} ({', '.join(beats.classes)})")
        data = np.column_stack([data, y.astype(np.float64)])
    try:
        with atomic_path(path) as tmp:
            # numpy's "%.18e" matches the published files byte for byte in format
            np.savetxt(tmp, data, fmt="%.18e", delimiter=",")
    except OSError as exc:
        raise EcgbeatError(f"{exc.filename or path}: cannot write ({exc.strerror or exc})") from None
    return path
