"""Classification metrics: label arrays in, plain dicts out (JSON-ready). No torch, no files."""

from __future__ import annotations

import numpy as np

from .errors import EcgbeatError


def _class_indices(name: str, y: np.ndarray, n_classes: int) -> np.ndarray:
    """``y`` as class indices in 0..n_classes-1 (integers as they are; whole floats as int64)."""
    if y.dtype.kind not in "iuf":  # bool, str, object: not class indices
        if y.size:
            raise EcgbeatError(f"{name} must be class indices (whole numbers), got {y.dtype} values")
        return y.astype(np.int64)
    if y.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))
        if len(bad):
            raise EcgbeatError(f"{name} must be class indices (whole numbers): {len(bad)} value(s) are not, "
                               f"the first at index {bad[0]}: {y[bad[0]]}")
        y = y.astype(np.int64)
    bad = np.flatnonzero((y < 0) | (y >= n_classes))
    if len(bad):
        hint = " (-1: an unlabelled beat; metrics need labelled beats)" if y[bad[0]] == -1 else ""
        raise EcgbeatError(f"{name}: {len(bad)} label(s) outside 0..{n_classes - 1} (the {n_classes} classes), "
                           f"the first at index {bad[0]}: {y[bad[0]]}{hint}")
    return y


def check_labels(y_true, y_pred, classes: tuple[str, ...], proba=None, record=None) -> tuple:
    """``y_true``, ``y_pred`` (and ``record``) as 1-D arrays of one length with class indices in
    0..len(classes)-1, and ``proba`` (when given) finite, of shape (n, len(classes)); else a one-line
    :class:`EcgbeatError` naming the argument. Returns ``(y_true, y_pred, proba, record)``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    shapes = [("y_true", y_true.shape), ("y_pred", y_pred.shape)]
    if record is not None:
        record = np.asarray(record)
        shapes.append(("record", record.shape))
    if y_true.ndim != 1 or len({shape for _, shape in shapes}) != 1:
        named = [f"{k} {shape}" for k, shape in shapes]
        raise EcgbeatError(f"{', '.join(named[:-1])} and {named[-1]} must be 1-D and equal")
    n = len(classes)
    y_true, y_pred = _class_indices("y_true", y_true, n), _class_indices("y_pred", y_pred, n)
    if proba is not None:
        proba = np.asarray(proba, dtype=np.float64)
        if proba.shape != (len(y_true), n):
            raise EcgbeatError(f"proba must have shape (beats, classes) = {(len(y_true), n)}, got {proba.shape}")
        bad = np.flatnonzero(~np.isfinite(proba).all(axis=1))
        if len(bad):
            raise EcgbeatError(f"proba: {len(bad)} row(s) not finite (NaN or inf), the first at index {bad[0]}")
    return y_true, y_pred, proba, record


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...],
                           proba: np.ndarray | None = None) -> dict:
    """Accuracy, macro-F1, per-class precision / sensitivity / F1 / support, confusion matrix.

    Macro-F1 averages over the classes present in ``y_true`` or ``y_pred``. ``majority_baseline_
    accuracy`` is what always predicting the most frequent true class scores. A value with nothing
    to count is NaN (``null`` in JSON, "–" in reports), not 0: a class never predicted has no
    precision, one without beats no sensitivity (nor, if never predicted either, F1), and its row of
    the normalised confusion matrix is NaN. With ``proba``
    (n, n_classes), the expected calibration error (15 equal-width confidence bins) is added.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix

    y_true, y_pred, proba, _ = check_labels(y_true, y_pred, classes, proba)
    if len(y_true) == 0:
        raise EcgbeatError("no beats to evaluate")
    labels = np.arange(len(classes))
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    # from the counts, as scikit-learn >= 1.4 gives them with zero_division=NaN (1.3 made F1 NaN
    # for a class with beats but no call): NaN only where nothing is counted, 0/0
    tp, called, support = np.diag(cm), cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision, recall = tp / called, tp / support
        f1 = 2 * tp / (called + support)
    row = cm.sum(axis=1, keepdims=True)
    present = (support > 0) | (cm.sum(axis=0) > 0)
    out = {
        "n": int(len(y_true)),
        "classes": list(classes),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1[present].mean()),
        "majority_baseline_accuracy": float(np.bincount(y_true, minlength=len(classes)).max() / len(y_true)),
        "per_class": {
            c: {"precision": float(precision[i]), "sensitivity": float(recall[i]),
                "f1": float(f1[i]), "support": int(support[i])}
            for i, c in enumerate(classes)
        },
        "confusion_matrix": cm.tolist(),
        "confusion_matrix_normalized": np.divide(cm, row, out=np.full(cm.shape, np.nan),
                                                 where=row > 0).round(6).tolist(),
    }
    if proba is not None:
        out["ece"] = expected_calibration_error(y_true, proba)
    return out


