"""Beat-to-beat smoothing (ecgbeat.smoothing) on real MIT-BIH beats."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgbeat.errors import EcgbeatError
from ecgbeat.labels import CLASSES
from ecgbeat.smoothing import BeatSmoother, parse_smoothing, smooth_per_record, transition_matrix, transitions_of


def sure_model(y: np.ndarray, unsure: np.ndarray) -> np.ndarray:
    """Probabilities of a model sure (0.96) of every beat's class except the ``unsure`` beats, which
    it calls N at 0.55 against 0.45 for their true class."""
    proba = np.full((len(y), 5), 0.001)
    proba[np.arange(len(y)), y] = 0.96
    proba[unsure] = 0.001
    proba[unsure, 0] = 0.55
    proba[unsure, y[unsure]] = 0.45
    return proba / proba.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def training(small_beats):
    """Transitions and class mix of the small set's beats other than record 209's."""
    tr = small_beats.subset(np.flatnonzero(small_beats.record != "209"))
    return transition_matrix(tr.y, tr.record, tr.sample, 5), np.bincount(tr.y, minlength=5) / len(tr)


def test_transitions_are_counted_within_each_record(small_beats):
    T = transition_matrix(small_beats.y, small_beats.record, small_beats.sample, 5)
    np.testing.assert_allclose(T.sum(axis=1), 1.0)
    one = small_beats.subset(np.flatnonzero(small_beats.record == "119"))  # ventricular bigeminy
    T119 = transition_matrix(one.y, one.record, one.sample, 5)
    assert T119[2, 0] > 0.95 and T119[0, 2] > 0.2  # V is followed by N; N often by V
    # counted within each record in time order: the last beat of one record does not lead to the
    # first of the next, and shuffling the rows changes nothing
    two = small_beats.subset(np.flatnonzero(np.isin(small_beats.record, ["119", "107"])))
    counts = np.ones((5, 5))
    for r in ("119", "107"):
        yr = two.y[two.record == r][np.argsort(two.sample[two.record == r], kind="stable")]
        np.add.at(counts, (yr[:-1], yr[1:]), 1)
    expect = counts / counts.sum(axis=1, keepdims=True)
    shuffled = np.random.default_rng(0).permutation(len(two))
    for order in (np.arange(len(two)), shuffled):
        np.testing.assert_allclose(transition_matrix(two.y[order], two.record[order], two.sample[order], 5), expect)
    with pytest.raises(ValueError, match="labelled"):
        transition_matrix(np.array([0, -1]), np.array(["a", "a"]), np.array([1, 2]), 5)


def test_smoothing_carries_a_run_of_ectopic_beats(small_beats, training):
    """Record 209's supraventricular tachycardia: a model sure of each run's first S beat and unsure of
    the rest calls the rest N; smoothing through the training transitions (S is followed by S in
    runs) finds them, and leaves N and V where they were. Strength 0 changes nothing."""
    T, prior = training
    beats = small_beats.subset(np.flatnonzero(small_beats.record == "209"))
    y = beats.y
    inside = (y == 1) & np.concatenate([[False], y[:-1] == 1])
    assert inside.sum() > 200
    proba = sure_model(y, inside)
    assert (proba[inside].argmax(1) == 0).all()
    out = smooth_per_record(proba, beats.record, beats.sample, T, prior, 1.0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert (out[inside].argmax(1) == 1).mean() > 0.9
    for c in (0, 2):
        assert (out[y == c].argmax(1) == c).mean() > 0.99
    np.testing.assert_allclose(smooth_per_record(proba, beats.record, beats.sample, T, prior, 0.0), proba,
                               atol=1e-12)


def test_the_smoother_is_causal_and_chunk_independent(small_beats, training):
    T, prior = training
    beats = small_beats.subset(np.flatnonzero(small_beats.record == "209"))
    proba = sure_model(beats.y, (beats.y == 1) & np.concatenate([[False], beats.y[:-1] == 1]))
    proba[[5, 400, 401]] = np.nan
    whole = BeatSmoother(T, prior).update(proba)
    assert np.isnan(whole[[5, 400, 401]]).all() and np.isfinite(np.delete(whole, [5, 400, 401], 0)).all()
    s, parts, start = BeatSmoother(T, prior), [], 0
    for size in (1, 7, 300, 2, 5000):
        parts.append(s.update(proba[start:start + size]))
        start += size
    np.testing.assert_allclose(np.concatenate(parts), whole)
    np.testing.assert_allclose(BeatSmoother(T, prior).update(proba[:500]), whole[:500])  # no look-ahead
    with pytest.raises(ValueError, match="strength"):
        BeatSmoother(T, prior, 1.5)
    with pytest.raises(ValueError, match="5 x 5"):
        BeatSmoother(T[:4, :4], prior)


def test_smoothing_keeps_s_out_where_the_gate_fired(small_beats, training):
    """201: S beats before and after its fibrillation; after smoothing, still no S where the gate
    fired (a gated beat's S probability is 0, and smoothing multiplies it)."""
    from ecgbeat.predict import adjust_proba, af_flags, af_rr, gate_af

    T, prior = training
    beats = small_beats.subset(np.flatnonzero(small_beats.record == "201"))
    proba = sure_model(beats.y, np.zeros(len(beats), dtype=bool))
    af = af_flags(proba, af_rr(beats), beats.record, beats.sample, CLASSES)
    assert af.sum() > 500
    out = adjust_proba(proba, beats.record, beats.sample, CLASSES, prior, prev_rr_s=af_rr(beats),
                       smooth={"transitions": T, "strength": 1.0})
    assert (out[af, 1] == 0).all()
    gated = gate_af(proba, af, CLASSES)
    assert np.abs(out - gated).max() > 1e-3  # smoothing did move the other beats


def test_settings_and_checkpoint_transitions_are_checked():
    assert parse_smoothing("1") == 1.0 and parse_smoothing(0.25) == 0.25
    for bad in ("x", "-0.1", "2", None):
        with pytest.raises(EcgbeatError, match="--smooth takes a strength"):
            parse_smoothing(bad)
    meta = {"classes": list(CLASSES)}
    with pytest.raises(EcgbeatError, match="train_transitions"):
        transitions_of(meta)
    with pytest.raises(EcgbeatError, match="row-stochastic"):
        transitions_of({**meta, "train_transitions": [[0.5] * 5] * 5})
    good = np.full((5, 5), 0.2)
    np.testing.assert_allclose(transitions_of({**meta, "train_transitions": good.tolist()}), good)


def test_smoothing_in_evaluate_analyze_and_stream(mitdb, small_beats, training, tmp_path, stream_probabilities):
    """evaluate_beats(smooth=) is adjust_proba with smoothing after the gate (no S where the gate
    fired); analyze and a chunked stream agree; a checkpoint without transitions, a bad strength and
    Kaggle rows are one-line errors."""
    import subprocess
    import sys

    import torch

    from ecgbeat.analyze import AnalyzeConfig, analyze_record
    from ecgbeat.checkpoint import save_checkpoint
    from ecgbeat.io.signals import read_signal, signal_from_array
    from ecgbeat.models import create_model
    from ecgbeat.predict import adjust_proba, af_rr, evaluate_beats, predict_proba

    T, prior = training
    torch.manual_seed(0)
    model = create_model("lstm", patch_size=8, num_layers=1, n_features=5).eval()
    meta = {"classes": list(CLASSES), "train_prior": prior.tolist(), "train_transitions": T.tolist()}
    beats = small_beats.subset(np.flatnonzero(np.isin(small_beats.record, ["201", "232"])))
    metrics, proba = evaluate_beats(model, meta, beats, af_gate=True, smooth="1")
    assert metrics["smooth"] == 1.0
    expect = adjust_proba(predict_proba(model, beats), beats.record, beats.sample, CLASSES, prior, None, False,
                          af_rr(beats), smooth={"transitions": T, "strength": 1.0})
    np.testing.assert_allclose(proba, expect, atol=1e-5)
    _, plain = evaluate_beats(model, meta, beats, af_gate=True)
    assert np.abs(proba - plain).max() > 0.05
    with pytest.raises(EcgbeatError, match="train_transitions"):
        evaluate_beats(model, {"classes": list(CLASSES), "train_prior": prior.tolist()}, beats, smooth=1)

    sig = read_signal(mitdb / "232")
    sig = signal_from_array(sig.signal_mV[: int(300 * sig.fs)], sig.fs, name="232")
    pair = (model, {**meta, "model": "lstm"})
    config = AnalyzeConfig(scaling="causal", af_gate=True, smooth="1")
    result = analyze_record(sig, pair, config)
    assert result.summary["smooth"] == 1.0
    plain = analyze_record(sig, pair, AnalyzeConfig(scaling="causal", af_gate=True)).proba
    assert np.abs(np.nan_to_num(result.proba - plain)).max() > 0.05
    assert np.allclose(stream_probabilities(pair, sig, config), result.proba, atol=1e-5, equal_nan=True)

    save_checkpoint(tmp_path / "m" / "model", model, {**meta, "split": "inter", "seed": 0,
                                                       "preprocessing": {"fs": 125.0, "n_samples": 187}})
    save_checkpoint(tmp_path / "old" / "model", model, {"classes": list(CLASSES), "train_prior": prior.tolist(),
                                                         "preprocessing": {"fs": 125.0, "n_samples": 187}})

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "ecgbeat", *map(str, args)], capture_output=True, text=True,
                              timeout=600)

    out = cli("evaluate", tmp_path / "m" / "model.json", "--mitdb", mitdb, "--records", "119,100", "--smooth", "1",
              "--out", tmp_path / "e")
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads((tmp_path / "e" / "metrics.json").read_text())["smooth"] == 1.0
    for args, msg in (((tmp_path / "m" / "model.json", "--smooth", "7"), "--smooth takes a strength"),
                      ((tmp_path / "old" / "model.json", "--smooth", "1"), "train_transitions")):
        out = cli("analyze", "--checkpoint", args[0], mitdb / "119", "--out", tmp_path / "a", "--no-plot", *args[1:])
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and msg in out.stderr
        assert not (tmp_path / "a").exists()
    rows = np.hstack([np.random.default_rng(0).uniform(0, 1, (30, 187)), np.zeros((30, 1))])
    np.savetxt(tmp_path / "k.csv", rows, delimiter=",", fmt="%.4f")
    out = cli("evaluate", tmp_path / "m" / "model.json", "--test-csv", tmp_path / "k.csv", "--smooth", "1",
              "--out", tmp_path / "k")
    assert out.returncode == 2 and "not Kaggle CSV rows" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_training_records_the_transitions(mitdb, tmp_path):
    """train_model stores its training beats' transitions; an ensemble averages its members'."""
    from ecgbeat.checkpoint import save_ensemble
    from ecgbeat.pipeline import DataSpec, load_split, train_model
    from ecgbeat.training import TrainConfig

    metas = []
    for seed in (0, 1):  # inter-patient: members of any seed may form an ensemble
        split = load_split(DataSpec(mitdb=str(mitdb), records=("101", "106", "119", "100"), split="inter", seed=seed))
        _, meta = train_model(split, tmp_path / f"r{seed}", model_args={"hidden_size": 8},
                              config=TrainConfig(epochs=1, seed=seed, max_threads=1), progress=False)
        t = split.train
        np.testing.assert_allclose(meta["train_transitions"], transition_matrix(t.y, t.record, t.sample, 5))
        metas.append(meta)
    _, ens = save_ensemble([tmp_path / "r0" / "model.json", tmp_path / "r1" / "model.json"], tmp_path / "ens")
    np.testing.assert_allclose(ens["train_transitions"],
                               np.mean([m["train_transitions"] for m in metas], axis=0))


