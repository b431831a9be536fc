"""Beat building from raw MIT-BIH records and the splits."""

from __future__ import annotations

import numpy as np
import pytest

from ecgbeat.datasets import build_beats, split_beats
from ecgbeat.dsp.beats import BeatParams, rr_features, segment_beats
from ecgbeat.errors import EcgbeatError
from ecgbeat.io.mitdb import read_record
from ecgbeat.labels import DS1, DS2, PACED_RECORDS


def test_beats_match_reference_annotations(mitdb):
    beats = build_beats(["100", "208"], mitdb=mitdb)
    rec = read_record(mitdb, "208")
    # every annotated beat, nothing else: 208 has 1586 N, 992 V, 373 F, 2 S (Q: 2 unclassifiable)
    counts = build_beats(["208"], mitdb=mitdb).class_counts()
    assert counts == {"N": 1586, "S": 2, "V": 992, "F": 373, "Q": 2}
    assert beats.X.shape[1] == 187 and beats.X.dtype == np.float32
    assert beats.X.min() >= 0.0 and beats.X.max() <= 1.0
    assert set(beats.record) == {"100", "208"}
    # each beat starts at its R peak: the first sample is near the top of the window's range
    assert np.median(beats.X[beats.record == "100", 0]) > 0.7
    # positions are sample indices of the original 360 Hz record
    assert np.isin(beats.sample[beats.record == "208"], rec.ann_sample).all()
    # zero padding after 1.2 x median RR (about 1 s at 75 bpm: ~ 120 of 187 samples)
    tail = (beats.X[:, 150:] == 0).mean()
    assert tail > 0.5


def test_lead_fallback_for_records_without_mlii(mitdb):
    assert read_record(mitdb, "100").lead == "MLII"
    assert read_record(mitdb, "102").lead == "V5"  # no MLII: first signal


def test_segment_beats_window_scaling_and_padding():
    fs = 125.0
    t = np.arange(int(30 * fs)) / fs
    signal = np.sin(2 * np.pi * 1.0 * t) * (1 + t)  # amplitude grows: scaling must be per window
    peaks = np.arange(31, len(t) - 10, 125)
    X = segment_beats(signal, peaks, BeatParams())
    assert X.shape == (len(peaks), 187)
    assert np.isclose(X[:, 0].max(), 1.0, atol=0.02)  # every window scaled to its own maximum
    length = int(round(1.2 * 125))
    assert (X[:-1, length:] == 0).all() and (X[:-1, length - 1] > 0).all()
    with pytest.raises(ValueError, match="outside"):
        segment_beats(signal, np.array([len(signal) + 5]))


def test_causal_beats_use_the_past_only():
    """A causal beat depends on nothing after its own end; a fixed-window beat does (its window
    runs on), which is why a stream must wait for the window with "fixed" scaling."""
    from ecgbeat.dsp.beats import cut, segment_beats_causal

    fs = 125.0
    t = np.arange(int(30 * fs)) / fs
    signal = np.sin(2 * np.pi * 1.0 * t) * (1 + t)
    peaks = np.arange(31, len(t) - 200, 125)
    causal = BeatParams(scaling="causal")
    X = segment_beats_causal(signal, peaks, causal)
    np.testing.assert_array_equal(cut(signal, peaks, causal), X)
    assert X.shape == (len(peaks), 187) and X.min() >= 0 and X.max() <= 1
    k = 12  # a beat in the middle of its fixed window (peaks at 12.25 s; window 10..20 s)
    end = peaks[k] + int(round(1.2 * 125))
    changed = signal.copy()
    changed[end:] *= 5  # everything after beat k's end
    np.testing.assert_array_equal(segment_beats_causal(changed, peaks, causal)[k], X[k])
    assert not np.array_equal(segment_beats(changed, peaks)[k], segment_beats(signal, peaks)[k])
    # the first beats see a shorter past window, yet are scaled to [0, 1] over what exists
    assert np.isclose(X[0].max(), 1.0, atol=0.05)
    with pytest.raises(ValueError, match="scaling"):
        BeatParams(scaling="centered")


def test_causal_training_beats_from_a_record(mitdb, tmp_path):
    fixed = build_beats(["119"], mitdb=mitdb, cache_dir=tmp_path)
    causal = build_beats(["119"], mitdb=mitdb, cache_dir=tmp_path, params=BeatParams(scaling="causal"))
    assert len(list(tmp_path.glob("beats-*.npz"))) == 2  # the scaling is part of the cache key
    assert causal.X.shape == fixed.X.shape
    np.testing.assert_array_equal(causal.y, fixed.y)
    diff = np.abs(causal.X - fixed.X).mean(axis=1)
    # same beats, scaled over other windows: mostly close, never identical throughout
    assert np.median(diff) < 0.1 and diff.max() > 0


def test_rr_features_are_causal_averages():
    r = np.array([0, 100, 200, 400, 500])
    f = rr_features(r, fs=100.0)
    assert np.isnan(f[0, 0]) and np.isnan(f[-1, 1])
    np.testing.assert_allclose(f[3], [2.0, 1.0, (1 + 1 + 2) / 3])


def test_cache_reused_and_invalidated_by_parameters(mitdb, tmp_path):
    first = build_beats(["100"], mitdb=mitdb, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("beats-*.npz"))) == 1
    again = build_beats(["100"], mitdb=mitdb, cache_dir=tmp_path)
    np.testing.assert_array_equal(first.X, again.X)
    assert list(again.record) == list(first.record)
    other = build_beats(["100"], mitdb=mitdb, cache_dir=tmp_path, params=BeatParams(rr_factor=1.0))
    assert len(list(tmp_path.glob("beats-*.npz"))) == 2
    assert not np.array_equal(first.X, other.X)


