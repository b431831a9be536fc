"""Batch inference with a checkpoint, evaluation reports, prediction CSVs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .checkpoint import load_checkpoint
from .dsp.rhythm import af_like_by_record
from .errors import EcgbeatError, is_finite_real, is_whole
from .io.atomic import atomic_path, write_json_atomic, write_text_atomic
from .metrics import classification_metrics, coverage_curve, ec57_metrics, record_errors
from .training import INFERENCE_BATCH, check_batch_size, finite_inputs, predict_logits
from .types import BeatSet, records_in_time_order, refresh_blocks

UNCERTAIN = "uncertain"


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def adapt_priors(proba: np.ndarray, train_prior: np.ndarray, iters: int = 1, strength: float = 0.0,
                 fixed: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Re-weight class probabilities to the class mix of the beats at hand (label-shift
    adaptation, Saerens, Latinne & Decaestecker 2002, Neural Computation 14:21-41).

    A classifier's probabilities carry the class mix it was trained on (``train_prior``, e.g. its
    mean probability over its training beats). One patient's beats have another mix, unknown but
    estimable from the probabilities themselves by EM: ``p'(c|x) ~ p(c|x) pi(c) / train_prior(c)``,
    then ``pi`` = the mean of ``p'`` over the beats, ``iters`` times. ``strength`` adds that many
    pseudo-beats drawn from ``train_prior`` (a Dirichlet prior) so that a few beats cannot move the
    estimate far; classes in ``fixed`` keep their training share (rare classes whose estimate would
    be noise). Returns the adapted probabilities and the estimated class mix."""
    proba = np.asarray(proba, dtype=np.float64)
    train_prior = np.asarray(train_prior, dtype=np.float64)
    if train_prior.ndim != 1 or not (np.isfinite(train_prior) & (train_prior > 0)).all():
        raise EcgbeatError(f"adapt_priors: train_prior must be finite positive values, one per class, "
                           f"got {np.array2string(train_prior, threshold=10)}")
    if proba.ndim != 2 or proba.shape[1] != len(train_prior):
        raise EcgbeatError(f"adapt_priors: proba must have shape (beats, {len(train_prior)} classes), "
                           f"got {proba.shape}")
    bad = np.flatnonzero(~(np.isfinite(proba) & (proba >= 0)).all(axis=1) | ~(proba.sum(axis=1) > 0))
    if len(bad):
        raise EcgbeatError(f"adapt_priors: proba has {len(bad)} row(s) that are not probabilities (NaN, inf, negative "
                           f"or all 0), the first at index {bad[0]}; leave unreadable beats out")
    if not is_whole(iters) or iters < 0:
        raise EcgbeatError(f"adapt_priors: iters must be a whole number >= 0, got {iters!r}")
    if not (is_finite_real(strength) and strength >= 0):
        raise EcgbeatError(f"adapt_priors: strength must be a finite number >= 0 (pseudo-beats), got {strength!r}")
    if not isinstance(fixed, (tuple, list, set, frozenset, range, np.ndarray)) or \
            not all(is_whole(c) and 0 <= c < len(train_prior) for c in fixed):
        raise EcgbeatError(f"adapt_priors: fixed must be class indices in 0..{len(train_prior) - 1}, got {fixed!r} "
                           "(parse_adaptation turns class letters into indices)")
    free = np.array([c not in fixed for c in range(len(train_prior))])
    prior = train_prior.copy()
    if len(proba) == 0 and strength <= 0:
        return proba.copy(), prior
    for _ in range(int(iters)):
        q = proba * (prior / train_prior)
        q /= q.sum(axis=1, keepdims=True)
        mix = (q.sum(axis=0) + strength * train_prior) / (len(q) + strength)
        prior = train_prior.copy()
        prior[free] = mix[free] / mix[free].sum() * train_prior[free].sum()
    q = proba * (prior / train_prior)
    return q / q.sum(axis=1, keepdims=True), prior


def parse_adaptation(text: str, classes: tuple[str, ...]) -> tuple[int, float, tuple[int, ...]]:
    """``"ITERS:STRENGTH:HELD"`` (e.g. ``"1:3000:FQ"``; HELD = class letters kept at their training
    share, ``-`` for none) -> the arguments of :func:`adapt_priors` after ``proba``/``train_prior``."""
    parts = text.split(":")
    try:
        iters, strength = int(parts[0]), float(parts[1])
        held = parts[2] if len(parts) == 3 else ""
        if len(parts) != 3 or iters < 1 or not 0 <= strength < float("inf"):  # NaN fails too
            raise ValueError
    except (ValueError, IndexError):
        raise EcgbeatError(f"--adapt takes ITERS:STRENGTH:HELD (EM steps >= 1, a finite strength >= 0 beats, class "
                           f"letters held at their training share or -), e.g. 1:3000:FQ; got {text!r}") from None
    unknown = [c for c in held if c != "-" and c not in classes]
    if unknown:
        raise EcgbeatError(f"--adapt: unknown class {unknown[0]!r}; classes are {', '.join(classes)}")
    return iters, strength, tuple(classes.index(c) for c in held if c != "-")


