"""Figures for beats, predictions, confusion matrices, training curves and raw ECG strips.

Every plotting function is pure: it builds a new :class:`matplotlib.figure.Figure` (no pyplot,
so no global backend or figure-manager state is touched) and returns it. Nothing is shown or
saved; use :func:`save_figure` to write a PNG atomically.

Conventions
-----------
- ``X`` holds Kaggle-format beats: shape ``(n_beats, n_samples)`` (a trailing channel axis of
  size 1 is accepted), sampled at ``fs`` Hz, scaled to [0, 1], starting at the R peak and
  zero-padded at the end. Trailing zero padding is trimmed for display.
- Labels (``y``, ``y_true``, ``y_pred``) are either integer indices into ``classes``, class
  names (e.g. ``"V"``), or one-hot / probability rows of shape ``(n_beats, n_classes)``.
- Each AAMI class keeps one colour everywhere (:data:`CLASS_COLORS`) and is shown by name
  (e.g. "V – Ventricular ectopic"), never by number.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MultipleLocator

from .errors import EcgbeatError
from .io.atomic import atomic_path
from .labels import CLASS_NAMES, SYMBOL_TO_CLASS

__all__ = [
    "CLASS_COLORS",
    "plot_beats_per_class",
    "plot_beats_with_labels",
    "plot_confusion_matrix",
    "plot_predictions",
    "plot_record_strip",
    "plot_training_curves",
    "save_figure",
]

#: One colour per AAMI class (Okabe-Ito palette: distinguishable with colour-vision deficiency).
CLASS_COLORS: dict[str, str] = {
    "N": "#0072B2",  # blue
    "S": "#E69F00",  # orange
    "V": "#D55E00",  # vermillion
    "F": "#009E73",  # bluish green
    "Q": "#CC79A7",  # reddish purple
}

_OTHER_COLOR = "#7F7F7F"
_WRONG_COLOR = "#C00000"
_TRAIN_COLOR = "#0072B2"
_VAL_COLOR = "#D55E00"
_NAME_TO_LETTER = {name.lower(): letter for letter, name in CLASS_NAMES.items()}
#: MIT-BIH annotation codes that mark no beat (rhythm, noise, signal quality, waves, comments).
_NON_BEAT_SYMBOLS = frozenset('+~|"![]x()ptu`\'^sT*D=@')


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _class_color(name: str) -> str:
    """Colour of a class given by letter ("V"), full name or MIT-BIH beat symbol ("E")."""
    letter = name if name in CLASS_COLORS else _NAME_TO_LETTER.get(str(name).lower())
    letter = letter or SYMBOL_TO_CLASS.get(name)  # MIT-BIH beat symbol ("A" -> "S")
    return CLASS_COLORS.get(letter, _OTHER_COLOR) if letter else _OTHER_COLOR


def _class_title(name: str) -> str:
    """'V – Ventricular ectopic' for an AAMI letter, else the name itself."""
    full = CLASS_NAMES.get(name)
    return f"{name} – {full}" if full else str(name)


def _strip_order(label: str) -> tuple[int, str]:
    """Sort key: AAMI class order (N, S, V, F, Q), then MIT-BIH symbols, then anything else."""
    order = list(CLASS_COLORS)
    cls = label if label in CLASS_COLORS else SYMBOL_TO_CLASS.get(label)
    return (order.index(cls) if cls in order else len(order), label)


def _strip_label(label: str) -> str:
    """Legend text for a strip label: 'V – Ventricular ectopic' or 'A (MIT-BIH) → S'."""
    if label in CLASS_NAMES:
        return _class_title(label)
    if label in SYMBOL_TO_CLASS:
        return f"{label} (MIT-BIH) → {SYMBOL_TO_CLASS[label]}"
    return str(label)


def _check_classes(classes: Sequence[str]) -> list[str]:
    if classes is None or isinstance(classes, str):
        raise EcgbeatError(
            "classes must be a sequence of class names, e.g. ['N', 'S', 'V', 'F', 'Q']"
        )
    out = [str(c) for c in classes]
    if not out:
        raise EcgbeatError("classes is empty; pass the class names, e.g. ['N', 'S', 'V', 'F', 'Q']")
    if len(set(out)) != len(out):
        raise EcgbeatError(f"classes contains duplicates: {out}")
    return out


def _check_beats(X) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim == 3 and X.shape[2] == 1:
        X = X[:, :, 0]
    if X.ndim != 2:
        raise EcgbeatError(f"X must be 2-D (n_beats, n_samples), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise EcgbeatError(f"X is empty (shape {X.shape}); nothing to plot")
    return X


def _check_fs(fs: float) -> float:
    fs = float(fs)
    if not np.isfinite(fs) or fs <= 0:
        raise EcgbeatError(f"fs must be a positive sampling frequency in Hz, got {fs}")
    return fs


def _labelled_beats(X, y, classes, fs):
    """The checked ``classes``, beats, class name per beat and ``fs`` of a plot of labelled beats."""
    classes = _check_classes(classes)
    X = _check_beats(X)
    names = _labels_to_names(y, classes)
    if len(names) != len(X):
        raise EcgbeatError(f"X has {len(X)} beats but y has {len(names)} labels")
    return classes, X, names, _check_fs(fs)


def _labels_to_names(y, classes: list[str], what: str = "y") -> np.ndarray:
    """Labels as an object array of class names (indices, names or one-hot rows accepted)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == len(classes):
        y = np.argmax(y, axis=1)
    if y.ndim != 1:
        raise EcgbeatError(f"{what} must be 1-D (one label per beat), got shape {y.shape}")
    if y.size == 0:
        raise EcgbeatError(f"{what} is empty; nothing to plot")
    if y.dtype.kind in "iub" or (y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0)):
        idx = y.astype(np.int64)
        bad = (idx < 0) | (idx >= len(classes))
        if bad.any():
            raise EcgbeatError(
                f"{what} has class index {idx[bad][0]} outside 0..{len(classes) - 1} "
                f"(classes: {', '.join(classes)})"
            )
        return np.asarray(classes, dtype=object)[idx]
    names = y.astype(str).astype(object)
    unknown = sorted(set(names) - set(classes))
    if unknown:
        raise EcgbeatError(f"{what} has labels {unknown} not in classes {classes}")
    return names


