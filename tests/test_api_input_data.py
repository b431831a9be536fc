"""Bad input to the data and checkpoint API (checkpoint.py, datasets.py, dsp/beats.py, io/kaggle.py,
io/mitdb.py): each is a one-line EcgbeatError naming the argument or file and the problem, nothing
is written or replaced, and valid input gives the same result as before."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ecgbeat.checkpoint import FORMAT, load_checkpoint, read_checkpoint_meta, save_checkpoint
from ecgbeat.datasets import _strata, build_beats, concat, split_beats
from ecgbeat.dsp.beats import BeatParams, segment_beats
from ecgbeat.errors import EcgbeatError
from ecgbeat.io.atomic import json_text, make_folder
from ecgbeat.io.kaggle import load_kaggle_csv, save_kaggle_csv
from ecgbeat.io.mitdb import download_mitdb
from ecgbeat.types import BeatSet

RECORDS = ("100", "106", "119", "208")
META = {"classes": list("NSVFQ"), "preprocessing": BeatParams().to_dict()}


def one_line(excinfo) -> str:
    msg = str(excinfo.value)
    assert excinfo.type is EcgbeatError and msg and "\n" not in msg and "Traceback" not in msg
    return msg


@pytest.fixture(scope="module")
def beats(mitdb) -> BeatSet:
    return build_beats(list(RECORDS), mitdb=mitdb)


def lstm(seed: int = 0):
    import torch

    from ecgbeat.models import create_model

    torch.manual_seed(seed)
    return create_model("lstm", patch_size=8, num_layers=1).eval()


def files_of(folder) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ------------------------------------------------------------------------------------------
# 1. save_checkpoint: JSON checked first, the model's own name and arguments, folders
# ------------------------------------------------------------------------------------------


def test_save_checkpoint_writes_the_same_json_as_before(tmp_path):
    model = lstm()
    path = save_checkpoint(tmp_path / "model", model, META)
    assert path == tmp_path / "model.json" and sorted(files_of(tmp_path)) == ["model.json", "model.safetensors"]
    want = {"format": FORMAT, "model": "lstm", "model_args": model.init_args, "weights": "model.safetensors", **META}
    assert path.read_text() == json_text(want, indent=2) + "\n"
    loaded, meta = load_checkpoint(path)
    assert meta == json.loads(json_text(want)) and loaded.init_args == model.init_args


def test_meta_that_is_not_json_writes_nothing_and_replaces_nothing(tmp_path):
    with pytest.raises(EcgbeatError) as exc:
        save_checkpoint(tmp_path / "new", lstm(), {**META, "tags": {"x"}})
    assert one_line(exc) == (f"{tmp_path / 'new.json'}: checkpoint metadata 'tags' is not JSON-serialisable "
                             "(not JSON serialisable: set); nothing written")
    assert not list(tmp_path.iterdir())  # no orphan .safetensors, no temporary file
    save_checkpoint(tmp_path / "model", lstm(0), META)
    before = files_of(tmp_path)
    with pytest.raises(EcgbeatError, match="'split_info' is not JSON-serialisable"):
        save_checkpoint(tmp_path / "model", lstm(1), {**META, "split_info": {"records": object()}})
    assert files_of(tmp_path) == before  # the old weights beside the old JSON: still a checkpoint
    load_checkpoint(tmp_path / "model.json")


def test_the_saved_model_names_itself_not_the_meta_it_is_given(tmp_path):
    from ecgbeat.models import create_model

    _, old_meta = load_checkpoint(save_checkpoint(tmp_path / "old", lstm(), META))
    other = create_model("cnn_lstm", hidden_size=8).eval()
    path = save_checkpoint(tmp_path / "new", other, {**old_meta, "format": "x", "weights": "old.safetensors"})
    loaded, meta = load_checkpoint(path)
    assert (meta["format"], meta["model"], meta["weights"]) == (FORMAT, "cnn_lstm", "new.safetensors")
    assert meta["model_args"] == other.init_args and type(loaded) is type(other)
    assert meta["classes"] == old_meta["classes"]  # the rest of meta is kept


def test_a_folder_is_a_run_folder_when_saving_as_when_loading(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert save_checkpoint(run, lstm(), META) == run / "model.json"
    assert save_checkpoint(f"{tmp_path / 'new'}/", lstm(), META) == tmp_path / "new" / "model.json"
    assert sorted(files_of(run)) == ["model.json", "model.safetensors"] and not (tmp_path / "run.json").exists()
    for given in (run, f"{run}/", tmp_path / "new"):
        assert load_checkpoint(given)[1]["model"] == "lstm"
    assert save_checkpoint(tmp_path / "plain", lstm(), META) == tmp_path / "plain.json"  # no folder: as before


@pytest.mark.parametrize("meta, message", [
    ({"preprocessing": META["preprocessing"]}, "checkpoint metadata lacks 'classes'"),
    ({**META, "classes": list("NSV")}, "lists 3 class names for a model with 5 outputs"),
    ({**META, "preprocessing": {"fs": 0}}, "preprocessing.fs must be a finite number > 0 (Hz), got 0"),
    ({**META, "preprocessing": {"n_samples": 100}}, "model_args.n_samples (187) differs from preprocessing.n_samples"),
])
def test_a_checkpoint_that_would_not_load_is_not_saved(tmp_path, meta, message):
    with pytest.raises(EcgbeatError) as exc:
        save_checkpoint(tmp_path / "m", lstm(), meta)
    assert one_line(exc).startswith(f"{tmp_path / 'm.json'}: ") and message in str(exc.value)
    assert not list(tmp_path.iterdir())


def test_a_file_in_the_way_of_the_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(EcgbeatError) as exc:
        save_checkpoint(tmp_path / "file" / "model", lstm(), META)
    assert one_line(exc) == f"{tmp_path / 'file'}: is a file, not a folder; cannot write checkpoint model.json"


# ------------------------------------------------------------------------------------------
# 2. load_checkpoint: preprocessing and classes checked, the model.json named
# ------------------------------------------------------------------------------------------


@pytest.fixture
def edit_checkpoint(tmp_path):
    """``f(key, value)``: a saved checkpoint with ``model.json``'s ``key`` set to ``value`` (by hand)."""
    path = save_checkpoint(tmp_path / "model", lstm(), META)
    good = json.loads(path.read_text())

    def edit(key, value):
        path.write_text(json.dumps({**good, key: value}))
        return path

    return edit


