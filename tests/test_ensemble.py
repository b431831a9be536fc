"""Ensembles: averaging trained checkpoints, their checkpoint format, and what may be combined."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from test_cli import run_cli
from test_models import beats

from ecgbeat.checkpoint import load_checkpoint, save_checkpoint, save_ensemble
from ecgbeat.errors import EcgbeatError
from ecgbeat.models import Ensemble, create_model

CLASSES = ["N", "S", "V", "F", "Q"]


def member(name: str, seed: int = 0, **kwargs):
    torch.manual_seed(seed)
    return create_model(name, n_classes=5, n_samples=187, **kwargs).eval()


def meta(split: str = "inter", seed: int = 0, **extra) -> dict:
    info = {"records": ["100", "101"], "test_records": ["100"]} if split == "inter" else {"records": ["100", "101"]}
    return {"classes": CLASSES, "preprocessing": {"fs": 125.0, "n_samples": 187, "scaling": "fixed"},
            "split": split, "seed": seed, "split_info": info, **extra}


def test_output_is_the_log_of_the_mean_probability():
    a, b = member("lstm"), member("cnn_lstm", seed=1)
    ens = Ensemble([a, b]).eval()
    x = beats(4)
    with torch.no_grad():
        want = (torch.softmax(a(x), 1) + torch.softmax(b(x), 1)) / 2
        out = ens(x)
    torch.testing.assert_close(out.exp(), want, rtol=1e-5, atol=1e-6)
    assert (ens.n_classes, ens.n_samples, ens.in_channels, ens.n_features) == (5, 187, 1, 0)


def test_members_must_take_the_same_inputs():
    with pytest.raises(ValueError, match="at least 2"):
        Ensemble([member("lstm")])
    with pytest.raises(ValueError, match="n_features"):
        Ensemble([member("lstm"), member("lstm", n_features=5)])
    with pytest.raises(ValueError, match="in_channels"):
        Ensemble([member("lstm"), member("transformer", in_channels=2)])
    with pytest.raises(ValueError, match="registered model"):
        Ensemble([member("lstm"), torch.nn.Linear(3, 5)])


def test_checkpoint_round_trip_rebuilds_the_ensemble(tmp_path):
    a, b = member("lstm", n_features=5), member("transformer", seed=1, n_features=5)
    pa = save_checkpoint(tmp_path / "a" / "model", a, meta(seed=0))
    pb = save_checkpoint(tmp_path / "b" / "model", b, meta(seed=1))
    path, info = save_ensemble([pa, pb], tmp_path / "e" / "model.json")
    loaded, doc = load_checkpoint(path)
    assert isinstance(loaded, Ensemble) and doc["model"] == "ensemble"
    assert [m["model"] for m in doc["model_args"]["members"]] == ["lstm", "transformer"]
    # two inter-patient seeds: one test set (DS2), no single seed
    assert doc["split"] == "inter" and doc["seed"] is None and [m["seed"] for m in doc["members"]] == [0, 1]
    assert doc["split_info"]["test_records"] == ["100"]
    x, f = beats(3), torch.rand(3, 5)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, f), Ensemble([a, b])(x, f), rtol=0, atol=0)


@pytest.mark.parametrize("change, message", [
    ({"classes": ["N", "S", "V", "F", "X"]}, "classes differ"),
    ({"preprocessing": {"fs": 360.0, "n_samples": 187, "scaling": "fixed"}}, "preprocessing differ"),
    ({"split": "intra", "seed": 1}, "another split"),
])
def test_members_of_other_beats_or_test_sets_are_refused(tmp_path, change, message):
    first = {**meta(split="intra" if change.get("split") == "intra" else "inter"), "seed": 0}
    pa = save_checkpoint(tmp_path / "a", member("lstm"), first)
    pb = save_checkpoint(tmp_path / "b", member("lstm", seed=1), {**first, **change})
    with pytest.raises(EcgbeatError, match=message):
        save_ensemble([pa, pb], tmp_path / "e")
    assert not (tmp_path / "e.json").exists()


def test_an_ensemble_is_not_a_member(tmp_path):
    pa = save_checkpoint(tmp_path / "a", member("lstm"), meta())
    pb = save_checkpoint(tmp_path / "b", member("lstm", seed=1), meta())
    pe, _ = save_ensemble([pa, pb], tmp_path / "e")
    with pytest.raises(EcgbeatError, match="ensemble already"):
        save_ensemble([pa, pe], tmp_path / "f")


def test_onnx_export_of_an_ensemble_matches_torch(tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install '.[onnx]')")
    pytest.importorskip("onnx", reason="onnx not installed (pip install '.[onnx]')")
    from ecgbeat.export import export_onnx

    ens = Ensemble([member("lstm", in_channels=2, n_features=11),
                    member("cnn_lstm", seed=1, in_channels=2, n_features=11)]).eval()
    path = export_onnx(ens, tmp_path / "e.onnx")
    x, f = np.random.default_rng(0).random((5, 2, 187), dtype=np.float32), np.ones((5, 11), np.float32)
    got = ort.InferenceSession(str(path)).run(None, {"x": x, "features": f})[0]
    with torch.no_grad():
        want = ens(torch.from_numpy(x), torch.from_numpy(f)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_cli_ensemble_averages_the_members_on_real_beats(mitdb, tmp_path):
    """Two models trained on real records (one seed, two architectures) -> `ecgbeat ensemble` ->
    `evaluate` gives the mean of the members' probabilities, and `analyze` takes the ensemble."""
    records = "100,208"
    for name in ("lstm", "cnn_lstm"):
        out = run_cli("train", "--mitdb", mitdb, "--records", records, "--epochs", "1", "--model", name,
                      "--out", tmp_path / name)
        assert out.returncode == 0, out.stderr[-2000:]
    out = run_cli("ensemble", tmp_path / "lstm" / "model.json", tmp_path / "cnn_lstm" / "model.json",
                  "--out", tmp_path / "ens" / "model.json")
    assert out.returncode == 0, out.stderr[-2000:]
    probas = {}
    for name in ("lstm", "cnn_lstm", "ens"):
        out = run_cli("evaluate", tmp_path / name / "model.json", "--mitdb", mitdb, "--records", records,
                      "--out", tmp_path / f"eval_{name}")
        assert out.returncode == 0, out.stderr[-2000:]
        probas[name] = pd.read_csv(tmp_path / f"eval_{name}" / "predictions.csv")
    cols = [f"p_{c}" for c in CLASSES]
    mean = (probas["lstm"][cols].to_numpy() + probas["cnn_lstm"][cols].to_numpy()) / 2
    np.testing.assert_allclose(probas["ens"][cols].to_numpy(), mean, atol=2e-6)
    agree = (probas["ens"]["predicted"].to_numpy() == np.array(CLASSES)[mean.argmax(1)]).mean()
    assert agree > 0.999  # ties within rounding of the CSV aside
    metrics = json.loads((tmp_path / "eval_ens" / "metrics.json").read_text())
    assert metrics["model"] == "ensemble" and metrics["split"] == "intra" and metrics["seed"] == 0
    # the class mix each model was trained with, and the ensemble's: their mean
    priors = [json.loads((tmp_path / n / "model.json").read_text())["train_prior"] for n in ("lstm", "cnn_lstm", "ens")]
    assert all(len(p) == 5 and abs(sum(p) - 1) < 1e-4 for p in priors)
    np.testing.assert_allclose(priors[2], np.mean(priors[:2], axis=0), atol=2e-6)
    # --adapt: each record's probabilities re-weighted to its own class mix, the setting recorded
    out = run_cli("evaluate", tmp_path / "ens" / "model.json", "--mitdb", mitdb, "--records", records,
                  "--adapt", "2:500:FQ", "--out", tmp_path / "eval_adapt")
    assert out.returncode == 0, out.stderr[-2000:]
    adapted = pd.read_csv(tmp_path / "eval_adapt" / "predictions.csv")
    assert json.loads((tmp_path / "eval_adapt" / "metrics.json").read_text())["adapt"] == "2:500:FQ"
    np.testing.assert_allclose(adapted[cols].sum(axis=1), 1.0, atol=1e-4)
    assert np.abs(adapted[cols].to_numpy() - probas["ens"][cols].to_numpy()).max() > 1e-3
    out = run_cli("evaluate", tmp_path / "ens" / "model.json", "--mitdb", mitdb, "--records", records,
                  "--adapt", "2:500:X", "--out", tmp_path / "eval_bad")
    assert out.returncode == 2 and "unknown class 'X'" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    # --af-gate reads successive RR intervals: refused on this intra split, whose test beats are a random
    # part of each record (the gate itself: tests/test_rhythm.py; on raw records: analyze below)
    out = run_cli("evaluate", tmp_path / "ens" / "model.json", "--mitdb", mitdb, "--records", records,
                  "--adapt", "2:500:FQ", "--causal", "--af-gate", "--out", tmp_path / "eval_gate")
    assert out.returncode == 2 and "--af-gate needs whole recordings in time order" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and not (tmp_path / "eval_gate").exists()
    # --causal (mix of earlier beats only): recorded
    out = run_cli("evaluate", tmp_path / "ens" / "model.json", "--mitdb", mitdb, "--records", records,
                  "--adapt", "2:500:FQ", "--causal", "--out", tmp_path / "eval_gate")
    assert out.returncode == 0, out.stderr[-2000:]
    gated = json.loads((tmp_path / "eval_gate" / "metrics.json").read_text())
    assert gated["adapt"] == "2:500:FQ (causal)" and not gated.get("af_gate")
    # evaluated on several patients: their errors record by record, in metrics.json and report.md
    assert set(gated["per_record"]) == {"100", "208"}
    assert sum(r["missed_V"] for r in gated["per_record"].values()) == gated["ec57"]["V"]["fn"]
    assert "### Per record" in (tmp_path / "eval_gate" / "report.md").read_text()
    out = run_cli("evaluate", tmp_path / "ens" / "model.json", "--causal", "--out", tmp_path / "eval_bad")
    assert out.returncode == 2 and "--causal goes with --adapt" in out.stderr
    out = run_cli("analyze", "--checkpoint", tmp_path / "ens" / "model.json", mitdb / "208", mitdb / "201",
                  "--out", tmp_path / "a", "--no-plot", "--af-gate", "--adapt", "2:500:FQ")
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(pd.read_csv(tmp_path / "a" / "208_beats.csv")) > 2500
    summary = json.loads((tmp_path / "a" / "208_summary.json").read_text())
    assert summary["adapt"] == "2:500:FQ" and summary["af_gate"] is True
    # the irregular rhythm (with --af-gate the gate's flags, computed from the V calls before the gate)
    # leaves out the intervals next to V beats: 208's ventricular ectopy, irregular over more than
    # half its beats with them, is then much less so
    from ecgbeat.dsp.rhythm import af_like

    table = pd.read_csv(tmp_path / "a" / "208_beats.csv")
    rr = np.concatenate([[np.nan], np.diff(table["sample"].to_numpy()) / 360.0])
    left_out = af_like(rr, ectopic=(table["class"] == "V").to_numpy())
    assert summary["irregular_rhythm"]["percent_of_beats"] == pytest.approx(100 * left_out.mean(), abs=1e-3)
    assert af_like(rr).mean() > 0.5 and left_out.mean() < 0.5 * af_like(rr).mean()
    af_201 = json.loads((tmp_path / "a" / "201_summary.json").read_text())["irregular_rhythm"]  # 201: AF
    assert af_201["percent_of_beats"] > 20 and af_201["episodes"]
    printed = [line for line in out.stdout.splitlines() if "atrial-fibrillation-like" in line]
    assert len(printed) == (left_out.any() + 1) and f"{af_201['percent_of_beats']} % of beats" in printed[-1]
    # another intra seed draws other test beats: refused in one line, nothing written
    out = run_cli("train", "--mitdb", mitdb, "--records", records, "--epochs", "1", "--seed", "1",
                  "--out", tmp_path / "seed1")
    assert out.returncode == 0, out.stderr[-2000:]
    out = run_cli("ensemble", tmp_path / "lstm" / "model.json", tmp_path / "seed1" / "model.json",
                  "--out", tmp_path / "bad" / "model.json")
    assert out.returncode == 2 and "one test set" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()


