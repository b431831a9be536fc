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
