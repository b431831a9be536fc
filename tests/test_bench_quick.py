"""``benchmarks/accuracy.py --quick`` runs end to end and writes its two reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ecgbeat.models import list_models

REPO = Path(__file__).resolve().parents[1]


def test_accuracy_benchmark_quick(mitdb, tmp_path):
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "accuracy.py"), "--quick", "--out", str(out),
         "--mitdb", str(mitdb)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]

    # exactly the two reports, under their quick names (real results are never overwritten)
    assert sorted(p.name for p in out.iterdir()) == ["accuracy_quick.json", "accuracy_quick.md"]
    doc = json.loads((out / "accuracy_quick.json").read_text())
    meta = doc["meta"]
    assert meta["quick"] is True and meta["epochs"] == 1 and meta["seeds"] == [0]
    assert meta["splits"] == ["intra"] and len(meta["records"]) <= 4
    for key in ("git_commit", "machine", "cpu", "torch", "threads", "date", "total_seconds", "inference_batch"):
        assert key in meta

    models = list_models()
    assert [r["model"] for r in doc["summary"]] == models
    assert len(doc["runs"]) == len(models)
    for row in doc["summary"]:
        assert row["split"] == "intra" and row["seeds"] == [0]
        assert 0.0 <= row["accuracy"]["mean"] <= 1.0 and 0.0 <= row["macro_f1"]["mean"] <= 1.0
        assert row["n_parameters"] > 0
        assert row["train_seconds"]["mean"] > 0 and row["inference_beats_per_s"]["mean"] > 0
        assert set(row["per_class"]) == {"N", "S", "V", "F", "Q"}
        assert {"sensitivity", "precision"} <= set(row["per_class"]["V"])
        assert {"S", "V"} <= set(row["ec57"])
    for run in doc["runs"]:
        assert run["epochs_run"] == 1 and run["n_train"] <= 2000

    md = (out / "accuracy_quick.md").read_text()
    assert md.startswith("# Accuracy benchmark (quick smoke run)")
    assert "Intra-patient split" in md and "| Model | Params | Accuracy | Macro-F1 |" in md
    for name in models:
        assert f"`{name}`" in md
    # published results sit beside ours, each with a source
    published = json.loads((REPO / "benchmarks" / "published.json").read_text())
    assert all(row["source"] for split in ("intra", "inter") for row in published[split])
    assert "Published results for comparison" in md
    assert all(row["reference"] in md for row in published["intra"])

    # --render re-writes the Markdown of a results file without training
    (out / "accuracy_quick.md").unlink()
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "accuracy.py"), "--render",
                           str(out / "accuracy_quick.json")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "accuracy_quick.md").read_text() == md


def test_accuracy_benchmark_quick_with_patient_context(mitdb, tmp_path):
    """The inter-patient configuration's options reach the model and the report, the given
    validation records too."""
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "accuracy.py"), "--quick", "--models", "lstm", "--template",
         "--features", "rr+context", "--splits", "inter", "--records", "100,101,105,106", "--val-records", "106",
         "--out", str(out), "--mitdb", str(mitdb)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    doc = json.loads((out / "accuracy_quick.json").read_text())
    assert doc["meta"]["template"] is True and doc["meta"]["features"] == "rr+context"
    (run,) = doc["runs"]
    assert run["model_args"]["in_channels"] == 2 and run["model_args"]["n_features"] == 11
    md = (out / "accuracy_quick.md").read_text()
    assert "patient-context features" in md and "template channel" in md
    assert run["val_records"] == ["106"] and "validation: records 106" in md
    # --val-records on the intra split, or a record that is not a DS1 training record: one line, exit 2
    for options, message in ((["--quick", "--val-records", "101"], "it needs --splits inter"),
                             (["--quick", "--splits", "inter", "--records", "100,101,105,106", "--val-records", "100"],
                              "100 not among the training records")):
        proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "accuracy.py"), *options, "--out", str(out),
                               "--mitdb", str(mitdb)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
        last = proc.stderr.strip().splitlines()[-1]  # argparse prints its usage first
        assert proc.returncode == 2 and message in last and "Traceback" not in proc.stderr, proc.stderr[-2000:]


def test_ensemble_benchmark_combines_kept_runs(mitdb, tmp_path):
    """benchmarks/ensemble.py groups the kept inter-patient checkpoints by seed, builds the
    ensembles with save_ensemble and reports single models, ensembles and their mean ± std."""
    import torch

    from ecgbeat.checkpoint import save_checkpoint
    from ecgbeat.models import create_model

    runs = tmp_path / "runs"
    for seed in range(4):
        torch.manual_seed(seed)
        model = create_model("lstm", hidden_size=8, embed_dim=8)
        meta = {"classes": ["N", "S", "V", "F", "Q"], "preprocessing": {"fs": 125.0, "n_samples": 187},
                "split": "inter", "seed": seed, "split_info": {"test_records": ["100", "105"]}}
        save_checkpoint(runs / f"inter-seed{seed}-lstm" / "model", model, meta)
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "ensemble.py"), "--runs", str(runs), "--size", "2",
         "--records", "100,105,101", "--threads", "1", "--out", str(out), "--stem", "ens", "--mitdb", str(mitdb)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    doc = json.loads((out / "ens.json").read_text())
    names = [r["name"] for r in doc["rows"]]
    assert names == ["seed 0", "seed 1", "seed 2", "seed 3", "ensemble of seeds 0, 1",
                     "ensemble of seeds 2, 3", "4 single models", "2 ensembles"]
    singles = [r["accuracy"] for r in doc["rows"][:4]]
    assert doc["rows"][6]["accuracy"] == pytest.approx(np.mean(singles))
    assert doc["rows"][6]["accuracy_std"] == pytest.approx(np.std(singles, ddof=1))
    assert all(r["beats_per_s"] > 0 for r in doc["rows"])
    assert doc["meta"]["n_test"] > 4000 and doc["meta"]["size"] == 2  # records 100 and 105 (DS2)
    assert "ensemble of seeds 0, 1" in (out / "ens.md").read_text()


def test_adapt_priors_benchmark_chooses_on_validation(mitdb, tmp_path):
    """benchmarks/adapt_priors.py scores every setting on the runs' validation records, reports no
    adaptation, the best adapted setting and --also settings, for single models and ensembles."""
    import torch

    from ecgbeat.checkpoint import save_checkpoint
    from ecgbeat.models import create_model

    runs = tmp_path / "runs"
    for seed, name in ((0, "lstm"), (1, "lstm"), (0, "cnn_lstm"), (1, "cnn_lstm")):
        torch.manual_seed(seed)
        meta = {"classes": ["N", "S", "V", "F", "Q"], "preprocessing": {"fs": 125.0, "n_samples": 187},
                "split": "inter", "seed": seed}
        save_checkpoint(runs / f"inter-seed{seed}-{name}" / "model", create_model(name, hidden_size=8), meta)
    out = tmp_path / "results"

    def adapt_priors(stem, *options):  # --mix: one family, each ensemble holds both models of its seeds
        proc = subprocess.run(
            [sys.executable, str(REPO / "benchmarks" / "adapt_priors.py"), "--runs", str(runs), "--size", "2",
             "--models", "lstm,cnn_lstm", "--mix", "--records", "100,105,101,106", *options,
             "--out", str(out), "--stem", stem, "--mitdb", str(mitdb)],
            capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]

    adapt_priors("ap", "--also", "1:3000:FQ")
    res = json.loads((out / "ap.json").read_text())["results"]["cnn_lstm+lstm"]
    assert res["seeds"] == [0, 1] and res["groups"] == [[0, 1]] and res["members"] == ["cnn_lstm", "lstm"]
    assert len(res["validation"]) == 46  # no adaptation + the 45-setting grid
    names = [r["setting"] for r in res["rows"]]
    also = "1 EM step, strength 3000, held: F+Q"  # reported once, also when validation chose it
    assert names[0] == "no adaptation" and names[1:] == ([also] if names[1] == also else [names[1], also])
    assert [r["chosen_by_validation"] for r in res["rows"]] == [False] + [True] + [False] * (len(names) - 2)
    best = max(v["val_macro_f1"] for v in res["validation"] if v["setting"] != "no adaptation")
    assert res["rows"][1]["val_macro_f1"] == best
    assert all(len(r["singles"]) == 4 and len(r["ensembles"]) == 1 for r in res["rows"])
    assert "best adapted on validation" in (out / "ap.md").read_text()
    # --af-gate (after any adaptation; it can only take S calls away: no adaptation row), --causal
    adapt_priors("ap_gate", "--af-gate", "--causal")
    gated = json.loads((out / "ap_gate.json").read_text())
    assert gated["meta"]["af_gate"] is True and gated["meta"]["causal"] is True
    assert "AF gate on" in (out / "ap_gate.md").read_text() and "Causal adaptation" in (out / "ap_gate.md").read_text()
    plain, gate = res["rows"][0]["singles"], gated["results"]["cnn_lstm+lstm"]["rows"][0]["singles"]
    assert all(g["S_se"] <= p["S_se"] for g, p in zip(gate, plain))
    # --self-train: its grid scored on validation on top of the chosen setting, the best variant reported
    adapt_priors("ap_st", "--af-gate", "--causal", "--self-train")
    st = json.loads((out / "ap_st.json").read_text())["results"]["cnn_lstm+lstm"]
    assert st["validation"] == gated["results"]["cnn_lstm+lstm"]["validation"]  # the setting: chosen as before
    assert len(st["self_training"]) == 8 and all(v["setting"].startswith(st["best_adapted"] + " + self-training")
                                                for v in st["self_training"])
    rows = st["rows"]
    assert [r["self_train"] is not None for r in rows] == [False, False, True] + [False] * (len(rows) - 3)
    best_st = max(st["self_training"], key=lambda v: v["val_macro_f1"])
    assert rows[2]["self_train"] == best_st["self_train"] and rows[2]["val_macro_f1"] == best_st["val_macro_f1"]
    assert st["self_train_kept"] == (best_st["val_macro_f1"] > rows[1]["val_macro_f1"])
    assert [r["chosen_by_validation"] for r in rows[1:3]] == [not st["self_train_kept"], st["self_train_kept"]]
    assert len(rows[2]["singles"]) == 4 and len(rows[2]["ensembles"]) == 1  # (untrained models: no confident beats)
    assert "Self-training" in (out / "ap_st.md").read_text()
    # --smooth: its strengths scored on top of the chosen setting, self-training then on top of what was kept
    adapt_priors("ap_sm", "--af-gate", "--causal", "--smooth", "--self-train")
    sm = json.loads((out / "ap_sm.json").read_text())["results"]["cnn_lstm+lstm"]
    assert [v["smooth"] for v in sm["smoothing"]] == [0.1, 0.25, 0.5, 1.0]
    best_sm = max(sm["smoothing"], key=lambda v: v["val_macro_f1"])
    assert sm["smooth_kept"] == (best_sm["val_macro_f1"] > st["rows"][1]["val_macro_f1"])
    kept = best_sm["smooth"] if sm["smooth_kept"] else None
    assert all(v["smooth"] == kept for v in sm["self_training"])
    assert [(r["smooth"], r["self_train"] is not None) for r in sm["rows"][:4]] == \
        [(None, False), (None, False), (best_sm["smooth"], False), (kept, True)]
    assert sum(r["chosen_by_validation"] for r in sm["rows"]) == 1
    assert "Beat-to-beat smoothing" in (out / "ap_sm.md").read_text()
    # the chosen row's errors per DS2 record, one count set per ensemble, agree with its EC57 row
    from ecgbeat.datasets import build_beats

    test = build_beats(["100", "105"], mitdb=mitdb)
    chosen = next(r for r in rows if r["chosen_by_validation"])
    assert len(chosen["record_errors"]) == 1 and set(chosen["record_errors"][0]) == {"100", "105"}
    for c, k in (("S", 1), ("V", 2)):
        missed = sum(e[f"missed_{c}"] for e in chosen["record_errors"][0].values())
        assert chosen["ensembles"][0][f"{c}_se"] == pytest.approx(1 - missed / (test.y == k).sum())
    assert "| record | false S | missed S | false V | missed V |" in (out / "ap_st.md").read_text()
    # --validate folds: one ensemble per distinct validation-record set, scored on its beats once
    adapt_priors("ap_folds", "--validate", "folds", "--smooth", "--self-train", "--keep-when", "majority")
    folds = json.loads((out / "ap_folds.json").read_text())
    sets = folds["results"]["cnn_lstm+lstm"]["validation_sets"]
    assert folds["meta"]["validate"] == "folds" and res["validation_sets"] == sets
    assert sorted(r for v in sets for r in v["records"]) == ["101", "106"] and [v["runs"] for v in sets] == [2, 2]
    assert [v["setting"] for v in folds["results"]["cnn_lstm+lstm"]["validation"]] == \
        [v["setting"] for v in res["validation"]]
    assert "by fold" in (out / "ap_folds.md").read_text()
    fold_val = folds["results"]["cnn_lstm+lstm"]["validation"]
    fold_res = folds["results"]["cnn_lstm+lstm"]
    assert all(len(v["val_by_fold"]) == 2 for v in fold_val + fold_res["smoothing"] + fold_res["self_training"])
    by_setting = {v["setting"]: v["val_by_fold"] for v in fold_val + fold_res["smoothing"] + fold_res["self_training"]}
    assert all(row["val_by_fold"] == by_setting[row["setting"]] for row in fold_res["rows"])
    assert folds["results"]["cnn_lstm+lstm"]["leave_one_fold_out"] == []  # needs three folds or more
    assert "Validation macro-F1 by fold" in (out / "ap_folds.md").read_text()
    assert folds["meta"]["keep_when"] == "majority"
    assert "strict majority of the folds" in (out / "ap_folds.md").read_text()
    best_sm = max(fold_res["smoothing"], key=lambda v: v["val_macro_f1"])
    chosen_alone = next(v for v in fold_val if v["setting"] == fold_res["best_adapted"])
    assert fold_res["smooth_kept"] == (best_sm["val_macro_f1"] > chosen_alone["val_macro_f1"] and all(
        c > n for c, n in zip(best_sm["val_by_fold"], chosen_alone["val_by_fold"])))  # 2 folds: both must rise
    # --val-runs: validation-only runs add to their fold (named in their model.json), never to DS2's rows
    from ecgbeat.pipeline import DataSpec, load_split

    drawn = {tuple(v["records"]) for v in sets}
    val_runs = tmp_path / "val_runs"
    n_val = len(load_split(DataSpec(mitdb=str(mitdb), records=("100", "105", "101", "106"), split="inter",
                                    val_records=("106",))).val)
    for name in ("lstm", "cnn_lstm"):
        torch.manual_seed(7)
        meta = {"classes": ["N", "S", "V", "F", "Q"], "preprocessing": {"fs": 125.0, "n_samples": 187},
                "split": "inter", "seed": 7, "train_prior": [0.8, 0.05, 0.1, 0.04, 0.01],
                "split_info": {"val_records": ["106"], "val_records_given": True, "n_val": n_val}}
        save_checkpoint(val_runs / f"inter-seed7-{name}" / "model", create_model(name, hidden_size=8), meta)
    adapt_priors("ap_valruns", "--validate", "folds", "--val-runs", str(val_runs))
    more = json.loads((out / "ap_valruns.json").read_text())
    vr = more["results"]["cnn_lstm+lstm"]
    assert more["meta"]["val_runs"] == str(val_runs) and ("106",) in drawn
    assert {tuple(v["records"]): v["runs"] for v in vr["validation_sets"]} == {("101",): 2, ("106",): 4}
    assert [v["val_macro_f1"] for v in vr["validation"]] != [v["val_macro_f1"] for v in
                                                             folds["results"]["cnn_lstm+lstm"]["validation"]]
    assert vr["rows"][0]["singles"] == folds["results"]["cnn_lstm+lstm"]["rows"][0]["singles"]  # DS2: the runs only
    assert "validation-only runs" in (out / "ap_valruns.md").read_text()
    # an ordinary run among them, or a model missing from them: one line, exit 2
    for name, change, message in (
            ("lstm", lambda m: {**m, "split_info": {**m["split_info"], "n_val": n_val + 1}}, "rebuild"),
            ("lstm", lambda m: {**m, "split_info": {"val_records": ["106"], "n_val": n_val}},
             "not a validation-only run"),
            ("cnn_lstm", None, "no validation-only runs of cnn_lstm+lstm")):
        path = val_runs / f"inter-seed7-{name}" / "model.json"
        if change is None:
            path.unlink()
        else:
            path.write_text(json.dumps(change(json.loads(path.read_text()))))
        proc = subprocess.run(
            [sys.executable, str(REPO / "benchmarks" / "adapt_priors.py"), "--runs", str(runs), "--size", "2",
             "--models", "lstm,cnn_lstm", "--mix", "--records", "100,105,101,106", "--validate", "folds",
             "--val-runs", str(val_runs), "--out", str(out), "--stem", "bad", "--mitdb", str(mitdb)],
            capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        assert message in proc.stderr.strip().splitlines()[-1]
    # --test-runs: DS2 from other checkpoints of the same seeds and models (refits), the choice unchanged
    refits = tmp_path / "refits"
    for seed, name in ((0, "lstm"), (1, "lstm"), (0, "cnn_lstm"), (1, "cnn_lstm")):
        torch.manual_seed(100 + seed)
        run = runs / f"inter-seed{seed}-{name}" / "model.json"
        made = json.loads(run.read_text())
        meta = {"classes": ["N", "S", "V", "F", "Q"], "preprocessing": {"fs": 125.0, "n_samples": 187},
                "split": "inter", "seed": seed, "train_prior": [0.8, 0.05, 0.1, 0.04, 0.01],
                "refit_of": {"checkpoint": str(run), "best_epoch": made.get("best_epoch"),
                             "val_macro_f1": made.get("val_macro_f1")}}
        save_checkpoint(refits / f"inter-seed{seed}-{name}" / "model", create_model(name, hidden_size=8), meta)
    adapt_priors("ap_refit", "--test-runs", str(refits))
    refit = json.loads((out / "ap_refit.json").read_text())
    assert refit["meta"]["test_runs"] == str(refits) and "refits" in (out / "ap_refit.md").read_text()
    assert refit["results"]["cnn_lstm+lstm"]["validation"] == res["validation"]
    assert refit["results"]["cnn_lstm+lstm"]["rows"][0]["singles"] != res["rows"][0]["singles"]
    (refits / "inter-seed1-lstm" / "model.json").write_text(
        (refits / "inter-seed1-lstm" / "model.json").read_text().replace('"seed": 1', '"seed": 7'))
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "adapt_priors.py"), "--runs", str(runs), "--models", "lstm",
         "--records", "100,105,101,106", "--test-runs", str(refits), "--out", str(out), "--mitdb", str(mitdb)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 2 and "not a refit of" in proc.stderr
    # a refit of an earlier training of the run (retrained into the same folder since): refused, not paired
    stale = refits / "inter-seed0-lstm" / "model.json"
    doc = json.loads(stale.read_text())
    stale.write_text(json.dumps({**doc, "refit_of": {**doc["refit_of"], "best_epoch": 99}}))
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "adapt_priors.py"), "--runs", str(runs), "--models", "lstm",
         "--records", "100,105,101,106", "--test-runs", str(refits), "--out", str(out), "--mitdb", str(mitdb)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 2 and "a refit of an earlier training of it" in proc.stderr, proc.stderr[-2000:]


def test_refit_benchmark_refits_every_kept_run_once(mitdb, tmp_path):
    """benchmarks/refit.py: each kept run refitted into the same folder name; a second call keeps them."""
    from ecgbeat.pipeline import DataSpec, load_split, train_model
    from ecgbeat.training import TrainConfig

    runs, refits = tmp_path / "runs", tmp_path / "refits"
    split = load_split(DataSpec(mitdb=str(mitdb), records=("101", "106", "100"), split="inter", seed=0))
    train_model(split, runs / "inter-seed0-lstm", model_args={"hidden_size": 8},
                config=TrainConfig(epochs=2, seed=0, max_threads=1), progress=False, features="rr")

    def refit():
        proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "refit.py"), "--runs", str(runs),
                               "--out", str(refits), "--mitdb", str(mitdb)],
                              capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
        return proc.stdout

    assert "1 refits" in refit() and "0 refits" in refit()
    meta = json.loads((refits / "inter-seed0-lstm" / "model.json").read_text())
    assert meta["refit_of"]["checkpoint"] == str((runs / "inter-seed0-lstm" / "model.json").resolve())
    assert meta["preprocessing"]["features"] == "rr" and meta["model_args"]["hidden_size"] == 8
    assert meta["split_info"]["n_train"] == split.info["n_train"] + split.info["n_val"]
    # a run that cannot be refitted (here: a refit in the runs folder) is one line, exit 2
    (runs / "inter-seed1-lstm").mkdir()
    for name in ("model.json", "model.safetensors"):
        (runs / "inter-seed1-lstm" / name).write_bytes((refits / "inter-seed0-lstm" / name).read_bytes())
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "refit.py"), "--runs", str(runs),
                           "--out", str(refits), "--mitdb", str(mitdb)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 2 and "is a refit already" in proc.stderr, proc.stderr[-2000:]
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("refit.py: error:")
    assert not (refits / "inter-seed1-lstm" / "model.json").exists()
    # the run retrained into its folder since (another best epoch): its old refit is not kept as its refit
    for name in ("model.json", "model.safetensors"):
        (runs / "inter-seed1-lstm" / name).unlink()
    run = runs / "inter-seed0-lstm" / "model.json"
    run.write_text(json.dumps({**json.loads(run.read_text()), "best_epoch": 99}))
    before = (refits / "inter-seed0-lstm" / "model.json").read_bytes()
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "refit.py"), "--runs", str(runs),
                           "--out", str(refits), "--mitdb", str(mitdb)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 2 and "a refit of an earlier training of it" in proc.stderr, proc.stderr[-2000:]
    assert (refits / "inter-seed0-lstm" / "model.json").read_bytes() == before


def test_fold_ensembles_count_each_validation_set_once():
    """adapt_priors.fold_ensembles: runs sharing validation records become one mean-probability entry."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from adapt_priors import fold_ensembles

    def run(records, value, n=3):
        return {"val_records": records, "val": np.full((n, 2), value), "prior": np.array([value, 1 - value]),
                "val_y": np.zeros(n, int), "val_beats": {"record": np.array(records * n)[:n]}}

    got = fold_ensembles([run(["101", "209"], 0.2), run(["106"], 0.5, n=2), run(["101", "209"], 0.4)])
    assert [g["val_records"] for g in got] == [["101", "209"], ["106"]] and [g["n_runs"] for g in got] == [2, 1]
    np.testing.assert_allclose(got[0]["val"], 0.3)
    np.testing.assert_allclose(got[0]["prior"], [0.3, 0.7])
    assert got[1]["val"].shape == (2, 2) and len(got[0]["val_y"]) == 3


