"""The model contract, checked for every registered model (a new model is tested automatically).

Each test below is parametrised over ``list_models()``: shapes for both input layouts, finite
outputs and gradients, ``forward_features`` + ``forward_head`` == ``forward``, extra features,
constructor errors, checkpoint and ONNX round trips, determinism in eval mode, and that two
short epochs on real MIT-BIH beats already beat the majority class.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecgbeat.checkpoint import load_checkpoint, save_checkpoint
from ecgbeat.models import create_model, list_models

MODELS = list_models()
N_CLASSES, N_SAMPLES, N_FEATURES = 5, 187, 5
META = {"classes": ["N", "S", "V", "F", "Q"], "preprocessing": {"fs": 125.0, "n_samples": N_SAMPLES}}


def make(name: str, **kwargs):
    torch.manual_seed(0)
    return create_model(name, n_classes=N_CLASSES, n_samples=N_SAMPLES, **kwargs)


def beats(batch: int, seed: int = 0) -> torch.Tensor:
    """Beat-like inputs in [0, 1]: a spike at the start (R peak), noise, zero padding at the end."""
    gen = torch.Generator().manual_seed(seed)
    x = 0.3 + 0.1 * torch.rand(batch, 1, N_SAMPLES, generator=gen)
    x[:, :, :5] = 1.0
    x[:, :, 150:] = 0.0
    return x


def test_registry_lists_the_models():
    assert {"lstm", "bilstm_attention", "cnn_lstm", "transformer", "kachuee_cnn"} <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_output_shapes_for_both_input_layouts(name):
    model = make(name).eval()
    with torch.no_grad():
        for batch in (1, 3):
            x = beats(batch)
            for inp in (x, x[:, 0, :]):  # (B, 1, T) and (B, T)
                out = model(inp)
                assert out.shape == (batch, N_CLASSES), (name, tuple(inp.shape))
                assert torch.isfinite(out).all()
        # (B, T) is read as one channel: same logits as (B, 1, T)
        torch.testing.assert_close(model(beats(3)[:, 0, :]), model(beats(3)), rtol=0, atol=0)


@pytest.mark.parametrize("name", MODELS)
def test_backward_gives_finite_gradients_on_all_parameters(name):
    model = make(name).train()
    loss = torch.nn.functional.cross_entropy(model(beats(3)), torch.tensor([0, 1, 2]))
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: parameter {pname} gets no gradient (unused?)"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient in {pname}"


@pytest.mark.parametrize("name", MODELS)
def test_features_plus_head_equals_forward(name):
    model = make(name).eval()
    x = beats(3)
    with torch.no_grad():
        z = model.forward_features(x)
        assert z.ndim == 2 and z.shape[0] == 3
        torch.testing.assert_close(model.forward_head(z), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", MODELS)
def test_extra_features_are_required_when_declared(name):
    model = make(name, n_features=N_FEATURES).eval()
    assert model.n_features == N_FEATURES
    x, f = beats(3), torch.rand(3, N_FEATURES)
    with torch.no_grad():
        out = model(x, f)
        assert out.shape == (3, N_CLASSES) and torch.isfinite(out).all()
        # the features reach the logits
        assert not torch.equal(out, model(x, f + 1.0))
        with pytest.raises(ValueError, match="features"):
            model(x)


@pytest.mark.parametrize("name", MODELS)
def test_unknown_constructor_argument_raises(name):
    with pytest.raises(ValueError, match=name):
        create_model(name, no_such_knob=3)


def test_unknown_model_name_lists_the_choices():
    with pytest.raises(ValueError, match="unknown model 'no_such_model'") as info:
        create_model("no_such_model")
    for name in MODELS:
        assert name in str(info.value)


@pytest.mark.parametrize("name", MODELS)
def test_checkpoint_round_trip_gives_identical_outputs(name, tmp_path):
    model = make(name, n_features=N_FEATURES).eval()
    x, f = beats(4), torch.rand(4, N_FEATURES)
    path = save_checkpoint(tmp_path / "model", model, META)
    loaded, meta = load_checkpoint(path)
    assert type(loaded) is type(model) and not loaded.training
    assert loaded.init_args == model.init_args
    assert meta["model"] == name and meta["classes"] == META["classes"]
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, f), model(x, f), rtol=0, atol=0)


@pytest.mark.parametrize("name", MODELS)
def test_beat_and_template_channels(name, tmp_path):
    """in_channels=2 (the beat and its patient template) with the 11 "rr+context" features: the
    second channel changes the output, and the checkpoint rebuilds the same model."""
    model = make(name, in_channels=2, n_features=11).eval()
    x = torch.cat([beats(3), beats(3, seed=1)], dim=1)
    f = torch.rand(3, 11)
    with torch.no_grad():
        out = model(x, f)
        other = model(torch.cat([x[:, :1], beats(3, seed=2)], dim=1), f)
    assert out.shape == (3, N_CLASSES) and torch.isfinite(out).all()
    assert not torch.allclose(out, other)
    loaded, _ = load_checkpoint(save_checkpoint(tmp_path / "model", model, META))
    assert loaded.in_channels == 2
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, f), out, rtol=0, atol=0)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the legacy exporter announces its end
@pytest.mark.filterwarnings("ignore::UserWarning")  # LSTM batch-size note; the test checks batches 1, 5
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
@pytest.mark.parametrize("name", MODELS)
def test_onnx_export_matches_torch(name, tmp_path):
    onnx = pytest.importorskip("onnx", reason="onnx not installed (pip install '.[onnx]')")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install '.[onnx]')")
    model = make(name).eval()
    path = tmp_path / f"{name}.onnx"
    with torch.no_grad():
        # the TorchScript-based exporter: the dynamo one needs onnxscript and is slower
        torch.onnx.export(model, (beats(2),), str(path), dynamo=False, input_names=["x"],
                          output_names=["logits"], dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=17)
    onnx.checker.check_model(str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 5):  # batch sizes other than the traced one
        x = beats(batch, seed=batch)
        got = session.run(None, {"x": x.numpy()})[0]
        with torch.no_grad():
            want = model(x).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=f"{name}, batch {batch}")


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("training", [True, False])
def test_export_onnx_gives_the_callers_mode_back(tmp_path, training):
    """Exported in eval mode (no dropout in the graph); a model exported mid-training keeps training."""
    pytest.importorskip("onnx", reason="onnx not installed (pip install '.[onnx]')")
    from ecgbeat.export import export_onnx

    model = make("cnn_lstm").train(training)
    first = next(iter(model.children())).train(not training)  # a submodule in the other mode stays so
    modes = {name: m.training for name, m in model.named_modules()}
    export_onnx(model, tmp_path / "m.onnx")
    assert {name: m.training for name, m in model.named_modules()} == modes and first.training is not training


@pytest.mark.parametrize("name", MODELS)
def test_eval_mode_is_deterministic(name):
    model = make(name).eval()
    x = beats(3)
    with torch.no_grad():
        first = model(x)
        torch.testing.assert_close(model(x), first, rtol=0, atol=0)
        # a beat's logits do not depend on the other beats in the batch
        torch.testing.assert_close(model(x[1:2]), first[1:2], rtol=1e-5, atol=1e-5)


def test_bilstm_attention_exposes_its_weights():
    model = make("bilstm_attention").eval()
    with torch.no_grad():
        model(beats(3))
    weights = model.last_attention
    assert weights.shape == (3, model.n_steps) and model.n_steps == -(-N_SAMPLES // model.patch_size)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(3))
    assert (weights >= 0).all()
    per_sample = model.attention_per_sample()
    assert per_sample.shape == (3, N_SAMPLES)


# -- learning: two epochs on real beats beat the majority class -------------------------------------

LEARN_RECORDS = ("100", "208", "209", "232")  # N, V + F (208), S (209, 232)


@pytest.fixture(scope="module")
def learn_split(mitdb):
    from ecgbeat.datasets import build_beats, split_beats

    split = split_beats(build_beats(LEARN_RECORDS, mitdb=mitdb), "intra", seed=0)
    # a class-balanced training subset (at most 600 beats per class, Q left out): two short epochs
    # of it teach the recurrent models as much as the full, N-heavy set, in a third of the time
    rng = np.random.default_rng(0)
    y = split.train.y
    keep = np.concatenate([rng.choice(np.flatnonzero(y == k), min(600, int((y == k).sum())), replace=False)
                           for k in range(4) if (y == k).any()])
    return split.train.subset(np.sort(keep)), split.val


@pytest.mark.parametrize("name", MODELS)
def test_two_epochs_beat_the_majority_class(name, learn_split):
    from ecgbeat.training import TrainConfig, train

    train_set, val_set = learn_split
    model = make(name)
    # lr=None: each model's own default_lr, i.e. what a user gets
    result = train(model, train_set, val_set, TrainConfig(epochs=2, batch_size=32, lr=None, seed=0),
                   progress=False)
    majority_f1 = _majority_macro_f1(val_set.y)  # ~0.20 here
    assert majority_f1 < 0.3
    assert result.best_val_macro_f1 > 0.5, (name, [round(h["val_macro_f1"], 3) for h in result.history])


def _majority_macro_f1(y: np.ndarray) -> float:
    """Macro-F1 of always predicting the most frequent class (over the classes present)."""
    counts = np.bincount(y)
    share = counts.max() / len(y)
    return float(2 * share / (1 + share) / (counts > 0).sum())


def test_onnx_export_does_not_print_tracer_noise(tmp_path):
    """The tracer's shape notes and ONNX's LSTM batch-size note are silenced: the dynamic batch axis
    runs at another batch size (checked here)."""
    import warnings

    ort = pytest.importorskip("onnxruntime")
    from ecgbeat.export import export_onnx

    model = create_model("lstm", n_classes=5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        export_onnx(model, tmp_path / "m.onnx")
    assert not [w for w in caught if issubclass(w.category, torch.jit.TracerWarning) or "LSTM" in str(w.message)]
    out = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"x": np.zeros((7, 1, 187), np.float32)})[0]
    assert out.shape == (7, 5)
