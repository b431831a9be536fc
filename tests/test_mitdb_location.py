"""Where MIT-BIH is looked for, and the download path failing clearly without network."""

from __future__ import annotations

import pytest

from ecgbeat.errors import EcgbeatError
from ecgbeat.io import mitdb as mitdb_io


def test_explicit_path_env_and_errors(mitdb, tmp_path, monkeypatch):
    monkeypatch.delenv("ECGBEAT_MITDB", raising=False)
    assert mitdb_io.resolve_mitdb(mitdb) == mitdb
    monkeypatch.setenv("ECGBEAT_MITDB", str(mitdb))
    assert mitdb_io.resolve_mitdb() == mitdb
    with pytest.raises(EcgbeatError, match=r"nowhere: MIT-BIH folder not found \(from --mitdb\)"):
        mitdb_io.resolve_mitdb(tmp_path / "nowhere")
    with pytest.raises(EcgbeatError, match=r"no WFDB records"):
        mitdb_io.resolve_mitdb(tmp_path)


def test_download_failure_says_where_to_put_files(tmp_path, monkeypatch):
    """No network here: wfdb's download raises; ecgbeat turns it into one actionable line."""
    import wfdb

    def offline(*args, **kwargs):
        raise ConnectionError("Max retries exceeded with url: /files/mitdb/1.0.0/RECORDS")

    monkeypatch.delenv("ECGBEAT_MITDB", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(wfdb, "dl_database", offline)
    with pytest.raises(EcgbeatError) as info:
        mitdb_io.resolve_mitdb()
    text = str(info.value)
    assert "could not download MIT-BIH from PhysioNet" in text and "Max retries" in text
    assert str(tmp_path / "ecgbeat" / "mitdb") in text and "--mitdb" in text and "\n" not in text
    with pytest.raises(EcgbeatError, match="MIT-BIH not found"):
        mitdb_io.resolve_mitdb(download=False)