def _trim_padding(beat: np.ndarray) -> np.ndarray:
    """The beat without its trailing zero padding (the whole beat if it is all zeros)."""
    nz = np.flatnonzero(beat != 0)
    return beat[: nz[-1] + 1] if nz.size else beat


def _balanced_pick(labels: np.ndarray, order: list[str], n: int,
                   rng: np.random.Generator) -> list[int]:
    """Up to ``n`` indices, drawn round-robin over the classes present (rarest shown too)."""
    pools = {c: list(rng.permutation(np.flatnonzero(labels == c))) for c in order}
    pools = {c: p for c, p in pools.items() if p}
    picked: list[int] = []
    while len(picked) < n and pools:
        for c in list(pools):
            if len(picked) >= n:
                break
            picked.append(int(pools[c].pop()))
            if not pools[c]:
                del pools[c]
    return picked


def _grid(n: int, max_cols: int) -> tuple[int, int]:
    ncols = max(1, min(n, max_cols))
    return math.ceil(n / ncols), ncols


def _small_multiples(fig: Figure, n: int, max_cols: int, panel_w: float, panel_h: float):
    """``n`` axes on a grid (unused cells removed); sets the figure size."""
    nrows, ncols = _grid(n, max_cols)
    fig.set_size_inches(panel_w * ncols + 0.8, panel_h * nrows + 1.2)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.remove()
    for col in range(ncols):  # x label under the lowest panel of each column
        last = max(i for i in range(col, n, ncols)) if col < n else None
        if last is not None:
            flat[last].set_xlabel("time after R peak [s]")
    return flat[:n]


def _class_legend(fig: Figure, names: Sequence[str]) -> None:
    handles = [Line2D([], [], color=_class_color(c), lw=2, label=_class_title(c)) for c in names]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 5),
                   frameon=False, fontsize="small")


def _new_figure() -> Figure:
    return Figure(layout="constrained")


# --------------------------------------------------------------------------------------------
# beats
# --------------------------------------------------------------------------------------------


