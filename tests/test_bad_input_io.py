"""Bad input to the I/O layer (io/, datasets.py): each is a one-line EcgbeatError naming the file and
the problem (exit status 2 from the CLI), or, for missing CSV samples, a warning with a count."""

from __future__ import annotations

import shutil
import struct

import numpy as np
import pytest

from ecgbeat.cli import main
from ecgbeat.datasets import build_beats
from ecgbeat.dsp.beats import BeatParams
from ecgbeat.errors import EcgbeatError
from ecgbeat.io.kaggle import load_kaggle_csv
from ecgbeat.io.mitdb import read_record
from ecgbeat.io.signals import read_signal


def one_line(excinfo) -> str:
    msg = str(excinfo.value)
    assert excinfo.type is EcgbeatError and msg and "\n" not in msg and "Traceback" not in msg
    return msg


def cli_error(capsys, *argv) -> str:
    """Run the CLI in-process: exit status 2 and one line on stderr, returned."""
    capsys.readouterr()
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecgbeat: error:") and "Traceback" not in err, err
    return lines[0]


def copy_record(mitdb, folder, name="100", exts=("hea", "dat", "atr")):
    folder.mkdir(parents=True, exist_ok=True)
    for ext in exts:
        shutil.copy(mitdb / f"{name}.{ext}", folder / f"{name}.{ext}")
    return folder


