"""Bad input to the Python API of analysis, signals, streaming and ONNX export: each is a one-line
EcgbeatError naming the argument (or file) and the problem, nothing half-written; valid input (arrays
in memory, a dict config, an int lead, a str of text) gives the same results as its usual form."""

from __future__ import annotations

import numpy as np
import pytest

import ecgbeat
from ecgbeat.analyze import AnalyzeConfig, analyze_record, check_annotation_ext, compare_with_reference, write_outputs
from ecgbeat.dsp.beats import BeatParams
from ecgbeat.errors import EcgbeatError
from ecgbeat.io.signals import EcgSignal, read_signal, signal_from_array
from ecgbeat.stream import StreamClassifier, replay, stream_text

SECONDS = 20.0


def one_line(excinfo) -> str:
    msg = str(excinfo.value)
    assert excinfo.type is EcgbeatError and msg and "\n" not in msg and "Traceback" not in msg
    return msg


def refused(fragment: str, fn, *args, **kwargs) -> str:
    with pytest.raises(EcgbeatError) as exc:
        fn(*args, **kwargs)
    msg = one_line(exc)
    assert fragment in msg, msg
    return msg


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained small LSTM saved as a checkpoint (as in test_bad_input_io.py)."""
    import torch

    from ecgbeat.checkpoint import save_checkpoint
    from ecgbeat.models import create_model

    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = create_model("lstm", patch_size=8, num_layers=1).eval()
    return save_checkpoint(tmp_path_factory.mktemp("ck") / "model", model,
                           {"classes": list("NSVFQ"), "preprocessing": BeatParams().to_dict()})


@pytest.fixture(scope="module")
def pair(checkpoint):
    from ecgbeat.checkpoint import load_checkpoint

    return load_checkpoint(checkpoint)


@pytest.fixture(scope="module")
def samples(mitdb) -> np.ndarray:
    """The first SECONDS of record 100, lead MLII, mV at 360 Hz."""
    sig = read_signal(mitdb / "100")
    return sig.signal_mV[: int(SECONDS * sig.fs)].copy()


@pytest.fixture(scope="module")
def result(samples, pair):
    return analyze_record(signal_from_array(samples, 360.0, name="100"), pair)


def same_result(a, b) -> None:
    np.testing.assert_array_equal(a.sample, b.sample)
    np.testing.assert_array_equal(a.label, b.label)
    np.testing.assert_array_equal(a.proba, b.proba)


# ------------------------------------------------------------------------------------------
# 1. write_outputs: everything checked before anything is written; WFDB's extension rule
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["ecgb2", "e-b", "", "ecg.b", 5])
def test_write_outputs_bad_annotation_ext_writes_nothing(result, tmp_path, ext):
    out = tmp_path / "out"
    refused("annotation extension must be letters only", write_outputs, result, out, plot=False, annotation_ext=ext)
    assert not out.exists() or not any(out.iterdir())
    refused("annotation extension must be letters only", check_annotation_ext, ext)


def test_write_outputs_other_mistakes_write_nothing(result, pair, tmp_path, mitdb):
    out = tmp_path / "out"
    refused("would overwrite the record's own .hea file", write_outputs, result, out, plot=False, annotation_ext="hea")
    refused("plot must be True or False, got 'no'", write_outputs, result, out, plot="no")
    refused("write_outputs() takes the AnalysisResult", write_outputs, {"sample": []}, out)
    refused("out_dir must be a folder path, got NoneType", write_outputs, result, None)
    (tmp_path / "file").write_text("x")
    refused("file: is a file, not a folder", write_outputs, result, out, plot=False, annotation_dir=tmp_path / "file")
    assert not out.exists() or not any(out.iterdir())
    # beside the record read from a file: its .atr is refused before the beat CSV is written
    from_file = analyze_record(with_reference(mitdb), pair)
    refused("would overwrite the record's reference annotations", write_outputs, from_file, out, plot=False,
            annotation_ext="atr", annotation_dir=mitdb)
    assert not out.exists() or not any(out.iterdir())


def with_reference(mitdb) -> EcgSignal:
    """The first SECONDS of record 100 with its own reference annotations and path."""
    sig = read_signal(mitdb / "100")
    n = int(SECONDS * sig.fs)
    keep = sig.ann_sample < n
    return EcgSignal(name="100", signal_mV=sig.signal_mV[:n].copy(), fs=sig.fs, lead=sig.lead,
                     ann_sample=sig.ann_sample[keep], ann_symbol=sig.ann_symbol[keep], path=sig.path)


def test_write_outputs_letters_extension_still_works(result, tmp_path):
    import wfdb

    paths = write_outputs(result, tmp_path / "out", plot=False, annotation_ext="ecgbX")
    assert set(paths) == {"csv", "annotations", "summary"} and paths["annotations"].endswith("100.ecgbX")
    ann = wfdb.rdann(str(tmp_path / "out" / "100"), "ecgbX")
    assert len(ann.sample) == int((result.label != "unreadable").sum())


# ------------------------------------------------------------------------------------------
# 2. AnalyzeConfig values; a dict as config
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, fragment", [
    ({"block_s": 0}, "AnalyzeConfig block_s must be a finite number > 0, got 0"),
    ({"block_s": -1}, "AnalyzeConfig block_s must be a finite number > 0, got -1"),
    ({"block_s": "0.25"}, "AnalyzeConfig block_s must be a finite number > 0, got '0.25'"),
    ({"flat_tol_mV": float("nan")}, "AnalyzeConfig flat_tol_mV must be a finite number >= 0, got nan"),
    ({"flat_tol_mV": -0.1}, "AnalyzeConfig flat_tol_mV must be a finite number >= 0"),
    ({"pre_s": float("inf")}, "AnalyzeConfig pre_s must be a finite number >= 0, got inf"),
    ({"max_next_rr_s": 0.0}, "AnalyzeConfig max_next_rr_s must be a finite number > 0"),
    ({"pause_s": None}, "AnalyzeConfig pause_s must be a finite number > 0, got None"),
    ({"min_cycles": 0}, "AnalyzeConfig min_cycles must be a whole number >= 1, got 0"),
    ({"min_cycles": 3.0}, "AnalyzeConfig min_cycles must be a whole number >= 1, got 3.0"),
    ({"min_cycles": True}, "AnalyzeConfig min_cycles must be a whole number >= 1, got True"),
    ({"af_gate": "no"}, "AnalyzeConfig af_gate must be True or False, got 'no'"),
    ({"af_gate": 1}, "AnalyzeConfig af_gate must be True or False, got 1"),
    ({"adapt": 5}, "AnalyzeConfig adapt must be a string or None, got 5"),
    ({"self_train": ("0.2", "1")}, "AnalyzeConfig self_train must be a string or None"),
    ({"scaling": "Fixed"}, "scaling must be one of fixed, causal, got 'Fixed'"),
])
def test_analyze_config_values_are_checked(kwargs, fragment):
    refused(fragment, AnalyzeConfig, **kwargs)


def test_valid_analyze_config_values_and_dict_config(samples, pair, result):
    AnalyzeConfig(block_s=1, flat_tol_mV=0, pre_s=np.float64(0.1), min_cycles=np.int64(2), af_gate=np.bool_(True))
    sig = signal_from_array(samples, 360.0, name="100")
    same_result(analyze_record(sig, pair, {}), result)
    causal = analyze_record(sig, pair, AnalyzeConfig(scaling="causal", block_s=0.5))
    same_result(analyze_record(sig, pair, {"scaling": "causal", "block_s": 0.5}), causal)
    assert StreamClassifier(pair, 360.0, {"scaling": "causal"}).config == AnalyzeConfig(scaling="causal")
    refused("config: unknown AnalyzeConfig setting 'scalling'; the settings are scaling, block_s",
            analyze_record, sig, pair, {"scalling": "causal"})
    refused("AnalyzeConfig min_cycles must be a whole number >= 1", analyze_record, sig, pair, {"min_cycles": 0})
    refused("config must be an AnalyzeConfig (or a dict of its settings), got list",
            analyze_record, sig, pair, [("scaling", "causal")])
    refused("config must be an AnalyzeConfig", StreamClassifier, pair, 360.0, "causal")


# ------------------------------------------------------------------------------------------
# 3. samples in memory; reference annotations of different lengths
# ------------------------------------------------------------------------------------------


def test_arrays_lists_and_series_are_analysed_like_signal_from_array(samples, pair, result):
    import pandas as pd

    for source in (samples, list(samples), tuple(samples), pd.Series(samples)):
        same_result(analyze_record(source, pair, fs=360), result)
    assert ecgbeat.signal_from_array is signal_from_array and "signal_from_array" in ecgbeat.__all__
    assert ecgbeat.read_signal is read_signal


def test_arrays_need_fs_and_numbers(samples, pair):
    msg = refused("a signal in memory (ndarray) needs its sampling frequency: pass fs=HZ", analyze_record,
                  samples, pair)
    assert "ecgbeat.signal_from_array(samples, fs)" in msg
    refused("needs its sampling frequency", lambda: list(replay(samples, pair, speed=0)))
    refused("sampling frequency must be a positive finite number (Hz), got nan", analyze_record, samples, pair,
            fs=float("nan"))
    refused("read_signal() takes a file path, got ndarray; for samples in memory use ecgbeat.signal_from_array",
            read_signal, samples)
    refused("source must be a record file path, an EcgSignal or a 1-D array of samples (with fs), got int",
            analyze_record, 5, pair, fs=360)
    refused("signal: the signal must be one lead (1-D), got shape (2, 7200)", analyze_record,
            np.vstack([samples, samples]), pair, fs=360)
    refused("signal: samples must be numbers (could not convert string to float", analyze_record,
            ["0.1", "abc"], pair, fs=360)
    refused("samples must be numbers (complex128 values are not real numbers)", signal_from_array,
            samples + 1j, 360.0)
    refused("lead of a signal in memory is its name (a string), got 0", analyze_record, samples, pair, fs=360, lead=0)


def test_replay_of_an_array_matches_replay_of_the_signal(samples, pair):
    want = list(replay(signal_from_array(samples, 360.0), pair, speed=0))
    assert list(replay(samples, pair, speed=0, fs=360.0)) == want
    assert want[-1]["event"] == "end" and want[-1]["n_beats"] > 10
    refused("--speed must be a finite number >= 0, got 'fast'",
            lambda: list(replay(samples, pair, speed="fast", fs=360)))


def test_an_ecgsignal_refuses_options_that_contradict_it(samples, pair, result):
    """An EcgSignal carries its own rate, lead and units: options that agree are accepted, options that
    contradict them are refused (they were silently ignored), in analyze_record and replay alike."""
    sig = signal_from_array(samples, 360.0, name="100", lead="MLII")
    for agreeing in ({"fs": 360}, {"fs": np.float64(360.0)}, {"lead": "MLII"}, {"lead": " mlii "}, {"lead": 0},
                     {"lead": np.int64(0)}, {"units": "mV"}, {"units": "millivolts"}, {"units": ""}):
        same_result(analyze_record(sig, pair, **agreeing), result)
    refused("EcgSignal '100' is sampled at 360.0 Hz; fs=250 contradicts it", analyze_record, sig, pair, fs=250)
    refused("EcgSignal '100' holds one lead ('MLII'); lead='V1' names another", analyze_record, sig, pair,
            lead="V1")
    refused("holds one lead ('MLII'); lead=1 names another", analyze_record, sig, pair, lead=1)
    refused("EcgSignal '100' is in mV already; units='uV' contradicts it", analyze_record, sig, pair, units="uV")
    refused("EcgSignal '100': unknown units 'furlongs' (mV, uV or V)", analyze_record, sig, pair, units="furlongs")
    refused("EcgSignal '100': sampling frequency must be a positive finite number (Hz), got -1", analyze_record,
            sig, pair, fs=-1)
    refused("fs=500 contradicts it", replay, sig, pair, speed=0, fs=500)  # at the call, not at the first event
    # a signal without a lead name does not contradict a named lead; bad leads are refused either way
    unnamed = signal_from_array(samples, 360.0, name="100")
    same_result(analyze_record(unnamed, pair, lead="MLII"), result)
    for bad in (-3, True, 3.5, [1]):
        refused(f"EcgSignal '100': lead must be a lead name (e.g. 'MLII') or a 0-based index, got {bad!r}",
                analyze_record, unnamed, pair, lead=bad)


def test_reference_annotations_of_different_lengths(samples, pair, mitdb):
    bad = EcgSignal(name="ref", signal_mV=samples, fs=360.0, ann_sample=np.array([100, 400]),
                    ann_symbol=np.array(["N"], dtype=object))
    refused("ref: ann_sample (2) and ann_symbol (1) must be 1-D and of the same length", analyze_record, bad, pair)
    refused("ann_sample (3) and ann_symbol (2)", compare_with_reference, np.array([5]), np.array(["N"], dtype=object),
            np.array([1, 2, 3]), np.array(["N", "N"]), 360.0, tuple("NSVFQ"))
    unsorted = EcgSignal(name="ref", signal_mV=samples, fs=360.0, ann_sample=np.array([400, 100]),
                         ann_symbol=np.array(["N", "N"], dtype=object))
    refused("ref: ann_sample must not decrease", analyze_record, unsorted, pair)
    outside = EcgSignal(name="ref", signal_mV=samples, fs=360.0, ann_sample=np.array([100, len(samples)]),
                        ann_symbol=np.array(["N", "N"], dtype=object))
    refused("ref: ann_sample holds a sample outside the signal", analyze_record, outside, pair)
    # the file's own annotations (same lengths, sorted, inside) still give the reference comparison
    reference = analyze_record(with_reference(mitdb), pair).summary["reference"]
    assert reference["n_reference_beats"] > 15 and reference["n_matched"] > 0


# ------------------------------------------------------------------------------------------
# 4. read_signal: lead by index, fs checked
# ------------------------------------------------------------------------------------------


def test_read_signal_lead_index(mitdb, tmp_path):
    by_name = [read_signal(mitdb / "100", lead=name) for name in ("MLII", "V5")]
    for index, want in enumerate(by_name):
        got = read_signal(mitdb / "100", lead=index)
        assert got.lead == want.lead and np.array_equal(got.signal_mV, want.signal_mV)
    assert read_signal(mitdb / "100", lead=np.int64(1)).lead == "V5"
    refused("100.hea: no lead index 2; the file has 2 lead(s), 0..1: MLII, V5", read_signal, mitdb / "100", lead=2)
    for lead in (-1, True, 1.0, ["MLII"]):
        refused(f"lead must be a lead name (e.g. 'MLII') or a 0-based index, got {lead!r}", read_signal,
                mitdb / "100", lead=lead)
    # a CSV: the index counts signal columns, not the time column
    csv = tmp_path / "ecg.csv"
    t = np.arange(800) / 200.0
    csv.write_text("time,a,b\n" + "".join(f"{ti:.3f},{np.sin(ti):.4f},{np.cos(ti):.4f}\n" for ti in t))
    assert read_signal(csv, lead=1).lead == "b" and read_signal(csv, lead=0).lead == "a"
    refused("ecg.csv: no lead index 2; the file has 2 lead(s), 0..1: a, b", read_signal, csv, lead=2)


@pytest.mark.parametrize("fs", [float("nan"), float("inf"), 0, -360.0, "abc", True])
def test_read_signal_fs_must_be_positive_and_finite(mitdb, tmp_path, fs):
    csv = tmp_path / "ecg.csv"
    csv.write_text("".join(f"{np.sin(i / 30):.4f}\n" for i in range(1000)))
    for path in (mitdb / "100", csv):
        msg = refused("sampling frequency must be", read_signal, path, fs=fs)
        assert msg.startswith(str(path)) and repr(fs) in msg
    refused("sampling frequency must be", signal_from_array, np.zeros(1000), fs)


def test_read_signal_valid_fs_unchanged(mitdb):
    plain = read_signal(mitdb / "100")
    for fs in (360, 360.0, np.float32(360.0)):
        assert np.array_equal(read_signal(mitdb / "100", fs=fs).signal_mV, plain.signal_mV)
    refused("contradicts the file's 360 Hz", read_signal, mitdb / "100", fs=250.0)


# ------------------------------------------------------------------------------------------
# 5. streaming: non-numeric chunks, text as one str
# ------------------------------------------------------------------------------------------


def test_push_refuses_non_numeric_chunks(pair):
    sc = StreamClassifier(pair, 360.0)
    refused("push(): samples must be numbers (could not convert string to float", sc.push, np.array(["a"]))
    refused("push(): samples must be numbers (complex128 values are not real numbers)", sc.push, np.array([1j]))
    refused("push(): samples must be numbers, got a str (parse the text first)", sc.push, "0.1 0.2")
    refused("push(): samples must be numbers", sc.push, [0.1, [0.2, 0.3]])
    assert sc.n_samples == 0 and sc.push([0.1, None, 0.3]) == [] and sc.n_samples == 3  # None: missing
    refused("sampling rate must be a finite number of Hz, got nan", StreamClassifier, pair, float("nan"))


def test_stream_text_takes_one_str_as_text(samples, pair):
    text = "\n".join(f"{v:.3f}" for v in samples[: int(10 * 360)])
    from_lines = list(stream_text(text.splitlines(keepends=True), pair, 360.0))
    assert from_lines[-1]["event"] == "end" and from_lines[-1]["n_samples"] == 3600
    assert list(stream_text(text, pair, 360.0)) == from_lines
    # one line, several numbers: the same samples
    assert list(stream_text(text.replace("\n", " "), pair, 360.0)) == from_lines
    refused("input line 2: not a number: 'abc'", lambda: list(stream_text("0.1 0.2\nabc", pair, 360.0)))
    refused("stream_text() takes text: lines of str or one str, got bytes (decode it first)",
            lambda: list(stream_text(text.encode(), pair, 360.0)))
    refused("input line 1: expected a line of text, got float", lambda: list(stream_text([0.1, 0.2], pair, 360.0)))
    refused("chunk length must be a positive number of seconds, got '1'",
            lambda: list(stream_text(text, pair, 360.0, chunk_s="1")))


# ------------------------------------------------------------------------------------------
# 6. export_onnx: opset range, folders, checkpoint paths and pairs
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("opset", [5, 6, 21, 99, 17.0, True, "17"])
def test_export_onnx_opset_outside_torch_range(pair, tmp_path, opset, capfd):
    from ecgbeat.export import export_onnx, onnx_opsets

    low, high = onnx_opsets()
    assert low <= 17 <= high
    refused(f"ONNX opset must be a whole number from {low} to {high}", export_onnx, pair[0], tmp_path / "m.onnx",
            opset=opset)
    assert list(tmp_path.iterdir()) == []
    cap = capfd.readouterr()
    assert "graph(" not in cap.out + cap.err


def test_export_onnx_opset_the_model_cannot_use(pair, tmp_path, capfd):
    from ecgbeat.export import export_onnx

    capfd.readouterr()
    msg = refused("m.onnx: cannot export model 'lstm' to ONNX opset 9 (Unsupported: ONNX export of Pad in opset 9",
                  export_onnx, pair[0], tmp_path / "m.onnx", opset=9)
    assert "Please try opset version 11" in msg
    cap = capfd.readouterr()
    assert "Torch IR graph" not in cap.out + cap.err and "graph(" not in cap.out + cap.err
    assert list(tmp_path.iterdir()) == []


def test_export_onnx_targets_and_model_forms(pair, checkpoint, tmp_path):
    import onnx

    from ecgbeat.export import export_onnx

    (tmp_path / "folder").mkdir()
    refused("folder: is a folder; give the .onnx file to write", export_onnx, pair[0], tmp_path / "folder")
    refused("export_onnx() takes an ecgbeat model, a (model, meta) pair or a checkpoint path, got int",
            export_onnx, 3, tmp_path / "m.onnx")
    refused("export path must be a file path, got NoneType", export_onnx, pair[0], None)
    refused("model.json: is a file of the checkpoint being exported", export_onnx, checkpoint, checkpoint)
    refused("none.json: checkpoint metadata not found", export_onnx, tmp_path / "none.json", tmp_path / "m.onnx")
    (tmp_path / "afile").write_text("x")
    refused("afile: is a file, not a folder; cannot write m.onnx", export_onnx, pair[0], tmp_path / "afile" / "m.onnx")
    files = {}
    for form, model in (("module", pair[0]), ("pair", pair), ("path", checkpoint), ("str", str(checkpoint))):
        path = export_onnx(model, tmp_path / f"{form}.onnx", opset=np.int64(17))
        files[form] = onnx.load(str(path))
        assert files[form].opset_import[0].version == 17
    weights = {form: sorted((t.name, t.raw_data) for t in m.graph.initializer) for form, m in files.items()}
    assert weights["pair"] == weights["module"] == weights["path"] == weights["str"]


def test_replay_and_stream_text_check_their_arguments_at_the_call(checkpoint, tmp_path):
    """A mistake raises when replay() / stream_text() is called, not at the first next() of its events."""
    from ecgbeat.stream import replay, stream_text

    with pytest.raises(EcgbeatError, match="--speed must be a finite number >= 0"):
        replay(np.zeros(3600), checkpoint, fs=360.0, speed=float("nan"))
    with pytest.raises(EcgbeatError, match="chunk length must be a positive number of seconds"):
        stream_text(["0.1 0.2"], checkpoint, fs=360.0, chunk_s=0)
    with pytest.raises(EcgbeatError, match="missing.csv: file not found"):
        replay(tmp_path / "missing.csv", checkpoint, fs=360.0)
    events = replay(np.zeros(3600), checkpoint, fs=360.0, speed=0)
    assert list(events)[-1]["event"] == "end"
