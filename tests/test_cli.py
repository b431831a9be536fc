"""The CLI end to end on a few real MIT-BIH records: demo, evaluate, predict, plot, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

RECORDS = "100,208,209,232"


def run_cli(*args, cwd=None, env_extra=None):
    env = dict(os.environ, MPLBACKEND="Agg", **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "ecgbeat", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=600)


@pytest.fixture(scope="module")
def demo_run(mitdb, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    out = run_cli("demo", "--mitdb", mitdb, "--records", RECORDS, "--epochs", "3",
                  "--runs-dir", runs, "--seed", "1")
    assert out.returncode == 0, out.stderr[-2000:]
    run_dir = next(p for p in runs.iterdir() if p.is_dir())
    return run_dir, out.stdout


def test_demo_writes_everything(demo_run):
    run, stdout = demo_run
    assert str(run) in stdout and "accuracy" in stdout
    for name in ("model.safetensors", "model.json", "history.json", "metrics.json", "report.md",
                 "predictions.csv", "run.json", "data/mitbih_train.csv", "data/mitbih_test.csv",
                 "data/split.json"):
        assert (run / name).is_file(), name
    figures = {p.name for p in (run / "figures").glob("*.png")}
    assert figures == {"beats_per_class.png", "beats_true_labels.png", "beats_predicted.png",
                       "confusion_matrix.png", "training_curves.png", "record_strip.png"}
    for png in (run / "figures").glob("*.png"):
        assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 10_000
    meta = json.loads((run / "model.json").read_text())
    assert meta["seed"] == 1 and meta["split"] == "intra" and meta["model"] == "lstm"
    assert meta["preprocessing"]["fs"] == 125.0 and meta["preprocessing"]["n_samples"] == 187
    metrics = json.loads((run / "metrics.json").read_text())
    assert meta["metrics"]["test"]["accuracy"] == metrics["accuracy"]
    assert meta["metrics"]["validation"]["val_macro_f1"] == meta["val_macro_f1"]
    # 3 epochs on four records already learns far beyond "always normal"
    assert metrics["macro_f1"] > 0.5
    assert metrics["accuracy"] > metrics["majority_baseline_accuracy"]
    assert len(json.loads((run / "history.json").read_text())) == 3
    report = (run / "report.md").read_text()
    assert "Confusion" in report or "confusion" in report


def test_demo_benchmark_summarises_a_demo_run(demo_run, tmp_path):
    """benchmarks/demo.py --run: the README's demo numbers come from a results file, not from memory."""
    from pathlib import Path

    run, _ = demo_run
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, str(repo / "benchmarks" / "demo.py"), "--run", str(run), "--out",
                          str(tmp_path), "--stem", "d"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json", "d.md"]
    row = json.loads((tmp_path / "d.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    summary = json.loads((run / "run.json").read_text())
    assert row["accuracy"] == metrics["accuracy"] and row["macro_f1"] == metrics["macro_f1"]
    assert row["seed"] == 1 and row["split"] == "intra" and row["epochs"] == 3
    assert row["ec57"]["V"]["ppv"] == metrics["ec57"]["V"]["ppv"]
    assert row["demo_seconds"] == summary["total_seconds"] and row["make_demo_wall_seconds"] is None
    assert row["git_commit"] and row["machine"]
    md = (tmp_path / "d.md").read_text()
    assert f"{100 * metrics['accuracy']:.2f} %" in md and "not measured" in md
    bad = subprocess.run([sys.executable, str(repo / "benchmarks" / "demo.py"), "--run", str(tmp_path), "--out",
                          str(tmp_path / "x")], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "is not a finished demo run folder" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "x").exists()


def test_evaluate_reproduces_demo_metrics(demo_run, mitdb, tmp_path):
    run, _ = demo_run
    out = run_cli("evaluate", run / "model.json", "--mitdb", mitdb, "--records", RECORDS, "--out", tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    again = json.loads((tmp_path / "metrics.json").read_text())
    first = json.loads((run / "metrics.json").read_text())
    assert again["confusion_matrix"] == first["confusion_matrix"]  # same seed -> same test set
    assert "sensitivity" in out.stdout and "EC57" in out.stdout


def test_predict_with_and_without_labels(demo_run, tmp_path):
    run, _ = demo_run
    test_csv = run / "data" / "mitbih_test.csv"
    out = run_cli("predict", run / "model.json", test_csv, "--out", tmp_path / "p.csv")
    assert out.returncode == 0, out.stderr[-2000:]
    pred = pd.read_csv(tmp_path / "p.csv")
    truth = pd.read_csv(test_csv, header=None)
    assert len(pred) == len(truth)
    assert list(pred.columns[-5:]) == ["p_N", "p_S", "p_V", "p_F", "p_Q"]
    np.testing.assert_allclose(pred[["p_N", "p_S", "p_V", "p_F", "p_Q"]].sum(axis=1), 1.0, atol=1e-4)
    assert (pred["true"] == np.array(list("NSVFQ"))[truth[187].astype(int)]).all()
    # without the label column: same predictions
    truth.iloc[:, :187].to_csv(tmp_path / "nolabel.csv", header=False, index=False, float_format="%.18e")
    out = run_cli("predict", run / "model.json", tmp_path / "nolabel.csv", "--out", tmp_path / "q.csv",
                  "--min-confidence", "0.9")
    assert out.returncode == 0, out.stderr[-2000:]
    q = pd.read_csv(tmp_path / "q.csv")
    assert "true" not in q.columns
    confident = q["confidence"] >= 0.9
    assert (q.loc[~confident, "predicted"] == "uncertain").all()
    assert (q.loc[confident, "predicted"] == pred.loc[confident, "predicted"]).all()


def test_plot_redraws_figures(demo_run, mitdb):
    run, _ = demo_run
    for png in (run / "figures").glob("*.png"):
        png.unlink()
    out = run_cli("plot", run, "--mitdb", mitdb, "--records", RECORDS)
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(list((run / "figures").glob("*.png"))) == 6


def test_resume_after_interruption_matches_uninterrupted_run(mitdb, tmp_path, monkeypatch):
    """Kill training after epoch 1, resume: the history equals a run that was never stopped."""
    from ecgbeat import cli, training

    common = ["train", "--mitdb", str(mitdb), "--records", "100,208", "--epochs", "2", "--seed", "2"]
    assert cli.main([*common, "--out", str(tmp_path / "whole")]) == 0
    save = training._save_state

    def save_then_die(*args, **kwargs):
        save(*args, **kwargs)
        raise KeyboardInterrupt  # as if the machine went down right after epoch 1

    monkeypatch.setattr(training, "_save_state", save_then_die)
    assert cli.main([*common, "--out", str(tmp_path / "cut")]) == 130
    assert not (tmp_path / "cut" / "model.json").exists() and (tmp_path / "cut" / "last.pt").is_file()
    monkeypatch.setattr(training, "_save_state", save)
    assert cli.main([*common, "--out", str(tmp_path / "cut"), "--resume"]) == 0
    whole = json.loads((tmp_path / "whole" / "history.json").read_text())
    resumed = json.loads((tmp_path / "cut" / "history.json").read_text())
    assert [h["epoch"] for h in resumed] == [1, 2]
    for a, b in zip(whole, resumed):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-6)
        assert a["val_macro_f1"] == b["val_macro_f1"]
    # a different epoch count is another run, not a resume
    assert cli.main([*common[:-4], "--epochs", "3", "--seed", "2", "--out", str(tmp_path / "cut"),
                     "--resume"]) == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["predict", "missing.json", "x.csv"], "missing.json: checkpoint metadata not found"),
        (["train", "--mitdb", "/no/such/dir"], "/no/such/dir: MIT-BIH folder not found"),
        (["train", "--train-csv", "a.csv"], "give both --train-csv and --test-csv"),
        (["train", "--model", "resnet9000", "--train-csv", "bad.csv", "--test-csv", "bad.csv"],
         "unknown model 'resnet9000'; choose from"),
        (["train", "--train-csv", "bad.csv", "--test-csv", "bad.csv"],
         "bad.csv: line 2: expected 188 comma-separated values, found 12"),
        # options are checked before minutes of data loading
        (["train", "--model-args", "{oops", "--train-csv", "bad.csv", "--test-csv", "bad.csv"],
         "--model-args is not valid JSON"),
    ],
)
def test_errors_are_one_line(tmp_path, args, message):
    (tmp_path / "bad.csv").write_text(",".join(["0.5"] * 188) + "\n" + ",".join(["0.5"] * 12) + "\n")
    out = run_cli(*args, cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecgbeat: error:") and message in lines[0], out.stderr


def test_unknown_model_is_named(mitdb, tmp_path):
    out = run_cli("train", "--mitdb", mitdb, "--records", "100", "--model", "resnet9000", "--out", tmp_path)
    assert out.returncode == 2 and "unknown model 'resnet9000'; choose from" in out.stderr


def test_help_for_every_subcommand():
    for cmd in ("prepare", "train", "evaluate", "predict", "plot", "demo"):
        out = run_cli(cmd, "--help")
        assert out.returncode == 0 and "usage: ecgbeat " + cmd in out.stdout


def test_train_and_evaluate_on_kaggle_csv_files(demo_run, tmp_path):
    """The Kaggle files work as input: train on mitbih_train.csv, evaluate on mitbih_test.csv."""
    run, _ = demo_run
    data = run / "data"
    out = run_cli("train", "--train-csv", data / "mitbih_train.csv", "--test-csv", data / "mitbih_test.csv",
                  "--epochs", "1", "--out", tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    kaggle_meta = json.loads((tmp_path / "model.json").read_text())
    assert kaggle_meta["split"] == "kaggle-csv"
    assert kaggle_meta["train_transitions"] is None  # CSV rows: no record order to count transitions in
    out = run_cli("evaluate", tmp_path / "model.json", "--out", tmp_path)
    assert out.returncode == 2 and "give --test-csv" in out.stderr
    out = run_cli("evaluate", tmp_path / "model.json", "--test-csv", data / "mitbih_test.csv", "--out", tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["n"] == len(pd.read_csv(data / "mitbih_test.csv", header=None))
    assert "per_record" not in metrics  # Kaggle rows do not say which patient they come from


def train_evaluate_analyze(mitdb, tmp_path, records: str, record: str, *train_args) -> dict:
    """`train` (1 epoch, extra ``train_args``) into tmp/m, `evaluate` into tmp/e, `analyze` ``record``
    into tmp/a; each must succeed. Returns the checkpoint metadata."""
    out = run_cli("train", "--mitdb", mitdb, "--records", records, "--epochs", "1", *train_args,
                  "--out", tmp_path / "m")
    assert out.returncode == 0, out.stderr[-2000:]
    out = run_cli("evaluate", tmp_path / "m" / "model.json", "--mitdb", mitdb, "--records", records,
                  "--out", tmp_path / "e")
    assert out.returncode == 0, out.stderr[-2000:]
    out = run_cli("analyze", "--checkpoint", tmp_path / "m" / "model.json", mitdb / record, "--out", tmp_path / "a",
                  "--no-plot")
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads((tmp_path / "m" / "model.json").read_text())


def test_causal_training_beats_carry_to_analyze(mitdb, tmp_path):
    """`train --scaling causal` records the cut in the checkpoint, and analyze cuts causally
    without being told (beats exactly as trained)."""
    meta = train_evaluate_analyze(mitdb, tmp_path, "100,208", "100", "--scaling", "causal")
    assert meta["preprocessing"]["scaling"] == "causal"
    assert meta["split_info"]["beat_params"]["scaling"] == "causal"
    assert json.loads((tmp_path / "a" / "100_summary.json").read_text())["scaling"] == "causal"


def test_template_model_trains_evaluates_analyzes_and_refuses_csv_beats(demo_run, mitdb, tmp_path):
    """`train --template --features rr+context`: the checkpoint says what the model takes, evaluate
    and analyze build the template and context themselves, and pre-cut CSV beats (no neighbours)
    get a one-line error instead of made-up templates."""
    meta = train_evaluate_analyze(mitdb, tmp_path, "100,119", "119", "--template", "--features", "rr+context")
    assert meta["preprocessing"]["channels"] == ["beat", "template"]
    assert meta["preprocessing"]["features"] == "rr+context"
    assert meta["preprocessing"]["template_beats"] == 64 and meta["model_args"]["in_channels"] == 2
    beats = pd.read_csv(tmp_path / "a" / "119_beats.csv")
    assert len(beats) > 1500 and beats["class"].isin(list("NSVFQ")).mean() > 0.99
    run, _ = demo_run
    out = run_cli("predict", tmp_path / "m" / "model.json", run / "data" / "mitbih_test.csv",
                  "--out", tmp_path / "p.csv")
    assert out.returncode == 2 and "whole recordings" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p.csv").exists()


def test_inter_split_validation_grouping_is_recorded(mitdb, tmp_path):
    """`train --split inter --val-by beat` validates on a share of the DS1 beats (all DS1 patients
    train); the default holds out whole DS1 records. The test records are DS2 either way."""
    metas = {}
    for val_by in ("beat", None):
        out = run_cli("train", "--mitdb", mitdb, "--records", "101,106,100", "--split", "inter", "--epochs", "1",
                      *(("--val-by", val_by) if val_by else ()), "--out", tmp_path / str(val_by))
        assert out.returncode == 0, out.stderr[-2000:]
        metas[val_by] = json.loads((tmp_path / str(val_by) / "model.json").read_text())["split_info"]
    assert metas["beat"]["val_by"] == "beat" and "val_records" not in metas["beat"]
    assert metas["beat"]["train_records"] == ["101", "106"] and metas["beat"]["test_records"] == ["100"]
    beat = metas["beat"]
    assert abs(beat["n_val"] / (beat["n_train"] + beat["n_val"]) - beat["val_fraction"]) < 0.01
    assert metas[None]["val_by"] == "record" and metas[None]["val_records"] in (["101"], ["106"])
    # --val-records: that record, whatever the seed; refit rebuilds it; a DS2 record is a one-line error
    drawn = metas[None]["val_records"][0]
    given = "106" if drawn == "101" else "101"
    out = run_cli("train", "--mitdb", mitdb, "--records", "101,106,100", "--split", "inter", "--epochs", "1",
                  "--val-records", given, "--out", tmp_path / "given")
    assert out.returncode == 0, out.stderr[-2000:]
    info = json.loads((tmp_path / "given" / "model.json").read_text())["split_info"]
    assert info["val_records"] == [given] and info["val_records_given"] is True and info["train_records"] == [
        "101", "106"]
    out = run_cli("refit", tmp_path / "given" / "model.json", "--mitdb", mitdb, "--out", tmp_path / "given_refit")
    assert out.returncode == 0, out.stderr[-2000:]
    refit = json.loads((tmp_path / "given_refit" / "model.json").read_text())
    assert refit["refit_of"]["val_records"] == [given] and refit["split_info"]["n_train"] == info["n_train"] + info[
        "n_val"]
    out = run_cli("train", "--mitdb", mitdb, "--records", "101,106,100", "--split", "inter", "--epochs", "1",
                  "--val-records", "100", "--out", tmp_path / "bad")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "100 not among the training records" in out.stderr and not (tmp_path / "bad" / "model.json").exists()
    out = run_cli("train", "--train-csv", tmp_path / "a.csv", "--test-csv", tmp_path / "b.csv", "--val-records", "101",
                  "--out", tmp_path / "csv")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "--val-records needs beats built from MIT-BIH records" in out.stderr


def test_refit_trains_on_the_validation_records_too(mitdb, tmp_path):
    """`ecgbeat refit` trains a validated inter-patient run again on its training and validation
    records, stops after the run's best epoch, records where it came from, and evaluates on the
    same test records; a checkpoint it cannot rebuild the split of is a one-line error."""
    out = run_cli("train", "--mitdb", mitdb, "--records", "101,106,100", "--split", "inter", "--epochs", "2",
                  "--out", tmp_path / "run")
    assert out.returncode == 0, out.stderr[-2000:]
    out = run_cli("refit", tmp_path / "run" / "model.json", "--mitdb", mitdb, "--out", tmp_path / "refit")
    assert out.returncode == 0, out.stderr[-2000:]
    run = json.loads((tmp_path / "run" / "model.json").read_text())
    refit = json.loads((tmp_path / "refit" / "model.json").read_text())
    info, rinfo = run["split_info"], refit["split_info"]
    assert rinfo["n_train"] == info["n_train"] + info["n_val"] and rinfo["n_val"] == 0 and rinfo["val_records"] == []
    assert rinfo["train_records"] == info["train_records"] == ["101", "106"] and rinfo["n_test"] == info["n_test"]
    assert refit["refit_of"]["best_epoch"] == run["best_epoch"] == refit["best_epoch"]
    assert refit["refit_of"]["val_records"] == info["val_records"] and refit["val_macro_f1"] is None
    assert refit["train_config"]["stop_epoch"] == run["best_epoch"] and refit["seed"] == run["seed"]
    assert len(json.loads((tmp_path / "refit" / "history.json").read_text())) == run["best_epoch"]
    assert sum(refit["train_prior"]) == pytest.approx(1.0)
    out = run_cli("evaluate", tmp_path / "refit" / "model.json", "--mitdb", mitdb, "--records", "101,106,100",
                  "--out", tmp_path / "ev")
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["n"] == info["n_test"]
    # one DS2 patient alone: the split's DS1 part is the checkpoint's own (it trains; the test is 100's)
    out = run_cli("evaluate", tmp_path / "refit" / "model.json", "--mitdb", mitdb, "--records", "100",
                  "--out", tmp_path / "ev100")
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads((tmp_path / "ev100" / "metrics.json").read_text())["n"] == info["n_test"]
    # a split that no longer rebuilds the same validation beats, and a checkpoint of CSV beats
    for name, change in (("moved", {"split_info": {**info, "val_records": ["999"]}}),
                         ("csv", {"split": "kaggle-csv"})):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.json").write_text(json.dumps({**run, **change}))
        (tmp_path / name / "model.safetensors").write_bytes((tmp_path / "run" / "model.safetensors").read_bytes())
        out = run_cli("refit", tmp_path / name / "model.json", "--mitdb", mitdb, "--out", tmp_path / f"{name}_refit")
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert "cannot refit" in out.stderr and str(tmp_path / name / "model.json") in out.stderr
        assert not (tmp_path / f"{name}_refit" / "model.json").exists()
    out = run_cli("refit", tmp_path / "refit" / "model.json", "--mitdb", mitdb, "--out", tmp_path / "again")
    assert out.returncode == 2 and "is a refit already" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    # a refit already in OUT is kept unless --overwrite; the run's own folder is never OUT; a run trained
    # on a GPU refits on the CPU with --device cpu
    out = run_cli("refit", tmp_path / "run" / "model.json", "--mitdb", mitdb, "--out", tmp_path / "refit")
    one_line_error(out, "a trained model is there already", "--overwrite", str(tmp_path / "refit" / "model.json"))
    out = run_cli("refit", tmp_path / "run" / "model.json", "--mitdb", mitdb, "--out", tmp_path / "run", "--overwrite")
    one_line_error(out, "is an input of this command")
    (tmp_path / "gpu").mkdir()
    (tmp_path / "gpu" / "model.json").write_text(json.dumps({**run, "train_config": {**run["train_config"],
                                                                                      "device": "cuda"}}))
    (tmp_path / "gpu" / "model.safetensors").write_bytes((tmp_path / "run" / "model.safetensors").read_bytes())
    if not torch.cuda.is_available():
        out = run_cli("refit", tmp_path / "gpu" / "model.json", "--mitdb", mitdb, "--out", tmp_path / "refit",
                      "--overwrite")
        one_line_error(out, "--device cuda: no CUDA device available")
    before = (tmp_path / "refit" / "model.safetensors").read_bytes()
    out = run_cli("refit", tmp_path / "gpu" / "model.json", "--mitdb", mitdb, "--out", tmp_path / "refit",
                  "--overwrite", "--device", "cpu")
    assert out.returncode == 0, out.stderr[-2000:]
    again = json.loads((tmp_path / "refit" / "model.json").read_text())
    assert again["train_config"]["device"] == "cpu" and again["refit_of"]["checkpoint"].endswith("gpu/model.json")
    assert (tmp_path / "refit" / "model.safetensors").read_bytes() == before  # the same weights, seed for seed


def one_line_error(out, *words) -> None:
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and lines[0].startswith("ecgbeat: error:"), out.stderr[-2000:]
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_evaluate_rebuilds_the_checkpoints_own_test_set(demo_run, mitdb, tmp_path):
    """Without --records evaluate takes the run's records (not all 48), so its test set is the run's;
    another split, seed or record list would hold training beats and is refused."""
    run, _ = demo_run
    out = run_cli("evaluate", run, "--mitdb", mitdb, "--out", tmp_path)  # a run folder means its model.json
    assert out.returncode == 0, out.stderr[-2000:]
    first = json.loads((run / "metrics.json").read_text())
    again = json.loads((tmp_path / "metrics.json").read_text())
    assert again["n"] == first["n"] and again["confusion_matrix"] == first["confusion_matrix"]
    for args, words in ((["--seed", "0"], ("intra split of seed 1", "--seed 0", "training beats")),
                        (["--records", "100,208"], ("4 records", "training beats")),
                        (["--records", "232,209,208,100"], None),  # the same records in another order: fine
                        (["--split", "inter"], ("trained on the intra split", "--split inter"))):
        out = run_cli("evaluate", run / "model.json", "--mitdb", mitdb, *args, "--out", tmp_path / "x")
        if words is None:  # the split draws from the beats in the run's record order, not the order given
            assert out.returncode == 0, out.stderr[-2000:]
            assert json.loads((tmp_path / "x" / "metrics.json").read_text())["confusion_matrix"] == \
                first["confusion_matrix"]
        else:
            one_line_error(out, *words)


def test_outputs_never_replace_the_inputs(demo_run, mitdb, tmp_path):
    run, _ = demo_run
    csv = tmp_path / "test.csv"
    csv.write_bytes((run / "data" / "mitbih_test.csv").read_bytes())
    before = csv.read_bytes()
    one_line_error(run_cli("predict", run / "model.json", csv, "--out", csv), "is an input of this command")
    assert csv.read_bytes() == before
    # evaluate writes predictions.csv (and metrics.json, report.md) into --out: never over its test file
    ev = tmp_path / "ev"
    ev.mkdir()
    test_csv = ev / "predictions.csv"
    test_csv.write_bytes(before)
    one_line_error(run_cli("evaluate", run / "model.json", "--test-csv", test_csv, "--out", ev),
                   f"{ev / 'predictions.csv'}: is an input of this command ({test_csv})")
    assert test_csv.read_bytes() == before and sorted(p.name for p in ev.iterdir()) == ["predictions.csv"]
    one_line_error(run_cli("export", run / "model.json", "--out", run / "model.safetensors"), "is an input")
    other = tmp_path / "copy"
    other.mkdir()
    for name in ("model.json", "model.safetensors"):
        (other / name).write_bytes((run / name).read_bytes())
    one_line_error(run_cli("ensemble", run / "model.json", run / "model.safetensors", "--out", tmp_path / "e"),
                   "given twice")
    weights = (other / "model.safetensors").read_bytes()
    one_line_error(run_cli("ensemble", run / "model.json", other / "model.json", "--out", other),
                   "is one of the members")
    one_line_error(run_cli("ensemble", run, other, "--out", other), "is one of the members")  # run folders
    one_line_error(run_cli("ensemble", run, run / "model.json", "--out", tmp_path / "e"), "given twice")
    assert (other / "model.safetensors").read_bytes() == weights
    # an output folder that is a file: one line naming it, nothing written
    one_line_error(run_cli("predict", run / "model.json", csv, "--out", csv / "p.csv"), str(csv))
    # analyze --ann-beside must not write over the record's own files
    rec = tmp_path / "rec"
    rec.mkdir()
    for ext in ("hea", "dat", "atr"):
        (rec / f"100.{ext}").write_bytes((mitdb / f"100.{ext}").read_bytes())
    header = (rec / "100.hea").read_bytes()
    for ext in ("hea", "atr", "DAT"):
        one_line_error(run_cli("analyze", "--checkpoint", run / "model.json", rec / "100", "--ann-beside",
                               "--ann-ext", ext, "--out", tmp_path / "a", "--no-plot"), "would overwrite")
    assert (rec / "100.hea").read_bytes() == header and not (tmp_path / "a").exists()


def test_checkpoint_and_option_mistakes_are_one_line(demo_run, mitdb, tmp_path):
    run, _ = demo_run
    csv = run / "data" / "mitbih_test.csv"
    (tmp_path / "model.onnx").write_bytes(b"onnx")
    one_line_error(run_cli("predict", tmp_path / "model.onnx", csv), "model.onnx: not an ecgbeat checkpoint")
    meta = json.loads((run / "model.json").read_text())
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.json").write_text(json.dumps({**meta, "classes": list("NSVFQXY")}))
    (bad / "model.safetensors").write_bytes((run / "model.safetensors").read_bytes())
    one_line_error(run_cli("predict", bad / "model.json", csv, "--out", tmp_path / "p.csv"),
                   "7 class names for a model with 5 outputs")
    (bad / "model.json").write_text(json.dumps({**meta, "model_args": {**meta["model_args"], "n_samples": 100}}))
    one_line_error(run_cli("predict", bad / "model.json", csv, "--out", tmp_path / "p.csv"),
                   f"{bad / 'model.json'}: model_args.n_samples (100) differs from preprocessing.n_samples (187)")
    for option, value, words in (("--adapt", "1:nan:-", ("--adapt takes",)), ("--adapt", "1:inf:-", ("--adapt",)),
                                 ("--self-train", "0.8:inf", ("--self-train takes",))):
        one_line_error(run_cli("evaluate", run / "model.json", "--mitdb", mitdb, option, value,
                               "--out", tmp_path / "e"), *words)
    for records, words in (("100,,208", ("empty record name",)), ("100,100", ("record 100 given twice",)),
                           ("", ("--records is empty",))):
        one_line_error(run_cli("train", "--mitdb", mitdb, "--records", records, "--out", tmp_path / "t"), *words)
    for chunk in ("inf", "nan"):
        out = subprocess.run([sys.executable, "-m", "ecgbeat", "stream", "-", "--checkpoint", str(run / "model.json"),
                              "--fs", "360", "--chunk-s", chunk], input="0.1\n0.2\n", capture_output=True, text=True,
                             timeout=300)
        one_line_error(out, "chunk length")


def test_rr_feature_models_refuse_csv_rows(mitdb, tmp_path, demo_run):
    """A model reading RR intervals gets none from Kaggle CSV rows: refused, not fed a made-up 0.8 s."""
    run, _ = demo_run
    out = run_cli("train", "--mitdb", mitdb, "--records", "100,208", "--rr-features", "--epochs", "1",
                  "--out", tmp_path / "m")
    assert out.returncode == 0, out.stderr[-2000:]
    csv = run / "data" / "mitbih_test.csv"
    one_line_error(run_cli("predict", tmp_path / "m" / "model.json", csv, "--out", tmp_path / "p.csv"),
                   "RR intervals", "Kaggle CSV rows")
    one_line_error(run_cli("evaluate", tmp_path / "m" / "model.json", "--test-csv", csv, "--out", tmp_path / "e"),
                   "RR intervals")
    assert not (tmp_path / "p.csv").exists() and not (tmp_path / "e" / "metrics.json").exists()


def test_plot_an_ensemble_folder_and_say_what_is_missing(demo_run, mitdb, tmp_path):
    """An ensemble's folder has no history.json (it was not trained as one): plot draws the rest; a
    folder without metrics.json is told how to write it."""
    run, _ = demo_run
    other = tmp_path / "other"
    other.mkdir()
    for name in ("model.json", "model.safetensors"):
        (other / name).write_bytes((run / name).read_bytes())
    ens = tmp_path / "ens"
    out = run_cli("ensemble", run / "model.json", other / "model.json", "--out", ens)  # a folder: its model.json
    assert out.returncode == 0 and (ens / "model.json").is_file(), out.stderr[-2000:]
    one_line_error(run_cli("plot", ens, "--mitdb", mitdb), "metrics.json: not found", "ecgbeat evaluate")
    out = run_cli("evaluate", ens, "--mitdb", mitdb, "--out", ens)
    assert out.returncode == 0, out.stderr[-2000:]
    out = run_cli("plot", ens, "--mitdb", mitdb)
    assert out.returncode == 0, out.stderr[-2000:]
    assert {p.name for p in (ens / "figures").glob("*.png")} == {
        "beats_per_class.png", "beats_true_labels.png", "beats_predicted.png", "confusion_matrix.png",
        "record_strip.png"}