def adapt_per_record(proba: np.ndarray, records: np.ndarray, train_prior, setting) -> np.ndarray:
    """:func:`adapt_priors` applied to each record's beats separately (one patient, one class mix);
    ``setting`` = (iters, strength, fixed)."""
    out = np.empty_like(proba)
    for r in np.unique(records):
        k = records == r
        out[k] = adapt_priors(proba[k], np.asarray(train_prior), *setting)[0]
    return out


class CausalAdapter:
    """:func:`adapt_priors` from the patient's earlier beats only, for a stream of beats.

    ``update(proba)`` takes the next beats' probabilities (NaN rows: unreadable beats, skipped)
    and returns them re-weighted to the class mix estimated, every ``every`` readable beats, by EM
    over the last ``history`` readable beats before them (at first the training mix, i.e. no
    change). The refresh points count beats, not calls, so any chunking of a stream gives the same
    output; memory is bounded by ``history`` rows."""

    def __init__(self, train_prior, setting: tuple[int, float, tuple[int, ...]], history: int = 2000,
                 every: int = 32):
        self.train_prior = np.asarray(train_prior, dtype=np.float64)
        if self.train_prior.ndim != 1 or (self.train_prior <= 0).any():
            raise ValueError("train_prior must be positive values, one per class")
        if history < 1 or every < 1:
            raise ValueError(f"history and every must be >= 1, got {history}, {every}")
        self.setting, self.history, self.every = setting, int(history), int(every)
        self._past = np.zeros((0, len(self.train_prior)))
        self._seen = 0
        self.prior = self.train_prior.copy()

    def update(self, proba: np.ndarray) -> np.ndarray:
        proba = np.asarray(proba, dtype=np.float64)
        out = np.full_like(proba, np.nan)
        rows = np.flatnonzero(np.isfinite(proba).all(axis=1))
        for block, refresh in refresh_blocks(rows, self._seen, self.every):
            q = proba[block] * (self.prior / self.train_prior)
            out[block] = q / q.sum(axis=1, keepdims=True)
            past = np.concatenate([self._past, proba[block]])
            self._past = past[len(past) - min(len(past), self.history):]
            self._seen += len(block)
            if refresh:
                self.prior = adapt_priors(self._past, self.train_prior, *self.setting)[1]
        return out


def adapt_causal_per_record(proba: np.ndarray, records: np.ndarray, sample: np.ndarray, train_prior,
                            setting, **kwargs) -> np.ndarray:
    """:class:`CausalAdapter` over each record's beats in time order (``sample``): what
    ``analyze``/``stream`` with ``AnalyzeConfig.adapt`` give, for beats already cut."""
    out = np.empty_like(np.asarray(proba, dtype=np.float64))
    for idx in records_in_time_order(records, sample):
        out[idx] = CausalAdapter(train_prior, setting, **kwargs).update(proba[idx])
    return out


def af_gate_classes(classes: tuple[str, ...]) -> tuple[int, int]:
    """Indices of N and S, which the AF gate needs; a one-line error for other class sets."""
    if "N" not in classes or "S" not in classes:
        raise EcgbeatError(f"the AF gate needs classes N and S, this model has {', '.join(classes)}")
    return classes.index("N"), classes.index("S")


