"""The AF-like rhythm detector (ecgbeat.dsp.rhythm) and the AF gate (no S call during atrial
fibrillation) on generated RR series, on real MIT-BIH rhythm annotations, through evaluate,
analyze and a stream."""

from __future__ import annotations

import numpy as np
import pytest

from ecgbeat.dsp.rhythm import RhythmTracker, af_like, af_like_by_record, irregularity, skipped_intervals, tpr_bounds
from ecgbeat.errors import EcgbeatError
from ecgbeat.predict import af_flags, gate_af, ventricular_calls

CLASSES = tuple("NSVFQ")


def test_generated_rhythms():
    rng = np.random.default_rng(0)
    n = 600
    sinus = 0.8 + 0.01 * rng.standard_normal(n)
    fibrillation = rng.uniform(0.4, 1.2, n)
    ectopy = sinus.copy()  # every 8th beat premature, then a compensatory pause
    ectopy[::8] = 0.5
    ectopy[1::8] = 1.1
    bigeminy = np.where(np.arange(n) % 2 == 0, 0.6, 1.0) + 0.005 * rng.standard_normal(n)
    assert not af_like(sinus).any()
    flags = af_like(fibrillation)
    assert not flags[:127].any()  # no full window yet
    assert flags[127:].mean() > 0.95
    assert not af_like(ectopy).any()  # irregular, but two RR values: low entropy
    assert not af_like(bigeminy).any()  # alternating: too many turning points for a random series
    stats = irregularity(fibrillation)
    assert np.isnan(stats[:127]).all() and np.isfinite(stats[127:]).all()
    lo, hi = tpr_bounds(112)
    assert lo < 2 / 3 < hi and np.median(stats[127:, 2]) == pytest.approx(2 / 3, abs=0.05)


def test_unknown_intervals_and_short_series():
    rng = np.random.default_rng(1)
    rr = rng.uniform(0.4, 1.2, 400)
    rr[200] = np.nan
    flags = af_like(rr)
    assert not flags[200:200 + 128].any() and flags[200 + 128:].mean() > 0.9  # windows holding the gap
    assert not af_like(rr[:100]).any() and len(af_like(np.zeros(0))) == 0
    with pytest.raises(ValueError, match="window"):
        irregularity(rr, window=4)


@pytest.mark.parametrize("chunk", [1, 7, 128, 1000])
def test_tracker_on_a_stream_equals_the_whole_series(chunk):
    rng = np.random.default_rng(2)
    rr = np.concatenate([0.8 + 0.01 * rng.standard_normal(300), rng.uniform(0.4, 1.2, 400)])
    tracker = RhythmTracker()
    got = np.concatenate([tracker.update(rr[i: i + chunk]) for i in range(0, len(rr), chunk)])
    assert np.array_equal(got, af_like(rr)) and got.sum() > 200
    assert len(tracker._rr) == 127  # bounded memory


def test_ectopic_intervals_are_left_out():
    """With ectopic beats given, the intervals ending or starting at them leave the window; a beat
    whose own interval is left out keeps the state of the last kept interval."""
    assert skipped_intervals(np.array([0, 1, 0, 0, 1, 1, 0], bool)).tolist() == [0, 1, 1, 0, 1, 1, 1]
    assert skipped_intervals(np.array([0, 0], bool), previous_ectopic=True).tolist() == [1, 0]
    rng = np.random.default_rng(6)
    n = 800
    ectopic = rng.random(n) < 0.35  # sinus rhythm with frequent premature ventricular beats
    rr = 0.8 + 0.02 * rng.standard_normal(n)
    rr[ectopic] = rng.uniform(0.35, 0.6, ectopic.sum())  # coupling intervals vary
    after = np.flatnonzero(ectopic[:-1]) + 1
    rr[after] = rng.uniform(0.9, 1.3, len(after))  # and so do the pauses after them
    assert af_like(rr).mean() > 0.3  # the plain detector takes this ectopy for fibrillation
    assert not af_like(rr, ectopic=ectopic).any()
    fib = rng.uniform(0.4, 1.2, n)  # fibrillation stays flagged, ectopic beats or not
    flags = af_like(fib, ectopic=ectopic)
    assert flags[300:].mean() > 0.95
    keep = ~skipped_intervals(ectopic)
    kept_flags = af_like(fib[keep])
    last_kept = np.cumsum(keep) - 1
    assert np.array_equal(flags[last_kept >= 0], kept_flags[last_kept[last_kept >= 0]])
    for chunk in (1, 13, 500):
        tracker = RhythmTracker()
        got = np.concatenate([tracker.update(fib[i: i + chunk], ectopic[i: i + chunk]) for i in range(0, n, chunk)])
        assert np.array_equal(got, flags), chunk
    with pytest.raises(ValueError, match="ectopic flags"):
        af_like(fib, ectopic=ectopic[:10])
    with pytest.raises(ValueError, match="ectopic flags"):
        RhythmTracker().update(fib, ectopic[:10])


