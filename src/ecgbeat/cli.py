"""``ecgbeat`` command line: each subcommand parses arguments and calls one library function."""

from __future__ import annotations

import argparse
import json
import sys

from .errors import EcgbeatError
from .io.atomic import json_text

EPILOG = "MIT-BIH location: --mitdb PATH, else $ECGBEAT_MITDB, else ~/.cache/ecgbeat/mitdb (downloaded)."


def _data_args(p: argparse.ArgumentParser, csv: bool = True) -> None:
    p.add_argument("--mitdb", help="folder with the MIT-BIH records (default: $ECGBEAT_MITDB)")
    p.add_argument("--split", choices=("intra", "inter"), default="intra",
                   help="intra: stratified 80/20 of all beats (Kaggle protocol); "
                        "inter: DS1 -> DS2 records (de Chazal 2004)")
    p.add_argument("--seed", type=int, default=0, help="fixes split, initialisation and order")
    p.add_argument("--records", help="comma-separated MIT-BIH record names (default: all 48)")
    p.add_argument("--scaling", choices=("fixed", "causal"), default=None,
                   help="how beats are scaled: fixed = the Kaggle 10-s windows (default), causal = "
                        "past-only windows, what a low-latency `ecgbeat stream` cuts")
    if csv:
        p.add_argument("--train-csv", help="Kaggle-format training CSV instead of MIT-BIH")
        p.add_argument("--test-csv", help="Kaggle-format test CSV instead of MIT-BIH")


def _records(text: str, option: str = "--records") -> tuple[str, ...]:
    """``--records R1,R2,...``: names in order, none empty, none twice (a record given twice would put
    the same beats in the training and the test set). The same rules for ``--val-records``."""
    records = tuple(r.strip() for r in text.split(","))
    if not any(records):
        raise EcgbeatError(f"{option} is empty: give comma-separated record names"
                           + (", or leave it out for all 48" if option == "--records" else ""))
    if "" in records:
        raise EcgbeatError(f"{option} {text!r}: empty record name")
    twice = sorted({r for r in records if records.count(r) > 1})
    if twice:
        raise EcgbeatError(f"{option}: record {twice[0]} given twice")
    return records


def _spec(args):
    from .labels import MITDB_RECORDS
    from .pipeline import DataSpec

    records = _records(args.records) if args.records is not None else MITDB_RECORDS
    return DataSpec(mitdb=args.mitdb, records=records, split=args.split, seed=args.seed,
                    scaling=getattr(args, "scaling", None) or "fixed", val_by=getattr(args, "val_by", None),
                    val_records=_records(args.val_records, "--val-records")
                    if getattr(args, "val_records", None) is not None else None,
                    train_csv=getattr(args, "train_csv", None), test_csv=getattr(args, "test_csv", None))


def _train_args(p: argparse.ArgumentParser) -> None:
    from .training import TrainConfig

    d = TrainConfig()
    p.add_argument("--model", default="lstm", help="registered model name (see `ecgbeat models`)")
    p.add_argument("--model-args", default="{}", help='JSON of model hyper-parameters, e.g. \'{"hidden_size": 128}\'')
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the model's)")
    p.add_argument("--class-weight", choices=("none", "sqrt", "balanced"), default=d.class_weight,
                   help="loss weights: 1/sqrt(class frequency) or 1/frequency")
    p.add_argument("--loss", choices=("cross_entropy", "focal"), default=d.loss,
                   help="focal: down-weights beats already classified well (gamma --focal-gamma)")
    p.add_argument("--focal-gamma", type=float, default=d.focal_gamma)
    p.add_argument("--sampler", choices=("shuffle", "sqrt", "balanced"), default=d.sampler,
                   help="draw training beats with probability 1/sqrt(class frequency) or 1/frequency")
    p.add_argument("--schedule", choices=("onecycle", "cosine", "constant"), default=d.schedule)
    p.add_argument("--augment", action="store_true", help="amplitude, baseline wander, noise, shifts")
    p.add_argument("--patience", type=int, default=d.patience, help="early stopping epochs (0: off)")
    p.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda, cuda:1 ...")
    p.add_argument("--features", choices=("rr", "rr+context"), default=None,
                   help="per-beat features as extra model inputs: rr = previous/next/local RR intervals, "
                        "rr+context = those over the patient's long-term RR and the beat against its "
                        "template (inter-patient)")
    p.add_argument("--rr-features", action="store_const", const="rr", dest="features",
                   help="short for --features rr")
    p.add_argument("--val-by", choices=("record", "beat"), default=None,
                   help="validation set: held-out training records (inter default: measures unseen "
                        "patients) or a stratified share of the training beats (intra default)")
    p.add_argument("--val-records", default=None, metavar="R1,R2,...",
                   help="inter split: hold out these DS1 records for validation instead of the fold --seed "
                        "draws")
    p.add_argument("--template", action="store_true",
                   help="give the model each beat's template (median of the patient's previous beats) "
                        "as a second channel (inter-patient)")


