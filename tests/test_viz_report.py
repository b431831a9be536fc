"""Tests of ecgbeat.viz (figures) and ecgbeat.report (Markdown metrics report).

Real beats come from MIT-BIH records 100 and 208 (lead 0, resampled 360 -> 125 Hz, 187 samples
from each annotated R peak, cut at 1.2 RR and zero-padded like the Kaggle beats, min-max
scaled). Those tests are skipped when the database is missing; edge cases use synthetic arrays.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from ecgbeat import report, viz

CLASSES = ["N", "S", "V", "F", "Q"]
FULL_NAMES = {"N": "Normal", "S": "Supraventricular ectopic", "V": "Ventricular ectopic",
              "F": "Fusion", "Q": "Unknown / paced"}
SYMBOL_MAP = {"N": "N", "A": "S", "V": "V", "F": "F"}
REPO_ROOT = Path(__file__).resolve().parents[1]
MITDB = Path(os.environ.get("ECGBEAT_MITDB", REPO_ROOT.parent / "shared" / "data" / "mitdb"))
needs_mitdb = pytest.mark.skipif(
    not (MITDB / "208.hea").exists(),
    reason=f"MIT-BIH database not found at {MITDB} (set ECGBEAT_MITDB to its folder)",
)


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------


def _record_beats(name: str):
    """Kaggle-style beats (n, 187) at 125 Hz, AAMI labels, plus the raw record and annotations."""
    wfdb = pytest.importorskip("wfdb")
    from scipy.signal import resample_poly

    rec = wfdb.rdrecord(str(MITDB / name), channels=[0])
    ann = wfdb.rdann(str(MITDB / name), "atr")
    x = resample_poly(rec.p_signal[:, 0], 25, 72)
    peaks = [(round(s * 125 / 360), SYMBOL_MAP[c])
             for s, c in zip(ann.sample, ann.symbol) if c in SYMBOL_MAP]
    X, y = [], []
    for j, (s, c) in enumerate(peaks):
        rr = peaks[j + 1][0] - s if j + 1 < len(peaks) else 150
        length = min(187, int(1.2 * rr), len(x) - s)
        if length < 20:
            continue
        seg = x[s:s + length]
        beat = np.zeros(187)
        beat[:length] = (seg - seg.min()) / (np.ptp(seg) or 1.0)
        X.append(beat)
        y.append(c)
    return np.asarray(X), np.asarray(y), rec, ann


@pytest.fixture(scope="module")
def real():
    X1, y1, _, _ = _record_beats("100")
    X2, y2, rec, ann = _record_beats("208")
    return {"X": np.vstack([X1, X2]), "y": np.concatenate([y1, y2]), "rec208": rec, "ann208": ann}


def _synthetic(n=40, length=187, pad_from=120, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    X = 0.2 + 0.8 * np.exp(-0.5 * ((t - 10) / 3.0) ** 2)[None, :] + 0.02 * rng.random((n, length))
    X = np.clip(X, 0, 1)
    X[:, pad_from:] = 0.0
    y = np.arange(n) % len(CLASSES)
    return X, y


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def _suptitle(fig: Figure) -> str:
    return fig._suptitle.get_text() if fig._suptitle is not None else ""


# ---------------------------------------------------------------------------------------------
# viz: beats
# ---------------------------------------------------------------------------------------------


def test_class_colors_cover_the_five_classes():
    assert list(viz.CLASS_COLORS) == CLASSES
    assert len(set(viz.CLASS_COLORS.values())) == 5
    assert all(matplotlib.colors.is_color_like(c) for c in viz.CLASS_COLORS.values())


@needs_mitdb
def test_beats_per_class_real(real):
    X, y = real["X"], real["y"]
    fig = viz.plot_beats_per_class(X, y, CLASSES, fs=125.0, n_per_class=5, seed=0)
    assert isinstance(fig, Figure)
    present = [c for c in CLASSES if c in set(y)]
    assert present == ["N", "S", "V", "F"]
    assert len(fig.axes) == len(present)
    for ax, c in zip(fig.axes, present):
        title = ax.get_title()
        assert FULL_NAMES[c] in title
        assert f"{int(np.sum(y == c)):,} beats" in title
        assert len(ax.lines) == 5
        assert "s" in ax.get_xlabel()
    assert "normalised" in fig._supylabel.get_text()


def test_beats_per_class_trims_padding_and_accepts_indices():
    X, y = _synthetic(pad_from=100)
    fig = viz.plot_beats_per_class(X, y, CLASSES, n_per_class=3)
    assert len(fig.axes) == 5
    for ax in fig.axes:
        assert len(ax.lines) == 3
        for line in ax.lines:
            assert len(line.get_xdata()) == 100  # trailing zeros not drawn
            assert line.get_xdata()[-1] == pytest.approx(99 / 125.0)


@needs_mitdb
def test_beats_with_labels_real(real):
    fig = viz.plot_beats_with_labels(real["X"], real["y"], CLASSES, n=12, seed=1)
    assert len(fig.axes) == 12
    titles = [ax.get_title() for ax in fig.axes]
    assert all(t.startswith("true: ") for t in titles)
    # balanced pick: the rare S class (33 beats) is shown
    assert any(FULL_NAMES["S"] in t for t in titles)
    assert any(FULL_NAMES["F"] in t for t in titles)


def test_beats_with_labels_fewer_beats_than_n():
    X, y = _synthetic(n=5)
    fig = viz.plot_beats_with_labels(X, y, CLASSES, n=12)
    assert len(fig.axes) == 5
    expected = {f"true: {c} – {FULL_NAMES[c]}" for c in CLASSES}
    assert {ax.get_title() for ax in fig.axes} == expected


@needs_mitdb
def test_predictions_real_mix_of_right_and_wrong(real):
    X, y = real["X"], real["y"]
    rng = np.random.default_rng(0)
    y_pred = y.copy()
    flip = rng.random(len(y)) < 0.05
    y_pred[flip] = np.where(y[flip] == "N", "V", "N")
    proba = rng.dirichlet(np.ones(5), len(y))
    fig = viz.plot_predictions(X, y, y_pred, CLASSES, n=12, proba=proba, seed=0)
    assert len(fig.axes) == 12
    titles = [ax.get_title() for ax in fig.axes]
    assert all(t.startswith("true: ") and " / pred: " in t and "(p=0." in t for t in titles)
    wrong = [ax for ax in fig.axes if ax.title.get_color() != "black"]
    right = [ax for ax in fig.axes if ax.title.get_color() == "black"]
    assert len(wrong) == 6 and len(right) == 6
    for ax in wrong:
        t = ax.get_title()
        assert t.split(" / ")[0][len("true: "):] != t.split("pred: ")[1].split(" ")[0]
        assert ax.spines["left"].get_linewidth() > 2
    assert "wrong" in _suptitle(fig)


def test_predictions_all_correct_and_proba_vector():
    X, y = _synthetic(n=20)
    fig = viz.plot_predictions(X, y, y, CLASSES, n=8, proba=np.full(20, 0.97))
    assert len(fig.axes) == 8
    assert all(ax.title.get_color() == "black" for ax in fig.axes)
    assert all("(p=0.97)" in ax.get_title() for ax in fig.axes)
    assert "0 of 8 shown are wrong" in _suptitle(fig)


def test_predictions_bad_proba_shape():
    X, y = _synthetic(n=10)
    with pytest.raises(ValueError, match="proba"):
        viz.plot_predictions(X, y, y, CLASSES, proba=np.ones((10, 3)))


# ---------------------------------------------------------------------------------------------
# viz: evaluation figures
# ---------------------------------------------------------------------------------------------


def test_confusion_matrix_counts_and_percentages():
    cm = np.array([[1234, 20, 10, 5, 2], [30, 70, 0, 0, 0], [5, 1, 300, 4, 0],
                   [2, 0, 3, 40, 0], [0, 0, 0, 0, 0]])
    fig = viz.plot_confusion_matrix(cm, CLASSES)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2  # heatmap + colour bar
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Predicted class" and ax.get_ylabel() == "True class"
    cells = [t.get_text() for t in ax.texts]
    assert len(cells) == 25
    assert f"{100 * 1234 / 1271:.1f}%\n(1234)" in cells
    assert "70.0%\n(70)" in cells
    for count in (20, 10, 300, 40):
        assert any(f"({count})" in c for c in cells)
    ticks = " ".join(t.get_text() for t in ax.get_yticklabels() + ax.get_xticklabels())
    assert all(name in ticks for name in ("Normal", "Ventricular ectopic", "Fusion"))
    assert "accuracy" in ax.get_title()


def test_confusion_matrix_counts_only_and_title():
    cm = [[5, 1], [2, 7]]
    fig = viz.plot_confusion_matrix(cm, ["N", "V"], normalize=False, title="Test split")
    cells = sorted(t.get_text() for t in fig.axes[0].texts)
    assert cells == ["1", "2", "5", "7"]
    assert fig.axes[0].get_title() == "Test split"


@pytest.mark.parametrize("cm, classes", [
    (np.zeros((2, 3)), ["N", "V"]),
    (np.zeros((3, 3)), ["N", "V"]),
    (np.zeros((0, 0)), []),
    ([[1, -1], [0, 1]], ["N", "V"]),
])
def test_confusion_matrix_bad_input(cm, classes):
    with pytest.raises(ValueError):
        viz.plot_confusion_matrix(cm, classes)


def test_training_curves_full_history():
    hist = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.1 / e, "train_acc": 0.8 + e / 100,
             "val_acc": 0.78 + e / 100, "val_macro_f1": [0.5, 0.7, 0.8, 0.75, 0.74][e - 1]}
            for e in range(1, 6)]
    fig = viz.plot_training_curves(hist)
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "Accuracy", "Macro-F1"]
    assert "best epoch 3" in _suptitle(fig)
    loss_ax = fig.axes[0]
    labels = [line.get_label() for line in loss_ax.get_lines()]
    assert "training" in labels and "validation" in labels
    assert any(line.get_xdata()[0] == 3 for line in loss_ax.get_lines()
               if line.get_label().startswith("best epoch"))


def test_training_curves_missing_keys():
    hist = [{"train_loss": 1.0}, {"train_loss": 0.5, "val_loss": 0.7},
            {"train_loss": 0.4, "val_loss": None}]
    fig = viz.plot_training_curves(hist)
    assert len(fig.axes) == 3
    assert "no accuracy recorded" in _texts(fig)
    assert "lowest val loss" in _suptitle(fig)  # no macro-F1: best = lowest validation loss


@pytest.mark.parametrize("bad", [[], [1, 2], "loss"])
def test_training_curves_bad_input(bad):
    with pytest.raises(ValueError):
        viz.plot_training_curves(bad)


# ---------------------------------------------------------------------------------------------
# viz: raw ECG strip
# ---------------------------------------------------------------------------------------------


@needs_mitdb
def test_record_strip_real_with_predictions(real):
    rec, ann = real["rec208"], real["ann208"]
    keep = [i for i, s in enumerate(ann.symbol) if s in SYMBOL_MAP]
    samples = ann.sample[keep]
    labels = [SYMBOL_MAP[ann.symbol[i]] for i in keep]
    pred = list(labels)
    in_win = np.flatnonzero((samples >= 60 * 360) & (samples < 70 * 360))
    pred[in_win[2]] = "S" if labels[in_win[2]] != "S" else "N"
    fig = viz.plot_record_strip(rec.p_signal[:, 0], rec.fs, samples, labels, start_s=60.0,
                                duration_s=10.0, title="record 208", pred_labels=pred)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_xlim() == pytest.approx((60.0, 70.0))
    assert "mV" in ax.get_ylabel() and "[s]" in ax.get_xlabel()
    title = ax.get_title()
    assert "record 208" in title and f"{in_win.size} annotated beats" in title
    assert "disagrees on 1 of" in title
    letters = [t.get_text() for t in ax.texts]
    assert sum(letters.count(c) for c in "NSVF") == 2 * in_win.size  # annotation + prediction
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("Ventricular ectopic" in t for t in legend)


def test_record_strip_synthetic_and_mit_symbols():
    fs = 360.0
    sig = np.sin(np.arange(int(12 * fs)) / fs * 2 * np.pi) * 0.5
    samples = np.array([100, 500, 900, 1300, 5000])
    labels = ["N", "A", "+", "V", "N"]  # '+' is a rhythm change, not a beat: not drawn
    fig = viz.plot_record_strip(sig, fs, samples, labels, start_s=0.0, duration_s=5.0)
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["A", "N", "V"]
    assert "3 annotated beats" in ax.get_title()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["N – Normal", "A (MIT-BIH) → S", "V – Ventricular ectopic"]


def test_record_strip_symbols_agree_with_their_class_and_predicted_labels_are_named():
    """An "A" annotated and "S" predicted agree (MIT-BIH symbol vs AAMI class); analyze's strips,
    whose letters are the model's, say so in the title and legend."""
    fs = 360.0
    sig = np.sin(np.arange(int(12 * fs)) / fs * 2 * np.pi) * 0.5
    samples = np.array([100, 500, 900, 1300])
    fig = viz.plot_record_strip(sig, fs, samples, ["N", "A", "L", "V"], duration_s=5.0,
                                pred_labels=["N", "S", "N", "N"])
    ax = fig.axes[0]
    assert "prediction disagrees on 1 of 4" in ax.get_title()
    assert ax.get_legend().get_title().get_text().startswith("letters above: annotation")
    fig = viz.plot_record_strip(sig, fs, samples, ["N", "S", "N", "V"], duration_s=5.0, labels_are="prediction")
    ax = fig.axes[0]
    assert "4 detected beats" in ax.get_title() and "annotated" not in ax.get_title()
    assert ax.get_legend().get_title().get_text() == "letters above: prediction"
    with pytest.raises(ValueError, match="labels_are must be 'annotation' or 'prediction', got 'model'"):
        viz.plot_record_strip(sig, fs, samples, ["N"] * 4, labels_are="model")