@pytest.mark.parametrize("value, message", [
    ({"fs": "abc"}, "preprocessing.fs must be a finite number > 0 (Hz), got 'abc'"),
    ({"fs": 0}, "preprocessing.fs must be a finite number > 0 (Hz), got 0"),
    ({"fs": -125.0}, "preprocessing.fs must be a finite number > 0 (Hz), got -125.0"),
    ({"scaling": "weird"}, "preprocessing.scaling must be one of fixed, causal, got 'weird'"),
    ({"n_samples": 187.5}, "preprocessing.n_samples must be a whole number >= 2, got 187.5"),
    ({"n_samples": "187"}, "preprocessing.n_samples must be a whole number >= 2, got '187'"),
    ({"window_s": 0}, "preprocessing.window_s must be a finite number > 0 (seconds), got 0"),
    ({"rr_factor": -1}, "preprocessing.rr_factor must be a finite number > 0, got -1"),
    ({"template_beats": 0}, "preprocessing.template_beats must be a whole number >= 1, got 0"),
    ([], "preprocessing must be an object of beat parameters (fs, n_samples, ...), got list []"),
    ("fixed", "preprocessing must be an object of beat parameters (fs, n_samples, ...), got str 'fixed'"),
])
def test_bad_preprocessing_is_refused_naming_the_model_json(edit_checkpoint, value, message):
    path = edit_checkpoint("preprocessing", value)
    for read in (read_checkpoint_meta, load_checkpoint):
        with pytest.raises(EcgbeatError) as exc:
            read(path)
        assert one_line(exc) == f"{path}: {message}"