AF_GATE_HELP = ("move the S probability of beats in an atrial-fibrillation-like stretch of rhythm (irregular RR, "
                "Dash et al. 2009, leaving out the intervals next to beats called V; ecgbeat.dsp.rhythm) to N: "
                "no beat is supraventricular ectopic during AF")
SELF_TRAIN_HELP = ("per-patient self-training after --adapt and --af-gate: a classifier fitted every 256 beats on the "
                   "patient's earlier beats the model is at least CONFIDENCE sure of, labelled by the model, "
                   "averaged with the model (L2 strength 1/C; e.g. 0.8:1; ecgbeat.self_training)")
SMOOTH_HELP = ("beat-to-beat smoothing after --adapt and --af-gate, before --self-train: each patient's beats filtered "
               "forward through the class-to-class transitions of the model's training beats, STRENGTH in [0, 1] "
               "(e.g. 1; needs the checkpoint's train_transitions; ecgbeat.smoothing)")
EVALUATE_SELF_TRAIN_HELP = SELF_TRAIN_HELP.replace("fitted every 256 beats on the patient's earlier beats",
                                                   "fitted on each whole record (with --causal: every 256 beats on "
                                                   "the patient's earlier beats, as analyze and stream do) on the "
                                                   "beats")


def _raw_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", "--model", dest="checkpoint", required=True, help="model.json of a trained model")
    p.add_argument("--lead", help="lead / column name (default: MLII, else the first)")
    p.add_argument("--fs", type=float, help="sampling rate, Hz (needed for CSV without time column)")
    p.add_argument("--units", choices=("mV", "uV", "V"), help="signal unit (default: from the file)")
    p.add_argument("--scaling", choices=("fixed", "causal"), default=None,
                   help="override the checkpoint's beat window scaling (default: as trained): fixed = "
                        "10-s windows from the record start, causal = past-only windows, ~1 s stream "
                        "latency; use the same for analyze and stream")
    p.add_argument("--af-gate", action="store_true", help=AF_GATE_HELP)
    p.add_argument("--adapt", metavar="ITERS:STRENGTH:HELD",
                   help="re-weight each beat's probabilities to the patient's class mix, estimated by EM from "
                        "the patient's earlier beats (e.g. 5:300:FQ; needs the checkpoint's train_prior)")
    p.add_argument("--smooth", metavar="STRENGTH", help=SMOOTH_HELP)
    p.add_argument("--self-train", metavar="CONFIDENCE:C", help=SELF_TRAIN_HELP)


def _config(args):
    from .training import TrainConfig

    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                       class_weight=args.class_weight, loss=args.loss, focal_gamma=args.focal_gamma,
                       sampler=args.sampler, schedule=args.schedule, augment=args.augment,
                       patience=args.patience, seed=args.seed, device=args.device)


