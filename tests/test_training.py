"""Training on real beats: the default LSTM learns, runs repeat with a seed, checkpoints are safe."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ecgbeat.checkpoint import load_checkpoint, read_checkpoint_meta, save_checkpoint
from ecgbeat.datasets import build_beats, split_beats
from ecgbeat.errors import EcgbeatError
from ecgbeat.models import create_model
from ecgbeat.predict import predict_proba
from ecgbeat.training import TrainConfig, train


@pytest.fixture(scope="module")
def split(mitdb):
    beats = build_beats(["100", "208", "209", "232"], mitdb=mitdb)
    return split_beats(beats, "intra", seed=0)


def test_default_lstm_learns_beyond_majority_class(split):
    torch.manual_seed(0)
    result = train(create_model("lstm"), split.train, split.val, TrainConfig(epochs=3, seed=0),
                   progress=False)
    proba = predict_proba(result.model, split.test)
    pred = proba.argmax(1)
    majority = np.bincount(split.test.y).max() / len(split.test)
    accuracy = (pred == split.test.y).mean()
    assert accuracy > majority + 0.05
    # it must tell the classes apart, not only the normal beats: V recall and macro-F1
    v = split.test.y == 2
    assert (pred[v] == 2).mean() > 0.8
    from ecgbeat.metrics import classification_metrics

    assert classification_metrics(split.test.y, pred, split.test.classes)["macro_f1"] > 0.5
    assert result.best_epoch in (1, 2, 3) and len(result.history) == 3


def test_textbook_last_state_lstm_is_the_known_failure(split):
    """The readout is the difference: the same budget with the last hidden state of a plain LSTM
    over the zero-padded beat predicts (almost) only the majority class."""
    torch.manual_seed(0)
    model = create_model("lstm", num_layers=1, bidirectional=False, patch_size=1, pooling="last",
                         embed_dim=0)
    result = train(model, split.train, split.val, TrainConfig(epochs=1, seed=0, lr=1e-3), progress=False)
    pred = predict_proba(result.model, split.test).argmax(1)
    assert (pred == np.bincount(split.train.y).argmax()).mean() > 0.9


def test_seed_makes_runs_repeatable(split):
    small_train = split.train.subset(np.arange(0, len(split.train), 4))
    runs = []
    for _ in range(2):
        torch.manual_seed(5)
        r = train(create_model("lstm"), small_train, split.val, TrainConfig(epochs=1, seed=5), progress=False)
        runs.append(r.history[0]["train_loss"])
    assert runs[0] == runs[1]


def test_checkpoint_round_trip_and_safety(split, tmp_path):
    torch.manual_seed(0)
    model = create_model("lstm", hidden_size=16)
    meta = {"classes": list(split.train.classes), "preprocessing": {"fs": 125.0, "n_samples": 187},
            "seed": 0, "split": "intra"}
    path = save_checkpoint(tmp_path / "m", model, meta)
    assert path.name == "m.json" and (tmp_path / "m.safetensors").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    loaded, meta2 = load_checkpoint(path)
    assert meta2["model_args"]["hidden_size"] == 16 and meta2["seed"] == 0
    x = torch.from_numpy(split.test.X[:8, None, :])
    model.eval()
    torch.testing.assert_close(loaded(x), model(x))
    # the weights file is plain safetensors: a pickle in its place is refused, not executed
    (tmp_path / "m.safetensors").write_bytes(b"\x80\x04\x95" + b"cos\nsystem\n" * 10)
    with pytest.raises(EcgbeatError, match="m.safetensors: weights do not fit"):
        load_checkpoint(path)
    doc = json.loads(path.read_text())
    doc["format"] = "something-else"
    path.write_text(json.dumps(doc))
    with pytest.raises(EcgbeatError, match="not an ecgbeat checkpoint"):
        read_checkpoint_meta(path)


def test_training_config_rejects_unknown_keys():
    with pytest.raises(EcgbeatError, match="unknown training option\\(s\\): epoch"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(EcgbeatError, match="class_weight must be one of"):
        TrainConfig(class_weight="heavy")


def test_export_onnx_matches_checkpoint(split, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from ecgbeat.cli import main

    torch.manual_seed(0)
    model = create_model("lstm", hidden_size=16)
    save_checkpoint(tmp_path / "m", model, {"classes": list(split.train.classes),
                                            "preprocessing": {"fs": 125.0, "n_samples": 187}})
    assert main(["export", str(tmp_path / "m.json"), "--out", str(tmp_path / "m.onnx")]) == 0
    x = split.test.X[:37, None, :].astype(np.float32)
    onnx_logits = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"x": x})[0]
    model.eval()
    np.testing.assert_allclose(onnx_logits, model(torch.from_numpy(x)).detach().numpy(), atol=1e-4)


def test_damaged_training_state_is_one_line_error(split, tmp_path):
    from ecgbeat.errors import first_line

    assert first_line(ValueError()) == "ValueError"  # empty messages must not break error lines
    (tmp_path / "last.pt").write_bytes(b"")
    with pytest.raises(EcgbeatError, match=r"last.pt: not a complete training state written by ecgbeat \(truncated"):
        train(create_model("lstm", hidden_size=8), split.train, split.val, TrainConfig(epochs=1),
              out_dir=tmp_path, resume=True, progress=False)


def test_focal_loss_is_cross_entropy_at_gamma_zero_and_down_weights_easy_beats():
    import torch.nn.functional as F

    from ecgbeat.training import FocalLoss

    g = torch.Generator().manual_seed(0)
    logits, y = torch.randn(64, 5, generator=g), torch.randint(0, 5, (64,), generator=g)
    w = torch.tensor([0.2, 1.0, 1.5, 2.0, 0.3])
    assert torch.allclose(FocalLoss(None, 0.0)(logits, y), F.cross_entropy(logits, y), atol=1e-6)
    assert torch.allclose(FocalLoss(w, 0.0)(logits, y), F.cross_entropy(logits, y, weight=w), atol=1e-6)
    easy = torch.full((1, 5), -5.0)
    easy[0, 0] = 5.0
    hard = torch.zeros(1, 5)
    ratio = lambda z: float(FocalLoss(None, 2.0)(z, torch.tensor([0])) / F.cross_entropy(z, torch.tensor([0])))  # noqa: E731
    assert ratio(easy) < 1e-6 < ratio(hard) < 1.0
    with pytest.raises(EcgbeatError, match="loss must be one of"):
        TrainConfig(loss="hinge")


def test_balanced_sampler_evens_out_the_classes(split):
    from ecgbeat.training import _loader

    y = split.train.y
    X = np.zeros((len(y), 1, 4), dtype=np.float32)
    counts = {}
    for mode in ("shuffle", "sqrt", "balanced"):
        batches = _loader(X, None, y, 256, torch.Generator().manual_seed(0), mode)
        drawn = np.concatenate([b[1].numpy() for b in batches])
        assert len(drawn) == len(y)
        counts[mode] = np.bincount(drawn, minlength=5)[np.bincount(y, minlength=5) > 0]
    share = {m: c / c.sum() for m, c in counts.items()}
    present = len(share["balanced"])
    assert np.abs(share["balanced"] - 1 / present).max() < 0.05  # about equal per class
    assert share["shuffle"].min() < share["sqrt"].min() < share["balanced"].min()  # rarest class
    # a short run with both options trains and is repeatable
    cfg = TrainConfig(epochs=1, seed=3, sampler="balanced", loss="focal", class_weight="sqrt")
    small = split.train.subset(np.arange(0, len(split.train), 8))
    losses = []
    for _ in range(2):
        torch.manual_seed(3)
        losses.append(train(create_model("lstm"), small, split.val, cfg, progress=False).history[0]["train_loss"])
    assert losses[0] == losses[1] and np.isfinite(losses[0])


def test_stop_epoch_keeps_that_epoch_with_or_without_validation(split):
    """TrainConfig.stop_epoch (what a refit uses): training stops after that epoch of the planned
    schedule and keeps its weights; validation, when given, changes nothing but the history."""
    small = split.train.subset(np.arange(0, len(split.train), 8))
    runs = {}
    for name, val, stop in (("full", split.val, 0), ("with_val", split.val, 2), ("no_val", None, 2)):
        torch.manual_seed(3)
        runs[name] = train(create_model("lstm", hidden_size=16), small, val,
                           TrainConfig(epochs=3, seed=3, stop_epoch=stop), progress=False)
    full, with_val, no_val = runs["full"], runs["with_val"], runs["no_val"]
    assert len(full.history) == 3 and len(with_val.history) == len(no_val.history) == 2
    assert with_val.best_epoch == no_val.best_epoch == 2
    # the same steps as the first two epochs of the planned three-epoch run, same learning rates
    for key in ("train_loss", "lr"):
        assert [r[key] for r in no_val.history] == [r[key] for r in full.history[:2]] == \
            [r[key] for r in with_val.history]
    assert no_val.history[-1]["lr"] > full.history[-1]["lr"]  # stopped inside the schedule
    for a, b in zip(with_val.model.state_dict().values(), no_val.model.state_dict().values()):
        assert torch.equal(a, b)
    assert no_val.best_val_macro_f1 is None and no_val.history[-1]["val_macro_f1"] is None
    assert with_val.best_val_macro_f1 == with_val.history[1]["val_macro_f1"]
    with pytest.raises(EcgbeatError, match="stop_epoch"):
        TrainConfig(epochs=3, stop_epoch=4)
    with pytest.raises(EcgbeatError, match="without validation"):
        train(create_model("lstm", hidden_size=16), small, None, TrainConfig(epochs=1), progress=False)


def test_resume_of_a_run_that_stopped_early_does_not_train_on(split, tmp_path):
    """A run that early stopping ended is finished: resumed with the same patience it trains no more
    epochs and returns the same best model; with more patience it goes on."""
    config = TrainConfig(epochs=4, patience=1, lr=1e-12, seed=0, max_threads=1)  # no epoch improves on the first
    first = train(create_model("lstm", hidden_size=8), split.train, split.val, config, out_dir=tmp_path,
                  progress=False)
    assert [r["epoch"] for r in first.history] == [1, 2] and first.best_epoch == 1
    again = train(create_model("lstm", hidden_size=8), split.train, split.val, config, out_dir=tmp_path,
                  resume=True, progress=False)
    assert [r["epoch"] for r in again.history] == [1, 2] and again.best_epoch == 1
    same = zip(first.model.state_dict().values(), again.model.state_dict().values())
    assert all(a.equal(b) for a, b in same)
    more = train(create_model("lstm", hidden_size=8), split.train, split.val,
                 TrainConfig(epochs=4, patience=3, lr=1e-12, seed=0, max_threads=1), out_dir=tmp_path,
                 resume=True, progress=False)
    assert [r["epoch"] for r in more.history] == [1, 2, 3, 4]