def plot_beats_per_class(X, y, classes: Sequence[str], fs: float = 125.0, n_per_class: int = 5,
                         seed: int = 0) -> Figure:
    """Example beats of every class present, overlaid in one panel per class.

    Parameters
    ----------
    X : array_like, shape (n_beats, n_samples)
        Kaggle-format beats in [0, 1], starting at the R peak, zero-padded.
    y : array_like, shape (n_beats,)
        Class index into ``classes`` or class name per beat.
    classes : sequence of str
        Class names, e.g. ``("N", "S", "V", "F", "Q")``.
    fs : float, default 125.0
        Sampling frequency of the beats, Hz.
    n_per_class : int, default 5
        Beats drawn at random (without replacement) per class.
    seed : int, default 0
        Seed of the random choice.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per class present in ``y``, in the order of ``classes``; each title gives the
        class name and its number of beats.

    Raises
    ------
    ValueError
        If ``X`` is empty or not 2-D, ``len(y) != len(X)``, a label is unknown, ``fs <= 0``
        or ``n_per_class < 1``.
    """
    classes, X, names, fs = _labelled_beats(X, y, classes, fs)
    if int(n_per_class) < 1:
        raise EcgbeatError(f"n_per_class must be >= 1, got {n_per_class}")
    rng = np.random.default_rng(seed)
    present = [c for c in classes if np.any(names == c)]

    fig = _new_figure()
    axes = _small_multiples(fig, len(present), max_cols=5, panel_w=3.2, panel_h=2.8)
    for ax, c in zip(axes, present):
        idx = np.flatnonzero(names == c)
        chosen = np.sort(rng.choice(idx, size=min(int(n_per_class), idx.size), replace=False))
        color = _class_color(c)
        for i in chosen:
            beat = _trim_padding(X[i])
            ax.plot(np.arange(beat.size) / fs, beat, color=color, lw=1.0, alpha=0.75)
        ax.set_title(f"{_class_title(c)}\n{idx.size:,} beats ({chosen.size} shown)",
                     fontsize="medium")
        ax.set_xlim(0, X.shape[1] / fs)
        ax.set_ylim(-0.05, 1.05)
        ax.grid(True, alpha=0.3)
    fig.supylabel("amplitude (normalised 0–1)")
    fig.suptitle(f"Example beats per class ({len(X):,} beats, fs = {fs:g} Hz)")
    return fig


def plot_beats_with_labels(X, y, classes: Sequence[str], fs: float = 125.0, n: int = 12,
                           seed: int = 0) -> Figure:
    """Small multiples of single beats, each titled with its true class.

    Beats are drawn round-robin over the classes present so that rare classes are shown too.

    Parameters
    ----------
    X : array_like, shape (n_beats, n_samples)
        Kaggle-format beats in [0, 1].
    y : array_like, shape (n_beats,)
        Class index into ``classes`` or class name per beat.
    classes : sequence of str
        Class names.
    fs : float, default 125.0
        Sampling frequency of the beats, Hz.
    n : int, default 12
        Number of beats shown (at most ``len(X)``).
    seed : int, default 0
        Seed of the random choice.

    Returns
    -------
    matplotlib.figure.Figure
        ``min(n, len(X))`` axes, titled "true: <class name>".

    Raises
    ------
    ValueError
        On empty or mismatched inputs, unknown labels, ``fs <= 0`` or ``n < 1``.
    """
    classes, X, names, fs = _labelled_beats(X, y, classes, fs)
    if int(n) < 1:
        raise EcgbeatError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    picked = _balanced_pick(names, classes, int(n), rng)

    fig = _new_figure()
    axes = _small_multiples(fig, len(picked), max_cols=4, panel_w=2.8, panel_h=2.0)
    for ax, i in zip(axes, picked):
        c = names[i]
        beat = _trim_padding(X[i])
        color = _class_color(c)
        ax.plot(np.arange(beat.size) / fs, beat, color=color, lw=1.2)
        ax.set_title(f"true: {_class_title(c)}", color=color, fontsize="medium")
        ax.set_xlim(0, X.shape[1] / fs)
        ax.set_ylim(-0.05, 1.05)
        ax.grid(True, alpha=0.3)
    fig.supylabel("amplitude (normalised 0–1)")
    fig.suptitle(f"{len(picked)} beats with their labels")
    _class_legend(fig, [c for c in classes if c in set(names[picked])])
    return fig