def test_transitions_need_whole_records(mitdb, tmp_path):
    """An intra-patient checkpoint stores no transitions (its training beats are a random part of
    each record), evaluate refuses --smooth on an intra split, an ensemble averages transitions only
    when every member has them, a malformed matrix is a one-line error, and so is a bad --smooth on
    stream."""
    import subprocess
    import sys

    from ecgbeat.checkpoint import read_checkpoint_meta, save_ensemble
    from ecgbeat.pipeline import DataSpec, evaluate, load_split, train_model
    from ecgbeat.training import TrainConfig

    intra = load_split(DataSpec(mitdb=str(mitdb), records=("119", "100"), split="intra", seed=0))
    inter = load_split(DataSpec(mitdb=str(mitdb), records=("101", "106", "119", "100"), split="inter", seed=0))
    cfg = TrainConfig(epochs=1, seed=0, max_threads=1)
    _, m_intra = train_model(intra, tmp_path / "intra", model_args={"hidden_size": 8}, config=cfg, progress=False)
    _, m_inter = train_model(inter, tmp_path / "inter", model_args={"hidden_size": 8}, config=cfg, progress=False)
    assert m_intra["train_transitions"] is None and len(m_inter["train_transitions"]) == 5
    for option in ({"smooth": 1}, {"af_gate": True}):  # the AF detector reads successive RR intervals too
        with pytest.raises(EcgbeatError, match="inter-patient split"):
            evaluate(tmp_path / "inter" / "model.json", intra, tmp_path / "e", **option)
    assert not (tmp_path / "e").exists()
    # inter training beats validated by beat are a random 80 % of each record: no transitions either
    by_beat = load_split(DataSpec(mitdb=str(mitdb), records=("101", "106", "119", "100"), split="inter", seed=0,
                                  val_by="beat"))
    _, m_beat = train_model(by_beat, tmp_path / "by_beat", model_args={"hidden_size": 8}, config=cfg, progress=False)
    assert m_beat["train_transitions"] is None
    from ecgbeat.pipeline import refit_model  # its refit trains on every beat of those records: transitions again

    _, m_refit = refit_model(tmp_path / "by_beat" / "model.json", tmp_path / "by_beat_refit", mitdb=mitdb,
                             progress=False)
    assert len(m_refit["train_transitions"]) == 5
    other = tmp_path / "inter2"
    split1 = load_split(DataSpec(mitdb=str(mitdb), records=("101", "106", "119", "100"), split="inter", seed=1))
    train_model(split1, other, model_args={"hidden_size": 8}, config=TrainConfig(epochs=1, seed=1, max_threads=1),
                progress=False)
    meta_path = other / "model.json"
    meta = json.loads(meta_path.read_text())
    meta.pop("train_transitions")
    meta_path.write_text(json.dumps(meta))
    _, ens = save_ensemble([tmp_path / "inter" / "model.json", meta_path], tmp_path / "ens")
    assert "train_transitions" not in ens and "train_transitions" not in read_checkpoint_meta(tmp_path / "ens.json")
    with pytest.raises(EcgbeatError, match="row-stochastic"):
        transitions_of({"classes": list(CLASSES), "train_transitions": [[1, 2], [3]]})
    out = subprocess.run([sys.executable, "-m", "ecgbeat", "stream", str(mitdb / "100"), "--checkpoint",
                          str(tmp_path / "inter" / "model.json"), "--speed", "0", "--smooth", "x"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "--smooth takes" in out.stderr
