"""The streaming classifier: same beats and labels as analyze_record, latency, bounded memory,
unreadable input, streams that stop mid-beat, and the `ecgbeat stream` command."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from ecgbeat.analyze import UNREADABLE, AnalyzeConfig, analyze_record
from ecgbeat.errors import EcgbeatError
from ecgbeat.io.signals import EcgSignal, read_signal, signal_from_array
from ecgbeat.stream import StreamClassifier, replay, stream_text


def make_model(n_features: int = 0):
    import torch

    from ecgbeat.models import create_model

    torch.manual_seed(1)
    torch.set_num_threads(1)
    return create_model("lstm", patch_size=8, num_layers=1, n_features=n_features).eval()


@pytest.fixture(scope="module")
def model():
    return make_model()


def excerpt(mitdb, name: str, seconds: float) -> EcgSignal:
    sig = read_signal(mitdb / name)
    return signal_from_array(sig.signal_mV[: int(seconds * sig.fs)], sig.fs, name=name)


def run_stream(sc: StreamClassifier, x: np.ndarray, chunk: int) -> list[dict]:
    out = []
    for i in range(0, len(x), chunk):
        out += sc.push(x[i: i + chunk])
    return out + sc.flush()


def assert_agrees(result, beats, min_agree=0.99):
    """Same R peaks; labels equal for >= min_agree of them; probabilities equal where both classify."""
    samples = np.array([b["sample"] for b in beats])
    assert np.all(np.diff(samples) > 0)  # in order, each beat once
    common, ia, ib = np.intersect1d(result.sample, samples, return_indices=True)
    assert len(common) >= 0.99 * max(len(samples), len(result.sample))
    labels = np.array([beats[k]["class"] for k in ib], dtype=object)
    assert (result.label[ia] == labels).mean() >= min_agree
    both = (result.label[ia] != UNREADABLE) & (labels != UNREADABLE)
    p_stream = np.array([[beats[k]["probabilities"][c] for c in result.classes] for k in ib[both]])
    close = np.abs(p_stream - result.proba[ia[both]]).max(axis=1) < 1e-3
    assert close.mean() >= min_agree


@pytest.mark.parametrize("scaling,chunk_s", [("causal", 0.1), ("causal", 0.77), ("fixed", 1.0)])
def test_stream_agrees_with_analyze(mitdb, model, scaling, chunk_s):
    sig = excerpt(mitdb, "208", 240.0)
    config = AnalyzeConfig(scaling=scaling)
    result = analyze_record(sig, model, config)
    beats = run_stream(StreamClassifier(model, sig.fs, config), sig.signal_mV, int(chunk_s * sig.fs))
    assert_agrees(result, beats)
    latency = np.array([b["latency_s"] for b in beats[:-1]])
    assert (latency > 0).all()
    if scaling == "causal" and chunk_s == 0.1:
        assert np.median(latency) <= 1.5 and np.percentile(latency, 95) <= 3.0
    if scaling == "fixed":
        assert np.median(latency) <= 10.0 + 3.0


def test_a_dc_offset_is_kept_and_impossible_samples_are_not(mitdb, model):
    """Samples more than 10 V from the signal's level are missing, as read_signal takes them: a 12 V
    offset (offset-binary counts read as mV) is not: after its first second (missing, before the
    stream has a level) and the detector's settling, the stream finds analyze's beats; spikes beyond
    10 V from it are unreadable in both, and spikes at the very start are not taken for its level."""
    sig = excerpt(mitdb, "100", 30.0)
    x = sig.signal_mV + 12000.0
    x[[1000, 5000]] = 1e6  # two spikes no ECG can have
    shifted = signal_from_array(x, sig.fs, name="100+12V")
    assert np.isnan(shifted.signal_mV).sum() == 2  # read_signal: the spikes, not the offset
    result = analyze_record(shifted, model)
    assert len(result.sample) >= 30 and (result.label != UNREADABLE).sum() >= 25
    later = result.sample >= 5 * sig.fs
    for chunk in (1000, 97, 1):
        beats = [b for b in run_stream(StreamClassifier(model, sig.fs), x, chunk) if b["sample"] >= 5 * sig.fs]
        assert [b["sample"] for b in beats] == result.sample[later].tolist()
        assert [b["class"] for b in beats] == result.label[later].tolist()
    start = sig.signal_mV.copy()
    start[:100] = 5e4  # the first 0.3 s stuck far out: missing, not the level
    result = analyze_record(signal_from_array(start, sig.fs, name="stuck"), model)
    for chunk in (1, 50, 1000):
        assert_agrees(result, run_stream(StreamClassifier(model, sig.fs), start, chunk))


def test_scaling_comes_from_the_checkpoint(mitdb, model):
    """A model trained on causal beats is cut causally by analyze and stream without any option:
    beats exactly as trained, with about one beat of latency."""
    from ecgbeat.dsp.beats import BeatParams
    from ecgbeat.labels import CLASSES

    sig = excerpt(mitdb, "208", 120.0)
    meta = {"classes": list(CLASSES), "preprocessing": BeatParams(scaling="causal").to_dict()}
    result = analyze_record(sig, (model, meta))
    assert result.summary["scaling"] == "causal"
    assert result.summary["beat_params"]["scaling"] == "causal"
    assert analyze_record(sig, model).summary["scaling"] == "fixed"  # no metadata: the Kaggle cut
    assert analyze_record(sig, (model, meta), AnalyzeConfig(scaling="fixed")).summary["scaling"] == "fixed"
    beats = run_stream(StreamClassifier((model, meta), sig.fs), sig.signal_mV, int(0.25 * sig.fs))
    assert_agrees(result, beats)
    latency = np.array([b["latency_s"] for b in beats[:-1]])
    assert np.median(latency) <= 1.5 and latency.max() <= 3.0


def test_stream_with_rr_features_and_other_rate(mitdb):
    from scipy.signal import resample_poly

    sig = excerpt(mitdb, "119", 120.0)
    x = resample_poly(sig.signal_mV, 250, 360)
    sig250 = signal_from_array(x, 250.0, name="119_250")
    model = make_model(n_features=5)
    config = AnalyzeConfig(scaling="causal")
    result = analyze_record(sig250, model, config)
    beats = run_stream(StreamClassifier(model, 250.0, config), x, 50)
    assert_agrees(result, beats)


def test_unreadable_segments_match_analyze(mitdb, model):
    sig = excerpt(mitdb, "100", 60.0)
    x = sig.signal_mV.copy()
    x[int(20 * sig.fs): int(24 * sig.fs)] = -0.2
    x[int(40 * sig.fs): int(43.3 * sig.fs)] = np.nan
    config = AnalyzeConfig(scaling="causal")
    result = analyze_record(signal_from_array(x, sig.fs, name="gaps"), model, config)
    sc = StreamClassifier(model, sig.fs, config)
    beats, segments = [], []
    for i in range(0, len(x), 90):
        beats += sc.push(x[i: i + 90])
        segments += sc.pop_segments()
    beats += sc.flush()
    segments += sc.pop_segments()
    assert segments == result.summary["unreadable_segments"]
    assert_agrees(result, beats, min_agree=1.0)
    assert sum(b["class"] == UNREADABLE for b in beats) >= 4


def test_stream_stops_mid_beat(mitdb, model):
    sig = excerpt(mitdb, "100", 12.0)
    peaks = sig.signal_mV  # cut 0.2 s after an R peak found by the offline analysis
    result = analyze_record(sig, model, AnalyzeConfig(scaling="causal"))
    stop = int(result.sample[-3] + 0.2 * sig.fs)
    sc = StreamClassifier(model, sig.fs, AnalyzeConfig(scaling="causal"))
    beats = run_stream(sc, peaks[:stop], 36)
    last = [b for b in beats if b["sample"] == result.sample[-3]]
    assert last and last[0]["class"] == UNREADABLE and last[0]["probabilities"] is None
    assert all(b["class"] != UNREADABLE for b in beats[:-1])
    with pytest.raises(EcgbeatError) as exc:
        sc.push(np.zeros(10))
    assert "reset" in str(exc.value)
    sc.reset()
    assert sc.n_samples == 0 and sc.push(np.zeros(10)) == []


def test_bad_pushes(model):
    sc = StreamClassifier(model, 360.0)
    with pytest.raises(EcgbeatError):
        sc.push(np.zeros((10, 2)))
    assert sc.push([]) == []
    assert sc.push(np.array([np.inf, np.nan, 1.0])) == []  # inf counts as missing
    with pytest.raises(EcgbeatError) as exc:
        StreamClassifier(model, 10.0)
    assert "outside" in str(exc.value)
    with pytest.raises(EcgbeatError):
        StreamClassifier(model, 360.0, units="furlongs")


def test_memory_is_bounded(mitdb, model):
    sig = read_signal(mitdb / "203")
    x = sig.signal_mV[: int(600 * sig.fs)]
    sc = StreamClassifier(model, sig.fs, AnalyzeConfig(scaling="fixed"))
    sizes = []
    for i in range(0, len(x), 720):
        sc.push(x[i: i + 720])
        sizes.append(sc.buffer_sizes)
    worst = {k: max(s[k] for s in sizes[10:]) for k in sizes[0]}
    assert worst["input"] < 3 * sig.fs and worst["target"] < 40 * 125 and worst["peaks"] < 150
    late = {k: max(s[k] for s in sizes[-100:]) for k in sizes[0]}
    early = {k: max(s[k] for s in sizes[100:200]) for k in sizes[0]}
    assert late["target"] <= early["target"] + 1300


def test_replay_and_cli_stdin(mitdb, model, tmp_path, monkeypatch, capsys):
    from ecgbeat.checkpoint import save_checkpoint
    from ecgbeat.cli import main
    from ecgbeat.dsp.beats import BeatParams

    sig = excerpt(mitdb, "100", 15.0)
    events = list(replay(sig, model, speed=0, chunk_s=0.5))
    assert events[-1]["event"] == "end" and events[-1]["n_beats"] == len(events) - 1
    ckpt = save_checkpoint(tmp_path / "model", model,
                           {"classes": list("NSVFQ"), "preprocessing": BeatParams().to_dict()})
    text = "\n".join(f"{v:.3f}" for v in sig.signal_mV[: int(8.3 * sig.fs)])  # stops mid-beat
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert main(["stream", "--checkpoint", str(ckpt), "-", "--fs", "360", "--scaling", "causal"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1]["event"] == "end" and lines[-1]["duration_s"] == pytest.approx(8.3, abs=0.01)
    assert all("latency_s" in b for b in lines[:-1])
    monkeypatch.setattr("sys.stdin", io.StringIO("0.1\n0.2\nabc\n"))
    assert main(["stream", "--checkpoint", str(ckpt), "-", "--fs", "360"]) == 2
    err = capsys.readouterr().err
    assert "not a number" in err and err.count("\n") == 1
    assert main(["stream", "--checkpoint", str(ckpt), "-"]) == 2
    assert "--fs" in capsys.readouterr().err
    with pytest.raises(EcgbeatError):
        list(stream_text(["1 2 3"], model, 360.0, chunk_s=0))


def test_stream_with_template_and_context_matches_analyze(mitdb):
    """A model that compares each beat with its patient's earlier beats (template channel and
    "rr+context" features) gets the same template and long-term RR on a stream as offline,
    however the stream is chunked; the history it keeps stays bounded."""
    import torch

    from ecgbeat.models import create_model

    sig = excerpt(mitdb, "119", 150.0)  # ventricular bigeminy: templates matter here
    torch.manual_seed(2)
    model = create_model("lstm", in_channels=2, n_features=11).eval()
    config = AnalyzeConfig(scaling="causal")
    result = analyze_record(sig, model, config)
    for chunk_s in (0.1, 1.3):
        sc = StreamClassifier(model, sig.fs, config)
        beats = run_stream(sc, sig.signal_mV, int(chunk_s * sig.fs))
        assert_agrees(result, beats, min_agree=1.0)
        assert len(sc._context._beats) <= 64 and len(sc._context._rr) <= 300
