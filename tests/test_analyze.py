"""Raw ECG in, labelled beats out: reading, cutting as in training, rhythm summary, outputs,
and bad inputs (each a one-line EcgbeatError or a marked unreadable segment, never a traceback)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ecgbeat.analyze import (
    UNREADABLE,
    AnalyzeConfig,
    Plan,
    analyze_record,
    cut_fixed,
    match_beats,
    resample,
    rhythm_summary,
    write_outputs,
)
from ecgbeat.dsp.beats import BeatParams
from ecgbeat.errors import EcgbeatError
from ecgbeat.io.signals import EcgSignal, read_signal, signal_from_array

EXCERPT_S = 60.0


@pytest.fixture(scope="module")
def model():
    """A small untrained LSTM: enough for the mechanics (labels are compared, not judged)."""
    import torch

    from ecgbeat.models import create_model

    torch.manual_seed(0)
    torch.set_num_threads(1)
    return create_model("lstm", patch_size=8, num_layers=1).eval()


def excerpt(mitdb, name: str, seconds: float = EXCERPT_S) -> EcgSignal:
    sig = read_signal(mitdb / name)
    n = int(seconds * sig.fs)
    keep = sig.ann_sample < n
    return EcgSignal(name=f"{name}_{int(seconds)}s", signal_mV=sig.signal_mV[:n].copy(), fs=sig.fs,
                     lead=sig.lead, ann_sample=sig.ann_sample[keep], ann_symbol=sig.ann_symbol[keep],
                     path=sig.path)


def one_line_error(excinfo) -> str:
    msg = str(excinfo.value)
    assert msg and "\n" not in msg and "Traceback" not in msg
    return msg


# ------------------------------------------------------------------------------------------
# real records
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scaling", ["fixed", "causal"])
def test_real_record_detection_and_outputs(mitdb, model, tmp_path, scaling):
    import wfdb

    sig = excerpt(mitdb, "208")
    result = analyze_record(sig, model, AnalyzeConfig(scaling=scaling))
    ref = result.summary["reference"]
    assert ref["detection_sensitivity"] > 0.97 and ref["detection_ppv"] > 0.97
    assert set(result.label) <= {"N", "S", "V", "F", "Q", UNREADABLE}
    assert (result.label == UNREADABLE).sum() <= 1  # at most the beat cut by the excerpt end
    s = result.summary
    assert s["n_beats"] == len(result.sample) == sum(s["beats_per_class"].values())
    assert 60 < s["heart_rate_bpm"]["mean"] < 130 and s["unreadable_s"] == 0.0
    paths = write_outputs(result, tmp_path)
    lines = (tmp_path / "208_60s_beats.csv").read_text().splitlines()
    assert lines[0] == "sample,time_s,class,p_N,p_S,p_V,p_F,p_Q" and len(lines) == len(result.sample) + 1
    ann = wfdb.rdann(str(tmp_path / "208_60s"), "ecgb")
    assert len(ann.sample) == (result.label != UNREADABLE).sum() and set(ann.symbol) <= set("NSVFQ")
    summary = json.loads((tmp_path / "208_60s_summary.json").read_text())
    assert summary["scaling"] == scaling and "events" in summary and "outputs" in summary
    assert (tmp_path / "208_60s_strip.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob(".*"))  # no temporary files left
    assert set(paths) == {"csv", "annotations", "plot", "summary"}
    # an output whose name a folder holds: refused before any output is written or replaced
    for i, blocked in enumerate(("208_60s_summary.json", "208_60s.ecgb", "208_60s_strip.png")):
        out = tmp_path / f"again{i}"
        (out / blocked).mkdir(parents=True)
        with pytest.raises(EcgbeatError) as exc:
            write_outputs(result, out)
        assert one_line_error(exc) == f"{out / blocked}: is a folder; cannot write output there"
        assert [p.name for p in out.iterdir()] == [blocked]


@pytest.mark.parametrize("scaling", ["fixed", "causal"])
def test_a_dc_offset_changes_nothing(mitdb, model, scaling):
    """Resampling holds the signal at its end samples rather than dropping to 0 beyond them, so an
    offset (electrode potential, ADC counts with a baseline) adds no step at the start that would
    distort the first beats and the first window's scaling."""
    sig = excerpt(mitdb, "100")
    config = AnalyzeConfig(scaling=scaling)
    plain = analyze_record(sig, model, config)
    for offset in (5.0, -300.0):
        moved = analyze_record(signal_from_array(sig.signal_mV + offset, sig.fs, name="moved"), model, config)
        assert moved.sample.tolist() == plain.sample.tolist() and (moved.label == plain.label).all()
        assert np.nanmax(np.abs(moved.proba - plain.proba)) < 1e-4


