"""Atomic writes: write a temporary file in the target folder, then rename over the target.

A crash or an exception never leaves a half-written output behind, and an existing file is
replaced only by a complete new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import EcgbeatError


def make_folder(folder: str | os.PathLike, purpose: str) -> Path:
    """Create ``folder`` and its parents (an existing folder is fine); a one-line :class:`EcgbeatError`
    saying that ``folder`` is a file, which file above it is in the way, or what the system refused,
    each with ``purpose`` (e.g. ``"write output"``: "cannot write output")."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = file_in_the_way(folder)
        if blocker == folder:
            raise EcgbeatError(f"{folder}: is a file, not a folder; cannot {purpose}") from None
        if blocker is not None:
            raise EcgbeatError(f"{folder}: cannot {purpose}, {blocker} is a file") from None
        refused = "" if exc.filename in (None, str(folder)) else f"{exc.filename}: "
        raise EcgbeatError(f"{folder}: cannot {purpose} ({refused}{exc.strerror or exc})") from None
    return folder


def file_in_the_way(folder: str | os.PathLike) -> Path | None:
    """``folder`` or the nearest of its parents that exists, when that is not a folder (a file in the
    way of making it); None otherwise. A path the system will not even look at (a parent without
    search permission: Python < 3.12 raises there) counts as absent, never as a file."""
    for p in (Path(folder), *Path(folder).parents):
        try:
            if p.exists():
                return None if p.is_dir() else p
        except OSError:
            continue
    return None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``, else delete it.

    A folder that cannot be made is a one-line :class:`EcgbeatError` (:func:`make_folder`); an error
    of the system names ``path``, never the hidden temporary file."""
    path = Path(path)
    make_folder(path.parent, f"write {path.name}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes 0600 files; give the result the permissions a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        if tmp_path.exists():
            os.chmod(tmp_path, 0o666 & ~umask)
        try:
            os.replace(tmp_path, path)
        except OSError as exc:  # name the target, not the hidden temporary file
            raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, obj) -> Path:
    """``obj`` as strict JSON (:func:`json_text`), written atomically."""
    return write_text_atomic(path, json_text(obj, indent=2) + "\n")


def json_text(obj, **kwargs) -> str:
    """Strict JSON that every parser reads: numpy values and paths converted, and a value that is
    not a finite number (an undefined precision, a missing RR) written as ``null``, not ``NaN``."""
    return json.dumps(_finite(obj), allow_nan=False, default=_jsonable, **kwargs)


def _finite(obj):
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _finite(obj.tolist())
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def _jsonable(obj):
    """numpy scalars and paths in JSON (arrays are lists by then: :func:`_finite`)."""
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