def edit_record_line(hea, old: str, new: str) -> None:
    first, rest = hea.read_text().split("\n", 1)
    assert old in first
    hea.write_text(first.replace(old, new, 1) + "\n" + rest)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained small LSTM saved as a checkpoint: enough to reach the input checks."""
    import torch

    from ecgbeat.checkpoint import save_checkpoint
    from ecgbeat.models import create_model

    torch.manual_seed(0)
    model = create_model("lstm", patch_size=8, num_layers=1).eval()
    return save_checkpoint(tmp_path_factory.mktemp("ck") / "model", model,
                           {"classes": list("NSVFQ"), "preprocessing": BeatParams().to_dict()})


# ------------------------------------------------------------------------------------------
# 1. labelled beats need the .atr file
# ------------------------------------------------------------------------------------------


def test_missing_atr_is_an_error_for_labelled_beats(mitdb, tmp_path, capsys):
    folder = copy_record(mitdb, tmp_path / "db")
    copy_record(mitdb, folder, "201", exts=("hea", "dat"))
    with pytest.raises(EcgbeatError) as exc:
        build_beats(["100", "201"], mitdb=folder)
    msg = one_line(exc)
    assert msg == f"{folder / '201.atr'}: missing annotation file (labelled beats need the reference annotations)"
    with pytest.raises(EcgbeatError) as exc:
        read_record(folder, "201", require_annotations=True)
    assert "201.atr: missing annotation file" in one_line(exc)
    # where annotations are optional (analyze, plots), the record still reads, without annotations
    for sig in (read_record(folder, "201"), read_signal(folder / "201.hea")):
        assert len(sig.signal_mV) == 650000 and sig.fs == 360.0 and len(sig.ann_sample) == 0
    line = cli_error(capsys, "prepare", "--mitdb", folder, "--records", "100,201", "--out", tmp_path / "out")
    assert "201.atr: missing annotation file" in line
    assert not (tmp_path / "out" / "mitbih_train.csv").exists()


# ------------------------------------------------------------------------------------------
# 2. the sampling frequency in the WFDB record line
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["abc", "-360", "nan", "inf", "0", "1e3", "360x"])
def test_malformed_sampling_frequency(mitdb, tmp_path, token):
    folder = copy_record(mitdb, tmp_path)
    edit_record_line(folder / "100.hea", " 360 ", f" {token} ")
    with pytest.raises(EcgbeatError) as exc:
        read_signal(folder / "100.hea")
    msg = one_line(exc)
    assert msg.startswith(f"{folder / '100.hea'}: sampling frequency {token!r}") and "positive" in msg


def test_malformed_sample_count(mitdb, tmp_path):
    folder = copy_record(mitdb, tmp_path)
    edit_record_line(folder / "100.hea", " 650000", " 65x000")
    with pytest.raises(EcgbeatError) as exc:
        read_signal(folder / "100.hea")
    assert "100.hea: number of samples '65x000'" in one_line(exc)


def test_counter_frequency_and_base_are_accepted(mitdb, tmp_path):
    folder = copy_record(mitdb, tmp_path)
    edit_record_line(folder / "100.hea", " 360 ", " 360/2(5) ")
    sig = read_signal(folder / "100.hea")
    assert sig.fs == 360.0 and len(sig.signal_mV) == 650000 and sig.warnings == ()


def test_omitted_sampling_frequency_is_250_hz_with_a_warning(mitdb, tmp_path):
    folder = copy_record(mitdb, tmp_path)
    edit_record_line(folder / "100.hea", "100 2 360 650000", "100 2")
    sig = read_signal(folder / "100.hea")
    assert sig.fs == 250.0 and len(sig.signal_mV) == 650000
    assert len(sig.warnings) == 1 and "no sampling frequency: 250 Hz assumed" in sig.warnings[0]
    given = read_signal(folder / "100.hea", fs=360.0)  # --fs fills in what the header leaves out
    assert given.fs == 360.0 and given.warnings == ()
    # labelled beats have no warnings list to say it in: an error
    with pytest.raises(EcgbeatError) as exc:
        build_beats(["100"], mitdb=folder)
    assert "100.hea: the record line gives no sampling frequency" in one_line(exc)


def test_cli_analyze_malformed_sampling_frequency(mitdb, tmp_path, checkpoint, capsys):
    folder = copy_record(mitdb, tmp_path / "rec")
    edit_record_line(folder / "100.hea", " 360 ", " abc ")
    line = cli_error(capsys, "analyze", "--checkpoint", checkpoint, folder / "100.hea", "--out", tmp_path / "out",
                     "--no-plot")
    assert "100.hea: sampling frequency 'abc'" in line


# ------------------------------------------------------------------------------------------
# 3. corrupt annotation files
# ------------------------------------------------------------------------------------------


def _mit_annotations(words) -> bytes:
    """An MIT-format annotation file from 16-bit words (type << 10 | sample step; 0 ends)."""
    return b"".join(struct.pack("<H", w) for w in words)


def _skip(step: int) -> list[int]:
    """A SKIP annotation (type 59): moves the sample by a 32-bit ``step``, negative too."""
    v = step & 0xFFFFFFFF
    return [59 << 10, v >> 16, v & 0xFFFF]


NORMAL = 1 << 10  # annotation type 1 (N)


@pytest.mark.parametrize("words, message", [
    ([NORMAL | 100, *_skip(-80), NORMAL | 30, NORMAL | 200, 0],
     "sample locations must not decrease, annotation 2 of 3 (sample 50) comes after sample 100"),
    ([*_skip(-200), NORMAL | 10, NORMAL | 300, 0],
     "annotation 1 of 2 is at a negative sample (sample -190; the signal has 650000 samples)"),
    ([NORMAL | 100, *_skip(700_000), NORMAL | 1, 0],
     "annotation 2 of 2 is past the end of the signal (sample 700101; the signal has 650000 samples)"),
])
def test_corrupt_annotations(mitdb, tmp_path, words, message):
    folder = copy_record(mitdb, tmp_path, exts=("hea", "dat"))
    (folder / "100.atr").write_bytes(_mit_annotations(words))
    with pytest.raises(EcgbeatError) as exc:
        read_signal(folder / "100.hea")
    assert one_line(exc) == f"{folder / '100.atr'}: corrupt annotations: {message}"


@pytest.mark.parametrize("keep, message", [
    (1000, "corrupt annotations: truncated (no end-of-file marker; 1000 bytes)"),
    (0, "empty annotation file"),
])
def test_cut_or_empty_annotations_are_refused_not_read_in_part(mitdb, tmp_path, keep, message):
    """wfdb reads the first annotations of a cut file (or none of an empty one) without a word; the
    beats built from it would silently be a fraction of the record's."""
    from ecgbeat.datasets import build_beats

    folder = copy_record(mitdb, tmp_path, exts=("hea", "dat"))
    (folder / "100.atr").write_bytes((mitdb / "100.atr").read_bytes()[:keep])
    for read in (lambda: read_signal(folder / "100.hea"), lambda: build_beats(["100"], mitdb=folder)):
        with pytest.raises(EcgbeatError) as exc:
            read()
        assert one_line(exc) == f"{folder / '100.atr'}: {message}"