def test_fixed_scaling_cuts_training_beats(mitdb):
    """At the reference R peaks, the analysis cuts the very beats the model was trained on."""
    from ecgbeat.datasets import beats_from_record
    from ecgbeat.io.mitdb import Record
    from ecgbeat.labels import SYMBOL_TO_CLASS

    sig = excerpt(mitdb, "119")
    rec = Record(name="119", signal_mV=sig.signal_mV, fs=sig.fs, lead=sig.lead,
                 ann_sample=sig.ann_sample, ann_symbol=sig.ann_symbol)
    train = beats_from_record(rec)
    plan = Plan.make(sig.fs, BeatParams(), AnalyzeConfig())
    y = resample(sig.signal_mV, plan)
    beat = np.array([s in SYMBOL_TO_CLASS for s in sig.ann_symbol])
    peaks_t = (125.0 / 360.0 * sig.ann_sample[beat]).astype(np.int64)  # as wfdb resample_ann
    X, _ = cut_fixed(y, 0, peaks_t, np.arange(len(peaks_t)), plan.params, len(y))
    assert X.shape == train.X.shape
    # polyphase vs FFT resampling: the same band-limited signal up to a few % of the range
    assert np.abs(X - train.X).mean() < 0.01 and np.abs(X - train.X).max() < 0.1


def test_sampling_rates_100_to_1000_hz(mitdb, model):
    from scipy.signal import resample_poly

    sig = excerpt(mitdb, "100", 30.0)
    base = analyze_record(sig, model)
    for fs in (100, 128, 250, 500, 1000):
        x = resample_poly(sig.signal_mV, fs, 360)
        other = analyze_record(signal_from_array(x, fs, name=f"100_{fs}"), model)
        i, j = match_beats((base.time_s * 1000).astype(int), (other.time_s * 1000).astype(int), 60)
        assert len(i) >= len(base.sample) - 1, fs
        assert (base.label[i] == other.label[j]).mean() > 0.9, fs


@pytest.mark.parametrize("fs", [20.0, 5000.0])
def test_sampling_rate_out_of_range(model, fs):
    sig = signal_from_array(np.sin(np.arange(int(10 * fs)) / fs), fs, name="odd")
    with pytest.raises(EcgbeatError) as exc:
        analyze_record(sig, model)
    assert "outside" in one_line_error(exc)


# ------------------------------------------------------------------------------------------
# unreadable signal
# ------------------------------------------------------------------------------------------


def test_flat_and_nan_segments_are_marked(mitdb, model):
    sig = excerpt(mitdb, "100")
    x = sig.signal_mV.copy()
    fs = sig.fs
    x[int(20 * fs): int(24 * fs)] = 0.7           # lead off: flat line
    x[int(40 * fs): int(43 * fs)] = np.nan        # lost samples
    result = analyze_record(signal_from_array(x, fs, name="gaps"), model)
    segs = result.summary["unreadable_segments"]
    assert len(segs) == 2
    assert segs[0]["start_s"] <= 20.0 and segs[0]["end_s"] >= 24.0 - 0.25
    assert segs[1]["start_s"] == pytest.approx(40.0, abs=0.01) and segs[1]["end_s"] == pytest.approx(43.0, abs=0.01)
    t = result.time_s
    for a, b in ((20, 24), (40, 43)):
        inside = (t > a - 0.05) & (t < b)
        assert (result.label[inside] == UNREADABLE).all()
    near = (t > 14) & (t < 18.5) | (t > 25) & (t < 38.5) | (t > 44) & (t < 58)  # 1.5 s from gaps
    assert (result.label[near] != UNREADABLE).all()
    # no pause or RR across a gap
    assert result.summary["pauses"] == []


