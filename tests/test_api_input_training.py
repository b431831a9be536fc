"""Bad input to the Python API of training, inference and metrics: one-line EcgbeatErrors naming the
argument (or beat set), never NaN weights, NaN probabilities read as class N, or a deep traceback.
Real beats of MIT-BIH records 100, 106, 119 and 208; tiny models, one epoch."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch

from ecgbeat.errors import EcgbeatError
from ecgbeat.labels import CLASSES
from ecgbeat.models import create_model
from ecgbeat.training import TrainConfig, train

TINY = {"hidden_size": 8, "num_layers": 1, "patch_size": 8}
ONE_EPOCH = TrainConfig(epochs=1, batch_size=32, seed=0)


@pytest.fixture(scope="module")
def beats(mitdb):
    from ecgbeat.datasets import build_beats

    return build_beats(["100", "106", "119", "208"], mitdb=mitdb)


def _rows(beats, counts: dict[str, int], skip: int = 0) -> np.ndarray:
    """Beats ``skip`` to ``skip + counts[c]`` of each class ``c``, in record order."""
    return np.sort(np.concatenate([np.flatnonzero(beats.y == CLASSES.index(c))[skip:skip + k]
                                   for c, k in counts.items()]))


@pytest.fixture(scope="module")
def sets(beats):
    """Small training (60 N, 20 V, 10 F) and validation (30 N, 10 V, 5 F) sets of real beats."""
    return (beats.subset(_rows(beats, {"N": 60, "V": 20, "F": 10})),
            beats.subset(_rows(beats, {"N": 30, "V": 10, "F": 5}, skip=100)))


def tiny(**kwargs):
    torch.manual_seed(0)
    return create_model("lstm", **TINY, **kwargs)


def changed(beats, **fields):
    """A copy of ``beats`` with ``fields`` replaced (arrays copied first, then edited by the caller)."""
    return dataclasses.replace(beats, **fields)


def with_bad_sample(beats, rows, value=np.nan):
    X = beats.X.copy()
    X[rows, 40] = value
    return changed(beats, X=X)


def with_labels(beats, rows, label):
    y = beats.y.copy()
    y[rows] = label
    return changed(beats, y=y)


def _one_line(info) -> str:
    message = str(info.value)
    assert "\n" not in message
    return message


# 1. train -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_train_refuses_non_finite_training_samples(sets, value):
    train_set, val_set = sets
    model = tiny()
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(EcgbeatError) as info:
        train(model, with_bad_sample(train_set, [3, 50], value), val_set, ONE_EPOCH, progress=False)
    assert _one_line(info) == (f"training beats: 2 of {len(train_set)} beat(s) with non-finite (NaN or inf) samples, "
                               "the first at index 3; leave such beats out (or repair them) before training")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # refused before any step


def test_train_refuses_non_finite_validation_samples(sets):
    train_set, val_set = sets
    with pytest.raises(EcgbeatError, match=r"^validation beats: 1 of \d+ beat\(s\) with non-finite \(NaN or inf\) "
                                           r"samples, the first at index 7;"):
        train(tiny(), train_set, with_bad_sample(val_set, [7]), ONE_EPOCH, progress=False)


def test_train_refuses_non_finite_template_and_rr_features(sets):
    train_set, val_set = sets
    template = train_set.template.copy()
    template[4, 10] = np.nan
    with pytest.raises(EcgbeatError, match=r"^training beats: 1 of \d+ beat\(s\) with non-finite \(NaN or inf\) "
                                           r"template samples, the first at index 4"):
        train(tiny(in_channels=2), changed(train_set, template=template), val_set, ONE_EPOCH, progress=False)
    rr = train_set.rr_s.copy()
    rr[[9, 12], 0] = np.inf  # a NaN RR is "unknown" and filled in; an infinite one is not
    with pytest.raises(EcgbeatError, match=r"^training beats: 2 of \d+ beat\(s\) with non-finite \(NaN or inf\) "
                                           r"RR/context features, the first at index 9"):
        train(tiny(n_features=5), changed(train_set, rr_s=rr), val_set, ONE_EPOCH, progress=False)
    # a template the model does not read is not checked
    result = train(tiny(), changed(train_set, template=template), val_set, ONE_EPOCH, progress=False)
    assert np.isfinite(result.history[0]["train_loss"])


def test_train_needs_labelled_beats_in_range(sets):
    train_set, val_set = sets
    with pytest.raises(EcgbeatError) as info:
        train(tiny(), with_labels(train_set, [5, 6, 70], -1), val_set, ONE_EPOCH, progress=False)
    assert _one_line(info) == ("training beats: 3 beat(s) unlabelled (label -1), the first at index 5; training "
                               "needs labelled beats: leave the others out")
    with pytest.raises(EcgbeatError, match=r"^validation beats: 1 beat\(s\) unlabelled \(label -1\), the first at "
                                           r"index 2; training needs labelled beats"):
        train(tiny(), train_set, with_labels(val_set, [2], -1), ONE_EPOCH, progress=False)
    with pytest.raises(EcgbeatError, match=r"^training beats: 1 label\(s\) outside 0\.\.4 \(the model's 5 classes\), "
                                           r"the first at index 8: 7$"):
        train(tiny(), with_labels(train_set, [8], 7), val_set, ONE_EPOCH, progress=False)
    floats = changed(train_set, y=train_set.y.astype(np.float64))
    with pytest.raises(EcgbeatError, match=r"^training beats: labels must be class indices \(whole numbers\), got "
                                           r"float64 values$"):
        train(tiny(), floats, val_set, ONE_EPOCH, progress=False)


def test_train_refuses_a_model_built_for_other_beats(sets):
    train_set, val_set = sets
    with pytest.raises(EcgbeatError, match=r"^training beats: the model takes beats of 100 samples, these have 187 "
                                           r"\(create the model with n_samples=187\)$"):
        train(tiny(n_samples=100), train_set, val_set, ONE_EPOCH, progress=False)
    with pytest.raises(EcgbeatError, match=r"^the model has 3 outputs but the training beats have 5 classes "
                                           r"\(N, S, V, F, Q\)$"):
        train(tiny(n_classes=3), train_set, val_set, ONE_EPOCH, progress=False)


def test_train_refuses_training_beats_of_one_class(beats, sets):
    only_n = beats.subset(_rows(beats, {"N": 40}))
    with pytest.raises(EcgbeatError, match=r"^training beats: all 40 are of one class \(N\); a classifier needs two "
                                           r"or more$"):
        train(tiny(), only_n, sets[1], ONE_EPOCH, progress=False)


def test_valid_training_still_trains_and_int32_labels_train_the_same(sets):
    train_set, val_set = sets
    runs = []
    for dtype in (np.int64, np.int32):
        result = train(tiny(), changed(train_set, y=train_set.y.astype(dtype)),
                       changed(val_set, y=val_set.y.astype(dtype)), ONE_EPOCH, progress=False)
        assert all(torch.isfinite(p).all() for p in result.model.parameters())
        runs.append(result.history[0])
    assert np.isfinite(runs[0]["train_loss"]) and 0.0 <= runs[0]["val_macro_f1"] <= 1.0
    assert {k: v for k, v in runs[0].items() if k != "seconds"} == {k: v for k, v in runs[1].items() if k != "seconds"}


# 2-3. predict_proba and what calls it --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_predict_proba_refuses_unreadable_beats(sets, value):
    from ecgbeat.predict import predict_proba

    beats = with_bad_sample(sets[1], [5, 6], value)
    with pytest.raises(EcgbeatError) as info:
        predict_proba(tiny(), beats)
    assert _one_line(info) == ("2 of 45 beat(s) with non-finite (NaN or inf) samples, the first at index 5; leave "
                               "unreadable beats out before classifying (as ecgbeat.analyze does)")
    ok = np.setdiff1d(np.arange(len(beats)), [5, 6])
    proba = predict_proba(tiny(), beats.subset(ok))  # the readable beats alone are classified
    assert proba.shape == (43, 5) and np.isfinite(proba).all()


def test_evaluate_and_prediction_csv_refuse_unreadable_beats(sets, tmp_path):
    from ecgbeat.predict import evaluate_beats, predict_proba, write_predictions_csv

    meta = {"classes": list(CLASSES)}
    with pytest.raises(EcgbeatError, match=r"^1 of 45 beat\(s\) with non-finite \(NaN or inf\) samples, the first at "
                                           r"index 0; leave unreadable beats out"):
        evaluate_beats(tiny(), meta, with_bad_sample(sets[1], [0]))
    proba = predict_proba(tiny(), sets[1])
    bad = proba.copy()
    bad[3] = np.nan
    with pytest.raises(EcgbeatError, match=r"^proba has 1 non-finite \(NaN or inf\) row\(s\), the first at index 3: "
                                           r"leave unreadable beats out$"):
        write_predictions_csv(tmp_path / "p.csv", bad, CLASSES, sets[1])
    with pytest.raises(EcgbeatError, match=r"^proba must have shape \(beats, 5 classes\) = \(45, 5\), got \(44, 5\)$"):
        write_predictions_csv(tmp_path / "p.csv", proba[:-1], CLASSES, sets[1])
    assert not (tmp_path / "p.csv").exists()
    write_predictions_csv(tmp_path / "p.csv", proba, CLASSES, sets[1])
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 46


@pytest.mark.parametrize("batch_size", [-1, 0, 2.5, True, "8", None])
def test_bad_batch_size_is_refused(sets, batch_size):
    from ecgbeat.predict import predict_proba
    from ecgbeat.training import predict_logits

    expected = "^" + re.escape(f"batch_size must be a whole number >= 1, got {batch_size!r}") + "$"
    with pytest.raises(EcgbeatError, match=expected):
        predict_proba(tiny(), sets[1], batch_size=batch_size)
    X = sets[1].X[:, None, :].astype(np.float32)
    with pytest.raises(EcgbeatError, match="batch_size must be a whole number >= 1"):
        predict_logits(tiny(), X, batch_size=batch_size)


def test_valid_batch_sizes_give_the_same_probabilities(sets):
    from ecgbeat.predict import predict_proba

    model = tiny()
    default = predict_proba(model, sets[1])
    for size in (1, 7, np.int64(16), 10_000):
        np.testing.assert_allclose(predict_proba(model, sets[1], batch_size=size), default, rtol=0, atol=1e-6)


def test_analyze_classifies_the_readable_beats_around_a_gap(mitdb):
    """analyze leaves unreadable beats out of predict_proba: a NaN gap gives "unreadable" beats, not an error."""
    from ecgbeat.analyze import UNREADABLE, AnalyzeConfig, analyze_record
    from ecgbeat.io.signals import read_signal, signal_from_array

    sig = read_signal(mitdb / "119")
    x = sig.signal_mV[: int(60 * sig.fs)].copy()
    x[int(20 * sig.fs): int(25 * sig.fs)] = np.nan
    result = analyze_record(signal_from_array(x, sig.fs, name="119"), tiny().eval(), AnalyzeConfig())
    readable = np.asarray(result.label) != UNREADABLE
    assert readable.sum() > 40 and (~readable).sum() >= 1
    assert np.isfinite(result.proba[readable]).all() and np.isnan(result.proba[~readable]).all()


# 4. metrics ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("y_true, y_pred, message", [
    ([0, 7, 1], [0, 0, 1], r"^y_true: 1 label\(s\) outside 0\.\.4 \(the 5 classes\), the first at index 1: 7$"),
    ([0, -1, 1], [0, 0, 1], r"^y_true: 1 label\(s\) outside 0\.\.4 .* index 1: -1 \(-1: an unlabelled beat; metrics "
                            r"need labelled beats\)$"),
    ([0, 1, 1], [0, 5, 9], r"^y_pred: 2 label\(s\) outside 0\.\.4 \(the 5 classes\), the first at index 1: 5$"),
    ([0.0, 1.5, 1.0], [0, 0, 1], r"^y_true must be class indices \(whole numbers\): 1 value\(s\) are not, the first "
                                 r"at index 1: 1\.5$"),
    ([0, 1, 1], [0.0, np.nan, 1.0], r"^y_pred must be class indices \(whole numbers\): 1 value\(s\) are not"),
    ([0, 1, 1], ["N", "S", "S"], r"^y_pred must be class indices \(whole numbers\), got <U1 values$"),
    ([0, 1, 1], [0, 1], r"^y_true \(3,\) and y_pred \(2,\) must be 1-D and equal$"),
    ([[0, 1], [1, 0]], [[0, 1], [1, 0]], r"^y_true \(2, 2\) and y_pred \(2, 2\) must be 1-D and equal$"),
])
def test_metrics_refuse_bad_labels(y_true, y_pred, message):
    from ecgbeat.metrics import classification_metrics, ec57_metrics, record_errors

    with pytest.raises(EcgbeatError, match=message):
        classification_metrics(y_true, y_pred, CLASSES)
    with pytest.raises(EcgbeatError, match=message):
        ec57_metrics(y_true, y_pred, CLASSES)
    if np.ndim(y_true) == 1 and len(y_true) == len(y_pred):
        with pytest.raises(EcgbeatError, match=message):
            record_errors(y_true, y_pred, np.array(["100"] * len(y_true)), CLASSES)
    with pytest.raises(ValueError):  # EcgbeatError is a ValueError: callers catching ValueError still do
        ec57_metrics(y_true, y_pred, CLASSES)


def test_metrics_refuse_bad_proba_and_records(beats):
    from ecgbeat.metrics import classification_metrics, record_errors

    y = beats.y[:50]
    proba = np.eye(5)[y]
    with pytest.raises(EcgbeatError, match=r"^proba must have shape \(beats, classes\) = \(50, 5\), got \(50, 4\)$"):
        classification_metrics(y, y, CLASSES, proba=proba[:, :4])
    proba[[2, 9]] = np.nan
    with pytest.raises(EcgbeatError, match=r"^proba: 2 row\(s\) not finite \(NaN or inf\), the first at index 2$"):
        classification_metrics(y, y, CLASSES, proba=proba)
    with pytest.raises(EcgbeatError, match=r"^y_true \(50,\), y_pred \(50,\) and record \(49,\) must be 1-D and "
                                           r"equal$"):
        record_errors(y, y, beats.record[:49], CLASSES)


def test_metrics_of_valid_labels_are_unchanged(beats):
    from sklearn.metrics import accuracy_score, confusion_matrix

    from ecgbeat.metrics import classification_metrics, ec57_metrics, record_errors

    y = beats.y
    pred = np.where(np.random.default_rng(0).random(len(y)) < 0.1, 2, y)
    m = classification_metrics(y, pred, CLASSES, proba=np.eye(5, dtype=np.float32)[pred])
    assert m["n"] == len(y) and m["accuracy"] == accuracy_score(y, pred) and m["ece"] == pytest.approx(
        1 - accuracy_score(y, pred))
    assert m["confusion_matrix"] == confusion_matrix(y, pred, labels=range(5)).tolist()
    # whole-number floats are class indices too
    assert classification_metrics(y.astype(float), pred.astype(float), CLASSES)["accuracy"] == m["accuracy"]
    assert ec57_metrics(y, pred, CLASSES)["V"]["tp"] == int(((y == 2) & (pred == 2)).sum())
    per = record_errors(y, pred, beats.record, CLASSES)
    assert sorted(per) == ["100", "106", "119", "208"]
    # analyze scores "no beat" as index len(classes) with classes + ("-",)
    e = ec57_metrics(np.array([3, 5, 2]), np.array([2, 2, 5]), CLASSES + ("-",))
    assert (e["V"]["fp"], e["V"]["fn"]) == (1, 1)
    with pytest.raises(EcgbeatError, match=r"^y_true: 1 label\(s\) outside 0\.\.4 .* index 1: 5$"):
        ec57_metrics(np.array([3, 5, 2]), np.array([2, 2, 4]), CLASSES)


# 5. adapt_priors ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proba(sets):
    from ecgbeat.predict import predict_proba

    return predict_proba(tiny(), sets[1]).astype(np.float64)


PRIOR = np.array([0.8, 0.05, 0.1, 0.04, 0.01])


@pytest.mark.parametrize("kwargs, message", [
    ({"train_prior": np.array([0.8, np.nan, 0.1, 0.04, 0.01])}, r"^adapt_priors: train_prior must be finite positive "
                                                                r"values, one per class, got \[0\.8 +nan"),
    ({"train_prior": np.array([0.8, 0.0, 0.1, 0.04, 0.06])}, "train_prior must be finite positive values"),
    ({"train_prior": PRIOR[:4]}, r"^adapt_priors: proba must have shape \(beats, 4 classes\), got \(45, 5\)$"),
    ({"strength": -1.0}, r"^adapt_priors: strength must be a finite number >= 0 \(pseudo-beats\), got -1\.0$"),
    ({"strength": np.nan}, r"^adapt_priors: strength must be a finite number >= 0 \(pseudo-beats\), got nan$"),
    ({"strength": "300"}, r"strength must be a finite number >= 0 \(pseudo-beats\), got '300'$"),
    ({"iters": -1}, r"^adapt_priors: iters must be a whole number >= 0, got -1$"),
    ({"iters": 1.5}, r"^adapt_priors: iters must be a whole number >= 0, got 1\.5$"),
    ({"fixed": (9,)}, r"^adapt_priors: fixed must be class indices in 0\.\.4, got \(9,\) \(parse_adaptation turns "
                      r"class letters into indices\)$"),
    ({"fixed": "FQ"}, r"^adapt_priors: fixed must be class indices in 0\.\.4, got 'FQ'"),
    ({"fixed": (-1,)}, r"fixed must be class indices in 0\.\.4, got \(-1,\)"),
])
def test_adapt_priors_refuses_bad_arguments(proba, kwargs, message):
    from ecgbeat.predict import adapt_priors

    args = {"train_prior": PRIOR, "iters": 2, "strength": 100.0, "fixed": (3, 4), **kwargs}
    with pytest.raises(EcgbeatError, match=message):
        adapt_priors(proba, **args)


def test_adapt_priors_refuses_unreadable_rows_and_keeps_valid_results(proba):
    from ecgbeat.predict import adapt_priors

    bad = proba.copy()
    bad[[4, 8]] = np.nan
    with pytest.raises(EcgbeatError, match=r"^adapt_priors: proba has 2 row\(s\) that are not probabilities "
                                           r"\(NaN, inf, negative or all 0\), the first at index 4; leave unreadable "
                                           r"beats out$"):
        adapt_priors(bad, PRIOR)
    adapted, mix = adapt_priors(proba, PRIOR, 2, 100.0, (3, 4))
    assert np.isfinite(adapted).all() and np.allclose(adapted.sum(axis=1), 1.0) and mix[3:] == pytest.approx(PRIOR[3:])
    # the same for other spellings of the same valid setting
    for same in ((np.int64(2), 100, [3, 4]), (2, np.float32(100.0), np.array([3, 4])), (2, 100.0, frozenset((3, 4)))):
        again = adapt_priors(proba, PRIOR, *same)
        np.testing.assert_allclose(again[0], adapted, rtol=1e-6)
        np.testing.assert_allclose(again[1], mix, rtol=1e-6)
    assert adapt_priors(proba, PRIOR, iters=0)[0] == pytest.approx(proba)
