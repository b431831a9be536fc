"""Per-patient class-mix adaptation (:func:`ecgbeat.predict.adapt_priors`) on the inter-patient split.

Each DS2 record's beat probabilities are re-weighted to that patient's class mix, estimated by EM
from the probabilities themselves (unlabelled; Saerens et al. 2002). The settings (EM steps,
strength of the pull towards the training mix, classes held at their training share) are chosen on
the DS1 *validation* records of each kept run (each model on its own held-out records, pooled, by
macro-F1 over N, S, V, F; ``--validate folds``: one ensemble per distinct set of validation records,
the mean of every run validated on it, each set's beats counted once, with the score of every setting
per fold and a leave-one-fold-out check of the choice; ``--val-runs``: validation-only runs adding
folds); DS2 is used only to report.
Reported: every single model and every ensemble of ``--size`` consecutive seeds, without adaptation,
with the setting validation prefers among the adapted ones, and with ``--also`` settings named on
the command line (for comparison, not selection). ``--af-gate`` then moves the S probability of
beats in an atrial-fibrillation-like rhythm to N (:func:`ecgbeat.predict.gate_af`), after any
adaptation, on validation and test alike.

Needs the checkpoints of ``benchmarks/accuracy.py --splits inter --keep-runs DIR``::

    python benchmarks/adapt_priors.py --runs DIR --models lstm --size 3
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
try:  # installed package, else the source tree
    import ecgbeat  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    sys.path.insert(0, str(REPO / "src"))

from bench_common import (  # noqa: E402  (beside this script)
    default_mitdb,
    ec57_row,
    families,
    git_info,
    kept_runs,
    machine,
    mean_std,
    pct,
    stale_refit,
)

RESULTS = REPO / "benchmarks" / "results"
GRID = list(itertools.product((1, 2, 5), (0, 300, 1000, 3000, 10000), ((4,), (3, 4), (2, 3, 4))))
SELF_TRAIN_GRID = [{"confidence": c, "C": C} for c in (0.5, 0.7, 0.8, 0.9) for C in (0.1, 1.0)]
SMOOTH_GRID = (0.1, 0.25, 0.5, 1.0)


#: Adapted probabilities by (probabilities, training mix, beats, setting, causal): the chosen setting's
#: adaptation is the costly step and every smoothing, self-training and reported row starts from it.
_ADAPTED: dict[tuple, tuple[dict, np.ndarray]] = {}


def _digest(a: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(a).view(np.uint8), digest_size=16).hexdigest()


def adapted_only(proba: np.ndarray, beats: dict, train_prior: np.ndarray, setting, causal: bool) -> np.ndarray:
    """The adaptation step of :func:`adjusted` alone, computed once per distinct input (the beats
    dicts of :func:`where` live for the whole run, so their identity names them)."""
    from ecgbeat.predict import adapt_causal_per_record, adapt_per_record

    if setting is None:
        return proba
    key = (_digest(proba), _digest(np.asarray(train_prior, dtype=np.float64)), id(beats), setting, causal)
    if key not in _ADAPTED:  # the cache keeps the beats alive, so no other beats can take their id
        out = (adapt_causal_per_record(proba, beats["record"], beats["sample"], train_prior, setting)
               if causal else adapt_per_record(proba, beats["record"], train_prior, setting))
        out.setflags(write=False)  # shared by every later step: none may change it in place
        _ADAPTED[key] = (beats, out)  # the beats kept alive, so their id cannot name other beats
    return _ADAPTED[key][1]


def adjusted(proba: np.ndarray, beats: dict, train_prior: np.ndarray, setting, causal: bool,
             self_train: dict | None = None, smooth: float | None = None,
             transitions: np.ndarray | None = None) -> np.ndarray:
    """:func:`ecgbeat.predict.adjust_proba` of one run's probabilities on ``beats`` (:func:`where`):
    adaptation with ``setting`` (None: none; :func:`adapted_only`), the AF gate, beat-to-beat
    smoothing of strength ``smooth`` with the training beats' ``transitions``, then self-training with
    ``self_train``."""
    from ecgbeat.labels import CLASSES
    from ecgbeat.predict import adjust_proba

    return adjust_proba(adapted_only(proba, beats, train_prior, setting, causal), beats["record"], beats["sample"],
                        CLASSES, train_prior, None, causal, beats["prev_rr"], beats["skip_ectopic"], self_train,
                        beats["features"],
                        None if smooth is None else {"transitions": transitions, "strength": smooth})


def val_predictions(scored: list[dict], setting, causal: bool, self_train: dict | None = None,
                    smooth: float | None = None) -> list[np.ndarray]:
    """Predicted classes of the validation beats of each of ``scored`` (runs or fold ensembles) after
    :func:`adjusted` (smoothing with each run's own training transitions)."""
    return [adjusted(r["val"], r["val_beats"], r["prior"], setting, causal, self_train, smooth,
                     r["trans_val"]).argmax(1) for r in scored]


def pooled_f1(scored: list[dict], preds: list[np.ndarray], items=None) -> float:
    """Macro-F1 (N, S, V, F) of ``preds`` over the validation beats of ``scored`` (``items``: only those)."""
    from sklearn.metrics import f1_score

    items = range(len(scored)) if items is None else items
    y = np.concatenate([scored[i]["val_y"] for i in items])
    pred = np.concatenate([preds[i] for i in items])
    return float(f1_score(y, pred, labels=[0, 1, 2, 3], average="macro", zero_division=0))


def scores(scored: list[dict], preds: list[np.ndarray], by_fold: bool) -> dict:
    """``val_macro_f1`` pooled over ``scored``; with ``by_fold`` also ``val_by_fold``, one per item."""
    out = {"val_macro_f1": pooled_f1(scored, preds)}
    if by_fold:
        out["val_by_fold"] = [pooled_f1(scored, preds, [i]) for i in range(len(scored))]
    return out


def val_score(scored: list[dict], setting, causal: bool, self_train: dict | None = None,
              smooth: float | None = None, by_fold: bool = False) -> dict:
    """:func:`scores` of ``setting`` (and self-training, smoothing) on the validation beats of ``scored``."""
    return scores(scored, val_predictions(scored, setting, causal, self_train, smooth), by_fold)


def improves(candidate: dict, current: dict, rule: str = "pooled") -> bool:
    """Whether a step's best ``candidate`` scores (:func:`scores`) beat the ``current`` ones: pooled
    macro-F1 higher, and with ``rule="majority"`` also higher on more than half of the folds (a gain
    that one fold's patients carry is then not enough)."""
    if candidate["val_macro_f1"] <= current["val_macro_f1"]:
        return False
    if rule == "pooled":
        return True
    up = sum(c > n for c, n in zip(candidate["val_by_fold"], current["val_by_fold"]))
    return 2 * up > len(current["val_by_fold"])


def leave_one_fold_out(folds: list[dict], grid_preds: dict) -> list[dict]:
    """For each fold: the adaptation setting pooled validation on the *other* folds chooses (among the
    adapted settings, as the real choice), its macro-F1 on the held-out fold, its rank there among the
    adapted settings (ties share the best rank), that fold's best score and no adaptation's score there.
    How often the chosen setting ranks low on the fold left out says how much the choice rests on
    particular patients."""
    settings = [s for s in grid_preds if s is not None]
    out = []
    for k, fold in enumerate(folds):
        rest = [i for i in range(len(folds)) if i != k]
        chosen = max(settings, key=lambda s: pooled_f1(folds, grid_preds[s], rest))
        here = {s: pooled_f1(folds, grid_preds[s], [k]) for s in settings}
        out.append({"held_out": fold["val_records"], "chosen": name(chosen), "score": here[chosen],
                    "rank": sorted(here.values(), reverse=True).index(here[chosen]) + 1, "of": len(settings),
                    "best": max(here.values()), "no_adaptation": pooled_f1(folds, grid_preds[None], [k])})
    return out


def where(beats, af_gate: bool, skip_ectopic: bool = True, self_train: bool = False) -> dict:
    """What :func:`adjusted` needs of a BeatSet: record, sample, for the AF gate the previous RR, for
    self-training the beats' features."""
    from ecgbeat.predict import af_rr
    from ecgbeat.self_training import self_training_features

    return {"record": beats.record, "sample": beats.sample, "prev_rr": af_rr(beats) if af_gate else None,
            "skip_ectopic": skip_ectopic, "features": self_training_features(beats) if self_train else None}


def fold_ensembles(runs) -> list[dict]:
    """One entry per distinct set of validation records: the mean validation probabilities and training
    mix of the runs validated on it (they share its beats: same records, same order). Seeds whose
    validation folds coincide then count once, and the score is that of ensembles, as deployed."""
    by_fold: dict[tuple, list[dict]] = {}
    for r in runs:
        by_fold.setdefault(tuple(r["val_records"]), []).append(r)
    return [{"val": np.mean([r["val"] for r in rs], axis=0), "prior": np.mean([r["prior"] for r in rs], axis=0),
             "trans_val": rs[0].get("trans_val"), "val_y": rs[0]["val_y"], "val_beats": rs[0]["val_beats"],
             "val_records": list(fold),
             "n_runs": len(rs)} for fold, rs in sorted(by_fold.items())]


def fold_inputs(split, args) -> dict:
    """What every run validated on ``split`` shares: its validation records, labels and beats
    (:func:`where`) and the class-to-class transitions of its training beats."""
    from ecgbeat.pipeline import train_transitions

    return {"val_records": sorted(set(split.val.record.tolist())), "val_y": split.val.y,
            "val_beats": where(split.val, args.af_gate, not args.keep_ectopic, args.self_train),
            "trans_val": np.asarray(train_transitions(split.train))}


def validation_runs(by_seed: dict, spec, args, error) -> list[dict]:
    """What :func:`val_score` needs of validation-only runs (``--val-runs``): each run's validation
    probabilities and training mix on the validation records its model.json names (trained with
    ``--val-records``; the rebuilt split must hold as many validation beats as the run's did)."""
    from ecgbeat.checkpoint import load_checkpoint
    from ecgbeat.pipeline import load_split
    from ecgbeat.predict import predict_proba

    out, splits = [], {}
    for seed, members in sorted(by_seed.items()):
        for _, path in members:
            model, meta = load_checkpoint(path)
            info = meta.get("split_info") or {}
            if meta.get("split") != "inter" or not info.get("val_records_given") or not meta.get("train_prior"):
                error(f"{path}: not a validation-only run (inter split, --val-records, train_prior in model.json)")
            key = tuple(info["val_records"])
            if key not in splits:
                split = load_split(replace(spec, seed=seed, val_records=key))
                splits[key] = (split, fold_inputs(split, args))
            split, shared = splits[key]
            if len(split.val) != info.get("n_val"):
                error(f"{path}: its validation records {', '.join(key)} rebuild {len(split.val)} beats, "
                      f"not the {info.get('n_val')} it was validated on")
            out.append({**shared, "prior": np.asarray(meta["train_prior"]), "val": predict_proba(model, split.val)})
    return out


def name(setting, self_train: dict | None = None, smooth: float | None = None) -> str:
    st = ("" if smooth is None else f" + smoothing {smooth:g}") + ("" if self_train is None else
          f" + self-training (confidence {self_train['confidence']:g}, C {self_train['C']:g})")
    if setting is None:
        return "no adaptation" + st
    iters, strength, fixed = setting
    held = "+".join("NSVFQ"[c] for c in fixed) or "none"
    return f"{iters} EM step{'s' if iters > 1 else ''}, strength {strength:g}, held: {held}" + st


def error_lines(row: dict) -> list[str]:
    """Markdown: the records behind most of a row's S and V errors, one count per ensemble."""
    errs = row["record_errors"]
    keys = ("false_S", "missed_S", "false_V", "missed_V")
    totals = {k: [sum(e[r][k] for r in e) for e in errs] for k in keys}
    worst = sorted(errs[0], key=lambda r: -sum(sum(e[r][k] for k in keys) for e in errs))[:8]
    lines = [f"Errors of \"{row['setting']}\", per ensemble: " + "; ".join(
        f"{k.replace('_', ' ')} {' / '.join(map(str, totals[k]))}" for k in keys) + ". The records behind most:", "",
             "| record | false S | missed S | false V | missed V |", "|---|---|---|---|---|"]
    lines += [f"| {r} | " + " | ".join(" / ".join(str(e[r][k]) for e in errs) for k in keys) + " |" for r in worst]
    return lines + [""]


def label_of(row: dict, res: dict) -> str:
    """What validation made of a reported row (for the markdown table)."""
    if row["self_train"] is None and row.get("smooth") is None:
        return " (best adapted on validation)" if row["setting"] == res["best_adapted"] else ""
    if row["chosen_by_validation"]:
        return " (chosen on validation)"
    if row["self_train"] is not None:
        return " (best self-training, not kept)"
    return " (best smoothing on validation" + (", kept" if res.get("smooth_kept") else ", not kept") + ")"


def parse_setting(text: str):
    from ecgbeat.predict import parse_adaptation

    return parse_adaptation(text, tuple("NSVFQ"))


def main(argv: list[str] | None = None) -> int:
    commit, dirty = git_info()  # before the run: the commit of the code that runs
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path, required=True, help="--keep-runs folder of benchmarks/accuracy.py")
    p.add_argument("--models", default="lstm", help="comma-separated model names (default: lstm)")
    p.add_argument("--size", type=int, default=3, help="seeds per ensemble (consecutive seeds)")
    p.add_argument("--mix", action="store_true",
                   help="one family of all --models: each ensemble holds every model of its seeds")
    p.add_argument("--also", action="append", default=[], metavar="ITERS:STRENGTH:HELD",
                   help="report this setting too, e.g. 1:3000:FQ (not chosen by validation)")
    p.add_argument("--af-gate", action="store_true",
                   help="no S call in an atrial-fibrillation-like rhythm (after adaptation; ecgbeat.dsp.rhythm)")
    p.add_argument("--keep-ectopic", action="store_true",
                   help="with --af-gate: the detector keeps the RR intervals next to beats called V "
                        "(as before 2026-11-30)")
    p.add_argument("--causal", action="store_true",
                   help="each beat's class mix from its record's earlier beats only (what analyze and stream do)")
    p.add_argument("--validate", choices=("runs", "folds"), default="runs",
                   help="runs: every run on its own validation records, pooled (a fold shared by several seeds "
                        "counts that often); folds: one ensemble per distinct validation-record set (the mean of "
                        "the runs validated on it), each set counted once")
    p.add_argument("--test-runs", type=Path, default=None,
                   help="report DS2 with these models instead: the refits of the --runs (benchmarks/refit.py, same "
                        "folder names); the setting is still chosen on the --runs' validation records")
    p.add_argument("--val-runs", type=Path, default=None,
                   help="validation-only runs (accuracy.py --val-records R,... --keep-runs DIR): more DS1 folds "
                        "for choosing the settings, each on the validation records its model.json names; not "
                        "reported on DS2")
    p.add_argument("--self-train", action="store_true",
                   help="also score per-patient self-training (ecgbeat.self_training) on top of the chosen "
                        "setting, its confidence and C chosen on validation; kept when validation improves")
    p.add_argument("--smooth", action="store_true",
                   help="also score beat-to-beat smoothing (ecgbeat.smoothing, transitions of each run's training "
                        "beats) on top of the chosen setting, its strength chosen on validation; kept when "
                        "validation improves (before any --self-train)")
    p.add_argument("--keep-when", choices=("pooled", "majority"), default="pooled",
                   help="when --smooth / --self-train are kept: pooled validation macro-F1 higher (default), or "
                        "also higher on a strict majority of the folds (needs --validate folds)")
    p.add_argument("--records", default=None, help="comma-separated MIT-BIH records (default: all 48)")
    p.add_argument("--mitdb", type=Path, default=None, help="MIT-BIH folder (default: $ECGBEAT_MITDB or ../shared)")
    p.add_argument("--stem", default="accuracy_inter_adapt_priors")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    from ecgbeat.errors import EcgbeatError

    try:
        also = [parse_setting(a) for a in args.also]
    except EcgbeatError as e:
        p.error(f"--also: {e}")
    if args.size < 1:
        p.error(f"--size must be >= 1, got {args.size}")
    for option in ("runs", "test_runs", "val_runs"):
        folder = getattr(args, option)
        if folder is not None and not folder.is_dir():
            p.error(f"--{option.replace('_', '-')} {folder}: no such folder")
    if args.keep_when == "majority" and args.validate != "folds":
        p.error("--keep-when majority compares folds: it needs --validate folds")

    import torch

    from ecgbeat.checkpoint import load_checkpoint
    from ecgbeat.datasets import concat
    from ecgbeat.io.atomic import json_text, write_text_atomic
    from ecgbeat.labels import CLASSES
    from ecgbeat.metrics import record_errors
    from ecgbeat.pipeline import DataSpec, load_split, train_transitions
    from ecgbeat.predict import class_mix, predict_proba

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    found = kept_runs(args.runs, set(args.models.split(",")))
    if not found:
        p.error(f"{args.runs}: no inter-seed<S>-<model>/model.json for {args.models}")
    found_val = kept_runs(args.val_runs, set(args.models.split(","))) if args.val_runs else {}
    if args.val_runs and not found_val:
        p.error(f"{args.val_runs}: no inter-seed<S>-<model>/model.json for {args.models}")
    spec = DataSpec(mitdb=str(args.mitdb or default_mitdb()), split="inter")
    if args.records:
        spec = replace(spec, records=tuple(args.records.split(",")))

    results, lines = {}, []
    if args.test_runs:  # every refit checked before any work: a stale one would be paired silently
        for by_seed in found.values():
            for path in by_seed.values():
                refit = args.test_runs / path.parent.name / "model.json"
                why = stale_refit(path, refit) if refit.is_file() else None
                if why:
                    p.error(f"{refit}: {why}, not of {path} as it is now")
    for model_name, by_seed in sorted(families(found, args.mix).items()):
        runs = {}  # (seed, model) -> probabilities
        for seed, members in sorted(by_seed.items()):
            split = load_split(replace(spec, seed=seed))
            seen = concat([split.train, split.val]) if args.test_runs else split.train  # what DS2's model saw
            per_seed = {**fold_inputs(split, args),  # the same for every model of this seed
                        "trans_test": np.asarray(train_transitions(seen))}
            for name_, path in members:
                model, meta = load_checkpoint(path)  # the training mix: stored by newer checkpoints
                prior = np.asarray(meta["train_prior"]) if meta.get("train_prior") else class_mix(model, split.train)
                test_model, test_prior = model, prior
                if args.test_runs:  # the refit reports DS2; its own training mix adapts it
                    refit = args.test_runs / path.parent.name / "model.json"
                    test_model, test_meta = load_checkpoint(refit)
                    if test_meta.get("seed") != meta.get("seed") or test_meta.get("model") != meta.get("model"):
                        p.error(f"{args.test_runs / path.parent.name}: not a refit of {path}")
                    test_prior = np.asarray(test_meta["train_prior"])
                runs[seed, name_] = {**per_seed, "prior": prior, "val": predict_proba(model, split.val),
                                     "test": predict_proba(test_model, split.test), "test_prior": test_prior}
        val_only = []
        if found_val:
            val_family = families(found_val, args.mix).get(model_name)
            if not val_family:
                p.error(f"{args.val_runs}: no validation-only runs of {model_name} (every model of a seed)")
            val_only = validation_runs(val_family, spec, args, p.error)
        test = split.test  # DS2: the same for every seed
        test_beats = where(test, args.af_gate, not args.keep_ectopic, args.self_train)
        folds = fold_ensembles([*runs.values(), *val_only])
        scored = [*runs.values(), *val_only] if args.validate == "runs" else folds
        by_fold = args.validate == "folds"
        grid_preds = {setting: val_predictions(scored, setting, args.causal) for setting in [None, *GRID]}
        val = [{"setting": name(setting), "raw": setting, **scores(scored, preds, by_fold)}
               for setting, preds in grid_preds.items()]
        lofo = leave_one_fold_out(folds, grid_preds) if by_fold and len(folds) > 2 else []
        best = max((v for v in val if v["raw"] is not None), key=lambda v: v["val_macro_f1"])
        chosen, chosen_st, chosen_sm, now = best["raw"], None, None, best
        smoothing, self_training = [], []
        # reported rows: (setting, self-training, smoothing, validation scores), each setting once
        reported = [(s_, None, None, next((v_ for v_ in val if v_["raw"] == s_), None))
                    for s_ in [None, chosen, *(a for a in also if a != chosen)]]
        if args.smooth:  # on top of the chosen setting; kept only when validation improves
            smoothing = [{"setting": name(chosen, None, lam), "smooth": lam,
                          **val_score(scored, chosen, args.causal, None, lam, by_fold)} for lam in SMOOTH_GRID]
            best_sm = max(smoothing, key=lambda v: v["val_macro_f1"])
            reported.insert(2, (chosen, None, best_sm["smooth"], best_sm))  # kept or not
            if improves(best_sm, now, args.keep_when):
                chosen_sm, now = best_sm["smooth"], best_sm
        if args.self_train:  # on top of the chosen setting (and smoothing); kept only when validation improves
            self_training = [{"setting": name(chosen, st, chosen_sm), "self_train": st, "smooth": chosen_sm,
                              **val_score(scored, chosen, args.causal, st, chosen_sm, by_fold)}
                             for st in SELF_TRAIN_GRID]
            best_st = max(self_training, key=lambda v: v["val_macro_f1"])
            reported.insert(3 if args.smooth else 2,
                            (chosen, best_st["self_train"], chosen_sm, best_st))
            if improves(best_st, now, args.keep_when):
                chosen_st = best_st["self_train"]
        seeds = sorted(by_seed)
        groups = [seeds[i:i + args.size] for i in range(0, len(seeds) - args.size + 1, args.size)]
        rows = []
        for setting, st, sm, score in reported:
            singles = [ec57_row(test.y, adjusted(r["test"], test_beats, r["test_prior"], setting, args.causal, st, sm,
                                                 r["trans_test"]), test.classes) for r in runs.values()]
            ensembles, errors = [], []
            for g in groups:
                members = [r for (s, _), r in runs.items() if s in g]
                proba = adjusted(np.mean([r["test"] for r in members], axis=0), test_beats,
                                 np.mean([r["test_prior"] for r in members], axis=0), setting, args.causal, st, sm,
                                 np.mean([r["trans_test"] for r in members], axis=0))
                ensembles.append(ec57_row(test.y, proba, test.classes))
                errors.append(record_errors(test.y, proba.argmax(axis=1), test.record, CLASSES))
            rows.append({"setting": name(setting, st, sm),
                         "val_macro_f1": None if score is None else score["val_macro_f1"],
                         "val_by_fold": None if score is None else score.get("val_by_fold"),
                         "self_train": st, "smooth": sm,
                         "chosen_by_validation": setting == chosen and st == chosen_st and sm == chosen_sm,
                         "singles": singles,
                         "singles_summary": mean_std(singles), "ensembles": ensembles,
                         "ensembles_summary": mean_std(ensembles) if ensembles else None,
                         "record_errors": errors})
        results[model_name] = {"seeds": seeds, "groups": groups, "members": sorted({m for _, m in runs}),
                               "validation_sets": [{"records": f["val_records"], "runs": f["n_runs"]} for f in folds],
                               "validation": [
            {k: v for k, v in x.items() if k != "raw"} for x in val], "self_training": self_training,
                               "self_train_kept": chosen_st is not None, "best_adapted": name(chosen),
                               "smoothing": smoothing, "smooth_kept": chosen_sm is not None,
                               "leave_one_fold_out": lofo,
                               "rows": rows}
    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), **machine(),
            "runs": str(args.runs),
            "test_runs": str(args.test_runs) if args.test_runs else None,
            "val_runs": str(args.val_runs) if args.val_runs else None,
            "git_commit": commit, "git_dirty": dirty, "records": args.records or "all", "af_gate": args.af_gate,
            "af_gate_skips_ectopic": args.af_gate and not args.keep_ectopic, "causal": args.causal,
            "validate": args.validate, "keep_when": args.keep_when,
            "command": "python benchmarks/adapt_priors.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "total_seconds": round(time.perf_counter() - t0, 1)}
    majority = " pooled and on a strict majority of the folds" if args.keep_when == "majority" else ""
    lines = ["# Per-patient class-mix adaptation, inter-patient split (DS1 -> DS2)", "",
             f"Generated {meta['date']} by `{meta['command']}` (commit `{commit}`"
             f"{', uncommitted changes' if dirty else ''}). Each DS2 record's probabilities re-weighted to "
             "its class mix, estimated by EM from its own unlabelled beats (`ecgbeat.predict.adapt_priors`). "
             + ("Settings scored on the DS1 validation records of each run (macro-F1 over N, S, V, F, "
                "pooled); " if args.validate == "runs" else
                "Settings scored on DS1 validation by fold: one ensemble (the mean of the runs validated on "
                "it) per distinct set of validation records, each counted once (macro-F1 over N, S, V, F, "
                "pooled); ")
             + (f"the validation-only runs in `{args.val_runs}` add their folds (chosen there, never reported); "
                if args.val_runs else "")
             + "DS2 only reports"
             + (f" (with the refits in `{args.test_runs}`: each run trained again on its training and validation "
                "records, stopped after its best validation epoch, `ecgbeat refit`)" if args.test_runs else "")
             + ". EC57, Q left out, %, mean ± std."
             + (" **AF gate on**: after any adaptation, the S probability of beats in an atrial-fibrillation-"
                "like rhythm (irregular RR, Dash et al. 2009; `ecgbeat.dsp.rhythm`) moved to N"
                + (", the detector keeping the RR intervals next to beats called V." if args.keep_ectopic else
                   ", the detector leaving out the RR intervals next to beats called V.") if args.af_gate else "")
             + (" **Causal adaptation**: each beat's class mix estimated from its record's earlier beats only "
                "(`ecgbeat.predict.CausalAdapter`: EM every 32 beats over the last 2,000), as `analyze` and "
                "`stream` do." if args.causal else "")
             + (" **Beat-to-beat smoothing** (`ecgbeat.smoothing`): after the gate, each record's probabilities "
                "filtered forward through the class-to-class transitions of the run's training beats (a hybrid "
                "HMM; a gated S probability stays 0); its strength chosen on validation on top of the chosen "
                f"adaptation setting, kept only when validation macro-F1 improves{majority} (before any "
                "self-training)." if args.smooth else "")
             + (" **Self-training** (`ecgbeat.self_training`): after the gate, per DS2 record, a balanced logistic "
                "regression fitted on the record's own confident beats (labelled by the model) averaged with the "
                "model's probabilities, the gate applied again; "
                + ("from the record's earlier beats only (refitted every 256 beats on the last 2,000)" if args.causal
                   else "fitted on each whole record")
                + "; its confidence threshold and C chosen on validation on top of the chosen adaptation setting, "
                f"kept only when validation macro-F1 improves{majority}." if args.self_train else ""), ""]
    for model_name, res in results.items():
        best_val = next(v for v in res["validation"] if v["setting"] == res["best_adapted"])
        lines += [f"## `{model_name}`: {len(res['seeds'])} seeds, ensembles of {args.size} seeds", "",
                  f"Best adaptation setting on validation: {best_val['setting']} (macro-F1 "
                  f"{best_val['val_macro_f1']:.4f}). "
                  "Validation record sets (runs validated on each): " + "; ".join(
                      f"{', '.join(v['records'])} ({v['runs']})" for v in res["validation_sets"]) + "."
                  + ("" if not res["smoothing"] else " Smoothing on top of the best adapted setting, on validation: "
                     + "; ".join(f"strength {v['smooth']:g}: {v['val_macro_f1']:.4f}" for v in res["smoothing"])
                     + (f" (kept: above the setting alone{majority})." if res["smooth_kept"] else
                        f" (not kept: not above the setting alone{majority})."))
                  + ("" if not res["self_training"] else " Self-training on top of the best adapted setting"
                     + (" and the kept smoothing" if res["smooth_kept"] else "") + ", on validation: "
                     + "; ".join(f"confidence {v['self_train']['confidence']:g}, C "
                                 f"{v['self_train']['C']:g}: {v['val_macro_f1']:.4f}" for v in res["self_training"])
                     + (" (kept: above " if res["self_train_kept"] else " (not kept: not above ")
                     + ("the smoothed setting" if res["smooth_kept"] else "the setting alone") + f"{majority})."), "",
                  "| setting | val macro-F1 | models | accuracy | N Se / +P | S Se / +P | V Se / +P | F Se / +P |",
                  "|---|---:|---|---:|---|---|---|---|"]
        for row in res["rows"]:
            for kind in ("singles", "ensembles"):
                s = row[f"{kind}_summary"]
                if s is None:
                    continue
                label = row["setting"] + label_of(row, res)
                score = "" if row["val_macro_f1"] is None else f"{row['val_macro_f1']:.4f}"
                cells = [f"{pct(s[f'{c}_se'])} / {pct(s[f'{c}_ppv'])}" for c in "NSVF"]
                lines.append(f"| {label} | {score} | {len(row[kind])} {kind} | {100 * s['accuracy']:.2f} ± "
                             f"{100 * s['accuracy_std']:.2f} | " + " | ".join(cells) + " |")
        lines.append("")
        fold_rows = [row for row in res["rows"] if row.get("val_by_fold")]
        if fold_rows:
            lines += ["Validation macro-F1 by fold (in the order of the record sets above): " + "; ".join(
                f"{row['setting']}: " + " / ".join(f"{v:.4f}" for v in row["val_by_fold"]) for row in fold_rows)
                + ".", ""]
        if res["leave_one_fold_out"]:
            lines += ["Leave one fold out (the adaptation setting pooled validation on the other folds chooses, "
                      "scored on the fold left out, and its rank there among the adapted settings, ties sharing "
                      "the best rank): " + "; ".join(
                          f"{', '.join(x['held_out'])}: {x['chosen']}, {x['score']:.4f}, rank {x['rank']} of "
                          f"{x['of']} (best there {x['best']:.4f}, no adaptation {x['no_adaptation']:.4f})"
                          for x in res["leave_one_fold_out"]) + ".", ""]
        chosen_row = next(row for row in res["rows"] if row["chosen_by_validation"])
        if chosen_row["record_errors"]:  # none without an ensemble (fewer seeds than --size)
            lines += error_lines(chosen_row)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / f"{args.stem}.md", "\n".join(lines))
    write_text_atomic(args.out / f"{args.stem}.json",  # numpy arrays as lists, NaN as null
                      json_text({"meta": meta, "results": results}, indent=1) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