def test_all_nan_and_all_flat(model):
    with pytest.raises(EcgbeatError) as exc:
        signal_from_array(np.full(3600, np.nan), 360.0)
    assert "no finite sample" in one_line_error(exc)
    result = analyze_record(signal_from_array(np.full(3600, 0.3), 360.0, name="flat"), model)
    assert result.summary["unreadable_percent"] == 100.0
    assert (result.label == UNREADABLE).all()


def test_too_short(model):
    with pytest.raises(EcgbeatError) as exc:
        analyze_record(signal_from_array(np.zeros(100), 360.0), model)
    assert "too short" in one_line_error(exc)


# ------------------------------------------------------------------------------------------
# files
# ------------------------------------------------------------------------------------------


def test_unknown_file_type_and_missing_files(tmp_path, mitdb):
    (tmp_path / "ecg.xyz").write_text("1\n2\n")
    with pytest.raises(EcgbeatError) as exc:
        read_signal(tmp_path / "ecg.xyz")
    assert "unknown ECG file type" in one_line_error(exc)
    with pytest.raises(EcgbeatError) as exc:
        read_signal(tmp_path / "nothing.csv")
    assert "not found" in one_line_error(exc)
    shutil.copy(mitdb / "100.hea", tmp_path / "100.hea")
    with pytest.raises(EcgbeatError) as exc:
        read_signal(tmp_path / "100.hea")
    assert "missing signal file" in one_line_error(exc)
    shutil.copy(mitdb / "100.dat", tmp_path / "101x.dat")
    with pytest.raises(EcgbeatError) as exc:
        read_signal(tmp_path / "101x.dat")
    assert "missing header" in one_line_error(exc)
    for folder in ("d.csv", "d.edf", "d"):  # a folder given as the file: one line, not IsADirectoryError
        (tmp_path / folder).mkdir()
        with pytest.raises(EcgbeatError) as exc:
            read_signal(tmp_path / folder, fs=360)
        assert one_line_error(exc) == f"{tmp_path / folder}: is a folder, not an ECG file"


def test_truncated_dat(tmp_path, mitdb):
    shutil.copy(mitdb / "100.hea", tmp_path / "100.hea")
    (tmp_path / "100.dat").write_bytes((mitdb / "100.dat").read_bytes()[:100_000])
    with pytest.raises(EcgbeatError) as exc:
        read_signal(tmp_path / "100")
    assert "truncated" in one_line_error(exc)


def test_wfdb_lead_choice(mitdb):
    assert read_signal(mitdb / "100").lead == "MLII"
    assert read_signal(mitdb / "102").lead == "V5"  # no MLII: the first signal
    assert read_signal(mitdb / "100", lead="V5").lead == "V5"
    with pytest.raises(EcgbeatError) as exc:
        read_signal(mitdb / "100", lead="V1")
    assert "no lead 'V1'" in one_line_error(exc)