def test_ventricular_calls():
    proba = np.array([[0.1, 0.1, 0.7, 0.05, 0.05], [0.6, 0.1, 0.2, 0.05, 0.05], [np.nan] * 5])
    assert ventricular_calls(proba, CLASSES).tolist() == [True, False, False]
    assert not ventricular_calls(proba[:, :2], ("N", "S")).any()
    assert len(ventricular_calls(np.zeros((0, 5)), CLASSES)) == 0


def test_by_record_orders_each_record_in_time():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.4, 1.2, 300), 0.8 + 0.01 * rng.standard_normal(300)
    rr = np.concatenate([a, b])
    record = np.array(["a"] * 300 + ["b"] * 300)
    sample = np.concatenate([np.arange(300), np.arange(300)])
    order = rng.permutation(600)
    got = af_like_by_record(rr[order], record[order], sample[order])
    assert np.array_equal(got, np.concatenate([af_like(a), af_like(b)])[order])
    ectopic = rng.random(600) < 0.1
    got = af_like_by_record(rr[order], record[order], sample[order], ectopic[order])
    assert np.array_equal(got, np.concatenate([af_like(a, ectopic=ectopic[:300]),
                                               af_like(b, ectopic=ectopic[300:])])[order])


def rhythm_of_beats(mitdb, name: str):
    """Reference beats of a MIT-BIH record: previous RR (s) and the rhythm annotation in force."""
    import wfdb

    from ecgbeat.labels import SYMBOL_TO_CLASS

    ann = wfdb.rdann(str(mitdb / name), "atr")
    rhythm, samples, rhythms, classes = "", [], [], []
    for s, sym, aux in zip(ann.sample, ann.symbol, ann.aux_note):
        if sym == "+":
            rhythm = aux.strip("\x00").strip()
        elif sym in SYMBOL_TO_CLASS:
            samples.append(s)
            rhythms.append(rhythm)
            classes.append(SYMBOL_TO_CLASS[sym])
    prev = np.concatenate([[np.nan], np.diff(samples) / ann.fs])
    return prev, np.array(rhythms), np.array(classes)


def test_real_records(mitdb):
    """Atrial fibrillation of MIT-BIH 201 and 203 is flagged; sinus rhythm (100) and the frequent
    atrial premature beats and pauses of 232 (most S beats of the inter-patient test set) are not."""
    for name in ("201", "203"):
        prev, rhythm, cls = rhythm_of_beats(mitdb, name)
        af = np.isin(rhythm, ["(AFIB", "(AFL"])
        af[:300] = False  # the first windows: not yet a full window of AF
        assert af.sum() > 500 and af_like(prev)[af].mean() > 0.9, name
        assert af_like(prev, ectopic=cls == "V")[af].mean() > 0.85, name  # 203's many V beats left out
    for name in ("100", "232"):
        prev, _, _ = rhythm_of_beats(mitdb, name)
        assert af_like(prev).mean() < 0.02, name
    prev, _, cls = rhythm_of_beats(mitdb, "119")  # sinus rhythm, ventricular bigeminy and trigeminy
    assert af_like(prev).mean() > 0.2 and af_like(prev, ectopic=cls == "V").mean() < 0.01


