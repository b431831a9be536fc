"""Label-shift adaptation of class probabilities (predict.adapt_priors)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgbeat.predict import adapt_priors


def gaussian_posteriors(prior: np.ndarray, n: int, train_prior: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Beats of two classes (1-D Gaussians at 0 and 1.5) drawn with ``prior``; the exact posteriors
    of a classifier that learned them under ``train_prior``."""
    y = rng.choice(len(prior), size=n, p=prior)
    x = rng.normal(1.5 * y, 1.0)
    like = np.exp(-0.5 * (x[:, None] - np.array([0.0, 1.5])) ** 2)
    post = like * train_prior
    return post / post.sum(axis=1, keepdims=True), y


def test_em_recovers_a_shifted_class_mix_and_helps_accuracy(rng):
    train_prior = np.array([0.9, 0.1])
    proba, y = gaussian_posteriors(np.array([0.4, 0.6]), 20000, train_prior, rng)
    adapted, mix = adapt_priors(proba, train_prior, iters=100)
    assert mix == pytest.approx([0.4, 0.6], abs=0.03)
    assert (adapted.argmax(1) == y).mean() > (proba.argmax(1) == y).mean() + 0.1
    np.testing.assert_allclose(adapted.sum(axis=1), 1.0)
    # with the training mix itself, nothing moves
    proba, _ = gaussian_posteriors(train_prior, 20000, train_prior, rng)
    _, mix = adapt_priors(proba, train_prior, iters=100)
    assert mix == pytest.approx(train_prior, abs=0.02)


def test_strength_iterations_and_fixed_classes(rng):
    train_prior = np.array([0.8, 0.1, 0.1])
    proba = rng.dirichlet([1.0, 3.0, 1.0], size=500)
    np.testing.assert_allclose(adapt_priors(proba, train_prior, iters=0)[0], proba, rtol=1e-12)
    # a Dirichlet prior of many pseudo-beats holds the mix near the training mix
    _, weak = adapt_priors(proba, train_prior, iters=5, strength=0)
    _, strong = adapt_priors(proba, train_prior, iters=5, strength=1e6)
    assert abs(weak[1] - 0.1) > 0.1 and strong == pytest.approx(train_prior, abs=1e-3)
    _, mix = adapt_priors(proba, train_prior, iters=5, fixed=(2,))
    assert mix[2] == pytest.approx(0.1) and mix.sum() == pytest.approx(1.0)
    assert adapt_priors(np.zeros((0, 3)), train_prior)[0].shape == (0, 3)
    with pytest.raises(ValueError):
        adapt_priors(proba, train_prior[:2])


def test_each_record_gets_its_own_mix_and_settings_parse(rng):
    from ecgbeat.errors import EcgbeatError
    from ecgbeat.predict import adapt_per_record, parse_adaptation

    train_prior = np.array([0.9, 0.1])
    a, _ = gaussian_posteriors(np.array([0.2, 0.8]), 3000, train_prior, rng)
    b, _ = gaussian_posteriors(np.array([0.95, 0.05]), 3000, train_prior, rng)
    records = np.array(["a"] * 3000 + ["b"] * 3000, dtype=object)
    got = adapt_per_record(np.vstack([a, b]), records, train_prior, (3, 100.0, ()))
    np.testing.assert_allclose(got[:3000], adapt_priors(a, train_prior, 3, 100.0)[0])
    np.testing.assert_allclose(got[3000:], adapt_priors(b, train_prior, 3, 100.0)[0])
    assert got[:3000, 1].mean() > a[:, 1].mean() and got[3000:, 1].mean() < b[:, 1].mean()
    assert parse_adaptation("1:3000:FQ", tuple("NSVFQ")) == (1, 3000.0, (3, 4))
    assert parse_adaptation("5:0:-", tuple("NSVFQ")) == (5, 0.0, ())
    for bad in ("1:3000", "0:10:F", "x:1:F", "1:-5:F", "1:10:Z"):
        with pytest.raises(EcgbeatError, match="--adapt"):
            parse_adaptation(bad, tuple("NSVFQ"))


def test_adapting_needs_the_training_mix(small_beats):
    from ecgbeat.errors import EcgbeatError
    from ecgbeat.models import create_model
    from ecgbeat.predict import evaluate_beats

    model = create_model("lstm", hidden_size=8, embed_dim=8).eval()
    meta = {"classes": list(small_beats.classes)}
    with pytest.raises(EcgbeatError, match="train_prior"):
        evaluate_beats(model, meta, small_beats, adapt="1:10:-")
    with pytest.raises(EcgbeatError, match="5 positive numbers"):
        evaluate_beats(model, {**meta, "train_prior": [0.9, 0.1, 0.0, 0.0, 0.0]}, small_beats, adapt="1:10:-")
    metrics, proba = evaluate_beats(model, {**meta, "train_prior": [0.8, 0.05, 0.1, 0.04, 0.01]}, small_beats,
                                    adapt="1:10:-")
    assert metrics["adapt"] == "1:10:-" and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
