"""Shared fixtures: real MIT-BIH records from ../shared/data/mitdb (or $ECGBEAT_MITDB)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def mitdb_path() -> Path | None:
    env = os.environ.get("ECGBEAT_MITDB")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data" / "mitdb"]:
        if (candidate / "100.hea").is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def mitdb() -> Path:
    path = mitdb_path()
    if path is None:
        pytest.skip("MIT-BIH records not found (set ECGBEAT_MITDB or provide ../shared/data/mitdb)")
    return path


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Tests never write into the user's cache folders."""
    cache = tmp_path_factory.mktemp("ecgbeat-cache")
    old = {k: os.environ.get(k) for k in ("ECGBEAT_CACHE", "XDG_CACHE_HOME")}
    os.environ["ECGBEAT_CACHE"] = str(cache / "beats")
    os.environ["XDG_CACHE_HOME"] = str(cache / "xdg")
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


#: A small but varied subset: normal (100), many S (209, 232), V and F (208), paced (107), DS1+DS2.
SMALL_RECORDS = ("100", "107", "208", "209", "232", "119", "118", "124", "201")


@pytest.fixture(scope="session")
def small_beats(mitdb):
    from ecgbeat.datasets import build_beats

    return build_beats(SMALL_RECORDS, mitdb=mitdb)


@pytest.fixture(scope="session")
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def stream_probabilities():
    """``f(pair, sig, config, chunk_s=0.5)``: a StreamClassifier fed ``sig`` in chunks of ``chunk_s``
    seconds (the CLI's default), its beats' probabilities as an array (NaN rows: unreadable)."""
    def run(pair, sig, config, chunk_s: float = 0.5) -> np.ndarray:
        from ecgbeat.labels import CLASSES
        from ecgbeat.stream import StreamClassifier

        sc, out, step = StreamClassifier(pair, sig.fs, config), [], int(chunk_s * sig.fs)
        for i in range(0, len(sig.signal_mV), step):
            out += sc.push(sig.signal_mV[i: i + step])
        out += sc.flush()
        return np.array([[np.nan] * 5 if b["probabilities"] is None else [b["probabilities"][c] for c in CLASSES]
                         for b in out])

    return run