def test_gate_moves_s_to_n_only():
    rng = np.random.default_rng(4)
    proba = rng.dirichlet(np.ones(5), 50).astype(np.float32)
    af = np.arange(50) % 3 == 0
    out = gate_af(proba, af, CLASSES)
    assert np.allclose(out[af, 0], proba[af, 0] + proba[af, 1]) and (out[af, 1] == 0).all()
    assert np.array_equal(out[~af], proba[~af]) and np.array_equal(out[:, 2:], proba[:, 2:])
    assert np.allclose(out.sum(axis=1), 1.0, atol=1e-6)
    with pytest.raises(EcgbeatError, match="needs classes N and S"):
        gate_af(proba[:, :2], af, ("normal", "abnormal"))
    with pytest.raises(ValueError, match="rhythm flags"):
        gate_af(proba, af[:10], CLASSES)


def test_evaluate_with_the_gate(small_beats):
    """Beats of 201's fibrillation (in the small real set) lose their S probability; Kaggle rows,
    which have no RR, are refused in one line."""
    import torch

    from ecgbeat.models import create_model
    from ecgbeat.predict import evaluate_beats
    from ecgbeat.types import BeatSet

    torch.manual_seed(0)
    model = create_model("lstm", hidden_size=8, embed_dim=8).eval()
    with torch.no_grad():  # an untrained net that calls no beat V: the detector keeps every interval
        model.head[3].bias.copy_(torch.tensor([3.0, 2.0, 0.0, 0.0, 0.0]))
    meta = {"classes": list(small_beats.classes)}
    _, plain = evaluate_beats(model, meta, small_beats)
    metrics, gated = evaluate_beats(model, meta, small_beats, af_gate=True)
    af = af_flags(plain, small_beats.rr_s[:, 0], small_beats.record, small_beats.sample, CLASSES)
    v = ventricular_calls(plain, CLASSES)
    assert np.array_equal(af, af_like_by_record(small_beats.rr_s[:, 0], small_beats.record, small_beats.sample, v))
    assert not v.any()
    assert metrics["af_gate"] is True and af[small_beats.record == "201"].mean() > 0.2
    assert (gated[af, 1] == 0).all() and np.allclose(gated[af, 0], plain[af, 0] + plain[af, 1], atol=1e-6)
    assert np.array_equal(gated[~af], plain[~af])
    rows = BeatSet(X=small_beats.X[:20], y=small_beats.y[:20])
    with pytest.raises(EcgbeatError, match="needs each beat's RR"):
        evaluate_beats(model, meta, rows, af_gate=True)


def test_gate_leaves_out_the_intervals_of_beats_called_v(small_beats):
    """adjust_proba's gate reads the V calls of the probabilities it gates: with an oracle's
    probabilities (the true class at 0.6) the frequent V beats of 119 no longer look like AF, 201's
    fibrillation still does."""
    from ecgbeat.predict import adjust_proba

    b = small_beats
    proba = np.full((len(b), 5), 0.1)
    proba[np.arange(len(b)), b.y] = 0.6
    proba[:, 1] += 0.05  # every beat a little S, which the gate takes away where it acts
    proba /= proba.sum(axis=1, keepdims=True)
    rr = b.rr_s[:, 0]
    gated = adjust_proba(proba, b.record, b.sample, CLASSES, prev_rr_s=rr)
    plain_gate = adjust_proba(proba, b.record, b.sample, CLASSES, prev_rr_s=rr, skip_ectopic=False)
    acted, acted_plain = gated[:, 1] == 0, plain_gate[:, 1] == 0
    assert np.array_equal(acted, af_like_by_record(rr, b.record, b.sample, b.y == 2))
    assert np.array_equal(acted_plain, af_like_by_record(rr, b.record, b.sample))
    for name in ("119", "208"):  # frequent V beats, no AF
        assert acted_plain[b.record == name].mean() > 0.2 and acted[b.record == name].mean() < 0.01, name
    assert acted[b.record == "201"].mean() > 0.2