def _model_args(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EcgbeatError(f"--model-args is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise EcgbeatError("--model-args must be a JSON object")
    return value


def cmd_prepare(args) -> None:
    from .pipeline import prepare

    result = prepare(_spec(args), args.out, write_csv=not args.no_csv)
    print(json.dumps(result["paths"], indent=2))
    print("beats per class:", json.dumps(result["info"]["counts"]))


def cmd_train(args) -> None:
    from pathlib import Path

    from .models import list_models
    from .pipeline import load_split, train_model

    if args.model not in list_models():  # before minutes of data loading
        raise EcgbeatError(f"unknown model {args.model!r}; choose from {', '.join(list_models())}")
    from .pipeline import check_model_args
    from .training import resolve_device

    check_model_args(args.model, _model_args(args.model_args))
    resolve_device(_config(args).device)  # _config checks every number option too

    seeds = _seeds(args.ensemble_seeds) if args.ensemble_seeds else [args.seed]
    if len(seeds) > 1 and args.split == "intra" and not args.train_csv:
        raise EcgbeatError("--ensemble-seeds needs --split inter (or CSV files): each intra-patient seed "
                           "draws other test beats, which the other members would train on")
    if not args.resume:
        _not_replacing([Path(args.out)] + ([Path(args.out) / f"seed{s}" for s in seeds] if len(seeds) > 1 else []),
                       args.overwrite, "--resume to continue it, ")
    members = []
    for seed in seeds:
        args.seed = seed
        out = args.out if len(seeds) == 1 else Path(args.out) / f"seed{seed}"
        split = load_split(_spec(args), progress=True)
        if seed == seeds[0]:  # the same test CSV for every seed: one warning
            _warn_missing_test_classes(split)
        path, meta = train_model(split, out, model_name=args.model, model_args=_model_args(args.model_args),
                                 config=_config(args), resume=args.resume, features=args.features,
                                 template=args.template)
        print(f"checkpoint: {path}  (seed {seed}, best epoch {meta['best_epoch']}, validation macro-F1 "
              f"{meta['val_macro_f1']:.4f}, {meta['train_seconds']:.0f} s)")
        members.append(path)
    if len(members) > 1:
        from .checkpoint import save_ensemble

        path, _ = save_ensemble(members, Path(args.out) / "model.json")
        print(f"ensemble of the {len(members)} seeds (mean of their class probabilities): {path}")


def _warn_missing_test_classes(split) -> None:
    """A test CSV without classes the training CSV has: legal (a subset), but also what another label
    scheme looks like (the Kaggle PTB files are labelled 0/1 = normal/abnormal), so say so."""
    import numpy as np

    test_csv = split.info.get("test_csv")
    if not test_csv:
        return
    names = split.train.classes
    trained, tested = set(np.unique(split.train.y).tolist()), set(np.unique(split.test.y).tolist())
    if trained - tested:
        print(f"warning: {test_csv}: has test beats of {', '.join(names[k] for k in sorted(tested))} only, "
              f"not {', '.join(names[k] for k in sorted(trained - tested))}; their test metrics are undefined "
              "(is it labelled with the same classes, 0..4 = N, S, V, F, Q?)", file=sys.stderr)


def _not_replacing(folders, overwrite: bool, or_else: str = "") -> None:
    """Refuse to train into a folder that holds a trained model, unless ``--overwrite``."""
    from pathlib import Path

    for folder in folders:
        found = Path(folder) / "model.json"
        if found.exists() and not overwrite:
            raise EcgbeatError(f"{found}: a trained model is there already; pass --overwrite to replace it, "
                               f"{or_else}or choose another --out")


def cmd_refit(args) -> None:
    from pathlib import Path

    from .pipeline import refit_model

    _not_an_input(Path(args.out) / "model.json", checkpoints=[args.checkpoint])
    _not_replacing([args.out], args.overwrite)
    path, meta = refit_model(args.checkpoint, args.out, mitdb=args.mitdb, device=args.device)
    source = meta["refit_of"]
    print(f"checkpoint: {path}  (refit of {source['checkpoint']} on its training and validation beats "
          f"({meta['split_info']['n_train']}), stopped after its best epoch {source['best_epoch']}, "
          f"{meta['train_seconds']:.0f} s)")


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise EcgbeatError(f"--ensemble-seeds takes comma-separated integers, got {text!r}") from None
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise EcgbeatError(f"--ensemble-seeds needs at least 2 different seeds, got {text!r}")
    return seeds


def cmd_evaluate(args) -> None:
    from pathlib import Path

    from .checkpoint import read_checkpoint_meta
    from .pipeline import check_in_time_order, evaluate, load_split

    meta = read_checkpoint_meta(args.checkpoint)
    for name in ("metrics.json", "report.md", "predictions.csv"):  # what it writes into --out
        _not_an_input(Path(args.out) / name, files=[args.test_csv] if args.test_csv else [],
                      checkpoints=[args.checkpoint])
    if args.causal and not (args.adapt or args.self_train):
        raise EcgbeatError("--causal goes with --adapt ITERS:STRENGTH:HELD or --self-train CONFIDENCE:C")
    # bad settings, or a checkpoint without train_prior / train_transitions: refused before the data load
    from .predict import step_settings

    step_settings(meta, args.adapt, args.self_train, args.smooth)
    if args.test_csv:  # a Kaggle-format test file: evaluate on it as it is
        from .io.kaggle import load_kaggle_csv
        from .predict import evaluate_checkpoint

        beats = load_kaggle_csv(args.test_csv, classes=tuple(meta["classes"]))
        if (beats.y < 0).any():
            raise EcgbeatError(f"{args.test_csv}: has no label column; evaluation needs labelled beats "
                               "(`ecgbeat predict` classifies unlabelled ones)")
        metrics = evaluate_checkpoint(args.checkpoint, beats, args.out, adapt=args.adapt, af_gate=args.af_gate,
                                      causal=args.causal, self_train=args.self_train, smooth=args.smooth)
    else:
        _checkpoint_split(args, meta)
        check_in_time_order(args.split, args.af_gate, args.smooth)  # before minutes of data loading
        metrics = evaluate(args.checkpoint, load_split(_spec(args)), args.out, adapt=args.adapt, af_gate=args.af_gate,
                           causal=args.causal, self_train=args.self_train, smooth=args.smooth)
    _print_metrics(metrics)
    print(f"written: {args.out}/metrics.json, report.md, predictions.csv")


def _checkpoint_split(args, meta: dict) -> None:
    """Point ``args`` at the test set the checkpoint was tested on: its split, seed, records and beat
    scaling. What would put its own training beats in the test set is refused: another split, and
    on the intra split another seed or other records (the inter-patient test records, DS2, never
    train, so any records may be given there)."""
    where, trained = args.checkpoint, meta.get("split")
    if trained not in ("intra", "inter"):
        raise EcgbeatError(f"{where}: trained on {'Kaggle CSV' if trained == 'kaggle-csv' else repr(trained)} data, "
                           "not on a split of MIT-BIH records; give --test-csv")
    elsewhere = "; to score other beats use `ecgbeat predict` or --test-csv"
    if args.split not in (None, trained):
        raise EcgbeatError(f"{where}: trained on the {trained} split; --split {args.split} would test it on beats "
                           f"it may have trained on{elsewhere}")
    seed = _split_seed(meta)
    records = (meta.get("split_info") or {}).get("records")
    if trained == "intra":
        if args.seed is not None and args.seed != seed:
            raise EcgbeatError(f"{where}: trained on the intra split of seed {seed}; --seed {args.seed} draws "
                               f"another test set, which holds some of its training beats{elsewhere}")
        if args.records is not None and records and set(_records(args.records)) != set(records):
            raise EcgbeatError(f"{where}: trained on the intra split of {len(records)} records; other "
                               f"--records draw another test set, which holds some of its training beats{elsewhere}")
    if records and (trained == "intra" or args.records is None):  # intra: the run's order, which the split follows
        args.records = ",".join(records)
    elif trained == "inter" and args.records is not None:
        from .labels import DS1

        given = _records(args.records)
        own = [r for r in records or () if r in DS1 and r not in given]
        if own and not set(given) & set(DS1):  # DS2 records only (one patient): the split also needs its DS1
            args.records = ",".join([*own, *given])  # part, which trains, never tests: the checkpoint's own
    args.split, args.seed = trained, seed
    scaling = (meta.get("preprocessing") or {}).get("scaling")
    if args.scaling and scaling and args.scaling != scaling:
        raise EcgbeatError(f"{where}: trained on beats with {scaling} scaling, not {args.scaling}")
    args.scaling = args.scaling or scaling


def _not_an_input(out, files=(), checkpoints=()) -> None:
    """Refuse an output path that is one of the command's input ``files`` or ``checkpoints`` (their
    .json and .safetensors, a run folder's model.*), which writing would replace."""
    from pathlib import Path

    from .checkpoint import checkpoint_paths

    target = Path(out).resolve()
    taken = {Path(f).resolve(): f for f in files}
    for given in checkpoints:
        taken.update({p.resolve(): given for p in checkpoint_paths(given, check=False)})
    if target in taken:
        raise EcgbeatError(f"{out}: is an input of this command ({taken[target]}); write the output elsewhere")


def _split_seed(meta: dict) -> int:
    """The seed that rebuilds a checkpoint's split. An inter-patient ensemble of several seeds has
    none; its test set (DS2) does not depend on the seed, so 0 rebuilds it."""
    return meta["seed"] if meta.get("seed") is not None else 0


def _f3(x) -> str:
    """0.12345 -> '0.123'; a value with nothing to count (NaN, None: no beats, no calls) -> '–'."""
    return "–" if x is None or x != x else f"{x:.3f}"


def _print_metrics(m: dict) -> None:
    print(f"accuracy {m['accuracy']:.4f} (majority class {m['majority_baseline_accuracy']:.4f})  "
          f"macro-F1 {m['macro_f1']:.4f}  n={m['n']}")
    for c, v in m["per_class"].items():
        print(f"  {c}: sensitivity {_f3(v['sensitivity'])}  precision {_f3(v['precision'])}  "
              f"F1 {_f3(v['f1'])}  support {v['support']}")
    if "ec57" in m:
        e = m["ec57"]
        print("  EC57 (Q excluded): accuracy {:.4f}  ".format(e["accuracy"]) + "  ".join(
            f"{c} Se {_f3(e[c]['sensitivity'])} +P {_f3(e[c]['ppv'])}" for c in ("N", "S", "V", "F") if c in e))


def cmd_predict(args) -> None:
    from .predict import predict_csv

    _not_an_input(args.out, files=[args.csv], checkpoints=[args.checkpoint])
    summary = predict_csv(args.checkpoint, args.csv, args.out, min_confidence=args.min_confidence)
    print(json_text(summary, indent=2))


def cmd_plot(args) -> None:
    from pathlib import Path

    from .checkpoint import read_checkpoint_meta
    from .pipeline import load_split, make_plots

    meta = read_checkpoint_meta(Path(args.run) / "model.json")
    if meta.get("split", "intra") not in ("intra", "inter"):
        raise EcgbeatError(f"{args.run}: plots need a run trained on MIT-BIH (intra or inter split)")
    args.checkpoint, args.split, args.seed, args.scaling = Path(args.run) / "model.json", None, None, None
    _checkpoint_split(args, meta)
    for path in make_plots(args.run, load_split(_spec(args)), mitdb=args.mitdb):
        print(path)


def cmd_demo(args) -> None:
    from .labels import MITDB_RECORDS
    from .pipeline import run_demo
    from .training import TrainConfig

    records = _records(args.records) if args.records is not None else MITDB_RECORDS
    config = TrainConfig(epochs=args.epochs, seed=args.seed, device=args.device)
    s = run_demo(mitdb=args.mitdb, runs_dir=args.runs_dir, split=args.split, seed=args.seed,
                 model_name=args.model, config=config, records=records, scaling=args.scaling or "fixed")
    print(f"\nDone in {s['total_seconds']:.0f} s. Results in {s['run_dir']}/")
    print(f"  model        {s['checkpoint']}")
    print(f"  metrics      {s['metrics']}  (accuracy {s['accuracy']:.4f}, macro-F1 {s['macro_f1']:.4f}, "
          f"majority-class baseline {s['majority_baseline_accuracy']:.4f})")
    print(f"  report       {s['report']}")
    print(f"  data         {s['train_csv']}, {s['test_csv']}")
    for f in s["figures"]:
        print(f"  figure       {f}")


def cmd_export(args) -> None:
    from .checkpoint import load_checkpoint
    from .export import export_onnx

    _not_an_input(args.out, checkpoints=[args.checkpoint])
    model, _ = load_checkpoint(args.checkpoint)
    print(export_onnx(model, args.out))


def cmd_ensemble(args) -> None:
    from pathlib import Path

    from .checkpoint import save_ensemble

    out = Path(args.out)
    if out.suffix not in (".json", ".safetensors"):  # a folder, like every other --out of a run
        out = out / "model.json"
    path, meta = save_ensemble(args.checkpoints, out)
    members = ", ".join(f"{m['model']} seed {m['seed']}" for m in meta["members"])
    print(f"ensemble of {len(meta['members'])} models ({members}): {path}")


def cmd_models(args) -> None:
    from .models import list_models

    print("\n".join(list_models()))


def cmd_analyze(args) -> None:
    from pathlib import Path

    from .analyze import (
        AnalyzeConfig,
        analyze_record,
        beat_smoother,
        check_annotation_ext,
        check_output_names,
        class_mix_adapter,
        load_model,
        rhythm_tracker,
        self_trainer,
        write_outputs,
    )

    model = load_model(args.checkpoint)
    config = AnalyzeConfig(scaling=args.scaling, af_gate=args.af_gate, adapt=args.adapt, self_train=args.self_train,
                           smooth=args.smooth)
    # bad settings: refused before any record
    class_mix_adapter(model[1], config), rhythm_tracker(model[1], config), self_trainer(model[1], config)
    beat_smoother(model[1], config), check_annotation_ext(args.ann_ext, beside=args.ann_beside)
    check_output_names(args.records)
    for source in args.records:
        result = analyze_record(source, model, config, lead=args.lead, fs=args.fs, units=args.units)
        paths = write_outputs(result, args.out, plot=not args.no_plot, annotation_ext=args.ann_ext,
                              annotation_dir=Path(result.signal.path).parent if args.ann_beside else None)
        s = result.summary
        print(f"{s['record']}: {s['n_beats']} beats {json.dumps(s['beats_per_class'])}, heart rate "
              f"{json.dumps(s['heart_rate_bpm'])} bpm, ectopic % {json.dumps(s['ectopic_burden_percent'])}, "
              f"unreadable {s['unreadable_s']} s -> {', '.join(paths.values())}")
        irregular = s["irregular_rhythm"]
        if irregular["percent_of_beats"]:
            print(f"  irregularly irregular (atrial-fibrillation-like) RR: {irregular['percent_of_beats']} % of "
                  f"beats, {len(irregular['episodes'])} episode(s)")
        for warning in s["warnings"]:
            print(f"  warning: {warning}")


def cmd_stream(args) -> None:
    from .analyze import AnalyzeConfig
    from .stream import replay, stream_text

    config = AnalyzeConfig(scaling=args.scaling, af_gate=args.af_gate, adapt=args.adapt, self_train=args.self_train,
                           smooth=args.smooth)
    if args.source == "-":
        if args.fs is None:
            raise EcgbeatError("reading samples from standard input needs --fs HZ")
        events = stream_text(sys.stdin, args.checkpoint, args.fs, args.chunk_s, config, args.units or "mV")
    else:
        events = replay(args.source, args.checkpoint, args.speed, args.chunk_s, config, args.lead,
                        args.fs, args.units)
    try:
        for event in events:
            print(json_text(event), flush=True)
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecgbeat", description="ECG heartbeat classification "
                                     "(research software, not a medical device).", epilog=EPILOG)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="build beats from MIT-BIH, write Kaggle-format CSVs", epilog=EPILOG)
    _data_args(p, csv=False)
    p.add_argument("--out", default="data", help="output folder (default: data)")
    p.add_argument("--no-csv", action="store_true", help="only build the cache, no CSV files")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("train", help="train a model", epilog=EPILOG)
    _data_args(p)
    _train_args(p)
    p.add_argument("--out", default="runs/train",
                   help="folder for model.json/.safetensors, history.json (default: runs/train)")
    p.add_argument("--overwrite", action="store_true", help="replace a trained model already in OUT")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--ensemble-seeds", metavar="S1,S2,...",
                   help="train one model per seed into OUT/seed<S>/ and write their ensemble to "
                        "OUT/model.json (inter-patient split; see `ecgbeat ensemble`)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("refit", help="train a validated run again on its training and validation beats, "
                       "stopping after its best validation epoch", epilog=EPILOG)
    p.add_argument("checkpoint", help="model.json of a run trained on MIT-BIH records (train --split ...)")
    p.add_argument("--mitdb", help="folder with the MIT-BIH records (default: $ECGBEAT_MITDB)")
    p.add_argument("--out", required=True, help="folder for the refitted model.json/.safetensors, history.json")
    p.add_argument("--overwrite", action="store_true", help="replace a trained model already in OUT")
    p.add_argument("--device", help="train on this device instead of the run's own (auto, cpu, cuda, cuda:N, ...)")
    p.set_defaults(func=cmd_refit)

    p = sub.add_parser("evaluate", help="test-set metrics of a checkpoint", epilog=EPILOG)
    p.add_argument("checkpoint", help="model.json (or .safetensors) of a trained model")
    _data_args(p)
    p.set_defaults(split=None, seed=None)
    p.add_argument("--out", default=".",
                   help="folder for metrics.json, report.md, predictions.csv (default: the current folder)")
    p.add_argument("--adapt", metavar="ITERS:STRENGTH:HELD",
                   help="re-weight each record's probabilities to its own class mix, estimated by EM from "
                        "its unlabelled beats (e.g. 5:300:FQ; see the README)")
    p.add_argument("--causal", action="store_true",
                   help="with --adapt and --self-train: each beat's class mix and classifier from the patient's "
                        "earlier beats only (as analyze and stream do), not from the whole record")
    p.add_argument("--af-gate", action="store_true", help=AF_GATE_HELP)
    p.add_argument("--smooth", metavar="STRENGTH", help=SMOOTH_HELP)
    p.add_argument("--self-train", metavar="CONFIDENCE:C", help=EVALUATE_SELF_TRAIN_HELP)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="classify beats of a Kaggle-format CSV")
    p.add_argument("checkpoint")
    p.add_argument("csv", help="Kaggle-format CSV, with or without the label column")
    p.add_argument("--out", default="predictions.csv", help="CSV to write (default: predictions.csv)")
    p.add_argument("--min-confidence", type=float, default=0.0,
                   help="label beats below this top probability 'uncertain' (abstain)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("plot", help="(re)draw the figures of a run folder", epilog=EPILOG)
    p.add_argument("run", help="run folder with model.json, history.json, metrics.json")
    p.add_argument("--mitdb")
    p.add_argument("--records", help="the run's records (default); on the inter split any records")
    p.set_defaults(func=cmd_plot, train_csv=None, test_csv=None)

    p = sub.add_parser("demo", help="prepare -> train -> evaluate -> plot into runs/<timestamp>/", epilog=EPILOG)
    _data_args(p, csv=False)
    p.add_argument("--model", default="lstm")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--device", default="auto")
    p.add_argument("--runs-dir", default="runs")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("export", help="export a checkpoint to ONNX (for onnxruntime)")
    p.add_argument("checkpoint", help="model.json of a trained model")
    p.add_argument("--out", default="model.onnx", help="ONNX file to write (default: model.onnx)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("ensemble", help="combine trained checkpoints into one that averages their "
                       "class probabilities (use it wherever a checkpoint goes)")
    p.add_argument("checkpoints", nargs="+", help="model.json of each member (same classes, beats and test set)")
    p.add_argument("--out", required=True,
                   help="checkpoint to write, e.g. runs/ensemble/model.json; a folder means its model.json")
    p.set_defaults(func=cmd_ensemble)
    p = sub.add_parser("models", help="list registered models")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("analyze", help="raw ECG records -> labelled beats, rhythm summary, files")
    _raw_args(p)
    p.add_argument("records", nargs="+", help="WFDB record (.hea or name), CSV or EDF file(s)")
    p.add_argument("--out", default="analysis", help="output folder (default: analysis)")
    p.add_argument("--no-plot", action="store_true", help="skip the strip plot PNG")
    p.add_argument("--ann-ext", default="ecgb", help="WFDB annotation file extension (default: ecgb)")
    p.add_argument("--ann-beside", action="store_true", help="write the annotation file beside the record")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("stream", help="classify beats of a file replayed in real time, or of stdin; "
                       "prints JSON lines")
    _raw_args(p)
    p.add_argument("source", help="WFDB record, CSV or EDF file, or - for samples on standard input")
    p.add_argument("--speed", type=float, default=1.0, help="replay speed, x real time (0: no waiting)")
    p.add_argument("--chunk-s", type=float, default=0.5,
                   help="seconds of samples pushed at a time (default 0.5: >= 200x real time when replayed "
                        "at full speed, and at most 0.5 s added to the decision latency)")
    p.set_defaults(func=cmd_stream)
    return parser


def _missing_folders(out) -> list:
    """``out`` and those of its parent folders that do not exist yet, deepest first."""
    from pathlib import Path

    if not out:
        return []
    path, missing = Path(out).absolute(), []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def _remove_empty(folders: list) -> None:
    """Remove the folders a failed command created and left empty (deepest first)."""
    for folder in folders:
        try:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        except OSError:
            return


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    created = _missing_folders(getattr(args, "out", None))
    status = 2
    try:
        args.func(args)
        status = 0
    except EcgbeatError as exc:
        print(f"ecgbeat: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"ecgbeat: error: {exc.filename}: file not found", file=sys.stderr)
        return 2
    except OSError as exc:  # an output folder that is a file, no permission, a full disk ...
        where = exc.filename if exc.filename is not None else "file system"
        print(f"ecgbeat: error: {where}: {' '.join(str(exc.strerror or exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ecgbeat: interrupted", file=sys.stderr)
        return 130
    finally:
        if status:  # a failed command leaves no empty output folder behind
            _remove_empty(created)
    return 0


if __name__ == "__main__":
    sys.exit(main())