@pytest.mark.parametrize("kwargs", [
    {"signal_mV": np.zeros(1000), "fs": 360, "ann_samples": [1, 2], "ann_labels": ["N"]},
    {"signal_mV": np.zeros(1000), "fs": 360, "ann_samples": [1, 2], "ann_labels": ["N", "V"],
     "pred_labels": ["N"]},
    {"signal_mV": np.zeros(0), "fs": 360, "ann_samples": [], "ann_labels": []},
    {"signal_mV": np.zeros((2, 1000)), "fs": 360, "ann_samples": [], "ann_labels": []},
    {"signal_mV": np.zeros(1000), "fs": 0, "ann_samples": [], "ann_labels": []},
    {"signal_mV": np.zeros(1000), "fs": 360, "ann_samples": [], "ann_labels": [], "start_s": 10.0},
    {"signal_mV": np.zeros(1000), "fs": 360, "ann_samples": [], "ann_labels": [], "duration_s": 0},
])
def test_record_strip_bad_input(kwargs):
    with pytest.raises(ValueError):
        viz.plot_record_strip(**kwargs)


# ---------------------------------------------------------------------------------------------
# viz: shared input checks, pyplot state, saving
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("func", ["per_class", "with_labels", "predictions"])
@pytest.mark.parametrize("case", ["mismatch", "empty", "unknown_label", "bad_index", "bad_fs"])
def test_beat_plots_bad_input(func, case):
    X, y = _synthetic(n=10)
    if case == "mismatch":
        y = y[:-1]
    elif case == "empty":
        X, y = np.zeros((0, 187)), np.zeros(0, dtype=int)
    elif case == "unknown_label":
        y = np.array(["N"] * 9 + ["Z"])
    elif case == "bad_index":
        y = y.copy()
        y[0] = 7
    fs = -1.0 if case == "bad_fs" else 125.0
    with pytest.raises(ValueError):
        if func == "per_class":
            viz.plot_beats_per_class(X, y, CLASSES, fs=fs)
        elif func == "with_labels":
            viz.plot_beats_with_labels(X, y, CLASSES, fs=fs)
        else:
            viz.plot_predictions(X, y, y, CLASSES, fs=fs)