def test_leave_one_fold_out_scores_the_choice_on_the_fold_left_out():
    """adapt_priors.leave_one_fold_out: per fold, the adapted setting the *other* folds prefer (pooled),
    scored on the fold left out, with its rank there (ties share the best rank); and scores(): pooled
    macro-F1 and one per fold."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from adapt_priors import GRID, leave_one_fold_out, name, scores

    y = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    folds = [{"val_records": [str(k)], "val_y": y} for k in range(4)]
    good, bad = y.copy(), np.zeros_like(y)
    a, b, c = GRID[:3]  # a (and its copy c) right on folds 0-1, b right on folds 2-3, no adaptation nowhere
    grid_preds = {None: [bad] * 4, a: [good, good, bad, bad], b: [bad, bad, good, good], c: [good, good, bad, bad]}
    got = leave_one_fold_out(folds, grid_preds)
    # the other folds decide: b for folds 0-1, a for 2-3 (all folds would tie and give a; the fold itself a, a, b, b)
    assert [x["chosen"] for x in got] == [name(b), name(b), name(a), name(a)]
    assert [x["rank"] for x in got] == [3, 3, 2, 2] and all(x["of"] == 3 and x["best"] == 1.0 for x in got)
    assert all(x["score"] == x["no_adaptation"] < 0.2 for x in got)
    assert [x["held_out"] for x in got] == [["0"], ["1"], ["2"], ["3"]]
    two = scores(folds[:2], [good, bad], by_fold=True)
    assert two["val_by_fold"][0] == 1.0 and two["val_by_fold"][1] < 0.2
    assert two["val_by_fold"][1] < two["val_macro_f1"] < 1.0 and "val_by_fold" not in scores(folds[:2], [good, bad],
                                                                                              by_fold=False)


def test_a_step_is_kept_on_pooled_validation_or_on_most_folds(tmp_path):
    """adapt_priors.improves: pooled macro-F1 must rise; --keep-when majority also wants most folds up
    (one fold's gain is not enough), and needs --validate folds."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from adapt_priors import improves

    now = {"val_macro_f1": 0.60, "val_by_fold": [0.5, 0.6, 0.6, 0.6, 0.6]}
    one_fold = {"val_macro_f1": 0.62, "val_by_fold": [0.7, 0.59, 0.59, 0.59, 0.61]}  # up on 2 of 5
    most = {"val_macro_f1": 0.61, "val_by_fold": [0.51, 0.61, 0.61, 0.59, 0.59]}  # up on 3 of 5
    assert improves(one_fold, now) and improves(most, now)
    assert not improves(one_fold, now, "majority") and improves(most, now, "majority")
    assert not improves({**most, "val_macro_f1": 0.60}, now, "majority")  # pooled must rise too
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "adapt_priors.py"), "--runs", str(tmp_path),
                           "--keep-when", "majority"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2 and "needs --validate folds" in proc.stderr.strip().splitlines()[-1]


