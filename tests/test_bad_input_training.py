"""Bad input on the training path: one-line EcgbeatErrors (CLI: exit 2), never tracebacks or silent
wrong answers. Real beats of MIT-BIH records 100 and 201; tiny models, one epoch."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from ecgbeat.errors import EcgbeatError
from ecgbeat.models import create_model
from ecgbeat.training import TrainConfig, _make_scheduler, resolve_device, train

TINY = '{"hidden_size": 8, "patch_size": 8, "num_layers": 1, "embed_dim": 8}'
TINY_ARGS = {"hidden_size": 8, "patch_size": 8, "num_layers": 1, "embed_dim": 8}


@pytest.fixture(scope="module")
def beats(mitdb):
    from ecgbeat.datasets import build_beats

    return build_beats(["100", "201"], mitdb=mitdb)


def _rows(beats, counts: dict[str, int]) -> np.ndarray:
    """The first ``counts[c]`` beats of each class ``c``."""
    return np.sort(np.concatenate([np.flatnonzero(beats.y == beats.classes.index(c))[:k] for c, k in counts.items()]))


def _csv(beats, path, counts: dict[str, int]):
    from ecgbeat.io.kaggle import save_kaggle_csv

    return str(save_kaggle_csv(beats.subset(_rows(beats, counts)), path))


@pytest.fixture(scope="module")
def csvs(beats, tmp_path_factory):
    """A small training CSV (100 beats: 90 N, 5 S, 5 V) and test CSV (40 beats)."""
    folder = tmp_path_factory.mktemp("csv")
    return (_csv(beats, folder / "train.csv", {"N": 90, "S": 5, "V": 5}),
            _csv(beats, folder / "test.csv", {"N": 30, "S": 5, "V": 5}))


def run_cli(capsys, *argv) -> tuple[int, str]:
    """Exit code and standard error of ``ecgbeat ARGV``; a failure must be one ``ecgbeat: error:`` line."""
    from ecgbeat.cli import main

    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    if rc == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("ecgbeat: error: "), err
        assert "Traceback" not in err
    return rc, err


def train_cli(csvs, out, *more):
    return ("train", "--train-csv", csvs[0], "--test-csv", csvs[1], "--epochs", 1, "--model-args", TINY,
            "--out", out, *more)


# 1. the learning-rate schedule for every small number of optimiser steps ----------------------------------------


@pytest.mark.parametrize("schedule", ["onecycle", "cosine", "constant"])
def test_every_small_step_count_has_a_finite_positive_schedule(schedule):
    for total in range(1, 21):
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.Adam([p], lr=1e-3)
        sched = _make_scheduler(opt, 1e-3, TrainConfig(epochs=1, schedule=schedule), total)
        used = []
        for _ in range(total):
            used.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        assert all(math.isfinite(lr) and 0 < lr <= 1e-3 * (1 + 1e-9) for lr in used), (total, used)
        if schedule == "onecycle" and total <= 5:  # too short to warm up: the cosine from the peak
            assert used[0] == pytest.approx(1e-3) and used == sorted(used, reverse=True)


def test_onecycle_is_pytorchs_own_when_there_are_steps_to_warm_up():
    for epochs, steps in ((1, 6), (1, 20), (3, 37), (20, 684)):
        lrs = []
        for own in (True, False):
            p = torch.nn.Parameter(torch.zeros(1))
            opt = torch.optim.Adam([p], lr=1e-3)
            sched = (_make_scheduler(opt, 1e-3, TrainConfig(epochs=epochs), steps) if own else
                     torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=epochs * steps, pct_start=0.2))
            seen = []
            for _ in range(epochs * steps):
                seen.append((opt.param_groups[0]["lr"], opt.param_groups[0]["betas"][0]))
                opt.step()
                sched.step()
            lrs.append(seen)
        assert lrs[0] == lrs[1]


def test_training_with_exactly_five_steps_finishes(csvs, tmp_path, capsys):
    # 100 beats: 90 train at --batch-size 18 = 5 optimiser steps (OneCycleLR divided by zero)
    rc, err = run_cli(capsys, *train_cli(csvs, tmp_path / "run", "--batch-size", 18))
    assert rc == 0, err
    import json

    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history) == 1 and math.isfinite(history[0]["train_loss"])


# 2. seeds ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [-1, 2**32, 99999999999])
def test_seed_out_of_range_is_refused_where_it_enters(seed):
    from ecgbeat.pipeline import DataSpec

    with pytest.raises(EcgbeatError, match=rf"--seed must be a whole number from 0 to {2**32 - 1}, got {seed}"):
        DataSpec(seed=seed)
    with pytest.raises(EcgbeatError, match="--seed"):
        TrainConfig(seed=seed)
    DataSpec(seed=2**32 - 1), TrainConfig(seed=0)  # the ends of the range


def test_seed_out_of_range_on_the_command_line(csvs, mitdb, tmp_path, capsys):
    rc, err = run_cli(capsys, "prepare", "--mitdb", mitdb, "--records", "100", "--seed", -1, "--out", tmp_path / "p")
    assert rc == 2 and "--seed" in err and "-1" in err
    rc, err = run_cli(capsys, *train_cli(csvs, tmp_path / "t", "--seed", 99999999999))
    assert rc == 2 and "--seed" in err and "99999999999" in err


# 3. model arguments -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, words", [({"foo": 1}, ["'lstm'", "no argument 'foo'", "hidden_size"]),
                                         ({"hidden_size": 0}, ["'lstm'", "hidden_size=0"]),
                                         ({"hidden_size": "big"}, ["'lstm'", "hidden_size='big'"]),
                                         ({"dropout": 2}, ["'lstm'", "dropout=2"])])
def test_bad_model_arguments_are_one_line_errors_naming_model_and_argument(args, words):
    with pytest.raises(EcgbeatError) as info:
        create_model("lstm", **args)
    message = str(info.value)
    assert "\n" not in message and all(w in message for w in words), message


@pytest.mark.parametrize("args, words", [({"n_classes": 3}, ["n_classes", "set by the training data"]),
                                         ({"n_samples": 100}, ["n_samples", "set by the training data"]),
                                         ({"in_channels": 3}, ["in_channels=3", "--template"]),
                                         ({"n_features": 7}, ["n_features=7", "--features"])])
def test_model_arguments_the_data_decides_are_refused(args, words):
    from ecgbeat.pipeline import check_model_args

    with pytest.raises(EcgbeatError) as info:
        check_model_args("lstm", args)
    assert all(w in str(info.value) for w in words), str(info.value)
    assert check_model_args("lstm", {"hidden_size": 8, "in_channels": 2, "n_features": 5}) == {
        "hidden_size": 8, "in_channels": 2, "n_features": 5}


def test_model_arguments_that_only_fail_when_the_model_runs(beats, tmp_path):
    from ecgbeat.pipeline import train_model
    from ecgbeat.types import Split

    part = beats.subset(_rows(beats, {"N": 10, "V": 10}))
    with pytest.raises(EcgbeatError, match=r"model 'lstm' with .*dropout=nan.* does not run"):
        train_model(Split(train=part, val=part, test=part, name="kaggle-csv", seed=0), tmp_path,
                    model_args={**TINY_ARGS, "dropout": float("nan")}, config=TrainConfig(epochs=1), progress=False)
    assert not (tmp_path / "model.json").exists()


@pytest.mark.parametrize("text, words", [('{"foo": 1}', ["model 'lstm'", "foo"]),
                                         ('{"hidden_size": 0}', ["model 'lstm'", "hidden_size"]),
                                         ('{"n_classes": 3}', ["n_classes"])])
def test_bad_model_arguments_on_the_command_line(csvs, tmp_path, capsys, text, words):
    argv = list(train_cli(csvs, tmp_path / "t"))
    argv[argv.index("--model-args") + 1] = text
    rc, err = run_cli(capsys, *argv)
    assert rc == 2 and all(w in err for w in words), err


# 4. non-finite training options ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["lr", "weight_decay", "focal_gamma", "grad_clip"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0])
def test_non_finite_or_negative_float_options_are_refused(name, value):
    with pytest.raises(EcgbeatError, match=rf"^{name} must be a finite number >=? 0, got {value!r}"):
        TrainConfig(**{name: value})


@pytest.mark.parametrize("name, value", [("epochs", 0), ("batch_size", 2.5), ("patience", -1), ("max_threads", -2),
                                         ("augment", "yes")])
def test_other_bad_training_options_are_refused(name, value):
    with pytest.raises(EcgbeatError, match=f"^{name} must be"):
        TrainConfig(**{name: value})


@pytest.mark.parametrize("lr", ["nan", "inf"])
def test_non_finite_lr_on_the_command_line(csvs, tmp_path, capsys, lr):
    rc, err = run_cli(capsys, *train_cli(csvs, tmp_path / "t", "--lr", lr))
    assert rc == 2 and f"lr must be a finite number > 0, got {lr}" in err


# 5. too little training data ----------------------------------------------------------------------------------------


def test_one_row_training_file_is_refused(beats, csvs, tmp_path, capsys):
    single = _csv(beats, tmp_path / "single.csv", {"N": 1})
    rc, err = run_cli(capsys, "train", "--train-csv", single, "--test-csv", csvs[1], "--epochs", 1,
                      "--out", tmp_path / "t")
    assert rc == 2 and "single.csv: too few beats to hold out validation: 1 beat" in err


def test_too_few_beats_for_a_stratified_validation_share(beats, csvs, tmp_path):
    from ecgbeat.pipeline import DataSpec, load_split

    few = _csv(beats, tmp_path / "few.csv", {"N": 6, "V": 2})  # validation: 1 beat, 2 classes
    with pytest.raises(EcgbeatError, match=r"few.csv: too few beats .*stratified validation needs 2 \(one per class\)"):
        load_split(DataSpec(train_csv=few, test_csv=csvs[1]))


def test_a_class_with_a_single_beat_joins_the_largest_for_stratification(beats, csvs, tmp_path, capsys):
    """The documented fallback of ecgbeat.datasets.split_beats, now for CSV files too."""
    from ecgbeat.pipeline import DataSpec, load_split

    one_s = _csv(beats, tmp_path / "one_s.csv", {"N": 30, "S": 1})
    split = load_split(DataSpec(train_csv=one_s, test_csv=csvs[1]))
    assert len(split.train) + len(split.val) == 31 and len(split.val) == 4
    assert split.train.class_counts()["S"] + split.val.class_counts()["S"] == 1
    rc, err = run_cli(capsys, "train", "--train-csv", one_s, "--test-csv", csvs[1], "--epochs", 1,
                      "--model-args", TINY, "--out", tmp_path / "t")
    assert rc == 0, err


def test_unlabelled_training_file_is_refused(beats, csvs, tmp_path):
    from ecgbeat.io.kaggle import save_kaggle_csv
    from ecgbeat.pipeline import DataSpec, load_split

    path = save_kaggle_csv(beats.subset(np.arange(20)), tmp_path / "nolabel.csv", with_label=False)
    with pytest.raises(EcgbeatError, match="nolabel.csv: training beats need labels"):
        load_split(DataSpec(train_csv=str(path), test_csv=csvs[1]))


# 6. resuming another run --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_split(beats):
    from ecgbeat.types import Split

    part = beats.subset(_rows(beats, {"N": 40, "S": 10, "V": 10}))
    rng = np.random.default_rng(0)
    val = np.zeros(len(part), bool)
    val[rng.choice(len(part), 12, replace=False)] = True
    return Split(train=part.subset(np.flatnonzero(~val)), val=part.subset(np.flatnonzero(val)), test=part,
                 name="intra", seed=0, info={"records": ["100", "201"], "n_train": int((~val).sum())})


@pytest.fixture(scope="module")
def lstm_run(small_split, tmp_path_factory):
    """A folder with the last.pt of a one-epoch tiny LSTM run."""
    from ecgbeat.pipeline import train_model

    out = tmp_path_factory.mktemp("lstm_run")
    train_model(small_split, out, model_args=TINY_ARGS, config=TrainConfig(epochs=1), progress=False)
    return out


def _resume(split, out, model_name="lstm", model_args=None, config=None):
    from ecgbeat.pipeline import train_model

    return train_model(split, out, model_name=model_name, model_args=TINY_ARGS if model_args is None else model_args,
                       config=config or TrainConfig(epochs=1), resume=True, progress=False)


def test_resume_with_another_model_is_refused(small_split, lstm_run):
    with pytest.raises(EcgbeatError, match=r"last.pt: --resume: this training state was written by another "
                                           r"model/config: model was \"lstm\", now \"kachuee_cnn\""):
        _resume(small_split, lstm_run, "kachuee_cnn", {})
    with pytest.raises(EcgbeatError, match=r"another model/config: model argument hidden_size was 8, now 16"):
        _resume(small_split, lstm_run, model_args={**TINY_ARGS, "hidden_size": 16})


def test_resume_with_other_records_or_options_is_refused(small_split, lstm_run):
    from ecgbeat.types import Split

    other = Split(train=small_split.train, val=small_split.val, test=small_split.test, name="intra", seed=0,
                  info={**small_split.info, "records": ["100"]})
    with pytest.raises(EcgbeatError, match=r"another model/config: data records was \[\"100\", \"201\"\], "
                                           r"now \[\"100\"\]"):
        _resume(other, lstm_run)
    with pytest.raises(EcgbeatError, match="another model/config: training option batch_size was 128, now 64"):
        _resume(small_split, lstm_run, config=TrainConfig(epochs=1, batch_size=64))
    # where it runs and when it would stop early may change; the same run resumes (here: already finished)
    _, meta = _resume(small_split, lstm_run, config=TrainConfig(epochs=1, patience=3, device="cpu"))
    assert meta["split_info"]["records"] == ["100", "201"]


def test_resume_of_a_state_without_run_identity_checks_the_weights(small_split, lstm_run, tmp_path):
    """Training states written before they named their run: weights of another model are refused."""
    state = torch.load(lstm_run / "last.pt", weights_only=True)
    del state["run"]
    torch.save(state, tmp_path / "last.pt")
    with pytest.raises(EcgbeatError, match=r"last.pt: --resume: .*another model/config: its weights do not fit "
                                           r"this kachuee_cnn model \((Missing|Unexpected|size)"):
        _resume(small_split, tmp_path, "kachuee_cnn", {})


def test_resume_with_another_model_on_the_command_line(csvs, tmp_path, capsys):
    assert run_cli(capsys, *train_cli(csvs, tmp_path / "A"))[0] == 0
    rc, err = run_cli(capsys, "train", "--train-csv", csvs[0], "--test-csv", csvs[1], "--epochs", 1,
                      "--model", "kachuee_cnn", "--resume", "--out", tmp_path / "A")
    assert rc == 2 and "last.pt" in err and "written by another model/config" in err


# 7. devices --------------------------------------------------------------------------------------------------------


def test_missing_cuda_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("cuda", "cuda:1"):
        with pytest.raises(EcgbeatError, match=rf"^--device {device}: no CUDA device available \(torch "):
            resolve_device(device)
    assert resolve_device("auto") == torch.device("cpu") and resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("device", ["tpu", "meta", "", "cuda:x"])
def test_unknown_device_is_refused(device):
    with pytest.raises(EcgbeatError, match=rf"--device '{device}' is not a device"):
        TrainConfig(device=device)
    with pytest.raises(EcgbeatError, match="is not a device"):
        resolve_device(device)


def test_bad_device_on_the_command_line(csvs, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    rc, err = run_cli(capsys, *train_cli(csvs, tmp_path / "t", "--device", "cuda"))
    assert rc == 2 and "--device cuda: no CUDA device available" in err
    rc, err = run_cli(capsys, *train_cli(csvs, tmp_path / "t", "--device", "tpu"))
    assert rc == 2 and "--device 'tpu' is not a device" in err


def test_library_train_checks_the_device_before_work(small_split, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(EcgbeatError, match="no CUDA device"):
            train(create_model("lstm", **TINY_ARGS), small_split.train, small_split.val,
                  TrainConfig(epochs=1, device="cuda"), progress=False)


def test_training_beats_of_one_class_only_are_refused(beats, csvs, tmp_path, capsys):
    """Real normal beats only: nothing to tell apart, so no run that would "learn" one answer."""
    only_n = _csv(beats, tmp_path / "only_n.csv", {"N": 60})
    rc, err = run_cli(capsys, *train_cli(csvs, tmp_path / "t"), "--train-csv", only_n)
    assert rc == 2 and "only_n.csv: all training beats are of one class (N)" in err
    assert not (tmp_path / "t" / "model.json").exists()


def test_a_failed_command_leaves_no_empty_output_folder(csvs, tmp_path, capsys):
    """RR features asked of Kaggle CSV beats fail after the run folder was made: the folders the command
    created go again; a folder that was there before stays, and so does one with a file in it."""
    rc, err = run_cli(capsys, *train_cli(csvs, tmp_path / "new" / "run"), "--rr-features")
    assert rc == 2 and "needs beats built from MIT-BIH records" in err
    assert not (tmp_path / "new").exists()
    (tmp_path / "old").mkdir()
    rc, _ = run_cli(capsys, *train_cli(csvs, tmp_path / "old"), "--rr-features")
    assert rc == 2 and (tmp_path / "old").is_dir()
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "notes.txt").write_text("mine")
    rc, _ = run_cli(capsys, *train_cli(csvs, tmp_path / "kept" / "run"), "--rr-features")
    assert rc == 2 and (tmp_path / "kept" / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "kept" / "run").exists()


def test_a_trained_model_is_not_replaced_without_overwrite(csvs, tmp_path, capsys):
    """A second `train` into a folder with a model.json stops before any work and leaves the model as it
    was; --overwrite replaces it. With --ensemble-seeds every member's folder is checked."""
    rc, _ = run_cli(capsys, *train_cli(csvs, tmp_path / "t"))
    assert rc == 0
    first = (tmp_path / "t" / "model.json").read_text()
    rc, err = run_cli(capsys, *train_cli(csvs, tmp_path / "t"), "--seed", 1)
    assert rc == 2 and f"{tmp_path / 't' / 'model.json'}: a trained model is there already" in err
    assert "--overwrite" in err and "--resume" in err
    assert (tmp_path / "t" / "model.json").read_text() == first
    rc, _ = run_cli(capsys, *train_cli(csvs, tmp_path / "t"), "--seed", 1, "--overwrite")
    assert rc == 0 and '"seed": 1' in (tmp_path / "t" / "model.json").read_text()
    (tmp_path / "e" / "seed3").mkdir(parents=True)
    (tmp_path / "e" / "seed3" / "model.json").write_text(first)
    rc, err = run_cli(capsys, *train_cli(csvs, tmp_path / "e"), "--ensemble-seeds", "2,3")
    assert rc == 2 and f"{tmp_path / 'e' / 'seed3' / 'model.json'}: a trained model is there already" in err
    assert not (tmp_path / "e" / "seed2").exists()