def test_predictions_mismatched_pred_length():
    X, y = _synthetic(n=10)
    with pytest.raises(ValueError, match="lengths differ"):
        viz.plot_predictions(X, y, y[:5], CLASSES)


def test_no_pyplot_figures_are_created():
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    X, y = _synthetic(n=10)
    viz.plot_beats_per_class(X, y, CLASSES)
    viz.plot_confusion_matrix(np.eye(5, dtype=int), CLASSES)
    viz.plot_training_curves([{"epoch": 1, "train_loss": 1.0}])
    assert set(plt.get_fignums()) == before


def test_save_figure_writes_png_atomically(tmp_path):
    fig = viz.plot_confusion_matrix([[3, 1], [0, 4]], ["N", "V"])
    target = tmp_path / "sub" / "cm.png"
    out = viz.save_figure(fig, target)
    assert Path(out) == target
    data = target.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert sorted(p.name for p in target.parent.iterdir()) == ["cm.png"]
    viz.save_figure(fig, target)  # overwrite in place
    assert sorted(p.name for p in target.parent.iterdir()) == ["cm.png"]
    with pytest.raises(ValueError):
        viz.save_figure("not a figure", tmp_path / "x.png")


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------


def _metrics(full: bool = True) -> dict:
    m = {
        "accuracy": 0.987, "macro_f1": 0.91, "n": 21892, "classes": CLASSES,
        "per_class": {
            "N": {"precision": 0.991, "sensitivity": 0.995, "f1": 0.993, "support": 18118},
            "S": {"precision": 0.9, "sensitivity": 0.756, "f1": 0.822, "support": 556},
            "V": {"precision": 0.95, "sensitivity": 0.93, "f1": 0.94, "support": 1448},
            "F": {"precision": 0.81, "sensitivity": 0.7, "f1": 0.751, "support": 162},
            "Q": {"precision": 0.99, "sensitivity": 0.98, "f1": 0.985, "support": 1608},
        },
        "confusion_matrix": [[18028, 40, 30, 15, 5], [120, 420, 14, 1, 1], [50, 8, 1347, 40, 3],
                             [30, 1, 17, 113, 1], [20, 0, 12, 0, 1576]],
        "majority_baseline_accuracy": 0.8277,
    }
    if full:
        cm = np.array(m["confusion_matrix"], dtype=float)
        m.update({
            "confusion_matrix_normalized": (cm / cm.sum(axis=1, keepdims=True)).tolist(),
            "ec57": {"N": {"sensitivity": 0.995, "ppv": 0.99},
                     "S": {"sensitivity": 0.756, "ppv": 0.9},
                     "V": {"sensitivity": 0.93, "ppv": 0.95},
                     "F": {"sensitivity": 0.7, "ppv": 0.81}},
            "seed": 0, "split": "intra", "model": "lstm", "train_seconds": 300.1,
        })
    return m


