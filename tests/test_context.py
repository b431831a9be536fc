"""Patient context (ecgbeat.dsp.context): each beat's template (median of the patient's previous
beats) and long-term RR, computed from the past only, the same in one piece or in batches; the
features and the template channel built from them; on real beats they separate V from N."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ecgbeat.dsp.context import PatientContext, running_mean_rr, running_templates, template_stats
from ecgbeat.errors import EcgbeatError
from ecgbeat.features import CONTEXT_FEATURES, FEATURE_SETS, feature_set_for, model_inputs
from ecgbeat.types import BeatSet


def brute_templates(X, k):
    return np.stack([X[0] if i == 0 else np.median(X[max(0, i - k):i], axis=0) for i in range(len(X))])


def test_running_templates_are_medians_of_previous_beats():
    rng = np.random.default_rng(0)
    X = rng.random((300, 40)).astype(np.float32)
    got = running_templates(X, 16, block=37)
    np.testing.assert_array_equal(got, brute_templates(X, 16))
    assert not np.allclose(got[100], np.median(X[85:101], axis=0))  # the beat itself is not in it


def test_running_mean_rr_skips_unknown_values():
    rr = np.array([np.nan, 1.0, 2.0, 3.0, np.nan, 5.0])
    np.testing.assert_allclose(running_mean_rr(rr, 3), [np.nan, 1.0, 1.5, 2.0, 2.5, 4.0])


def test_batches_give_exactly_what_one_pass_gives():
    """A stream updates the context batch by batch; the result must not depend on the batches,
    and unreadable beats neither enter the template history nor get a template."""
    rng = np.random.default_rng(1)
    n = 500
    X = rng.random((n, 30)).astype(np.float32)
    rr = rng.uniform(0.5, 1.5, n)
    rr[0] = np.nan
    ok = rng.random(n) > 0.1
    whole_t, whole_rr = PatientContext(20, 50).update(X, rr, ok)
    ctx = PatientContext(20, 50)
    parts, cuts = [], np.sort(rng.choice(np.arange(1, n), 40, replace=False))
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, n]):
        parts.append(ctx.update(X[a:b], rr[a:b], ok[a:b]))
        assert len(ctx._beats) <= 20 and len(ctx._rr) <= 50
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), whole_t)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), whole_rr)
    assert np.isnan(whole_t[~ok]).all() and not np.isnan(whole_t[ok]).any()
    np.testing.assert_array_equal(whole_t[ok], brute_templates(X[ok], 20))


def test_template_stats():
    x = np.sin(np.linspace(0, 6, 50))[None, :]
    same = template_stats(x, x)
    np.testing.assert_allclose(same[0], [1.0, 0.0, 0.0], atol=1e-6)
    flipped = template_stats(x, -x)
    assert flipped[0, 0] == pytest.approx(-1.0, abs=1e-6) and flipped[0, 2] > 1.5
    flat = template_stats(np.zeros((1, 50)), x)
    assert flat[0, 0] == 0.0


def test_context_separates_ventricular_beats_on_real_records(mitdb):
    """Records 119 (ventricular bigeminy) and 208 (frequent V and F): in each, V beats are further
    from their patient's template than N beats and come early for that patient's rhythm."""
    from ecgbeat.datasets import build_beats

    beats = build_beats(["119", "208"], mitdb)
    feats = model_inputs(beats, len(FEATURE_SETS["rr+context"]))[1]
    corr = feats[:, len(FEATURE_SETS["rr"]) + CONTEXT_FEATURES.index("template_corr")]
    prev_over_long = feats[:, len(FEATURE_SETS["rr"]) + CONTEXT_FEATURES.index("prev_over_long")]
    for record in ("119", "208"):
        n, v = (beats.record == record) & (beats.y == 0), (beats.record == record) & (beats.y == 2)
        assert v.sum() > 400 and n.sum() > 1000
        assert np.median(corr[n]) > np.median(corr[v]) + 0.05
        assert np.median(prev_over_long[v]) < 0.9 < np.median(prev_over_long[n])
    assert np.isfinite(feats).all()
    X, _ = model_inputs(beats, 0, in_channels=2)
    assert X.shape == (len(beats), 2, beats.n_samples)
    np.testing.assert_array_equal(X[:, 1], beats.template)
    # the template of a beat depends only on earlier beats of its own record
    rec = beats.record == "119"
    np.testing.assert_array_equal(running_templates(beats.X[rec], 64), beats.template[rec])


def test_beats_without_neighbours_are_refused():
    beats = BeatSet(X=np.random.default_rng(0).random((5, 187)).astype(np.float32), y=np.zeros(5, dtype=np.int64))
    with pytest.raises(EcgbeatError, match="whole recordings"):
        model_inputs(beats, 0, in_channels=2)
    with pytest.raises(EcgbeatError, match="whole recordings"):
        model_inputs(beats, len(FEATURE_SETS["rr+context"]))
    assert feature_set_for(5) == "rr" and feature_set_for(11) == "rr+context"
    with pytest.raises(ValueError, match="no feature set"):
        feature_set_for(7)


@pytest.mark.parametrize("kwargs,asked", [({"features": "rr"}, "--features rr"),
                                          ({"features": "rr+context"}, "--features rr+context"),
                                          ({"template": True}, "--template")])
def test_training_on_beats_without_neighbours_is_refused_before_it_starts(tmp_path, kwargs, asked):
    from ecgbeat.pipeline import train_model
    from ecgbeat.types import Split

    rng = np.random.default_rng(0)
    beats = BeatSet(X=rng.random((20, 187)).astype(np.float32), y=rng.integers(0, 5, 20))  # like CSV rows
    split = Split(train=beats, val=beats, test=beats, name="kaggle-csv", seed=0)
    with pytest.raises(EcgbeatError, match=re.escape(f"{asked} needs beats built from MIT-BIH records")):
        train_model(split, tmp_path, progress=False, **kwargs)
    assert not (tmp_path / "model.json").exists()


def test_which_inputs_need_the_patient_context():
    from ecgbeat.features import needs_context

    assert not needs_context() and not needs_context(len(FEATURE_SETS["rr"]), 1)
    assert needs_context(len(FEATURE_SETS["rr+context"]), 1) and needs_context(0, 2)
    with pytest.raises(ValueError, match="no feature set"):
        needs_context(7, 1)