@pytest.mark.parametrize("value, message", [
    ([0, 1, 2, 3, 4], "'classes' must be class names (non-empty strings), got 0 in [0, 1, 2, 3, 4]"),
    (["N", "S", "V", "F", "N"], "'classes' names 'N' twice (N, S, V, F, N)"),
    (["N", "S", "", "F", "Q"], "'classes' must be class names (non-empty strings), got ''"),
    ("NSVFQ", "'classes' must be a list of class names, got 'NSVFQ'"),
    ([], "'classes' must be a list of class names, got []"),
    (list("NSVF"), "lists 4 class names for a model with 5 outputs"),
])
def test_bad_classes_are_refused_naming_the_model_json(edit_checkpoint, value, message):
    path = edit_checkpoint("classes", value)
    with pytest.raises(EcgbeatError) as exc:
        load_checkpoint(path)
    assert one_line(exc).startswith(f"{path}: {message}")


@pytest.mark.parametrize("key, value, message", [
    ("model", 5, "'model' must be a model name, got 5"),
    ("model_args", [], "'model_args' must be an object of model arguments, got list"),
])
def test_bad_model_entries_are_refused(edit_checkpoint, key, value, message):
    path = edit_checkpoint(key, value)
    with pytest.raises(EcgbeatError) as exc:
        load_checkpoint(path)
    assert one_line(exc) == f"{path}: {message}"


@pytest.mark.parametrize("args, message", [
    ({"in_channels": 3}, "model takes 3 input channels; ecgbeat feeds 1 (beat) or 2 (beat, template)"),
    ({"n_features": 4}, "model takes 4 features, but no feature set has 4 features (rr: 5, rr+context: 11)"),
])
def test_a_model_nothing_can_feed_is_neither_saved_nor_loaded(edit_checkpoint, tmp_path, args, message):
    """The model's inputs must be ones ecgbeat makes, else predict would fail with a traceback."""
    from ecgbeat.models import create_model

    with pytest.raises(EcgbeatError) as exc:
        save_checkpoint(tmp_path / "odd", create_model("lstm", patch_size=8, num_layers=1, **args), META)
    assert one_line(exc) == f"{tmp_path / 'odd.json'}: {message}" and not (tmp_path / "odd.json").exists()
    path = edit_checkpoint("model_args", {**lstm().init_args, **args})  # weights of the input layer differ
    with pytest.raises(EcgbeatError) as exc:
        load_checkpoint(path)
    assert one_line(exc).startswith(f"{path}: ")


def test_a_model_json_nested_too_deeply_is_one_line(edit_checkpoint):
    path = edit_checkpoint("classes", None)
    path.write_text("[" * 100_000 + "]" * 100_000)
    for read in (read_checkpoint_meta, load_checkpoint):
        with pytest.raises(EcgbeatError) as exc:
            read(path)
        assert one_line(exc) == f"{path}: not valid JSON (nested too deeply to read)"


def test_a_dot_in_the_name_is_kept(tmp_path):
    """``run_lr0.01`` and ``run_lr0.02`` are two checkpoints, not one ``run_lr0`` written twice."""
    a = save_checkpoint(tmp_path / "run_lr0.01", lstm(0), META)
    b = save_checkpoint(tmp_path / "run_lr0.02.json", lstm(1), META)
    assert (a.name, b.name) == ("run_lr0.01.json", "run_lr0.02.json")
    assert sorted(files_of(tmp_path)) == ["run_lr0.01.json", "run_lr0.01.safetensors",
                                          "run_lr0.02.json", "run_lr0.02.safetensors"]
    given = (tmp_path / "run_lr0.01", b, tmp_path / "run_lr0.02.safetensors")
    weights = [load_checkpoint(p)[0].state_dict() for p in given]
    key = next(iter(weights[0]))
    assert not weights[0][key].equal(weights[1][key]) and weights[1][key].equal(weights[2][key])


def test_old_checkpoints_still_load(edit_checkpoint):
    """Written before ``scaling`` existed, or with whole numbers as floats: the defaults fill in."""
    path = edit_checkpoint("preprocessing", {"fs": 125, "n_samples": 187.0, "scaling": None, "lead": "MLII"})
    assert load_checkpoint(path)[1]["preprocessing"]["n_samples"] == 187.0
    assert BeatParams.from_dict(read_checkpoint_meta(path)["preprocessing"]) == BeatParams()


# ------------------------------------------------------------------------------------------
# 3. build_beats: a record once, a list of names; cache_dir a folder
# ------------------------------------------------------------------------------------------