def test_metrics_markdown_full():
    md = report.metrics_markdown(_metrics(), title="Test set")
    assert md.startswith("## Test set\n")
    assert "98.70%" in md and "82.77%" in md and "91.00%" in md and "21,892" in md
    assert "+15.93 pp" in md
    for name in FULL_NAMES.values():
        assert name in md
    assert "| **S** – Supraventricular ectopic | 90.0% | 75.6% | 82.2% | 556 |" in md
    assert "| **N** | **18,028** | 40 | 30 | 15 | 5 | 18,118 |" in md
    assert "True \\ Pred" in md
    assert "% of each true class" in md and "**99.5%**" in md
    assert "EC57" in md and "+P" in md
    assert "lstm" in md and "intra" in md and "seed `0`" in md and "300 s" in md
    assert md.endswith("\n") and not md.endswith("\n\n")


def test_record_errors_and_their_report_table(small_beats):
    """Per-record errors (metrics.record_errors) of real beats, and the report's table of them."""
    from ecgbeat.labels import CLASSES
    from ecgbeat.metrics import ec57_metrics, record_errors

    y = small_beats.y
    rng = np.random.default_rng(0)
    pred = np.where(rng.random(len(y)) < 0.1, rng.integers(0, 4, len(y)), y)  # 10 % of beats wrong
    per = record_errors(y, pred, small_beats.record, CLASSES)
    assert list(per) == sorted(set(small_beats.record.tolist()))
    ec = ec57_metrics(y, pred, CLASSES)
    for c in "SV":  # the records' counts add up to the EC57 counts (Q left out by both)
        assert sum(r[f"missed_{c}"] for r in per.values()) == ec[c]["fn"]
        assert sum(r[f"false_{c}"] for r in per.values()) == ec[c]["fp"]
    assert sum(r["beats"] for r in per.values()) == (y != 4).sum() == ec["n"]
    m = small_beats.record == "208"
    keep = m & (y != 4)
    assert per["208"]["accuracy"] == pytest.approx((pred[keep] == y[keep]).mean())
    with pytest.raises(ValueError, match="must be 1-D and equal"):
        record_errors(y, pred[:-1], small_beats.record, CLASSES)
    md = report.metrics_markdown({**_metrics(full=False), "per_record": per})
    assert "### Per record" in md and "| Record | Beats | Accuracy | missed S | false S | missed V | false V |" in md
    worst = max(per, key=lambda r: sum(per[r][k] for k in ("missed_S", "false_S", "missed_V", "false_V")))
    table = md.split("### Per record")[1]
    assert table.split("\n")[4].startswith(f"| **{worst}** |")  # most errors first