def test_random_bytes_as_annotations(mitdb, tmp_path, checkpoint, capsys):
    folder = copy_record(mitdb, tmp_path / "rec", exts=("hea", "dat"))
    (folder / "100.atr").write_bytes(np.random.default_rng(1).bytes(3000))  # parses, to nonsense
    with pytest.raises(EcgbeatError) as exc:
        read_signal(folder / "100.hea")
    assert one_line(exc).startswith(f"{folder / '100.atr'}: corrupt annotations")
    line = cli_error(capsys, "analyze", "--checkpoint", checkpoint, folder / "100.hea", "--out", tmp_path / "out",
                     "--no-plot")
    assert "100.atr: corrupt annotations" in line


# ------------------------------------------------------------------------------------------
# 4. values that overflow, text, empty cells, short rows
# ------------------------------------------------------------------------------------------


def test_kaggle_value_overflowing_float32(tmp_path, checkpoint, capsys):
    row = ["0.5"] * 187 + ["0"]
    bad = list(row)
    bad[10] = "1e308"
    path = tmp_path / "beats.csv"
    path.write_text("\n".join(",".join(r) for r in (row, row, bad, row)) + "\n")
    with pytest.raises(EcgbeatError) as exc:
        load_kaggle_csv(path)
    msg = one_line(exc)
    assert msg.startswith(f"{path}: line 3, column 11: value 1e+308 overflows float32")
    line = cli_error(capsys, "predict", checkpoint, path, "--out", tmp_path / "pred.csv")
    assert "beats.csv: line 3, column 11" in line and not (tmp_path / "pred.csv").exists()


def _signal_csv(path, cells: dict[int, str]) -> None:
    """time_s,MLII with 20 s of a sine at 360 Hz; ``cells`` replaces the MLII cell of some data rows
    (None: the line ends after the time)."""
    fs = 360.0
    lines = ["time_s,MLII"]
    for i in range(int(20 * fs)):
        value = cells.get(i, f"{np.sin(2 * np.pi * i / fs):.4f}")
        lines.append(f"{i / fs:.9f}" + ("" if value is None else f",{value}"))
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("cells, message", [
    ({99: "abc"}, "line 101, column 2: not a number: 'abc'"),
    ({5: None}, "line 7: 1 of 2 columns, no value for column 2 (MLII)"),
])
def test_signal_csv_text_and_short_rows_are_errors(tmp_path, checkpoint, capsys, cells, message):
    path = tmp_path / "rec.csv"
    _signal_csv(path, cells)
    with pytest.raises(EcgbeatError) as exc:
        read_signal(path)
    assert one_line(exc) == f"{path}: {message}"
    line = cli_error(capsys, "analyze", "--checkpoint", checkpoint, path, "--out", tmp_path / "out", "--no-plot")
    assert message in line


def test_signal_csv_text_in_time_column(tmp_path):
    path = tmp_path / "rec.csv"
    _signal_csv(path, {})
    path.write_text(path.read_text().replace("\n0.100000000,", "\nx,", 1))
    with pytest.raises(EcgbeatError) as exc:
        read_signal(path)
    assert one_line(exc) == f"{path}: line 38, column 1: not a number: 'x'"


def test_signal_csv_missing_samples_are_counted(tmp_path, checkpoint):
    """Empty, NaN, infinite and overflowing cells are missing samples (NaN, marked unreadable by the
    analysis, as documented for EcgSignal): kept, and counted in a warning with the first line."""
    from ecgbeat.analyze import analyze_record

    path = tmp_path / "rec.csv"
    _signal_csv(path, {200: "", 201: "inf", 202: "NaN", 203: "1e400", 204: "-inf"})
    sig = read_signal(path)
    assert sig.fs == pytest.approx(360.0) and np.isnan(sig.signal_mV).sum() == 5
    assert sig.warnings == ("5 missing samples (empty, NaN or infinite values) in column 2 (MLII), the first "
                            "at line 202: kept as missing (NaN)",)
    result = analyze_record(path, checkpoint)
    assert sig.warnings[0] in result.summary["warnings"]
    from ecgbeat.stream import replay  # the stream says so too, before its first beat

    events = list(replay(path, checkpoint, speed=0))
    assert events[0] == {"event": "warning", "message": sig.warnings[0]}
    assert all(e.get("event") != "warning" for e in events[1:]) and events[-1]["event"] == "end"