def test_analyze_and_stream_with_the_gate(mitdb):
    """On 6 minutes of MIT-BIH 203 (atrial fibrillation and flutter) analyze gates the beats the
    detector flags, and a stream, chunked, gives the same probabilities beat for beat."""
    import torch

    from ecgbeat.analyze import AnalyzeConfig, analyze_record
    from ecgbeat.io.signals import read_signal, signal_from_array
    from ecgbeat.models import create_model
    from ecgbeat.stream import StreamClassifier

    torch.manual_seed(0)
    model = create_model("lstm", patch_size=8, num_layers=1, n_features=5).eval()
    with torch.no_grad():  # a hand-set head: V for a premature beat (previous RR < 0.8 local), else N
        first, second = model.head[0], model.head[3]
        for layer in (first, second):
            layer.weight.zero_()
        first.bias.zero_()
        first.weight[0, first.in_features - 5 + 3] = 1.0  # RR feature 3: previous RR over local RR
        second.bias.copy_(torch.tensor([3.0, 2.0, 11.0, 0.0, 0.0]))
        second.weight[2, 0] = -10.0
    sig = read_signal(mitdb / "203")
    sig = signal_from_array(sig.signal_mV[: int(360 * sig.fs)], sig.fs, name="203")
    config = AnalyzeConfig(scaling="causal", af_gate=True)
    plain = analyze_record(sig, model, AnalyzeConfig(scaling="causal"))
    gated = analyze_record(sig, model, config)
    rr = np.concatenate([[np.nan], np.diff(gated.sample) / sig.fs])
    v = ventricular_calls(plain.proba, CLASSES)
    af = af_like(rr, ectopic=v) & np.isfinite(gated.proba[:, 0])
    assert 0.1 < v.mean() < 0.5 and af.sum() > 200 and not np.array_equal(af_like(rr), af_like(rr, ectopic=v))
    assert (gated.proba[af, 1] == 0).all() and np.allclose(gated.proba[~af], plain.proba[~af], equal_nan=True)
    irregular = plain.summary["irregular_rhythm"]  # reported whether or not the gate is on
    in_summary = af_like(rr, ectopic=plain.label == "V")  # the summary leaves out the beats labelled V
    assert irregular["percent_of_beats"] == pytest.approx(100 * in_summary.mean(), abs=1e-3)
    assert sum(e["n_beats"] for e in irregular["episodes"]) == in_summary.sum() and irregular["episodes"]
    gate_flags = af_like(rr, ectopic=v)  # with the gate, the summary reports the flags it used
    assert gated.summary["irregular_rhythm"]["percent_of_beats"] == pytest.approx(100 * gate_flags.mean(), abs=1e-3)
    assert sum(e["n_beats"] for e in gated.summary["irregular_rhythm"]["episodes"]) == gate_flags.sum()
    sc = StreamClassifier(model, sig.fs, config)
    beats = []
    for i in range(0, len(sig.signal_mV), 467):
        beats += sc.push(sig.signal_mV[i: i + 467])
    beats += sc.flush()
    assert [b["sample"] for b in beats] == gated.sample.tolist()
    streamed = np.array([[np.nan] * 5 if b["probabilities"] is None else [b["probabilities"][c] for c in CLASSES]
                         for b in beats])
    assert np.allclose(streamed, gated.proba, atol=1e-5, equal_nan=True)
    assert [b["irregular_rhythm"] for b in beats] == gate_flags.tolist()  # each streamed beat says it too
    assert len(sc._rhythm._rr) <= 127
    plain_stream = StreamClassifier(model, sig.fs, AnalyzeConfig(scaling="causal"))
    assert all("irregular_rhythm" not in b for b in plain_stream.push(sig.signal_mV[: 20 * 360]))