def test_ec57_counts_as_wfdb_bxb(small_beats):
    """EC57's VEB and SVEB statistics as WFDB's bxb computes them from its confusion matrix
    (VFP = Nv + Sv: a fusion beat called V is not a false V; SFP = Ns + Vs + Fs; Q beats left out),
    on real beats with 15 % of the labels changed."""
    from sklearn.metrics import confusion_matrix

    from ecgbeat.labels import CLASSES
    from ecgbeat.metrics import ec57_metrics

    y = small_beats.y
    rng = np.random.default_rng(1)
    pred = np.where(rng.random(len(y)) < 0.15, rng.integers(0, 5, len(y)), y)
    (nn, ns, nv, nf, nq), (sn, ss, sv, sf, sq), (vn, vs, vv, vf, vq), (fn_, fs, fv, ff, fq), _ = \
        confusion_matrix(y, pred, labels=range(5))
    assert fv > 0 and vf > 0  # the case the rule is about occurs
    ec = ec57_metrics(y, pred, CLASSES)
    assert (ec["V"]["tp"], ec["V"]["fn"], ec["V"]["fp"]) == (vv, vn + vs + vf + vq, nv + sv)
    assert ec["V"]["fusion_called_v"] == fv
    assert ec["V"]["ppv"] == pytest.approx(vv / (vv + nv + sv))
    assert (ec["S"]["tp"], ec["S"]["fn"], ec["S"]["fp"]) == (ss, sn + sv + sf + sq, ns + vs + fs)
    assert ec["F"]["fn"] == fn_ + fs + fv + fq  # a fusion beat called V is still a missed F
    # a detection without a reference beat ("-", as analyze scores them) called V is a false V
    e2 = ec57_metrics(np.array([3, 3, 2, 5]), np.array([2, 0, 2, 2]), CLASSES + ("-",))
    assert (e2["V"]["tp"], e2["V"]["fp"], e2["V"]["fusion_called_v"], e2["F"]["fn"]) == (1, 1, 1, 2)
    # the report names the count (an integer, not a percentage), on V's row only
    md = report.metrics_markdown({"accuracy": ec["accuracy"], "classes": list(CLASSES), "ec57": ec})
    table = md.split("### AAMI EC57")[1]
    assert "F called V (not a false V in EC57)" in table
    v_row = next(line for line in table.splitlines() if line.startswith("| **V**"))
    assert v_row.rstrip(" |").endswith(f"{fv:,}") and "%" not in v_row.split("|")[-2]
    s_row = next(line for line in table.splitlines() if line.startswith("| **S**"))
    assert s_row.rstrip(" |").endswith("–")