def test_a_record_given_twice_is_refused(mitdb, beats):
    for records in (["100", "100"], ["100", "106", 100]):
        with pytest.raises(EcgbeatError) as exc:
            build_beats(records, mitdb=mitdb)
        assert one_line(exc) == "records: record 100 given twice (its beats would be taken twice)"
    # valid: the records' beats, in the order given, each once
    alone = [build_beats([r], mitdb=mitdb) for r in RECORDS]
    np.testing.assert_array_equal(concat(alone).X, beats.X)
    np.testing.assert_array_equal(concat(alone).y, beats.y)
    assert len(set(zip(beats.record, beats.sample))) == len(beats)


@pytest.mark.parametrize("records, message", [
    ("100", "records must be a list of record names, got the string '100'; write ['100']"),
    (100, "records must be a list of record names, got 100"),
    ([], "no records given"),
])
def test_records_must_be_a_list_of_names(mitdb, records, message):
    with pytest.raises(EcgbeatError) as exc:
        build_beats(records, mitdb=mitdb)
    assert one_line(exc) == message


def test_cache_dir_must_be_a_folder(mitdb, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(EcgbeatError) as exc:
        build_beats(["100"], mitdb=mitdb, cache_dir=tmp_path / "file")
    assert one_line(exc) == f"{tmp_path / 'file'}: is a file, not a folder; " \
                            "cannot keep the beat cache there (cache_dir)"
    with pytest.raises(EcgbeatError) as exc:
        build_beats(["100"], mitdb=mitdb, cache_dir=tmp_path / "file" / "sub")
    assert one_line(exc) == f"{tmp_path / 'file' / 'sub'}: cannot keep the beat cache there (cache_dir), " \
                            f"{tmp_path / 'file'} is a file"
    assert (tmp_path / "file").read_text() == "x"


def test_make_folder_names_the_folder_asked_for(tmp_path, monkeypatch):
    """When the system refuses a parent, the message still names the folder asked for (and the parent);
    a parent the system will not even look into is still one line."""
    from pathlib import Path

    target, parent = tmp_path / "a" / "b", tmp_path / "a"

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(parent))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(EcgbeatError) as exc:
        make_folder(target, "download MIT-BIH into it")
    assert one_line(exc) == f"{target}: cannot download MIT-BIH into it ({parent}: Permission denied)"
    exists = Path.exists

    def blind(self, *args, **kwargs):  # as Python < 3.12 does under a folder without search permission
        if self in (target, parent):
            raise PermissionError(13, "Permission denied", str(self))
        return exists(self, *args, **kwargs)

    monkeypatch.setattr(Path, "exists", blind)
    with pytest.raises(EcgbeatError) as exc:
        make_folder(target, "download MIT-BIH into it")
    assert one_line(exc) == f"{target}: cannot download MIT-BIH into it ({parent}: Permission denied)"


def test_a_file_in_place_of_the_download_folder(tmp_path):
    (tmp_path / "mitdb").write_text("x")
    with pytest.raises(EcgbeatError) as exc:
        download_mitdb(tmp_path / "mitdb")  # refused before any download
    assert one_line(exc) == f"{tmp_path / 'mitdb'}: is a file, not a folder; cannot download MIT-BIH into it"
    with pytest.raises(EcgbeatError) as exc:
        download_mitdb(tmp_path / "mitdb" / "sub")
    assert one_line(exc) == f"{tmp_path / 'mitdb' / 'sub'}: cannot download MIT-BIH into it, " \
                            f"{tmp_path / 'mitdb'} is a file"