def test_summary_leaves_out_the_intervals_of_beats_labelled_v(mitdb):
    """119's ventricular bigeminy / trigeminy with the reference labels: no irregular rhythm once the
    V beats' intervals are left out (over a third of its beats without that); 201 keeps its AF."""
    import wfdb

    from ecgbeat.analyze import AnalyzeConfig, rhythm_summary
    from ecgbeat.labels import SYMBOL_TO_CLASS

    for name, lo, hi in (("119", 0.0, 0.5), ("201", 30.0, 80.0)):
        ann = wfdb.rdann(str(mitdb / name), "atr")
        keep = np.isin(ann.symbol, list(SYMBOL_TO_CLASS))
        sample = ann.sample[keep]
        label = np.array([SYMBOL_TO_CLASS[x] for x in np.asarray(ann.symbol)[keep]], dtype=object)
        summary = rhythm_summary(sample, label, ann.fs, int(sample[-1]) + 1, [], CLASSES, AnalyzeConfig())
        percent = summary["irregular_rhythm"]["percent_of_beats"]
        assert lo <= percent <= hi, (name, percent)
        if name == "119":
            no_v = np.where(label == "V", "N", label)
            again = rhythm_summary(sample, no_v, ann.fs, int(sample[-1]) + 1, [], CLASSES, AnalyzeConfig())
            assert again["irregular_rhythm"]["percent_of_beats"] > 20.0
            given = np.zeros(len(sample), dtype=bool)  # flags given (the gate's): reported as they are
            given[100:150] = True
            told = rhythm_summary(sample, label, ann.fs, int(sample[-1]) + 1, [], CLASSES, AnalyzeConfig(), given)
            assert told["irregular_rhythm"]["episodes"][0]["n_beats"] == 50
            assert told["irregular_rhythm"]["episodes"][0]["start_s"] == round(sample[100] / ann.fs, 3)
            with pytest.raises(ValueError, match="irregular-rhythm flags"):
                rhythm_summary(sample, label, ann.fs, int(sample[-1]) + 1, [], CLASSES, AnalyzeConfig(), given[1:])


def test_summary_of_sinus_rhythm_has_no_irregular_stretch(mitdb):
    import torch

    from ecgbeat.analyze import AnalyzeConfig, analyze_record
    from ecgbeat.io.signals import read_signal, signal_from_array
    from ecgbeat.models import create_model

    torch.manual_seed(0)
    sig = read_signal(mitdb / "100")
    sig = signal_from_array(sig.signal_mV[: int(300 * sig.fs)], sig.fs, name="100")
    result = analyze_record(sig, create_model("lstm", patch_size=8, num_layers=1).eval(), AnalyzeConfig())
    assert result.summary["irregular_rhythm"] == {"percent_of_beats": 0.0, "episodes": []}


def test_causal_adapter_uses_earlier_beats_only():
    """The class mix of beat i comes from the beats before the last refresh point; chunking does not
    matter; unreadable (NaN) rows stay NaN and do not count."""
    from ecgbeat.predict import CausalAdapter, adapt_priors

    rng = np.random.default_rng(5)
    prior = np.array([0.8, 0.1, 0.05, 0.04, 0.01])
    proba = rng.dirichlet([1, 4, 1, 1, 1], 300)  # an S-heavy patient
    proba[[10, 100]] = np.nan
    setting = (5, 100.0, (3, 4))
    whole = CausalAdapter(prior, setting, history=64, every=16).update(proba)
    ok = np.isfinite(proba).all(axis=1)
    assert np.isnan(whole[~ok]).all() and np.allclose(whole[ok].sum(axis=1), 1.0)
    first = np.flatnonzero(ok)[:16]
    assert np.allclose(whole[first], proba[first])  # nothing known yet: the training mix, unchanged
    readable = np.flatnonzero(ok)
    k = readable[40]  # in the third block: mix of readable beats 0..31 (history 64)
    expect_prior = adapt_priors(proba[readable[:32]], prior, *setting)[1]
    q = proba[k] * expect_prior / prior
    assert np.allclose(whole[k], q / q.sum()) and whole[readable[40:], 1].mean() > proba[readable[40:], 1].mean()
    for chunk in (1, 5, 17, 300):
        adapter = CausalAdapter(prior, setting, history=64, every=16)
        got = np.concatenate([adapter.update(proba[i: i + chunk]) for i in range(0, 300, chunk)])
        assert np.allclose(got, whole, equal_nan=True) and len(adapter._past) == 64
    with pytest.raises(ValueError, match="history"):
        CausalAdapter(prior, setting, history=0)