def test_undefined_values_are_nan_null_and_a_dash_not_zero(small_beats, tmp_path):
    """A class never called has no precision, one without beats no sensitivity: NaN in the metrics,
    null in metrics.json, "–" in the report and on the command line, never a 0 that reads as
    "every call was wrong". The report names the real majority class."""
    import json

    from ecgbeat.cli import _print_metrics
    from ecgbeat.io.atomic import write_json_atomic
    from ecgbeat.labels import CLASSES
    from ecgbeat.metrics import classification_metrics

    y = small_beats.y[small_beats.y != 4]  # real labels without the Q beats: Q has no beats
    assert (y == 1).any()
    pred = np.where(y == 1, 0, y)  # every S beat called N: S is never called
    m = classification_metrics(y, pred, CLASSES)
    s, q = m["per_class"]["S"], m["per_class"]["Q"]
    assert np.isnan(s["precision"]) and s["sensitivity"] == 0.0 and s["f1"] == 0.0
    assert np.isnan(q["precision"]) and np.isnan(q["sensitivity"]) and np.isnan(q["f1"])
    assert np.isnan(m["confusion_matrix_normalized"][4]).all() and np.isfinite(m["macro_f1"])
    assert m["macro_f1"] == pytest.approx(np.mean([m["per_class"][c]["f1"] for c in "NSVF"]))
    import sklearn
    from sklearn.metrics import precision_recall_fscore_support

    if tuple(int(v) for v in sklearn.__version__.split(".")[:2]) >= (1, 4):  # F1 from counts since 1.4
        want = precision_recall_fscore_support(y, pred, labels=range(5), zero_division=np.nan)
        got = [[m["per_class"][c][k] for c in CLASSES] for k in ("precision", "sensitivity", "f1", "support")]
        np.testing.assert_allclose(np.array(got, dtype=float), np.array(want, dtype=float), equal_nan=True)
    saved = json.loads(write_json_atomic(tmp_path / "metrics.json", m).read_text())
    assert saved["per_class"]["S"]["precision"] is None and saved["per_class"]["Q"]["sensitivity"] is None
    md = report.metrics_markdown(saved)
    assert "| **S** – Supraventricular ectopic | – | 0.0% | 0.0% |" in md
    assert "| **Q** – Unknown / paced | – | – | – | 0 |" in md
    assert "| **Q** | – | – | – | – | – |" in md  # the row of a class without beats: no bold 0.0 %
    assert "dominated by the majority class (N)" in md
    mostly_s = {**saved, "per_class": {**saved["per_class"], "S": {**saved["per_class"]["S"], "support": 10**6}}}
    assert "dominated by the majority class (S)" in report.metrics_markdown(mostly_s)
    _print_metrics(saved)  # the command line reads metrics.json's nulls too