def plot_predictions(X, y_true, y_pred, classes: Sequence[str], fs: float = 125.0, n: int = 12,
                     proba=None, seed: int = 0) -> Figure:
    """Small multiples of beats titled "true: X / pred: Y (p=0.97)"; errors framed in red.

    If there are misclassified beats, up to half of the panels show errors (drawn first), the
    rest correct beats; otherwise all panels show correct beats. Beats within each group are
    drawn round-robin over the true classes.

    Parameters
    ----------
    X : array_like, shape (n_beats, n_samples)
        Kaggle-format beats in [0, 1].
    y_true, y_pred : array_like, shape (n_beats,)
        True and predicted class (index into ``classes`` or class name). ``y_pred`` may also be
        a probability matrix ``(n_beats, n_classes)`` (its argmax is used).
    classes : sequence of str
        Class names.
    fs : float, default 125.0
        Sampling frequency of the beats, Hz.
    n : int, default 12
        Number of beats shown (at most ``len(X)``).
    proba : array_like, optional
        ``(n_beats, n_classes)`` class probabilities, or ``(n_beats,)`` probability of the
        predicted class; shown as ``p=`` in the titles.
    seed : int, default 0
        Seed of the random choice.

    Returns
    -------
    matplotlib.figure.Figure
        ``min(n, len(X))`` axes.

    Raises
    ------
    ValueError
        On empty or mismatched inputs, unknown labels, ``fs <= 0`` or ``n < 1``.
    """
    classes = _check_classes(classes)
    X = _check_beats(X)
    true = _labels_to_names(y_true, classes, "y_true")
    pred = _labels_to_names(y_pred, classes, "y_pred")
    fs = _check_fs(fs)
    if not (len(X) == len(true) == len(pred)):
        raise EcgbeatError(
            f"lengths differ: X has {len(X)} beats, y_true {len(true)}, y_pred {len(pred)}"
        )
    if int(n) < 1:
        raise EcgbeatError(f"n must be >= 1, got {n}")
    p_pred = None
    if proba is not None:
        proba = np.asarray(proba, dtype=float)
        if proba.ndim == 2 and proba.shape == (len(X), len(classes)):
            p_pred = proba[np.arange(len(X)), [classes.index(c) for c in pred]]
        elif proba.ndim == 1 and proba.shape[0] == len(X):
            p_pred = proba
        else:
            raise EcgbeatError(
                f"proba must have shape ({len(X)}, {len(classes)}) or ({len(X)},), "
                f"got {proba.shape}"
            )

    rng = np.random.default_rng(seed)
    wrong = true != pred
    n = min(int(n), len(X))
    n_wrong_show = min(int(wrong.sum()), math.ceil(n / 2)) if wrong.any() else 0
    wrong_idx = np.flatnonzero(wrong)
    right_idx = np.flatnonzero(~wrong)
    picked = [int(wrong_idx[i])
              for i in _balanced_pick(true[wrong_idx], classes, n_wrong_show, rng)]
    picked += [int(right_idx[i])
               for i in _balanced_pick(true[right_idx], classes, n - len(picked), rng)]
    if len(picked) < n:  # not enough correct beats: fill with more errors
        rest = np.setdiff1d(wrong_idx, picked)
        picked += [int(i) for i in rng.permutation(rest)[: n - len(picked)]]

    fig = _new_figure()
    axes = _small_multiples(fig, len(picked), max_cols=4, panel_w=2.9, panel_h=2.1)
    for ax, i in zip(axes, picked):
        beat = _trim_padding(X[i])
        is_wrong = bool(wrong[i])
        ax.plot(np.arange(beat.size) / fs, beat, color=_class_color(true[i]), lw=1.2)
        p_txt = f" (p={p_pred[i]:.2f})" if p_pred is not None else ""
        ax.set_title(f"true: {true[i]} / pred: {pred[i]}{p_txt}",
                     color=_WRONG_COLOR if is_wrong else "black",
                     fontweight="bold" if is_wrong else "normal", fontsize="medium")
        if is_wrong:
            for spine in ax.spines.values():
                spine.set_edgecolor(_WRONG_COLOR)
                spine.set_linewidth(2.5)
            ax.set_facecolor("#FFF0F0")
        ax.set_xlim(0, X.shape[1] / fs)
        ax.set_ylim(-0.05, 1.05)
        ax.grid(True, alpha=0.3)
    acc = 1.0 - wrong.mean()
    n_wrong_shown = int(wrong[picked].sum())
    fig.suptitle(
        f"Predictions: {n_wrong_shown} of {len(picked)} shown are wrong (red); "
        f"overall accuracy {100 * acc:.1f}% on {len(X):,} beats"
    )
    fig.supylabel("amplitude (normalised 0–1)")
    handles = [Line2D([], [], color=_class_color(c), lw=2, label=f"true {_class_title(c)}")
               for c in classes if c in set(true[picked])]
    handles.append(Patch(facecolor="#FFF0F0", edgecolor=_WRONG_COLOR, lw=2, label="misclassified"))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6),
               frameon=False, fontsize="small")
    return fig


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------