def test_af_detection_benchmark(mitdb, tmp_path):
    """benchmarks/af_detection.py scores the AF gate's detector against the rhythm annotations."""
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "af_detection.py"), "--records", "203,100",
         "--mitdb", str(mitdb), "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    res = json.loads((out / "af_detection.json").read_text())
    by = {r["record"]: r for r in res["records"]}
    assert by["203"]["af"] > 2000 and by["100"]["af"] == 0
    for v in ("all", "skip_v"):
        assert by["203"][v]["af_flagged"] > 0.9 * by["203"]["af"] and by["100"][v]["other_flagged"] == 0
        assert res["summary"][v]["af_sensitivity"] == by["203"][v]["af_flagged"] / by["203"]["af"]
    assert by["203"]["skip_v"] != by["203"]["all"]  # 203's many V beats change the windows
    assert "| 203 | DS1 |" in (out / "af_detection.md").read_text()


def test_analyze_benchmark_records_its_provenance(monkeypatch, tmp_path):
    """benchmarks/analyze.py writes the git commit and the command beside its numbers."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import analyze as bench_analyze

    monkeypatch.setattr(sys, "argv", ["analyze.py", "--only", "accuracy"])
    env = bench_analyze._environment()
    assert env["command"] == "python benchmarks/analyze.py --only accuracy"
    assert env["git_commit"] and isinstance(env["git_dirty"], bool)
    text = bench_analyze.markdown({"environment": env}, "x")
    assert f"`python benchmarks/analyze.py --only accuracy` (commit `{env['git_commit']}`" in text
    from ecgbeat.pipeline import git_commit  # the commit of the repository asked for, not the package's

    assert git_commit(REPO) == env["git_commit"] and git_commit(tmp_path) is None
    # sections merged from runs at two commits: each keeps and shows its own
    made = {k: env[k] for k in ("git_commit", "git_dirty", "command", "date", "cpu")}
    older = {**made, "git_commit": "abc1234", "command": "python benchmarks/analyze.py --quick", "quick": True}
    merged = {"environment": env, "speed": {"provenance": {**made, "quick": False}}, "memory": {"provenance": older}}
    table = "\n".join(bench_analyze.sections_made(merged))
    assert f"| speed | {env['date']} | `{env['git_commit']}`" in table
    assert "| memory |" in table and "`abc1234`" in table
    assert "| yes | `python benchmarks/analyze.py --quick` |" in table


def test_analyze_benchmark_beat_level_self_training(monkeypatch, mitdb):
    """benchmarks/analyze.py --self-train: section (a) at the reference R peaks passes the setting on."""
    import torch

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import analyze as bench_analyze

    from ecgbeat.labels import CLASSES
    from ecgbeat.models import create_model

    torch.manual_seed(0)
    meta = {"classes": list(CLASSES), "train_prior": [0.8, 0.05, 0.1, 0.04, 0.01]}
    pair = (create_model("lstm", patch_size=8, num_layers=1, n_features=5).eval(), meta)
    plain = bench_analyze._beat_level(pair, mitdb, ["119"], True, "5:300:FQ")
    st = bench_analyze._beat_level(pair, mitdb, ["119"], True, "5:300:FQ", "0.2:1")  # every beat teaches
    assert plain["n_reference_beats"] == st["n_reference_beats"] > 1900
    assert st["ec57_matched"] != plain["ec57_matched"]
    T = np.full((5, 5), 0.2)
    T[1] = [0.3, 0.7, 0.0, 0.0, 0.0]
    sm_pair = (pair[0], {**meta, "train_transitions": T.tolist()})
    sm = bench_analyze._beat_level(sm_pair, mitdb, ["119"], True, "5:300:FQ", None, "1")
    assert sm["ec57_matched"] != plain["ec57_matched"]
    text = bench_analyze.markdown({"environment": bench_analyze._environment(), "self_train": "0.2:1",
                                   "smooth": "1"}, "x")
    assert "self-training* (`--self-train 0.2:1`" in text and "smoothing* (`--smooth 1`" in text


def test_class_mix_counts_every_beat_by_record_and_set(mitdb, tmp_path):
    import math

    import wfdb

    from ecgbeat.labels import SYMBOL_TO_CLASS

    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "class_mix.py"), "--mitdb", str(mitdb),
                           "--records", "209,100,232", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["class_mix_subset.json", "class_mix_subset.md"]
    doc = json.loads((tmp_path / "class_mix_subset.json").read_text())
    rows = {row["record"]: row for row in doc["per_record"]}
    assert set(rows) == {"100", "209", "232"} and rows["209"]["set"] == "DS1" and rows["232"]["set"] == "DS2"
    assert sum(row["n"] for row in rows.values()) == doc["meta"]["n_beats"]
    for name, row in rows.items():  # the classes of the annotation file itself, a beat or two lost at the edges
        symbols = wfdb.rdann(str(mitdb / name), "atr").symbol
        for c in "NSVFQ":
            annotated = sum(SYMBOL_TO_CLASS.get(s) == c for s in symbols)
            assert annotated - 2 <= row[c] <= annotated, (name, c, row[c], annotated)
        assert row["n"] == sum(row[c] for c in "NSVFQ")
    ds2 = doc["sets"]["DS2"]
    assert ds2["S"] == rows["100"]["S"] + rows["232"]["S"] and ds2["top"]["S"][0]["record"] == "232"
    t = doc["s_target"]
    assert t["record"] == "232" and t["other_s"] == rows["100"]["S"]
    assert t["needed_from_record"] == math.ceil(0.8 * ds2["S"]) - rows["100"]["S"]
    md = (tmp_path / "class_mix_subset.md").read_text()
    assert f"would still need {t['needed_from_record']:,} of its {rows['232']['S']:,}" in md

    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "class_mix.py"), "--mitdb", str(mitdb),
                           "--records", "100,999", "--out", str(tmp_path / "bad")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 2 and not (tmp_path / "bad").exists()
    assert proc.stderr.count("\n") == 1 and "999" in proc.stderr


def test_frontier_ranks_settings_by_the_targets_they_meet(tmp_path):
    """benchmarks/frontier.py: the diagnostic's ranking (targets met, then shortfall) and its refusal of a
    folder without refits (no checkpoints needed for either)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from frontier import TARGETS, ranked, standing
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    at = dict(TARGETS)
    assert standing(at) == (5, 0.0)
    assert standing({**at, "S_se": 0.788}) == (4, pytest.approx(0.012))
    assert standing({**at, "S_ppv": float("nan")}) == (4, pytest.approx(0.60))  # no S call: undefined +P
    assert standing({**at, "S_ppv": None}) == (4, pytest.approx(0.60))  # as JSON writes it
    rows = ranked([{"setting": "a", "mean": {**at, "S_se": 0.70, "V_se": 0.89}},
                   {"setting": "b", "mean": {**at, "S_se": 0.788}},
                   {"setting": "c", "mean": {**at, "S_se": 0.75}},
                   {"setting": "d", "mean": {**at, "accuracy": 0.99}}])
    assert [r["setting"] for r in rows] == ["d", "b", "c", "a"]
    assert [r["met"] for r in rows] == [5, 4, 4, 3]
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "frontier.py"), "--test-runs", str(tmp_path),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no inter-seed<S>-<model>/model.json" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()
    bad = subprocess.run([sys.executable, str(REPO / "benchmarks" / "frontier.py"), "--test-runs", str(tmp_path),
                          "--self-train", "2:0"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--self-train takes CONFIDENCE:C (0 < confidence <= 1" in bad.stderr
    assert "got '2:0'" in bad.stderr
    size = subprocess.run([sys.executable, str(REPO / "benchmarks" / "frontier.py"), "--test-runs", str(tmp_path),
                           "--size", "0"], capture_output=True, text=True, timeout=120)
    assert size.returncode == 2 and "--size must be a whole number >= 1, got 0" in size.stderr


def test_frontier_scores_every_setting_as_the_pipeline_does(mitdb, tmp_path):
    """benchmarks/frontier.py end to end on two DS2 records: every setting x smoothing x self-training
    scored on each ensemble and ranked; its rows without adaptation, with and without smoothing, equal
    ecgbeat.predict.adjust_proba's own numbers; a record list without DS1 is one line."""
    from ecgbeat.checkpoint import load_checkpoint
    from ecgbeat.datasets import concat
    from ecgbeat.pipeline import DataSpec, load_split, train_model, train_transitions
    from ecgbeat.predict import adjust_proba, af_rr, predict_proba
    from ecgbeat.training import TrainConfig

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from bench_common import ec57_row
        from frontier import ranked
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    runs, records = tmp_path / "refits", "100,105,106,209"
    split = load_split(DataSpec(mitdb=str(mitdb), split="inter", seed=0, records=tuple(records.split(","))))
    for seed, name in ((0, "lstm"), (1, "lstm"), (0, "cnn_lstm"), (1, "cnn_lstm")):  # two quick epochs each
        train_model(split, runs / f"inter-seed{seed}-{name}", model_name=name, model_args={"hidden_size": 8},
                    config=TrainConfig(epochs=2, seed=seed, class_weight="balanced", max_threads=1), progress=False,
                    features="rr")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "frontier.py"), "--test-runs", str(runs),
                           "--models", "lstm,cnn_lstm", "--size", "1", "--gate", "on", "--smooth", "1",
                           "--records", records, "--mitdb", str(mitdb), "--out", str(out), "--stem", "f",
                           "--top", "3"], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    doc = json.loads((out / "f.json").read_text())
    assert list(doc["variants"]) == ["af_gate"] and doc["meta"]["smooth"] == [1.0]
    assert doc["meta"]["groups"] == [[0], [1]] and doc["meta"]["records"] == records.split(",")
    rows = doc["variants"]["af_gate"]
    assert len(rows) == 46 * 2 * 2 and len({r["setting"] for r in rows}) == len(rows)
    assert rows == ranked([{k: v for k, v in r.items() if k not in ("met", "shortfall")} for r in rows])
    for r in rows:
        assert len(r["ensembles"]) == 2
        assert r["mean"]["S_se"] == pytest.approx(np.mean([e["S_se"] for e in r["ensembles"]]))
    assert len(rows[0]["record_errors"]) == 2 and "record_errors" not in rows[1]
    assert len({json.dumps(r["mean"]) for r in rows}) > 1  # the settings do change the calls

    # the same numbers from the library: no adaptation, AF gate, without and with smoothing
    test = split.test
    assert set(test.record) == {"100", "105"}
    transitions = np.asarray(train_transitions(concat([split.train, split.val])))
    by = {r["setting"]: r for r in rows}
    for seed in (0, 1):  # one ensemble per seed (--size 1)
        paths = [runs / f"inter-seed{seed}-{m}" / "model.json" for m in ("cnn_lstm", "lstm")]
        proba = np.mean([predict_proba(load_checkpoint(p)[0], test) for p in paths], axis=0)
        prior = np.mean([load_checkpoint(p)[1]["train_prior"] for p in paths], axis=0)
        for name, smooth in (("no adaptation", None), ("no adaptation + smoothing 1", 1.0)):
            want = adjust_proba(proba, test.record, test.sample, test.classes, prior, None, True, af_rr(test),
                                smooth=None if smooth is None else {"transitions": transitions, "strength": smooth})
            got, expected = by[name]["ensembles"][seed], ec57_row(test.y, want, test.classes)
            assert got == pytest.approx({k: None if np.isnan(v) else v for k, v in expected.items()})
    smoothed = [r for r in rows if r["smooth"] == 1.0]  # smoothing changes some calls
    assert any(r["ensembles"] != by[r["setting"].replace(" + smoothing 1", "")]["ensembles"] for r in smoothed)
    md = (out / "f.md").read_text()
    assert "without and with smoothing 1" in md and "## With the AF gate" in md
    bad = subprocess.run([sys.executable, str(REPO / "benchmarks" / "frontier.py"), "--test-runs", str(runs),
                          "--models", "lstm,cnn_lstm", "--size", "1", "--records", "100,105", "--mitdb", str(mitdb),
                          "--out", str(tmp_path / "bad")], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "DS1" in bad.stderr, bad.stderr[-2000:]
    assert not (tmp_path / "bad").exists()


def test_detection_benchmark_quick_keeps_the_full_results(mitdb, tmp_path, monkeypatch, capsys):
    """``detection.py --quick`` writes ``detection_quick.*`` (never the full run's ``detection.*``),
    with the command and commit that produced it (in process, one record and our detector: the
    baselines take most of a quick run's time and are not what this checks)."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import detection

    monkeypatch.setattr(detection, "QUICK_RECORDS", ("100",))
    monkeypatch.setattr(detection, "available_detectors", lambda streaming: (["ours"], {}))
    out = tmp_path / "det"
    args = ["--quick", "--jobs", "1", "--mitdb", str(mitdb), "--out-dir", str(out)]
    detection.main(args)
    assert sorted(p.name for p in out.iterdir()) == ["detection_quick.json", "detection_quick.md"]
    doc = json.loads((out / "detection_quick.json").read_text())
    assert doc["quick"] is True and doc["command"] == "python benchmarks/detection.py " + " ".join(args)
    assert doc["git_commit"] and doc["totals"]["ours"]["whole"]["se"] > 0.99 and len(doc["records"]) == 1
    assert f"`{doc['command']}`" in (out / "detection_quick.md").read_text()