def test_csv_variants_and_microvolts(tmp_path, mitdb, model):
    sig = excerpt(mitdb, "100", 20.0)
    x, fs = sig.signal_mV, sig.fs
    t = np.arange(len(x)) / fs
    np.savetxt(tmp_path / "one.csv", x * 1000.0, fmt="%.1f")          # µV, no unit, no time
    np.savetxt(tmp_path / "two.csv", np.c_[t, x], delimiter=",", header="time_s,MLII", comments="")
    np.savetxt(tmp_path / "ms.csv", np.c_[t * 1000, x * 1000], delimiter=",", header="time_ms,ecg_uV",
               comments="")
    with pytest.raises(EcgbeatError) as exc:
        read_signal(tmp_path / "one.csv")
    assert "--fs" in one_line_error(exc)
    one = read_signal(tmp_path / "one.csv", fs=fs)
    assert one.warnings and "µV" in one.warnings[0]
    two, ms = read_signal(tmp_path / "two.csv"), read_signal(tmp_path / "ms.csv")
    assert two.fs == ms.fs == fs and two.lead == "MLII" and not two.warnings and not ms.warnings
    for s in (one, two, ms):
        assert np.allclose(s.signal_mV, x, atol=1e-3)
    a, b = analyze_record(one, model), analyze_record(two, model)
    assert np.array_equal(a.sample, b.sample)
    assert any("µV" in w for w in a.summary["warnings"])
    np.savetxt(tmp_path / "irregular.csv", np.c_[t ** 1.1, x], delimiter=",", header="time,ecg", comments="")
    with pytest.raises(EcgbeatError) as exc:
        read_signal(tmp_path / "irregular.csv")
    assert "irregular" in one_line_error(exc)
    # times printed in milliseconds (as WFDB's rdsamp -p writes them: 0.000, 0.003, 0.006, 0.008 s at
    # 360 Hz) are regular sampling: the rate comes from the whole span, and the same beats are found
    np.savetxt(tmp_path / "rounded.csv", np.c_[np.round(t, 3), x], delimiter=",", header="time,ecg",
               comments="", fmt=["%.3f", "%.3f"])
    rounded = read_signal(tmp_path / "rounded.csv")
    assert rounded.fs == pytest.approx(fs, rel=1e-4) and not rounded.warnings
    assert np.array_equal(analyze_record(rounded, model).sample, b.sample)
    jitter = t + np.random.default_rng(0).uniform(-0.05, 0.05, t.size) / fs  # 5 % of a step: irregular
    np.savetxt(tmp_path / "jitter.csv", np.c_[jitter, x], delimiter=",", header="time,ecg", comments="", fmt="%.9f")
    with pytest.raises(EcgbeatError) as exc:
        read_signal(tmp_path / "jitter.csv")
    assert "irregular" in one_line_error(exc)


def test_edf(tmp_path, mitdb):
    pyedflib = pytest.importorskip("pyedflib")
    sig = excerpt(mitdb, "100", 20.0)
    path = tmp_path / "rec.edf"
    header = {"label": "ECG II", "dimension": "uV", "sample_frequency": 360, "physical_max": 10000,
              "physical_min": -10000, "digital_max": 32767, "digital_min": -32768, "transducer": "",
              "prefilter": ""}
    pyedflib.highlevel.write_edf(str(path), [sig.signal_mV * 1000.0], [header])
    got = read_signal(path)
    assert got.fs == 360.0 and got.lead == "ECG II" and not got.warnings
    assert np.allclose(got.signal_mV, sig.signal_mV, atol=0.005)
    (tmp_path / "bad.edf").write_bytes(b"0       not an edf file")
    with pytest.raises(EcgbeatError) as exc:
        read_signal(tmp_path / "bad.edf")
    one_line_error(exc)


# ------------------------------------------------------------------------------------------
# rhythm summary
# ------------------------------------------------------------------------------------------