def gate_af(proba: np.ndarray, af: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """``proba`` with the S probability of beats in an atrial-fibrillation-like rhythm moved to N.

    Without organised atrial activity no beat is supraventricular ectopic, and MIT-BIH labels
    such beats N; ``af`` (:func:`ecgbeat.dsp.rhythm.af_like`) marks them. Other classes keep
    their probabilities, so a ventricular beat during fibrillation is still V."""
    n, s = af_gate_classes(classes)
    af = np.asarray(af, dtype=bool)
    if len(af) != len(proba):
        raise ValueError(f"{len(proba)} beats but {len(af)} rhythm flags")
    out = np.array(proba, copy=True)
    out[af, n] += out[af, s]
    out[af, s] = 0.0
    return out


def af_rr(beats: BeatSet) -> np.ndarray:
    """Each beat's previous RR (s), which the AF gate's rhythm detector reads; a one-line error for
    beats without RR (Kaggle CSV rows)."""
    if not np.isfinite(beats.rr_s[:, 0]).any():
        raise EcgbeatError("--af-gate needs each beat's RR interval: beats cut from whole recordings, "
                           "not Kaggle CSV rows")
    return beats.rr_s[:, 0]


def ventricular_calls(proba: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """The beats whose most probable class is V (never a NaN row; none for a model without V): the
    ectopic beats whose RR intervals the AF gate's detector leaves out."""
    proba = np.asarray(proba)
    if "V" not in classes or not len(proba):
        return np.zeros(len(proba), dtype=bool)
    ok = np.isfinite(proba).all(axis=1)
    return ok & (np.where(ok[:, None], proba, 0.0).argmax(axis=1) == classes.index("V"))


def af_flags(proba: np.ndarray, prev_rr_s: np.ndarray, record: np.ndarray, sample: np.ndarray,
             classes: tuple[str, ...], skip_ectopic: bool = True) -> np.ndarray:
    """The AF gate's flags (:func:`ecgbeat.dsp.rhythm.af_like`), each record's beats in time order,
    with the RR intervals next to the beats ``proba`` calls V left out (``skip_ectopic``)."""
    ectopic = ventricular_calls(proba, classes) if skip_ectopic else None
    return af_like_by_record(prev_rr_s, record, sample, ectopic)


def adjust_proba(proba: np.ndarray, record: np.ndarray, sample: np.ndarray, classes: tuple[str, ...],
                 train_prior=None, setting=None, causal: bool = False, prev_rr_s: np.ndarray | None = None,
                 skip_ectopic: bool = True, self_train: dict | None = None,
                 features: np.ndarray | None = None, smooth: dict | None = None) -> np.ndarray:
    """The per-patient steps after the model, offline, in the order ``analyze``/``stream`` apply them:
    class-mix adaptation with ``setting`` (:func:`parse_adaptation`; each record as a whole, or with
    ``causal`` from its earlier beats, in ``sample`` order), then, where ``prev_rr_s`` (:func:`af_rr`)
    is given, the AF gate (:func:`gate_af`) on :func:`af_flags` of the adapted probabilities, then
    with ``smooth`` (``{"transitions": ..., "strength": ...}``, :mod:`ecgbeat.smoothing`; needs
    ``train_prior``) beat-to-beat smoothing (which keeps a gated S probability at 0), then with ``self_train``
    (keyword arguments of :class:`ecgbeat.self_training.SelfTrainer`, ``{}`` for its defaults)
    per-patient self-training on ``features``
    (:func:`ecgbeat.self_training.self_training_features`; causal with ``causal``), the AF gate
    applied again with the same flags. ``None`` skips a step."""
    if setting is not None:
        proba = (adapt_causal_per_record(proba, record, sample, train_prior, setting) if causal
                 else adapt_per_record(proba, record, train_prior, setting))
    af = None
    if prev_rr_s is not None:
        af = af_flags(proba, prev_rr_s, record, sample, classes, skip_ectopic)
        proba = gate_af(proba, af, classes)
    if smooth is not None:
        from .smoothing import smooth_per_record

        # a gated beat's S probability is 0 and smoothing multiplies it: no second gate needed
        proba = smooth_per_record(proba, record, sample, smooth["transitions"], train_prior, smooth["strength"])
    if self_train is not None:
        from .self_training import self_train_per_record

        if features is None:
            raise ValueError("self-training needs the beats' self_training_features")
        proba = self_train_per_record(proba, features, record, sample, causal, **self_train)
        if af is not None:
            proba = gate_af(proba, af, classes)
    return proba


def predict_proba(model, beats: BeatSet, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
    """Class probabilities (n_beats, n_classes) for beats cut as the model was trained; every beat
    readable (finite samples: leave unreadable beats out, as :func:`ecgbeat.analyze` does)."""
    check_batch_size(batch_size)
    if beats.n_samples != model.n_samples:
        raise EcgbeatError(f"model expects beats of {model.n_samples} samples, got {beats.n_samples}")
    X, feats = finite_inputs(model, beats, "", "leave unreadable beats out before classifying "
                                                "(as ecgbeat.analyze does)")
    return softmax(predict_logits(model, X, feats, batch_size=batch_size))


def class_mix(model, beats: BeatSet) -> np.ndarray:
    """The model's mean class probability over ``beats``: on its training beats, the class mix its
    probabilities carry (a checkpoint's ``train_prior``, what :func:`adapt_priors` corrects from)."""
    return predict_proba(model, beats).mean(axis=0, dtype=np.float64)  # float32 sums drift by 1e-6


def train_prior_of(meta: dict) -> np.ndarray:
    """A checkpoint's ``train_prior`` (what :func:`adapt_priors` starts from), checked."""
    prior = meta.get("train_prior")
    if not prior:
        raise EcgbeatError("--adapt and --smooth need the class mix the model was trained with (train_prior), which "
                           "this checkpoint lacks: retrain it with this version of ecgbeat")
    if len(prior) != len(meta["classes"]) or not all(isinstance(v, (int, float)) and v > 0 for v in prior):
        raise EcgbeatError(f"checkpoint train_prior must be {len(meta['classes'])} positive numbers, got {prior}")
    return np.asarray(prior, dtype=np.float64)


def step_settings(meta: dict, adapt: str | None = None, self_train: str | None = None,
                  smooth: float | str | None = None) -> tuple:
    """The per-patient settings of :func:`adjust_proba` from their command-line forms, checked against
    the checkpoint's ``meta`` (one-line errors): the adaptation setting, the training mix (needed by
    adaptation and smoothing), the self-training keyword arguments and the smoothing dict; None for
    a step not asked for."""
    classes = tuple(meta["classes"])
    setting = parse_adaptation(adapt, classes) if adapt else None
    st = sm = None
    if self_train:
        from .self_training import parse_self_training

        st = parse_self_training(self_train)
    if smooth is not None:
        from .smoothing import parse_smoothing, transitions_of

        sm = {"strength": parse_smoothing(smooth), "transitions": transitions_of(meta)}
    prior = train_prior_of(meta) if adapt or sm is not None else None
    return setting, prior, st, sm


def evaluate_beats(model, meta: dict, beats: BeatSet, adapt: str | None = None, af_gate: bool = False,
                   causal: bool = False, self_train: str | None = None,
                   smooth: float | str | None = None) -> tuple[dict, np.ndarray]:
    """Test metrics (classification, EC57, calibration, coverage) and the probabilities.

    ``adapt`` ("ITERS:STRENGTH:HELD", :func:`parse_adaptation`) re-weights each record's
    probabilities to that patient's class mix (:func:`adapt_priors`; needs the checkpoint's
    ``train_prior``); the metrics then record the setting. With ``causal`` each beat's mix comes from
    the patient's earlier beats only (:class:`CausalAdapter`, what ``analyze`` and ``stream`` do)
    instead of the whole record. ``af_gate`` then moves the S probability
    of beats in an atrial-fibrillation-like rhythm to N (:func:`gate_af`; each record's beats in
    time order, from their previous RR, leaving out the intervals next to beats called V).
    ``self_train`` ("CONFIDENCE:C", :func:`ecgbeat.self_training.parse_self_training`) then fits a
    classifier per patient on its confident beats (from earlier beats only with ``causal``).
    ``smooth`` (a strength in [0, 1], :mod:`ecgbeat.smoothing`; needs the checkpoint's
    ``train_prior`` and ``train_transitions``) filters each record's beats forward through the
    training beats' class-to-class transitions, after the gate and before self-training."""
    if (beats.y < 0).any():
        raise EcgbeatError("evaluation needs labelled beats")
    classes = tuple(meta["classes"])
    setting, prior, st, sm = step_settings(meta, adapt, self_train, smooth)
    prev_rr = af_rr(beats) if af_gate else None
    if sm is not None and (np.asarray(beats.record).astype(str) == "").any():
        raise EcgbeatError("--smooth needs beats cut from whole recordings (each beat's record and position), "
                           "not Kaggle CSV rows")
    features = None
    if st is not None:
        from .self_training import check_self_training_beats, self_training_features

        check_self_training_beats(beats)
        features = self_training_features(beats)
    proba = adjust_proba(predict_proba(model, beats), beats.record, beats.sample, classes, prior, setting,
                         causal, prev_rr, self_train=st, features=features, smooth=sm).astype(np.float32)
    y_pred = proba.argmax(axis=1)
    metrics = classification_metrics(beats.y, y_pred, classes, proba=proba)
    if set(classes) >= {"N", "S", "V", "F"}:
        metrics["ec57"] = ec57_metrics(beats.y, y_pred, classes)
    metrics["coverage"] = coverage_curve(beats.y, proba)
    if len(set(beats.record.tolist()) - {""}) > 1:  # beats of several patients: where the errors are
        metrics["per_record"] = record_errors(beats.y, y_pred, beats.record, classes)
    for key in ("model", "seed", "split"):
        if key in meta:
            metrics[key] = meta[key]
    if adapt:
        metrics["adapt"] = adapt + (" (causal)" if causal else "")
    if af_gate:
        metrics["af_gate"] = True
    if sm is not None:
        metrics["smooth"] = sm["strength"]
    if self_train:
        metrics["self_train"] = self_train + (" (causal)" if causal else "")
    return metrics, proba


def write_predictions_csv(path: str | os.PathLike, proba: np.ndarray, classes: tuple[str, ...],
                          beats: BeatSet | None = None, min_confidence: float = 0.0) -> Path:
    """CSV: row, [record, sample,] [true,] predicted class, confidence, one probability per class.

    Beats whose top probability is below ``min_confidence`` are labelled ``uncertain``.
    """
    import pandas as pd

    proba = np.asarray(proba)
    if proba.ndim != 2 or proba.shape[1] != len(classes) or (beats is not None and len(beats) != len(proba)):
        raise EcgbeatError(f"proba must have shape (beats, {len(classes)} classes)"
                           f"{'' if beats is None else f' = ({len(beats)}, {len(classes)})'}, got {proba.shape}")
    bad = np.flatnonzero(~np.isfinite(proba).all(axis=1))
    if len(bad):
        raise EcgbeatError(f"proba has {len(bad)} non-finite (NaN or inf) row(s), the first at index {bad[0]}: "
                           "leave unreadable beats out")
    pred = np.array(classes, dtype=object)[proba.argmax(axis=1)]
    confidence = proba.max(axis=1)
    pred[confidence < min_confidence] = UNCERTAIN
    cols: dict = {"row": np.arange(len(proba))}
    if beats is not None and (beats.record != "").any():
        cols["record"], cols["sample"] = beats.record, beats.sample
    if beats is not None and (beats.y >= 0).all():
        cols["true"] = np.array(classes, dtype=object)[beats.y]
    cols["predicted"] = pred
    cols["confidence"] = confidence.round(6)
    for i, c in enumerate(classes):
        cols[f"p_{c}"] = proba[:, i].round(6)
    with atomic_path(path) as tmp:
        pd.DataFrame(cols).to_csv(tmp, index=False)
    return Path(path)


def predict_csv(checkpoint: str | os.PathLike, csv_in: str | os.PathLike, csv_out: str | os.PathLike,
                min_confidence: float = 0.0) -> dict:
    """Classify a Kaggle-format CSV (label column optional) and write the prediction CSV.

    Returns a summary: counts per predicted class and, when labels were present, accuracy.
    """
    from .io.kaggle import load_kaggle_csv

    if not 0.0 <= min_confidence <= 1.0:
        raise EcgbeatError(f"--min-confidence must be in [0, 1], got {min_confidence}")
    model, meta = load_checkpoint(checkpoint)
    classes = tuple(meta["classes"])
    beats = load_kaggle_csv(csv_in, classes=classes, n_samples=model.n_samples)
    proba = predict_proba(model, beats)
    write_predictions_csv(csv_out, proba, classes, beats, min_confidence)
    pred = proba.argmax(axis=1)
    kept = proba.max(axis=1) >= min_confidence
    summary = {"n": len(beats), "output": str(csv_out),
               "predicted": {c: int(((pred == i) & kept).sum()) for i, c in enumerate(classes)},
               "uncertain": int((~kept).sum())}
    if (beats.y >= 0).all():
        summary["accuracy"] = float((pred == beats.y).mean())
        summary["accuracy_on_kept"] = float((pred[kept] == beats.y[kept]).mean()) if kept.any() else None
    return summary


def evaluate_checkpoint(checkpoint: str | os.PathLike, beats: BeatSet, out_dir: str | os.PathLike,
                        adapt: str | None = None, af_gate: bool = False, causal: bool = False,
                        self_train: str | None = None, smooth: float | str | None = None) -> dict:
    """Evaluate a checkpoint on labelled beats; write metrics.json, report.md, predictions.csv
    (``adapt``, ``af_gate``, ``causal``, ``self_train``, ``smooth``: see :func:`evaluate_beats`)."""
    from .report import metrics_markdown

    model, meta = load_checkpoint(checkpoint)
    metrics, proba = evaluate_beats(model, meta, beats, adapt, af_gate, causal, self_train, smooth)
    out = Path(out_dir)
    write_json_atomic(out / "metrics.json", metrics)
    write_text_atomic(out / "report.md", metrics_markdown(metrics, title=f"Evaluation of {meta['model']}"))
    write_predictions_csv(out / "predictions.csv", proba, tuple(meta["classes"]), beats)
    return metrics