def plot_confusion_matrix(cm, classes: Sequence[str], normalize: bool = True,
                          title: str | None = None) -> Figure:
    """Confusion-matrix heatmap with counts and row-normalised percentages.

    Parameters
    ----------
    cm : array_like, shape (n_classes, n_classes)
        Counts; rows are true classes, columns predicted classes.
    classes : sequence of str
        Class names in the order of the rows / columns.
    normalize : bool, default True
        Colour by the row-normalised fraction (the per-class sensitivity on the diagonal) and
        write "97.1%\\n(1234)" in each cell; if False colour by and write the counts only.
    title : str, optional
        Figure title; by default "Confusion matrix" with the overall accuracy and count.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: the heatmap and its colour bar. Axes labelled "Predicted class" and
        "True class".

    Raises
    ------
    ValueError
        If ``cm`` is not square, does not match ``classes``, is empty or has negative entries.
    """
    classes = _check_classes(classes)
    cm = np.asarray(cm, dtype=float)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise EcgbeatError(f"cm must be a square 2-D matrix, got shape {cm.shape}")
    if cm.shape[0] != len(classes):
        raise EcgbeatError(f"cm is {cm.shape[0]}x{cm.shape[1]} but {len(classes)} classes given")
    if not np.all(np.isfinite(cm)) or np.any(cm < 0):
        raise EcgbeatError("cm must contain finite, non-negative counts")
    k = len(classes)
    row_sum = cm.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(row_sum > 0, cm / np.where(row_sum > 0, row_sum, 1), np.nan)
    is_int = np.all(np.mod(cm, 1) == 0)

    def count_txt(v: float) -> str:
        return f"{int(v)}" if is_int else f"{v:.3g}"

    text = np.empty((k, k), dtype=object)
    for i in range(k):
        for j in range(k):
            if normalize:
                pct = "–" if np.isnan(frac[i, j]) else f"{100 * frac[i, j]:.1f}%"
                text[i, j] = f"{pct}\n({count_txt(cm[i, j])})"
            else:
                text[i, j] = count_txt(cm[i, j])
    if normalize:
        data, vmin, vmax = 100 * np.nan_to_num(frac), 0.0, 100.0
        cbar_label = "% of true class (row)"
    else:
        data, vmin, vmax, cbar_label = cm, 0.0, max(float(cm.max()), 1.0), "number of beats"

    fig = _new_figure()
    fig.set_size_inches(1.25 * k + 3.2, 1.0 * k + 2.2)
    ax = fig.add_subplot()
    xt = ["\n".join([c] + textwrap.wrap(CLASS_NAMES[c], 14, break_long_words=False))
          if c in CLASS_NAMES else "\n".join(textwrap.wrap(c, 14, break_long_words=False)) or c
          for c in classes]
    yt = [_class_title(c) for c in classes]
    font = max(7.0, min(11.0, 60.0 / k))
    try:
        import seaborn as sns
    except ImportError:  # pragma: no cover - seaborn is a declared dependency
        sns = None
    if sns is not None:
        sns.heatmap(data, ax=ax, annot=text, fmt="", cmap="Blues", vmin=vmin, vmax=vmax,
                    square=False, linewidths=0.5, linecolor="white",
                    annot_kws={"fontsize": font},
                    cbar_kws={"label": cbar_label}, xticklabels=xt, yticklabels=yt)
    else:
        im = ax.imshow(data, cmap="Blues", vmin=vmin, vmax=vmax, aspect="auto")
        for i in range(k):
            for j in range(k):
                ax.text(j, i, text[i, j], ha="center", va="center", fontsize=font,
                        color="white" if data[i, j] > 0.6 * vmax else "black")
        ax.set_xticks(range(k), xt)
        ax.set_yticks(range(k), yt)
        fig.colorbar(im, ax=ax, label=cbar_label)
    ax.tick_params(axis="y", labelrotation=0)
    ax.tick_params(axis="x", labelrotation=0)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    if title is None:
        total = cm.sum()
        acc = np.trace(cm) / total if total > 0 else float("nan")
        title = f"Confusion matrix — accuracy {100 * acc:.1f}% on {count_txt(total)} beats"
        if normalize:
            title += "\n(colour and % = share of each true class; count in brackets)"
    ax.set_title(title)
    return fig


