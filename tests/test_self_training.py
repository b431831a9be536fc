"""Per-patient self-training (ecgbeat.self_training) on real MIT-BIH beats."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgbeat.self_training import SelfTrainer, self_train_per_record, self_training_features


def one_record(beats, name: str):
    return beats.subset(np.flatnonzero(beats.record == name))


def hesitant_model(y: np.ndarray, rng, hesitate: np.ndarray) -> np.ndarray:
    """Probabilities of a model that is confident (0.9) and right on most beats, and on the
    ``hesitate`` beats wrong but unsure (0.55 N against 0.45 for the true class)."""
    proba = np.full((len(y), 5), 0.025)
    proba[np.arange(len(y)), y] = 0.9
    proba[hesitate] = 0.0
    proba[hesitate, 0] = 0.55
    proba[hesitate, y[hesitate]] = 0.45
    proba += rng.uniform(0, 0.01, proba.shape)  # no exact ties
    return proba / proba.sum(axis=1, keepdims=True)


def test_features_use_the_template_when_there_is_one(small_beats):
    beats = one_record(small_beats, "119")
    F = self_training_features(beats)
    assert F.shape == (len(beats), 5 + 6 + 24) and np.isfinite(F).all()
    bare = type(beats)(X=beats.X, y=beats.y, rr_s=beats.rr_s, fs=beats.fs, classes=beats.classes)
    assert self_training_features(bare).shape == (len(beats), 5 + 24)  # the beat itself instead


def test_self_training_recovers_a_patients_hesitant_ectopic_beats(small_beats, rng):
    """Record 119 (bigeminy, 444 V beats): a model unsure about a third of the V beats calls them N;
    the V beats it is sure of teach the patient's classifier what this patient's V looks like."""
    beats = one_record(small_beats, "119")
    y = beats.y
    v = np.flatnonzero(y == 2)
    assert len(v) > 400
    hesitate = rng.choice(v, size=len(v) // 3, replace=False)
    proba = hesitant_model(y, rng, hesitate)
    assert (proba[hesitate].argmax(1) == 0).all()
    out = self_train_per_record(proba, self_training_features(beats), beats.record, beats.sample, causal=False,
                                confidence=0.8)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert (out[hesitate].argmax(1) == 2).mean() > 0.9  # found again
    n = np.flatnonzero(y == 0)
    assert (out[n].argmax(1) == 0).mean() > 0.99  # normal beats stay normal
    # classes the classifier did not learn (too few confident beats) keep the model's probabilities
    np.testing.assert_allclose(out[:, 3], proba[:, 3])
    np.testing.assert_allclose(out[:, 4], proba[:, 4])


def test_causal_self_training_learns_from_earlier_beats_only(small_beats, rng):
    beats = one_record(small_beats, "119")
    v = np.flatnonzero(beats.y == 2)
    hesitate = rng.choice(v, size=len(v) // 3, replace=False)
    proba = hesitant_model(beats.y, rng, hesitate)
    F = self_training_features(beats)
    order = np.argsort(beats.sample)
    assert (order == np.arange(len(beats))).all()  # beats of a record come in time order
    out = SelfTrainer(5, confidence=0.8, every=256).update(proba, F)
    np.testing.assert_array_equal(out[:256], proba[:256])  # nothing learnt before the first refit
    late = hesitate[hesitate >= 512]
    assert (out[late].argmax(1) == 2).mean() > 0.9
    # the future cannot change the past: the first 1,000 beats alone give the same output
    np.testing.assert_allclose(SelfTrainer(5, confidence=0.8).update(proba[:1000], F[:1000]), out[:1000])
    # any chunking gives the same output, unreadable (NaN) rows pass through
    proba_nan = proba.copy()
    proba_nan[[3, 700, 701]] = np.nan
    whole = SelfTrainer(5, confidence=0.8).update(proba_nan, F)
    trainer, parts, start = SelfTrainer(5, confidence=0.8), [], 0
    for size in (1, 300, 7, 511, 256, 10_000):
        parts.append(trainer.update(proba_nan[start:start + size], F[start:start + size]))
        start += size
    np.testing.assert_allclose(np.concatenate(parts), whole)
    assert np.isnan(whole[[3, 700, 701]]).all() and np.isfinite(np.delete(whole, [3, 700, 701], 0)).all()
    # history bounds memory
    small = SelfTrainer(5, history=300)
    small.update(proba, F)
    assert len(small._proba) == 300 and len(small._features) == 300


def test_each_record_is_its_own_patient(small_beats, rng):
    two = small_beats.subset(np.flatnonzero(np.isin(small_beats.record, ["119", "100"])))
    proba = hesitant_model(two.y, rng, np.zeros(len(two), dtype=bool))
    F = self_training_features(two)
    together = self_train_per_record(proba, F, two.record, two.sample, causal=False)
    for name in ("119", "100"):
        idx = np.flatnonzero(two.record == name)
        alone = self_train_per_record(proba[idx], F[idx], two.record[idx], two.sample[idx], causal=False)
        np.testing.assert_allclose(together[idx], alone)
    # 100 has 33 S beats: learnt with min_count 20 (the default), but with 50 only N has enough
    # confident beats, so there is nothing to learn and the probabilities stay as they were
    idx = np.flatnonzero(two.record == "100")
    assert (two.y[idx] == 1).sum() == 33 and (two.y[idx] == 0).mean() > 0.98
    assert not np.allclose(together[idx], proba[idx])
    np.testing.assert_allclose(self_train_per_record(proba[idx], F[idx], two.record[idx], two.sample[idx],
                                                     causal=False, min_count=50), proba[idx])


def test_adjust_proba_self_trains_after_the_gate_and_gates_again(small_beats, rng):
    from ecgbeat.labels import CLASSES
    from ecgbeat.predict import adjust_proba, af_flags, af_rr

    beats = one_record(small_beats, "201")  # atrial fibrillation episodes, and S beats outside them
    assert (beats.y == 1).sum() > 100
    proba = hesitant_model(beats.y, rng, np.zeros(len(beats), dtype=bool))  # sure of every beat's class
    F = self_training_features(beats)
    out = adjust_proba(proba, beats.record, beats.sample, CLASSES, prev_rr_s=af_rr(beats), self_train={},
                       features=F)
    gated = adjust_proba(proba, beats.record, beats.sample, CLASSES, prev_rr_s=af_rr(beats))
    assert np.abs(out - gated).max() > 1e-3  # a classifier with S among its classes was fitted
    af = af_flags(proba, af_rr(beats), beats.record, beats.sample, CLASSES)
    assert af.sum() > 100
    assert (out[af, 1] == 0).all()  # no S in the fibrillation stretches, after self-training too
    # without the second gate the classifier would give them some S probability
    again = self_train_per_record(gated, F, beats.record, beats.sample, causal=False)
    assert (again[af, 1] > 0).all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="features"):
        adjust_proba(proba, beats.record, beats.sample, CLASSES, self_train={})


def test_bad_settings_are_refused(small_beats):
    for kwargs in ({"confidence": 0.0}, {"confidence": 1.5}, {"C": 0}, {"min_count": 0}, {"every": 0},
                   {"history": 0}):
        with pytest.raises(ValueError, match="self-training needs"):
            SelfTrainer(5, **kwargs)
    with pytest.raises(ValueError, match="feature rows"):
        SelfTrainer(5).update(np.full((3, 5), 0.2), np.zeros((2, 4)))


def test_self_training_through_evaluate_analyze_and_stream(mitdb, small_beats, stream_probabilities):
    """evaluate_beats(self_train=...) is adjust_proba with self-training; analyze and a chunked stream
    with AnalyzeConfig.self_train agree, learn nothing before the first refit, and change the rest.
    (An untrained model is rarely sure of anything, so confidence 0.2 lets every beat teach.)"""
    import torch

    from ecgbeat.analyze import AnalyzeConfig, analyze_record
    from ecgbeat.errors import EcgbeatError
    from ecgbeat.io.signals import read_signal, signal_from_array
    from ecgbeat.labels import CLASSES
    from ecgbeat.models import create_model
    from ecgbeat.predict import adjust_proba, evaluate_beats, predict_proba

    torch.manual_seed(0)
    model = create_model("lstm", patch_size=8, num_layers=1, n_features=5).eval()
    meta = {"classes": list(CLASSES), "train_prior": [0.8, 0.05, 0.1, 0.04, 0.01]}
    beats = small_beats.subset(np.flatnonzero(np.isin(small_beats.record, ["119", "232"])))
    metrics, proba = evaluate_beats(model, meta, beats, adapt="5:300:FQ", causal=True, af_gate=True,
                                    self_train="0.2:1")
    assert metrics["self_train"] == "0.2:1 (causal)"
    from ecgbeat.predict import af_rr

    expect = adjust_proba(predict_proba(model, beats), beats.record, beats.sample, CLASSES, meta["train_prior"],
                          (5, 300.0, (3, 4)), True, af_rr(beats), self_train={"confidence": 0.2, "C": 1.0},
                          features=self_training_features(beats))
    np.testing.assert_allclose(proba, expect, atol=1e-5)
    _, without = evaluate_beats(model, meta, beats, adapt="5:300:FQ", causal=True, af_gate=True)
    assert np.abs(proba - without).max() > 0.05
    with pytest.raises(EcgbeatError, match="CONFIDENCE:C"):
        evaluate_beats(model, meta, beats, self_train="0.8")

    sig = read_signal(mitdb / "232")
    sig = signal_from_array(sig.signal_mV[: int(600 * sig.fs)], sig.fs, name="232")  # about 600 beats
    pair = (model, {**meta, "model": "lstm"})
    base = AnalyzeConfig(scaling="causal", adapt="5:300:FQ", af_gate=True)
    config = AnalyzeConfig(scaling="causal", adapt="5:300:FQ", af_gate=True, self_train="0.2:1")
    plain, result = analyze_record(sig, pair, base), analyze_record(sig, pair, config)
    assert result.summary["self_train"] == "0.2:1" and plain.summary["self_train"] is None
    readable = np.flatnonzero(np.isfinite(result.proba).all(axis=1))
    assert len(readable) > 300
    np.testing.assert_allclose(result.proba[readable[:256]], plain.proba[readable[:256]], atol=1e-6)
    assert np.abs(result.proba[readable[256:]] - plain.proba[readable[256:]]).max() > 0.05
    # 0.5-s chunks, the CLI's default: a first chunk may hold a single beat, without RR
    assert np.allclose(stream_probabilities(pair, sig, config), result.proba, atol=1e-5, equal_nan=True)
    with pytest.raises(EcgbeatError, match="CONFIDENCE:C"):
        analyze_record(sig, pair, AnalyzeConfig(self_train="1.5:1"))
    # a model without patient context still gets the patient's template for self-training, as
    # beats cut offline have it: RR (5) + context (6) + beat minus template (24) features
    from ecgbeat.self_training import SelfTrainer

    widths, update = [], SelfTrainer.update

    def spy(self, proba, features):
        widths.append(features.shape[1])
        return update(self, proba, features)

    SelfTrainer.update = spy
    try:
        analyze_record(signal_from_array(sig.signal_mV[: int(60 * sig.fs)], sig.fs, name="232"), pair, config)
    finally:
        SelfTrainer.update = update
    assert widths and set(widths) == {35}


def test_cli_self_train_options(mitdb, tmp_path):
    """--self-train on evaluate and analyze: a bad setting and Kaggle rows without RR are one-line errors."""
    import subprocess
    import sys

    import torch

    from ecgbeat.checkpoint import save_checkpoint
    from ecgbeat.labels import CLASSES
    from ecgbeat.models import create_model

    torch.manual_seed(0)
    meta = {"classes": list(CLASSES), "train_prior": [0.8, 0.05, 0.1, 0.04, 0.01], "split": "inter", "seed": 0,
            "preprocessing": {"fs": 125.0, "n_samples": 187}}
    save_checkpoint(tmp_path / "m" / "model", create_model("lstm", patch_size=8, num_layers=1, n_features=5), meta)

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "ecgbeat", *map(str, args)], capture_output=True, text=True,
                              timeout=600, env={**__import__("os").environ, "MPLBACKEND": "Agg"})

    out = cli("evaluate", tmp_path / "m" / "model.json", "--mitdb", mitdb, "--records", "119,100",
              "--self-train", "0.2:1", "--out", tmp_path / "e")
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads((tmp_path / "e" / "metrics.json").read_text())["self_train"] == "0.2:1"
    out = cli("analyze", "--checkpoint", tmp_path / "m" / "model.json", mitdb / "119", "--out", tmp_path / "a",
              "--no-plot", "--self-train", "0.2:1")
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads((tmp_path / "a" / "119_summary.json").read_text())["self_train"] == "0.2:1"
    for bad in ("0:1", "0.8", "a:b", "0.8:0"):
        out = cli("analyze", "--checkpoint", tmp_path / "m" / "model.json", mitdb / "119", "--out", tmp_path / "b",
                  "--no-plot", "--self-train", bad)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "CONFIDENCE:C" in out.stderr
        assert not (tmp_path / "b").exists()
    rows = np.hstack([np.random.default_rng(0).uniform(0, 1, (30, 187)), np.zeros((30, 1))])
    np.savetxt(tmp_path / "k.csv", rows, delimiter=",", fmt="%.4f")
    out = cli("evaluate", tmp_path / "m" / "model.json", "--test-csv", tmp_path / "k.csv", "--self-train", "0.8:1",
              "--out", tmp_path / "k")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "self-training needs each beat's RR intervals" in out.stderr