def test_causal_adaptation_through_evaluate_analyze_and_stream(mitdb, small_beats):
    """evaluate --adapt --causal uses each record's earlier beats; analyze and a chunked stream with
    AnalyzeConfig.adapt (and the AF gate) give the same probabilities as each other, and as the
    adapter run over analyze's own unadapted probabilities."""
    import torch

    from ecgbeat.analyze import AnalyzeConfig, analyze_record
    from ecgbeat.io.signals import read_signal, signal_from_array
    from ecgbeat.models import create_model
    from ecgbeat.predict import CausalAdapter, adapt_causal_per_record, evaluate_beats
    from ecgbeat.stream import StreamClassifier

    torch.manual_seed(0)
    model = create_model("lstm", patch_size=8, num_layers=1, n_features=5).eval()
    meta = {"classes": list(CLASSES), "train_prior": [0.8, 0.05, 0.1, 0.04, 0.01]}
    _, plain = evaluate_beats(model, meta, small_beats)
    metrics, adapted = evaluate_beats(model, meta, small_beats, adapt="5:300:FQ", causal=True)
    assert metrics["adapt"] == "5:300:FQ (causal)"
    expect = adapt_causal_per_record(plain, small_beats.record, small_beats.sample, meta["train_prior"],
                                     (5, 300.0, (3, 4)))
    assert np.allclose(adapted, expect, atol=1e-5) and not np.allclose(adapted, plain, atol=1e-3)
    with pytest.raises(EcgbeatError, match="train_prior"):
        evaluate_beats(model, {"classes": list(CLASSES)}, small_beats, adapt="5:300:FQ", causal=True)

    sig = read_signal(mitdb / "232")  # most S beats of DS2, with long pauses
    sig = signal_from_array(sig.signal_mV[: int(300 * sig.fs)], sig.fs, name="232")
    pair = (model, {**meta, "model": "lstm"})
    raw = analyze_record(sig, pair, AnalyzeConfig(scaling="causal"))
    config = AnalyzeConfig(scaling="causal", adapt="5:300:FQ", af_gate=True)
    result = analyze_record(sig, pair, config)
    assert result.summary["adapt"] == "5:300:FQ" and result.summary["af_gate"] is True
    again = CausalAdapter(meta["train_prior"], (5, 300.0, (3, 4))).update(raw.proba)
    rr = np.concatenate([[np.nan], np.diff(result.sample) / sig.fs])
    again = gate_af(again, af_like(rr, ectopic=ventricular_calls(again, CLASSES)), CLASSES)
    assert np.allclose(result.proba, again, atol=1e-5, equal_nan=True)
    sc = StreamClassifier(pair, sig.fs, config)
    beats = []
    for i in range(0, len(sig.signal_mV), 1000):
        beats += sc.push(sig.signal_mV[i: i + 1000])
    beats += sc.flush()
    streamed = np.array([[np.nan] * 5 if b["probabilities"] is None else [b["probabilities"][c] for c in CLASSES]
                         for b in beats])
    assert np.allclose(streamed, result.proba, atol=1e-5, equal_nan=True)
    with pytest.raises(EcgbeatError, match="train_prior"):
        analyze_record(sig, (model, {"classes": list(CLASSES)}), AnalyzeConfig(adapt="5:300:FQ"))