# ------------------------------------------------------------------------------------------
# 4. BeatParams
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    ({"fs": 0}, "BeatParams.fs must be a finite number > 0 (Hz), got 0"),
    ({"fs": math.nan}, "BeatParams.fs must be a finite number > 0 (Hz), got nan"),
    ({"fs": math.inf}, "BeatParams.fs must be a finite number > 0 (Hz), got inf"),
    ({"fs": "125"}, "BeatParams.fs must be a finite number > 0 (Hz), got '125'"),
    ({"fs": True}, "BeatParams.fs must be a finite number > 0 (Hz), got True"),
    ({"n_samples": 0}, "BeatParams.n_samples must be a whole number >= 2, got 0"),
    ({"n_samples": 1}, "BeatParams.n_samples must be a whole number >= 2, got 1"),
    ({"n_samples": 187.5}, "BeatParams.n_samples must be a whole number >= 2, got 187.5"),
    ({"window_s": 0}, "BeatParams.window_s must be a finite number > 0 (seconds), got 0"),
    ({"window_s": -10.0}, "BeatParams.window_s must be a finite number > 0 (seconds), got -10.0"),
    ({"window_s": 0.004}, "BeatParams: the scaling window (window_s x fs) must be at least 2 samples, "
                          "got 0.004 s x 125.0 Hz"),
    ({"fs": 1e308}, "BeatParams: the scaling window (window_s x fs) must be a finite number of samples"),
    ({"rr_factor": -1}, "BeatParams.rr_factor must be a finite number > 0, got -1"),
    ({"rr_factor": 0}, "BeatParams.rr_factor must be a finite number > 0, got 0"),
    ({"rr_factor": math.nan}, "BeatParams.rr_factor must be a finite number > 0, got nan"),
    ({"scaling": "centered"}, "BeatParams.scaling must be one of fixed, causal, got 'centered'"),
    ({"template_beats": 0}, "BeatParams.template_beats must be a whole number >= 1, got 0"),
    ({"long_rr_beats": 2.5}, "BeatParams.long_rr_beats must be a whole number >= 1, got 2.5"),
])
def test_beat_params_are_checked(kwargs, message):
    with pytest.raises(EcgbeatError) as exc:
        BeatParams(**kwargs)
    assert one_line(exc).startswith(message)
    assert isinstance(exc.value, ValueError)  # what BeatParams raised before


def test_valid_beat_params_cut_the_same_beats():
    params = BeatParams(fs=np.float64(125), n_samples=np.int64(187))  # numpy numbers are plain ones now
    assert params == BeatParams() and type(params.n_samples) is int and type(params.fs) is float
    assert json.dumps(params.to_dict()) == json.dumps(BeatParams().to_dict())  # the cache key's text
    t = np.arange(int(30 * 125.0)) / 125.0
    signal, peaks = np.sin(2 * np.pi * t) * (1 + t), np.arange(31, len(t) - 200, 125)
    np.testing.assert_array_equal(segment_beats(signal, peaks, params), segment_beats(signal, peaks))
    assert BeatParams(n_samples=2, window_s=0.016).n_samples == 2  # the smallest accepted


# ------------------------------------------------------------------------------------------
# 5. split_beats
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    ({"test_fraction": 20}, "test_fraction must be a number strictly between 0 and 1, got 20 (for 20 % write 0.2)"),
    ({"test_fraction": 0}, "test_fraction must be a number strictly between 0 and 1, got 0"),
    ({"test_fraction": 1}, "test_fraction must be a number strictly between 0 and 1, got 1"),
    ({"test_fraction": 1.5}, "test_fraction must be a number strictly between 0 and 1, got 1.5"),
    ({"test_fraction": math.nan}, "test_fraction must be a number strictly between 0 and 1, got nan"),
    ({"test_fraction": "0.2"}, "test_fraction must be a number strictly between 0 and 1, got '0.2'"),
    ({"val_fraction": 10}, "val_fraction must be a number strictly between 0 and 1, got 10 (for 10 % write 0.1)"),
    ({"seed": -1}, "seed must be a whole number from 0 to 4294967295, got -1"),
    ({"seed": 1.5}, "seed must be a whole number from 0 to 4294967295, got 1.5"),
    ({"seed": "0"}, "seed must be a whole number from 0 to 4294967295, got '0'"),
    ({"seed": 2**40}, "seed must be a whole number from 0 to 4294967295, got 1099511627776"),
    ({"seed": None}, "seed must be a whole number from 0 to 4294967295, got None"),
    ({"seed": True}, "seed must be a whole number from 0 to 4294967295, got True"),
    ({"test_fraction": 1e-6}, "cannot split 9242 beats with test_fraction 1e-06: The test_size = 1 should be"),
])
def test_split_arguments_are_checked(beats, kwargs, message):
    for split in ("intra", "inter"):
        if split == "inter" and "cannot split" in message:
            continue  # the inter split takes no test fraction
        with pytest.raises(EcgbeatError) as exc:
            split_beats(beats, split, **kwargs)
        assert one_line(exc).startswith(message)