def test_signal_csv_impossible_values(tmp_path, checkpoint, capsys):
    """A finite value no ECG can have (1e308) is a missing sample, with a warning naming where; a signal
    mostly that far out is a one-line error; one merely too large even as µV (raw ADC counts) is kept
    with a warning, not silently "taken as µV"."""
    path = tmp_path / "spike.csv"
    _signal_csv(path, {300: "1e308", 301: "-2e5"})
    sig = read_signal(path)
    assert np.isnan(sig.signal_mV).sum() == 2 and np.isnan(sig.signal_mV[300:302]).all()
    assert sig.warnings == ("2 sample(s) more than 10 V from the median (first at sample 300) taken as missing",)
    huge = tmp_path / "huge.csv"
    huge.write_text("MLII\n" + "\n".join(f"{1e9 * np.sin(i / 50):.1f}" for i in range(5000)) + "\n")
    with pytest.raises(EcgbeatError) as exc:
        read_signal(huge, fs=360.0)
    assert one_line(exc).startswith(f"{huge}: ") and "more than 10 V from the median even read as µV" in one_line(exc)
    line = cli_error(capsys, "analyze", "--checkpoint", checkpoint, huge, "--fs", 360, "--out", tmp_path / "a")
    assert "not an ECG in mV, µV or V" in line and not (tmp_path / "a").exists()
    counts = tmp_path / "counts.csv"
    counts.write_text("MLII\n" + "\n".join(f"{2e5 * np.sin(i / 50):.1f}" for i in range(5000)) + "\n")
    sig = read_signal(counts, fs=360.0)
    assert np.isfinite(sig.signal_mV).all() and len(sig.warnings) == 2
    assert "taken as µV" in sig.warnings[0] and sig.warnings[1].startswith("amplitude 20")
    assert "mV even read as µV: too large for an ECG" in sig.warnings[1]


def test_spikes_do_not_make_a_mv_record_look_like_uv(mitdb, checkpoint):
    """0.2 % of record 100's samples replaced by 1e6: they are missing samples, and the rest of the
    signal stays in mV (the unit guess does not count them). A stream of the same samples marks
    them missing too, so stream and analysis see the same signal."""
    import wfdb

    from ecgbeat.analyze import analyze_record
    from ecgbeat.io.signals import signal_from_array
    from ecgbeat.stream import StreamClassifier

    x = wfdb.rdrecord(str(mitdb / "100"), channels=[0], sampto=360 * 60).p_signal[:, 0]
    spiked = x.copy()
    where = np.random.default_rng(0).choice(len(x), int(0.002 * len(x)), replace=False)
    spiked[where] = 1e6
    sig = signal_from_array(spiked, fs=360.0)
    assert np.isnan(sig.signal_mV).sum() == len(where) and np.allclose(np.delete(sig.signal_mV, where),
                                                                     np.delete(x, where))
    assert sig.warnings == (f"{len(where)} sample(s) more than 10 V from the median (first at sample "
                            f"{where.min()}) taken as missing",)
    offline = analyze_record(sig, checkpoint)
    stream = StreamClassifier(checkpoint, fs=360.0)
    beats = [b for i in range(0, len(spiked), 180) for b in stream.push(spiked[i:i + 180])] + stream.flush()
    assert [b["class"] for b in beats] == list(offline.label)


def test_signal_csv_indented_comment_is_not_a_sample(tmp_path):
    path = tmp_path / "rec.csv"
    path.write_text("0.1\n0.2\n   # a note\n0.3\n0.4\n")
    sig = read_signal(path, fs=100.0)
    assert np.allclose(sig.signal_mV, [0.1, 0.2, 0.3, 0.4]) and sig.warnings == ()