def ec57_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...]) -> dict:
    """AAMI EC57 beat classification statistics, counted as WFDB's ``bxb`` (the standard's reference
    comparator) counts them.

    Sensitivity (Se = TP / (TP + FN)) and positive predictivity (+P = TP / (TP + FP)) for N, S, V
    and F, and overall accuracy. Q beats are left out of the statistics, as is usual for the
    inter-patient protocol (de Chazal et al. 2004), since MIT-BIH holds almost none outside the
    paced records. As in ``bxb``, a fusion beat (F) called V is not a false V: it is partly
    ventricular. It still counts against F's sensitivity, and ``V["fusion_called_v"]`` says how many
    there were (``fp + fusion_called_v`` is the stricter count that treats them as false V). Beats
    of every other class called S or V are false S or V; S, V and F beats called anything else are
    missed. Extra beats (a reference class not in ``"NSVFQ"``, such as ``analyze``'s ``"-"`` for a
    detection without a reference beat) are false positives of whatever they were called.
    """
    y_true, y_pred, _, _ = check_labels(y_true, y_pred, classes)
    keep = np.ones(len(y_true), dtype=bool)
    if "Q" in classes:
        keep = y_true != classes.index("Q")
    t, p = y_true[keep], y_pred[keep]
    out = {"accuracy": float((t == p).mean()) if len(t) else float("nan"), "n": int(len(t))}
    for name in ("N", "S", "V", "F"):
        if name not in classes:
            continue
        k = classes.index(name)
        tp = int(((t == k) & (p == k)).sum())
        fn = int(((t == k) & (p != k)).sum())
        fp = int(_false_calls(t, p, k, classes).sum())
        extra = {"fusion_called_v": int(((t == classes.index("F")) & (p == k)).sum())} \
            if name == "V" and "F" in classes else {}
        out[name] = {"sensitivity": tp / (tp + fn) if tp + fn else float("nan"),
                     "ppv": tp / (tp + fp) if tp + fp else float("nan"), "tp": tp, "fn": fn, "fp": fp, **extra}
    return out


def _false_calls(t: np.ndarray, p: np.ndarray, k: int, classes: tuple[str, ...]) -> np.ndarray:
    """Beats of another class called ``k``, as EC57 (WFDB's ``bxb``) counts false positives: a
    fusion beat called V is not a false V."""
    false = (t != k) & (p == k)
    if classes[k] == "V" and "F" in classes:
        false &= t != classes.index("F")
    return false


def expected_calibration_error(y_true: np.ndarray, proba: np.ndarray, n_bins: int = 15) -> float:
    """ECE: confidence-weighted gap between confidence and accuracy (Guo et al. 2017)."""
    proba = np.asarray(proba, dtype=np.float64)
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == np.asarray(y_true)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.digitize(confidence, edges[1:-1]), 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)


def coverage_curve(y_true: np.ndarray, proba: np.ndarray,
                   thresholds=(0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)) -> list[dict]:
    """Accuracy on the beats kept and share kept (coverage) when abstaining below each confidence."""
    confidence = np.asarray(proba).max(axis=1)
    correct = np.asarray(proba).argmax(axis=1) == np.asarray(y_true)
    rows = []
    for th in thresholds:
        kept = confidence >= th
        rows.append({"threshold": float(th), "coverage": float(kept.mean()),
                     "accuracy": float(correct[kept].mean()) if kept.any() else float("nan")})
    return rows


def record_errors(y_true: np.ndarray, y_pred: np.ndarray, record: np.ndarray, classes: tuple[str, ...],
                  ectopic: tuple[str, ...] = ("S", "V")) -> dict:
    """Per record (patient), where the errors of an evaluation come from: ``beats``, ``accuracy``,
    and for each class of ``ectopic`` present in ``classes``, ``missed_<c>`` (beats of ``c`` called
    something else) and ``false_<c>`` (beats of another class called ``c``; a fusion beat called V
    is not a false V). Q beats are left out, as in :func:`ec57_metrics`, so the counts add up to its
    ``fn`` and ``fp``. Records in sorted order; values plain ints and floats (JSON-ready)."""
    y_true, y_pred, _, record = check_labels(y_true, y_pred, classes, record=record)
    keep = y_true != classes.index("Q") if "Q" in classes else np.ones(len(y_true), dtype=bool)
    out = {}
    for rec in sorted(set(record[keep].tolist())):
        m = keep & (record == rec)
        yy, pp = y_true[m], y_pred[m]
        row = {"beats": int(m.sum()), "accuracy": float((yy == pp).mean())}
        for c in ectopic:
            if c in classes:
                k = classes.index(c)
                row[f"missed_{c}"] = int(((yy == k) & (pp != k)).sum())
                row[f"false_{c}"] = int(_false_calls(yy, pp, k, classes).sum())
        out[str(rec)] = row
    return out