def test_train_ensemble_seeds_writes_members_and_their_ensemble(mitdb, tmp_path):
    """`train --split inter --ensemble-seeds 0,1`: one member per seed in OUT/seed<S>/, the ensemble
    in OUT/model.json, which evaluate takes; on the intra split the option is refused before training."""
    args = ("--mitdb", mitdb, "--records", "101,106,100", "--epochs", "1")
    out = run_cli("train", *args, "--split", "inter", "--ensemble-seeds", "0,1", "--out", tmp_path / "e")
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads((tmp_path / "e" / "model.json").read_text())
    assert doc["model"] == "ensemble" and [m["seed"] for m in doc["members"]] == [0, 1]
    for seed in (0, 1):
        member = json.loads((tmp_path / "e" / f"seed{seed}" / "model.json").read_text())
        assert member["seed"] == seed and member["split"] == "inter"
    out = run_cli("evaluate", tmp_path / "e" / "model.json", *args[:4], "--out", tmp_path / "ev")
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["n"] > 2000  # record 100 (DS2)
    for bad, message in (("0,1", "needs --split inter"), ("3", "at least 2"), ("0,x", "integers")):
        out = run_cli("train", *args, "--ensemble-seeds", bad, "--out", tmp_path / "bad")
        assert out.returncode == 2 and message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()
