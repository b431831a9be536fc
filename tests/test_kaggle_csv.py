"""Kaggle CSV reading / writing: real beats round trip, and every kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ecgbeat.errors import EcgbeatError
from ecgbeat.io.kaggle import load_kaggle_csv, save_kaggle_csv
from ecgbeat.types import BeatSet


def test_round_trip_real_beats(small_beats, tmp_path):
    beats = small_beats.subset(np.arange(0, len(small_beats), 50))
    path = save_kaggle_csv(beats, tmp_path / "mitbih_test.csv")
    first = path.read_text().splitlines()[0].split(",")
    assert len(first) == 188
    # published format: 18-digit exponent notation, label written as a float
    assert first[0].count("e") == 1 and len(first[0].split("e")[0].split(".")[1]) == 18
    assert float(first[-1]) == beats.y[0] and "e+00" in first[-1]
    back = load_kaggle_csv(path)
    np.testing.assert_allclose(back.X, beats.X, atol=1e-7)
    np.testing.assert_array_equal(back.y, beats.y)
    assert back.classes == ("N", "S", "V", "F", "Q") and back.fs == 125.0
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves nothing behind


def test_unlabelled_file_and_ptb_labels(tmp_path):
    X = np.random.default_rng(1).random((4, 187)).astype(np.float32)
    np.savetxt(tmp_path / "nolabel.csv", X, fmt="%.18e", delimiter=",")
    beats = load_kaggle_csv(tmp_path / "nolabel.csv")
    assert beats.X.shape == (4, 187) and (beats.y == -1).all()
    save_kaggle_csv(BeatSet(X=X, y=np.array([0, 1, 1, 0])), tmp_path / "ptbdb_abnormal.csv")
    ptb = load_kaggle_csv(tmp_path / "ptbdb_abnormal.csv")
    assert ptb.classes == ("normal", "abnormal")
    save_kaggle_csv(BeatSet(X=X, y=np.array([0, 1, 2, 0])), tmp_path / "ptbdb_normal.csv")
    with pytest.raises(EcgbeatError, match=r"ptbdb_normal.csv: line 3: label 2.0 is not an integer in 0..1"):
        load_kaggle_csv(tmp_path / "ptbdb_normal.csv")


def _write(tmp_path, lines, name="mitbih_bad.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _row(value="5.000000000000000000e-01", label="1.000000000000000000e+00", n=187):
    return ",".join([value] * n + ([label] if label is not None else []))


@pytest.mark.parametrize(
    "lines, message",
    [
        ([_row(), _row(n=186)], r"line 2: expected 188 comma-separated values, found 187"),
        ([_row(), _row(), _row(n=190)], r"line 3: expected 188 comma-separated values, found 191"),
        ([_row(), _row(value="abc")], r"line 2, column 1: not a number: 'abc'"),
        ([_row(), _row(value="nan")], r"line 2, column 1: non-finite value 'nan'"),
        ([_row(value="inf"), _row()], r"line 1, column 1: non-finite value 'inf'"),
        ([_row(), _row(label="7.0")], r"line 2: label 7.0 is not an integer in 0..4"),
        ([_row(), _row(), _row(label="1.5")], r"line 3: label 1.5 is not an integer in 0..4"),
        ([_row(), _row(label="-1")], r"line 2: label -1.0 is not an integer"),
        # quoted cells are read as numbers, so the bad one is named, not the first quoted one
        ([_row('"0.5"', '"1"'), _row('"0.5"', '"1"'), _row('"nan"', '"1"')],
         r"line 3, column 1: non-finite value 'nan'"),
    ],
)
def test_bad_lines_are_named(tmp_path, lines, message):
    path = _write(tmp_path, lines)
    with pytest.raises(EcgbeatError, match=message) as info:
        load_kaggle_csv(path)
    text = str(info.value)
    assert str(path) in text and "\n" not in text


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(EcgbeatError, match="file not found"):
        load_kaggle_csv(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(EcgbeatError, match="empty.csv: file is empty"):
        load_kaggle_csv(tmp_path / "empty.csv")
    (tmp_path / "blank.csv").write_text("\n\n")
    with pytest.raises(EcgbeatError, match="blank.csv"):
        load_kaggle_csv(tmp_path / "blank.csv")


def test_save_refuses_unlabelled_and_wrong_length(tmp_path):
    X = np.zeros((2, 187), dtype=np.float32)
    with pytest.raises(EcgbeatError, match="unlabelled"):
        save_kaggle_csv(BeatSet(X=X, y=np.array([-1, 0])), tmp_path / "a.csv")
    with pytest.raises(EcgbeatError, match="187 samples"):
        save_kaggle_csv(BeatSet(X=np.zeros((2, 100)), y=np.array([0, 0])), tmp_path / "b.csv")
    assert not list(tmp_path.iterdir())