def test_a_test_csv_without_some_trained_classes_is_warned_about(beats, csvs, tmp_path, capsys):
    """A 2-class test CSV (as the Kaggle PTB files are labelled) beside a 3-class training CSV trains, with
    one warning that names the file and the classes it lacks; the full test CSV gets none."""
    two = _csv(beats, tmp_path / "two.csv", {"N": 20, "S": 5})
    rc, err = run_cli(capsys, *train_cli(csvs, tmp_path / "t"), "--test-csv", two)
    assert rc == 0 and err.count("warning:") == 1
    assert f"warning: {two}: has test beats of N, S only, not V" in err
    rc, err = run_cli(capsys, *train_cli(csvs, tmp_path / "u"))
    assert rc == 0 and "warning:" not in err


@pytest.mark.parametrize("text, words", [("118,,208", "--val-records '118,,208': empty record name"),
                                         ("118,118", "--val-records: record 118 given twice"),
                                         ("", "--val-records is empty")])
def test_blank_or_repeated_validation_records_are_refused(csvs, tmp_path, capsys, text, words):
    rc, err = run_cli(capsys, *train_cli(csvs, tmp_path / "t"), "--val-records", text)
    assert rc == 2 and words in err and not (tmp_path / "t").exists()


def test_an_unlabelled_test_csv_is_refused_before_training(beats, csvs, tmp_path, capsys):
    path = tmp_path / "nolabel.csv"
    np.savetxt(path, beats.X[:30], delimiter=",", fmt="%.6f")  # 187 columns of real beats: no label column
    rc, err = run_cli(capsys, *train_cli(csvs, tmp_path / "t"), "--test-csv", path)
    assert rc == 2 and f"{path}: has no label column" in err and not (tmp_path / "t").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_refit_checks_the_device_before_loading_data(lstm_run, tmp_path):
    """A run trained on a GPU, refitted where there is none: the device error comes first, not after
    minutes of data loading (here the data folder does not even exist)."""
    import json

    from ecgbeat.pipeline import refit_model

    meta = json.loads((lstm_run / "model.json").read_text())
    gpu = tmp_path / "gpu"
    gpu.mkdir()
    (gpu / "model.json").write_text(json.dumps({**meta, "train_config": {**meta["train_config"], "device": "cuda"}}))
    (gpu / "model.safetensors").write_bytes((lstm_run / "model.safetensors").read_bytes())
    with pytest.raises(EcgbeatError, match="--device cuda: no CUDA device available"):
        refit_model(gpu / "model.json", tmp_path / "r", mitdb=str(tmp_path / "no_such_folder"), progress=False)