def test_metrics_on_the_command_line_show_a_dash_for_nothing_to_count(small_beats, capsys):
    from ecgbeat.cli import _print_metrics
    from ecgbeat.labels import CLASSES
    from ecgbeat.metrics import classification_metrics, ec57_metrics

    y = small_beats.y
    pred = np.where(y == 1, 0, y)
    _print_metrics({**classification_metrics(y, pred, CLASSES), "ec57": ec57_metrics(y, pred, CLASSES)})
    out = capsys.readouterr().out
    s_line = next(line for line in out.splitlines() if line.strip().startswith("S:"))
    assert "sensitivity 0.000  precision –  F1 0.000" in s_line
    assert "S Se 0.000 +P –" in out and "nan" not in out


def test_metrics_markdown_uses_only_present_keys():
    md = report.metrics_markdown(_metrics(full=False))
    assert md.startswith("## Evaluation\n")
    assert "EC57" not in md and "Run:" not in md and "% of each true class" not in md and "Per record" not in md
    md2 = report.metrics_markdown({"accuracy": 0.5})
    assert "50.00%" in md2 and "Per class" not in md2 and "Confusion" not in md2


@pytest.mark.parametrize("bad", [{}, None, [1, 2], {"unrelated": 1}])
def test_metrics_markdown_bad_input(bad):
    with pytest.raises(ValueError):
        report.metrics_markdown(bad)


def test_metrics_markdown_bad_confusion_shape():
    m = _metrics(full=False)
    m["confusion_matrix"] = [[1, 2], [3, 4]]
    with pytest.raises(ValueError, match="confusion_matrix"):
        report.metrics_markdown(m)


def test_write_text_atomic(tmp_path):
    target = tmp_path / "reports" / "eval.md"
    out = report.write_text_atomic(target, "# ünïcode\n")
    assert Path(out) == target
    assert target.read_text(encoding="utf-8") == "# ünïcode\n"
    report.write_text_atomic(target, "second\n")
    assert target.read_text(encoding="utf-8") == "second\n"
    assert [p.name for p in target.parent.iterdir()] == ["eval.md"]


def test_write_text_atomic_names_the_target_not_its_temporary_file(tmp_path, monkeypatch):
    """A file in the way of the folder is one line naming it; an error of the system while making
    the temporary file names the output asked for, never the hidden ``.eval.md.xxxx.tmp``."""
    import tempfile

    from ecgbeat.errors import EcgbeatError

    (tmp_path / "afile").write_text("x")
    with pytest.raises(EcgbeatError, match=r"afile: is a file, not a folder; cannot write eval\.md$"):
        report.write_text_atomic(tmp_path / "afile" / "eval.md", "x")

    def refuse(prefix, suffix, dir):
        raise PermissionError(13, "Permission denied", str(Path(dir) / f"{prefix}abc{suffix}"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError) as exc:
        report.write_text_atomic(tmp_path / "eval.md", "x")
    assert exc.value.filename == str(tmp_path / "eval.md") and ".tmp" not in str(exc.value)