def test_rhythm_summary_events():
    fs = 100.0
    pattern = ("N" * 5 + "VV" + "N" * 3 + "VVV" + "N" * 3 + "VVVVV" + "N" * 3 + "NVNVNVNV" + "N" * 2
               + "NNVNNVNNVNNV" + "N" * 4 + "SS" + "N" * 3)
    label = np.array(list(pattern), dtype=object)
    sample = np.arange(len(label)) * 80
    sample[-2:] += 300  # a 3.8 s pause before the second-to-last beat
    s = rhythm_summary(sample, label, fs, int(sample[-1] + 100), [], ("N", "S", "V", "F", "Q"),
                       AnalyzeConfig())
    v = s["events"]["V"]
    assert v["couplets"] == 1 and v["triplets"] == 1
    assert [(r["n_beats"], r["start_s"]) for r in v["runs"]] == [(3, 8.0), (5, 12.8)]
    assert len(v["bigeminy"]) == 1 and v["bigeminy"][0]["n_beats"] == 8
    assert len(v["trigeminy"]) == 1 and v["trigeminy"][0]["n_beats"] == 12
    assert s["events"]["S"]["couplets"] == 1
    assert [p["duration_s"] for p in s["pauses"]] == [3.8]
    assert s["ectopic_burden_percent"]["V"] == pytest.approx(100 * (pattern.count("V")) / len(pattern), abs=1e-3)
    assert s["heart_rate_bpm"]["max"] == pytest.approx(75.0)
    # an unreadable segment between two beats breaks runs and RR intervals
    s2 = rhythm_summary(sample, label, fs, int(sample[-1] + 100), [(int(sample[6]) - 10, int(sample[6]) - 5)],
                        ("N", "S", "V", "F", "Q"), AnalyzeConfig())
    assert s2["events"]["V"]["couplets"] == 0


def test_cli_analyze(tmp_path, mitdb, model, capsys):
    from ecgbeat.checkpoint import save_checkpoint
    from ecgbeat.cli import main

    ckpt = save_checkpoint(tmp_path / "m" / "model", model,
                           {"classes": list("NSVFQ"), "preprocessing": BeatParams().to_dict()})
    csv = tmp_path / "rec.csv"
    sig = excerpt(mitdb, "100", 20.0)
    np.savetxt(csv, sig.signal_mV, fmt="%.3f")
    assert main(["analyze", "--checkpoint", str(ckpt), str(csv), "--fs", "360", "--out",
                 str(tmp_path / "out"), "--no-plot", "--scaling", "causal"]) == 0
    assert "rec: " in capsys.readouterr().out
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"rec_beats.csv", "rec.ecgb", "rec_summary.json"}
    assert main(["analyze", "--checkpoint", str(ckpt), str(tmp_path / "x.wav"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ecgbeat: error:") and err.count("\n") == 1
    # two records whose outputs would have one name: refused before either is analysed
    (tmp_path / "b").mkdir()
    twin = tmp_path / "b" / "rec.txt"
    np.savetxt(twin, sig.signal_mV[:3600], fmt="%.3f")
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    assert main(["analyze", "--checkpoint", str(ckpt), str(csv), str(twin), "--fs", "360", "--out",
                 str(tmp_path / "out"), "--no-plot"]) == 2
    assert capsys.readouterr().err == (f"ecgbeat: error: {twin}: its outputs would replace those of {csv} (both are "
                                       "named rec_*); analyze them into different --out folders\n")
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before


def test_reference_comparison_with_a_model_of_other_classes(mitdb):
    """A normal / abnormal model (as a PTB-trained one would be) analyses an annotated record; its
    summary has no EC57 statistics and says why. A model without Q leaves the Q reference beats out,
    as EC57 does."""
    import torch

    from ecgbeat.dsp.beats import BeatParams
    from ecgbeat.models import create_model

    torch.manual_seed(0)
    sig = excerpt(mitdb, "208")
    two = create_model("lstm", n_classes=2, patch_size=8, num_layers=1).eval()
    ref = analyze_record(sig, (two, {"classes": ["normal", "abnormal"], "preprocessing": BeatParams().to_dict(),
                                     "model": "lstm"})).summary["reference"]
    assert ref["ec57_matched"] is None and ref["ec57_with_detection"] is None
    assert "lack the AAMI class(es) N, S, V, F" in ref["ec57_note"] and ref["detection_sensitivity"] > 0.97
    four = create_model("lstm", n_classes=4, patch_size=8, num_layers=1).eval()
    ref = analyze_record(sig, (four, {"classes": list("NSVF"), "preprocessing": BeatParams().to_dict(),
                                      "model": "lstm"})).summary["reference"]
    assert ref["ec57_matched"]["n"] == ref["n_matched"] - ref["n_matched_unreadable"] - (sig.ann_symbol == "Q").sum()