# ------------------------------------------------------------------------------------------
# 5. an empty name in a record list
# ------------------------------------------------------------------------------------------


def test_empty_record_name(mitdb, tmp_path, capsys):
    with pytest.raises(EcgbeatError) as exc:
        build_beats(["100", "", "201"], mitdb=mitdb)
    assert one_line(exc).startswith("empty record name in --records")
    with pytest.raises(EcgbeatError) as exc:
        read_record(mitdb, " ")
    assert "empty record name" in one_line(exc)
    line = cli_error(capsys, "prepare", "--mitdb", mitdb, "--records", "100,,201", "--out", tmp_path / "out")
    assert "empty record name" in line and "--records" in line


def test_json_outputs_are_strict_json(tmp_path):
    """metrics.json, summaries and stream events hold null where a value is undefined, never the NaN /
    Infinity that strict parsers (JavaScript's JSON.parse) reject."""
    import json

    from ecgbeat.io.atomic import json_text, write_json_atomic

    obj = {"ppv": float("nan"), "rates": [np.float32("inf"), 1.5, np.float64(2.0)], "x": np.array([np.nan, 3.0]),
           "n": np.int64(4), "ok": True, "name": None}
    assert json_text(obj) == ('{"ppv": null, "rates": [null, 1.5, 2.0], "x": [null, 3.0], "n": 4, "ok": true, '
                              '"name": null}')
    path = write_json_atomic(tmp_path / "m.json", obj)

    def refuse(constant):
        raise ValueError(constant)

    assert json.loads(path.read_text(), parse_constant=refuse)["rates"] == [None, 1.5, 2.0]


def test_signal_csv_dash_and_question_mark_are_missing_samples(tmp_path):
    """wfdb's rdsamp prints an invalid sample as "-": a missing sample, like "?", not an error."""
    path = tmp_path / "rec.csv"
    path.write_text("\n".join(["0.1", "0.2", "-", "0.3", "?"] * 40) + "\n")
    sig = read_signal(path, fs=100.0)
    assert np.isnan(sig.signal_mV).sum() == 80 and len(sig.signal_mV) == 200
    assert sig.warnings and "80 missing samples" in sig.warnings[0] and "line 3" in sig.warnings[0]


def test_wfdb_rate_out_of_range_names_the_record(tmp_path, mitdb, checkpoint):
    from ecgbeat.analyze import analyze_record

    for ext in ("hea", "dat"):
        (tmp_path / f"100.{ext}").write_bytes((mitdb / f"100.{ext}").read_bytes())
    header = tmp_path / "100.hea"
    header.write_text(header.read_text().replace(" 360 ", " 10 ", 1))
    with pytest.raises(EcgbeatError) as exc:
        analyze_record(tmp_path / "100", checkpoint)
    assert str(tmp_path / "100") in str(exc.value) and "outside 50..2000 Hz" in str(exc.value)
    # labelled beats (prepare, train) from the same header: refused too, not resampled from 10 Hz
    (tmp_path / "100.atr").write_bytes((mitdb / "100.atr").read_bytes())
    with pytest.raises(EcgbeatError) as exc:
        build_beats(["100"], mitdb=tmp_path)
    assert one_line(exc) == f"{tmp_path / '100.hea'}: sampling rate 10 Hz is outside 50..2000 Hz"


def test_kaggle_csv_folder_and_underscore_values_are_named(tmp_path):
    from ecgbeat.io.kaggle import load_kaggle_csv

    with pytest.raises(EcgbeatError, match="is a folder, not a Kaggle-format CSV file"):
        load_kaggle_csv(tmp_path)
    rows = [",".join(["0.5"] * 187 + ["0"])] * 3
    rows[1] = rows[1].replace("0.5", "1_0", 1)  # float("1_0") is 10.0 in Python, not a CSV number
    (tmp_path / "u.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(EcgbeatError) as exc:
        load_kaggle_csv(tmp_path / "u.csv")
    assert str(exc.value) == f"{tmp_path / 'u.csv'}: line 2, column 1: not a number: '1_0'"
