"""Benchmark of R-peak detectors on the MIT-BIH Arrhythmia Database.

Compares ``ecgbeat.dsp.detect_r_peaks`` with ``wfdb.processing.xqrs_detect``
and neurokit2's default ``ecg_peaks(ecg_clean(...))`` on lead 0 of every
record (whole record, 360 Hz).  A detection matches a reference beat when it
lies within 150 ms of it, inclusive (``wfdb.processing.compare_annotations``
with ``window_width = int(0.15 * fs) + 1``, since it matches differences
strictly below the window, the same rule as ``ecgbeat.analyze.match_beats``);
the reference beats are the annotations
with symbols ``NLRBAaJSVrFejnE/fQ?`` (rhythm, noise and flutter-wave marks
such as ``+ ~ | " x ! [ ]`` are not beats).

Two protocols are reported:

* ``whole``: every detection and every reference beat of the record counts
  (this is the headline number);
* ``ec57``: as in ANSI/AAMI EC57, detections and reference beats inside the
  ventricular flutter/fibrillation episodes (between ``[`` and ``]``
  annotations; only record 207 has them) are left out.

Extra detector rows: ``ours_no_vf_guard`` (the same detector with the
flutter/fibrillation guard off) and, with ``--streaming``, ``ours_stream``
(:class:`ecgbeat.dsp.RPeakDetector` fed 1 s chunks).

Usage::

    python benchmarks/detection.py                 # all 48 records
    python benchmarks/detection.py --quick         # 3 records
    python benchmarks/detection.py --records 105 207 --jobs 2 --streaming

Results go to ``benchmarks/results/detection.md`` and ``detection.json`` (``detection_quick.*`` with ``--quick``)
(written atomically: temporary file, then ``os.replace``).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
from bench_common import cpu_name, default_mitdb, git_info  # noqa: E402  (beside this script)

try:  # installed package, else the source tree
    import ecgbeat.dsp  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    sys.path.insert(0, str(REPO / "src"))

BEAT_SYMBOLS = "NLRBAaJSVrFejnE/fQ?"
QUICK_RECORDS = ("100", "105", "207")
MATCH_WINDOW_S = 0.15
STREAM_CHUNK_S = 1.0

DETECTOR_LABELS = {
    "ours": "ecgbeat detect_r_peaks",
    "ours_no_vf_guard": "ecgbeat detect_r_peaks(vf_guard=False)",
    "ours_stream": "ecgbeat RPeakDetector (1 s chunks)",
    "xqrs": "wfdb xqrs_detect",
    "neurokit2": "neurokit2 ecg_peaks(ecg_clean)",
}


def list_records(mitdb: Path) -> list[str]:
    records_file = mitdb / "RECORDS"
    if records_file.is_file():
        names = [line.strip() for line in records_file.read_text().splitlines() if line.strip()]
    else:
        names = sorted(p.stem for p in mitdb.glob("*.hea"))
    return [n for n in names if (mitdb / f"{n}.hea").is_file()]


# ---------------------------------------------------------------------------
# Detectors
# ---------------------------------------------------------------------------


def _ours(sig, fs):
    from ecgbeat.dsp import detect_r_peaks

    return detect_r_peaks(sig, fs)


def _ours_no_vf_guard(sig, fs):
    from ecgbeat.dsp import detect_r_peaks

    return detect_r_peaks(sig, fs, vf_guard=False)


def _ours_stream(sig, fs):
    from ecgbeat.dsp import RPeakDetector

    det = RPeakDetector(fs)
    step = int(STREAM_CHUNK_S * fs)
    out = [det.push(sig[i : i + step]) for i in range(0, sig.size, step)]
    out.append(det.flush())
    return np.concatenate(out)


def _xqrs(sig, fs):
    from wfdb import processing

    return processing.xqrs_detect(sig, fs, verbose=False)


def _neurokit2(sig, fs):
    import neurokit2 as nk

    _, info = nk.ecg_peaks(nk.ecg_clean(sig, sampling_rate=fs), sampling_rate=fs)
    return np.asarray(info["ECG_R_Peaks"])


DETECTORS = {
    "ours": _ours,
    "ours_no_vf_guard": _ours_no_vf_guard,
    "ours_stream": _ours_stream,
    "xqrs": _xqrs,
    "neurokit2": _neurokit2,
}


def available_detectors(streaming: bool) -> tuple[list[str], dict[str, str]]:
    names = ["ours", "ours_no_vf_guard"] + (["ours_stream"] if streaming else []) + ["xqrs"]
    skipped = {}
    try:
        import neurokit2  # noqa: F401

        names.append("neurokit2")
    except ImportError as exc:
        skipped["neurokit2"] = f"not installed ({exc})"
    return names, skipped


# ---------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------


def _counts(ref: np.ndarray, test: np.ndarray, fs: float) -> dict:
    from wfdb import processing

    if ref.size == 0 or test.size == 0:
        return {"tp": 0, "fp": int(test.size), "fn": int(ref.size)}
    # compare_annotations matches differences strictly below window_width: + 1 makes 150 ms inclusive
    cmp = processing.compare_annotations(ref, test, int(MATCH_WINDOW_S * fs) + 1)
    return {"tp": int(cmp.tp), "fp": int(cmp.fp), "fn": int(cmp.fn)}


def _inside(samples: np.ndarray, intervals: list[tuple[int, int]]) -> np.ndarray:
    mask = np.zeros(samples.size, dtype=bool)
    for a, b in intervals:
        mask |= (samples >= a) & (samples <= b)
    return mask


def _vf_episodes(ann_samples: np.ndarray, ann_symbols: list[str]) -> list[tuple[int, int]]:
    episodes, start = [], None
    for s, sym in zip(ann_samples, ann_symbols):
        if sym == "[":
            start = int(s)
        elif sym == "]" and start is not None:
            episodes.append((start, int(s)))
            start = None
    if start is not None:
        episodes.append((start, int(ann_samples[-1])))
    return episodes


def run_record(args: tuple[str, str, list[str]]) -> dict:
    """Read one record, run every detector, score it (runs in a worker)."""
    import wfdb

    warnings.filterwarnings("ignore")
    mitdb, name, detectors = args
    rec = wfdb.rdrecord(str(Path(mitdb) / name), channels=[0])
    ann = wfdb.rdann(str(Path(mitdb) / name), "atr")
    fs = float(rec.fs)
    sig = rec.p_signal[:, 0].astype(np.float64)
    samples = np.asarray(ann.sample, dtype=np.int64)
    symbols = list(ann.symbol)
    ref = np.array([s for s, c in zip(samples, symbols) if c in BEAT_SYMBOLS], dtype=np.int64)
    vf = _vf_episodes(samples, symbols)
    ref_ec57 = ref[~_inside(ref, vf)]
    out = {
        "record": name,
        "lead": rec.sig_name[0],
        "fs": fs,
        "n_samples": int(sig.size),
        "n_ref_beats": int(ref.size),
        "vf_episodes_s": [[a / fs, b / fs] for a, b in vf],
        "detectors": {},
    }
    for det in detectors:
        t0 = time.perf_counter()
        try:
            peaks = np.asarray(DETECTORS[det](sig, fs), dtype=np.int64)
            error = None
        except Exception as exc:  # a baseline crashing must not kill the benchmark
            peaks, error = np.empty(0, dtype=np.int64), f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - t0
        peaks = np.unique(peaks[(peaks >= 0) & (peaks < sig.size)])
        res = {"seconds": seconds, "n_detections": int(peaks.size)}
        res["whole"] = _counts(ref, peaks, fs)
        res["ec57"] = _counts(ref_ec57, peaks[~_inside(peaks, vf)], fs)
        if error:
            res["error"] = error
        out["detectors"][det] = res
    return out


def _rates(c: dict) -> dict:
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    return {
        **c,
        "se": 100.0 * tp / (tp + fn) if tp + fn else float("nan"),
        "ppv": 100.0 * tp / (tp + fp) if tp + fp else float("nan"),
    }


def summarise(records: list[dict], detectors: list[str]) -> dict:
    totals = {}
    for det in detectors:
        tot = {}
        for proto in ("whole", "ec57"):
            agg = {"tp": 0, "fp": 0, "fn": 0}
            for r in records:
                for k in agg:
                    agg[k] += r["detectors"][det][proto][k]
            tot[proto] = _rates(agg)
        tot["seconds"] = float(sum(r["detectors"][det]["seconds"] for r in records))
        totals[det] = tot
    for r in records:
        for det in detectors:
            for proto in ("whole", "ec57"):
                r["detectors"][det][proto] = _rates(r["detectors"][det][proto])
    return totals


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return "n/a" if x != x else f"{x:.2f}"


def render_markdown(result: dict) -> str:
    dets = result["detectors"]
    tot = result["totals"]
    lines = [
        "# R-peak detection benchmark (MIT-BIH Arrhythmia Database)",
        "",
        f"Generated {result['generated_utc']} by `{result.get('command', 'benchmarks/detection.py')}`"
        + (f" at commit `{result['git_commit']}`" + (" (uncommitted changes)" if result.get("git_dirty") else "")
           if result.get("git_commit") else "")
        + f" on {result['machine']} ({len(result['records'])} records, lead 0, whole records).",
        "",
        f"Matching: `wfdb.processing.compare_annotations`, window {MATCH_WINDOW_S * 1000:.0f} ms;"
        f" reference beats = annotation symbols `{BEAT_SYMBOLS}`.",
        "Se = TP / (TP + FN), +P = TP / (TP + FP), in %. Time = detector run time summed over records",
        "(reading the record and scoring excluded).",
        "",
        "## Totals",
        "",
        "| detector | TP | FP | FN | Se % | +P % | time s | EC57 (VF excluded) FP | FN | Se % | +P % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for d in dets:
        w, e = tot[d]["whole"], tot[d]["ec57"]
        lines.append(
            f"| {DETECTOR_LABELS[d]} | {w['tp']} | {w['fp']} | {w['fn']} | {_fmt(w['se'])} |"
            f" {_fmt(w['ppv'])} | {tot[d]['seconds']:.1f} | {e['fp']} | {e['fn']} |"
            f" {_fmt(e['se'])} | {_fmt(e['ppv'])} |"
        )
    if result.get("skipped"):
        lines += ["", "Skipped: " + "; ".join(f"{k}: {v}" for k, v in result["skipped"].items())]
    lines += [
        "",
        "Notes:",
        "",
        "- `whole`: every detection counts. Record 207 contains about 2.5 min of ventricular flutter"
        " whose waves are not annotated as beats; detections there are false positives.",
        "- `EC57`: detections and reference beats inside `[`...`]` (flutter/fibrillation) episodes"
        " are excluded, as in ANSI/AAMI EC57.",
        "- `vf_guard`: our detector drops detections where the QRS envelope stops returning to"
        " baseline between detections (flutter/fibrillation-like activity);"
        " `vf_guard=False` shows the detector without it.",
        "",
        "## Per record (whole record)",
        "",
    ]
    head = "| record | lead | beats |" + "".join(f" {d} TP | FP | FN | Se % | +P % | s |" for d in dets)
    lines.append(head)
    lines.append("|---|---|---:|" + "---:|" * (6 * len(dets)))
    for r in result["records"]:
        row = f"| {r['record']} | {r['lead']} | {r['n_ref_beats']} |"
        for d in dets:
            x = r["detectors"][d]
            w = x["whole"]
            row += f" {w['tp']} | {w['fp']} | {w['fn']} | {_fmt(w['se'])} | {_fmt(w['ppv'])} | {x['seconds']:.2f} |"
        lines.append(row)
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mitdb", type=Path, default=None, help="MIT-BIH folder (default: $ECGBEAT_MITDB, else ../shared/data/mitdb)"
    )
    parser.add_argument("--records", nargs="+", default=None, help="record names (default: all)")
    parser.add_argument("--quick", action="store_true", help=f"only records {', '.join(QUICK_RECORDS)}")
    parser.add_argument("--streaming", action="store_true", help="also run the streaming detector (1 s chunks)")
    parser.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes (default: min(2, CPUs))"
    )
    parser.add_argument(
        "--out-dir", type=Path, default=REPO / "benchmarks" / "results", help="where detection.md/.json are written"
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    stem = "detection_quick" if args.quick else "detection"  # a quick run never replaces the full results
    commit, dirty = git_info()  # before the run: the commit of the code that runs

    mitdb = (args.mitdb or default_mitdb()).expanduser().resolve()
    if not (mitdb / "100.hea").is_file() and not list(mitdb.glob("*.hea")):
        parser.error(f"no MIT-BIH records in {mitdb} (use --mitdb or set ECGBEAT_MITDB)")
    records = list(args.records) if args.records else list_records(mitdb)
    if args.quick:
        records = [r for r in QUICK_RECORDS if (mitdb / f"{r}.hea").is_file()]
    missing = [r for r in records if not (mitdb / f"{r}.hea").is_file()]
    if missing:
        parser.error(f"records not found in {mitdb}: {' '.join(missing)}")

    detectors, skipped = available_detectors(args.streaming)
    jobs = [(str(mitdb), r, detectors) for r in records]
    t0 = time.perf_counter()
    results = []
    if args.jobs > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            for res in pool.map(run_record, jobs):
                results.append(res)
                _progress(res, detectors)
    else:
        for job in jobs:
            res = run_record(job)
            results.append(res)
            _progress(res, detectors)

    totals = summarise(results, detectors)
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("scipy", "wfdb", "neurokit2"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # pragma: no cover
            pass
    result = {
        "generated_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cpu_name()} ({platform.machine()}), {os.cpu_count()} CPUs, {args.jobs} worker(s)",
        "command": " ".join(["python benchmarks/detection.py", *(sys.argv[1:] if argv is None else argv)]),
        "git_commit": commit, "git_dirty": dirty, "quick": args.quick,
        "mitdb": str(mitdb),
        "match_window_s": MATCH_WINDOW_S,
        "beat_symbols": BEAT_SYMBOLS,
        "lead": "signal 0",
        "detectors": detectors,
        "detector_labels": {d: DETECTOR_LABELS[d] for d in detectors},
        "skipped": skipped,
        "versions": versions,
        "wall_seconds": time.perf_counter() - t0,
        "totals": totals,
        "records": results,
    }
    from ecgbeat.io.atomic import json_text, write_text_atomic

    out_dir = args.out_dir
    write_text_atomic(out_dir / f"{stem}.json", json_text(result, indent=1) + "\n")  # NaN as null
    write_text_atomic(out_dir / f"{stem}.md", render_markdown(result))
    print()
    for d in detectors:
        w, e = totals[d]["whole"], totals[d]["ec57"]
        print(
            f"{d:18s} Se {w['se']:.3f} +P {w['ppv']:.3f}  (TP {w['tp']} FP {w['fp']} FN {w['fn']})"
            f"  EC57 Se {e['se']:.3f} +P {e['ppv']:.3f}  {totals[d]['seconds']:.1f} s"
        )
    print(f"wrote {out_dir / f'{stem}.md'} and {out_dir / f'{stem}.json'}")
    return 0


def _progress(res: dict, detectors: list[str]) -> None:
    parts = []
    for d in detectors:
        w = res["detectors"][d]["whole"]
        parts.append(f"{d} FP={w['fp']} FN={w['fn']}")
    print(f"{res['record']}: " + ", ".join(parts), flush=True)


if __name__ == "__main__":
    sys.exit(main())