def test_valid_split_arguments_give_the_same_split(beats):
    from sklearn.model_selection import train_test_split

    index = np.arange(len(beats))
    for seed, fraction in ((0, 0.2), (2**32 - 1, 0.25), (np.int64(7), np.float64(0.2))):
        s = split_beats(beats, "intra", seed=seed, test_fraction=fraction)
        _, test = train_test_split(index, test_size=float(fraction), random_state=int(seed), stratify=_strata(beats.y))
        np.testing.assert_array_equal(s.test.sample, beats.sample[np.sort(test)])
        assert s.seed == seed and type(s.seed) is int and s.info["test_fraction"] == fraction
    inter = split_beats(beats, "inter", seed=0)
    assert set(inter.test.record) == {"100"} and set(inter.train.record) | set(inter.val.record) == {"106", "119",
                                                                                                         "208"}


def test_split_needs_labelled_beats(beats):
    with pytest.raises(EcgbeatError) as exc:
        split_beats(beats.subset(np.zeros(0, dtype=np.int64)))
    assert one_line(exc) == "split_beats: the BeatSet holds no beats"
    unlabelled = BeatSet(X=beats.X[:50], y=np.r_[beats.y[:40], np.full(10, -1)])
    with pytest.raises(EcgbeatError) as exc:
        split_beats(unlabelled)
    assert one_line(exc).startswith("split_beats needs labelled beats: 10 of 50 have no label in 0..4")
    with pytest.raises(EcgbeatError) as exc:
        split_beats(beats.X)
    assert one_line(exc) == "split_beats needs a BeatSet, got ndarray"


# ------------------------------------------------------------------------------------------
# 6. save_kaggle_csv writes only what load_kaggle_csv reads
# ------------------------------------------------------------------------------------------


def test_save_kaggle_csv_refuses_what_it_could_not_read_back(beats, tmp_path):
    some = beats.subset(np.arange(6))
    X = some.X.copy()
    X[2, 4] = np.nan
    path = tmp_path / "mitbih_test.csv"
    cases = [
        (BeatSet(X=X, y=some.y), "beat 2, sample 5 is nan; the Kaggle format holds finite float32 values "
                                 "(1 beat(s) do not)"),
        (BeatSet(X=np.where(np.arange(6)[:, None] == 3, np.inf, some.X), y=some.y), "beat 3, sample 1 is inf"),
        (BeatSet(X=some.X.astype(np.float64) * 1e300, y=some.y), "the Kaggle format holds finite float32 values"),
        (BeatSet(X=some.X, y=np.array([0, 1, 7, 0, 0, 0])), "cannot write labels: beat 2 has label 7, not a class "
                                                            "index 0..4 (N, S, V, F, Q)"),
        (BeatSet(X=some.X, y=some.y, fs=360.0), "Kaggle format holds 125 Hz beats, got beats at 360 Hz"),
        (some.subset(np.zeros(0, dtype=np.int64)), "no beats to write"),
    ]
    path.write_text("old\n")
    for bad, message in cases:
        with pytest.raises(EcgbeatError) as exc:
            save_kaggle_csv(bad, path)
        assert one_line(exc).startswith(f"{path}: ") and message in str(exc.value)
        assert path.read_text() == "old\n" and len(list(tmp_path.iterdir())) == 1  # nothing written or replaced
    with pytest.raises(EcgbeatError) as exc:
        save_kaggle_csv(some, tmp_path)
    assert one_line(exc) == f"{tmp_path}: is a folder; give the CSV file to write"
    # valid beats: written as before, read back as they were
    save_kaggle_csv(some, path)
    back = load_kaggle_csv(path)
    np.testing.assert_array_equal(back.X, some.X)
    np.testing.assert_array_equal(back.y, some.y)
    first = path.read_text().splitlines()[0].split(",")
    assert len(first) == 188 and first[-1] == f"{float(some.y[0]):.18e}" and first[0] == f"{float(some.X[0, 0]):.18e}"
    unlabelled = BeatSet(X=some.X, y=np.full(6, -1))
    save_kaggle_csv(unlabelled, tmp_path / "u.csv", with_label=False)
    assert (load_kaggle_csv(tmp_path / "u.csv").y == -1).all()
