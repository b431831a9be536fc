"""Markdown reports of evaluation metrics.

:func:`metrics_markdown` turns the metrics dict of an evaluation into a short Markdown report
(headline, per-class table, confusion matrix, optional AAMI EC57 table, run info);
:func:`write_text_atomic` writes it without ever leaving a half-written file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import EcgbeatError
from .io.atomic import write_text_atomic as _write_text
from .labels import CLASS_NAMES

__all__ = ["metrics_markdown", "write_text_atomic"]

_DASH = "–"

#: Run-info keys shown in the last line, in this order, with their display names.
_RUN_KEYS: tuple[tuple[str, str], ...] = (
    ("model", "model"),
    ("split", "split"),
    ("seed", "seed"),
    ("epochs", "epochs"),
    ("best_epoch", "best epoch"),
    ("n_params", "parameters"),
    ("train_seconds", "training time"),
    ("device", "device"),
)


def _is_number(x: Any) -> bool:
    try:
        return x is not None and not isinstance(x, bool) and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _pct(x: Any, digits: int = 1) -> str:
    """0.9871 -> '98.7%' (fractions in, percentages out); non-numbers -> '–'."""
    return f"{100 * float(x):.{digits}f}%" if _is_number(x) else _DASH


def _majority_class(per_class: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The class with the most true beats (``support``), or None when no support is known."""
    support = {c: float(m.get("support")) for c, m in per_class.items()
               if isinstance(m, Mapping) and _is_number(m.get("support"))}
    return max(support, key=support.get) if support and max(support.values()) > 0 else None


def _int(x: Any) -> str:
    """1234 -> '1,234'; floats that are whole numbers too; non-numbers -> '–'."""
    if not _is_number(x):
        return _DASH
    v = float(x)
    return f"{round(v):,}" if v == round(v) else f"{v:,.3g}"


def _class_cell(c: str) -> str:
    full = CLASS_NAMES.get(c)
    return f"**{c}** – {full}" if full else f"**{c}**"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str]) -> list[str]:
    """Markdown table lines; ``align`` holds 'l' or 'r' per column."""
    sep = [":---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return lines


def _matrix(value: Any, k: int, name: str) -> list[list[float]]:
    rows = [list(r) for r in value]
    if len(rows) != k or any(len(r) != k for r in rows):
        raise EcgbeatError(f"metrics[{name!r}] must be {k}x{k} (one row and column per class)")
    return rows


def _duration(seconds: Any) -> str:
    s = float(seconds)
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s:.0f} s ({s / 60:.1f} min)"
    return f"{s:.0f} s ({s / 3600:.1f} h)"