def plot_training_curves(history) -> Figure:
    """Loss, accuracy and macro-F1 per epoch, with the best epoch (max ``val_macro_f1``) marked.

    Parameters
    ----------
    history : list of dict
        One dict per epoch with any of the keys ``epoch``, ``train_loss``, ``val_loss``,
        ``train_acc``, ``val_acc``, ``train_macro_f1``, ``val_macro_f1``. Missing keys or
        ``None`` / NaN values are skipped. A dict of lists is accepted too. Without ``epoch``
        epochs are numbered 1, 2, ...

    Returns
    -------
    matplotlib.figure.Figure
        Three axes: loss, accuracy, macro-F1. If ``val_macro_f1`` is missing, the best epoch is
        the one with the lowest ``val_loss`` (if present).

    Raises
    ------
    ValueError
        If ``history`` is empty or not a list of dicts.
    """
    if isinstance(history, Mapping):
        lengths = {len(v) for v in history.values()}
        if len(lengths) > 1:
            raise EcgbeatError(f"history columns have different lengths: {sorted(lengths)}")
        n_ep = lengths.pop() if lengths else 0
        history = [{k: v[i] for k, v in history.items()} for i in range(n_ep)]
    if not isinstance(history, Sequence) or isinstance(history, str) or len(history) == 0:
        raise EcgbeatError("history is empty; expected a list with one dict per epoch")
    if not all(isinstance(h, Mapping) for h in history):
        raise EcgbeatError("history must be a list of dicts (one per epoch)")

    def column(key: str) -> np.ndarray | None:
        if not any(h.get(key) is not None for h in history):
            return None
        return np.array([np.nan if h.get(key) is None else float(h[key]) for h in history])

    epochs = column("epoch")
    if epochs is None or np.isnan(epochs).any():
        epochs = np.arange(1, len(history) + 1, dtype=float)

    best_i, best_desc = None, ""
    f1 = column("val_macro_f1")
    vloss = column("val_loss")
    if f1 is not None and np.isfinite(f1).any():
        best_i = int(np.nanargmax(f1))
        best_desc = f"best epoch {epochs[best_i]:g}: val macro-F1 {f1[best_i]:.3f}"
    elif vloss is not None and np.isfinite(vloss).any():
        best_i = int(np.nanargmin(vloss))
        best_desc = f"best epoch {epochs[best_i]:g}: lowest val loss {vloss[best_i]:.4f}"

    panels = [
        ("Loss", "loss", ("train_loss", "val_loss")),
        ("Accuracy", "accuracy", ("train_acc", "val_acc")),
        ("Macro-F1", "macro-F1", ("train_macro_f1", "val_macro_f1")),
    ]
    fig = _new_figure()
    fig.set_size_inches(14, 4.2)
    axes = fig.subplots(1, 3)
    marker = "o" if len(history) <= 40 else None
    for ax, (ptitle, ylabel, keys) in zip(axes, panels):
        drawn = False
        for key in keys:
            values = column(key)
            if values is None:
                continue
            is_val = key.startswith("val")
            ax.plot(epochs, values, marker=marker, ms=3.5, lw=1.6,
                    color=_VAL_COLOR if is_val else _TRAIN_COLOR,
                    ls="-" if is_val else "--",
                    label="validation" if is_val else "training")
            drawn = True
            if best_i is not None and np.isfinite(values[best_i]) and is_val:
                ax.plot(epochs[best_i], values[best_i], marker="*", ms=14, color="black",
                        zorder=5, ls="none")
        if best_i is not None:
            ax.axvline(epochs[best_i], color="0.35", ls=":", lw=1.2,
                       label=f"best epoch ({epochs[best_i]:g})")
        if not drawn:
            ax.text(0.5, 0.5, f"no {ylabel} recorded", transform=ax.transAxes,
                    ha="center", va="center", color="0.4")
            ax.set_xlim(epochs.min() - 0.5, epochs.max() + 0.5)
            ax.set_yticks([])
        ax.set_title(ptitle)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if drawn or best_i is not None:
            ax.legend(fontsize="small")
    fig.suptitle("Training curves" + (f" — {best_desc}" if best_desc else ""))
    return fig


# --------------------------------------------------------------------------------------------
# raw ECG
# --------------------------------------------------------------------------------------------