def test_intra_split_is_stratified_and_seeded(small_beats):
    a = split_beats(small_beats, "intra", seed=3)
    b = split_beats(small_beats, "intra", seed=3)
    c = split_beats(small_beats, "intra", seed=4)
    np.testing.assert_array_equal(a.test.sample, b.test.sample)
    assert not np.array_equal(a.test.sample, c.test.sample)
    n = len(small_beats)
    assert abs(len(a.test) - 0.2 * n) <= 1 and len(a.train) + len(a.val) + len(a.test) == n
    total = np.bincount(small_beats.y, minlength=5) / n
    np.testing.assert_allclose(np.bincount(a.test.y, minlength=5) / len(a.test), total, atol=0.002)
    # no beat in two sets
    key = lambda s: set(zip(s.record, s.sample))  # noqa: E731
    assert not key(a.train) & key(a.test) and not key(a.val) & key(a.test)


def test_inter_split_keeps_patients_apart(small_beats):
    s = split_beats(small_beats, "inter", seed=0)
    assert set(s.train.record) | set(s.val.record) <= set(DS1)
    assert set(s.test.record) <= set(DS2)
    assert not set(s.test.record) & set(PACED_RECORDS) and not set(s.train.record) & set(PACED_RECORDS)
    # validation holds out whole DS1 records: unseen patients, like the test
    assert s.info["val_by"] == "record" and set(s.val.record) == set(s.info["val_records"])
    assert set(s.val.record) and not set(s.val.record) & set(s.train.record)
    total = np.bincount(np.concatenate([s.train.y, s.val.y]), minlength=5)
    assert (np.bincount(s.train.y, minlength=5) * 2 >= total).all()  # rare classes stay in training
    beatwise = split_beats(small_beats, "inter", seed=0, val_by="beat", val_fraction=0.1)
    assert beatwise.info["val_by"] == "beat" and set(beatwise.val.record) <= set(beatwise.train.record)
    with pytest.raises(EcgbeatError, match="unknown split"):
        split_beats(small_beats, "random")


def test_inter_split_on_given_validation_records(small_beats):
    """``val_records`` holds out exactly those DS1 records, whatever the seed, even the fold the seed-drawn
    folds skip (208 holds most F beats); records outside the training part are a one-line error."""
    a = split_beats(small_beats, "inter", seed=0, val_records=["208", "118"])
    b = split_beats(small_beats, "inter", seed=5, val_records=["118", "208"])
    assert a.info["val_records"] == ["118", "208"] and a.info["val_records_given"] is True
    assert set(a.val.record) == {"118", "208"} and set(a.train.record) == {"119", "124", "201", "209"}
    np.testing.assert_array_equal(a.val.sample, b.val.sample)
    assert len(a.train) + len(a.val) == int(np.isin(small_beats.record, DS1).sum())
    total = np.bincount(np.concatenate([a.train.y, a.val.y]), minlength=5)
    assert np.bincount(a.val.y, minlength=5)[3] * 2 > total[3]  # the F beats go to validation with 208
    drawn = split_beats(small_beats, "inter", seed=0)
    assert "val_records_given" not in drawn.info and "208" not in drawn.info["val_records"]
    for bad, match in ((["232"], "232 not among the training records"), ([], "no validation records given"),
                       (["118", "119", "124", "201", "208", "209"], "leave no training record")):
        with pytest.raises(EcgbeatError, match=match):
            split_beats(small_beats, "inter", val_records=bad)
    with pytest.raises(EcgbeatError, match="by record, not by beat"):
        split_beats(small_beats, "inter", val_by="beat", val_records=["118"])
    assert a.info["val_fraction"] is None  # the records decide, not a share
    spaced = split_beats(small_beats, "inter", val_records=["118 "])
    assert spaced.info["val_records"] == ["118"]
    for bad, kwargs, match in (("208", {}, "list of record names"), ([" "], {}, "empty record name"),
                               ([" ", "118"], {}, r"\[' ', '118'\]: empty record name"),
                               (["118"], {"split": "intra"}, "need the inter-patient split"),
                               (["118"], {"val_by": "records"}, "unknown validation grouping 'records'")):
        with pytest.raises(EcgbeatError, match=match):
            split_beats(small_beats, kwargs.pop("split", "inter"), val_records=bad, **kwargs)


def test_missing_files_give_one_line_errors(mitdb, tmp_path):
    (tmp_path / "900.hea").write_text((mitdb / "100.hea").read_text().replace("100", "900"))
    with pytest.raises(EcgbeatError, match=r"900.dat: missing signal file of WFDB record 900"):
        read_record(tmp_path, "900")
    with pytest.raises(EcgbeatError, match=r"901.hea: missing header file of WFDB record 901"):
        read_record(tmp_path, "901")
    # a truncated .dat file
    (tmp_path / "100.hea").write_text((mitdb / "100.hea").read_text())
    (tmp_path / "100.dat").write_bytes((mitdb / "100.dat").read_bytes()[:30000])
    with pytest.raises(EcgbeatError, match=r"100.dat: truncated \(30000 of \d+ bytes"):
        read_record(tmp_path, "100")
