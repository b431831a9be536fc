"""Accuracy benchmark: every registered model, both MIT-BIH splits, several seeds.

For each split (``intra``: stratified 80 / 20 of all beats, the Kaggle protocol; ``inter``:
de Chazal DS1 -> DS2), each seed and each model, the model is trained with the library
(:func:`ecgbeat.pipeline.load_split` + :func:`ecgbeat.pipeline.train_model`, best epoch by
validation macro-F1, the test set never used for selection), its checkpoint is reloaded and
evaluated on the split's test set. Reported per model and split, as mean ± std over the seeds:
accuracy, macro-F1, per-class sensitivity and precision, the EC57 sensitivity / positive
predictivity of S and V (inter-patient; Q beats left out as usual), training time and seconds
per epoch, parameter count and PyTorch CPU inference throughput (batches of 1,024).

Usage::

    python benchmarks/accuracy.py                                # all models, both splits, seeds 0,1,2
    python benchmarks/accuracy.py --models lstm,cnn_lstm --splits inter --seeds 0 --epochs 5
    python benchmarks/accuracy.py --quick                        # 4 records, 1 epoch, 1 seed, intra

Results go to ``benchmarks/results/accuracy.md`` and ``accuracy.json`` (``accuracy_quick.*``
with ``--quick``; ``--out DIR`` puts them elsewhere), written atomically; while it runs,
``<name>.partial.json`` holds the runs finished so far.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
try:  # installed package, else the source tree
    import ecgbeat  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    sys.path.insert(0, str(REPO / "src"))

from bench_common import cpu_name, default_mitdb, git_info  # noqa: E402  (beside this script)

RESULTS = REPO / "benchmarks" / "results"
PUBLISHED = REPO / "benchmarks" / "published.json"
QUICK_RECORDS = ("100", "208", "209", "232")  # N; V + F; S: every class but Q, DS1 and DS2
QUICK_MAX_TRAIN = 2000
EC57_CLASSES = ("S", "V")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", help="comma-separated registered models (default: all)")
    p.add_argument("--splits", help="comma-separated: intra,inter (default: both; --quick: intra)")
    p.add_argument("--seeds", help="comma-separated seeds (default: 0,1,2; --quick: 0)")
    p.add_argument("--epochs", type=int, help="training epochs (default: 10; --quick: 1)")
    p.add_argument("--mitdb", type=Path, default=None,
                   help="MIT-BIH folder (default: $ECGBEAT_MITDB, else ../shared/data/mitdb)")
    p.add_argument("--records", help="comma-separated MIT-BIH records (default: all 48; --quick: 4)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: records {','.join(QUICK_RECORDS)}, 1 epoch, seed 0, intra, "
                        f"at most {QUICK_MAX_TRAIN} training beats, batch 32")
    p.add_argument("--max-train-beats", type=int, default=None,
                   help="class-stratified subsample of the training part (default: all)")
    p.add_argument("--batch-size", type=int, default=None, help="default: 128; --quick: 32")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: each model's own)")
    p.add_argument("--class-weight", default="none", choices=("none", "sqrt", "balanced"))
    p.add_argument("--features", default=None, choices=("rr", "rr+context"),
                   help="per-beat features the models also take (ecgbeat.features.FEATURE_SETS)")
    p.add_argument("--rr-features", action="store_const", const="rr", dest="features",
                   help="short for --features rr")
    p.add_argument("--val-by", choices=("beat", "record"), default=None,
                   help="validation beats: whole held-out training records (inter default) or a "
                        "stratified share of the training beats (intra default)")
    p.add_argument("--val-records", default=None, metavar="R1,R2,...",
                   help="inter split only: hold out these DS1 records for validation instead of the fold the "
                        "seed draws (e.g. the fold with 208 that the drawn folds skip)")
    p.add_argument("--template", action="store_true",
                   help="models also take each beat's template (median of its patient's previous beats) "
                        "as a second channel")
    p.add_argument("--augment", action="store_true", help="training augmentation (ecgbeat.training)")
    p.add_argument("--loss", default="cross_entropy", choices=("cross_entropy", "focal"))
    p.add_argument("--sampler", default="shuffle", choices=("shuffle", "sqrt", "balanced"))
    p.add_argument("--scaling", default="fixed", choices=("fixed", "causal"),
                   help="beat window scaling (ecgbeat.dsp.beats; default: the Kaggle windows)")
    p.add_argument("--stem", default=None,
                   help="output file name stem (default: accuracy; --quick: accuracy_quick)")
    p.add_argument("--render", type=Path, default=None,
                   help="only re-write the Markdown of an existing results JSON (no training)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--device", default="auto", help="training device (inference is timed on the CPU)")
    p.add_argument("--out", type=Path, default=None, help=f"output folder (default: {RESULTS})")
    p.add_argument("--keep-runs", type=Path, default=None,
                   help="keep each run's checkpoint and history under this folder")
    args = p.parse_args(argv)

    from ecgbeat.labels import MITDB_RECORDS
    from ecgbeat.models import list_models

    args.models = _csv(args.models) or list_models()
    unknown = sorted(set(args.models) - set(list_models()))
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(list_models())}")
    args.splits = _csv(args.splits) or (["intra"] if args.quick else ["intra", "inter"])
    bad = sorted(set(args.splits) - {"intra", "inter"})
    if bad:
        p.error(f"unknown split(s) {', '.join(bad)}; choose from intra, inter")
    if args.val_records and args.splits != ["inter"]:
        p.error("--val-records names DS1 records: it needs --splits inter")
    try:
        args.seeds = [int(s) for s in _csv(args.seeds)] or ([0] if args.quick else [0, 1, 2])
    except ValueError:
        p.error("--seeds must be comma-separated integers")
    for name, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size), ("--threads", args.threads)):
        if value is not None and value < (0 if name == "--threads" else 1):  # 0 is no default here, but an error
            p.error(f"{name} must be {'>= 0' if name == '--threads' else '>= 1'}, got {value}")
    args.epochs = (1 if args.quick else 10) if args.epochs is None else args.epochs
    args.batch_size = (32 if args.quick else 128) if args.batch_size is None else args.batch_size
    args.records = tuple(_csv(args.records)) or (QUICK_RECORDS if args.quick else tuple(MITDB_RECORDS))
    if args.max_train_beats is None and args.quick:
        args.max_train_beats = QUICK_MAX_TRAIN
    args.mitdb = args.mitdb or default_mitdb()
    args.out = args.out or RESULTS
    args.stem = args.stem or ("accuracy_quick" if args.quick else "accuracy")
    return args


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


# -- one run -----------------------------------------------------------------------------------------


def subsample_train(split, max_beats: int | None, seed: int):
    """The split with its training part cut to ``max_beats`` (stratified when possible)."""
    from dataclasses import replace

    from sklearn.model_selection import train_test_split

    if not max_beats or len(split.train) <= max_beats:
        return split
    y = split.train.y
    index = np.arange(len(y))
    counts = np.bincount(y)
    stratify = None if (counts[counts > 0] < 2).any() else y
    keep, _ = train_test_split(index, train_size=max_beats, random_state=seed, stratify=stratify)
    info = {**split.info, "n_train": int(max_beats), "train_subsample": int(max_beats)}
    return replace(split, train=split.train.subset(np.sort(keep)), info=info)


def inference_throughput(model, X: np.ndarray, feats: np.ndarray | None = None,
                         batch: int | None = None) -> float:
    """Beats per second of ``model`` on the CPU in eval mode, batches of ``batch`` beats (default:
    the library's :data:`ecgbeat.training.INFERENCE_BATCH`)."""
    import torch

    from ecgbeat.training import INFERENCE_BATCH

    batch = batch or INFERENCE_BATCH
    model.eval()
    reps = -(-batch // len(X))  # small test sets: repeat beats to fill one batch
    x = torch.from_numpy(np.ascontiguousarray(np.concatenate([X] * reps)[:batch]))
    f = None if feats is None else torch.from_numpy(np.ascontiguousarray(np.concatenate([feats] * reps)[:batch]))
    args = (x,) if f is None else (x, f)
    with torch.no_grad():
        model(*(a[:64] for a in args))  # warm-up (allocations, kernel choice)
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            model(*args)
            times.append(time.perf_counter() - t0)
    return batch / min(times)


def _template_beats() -> int:
    from ecgbeat.dsp.beats import BeatParams

    return BeatParams().template_beats


def _features_label(meta: dict) -> str | None:
    """How the per-beat features of a run are described (older results say ``rr_features``)."""
    name = meta.get("features") or ("rr" if meta.get("rr_features") else None)
    return {"rr": "RR-interval features", "rr+context": "RR-interval and patient-context features"}.get(
        name, name)


def run_one(split, model_name: str, config, work_dir: Path, features: str | None = None,
            template: bool = False) -> dict:
    """Train, reload the checkpoint, evaluate on the test set."""
    import json

    from ecgbeat.checkpoint import load_checkpoint
    from ecgbeat.features import inputs_for
    from ecgbeat.pipeline import train_model
    from ecgbeat.predict import evaluate_beats

    t0 = time.perf_counter()
    ckpt, meta = train_model(split, work_dir, model_name=model_name, config=config, progress=False,
                             features=features, template=template)
    wall = time.perf_counter() - t0
    history = json.loads((work_dir / "history.json").read_text())
    model, meta = load_checkpoint(ckpt)  # the saved model, as a user would load it
    metrics, _ = evaluate_beats(model, meta, split.test)
    throughput = inference_throughput(model, *inputs_for(model, split.test))
    epochs_run = len(history)
    return {
        "model": model_name, "split": split.name, "seed": split.seed,
        "model_args": meta.get("model_args") or getattr(model, "init_args", {}),
        "n_parameters": meta["n_parameters"],
        "peak_lr": history[-1].get("peak_lr", config.lr) if history else config.lr,
        "epochs_run": epochs_run, "best_epoch": meta["best_epoch"],
        "val_macro_f1": meta["val_macro_f1"],
        "train_seconds": float(meta["train_seconds"]),
        "seconds_per_epoch": float(meta["train_seconds"]) / max(epochs_run, 1),
        "wall_seconds": round(wall, 2),
        "inference_beats_per_s": throughput,
        "n_train": len(split.train), "n_val": len(split.val), "n_test": len(split.test),
        "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
        "majority_baseline_accuracy": metrics["majority_baseline_accuracy"],
        "per_class": metrics["per_class"], "confusion_matrix": metrics["confusion_matrix"],
        "ec57": metrics["ec57"],
    }


# -- aggregation and reports ---------------------------------------------------------------------------


def _stats(values) -> dict:
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(np.mean(vals)), "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
            "n": len(vals)}


def summarise(runs: list[dict], models: list[str], splits: list[str]) -> list[dict]:
    rows = []
    for split in splits:
        for model in models:
            rs = [r for r in runs if r["model"] == model and r["split"] == split]
            if not rs:
                continue
            classes = list(rs[0]["per_class"])
            row = {
                "model": model, "split": split, "seeds": [r["seed"] for r in rs],
                "n_parameters": rs[0]["n_parameters"], "peak_lr": rs[0]["peak_lr"],
                "epochs": rs[0]["epochs_run"], "n_train": rs[0]["n_train"], "n_test": rs[0]["n_test"],
                "majority_baseline_accuracy": rs[0]["majority_baseline_accuracy"],
            }
            for key in ("accuracy", "macro_f1", "val_macro_f1", "train_seconds", "seconds_per_epoch",
                        "inference_beats_per_s", "best_epoch"):
                row[key] = _stats(r[key] for r in rs)
            row["per_class"] = {c: {m: _stats(r["per_class"][c][m] for r in rs)
                                    for m in ("sensitivity", "precision", "f1")} | {
                                    "support": rs[0]["per_class"][c]["support"]} for c in classes}
            row["ec57"] = {c: {m: _stats(r["ec57"][c][m] for r in rs if c in r["ec57"])
                               for m in ("sensitivity", "ppv")} for c in ("N", "S", "V", "F")
                           if c in rs[0]["ec57"]}
            rows.append(row)
    return rows


def _pm(stat: dict, scale: float = 100.0, digits: int = 1) -> str:
    if not stat or stat.get("mean") is None:
        return "–"
    text = f"{stat['mean'] * scale:.{digits}f}"
    if stat.get("n", 0) > 1:
        text += f" ± {stat['std'] * scale:.{digits}f}"
    return text


def _count(stat: dict) -> str:
    if not stat or stat.get("mean") is None:
        return "–"
    return f"{stat['mean']:,.0f}"


def render_markdown(doc: dict) -> str:
    meta = doc["meta"]
    lines = [
        f"# Accuracy benchmark{' (quick smoke run)' if meta['quick'] else ''}",
        "",
        f"Generated {meta['date']} by `{meta['command']}`.",
        "",
        f"- commit `{meta['git_commit'] or 'unknown'}`{' (uncommitted changes)' if meta.get('git_dirty') else ''}; "
        f"python {meta['python']}, torch {meta['torch']}",
        f"- machine: {meta['machine']}; {meta['cpu']}; torch threads {meta['threads']}; "
        f"training device {meta['device']}",
        f"- records: {len(meta['records'])} MIT-BIH records"
        + (f" ({', '.join(meta['records'])})" if len(meta["records"]) <= 8 else "")
        + (f"; training part subsampled to {meta['max_train_beats']} beats" if meta["max_train_beats"] else ""),
        f"- training: {meta['epochs']} epoch{'s' if meta['epochs'] != 1 else ''}, "
        f"batch {meta['batch_size']}, Adam, one-cycle schedule, peak lr {meta['lr'] or 'model default'}, "
        f"class weights {meta['class_weight']}"
        + (f"; {_features_label(meta)}" if _features_label(meta) else "")
        + (f"; template channel (median of the patient's previous {_template_beats()} beats)"
           if meta.get("template") else "")
        + ("; augmentation" if meta.get("augment") else "")
        + (f"; {meta['loss']} loss" if meta.get("loss", "cross_entropy") != "cross_entropy" else "")
        + (f"; {meta['sampler']} sampler" if meta.get("sampler", "shuffle") != "shuffle" else "")
        + f"; beat scaling {meta.get('scaling', 'fixed')}; best epoch by validation macro-F1 (validation: "
        + (f"records {meta['val_records']}" if meta.get("val_records") else
           "about 20 % of the DS1 beats for inter, stratified" if meta.get("val_by") == "beat" else
           "10 % of the training beats for intra, about 20 % of the DS1 records for inter") + ")",
        f"- seeds: {', '.join(str(s) for s in meta['seeds'])}; values are mean ± sample std over seeds, in %",
        f"- inference: PyTorch, CPU, eval mode, batch {meta.get('inference_batch', 4096)}, "
        f"{meta['threads']} thread(s)",
        f"- total time {meta['total_seconds'] / 60:.1f} min",
        "",
    ]
    for split in meta["splits"]:
        rows = [r for r in doc["summary"] if r["split"] == split]
        if not rows:
            continue
        title = {"intra": "Intra-patient split (stratified random 80 / 20 of all beats)",
                 "inter": "Inter-patient split (de Chazal et al. 2004: train DS1, test DS2)"}[split]
        lines += [f"## {title}", "",
                  f"Test beats: {rows[0]['n_test']:,}; majority-class accuracy "
                  f"{100 * rows[0]['majority_baseline_accuracy']:.1f} %.", ""]
        head = ["Model", "Params", "Accuracy", "Macro-F1"]
        if split == "inter":
            head += [f"{c} {m}" for c in EC57_CLASSES for m in ("Se", "+P")]
        head += ["Train s/epoch", "Train s", "Infer beats/s", "Peak lr"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in rows:
            cells = [f"`{r['model']}`", f"{r['n_parameters']:,}", _pm(r["accuracy"], digits=2), _pm(r["macro_f1"])]
            if split == "inter":
                for c in EC57_CLASSES:
                    cells += [_pm(r["ec57"].get(c, {}).get("sensitivity")), _pm(r["ec57"].get(c, {}).get("ppv"))]
            cells += [_pm(r["seconds_per_epoch"], 1.0, 1), _count(r["train_seconds"]),
                      _count(r["inference_beats_per_s"]), f"{r['peak_lr']:g}" if r["peak_lr"] else "–"]
            lines.append("| " + " | ".join(cells) + " |")
        classes = list(rows[0]["per_class"])
        lines += ["", "Per-class sensitivity / precision (%):", "",
                  "| Model | " + " | ".join(f"{c} Se | {c} +P" for c in classes) + " |",
                  "|---|" + "---|---|" * len(classes)]
        for r in rows:
            cells = [f"`{r['model']}`"]
            for c in classes:
                pc = r["per_class"][c]
                absent = pc["support"] == 0  # no such beats in the test set: no sensitivity
                cells += ["–" if absent else _pm(pc["sensitivity"]), _pm(pc["precision"])]
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", "Test support: " + ", ".join(f"{c} {rows[0]['per_class'][c]['support']:,}" for c in classes)
                  + ".", ""]
        if split == "inter":
            lines += ["EC57 columns: sensitivity (Se) and positive predictivity (+P) with Q beats left out "
                      "(`ecgbeat.metrics.ec57_metrics`).", ""]
        lines += published_table(split)
    return "\n".join(lines)


def published_table(split: str) -> list[str]:
    """Published results for ``split`` from ``benchmarks/published.json`` as Markdown lines."""
    import json

    if not PUBLISHED.is_file():
        return []
    rows = json.loads(PUBLISHED.read_text()).get(split) or []
    if not rows:
        return []
    num = lambda v: "–" if v is None else f"{v:g}"  # noqa: E731
    if split == "inter":
        head, keys = ["Acc", "S Se", "S +P", "V Se", "V +P"], ["accuracy", "S_se", "S_ppv", "V_se", "V_ppv"]
    else:
        head, keys = ["Acc"], ["accuracy"]
    lines = ["Published results for comparison (their own numbers, %; not re-run here; sources in "
             "`benchmarks/published.json`; their test sets and class sets differ in places, see the notes):", "",
             "| Reference | Method | " + " | ".join(head) + " | Note |", "|---|---|" + "---|" * len(head) + "---|"]
    for r in rows:
        lines.append(f"| {r['reference']} | {r['method']} | " + " | ".join(num(r.get(k)) for k in keys)
                     + f" | {r.get('note', '')} |")
    return lines + [""]


def _clean(obj):
    """NaN -> None so the JSON is strict."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (float, np.floating)) and math.isnan(float(obj)):
        return None
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def main(argv: list[str] | None = None) -> int:
    commit, dirty = git_info()  # before the run: the commit of the code that runs
    args = parse_args(argv)
    import json

    import torch

    from ecgbeat.errors import EcgbeatError
    from ecgbeat.io.atomic import write_json_atomic, write_text_atomic
    from ecgbeat.pipeline import DataSpec, load_split
    from ecgbeat.training import INFERENCE_BATCH, TrainConfig

    if args.render:  # re-write the Markdown of finished results (e.g. after a change of layout)
        try:
            doc = json.loads(args.render.read_text())
        except (OSError, ValueError) as e:
            print(f"accuracy.py: error: --render {args.render}: {getattr(e, 'strerror', None) or e}", file=sys.stderr)
            return 2
        print(write_text_atomic(args.render.with_suffix(".md"), render_markdown(doc)))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python benchmarks/accuracy.py", *(argv if argv is not None else sys.argv[1:])]),
        "quick": args.quick, "models": args.models, "splits": args.splits, "seeds": args.seeds,
        "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
        "class_weight": args.class_weight, "features": args.features, "template": args.template,
        "augment": args.augment, "val_by": args.val_by, "val_records": args.val_records,
        "inference_batch": INFERENCE_BATCH,
        "loss": args.loss, "sampler": args.sampler,
        "scaling": args.scaling, "records": list(args.records),
        "max_train_beats": args.max_train_beats, "mitdb": str(args.mitdb),
        "git_commit": commit, "git_dirty": dirty, "python": platform.python_version(),
        "torch": torch.__version__, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "cpu": cpu_name(), "threads": torch.get_num_threads(),
        "device": "cuda" if args.device == "auto" and torch.cuda.is_available() else
                  ("cpu" if args.device == "auto" else args.device),
    }
    out_json = args.out / f"{args.stem}.json"
    out_md = args.out / f"{args.stem}.md"
    partial = args.out / f"{args.stem}.partial.json"
    runs: list[dict] = []
    total = len(args.splits) * len(args.seeds) * len(args.models)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ecgbeat-bench-") as tmp:
        base = args.keep_runs or Path(tmp)
        for split_name in args.splits:
            for seed in args.seeds:
                spec = DataSpec(mitdb=str(args.mitdb), records=tuple(args.records), split=split_name, seed=seed,
                                scaling=args.scaling, val_by=args.val_by,
                                val_records=tuple(args.val_records.split(",")) if args.val_records else None)
                try:
                    split = subsample_train(load_split(spec), args.max_train_beats, seed)
                except EcgbeatError as e:  # bad records, --val-records, data: one line, no traceback
                    print(f"accuracy.py: error: {e}", file=sys.stderr)
                    return 2
                for model_name in args.models:
                    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                         class_weight=args.class_weight, augment=args.augment, seed=seed,
                                         loss=args.loss, sampler=args.sampler,
                                         device=args.device, max_threads=args.threads)
                    work = base / f"{split_name}-seed{seed}-{model_name}"
                    run = run_one(split, model_name, config, work, features=args.features, template=args.template)
                    run["val_by"], run["val_records"] = split.info.get("val_by"), split.info.get("val_records")
                    runs.append(run)
                    print(f"[{len(runs)}/{total}] {split_name:5s} seed {seed} {model_name:18s} "
                          f"acc {run['accuracy']:.4f}  macro-F1 {run['macro_f1']:.4f}  "
                          f"{run['seconds_per_epoch']:.1f} s/epoch", flush=True)
                    write_json_atomic(partial, _clean({"meta": meta, "runs": runs}))
    meta["total_seconds"] = round(time.perf_counter() - t_start, 1)
    doc = _clean({"meta": meta, "summary": summarise(runs, args.models, args.splits), "runs": runs})
    write_json_atomic(out_json, doc)
    write_text_atomic(out_md, render_markdown(doc))
    partial.unlink(missing_ok=True)
    print(f"wrote {out_md} and {out_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