def plot_record_strip(signal_mV, fs: float, ann_samples, ann_labels, start_s: float = 0.0,
                      duration_s: float = 10.0, title: str = "", pred_labels=None,
                      labels_are: str = "annotation") -> Figure:
    """A strip of raw ECG with the annotated beats marked by class, on light ECG paper.

    Each annotated beat gets a marker in its class colour on the trace and its letter above the
    R peak. With ``pred_labels``, predicted letters appear in a row below the trace and beats
    where prediction and annotation disagree are shaded and boxed in red.

    Parameters
    ----------
    signal_mV : array_like, shape (n_samples,)
        One ECG lead, mV.
    fs : float
        Sampling frequency of ``signal_mV``, Hz.
    ann_samples : array_like of int, shape (n_beats,)
        R-peak sample indices (at ``fs``, from the record start).
    ann_labels : sequence of str, shape (n_beats,)
        Reference class letter per beat (AAMI "N", "S", ... or MIT-BIH symbols; MIT-BIH beat
        symbols get the colour of their AAMI class, non-beat codes such as "+" or "~" are
        not drawn).
    start_s : float, default 0.0
        Start of the strip, seconds from the record start.
    duration_s : float, default 10.0
        Length of the strip, seconds (clipped at the end of the record).
    title : str, default ""
        Title prefix, e.g. "MIT-BIH record 208, lead MLII".
    pred_labels : sequence of str, optional
        Predicted class letter per annotated beat (same length as ``ann_samples``). A MIT-BIH
        symbol and the prediction of its AAMI class agree ("A" and "S").
    labels_are : {"annotation", "prediction"}, default "annotation"
        What ``ann_labels`` are: reference annotations, or the classes a model gave beats it
        detected (a recording without annotations); the title and legend say which.

    Returns
    -------
    matplotlib.figure.Figure
        One axes, x in seconds from the record start, y in mV; ECG-paper grid of
        0.04 s / 0.1 mV (minor) and 0.2 s / 0.5 mV (major).

    Raises
    ------
    ValueError
        If the signal is empty or not 1-D, lengths of annotations / labels / predictions
        differ, ``fs`` or ``duration_s`` is not positive, or ``start_s`` lies outside the record.
    """
    if labels_are not in ("annotation", "prediction"):
        raise EcgbeatError(f"labels_are must be 'annotation' or 'prediction', got {labels_are!r}")
    sig = np.asarray(signal_mV, dtype=float)
    if sig.ndim != 1:
        raise EcgbeatError(f"signal_mV must be 1-D (one lead), got shape {sig.shape}")
    if sig.size == 0:
        raise EcgbeatError("signal_mV is empty; nothing to plot")
    fs = _check_fs(fs)
    samples = np.asarray(ann_samples)
    if samples.ndim != 1:
        raise EcgbeatError(f"ann_samples must be 1-D, got shape {samples.shape}")
    if (samples.size and samples.dtype.kind not in "iu"
            and not np.all(np.mod(samples.astype(float), 1) == 0)):
        raise EcgbeatError("ann_samples must be integer sample indices")
    samples = samples.astype(np.int64)
    labels = np.array([str(v) for v in ann_labels], dtype=object)
    if len(labels) != len(samples):
        raise EcgbeatError(f"ann_samples has {len(samples)} beats but ann_labels has {len(labels)}")
    preds = None
    if pred_labels is not None:
        preds = np.array([str(v) for v in pred_labels], dtype=object)
        if len(preds) != len(samples):
            raise EcgbeatError(
                f"pred_labels has {len(preds)} labels but ann_samples has {len(samples)} beats"
            )
    duration_s = float(duration_s)
    start_s = float(start_s)
    record_s = sig.size / fs
    if not np.isfinite(duration_s) or duration_s <= 0:
        raise EcgbeatError(f"duration_s must be positive, got {duration_s}")
    if not (0 <= start_s < record_s):
        raise EcgbeatError(f"start_s={start_s} s is outside the record (0 to {record_s:.1f} s)")

    i0 = round(start_s * fs)
    i1 = min(sig.size, round((start_s + duration_s) * fs))
    seg = sig[i0:i1]
    t = np.arange(i0, i1) / fs
    t0, t1 = i0 / fs, i1 / fs
    is_beat = np.array([str(lab) not in _NON_BEAT_SYMBOLS for lab in labels], dtype=bool)
    inwin = np.flatnonzero((samples >= i0) & (samples < i1) & is_beat)

    finite = seg[np.isfinite(seg)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    span = max(hi - lo, 1.0)
    y_pred_row = lo - 0.22 * span
    ylim = (lo - (0.40 if preds is not None else 0.15) * span, hi + 0.30 * span)

    fig = _new_figure()
    fig.set_size_inches(max(10.0, min(24.0, 1.4 * (t1 - t0) + 2.0)), 4.2)
    ax = fig.add_subplot()

    # ECG paper: minor 0.04 s / 0.1 mV, major 0.2 s / 0.5 mV (minor grid only for short strips)
    def grid_lines(step_t: float, step_v: float, color: str, lw: float) -> None:
        xs = np.arange(math.ceil(t0 / step_t) * step_t, t1 + 1e-9, step_t)
        ys = np.arange(math.ceil(ylim[0] / step_v) * step_v, ylim[1] + 1e-9, step_v)
        ax.vlines(xs, ylim[0], ylim[1], colors=color, lw=lw, zorder=0)
        ax.hlines(ys, t0, t1, colors=color, lw=lw, zorder=0)

    if t1 - t0 <= 20:
        grid_lines(0.04, 0.1, "#FBE3E3", 0.4)
    grid_lines(0.2, 0.5, "#F2AAAA", 0.7)

    ax.plot(t, seg, color="black", lw=0.9, zorder=2)
    n_disagree = 0
    for k in inwin:
        s, lab = int(samples[k]), str(labels[k])
        color = _class_color(lab)
        tk, vk = s / fs, sig[s]
        ax.plot(tk, vk, marker="o", ms=6, mfc=color, mec="black", mew=0.5, zorder=4, ls="none")
        ax.text(tk, max(vk, hi - 0.1 * span) + 0.06 * span, lab, color=color, ha="center",
                va="bottom", fontsize=11, fontweight="bold", zorder=5)
        if preds is not None:
            p = str(preds[k])
            wrong = SYMBOL_TO_CLASS.get(p, p) != SYMBOL_TO_CLASS.get(lab, lab)  # "A" annotated, "S" called
            n_disagree += wrong
            if wrong:
                ax.axvspan(tk - 0.15, tk + 0.15, color=_WRONG_COLOR, alpha=0.12, lw=0, zorder=1)
            box = {"boxstyle": "round,pad=0.2", "fc": "white", "ec": _WRONG_COLOR, "lw": 1.5}
            ax.text(tk, y_pred_row, p, color=_class_color(p), ha="center", va="center",
                    fontsize=11, fontweight="bold", zorder=5, bbox=box if wrong else None)

    ax.set_xlim(t0, t1)
    ax.set_ylim(*ylim)
    ax.xaxis.set_major_locator(MultipleLocator(1.0 if t1 - t0 <= 30 else 5.0))
    ax.yaxis.set_major_locator(MultipleLocator(0.5))
    ax.set_xlabel("time since record start [s]")
    ax.set_ylabel("amplitude [mV]")
    parts = [title] if title else []
    parts.append(f"{t0:.1f}–{t1:.1f} s, {inwin.size} {'annotated' if labels_are == 'annotation' else 'detected'} beats")
    if preds is not None:
        parts.append(f"prediction disagrees on {n_disagree} of {inwin.size}")
    ax.set_title(" — ".join(parts))

    present = {str(labels[k]) for k in inwin}
    if preds is not None:
        present |= {str(preds[k]) for k in inwin}
    handles = [Line2D([], [], marker="o", ls="none", mfc=_class_color(c), mec="black", mew=0.5,
                      ms=7, label=_strip_label(c)) for c in sorted(present, key=_strip_order)]
    if preds is not None:
        handles.append(Patch(facecolor=_WRONG_COLOR, alpha=0.25, edgecolor=_WRONG_COLOR,
                             label="prediction ≠ annotation"))
        # row name just outside the right edge, so it never hides a predicted letter
        ax.text(1.004, (y_pred_row - ylim[0]) / (ylim[1] - ylim[0]), "◂ predicted",
                transform=ax.transAxes, ha="left", va="center", fontsize=9, color="0.3",
                clip_on=False)
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0),
                  fontsize="small", frameon=False,
                  title=f"letters above: {labels_are}"
                  + ("\nrow below: prediction" if preds is not None else ""),
                  title_fontsize="small")
    return fig


# --------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save ``fig`` as a PNG atomically (temporary file in the same folder, then rename).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to save. It is not closed (figures made by this module hold no global state).
    path : str or os.PathLike
        Target file; parent folders are created.
    dpi : int, default 120
        Resolution.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If ``fig`` is not a matplotlib Figure.
    """
    if not isinstance(fig, Figure):
        raise EcgbeatError(f"save_figure needs a matplotlib Figure, got {type(fig).__name__}")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, facecolor="white")
    return Path(path)
