"""Benchmark of "raw ECG in, labelled beats out" (analyze_record and StreamClassifier).

(a) End-to-end classification: models trained on DS1 beats (inter-patient split) analyse the raw
    DS2 records (R peaks detected, beats cut, classified); detections are matched to the reference
    beats within 150 ms; EC57 Se / +P for N, S, V, F and accuracy, pooled over the 22 records.
    For comparison, the same models on the DS2 beats cut at the reference R peaks (the usual
    beat-level test set).
(b) Speed: a 30-minute record end to end (read -> labelled beats -> files), warm and as a fresh
    CLI process; streaming throughput (x real time) and decision latency per chunk size;
    stream / analyze label agreement on DS2 records; memory over a 24-h stream (the 48 MIT-BIH
    records back to back).

Run (one thread, a few tens of minutes on a busy 2-core machine)::

    OMP_NUM_THREADS=1 python benchmarks/analyze.py [--quick] [--mitdb PATH]

Models are trained once into ``--models-dir`` (default ``~/.cache/ecgbeat/bench-analyze``, never
into the repository). Results: ``benchmarks/results/analyze.json`` and ``analyze.md``.

Section (a) for checkpoints trained elsewhere (e.g. kept by ``benchmarks/accuracy.py --keep-runs``,
or an ``ecgbeat ensemble``), written under another name::

    python benchmarks/analyze.py --checkpoint lstm-template=runs/a/model.json \
        --checkpoint ensemble=runs/e/model.json --stem analyze_template
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
from bench_common import cpu_name, default_mitdb, git_info  # noqa: E402  (beside this script)

RESULTS = ROOT / "benchmarks" / "results"
SECTIONS = ("accuracy", "speed", "stream", "agreement", "memory")
MODELS = {  # name -> (registered model, model_args, beat scaling of the training beats)
    "lstm": ("lstm", {"patch_size": 8, "num_layers": 1}, "fixed"),  # the project's LSTM, made small
    "lstm+rr": ("lstm", {"patch_size": 8, "num_layers": 1, "n_features": 5}, "fixed"),
    "lstm-causal": ("lstm", {"patch_size": 8, "num_layers": 1}, "causal"),  # trained as a stream cuts
}
EPOCHS = 8
SPEED_RECORD = "213"  # DS2, 30 min, 3251 beats (the most of the DS2 records)
TARGETS = {"end_to_end_s": 1.5, "throughput_x": 200.0, "latency_median_s": 1.5, "latency_max_s": 3.0,
           "agreement": 0.99}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mitdb", default=str(default_mitdb()),
                   help="MIT-BIH folder (default: $ECGBEAT_MITDB, else ../shared/data/mitdb)")
    p.add_argument("--models-dir", default=str(Path.home() / ".cache" / "ecgbeat" / "bench-analyze"))
    p.add_argument("--quick", action="store_true", help="fewer records and chunk sizes, 2-h memory run")
    p.add_argument("--only", help="comma-separated sections: accuracy,speed,stream,agreement,memory")
    p.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                   help="section (a) for these checkpoints instead of the benchmark's own models")
    p.add_argument("--stem", default="analyze",
                   help="results file names (default: analyze; analyze_quick with --quick)")
    p.add_argument("--af-gate", action="store_true",
                   help="section (a) with AnalyzeConfig.af_gate: no S call in an atrial-fibrillation-like rhythm")
    p.add_argument("--adapt", metavar="ITERS:STRENGTH:HELD",
                   help="section (a) with AnalyzeConfig.adapt: causal per-patient class-mix adaptation")
    p.add_argument("--smooth", metavar="STRENGTH",
                   help="section (a) with AnalyzeConfig.smooth: beat-to-beat smoothing (needs train_transitions)")
    p.add_argument("--self-train", metavar="CONFIDENCE:C",
                   help="section (a) with AnalyzeConfig.self_train: causal per-patient self-training")
    args = p.parse_args(argv)
    given = dict(c.split("=", 1) for c in args.checkpoint if "=" in c)
    if len(given) != len(args.checkpoint):
        p.error("--checkpoint takes NAME=PATH")
    from ecgbeat.checkpoint import checkpoint_paths

    missing = [path for path in given.values() if not checkpoint_paths(path, check=False)[1].is_file()]
    if missing:
        p.error(f"--checkpoint: {missing[0]}: no such checkpoint")
    unknown = sorted(set((args.only or "accuracy").split(",")) - set(SECTIONS))
    if unknown:
        p.error(f"--only: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    if args.quick and args.stem == "analyze":  # a quick run never replaces the full results
        args.stem = "analyze_quick"
    if given and (args.only or "accuracy") != "accuracy":
        p.error("--checkpoint runs section (a) only (the others use the benchmark's own models)")
    import torch

    torch.set_num_threads(1)
    mitdb = Path(args.mitdb)
    sections = set((args.only or ("accuracy" if given else "accuracy,speed,stream,agreement,memory")).split(","))
    results = _load(RESULTS / f"{args.stem}.json")
    results["environment"] = env = _environment(argv)
    models = {k: Path(v) for k, v in given.items()} if given else ensure_models(mitdb, Path(args.models_dir))
    results["models"] = {name: _model_info(path) for name, path in models.items()}
    results["given_checkpoints"] = bool(given)
    results["af_gate"] = args.af_gate
    results["adapt"] = args.adapt
    results["self_train"] = args.self_train
    results["smooth"] = args.smooth
    checkpoints = {name: info["checkpoint"] for name, info in results["models"].items()}
    steps = [("accuracy", lambda: accuracy(checkpoints, mitdb, args.quick, args.af_gate, args.adapt,
                                           args.self_train, args.smooth)),
             ("speed", lambda: speed(checkpoints["lstm"], mitdb)),
             ("stream", lambda: stream_speed(checkpoints, mitdb, args.quick)),
             ("agreement", lambda: agreement(checkpoints, mitdb, args.quick)),
             ("memory", lambda: memory(checkpoints["lstm"], mitdb, args.quick))]
    for name, step in steps:
        if name in sections:
            t0 = time.perf_counter()
            print(f"== {name}", flush=True)
            results[name] = step()
            results[name]["bench_seconds"] = round(time.perf_counter() - t0, 1)
            # each section keeps what produced it: a later run of other sections replaces the
            # file's environment and models, not this section's record of them
            results[name]["provenance"] = {
                **{k: env[k] for k in ("git_commit", "git_dirty", "command", "date", "cpu")},
                "quick": args.quick, "models": {k: v["n_parameters"] for k, v in results["models"].items()},
                **{k: results[k] for k in ("af_gate", "adapt", "self_train", "smooth", "given_checkpoints")}}
            _write(results, args.stem)
    return 0


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------


def ensure_models(mitdb: Path, folder: Path) -> dict:
    """Train each benchmark model on DS1 (inter split) once; returns name -> checkpoint path."""
    from ecgbeat.pipeline import DataSpec, load_split, train_model
    from ecgbeat.training import TrainConfig

    paths, splits = {}, {}
    for name, (model, model_args, scaling) in MODELS.items():
        path = folder / name.replace("+", "_") / "model.json"
        if not _up_to_date(path, model, model_args, scaling):
            if scaling not in splits:
                splits[scaling] = load_split(DataSpec(mitdb=str(mitdb), split="inter", scaling=scaling))
            split = splits[scaling]
            print(f"training {name} on DS1 ({len(split.train)} beats, {EPOCHS} epochs) ...", flush=True)
            config = TrainConfig(epochs=EPOCHS, seed=0, device="cpu", max_threads=1, class_weight="sqrt")
            train_model(split, path.parent, model_name=model, model_args=model_args, config=config,
                        progress=False)
        paths[name] = path
    return paths


def _up_to_date(path: Path, model: str, model_args: dict, scaling: str) -> bool:
    """A cached checkpoint is reused only when it is the model ``MODELS`` asks for today: same
    architecture and arguments (defaults included, so a changed default retrains) and beat scaling."""
    from ecgbeat.analyze import beat_params
    from ecgbeat.checkpoint import read_checkpoint_meta
    from ecgbeat.models import create_model

    try:
        meta = read_checkpoint_meta(path)
    except Exception:
        return False
    wanted = create_model(model, **model_args).init_args
    return (meta["model"] == model and meta["model_args"] == wanted and beat_params(meta).scaling == scaling
            and path.with_suffix(".safetensors").is_file())


def _model_info(path: Path) -> dict:
    from ecgbeat.checkpoint import read_checkpoint_meta

    meta = read_checkpoint_meta(path)
    return {"checkpoint": str(path), "model": meta["model"], "model_args": meta["model_args"],
            "n_parameters": meta.get("n_parameters"), "epochs": meta.get("train_config", {}).get("epochs"),
            "best_epoch": meta.get("best_epoch"), "val_macro_f1": meta.get("val_macro_f1"),
            "train_seconds": meta.get("train_seconds"), "split": meta.get("split")}


# --------------------------------------------------------------------------------------------
# (a) accuracy
# --------------------------------------------------------------------------------------------


def accuracy(checkpoints: dict, mitdb: Path, quick: bool, af_gate: bool = False, adapt: str | None = None,
             self_train: str | None = None, smooth: str | None = None) -> dict:
    from ecgbeat.analyze import AnalyzeConfig, analyze_record, load_model, reference_labels
    from ecgbeat.labels import CLASSES, DS2
    from ecgbeat.metrics import ec57_metrics

    records = DS2[:6] if quick else DS2
    out = {"records": list(records), "tolerance_s": 0.15, "runs": {}}
    for name, ckpt in checkpoints.items():
        model = load_model(ckpt)
        out["runs"][f"{name} / reference R peaks"] = _beat_level(model, mitdb, records, af_gate, adapt, self_train,
                                                                 smooth)
        for scaling in _scalings(model):
            pooled = {"matched": ([], []), "with_detection": ([], [])}
            n_ref = n_det = n_match = n_unread = 0
            for rec in records:
                r = analyze_record(mitdb / rec, model, AnalyzeConfig(scaling=scaling, af_gate=af_gate, adapt=adapt,
                                                                     self_train=self_train, smooth=smooth))
                ref = reference_labels(r.sample, r.label, r.signal.ann_sample, r.signal.ann_symbol,
                                       r.signal.fs, r.classes)
                for key in pooled:
                    pooled[key][0].append(ref[key][0])
                    pooled[key][1].append(ref[key][1])
                n_ref += ref["n_reference_beats"]
                n_det += len(r.sample)
                n_match += ref["n_matched"]
                n_unread += int((r.label == "unreadable").sum())
            cat = {k: (np.concatenate(v[0]), np.concatenate(v[1])) for k, v in pooled.items()}
            run = {"detection_sensitivity": n_match / n_ref, "detection_ppv": n_match / n_det,
                   "n_reference_beats": n_ref, "n_detected": n_det, "n_unreadable": n_unread,
                   "ec57_matched": ec57_metrics(*cat["matched"], CLASSES),
                   "ec57_with_detection": ec57_metrics(*cat["with_detection"], CLASSES + ("-",))}
            out["runs"][f"{name} / raw, scaling={scaling or 'as trained'}"] = run
            print(f"  {name} {scaling}: {_ec57_line(run['ec57_matched'])}", flush=True)
    return out


def _scalings(model) -> tuple:
    """Scalings to compare: a "fixed"-trained model both ways, a "causal" one as trained (None)."""
    from ecgbeat.analyze import beat_params

    return ("fixed", "causal") if beat_params(model[1]).scaling == "fixed" else (None,)


def _beat_level(model, mitdb: Path, records, af_gate: bool = False, adapt: str | None = None,
                self_train: str | None = None, smooth: str | None = None) -> dict:
    """The model on the DS2 beats cut at the reference R peaks, as in training (``adapt``: causal
    class-mix adaptation, ``af_gate``: then no S call in an atrial-fibrillation-like rhythm,
    ``smooth``: then beat-to-beat smoothing, ``self_train``: then causal per-patient self-training)."""
    from ecgbeat.analyze import beat_params
    from ecgbeat.datasets import build_beats
    from ecgbeat.labels import CLASSES
    from ecgbeat.metrics import ec57_metrics
    from ecgbeat.pipeline import cache_dir
    from ecgbeat.predict import adjust_proba, af_rr, parse_adaptation, predict_proba, train_prior_of
    from ecgbeat.self_training import parse_self_training, self_training_features
    from ecgbeat.smoothing import parse_smoothing, transitions_of

    params = beat_params(model[1])  # beats cut as the model's training beats
    beats = build_beats(records, mitdb=mitdb, params=params, cache_dir=cache_dir())
    proba = adjust_proba(predict_proba(model[0], beats), beats.record, beats.sample, CLASSES,
                         train_prior_of(model[1]) if adapt or smooth is not None else None,
                         parse_adaptation(adapt, CLASSES) if adapt else None, causal=True,
                         prev_rr_s=af_rr(beats) if af_gate else None,  # as analyze/stream: causal, then the gate
                         self_train=parse_self_training(self_train) if self_train else None,
                         features=self_training_features(beats) if self_train else None,
                         smooth={"transitions": transitions_of(model[1]), "strength": parse_smoothing(smooth)}
                         if smooth is not None else None)
    pred = proba.argmax(axis=1)
    return {"n_reference_beats": len(beats), "ec57_matched": ec57_metrics(beats.y, pred, CLASSES)}


def _f3(x) -> str:
    """A rate to 3 decimals; undefined (null in the JSON, e.g. +P of a class never called) as "–"."""
    return "–" if x is None or x != x else f"{x:.3f}"


def _ec57_line(e: dict) -> str:
    return f"acc {e['accuracy']:.4f} " + " ".join(
        f"{c} Se {_f3(e[c]['sensitivity'])} +P {_f3(e[c]['ppv'])}" for c in ("N", "S", "V", "F"))


# --------------------------------------------------------------------------------------------
# (b) speed
# --------------------------------------------------------------------------------------------


def speed(checkpoint: str, mitdb: Path) -> dict:
    """A 30-min record: read -> labelled beats -> CSV, WFDB annotations, JSON (+ PNG)."""
    from ecgbeat.analyze import AnalyzeConfig, analyze_record, load_model, write_outputs

    model = load_model(checkpoint)
    out = {"record": SPEED_RECORD, "duration_s": None, "warm": {}, "cold_cli_s": None}
    with tempfile.TemporaryDirectory() as tmp:
        for scaling in ("fixed", "causal"):
            for plot in (True, False):
                times, steps = [], []
                for _ in range(3):
                    t0 = time.perf_counter()
                    r = analyze_record(mitdb / SPEED_RECORD, model, AnalyzeConfig(scaling=scaling))
                    t1 = time.perf_counter()
                    write_outputs(r, tmp, plot=plot)
                    times.append(time.perf_counter() - t0)
                    steps.append({**r.timings_s, "write_s": time.perf_counter() - t1})
                best = int(np.argmin(times))
                out["duration_s"] = round(r.signal.duration_s, 1)
                out["n_beats"] = len(r.sample)
                out["warm"][f"{scaling}, {'with' if plot else 'without'} PNG"] = {
                    "median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3),
                    "steps_s (fastest run)": {k: round(v, 3) for k, v in steps[best].items()}}
        cmd = [sys.executable, "-m", "ecgbeat", "analyze", "--checkpoint", checkpoint,
               str(mitdb / SPEED_RECORD), "--out", tmp]
        env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
        cold = []
        for _ in range(2):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            cold.append(time.perf_counter() - t0)
        out["cold_cli_s"] = round(min(cold), 3)
    print(f"  warm {out['warm']}", flush=True)
    return out


def _stream_run(model, sig, scaling: str, chunk_s: float) -> dict:
    from ecgbeat.analyze import AnalyzeConfig
    from ecgbeat.stream import StreamClassifier

    sc = StreamClassifier(model, sig.fs, AnalyzeConfig(scaling=scaling))
    chunk = max(1, int(round(chunk_s * sig.fs)))
    x = sig.signal_mV
    beats = []
    t0 = time.perf_counter()
    for i in range(0, len(x), chunk):
        beats += sc.push(x[i: i + chunk])
    beats += sc.flush()
    wall = time.perf_counter() - t0
    lat = np.array([b["latency_s"] for b in beats[:-3]])  # the last ones wait for the end
    return {"beats": beats, "wall_s": wall, "x_real_time": sig.duration_s / wall,
            "latency_median_s": float(np.median(lat)), "latency_p95_s": float(np.percentile(lat, 95)),
            "latency_p99_s": float(np.percentile(lat, 99)), "latency_max_s": float(lat.max())}


def stream_speed(checkpoints: dict, mitdb: Path, quick: bool) -> dict:
    from ecgbeat.analyze import load_model
    from ecgbeat.io.signals import read_signal

    sig = read_signal(mitdb / SPEED_RECORD)
    chunks = (0.1, 1.0) if quick else (0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
    cases = [("lstm", "causal", c) for c in chunks] + [("lstm", "fixed", c) for c in (0.1, 1.0)]
    cases += [("lstm+rr", "causal", c) for c in (0.1, 1.0)]
    cases += [("lstm-causal", None, c) for c in (0.1, 0.25, 0.5, 1.0)]  # None: the checkpoint's scaling
    out = {"record": SPEED_RECORD, "duration_s": round(sig.duration_s, 1), "runs": []}
    models = {name: load_model(path) for name, path in checkpoints.items()}
    for name, scaling, chunk_s in cases:
        runs = [_stream_run(models[name], sig, scaling, chunk_s) for _ in range(2)]
        r = min(runs, key=lambda run: run["wall_s"])  # the least disturbed of two runs
        row = {"model": name, "scaling": scaling or "as trained", "chunk_s": chunk_s,
               **{k: round(v, 3) for k, v in r.items() if k != "beats"},
               "x_real_time_runs": [round(run["x_real_time"], 1) for run in runs]}
        out["runs"].append(row)
        print(f"  {row}", flush=True)
    return out


def agreement(checkpoints: dict, mitdb: Path, quick: bool) -> dict:
    """Labels of StreamClassifier (1-s chunks) vs analyze_record, same model and scaling."""
    from ecgbeat.analyze import AnalyzeConfig, analyze_record, load_model
    from ecgbeat.io.signals import read_signal
    from ecgbeat.labels import DS2

    plans = [("lstm", "causal", DS2[:4] if quick else DS2), ("lstm", "fixed", DS2[:2] if quick else DS2[:6]),
             ("lstm+rr", "causal", DS2[:2] if quick else DS2[:6]),
             ("lstm-causal", None, DS2[:2] if quick else DS2)]
    out = {"chunk_s": 1.0, "runs": []}
    for name, scaling, records in plans:
        model = load_model(checkpoints[name])
        same = total = only_one = 0
        worst = (records[0], 2.0)
        for rec in records:
            sig = read_signal(mitdb / rec)
            res = analyze_record(sig, model, AnalyzeConfig(scaling=scaling))
            beats = _stream_run(model, sig, scaling, 1.0)["beats"]
            s = np.array([b["sample"] for b in beats])
            lab = np.array([b["class"] for b in beats], dtype=object)
            common, ia, ib = np.intersect1d(res.sample, s, return_indices=True)
            agree = int((res.label[ia] == lab[ib]).sum())
            n = len(np.union1d(res.sample, s))  # a beat only one of them found counts as a disagreement
            same, total, only_one = same + agree, total + n, only_one + n - len(common)
            if agree / n < worst[1]:
                worst = (rec, agree / n)
        row = {"model": name, "scaling": scaling or "as trained", "records": list(records), "n_beats": total,
               "agreement": round(same / total, 5), "beats_found_by_one_only": only_one,
               "worst_record": worst[0], "worst_agreement": round(worst[1], 5)}
        out["runs"].append(row)
        print(f"  {row}", flush=True)
    return out


def memory(checkpoint: str, mitdb: Path, quick: bool) -> dict:
    """RSS over a 24-h stream: the 48 records back to back (causal scaling, 5-s chunks)."""
    from ecgbeat.analyze import AnalyzeConfig, load_model
    from ecgbeat.io.signals import read_signal
    from ecgbeat.labels import MITDB_RECORDS
    from ecgbeat.stream import StreamClassifier

    model = load_model(checkpoint)
    records = MITDB_RECORDS[:4] if quick else MITDB_RECORDS
    warm = StreamClassifier(model, 360.0, AnalyzeConfig(scaling="causal"))  # imports, allocator
    x = read_signal(mitdb / records[-1]).signal_mV
    for i in range(0, 600 * 360, 5 * 360):
        warm.push(x[i: i + 5 * 360])
    del warm, x
    sc = StreamClassifier(model, 360.0, AnalyzeConfig(scaling="causal"))
    samples = [{"stream_h": 0.0, "rss_mb": _rss_mb()}]
    n_beats, peak_buf = 0, {}
    t0 = time.perf_counter()
    chunk = 5 * 360
    for k, rec in enumerate(records):
        x = read_signal(mitdb / rec).signal_mV
        for i in range(0, len(x), chunk):
            n_beats += len(sc.push(x[i: i + chunk]))
            peak_buf = {key: max(v, peak_buf.get(key, 0)) for key, v in sc.buffer_sizes.items()}
        del x
        if (k + 1) % 4 == 0 or k + 1 == len(records):
            samples.append({"stream_h": round(sc.n_samples / 360.0 / 3600, 2), "rss_mb": _rss_mb()})
    n_beats += len(sc.flush())
    wall = time.perf_counter() - t0
    out = {"records": len(records), "stream_h": round(sc.n_samples / 360.0 / 3600, 2), "n_beats": n_beats,
           "wall_s": round(wall, 1), "x_real_time": round(sc.n_samples / 360.0 / wall, 1),
           "rss_mb": samples, "rss_start_mb": samples[0]["rss_mb"], "rss_end_mb": samples[-1]["rss_mb"],
           "rss_after_1st_block_mb": samples[1]["rss_mb"] if len(samples) > 1 else None,
           "max_buffer_sizes": peak_buf}
    print(f"  {out}", flush=True)
    return out


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def _environment(argv: list[str] | None = None) -> dict:
    import torch

    commit, dirty = git_info()
    return {"git_commit": commit, "git_dirty": dirty,
            "command": " ".join(["python benchmarks/analyze.py", *(sys.argv[1:] if argv is None else argv)]),
            "python": platform.python_version(), "torch": torch.__version__,
            "cpu": cpu_name(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "date": time.strftime("%Y-%m-%d %H:%M")}


def _load(path: Path) -> dict:
    import json

    try:
        return json.loads(path.read_text())
    except Exception:
        return {}


def _write(results: dict, stem: str) -> None:
    from ecgbeat.io.atomic import write_json_atomic, write_text_atomic

    results["targets"] = targets(results)
    write_json_atomic(RESULTS / f"{stem}.json", results)
    write_text_atomic(RESULTS / f"{stem}.md", markdown(results, stem))


def _latency_met(run: dict) -> bool:
    return (run["latency_median_s"] <= TARGETS["latency_median_s"]
            and run["latency_max_s"] <= TARGETS["latency_max_s"])


def targets(r: dict) -> list[dict]:
    rows = []
    if "speed" in r:
        warm = r["speed"]["warm"]
        best = min(v["median_s"] for k, v in warm.items() if "with PNG" in k)
        rows.append({"target": "30-min record end to end (warm, with PNG) <= 1.5 s",
                     "measured": f"{best:.2f} s (cold CLI process incl. imports: {r['speed']['cold_cli_s']:.2f} s)",
                     "met": best <= TARGETS["end_to_end_s"]})
    if "stream" in r:
        runs = [x for x in r["stream"]["runs"] if x["model"] == "lstm" and x["scaling"] == "causal"]
        one = next(x for x in runs if x["chunk_s"] == 1.0)
        ok = [x["chunk_s"] for x in runs if x["x_real_time"] >= TARGETS["throughput_x"]]
        rows.append({"target": "streaming throughput >= 200x real time",
                     "measured": f"{one['x_real_time']:.0f}x at 1-s chunks; met at chunks of {ok or 'none'} s",
                     "met": one["x_real_time"] >= TARGETS["throughput_x"]})
        small = next(x for x in runs if x["chunk_s"] == 0.1)
        rows.append({"target": "decision latency median <= 1.5 s, max <= 3 s (causal, 0.1-s chunks)",
                     "measured": f"median {small['latency_median_s']:.2f} s, p99 {small['latency_p99_s']:.2f} s, "
                                 f"max {small['latency_max_s']:.2f} s",
                     "met": _latency_met(small)})
        trained = [x for x in r["stream"]["runs"] if x["model"] == "lstm-causal"]
        if trained:  # all three stream targets at once: one chunk size, beats cut exactly as trained
            def all_met(x):
                return x["x_real_time"] >= TARGETS["throughput_x"] and _latency_met(x)
            t = next((x for x in trained if all_met(x)), trained[0])
            rows.append({"target": ">= 200x real time with latency median <= 1.5 s and max <= 3 s at once "
                                   "(model trained on causal beats, default settings: cut exactly as trained)",
                         "measured": f"{t['chunk_s']}-s chunks: {t['x_real_time']:.0f}x, latency median "
                                     f"{t['latency_median_s']:.2f} s, p99 {t['latency_p99_s']:.2f} s, "
                                     f"max {t['latency_max_s']:.2f} s",
                         "met": all_met(t)})
        fixed = [x for x in r["stream"]["runs"] if x["scaling"] == "fixed" and x["chunk_s"] == 0.1]
        if fixed:
            f = fixed[0]
            rows.append({"target": "the same latency with a model trained on fixed (Kaggle) windows, cut as trained",
                         "measured": f"median {f['latency_median_s']:.2f} s, max {f['latency_max_s']:.2f} s",
                         "met": _latency_met(f)})
    if "agreement" in r:
        for x in r["agreement"]["runs"]:
            rows.append({"target": f"stream = analyze labels >= 99 % ({x['model']}, {x['scaling']})",
                         "measured": f"{100 * x['agreement']:.2f} % of {x['n_beats']} beats, "
                                     f"{len(x['records'])} records (worst {x['worst_record']}: "
                                     f"{100 * x['worst_agreement']:.2f} %)",
                         "met": x["agreement"] >= TARGETS["agreement"]})
    if "memory" in r:
        m = r["memory"]
        growth = m["rss_end_mb"] - (m["rss_after_1st_block_mb"] or m["rss_start_mb"])
        rows.append({"target": "memory flat over a 24-h stream",
                     "measured": f"RSS {m['rss_start_mb']} MB at start (after a 10-min warm-up stream), "
                                 f"{m['rss_after_1st_block_mb']} MB "
                                 f"after 2 h, {m['rss_end_mb']} MB after {m['stream_h']} h",
                     "met": m["stream_h"] >= 24 and growth < 20})
    return rows


def _args(model_args: dict) -> dict:
    """A model's arguments; for an ensemble its first member's and the number of members."""
    members = model_args.get("members")
    return {"members": len(members), **members[0]["model_args"]} if members else model_args


def _num(value, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _table(head: list, rows: list) -> list[str]:
    """Markdown table lines: a header, its rule and one line per row of cells."""
    return ["| " + " | ".join(map(str, head)) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(map(str, row)) + " |" for row in rows)]


def sections_made(r: dict) -> list[str]:
    """Markdown lines: the run (date, commit, quick, command) that measured each section; sections of
    one file can come from different runs (``--only``), so each keeps its own record."""
    made = [(name, r[name]["provenance"]) for name in SECTIONS if "provenance" in r.get(name, {})]
    if not made:
        return []
    return ["## Sections and the runs that measured them", ""] + _table(
        ["section", "date", "commit", "quick", "command"],
        [[name, m["date"], f"`{m['git_commit']}`" + (" (uncommitted changes)" if m["git_dirty"] else ""),
          "yes" if m["quick"] else "no", f"`{m['command']}`"] for name, m in made]) + [""]


def markdown(r: dict, stem: str = "analyze") -> str:
    env = r.get("environment", {})
    lines = ["# Raw ECG in, labelled beats out: benchmark", "",
             f"Machine: {env.get('cpu')} ({env.get('cores')} cores; load average "
             f"at start {env.get('load_average')}), Python {env.get('python')}, torch {env.get('torch')}, "
             f"1 thread, {env.get('date')}. Produced by `{env.get('command', 'benchmarks/analyze.py')}`"
             + (f" (commit `{env['git_commit']}`{', uncommitted changes' if env.get('git_dirty') else ''})"
                if env.get("git_commit") else "") + f"; numbers in `{stem}.json`.", ""]
    lines += sections_made(r)
    if r.get("targets"):
        lines += ["## Targets", ""] + _table(
            ["target", "measured", "met"],
            [[t["target"], t["measured"], "yes" if t["met"] else "**no**"] for t in r["targets"]])
    if "models" in r:
        shown = ("members", "patch_size", "num_layers", "in_channels", "n_features", "hidden_size")
        lines += ["", "## Models", ""] + _table(
            ["name", "model", "args", "parameters", "epochs (best)", "val macro-F1", "train s"],
            [[name, m["model"], {k: v for k, v in _args(m["model_args"]).items() if k in shown}, m["n_parameters"],
              f"{m['epochs']} ({m['best_epoch']})" if m["epochs"] else "–", _num(m["val_macro_f1"], ".3f"),
              _num(m["train_seconds"], ".0f")]
             for name, m in r["models"].items()])
    if "accuracy" in r:
        a = r["accuracy"]
        lines += ["", f"## (a) End-to-end classification on DS2 ({len(a['records'])} records)", "",
                  "Trained on DS1 beats (inter-patient split, de Chazal 2004); detections matched to "
                  "reference beats within 150 ms; Q reference beats excluded (EC57 / de Chazal). "
                  "*matched*: beats both found; *with detection*: missed, unreadable and false "
                  "detections counted as errors of their class.", "",
                  "| run | det. Se | det. +P | acc | N Se | N +P | S Se | S +P | V Se | V +P | F Se | F +P |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, run in a["runs"].items():
            for kind in ("ec57_matched", "ec57_with_detection"):
                if kind not in run:
                    continue
                e = run[kind]
                det = (f"{run['detection_sensitivity']:.4f} | {run['detection_ppv']:.4f}"
                       if "detection_sensitivity" in run else "– | –")
                label = name + (" (with detection)" if kind == "ec57_with_detection" else "")
                cells = " | ".join(f"{_f3(e[c]['sensitivity'])} | {_f3(e[c]['ppv'])}" for c in ("N", "S", "V", "F"))
                lines.append(f"| {label} | {det} | {e['accuracy']:.4f} | {cells} |")
    if "speed" in r:
        s = r["speed"]
        lines += ["", f"## (b) Speed: record {s['record']} ({s['duration_s']} s, {s.get('n_beats')} beats)", ""]
        lines += _table(["run", "median s", "min s", "steps of the fastest run (s)"],
                        [[f"warm, {k}", v["median_s"], v["min_s"], v["steps_s (fastest run)"]]
                         for k, v in s["warm"].items()]
                        + [["fresh `ecgbeat analyze` process (imports, model load, PNG)", s["cold_cli_s"], "", ""]])
    if "stream" in r:
        lines += ["", f"## Streaming (record {r['stream']['record']}, pushed as fast as possible)", "",
                  "Latency: stream time from the R peak to the push that returns the beat "
                  "(includes waiting for the chunk to fill). Throughput: the faster of two runs.", ""]
        lines += _table(["model", "scaling", "chunk s", "x real time", "latency median s", "p95", "p99", "max"],
                        [[x["model"], x["scaling"], x["chunk_s"], f"{x['x_real_time']:.0f}",
                          *(f"{x[f'latency_{q}_s']:.2f}" for q in ("median", "p95", "p99", "max"))]
                         for x in r["stream"]["runs"]])
    if "agreement" in r:
        lines += ["", "## Stream vs analyze_record (1-s chunks)", ""]
        lines += _table(["model", "scaling", "records", "beats", "agreement", "found by one only", "worst record"],
                        [[x["model"], x["scaling"], len(x["records"]), x["n_beats"], f"{100 * x['agreement']:.3f} %",
                          x["beats_found_by_one_only"], f"{x['worst_record']} ({100 * x['worst_agreement']:.2f} %)"]
                         for x in r["agreement"]["runs"]])
    if "memory" in r:
        m = r["memory"]
        lines += ["", f"## Memory over a {m['stream_h']}-h stream ({m['records']} records back to back, "
                  f"{m['n_beats']} beats, {m['x_real_time']}x real time)", "",
                  "| stream h | " + " | ".join(str(s["stream_h"]) for s in m["rss_mb"]) + " |",
                  "|---|" + "---|" * len(m["rss_mb"]),
                  "| RSS MB | " + " | ".join(str(s["rss_mb"]) for s in m["rss_mb"]) + " |", "",
                  f"Largest internal buffers: {m['max_buffer_sizes']} (input samples, 125-Hz samples, R peaks)."]
    given = r.get("given_checkpoints")
    lines += ["", "## Notes", "", *(NOTES[:-1] if given else NOTES)]
    if given:
        lines.append("- *Models* were trained elsewhere and given with `--checkpoint` (sections other than (a) "
                     "need the benchmark's own models).")
    if r.get("adapt"):
        lines.append(f"- *Causal class-mix adaptation* (`--adapt {r['adapt']}`, `AnalyzeConfig.adapt`): each "
                     "beat's probabilities re-weighted to the class mix of the patient's earlier beats "
                     "(`ecgbeat.predict.CausalAdapter`), before any AF gate.")
    if r.get("smooth") is not None:
        lines.append(f"- *Beat-to-beat smoothing* (`--smooth {r['smooth']}`, `AnalyzeConfig.smooth`): after the AF "
                     "gate, each beat's probabilities filtered forward through the class-to-class transitions of the "
                     "model's training beats (`ecgbeat.smoothing.BeatSmoother`), the gate applied again.")
    if r.get("self_train"):
        lines.append(f"- *Causal per-patient self-training* (`--self-train {r['self_train']}`, "
                     "`AnalyzeConfig.self_train`): after adaptation and the AF gate, each beat's probabilities "
                     "averaged with those of a classifier fitted on the patient's earlier confident beats "
                     "(`ecgbeat.self_training.SelfTrainer`), the gate applied again.")
    if r.get("af_gate"):
        lines.append("- *AF gate on* (`--af-gate`, `AnalyzeConfig.af_gate`): the S probability of beats in an "
                     "atrial-fibrillation-like rhythm (`ecgbeat.dsp.rhythm`, from the detected or reference R "
                     "peaks, leaving out the RR intervals next to beats called V) is moved to N before the labels "
                     "are taken.")
    return "\n".join(lines) + "\n"


NOTES = [
    "- *Scaling.* `fixed` cuts beats like the Kaggle beats (consecutive 10-s windows, `segment_beats`); "
    "a stream must then wait for the end of a beat's window, hence its ~7 s median latency. `causal` "
    "scales each beat with the 10 s that end where the beat ends and takes the beat length from the past "
    "10 s of RR intervals, so a stream decides about one beat length after the R peak. Training beats can "
    "be cut either way (`ecgbeat train --scaling`); `analyze_record` and `StreamClassifier` cut as the "
    "checkpoint was trained unless `AnalyzeConfig.scaling` overrides it (the `lstm` and `lstm+rr` rows "
    "with `causal` are such overrides; `lstm-causal` is trained on causal beats and cut as trained). "
    "Both cuts are deterministic functions of the samples and R peaks, so stream and analyze agree when "
    "they use the same scaling.",
    "- *Timing.* Sections are re-run separately (`--only`); a busy machine (see the load average at the "
    "top) slows them, and repeated runs varied by up to ~30 %. All runs use one torch thread. End-to-end "
    "time is dominated by R-peak detection (`ecgbeat.dsp`), classification and the PNG (matplotlib, "
    "~0.3-0.5 s). The fresh CLI process adds Python, torch, scipy, wfdb and matplotlib imports and the "
    "model load.",
    "- *Stream throughput* falls with the chunk size: each push runs the detector and, when a beat is "
    "ready, one model call for the beats decided by that push. Latency is measured in stream time and "
    "includes waiting for the chunk to fill; the first beats wait for the detector's 2-s learning phase "
    "(the maxima), the last beats of a record for its end (left out).",
    "- *Models* are deliberately small and briefly trained (8 epochs, one CPU thread); the accuracy table "
    "measures the raw-ECG path against the same models on reference-peak beats, not the best achievable "
    "inter-patient accuracy. RR features need the next R peak, so `lstm+rr` decides ~0.5 s later.",
]


if __name__ == "__main__":
    sys.exit(main())