def metrics_markdown(metrics: Mapping[str, Any], title: str = "Evaluation") -> str:
    """A Markdown report of evaluation metrics, using only the keys present.

    Parameters
    ----------
    metrics : dict
        Evaluation results; fractions in [0, 1] are shown as percentages. Recognised keys:
        ``accuracy``, ``macro_f1``, ``n``, ``majority_baseline_accuracy``, ``classes`` (list
        of names), ``per_class`` (``{class: {"precision", "sensitivity", "f1", "support"}}``),
        ``confusion_matrix`` (counts, rows = true class), ``confusion_matrix_normalized``
        (row fractions), ``ec57`` (``{class: {"sensitivity", "ppv", ...}}``), ``per_record``
        (:func:`ecgbeat.metrics.record_errors`) and run info
        ``model``, ``split``, ``seed``, ``epochs``, ``best_epoch``, ``n_params``,
        ``train_seconds``, ``device``.
    title : str, default "Evaluation"
        Level-2 heading of the report.

    Returns
    -------
    str
        Markdown text ending with a newline: headline (accuracy vs the majority-class baseline,
        macro-F1, number of beats), per-class table, confusion matrix (counts, and row
        percentages when given), AAMI EC57 table, per-record errors and a run-info line.

    Raises
    ------
    ValueError
        If ``metrics`` is not a non-empty dict, or a confusion matrix does not match
        ``classes``.
    """
    if not isinstance(metrics, Mapping):
        raise EcgbeatError(f"metrics must be a dict, got {type(metrics).__name__}")
    if not metrics:
        raise EcgbeatError("metrics is empty; nothing to report")

    per_class: Mapping[str, Mapping[str, Any]] = metrics.get("per_class") or {}
    classes = [str(c) for c in (metrics.get("classes") or list(per_class))]
    lines: list[str] = [f"## {title}", ""]

    # --- headline -------------------------------------------------------------------------
    head: list[str] = []
    acc, base = metrics.get("accuracy"), metrics.get("majority_baseline_accuracy")
    if _is_number(acc):
        txt = f"**Accuracy {_pct(acc, 2)}**"
        if _is_number(base):
            diff = 100 * (float(acc) - float(base))
            txt += f" vs {_pct(base, 2)} for always predicting the majority class ({diff:+.2f} pp)"
        head.append(txt)
    elif _is_number(base):
        head.append(f"Majority-class baseline accuracy {_pct(base, 2)}")
    if _is_number(metrics.get("macro_f1")):
        head.append(f"**macro-F1 {_pct(metrics['macro_f1'], 2)}**")
    if _is_number(metrics.get("n")):
        head.append(f"{_int(metrics['n'])} beats")
    if head:
        lines += [" · ".join(head), ""]
        if _is_number(acc) and _is_number(metrics.get("macro_f1")):
            major = _majority_class(per_class)
            lines += [(f"Accuracy is dominated by the majority class{f' ({major})' if major else ''}; "
                       "macro-F1 weighs every class equally."), ""]

    # --- per-class table --------------------------------------------------------------------
    if per_class:
        rows = []
        for c in classes or list(per_class):
            m = per_class.get(c, {})
            rows.append([_class_cell(c), _pct(m.get("precision")), _pct(m.get("sensitivity")),
                         _pct(m.get("f1")), _int(m.get("support"))])
        lines += ["### Per class", ""]
        lines += _table(["Class", "Precision", "Sensitivity (recall)", "F1", "Support"], rows,
                        "lrrrr")
        lines.append("")

    # --- confusion matrices -----------------------------------------------------------------
    k = len(classes)
    cm = metrics.get("confusion_matrix")
    if cm is not None and k:
        cm = _matrix(cm, k, "confusion_matrix")
        rows = []
        for i, c in enumerate(classes):
            cells = [f"**{_int(v)}**" if i == j else _int(v) for j, v in enumerate(cm[i])]
            total = sum(float(v) for v in cm[i] if _is_number(v))
            rows.append([f"**{c}**", *cells, _int(total)])
        col_tot = [_int(sum(float(cm[i][j]) for i in range(k) if _is_number(cm[i][j])))
                   for j in range(k)]
        grand = sum(float(v) for r in cm for v in r if _is_number(v))
        rows.append(["**Total**", *col_tot, _int(grand)])
        lines += ["### Confusion matrix (counts; rows = true class, columns = predicted)", ""]
        lines += _table(["True \\ Pred", *classes, "Total"], rows, "l" + "r" * (k + 1))
        lines.append("")
    cmn = metrics.get("confusion_matrix_normalized")
    if cmn is not None and k:
        cmn = _matrix(cmn, k, "confusion_matrix_normalized")
        rows = [[f"**{c}**", *[f"**{_pct(v)}**" if i == j and _is_number(v) else _pct(v)
                               for j, v in enumerate(cmn[i])]]
                for i, c in enumerate(classes)]
        lines += ["### Confusion matrix (% of each true class)", ""]
        lines += _table(["True \\ Pred", *classes], rows, "l" + "r" * k)
        lines.append("")

    # --- AAMI EC57 --------------------------------------------------------------------------
    ec57_all: Mapping[str, Any] = metrics.get("ec57") or {}
    # per-class dicts only; scalars (overall accuracy, n) go in the heading
    ec57: Mapping[str, Mapping[str, Any]] = {c: m for c, m in ec57_all.items() if isinstance(m, Mapping)}
    if ec57:
        names = {"sensitivity": "Se (sensitivity)", "ppv": "+P (positive predictivity)",
                 "fpr": "FPR", "specificity": "Sp (specificity)",
                 "fusion_called_v": "F called V (not a false V in EC57)"}
        keys: list[str] = [key for key in ("sensitivity", "ppv")
                           if any(key in m for m in ec57.values())]
        for m in ec57.values():
            keys += [key for key in m if key not in keys and key != "support"]
        order = [c for c in classes if c in ec57] + [c for c in ec57 if c not in classes]
        rows = []
        for c in order:
            m = ec57[c]
            cells = [_int(m.get(key)) if key in ("tp", "fp", "fn", "tn", "fusion_called_v") else _pct(m.get(key))
                     for key in keys]
            rows.append([_class_cell(c), *cells])
        lines += ["### AAMI EC57 beat-by-beat statistics", ""]
        if "accuracy" in ec57_all:
            lines += [f"Overall accuracy (Q beats excluded): {_pct(ec57_all['accuracy'])} "
                      f"of {ec57_all.get('n', '?')} beats.", ""]
        header = ["Class", *[names.get(key, key) for key in keys]]
        lines += _table(header, rows, "l" + "r" * len(keys))
        lines.append("")

    # --- per record -------------------------------------------------------------------------------
    per_record: Mapping[str, Mapping[str, Any]] = metrics.get("per_record") or {}
    if per_record:
        kinds = [k for k in ("missed_S", "false_S", "missed_V", "false_V")
                 if any(k in r for r in per_record.values())]
        order = sorted(per_record, key=lambda r: -sum(per_record[r].get(k, 0) for k in kinds))
        rows = [[f"**{r}**", _int(per_record[r].get("beats")), _pct(per_record[r].get("accuracy"), 2),
                 *[_int(per_record[r].get(k)) for k in kinds]] for r in order]
        lines += ["### Per record (Q beats excluded; most S and V errors first)", ""]
        lines += _table(["Record", "Beats", "Accuracy", *[k.replace("_", " ") for k in kinds]], rows,
                        "lrr" + "r" * len(kinds))
        lines.append("")

    # --- calibration and abstention ------------------------------------------------------------
    if _is_number(metrics.get("ece")):
        lines += ["### Calibration and abstention", "",
                  f"Expected calibration error (15 bins): {_pct(metrics['ece'], 2)}. "
                  "With `ecgbeat predict --min-confidence T`, beats below confidence T are labelled "
                  "*uncertain*; the share kept (coverage) and the accuracy on them:", ""]
        rows = [[f"{r['threshold']:.2f}", _pct(r["coverage"]), _pct(r["accuracy"], 2)]
                for r in metrics.get("coverage") or []]
        if rows:
            lines += _table(["Min. confidence", "Coverage", "Accuracy on kept beats"], rows, "rrr")
        lines.append("")

    # --- run info ---------------------------------------------------------------------------
    run = []
    for key, label in _RUN_KEYS:
        v = metrics.get(key)
        if v is None:
            continue
        if key == "train_seconds" and _is_number(v):
            run.append(f"{label} {_duration(v)}")
        elif key == "n_params" and _is_number(v):
            run.append(f"{label} {_int(v)}")
        else:
            run.append(f"{label} `{v}`")
    if run:
        lines += ["Run: " + " · ".join(run), ""]

    if len(lines) == 2:
        raise EcgbeatError(
            f"metrics has none of the keys this report shows (got {', '.join(map(str, metrics))})"
        )
    return "\n".join(lines).rstrip("\n") + "\n"


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically: temporary file beside it, then rename.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; parent folders are created.
    text : str
        Content.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise EcgbeatError(f"text must be a str, got {type(text).__name__}")
    return _write_text(path, text)
