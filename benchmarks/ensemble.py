"""Ensembles of the inter-patient models of an accuracy run, built with ``ecgbeat ensemble``.

``benchmarks/accuracy.py --splits inter --keep-runs DIR`` keeps one checkpoint per model and seed
(``DIR/inter-seed<S>-<model>/model.json``). The inter-patient test set (DS2) does not depend on the
seed, so the models of one architecture can be averaged. This script groups each model's seeds in
consecutive groups of ``--size`` (0,1,2 | 3,4,5 | ...), combines each group with
:func:`ecgbeat.checkpoint.save_ensemble` (the code path of ``ecgbeat ensemble``), evaluates every
single model and every ensemble on DS2 with :func:`ecgbeat.predict.evaluate_beats`, and reports
the EC57 statistics per row and as mean ± std over seeds and over ensembles, with the ensembles'
inference speed. (The intra-patient test set changes with the seed, so intra runs of different
seeds cannot be averaged.)

Usage::

    python benchmarks/ensemble.py --runs /tmp/runs --size 3 --stem accuracy_inter_ensemble
"""

from __future__ import annotations

import argparse
import sys
import tempfile
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

from bench_common import cpu_name, default_mitdb, ec57_row, families, git_info, kept_runs, mean_std  # noqa: E402  (beside this script)

RESULTS = REPO / "benchmarks" / "results"


def _summary(model: str, kind: str, rows: list[dict]) -> dict:
    return {"model": model, "kind": f"{kind} (mean ± std)", "name": f"{len(rows)} {kind}s", "n": len(rows),
            **mean_std(rows), "beats_per_s": float(np.mean([r["beats_per_s"] for r in rows]))}


def _row(model_name: str, kind: str, name: str, model, beats) -> dict:
    """EC57 row of ``model`` on ``beats`` with its speed: beats/s of one
    :func:`ecgbeat.predict.predict_proba` pass (inputs built from the cut beats included)."""
    from ecgbeat.predict import predict_proba

    start = time.perf_counter()
    proba = predict_proba(model, beats)
    speed = len(beats) / (time.perf_counter() - start)
    return {"model": model_name, "kind": kind, "name": name, **ec57_row(beats.y, proba, beats.classes),
            "beats_per_s": speed}


def _cell(r: dict, k: str) -> str:
    se, ppv = 100 * r[f"{k}_se"], 100 * r[f"{k}_ppv"]
    if "n" in r:
        return f"{se:.1f}±{100 * r[f'{k}_se_std']:.1f} / {ppv:.1f}±{100 * r[f'{k}_ppv_std']:.1f}"
    return f"{se:.1f} / {ppv:.1f}"


def main(argv: list[str] | None = None) -> int:
    commit, dirty = git_info()  # before the run: the commit of the code that runs
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path, required=True, help="--keep-runs folder of benchmarks/accuracy.py")
    p.add_argument("--mitdb", type=Path, default=None, help="MIT-BIH folder (default: $ECGBEAT_MITDB or ../shared)")
    p.add_argument("--records", default=None, help="comma-separated MIT-BIH records (default: all 48; "
                   "the test set is their DS2 part)")
    p.add_argument("--models", default=None, help="comma-separated model names (default: all found)")
    p.add_argument("--size", type=int, default=3, help="seeds per ensemble (consecutive seeds)")
    p.add_argument("--mix", action="store_true",
                   help="one family of all --models: each ensemble holds every model of its seeds")
    p.add_argument("--threads", type=int, default=2, help="torch threads for inference timing")
    p.add_argument("--stem", default="accuracy_inter_ensemble")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.size < 2:
        p.error("--size must be at least 2")

    import torch

    from ecgbeat.checkpoint import load_checkpoint, save_ensemble
    from ecgbeat.io.atomic import json_text, write_text_atomic
    from ecgbeat.pipeline import DataSpec, load_split
    from ecgbeat.training import INFERENCE_BATCH

    torch.set_num_threads(args.threads)
    found = kept_runs(args.runs, set(args.models.split(",")) if args.models else None)
    if not found:
        p.error(f"{args.runs}: no inter-seed<S>-<model>/model.json inside")
    t0 = time.perf_counter()
    spec = DataSpec(mitdb=str(args.mitdb or default_mitdb()), split="inter", seed=0)
    if args.records:
        spec = replace(spec, records=tuple(args.records.split(",")))
    test = load_split(spec).test
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model_name, by_seed in sorted(families(found, args.mix).items()):
            singles, ensembles = [], []
            for seed, members in sorted(by_seed.items()):
                for name, path in members:
                    label = f"{name} seed {seed}" if args.mix else f"seed {seed}"
                    singles.append(_row(model_name, "single", label, load_checkpoint(path)[0], test))
            seeds = sorted(by_seed)
            for g in range(len(seeds) // args.size):
                group = seeds[g * args.size:(g + 1) * args.size]
                path, _ = save_ensemble([path for s in group for _, path in by_seed[s]],
                                        Path(tmp) / f"{model_name}-{g}")
                ensembles.append(_row(model_name, "ensemble", "ensemble of seeds " + ", ".join(map(str, group)),
                                      load_checkpoint(path)[0], test))
            rows += singles + ensembles
            rows.append(_summary(model_name, "single model", singles))
            if ensembles:
                rows.append(_summary(model_name, "ensemble", ensembles))
    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "runs": str(args.runs),
            "records": args.records or "all",
            "size": args.size, "mix": args.mix, "git_commit": commit, "git_dirty": dirty, "n_test": len(test),
            "machine": f"{cpu_name()}, torch threads {args.threads}",
            "command": "python benchmarks/ensemble.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "total_seconds": round(time.perf_counter() - t0, 1)}
    lines = ["# Ensembles, inter-patient split (DS1 -> DS2)", "",
             f"Generated {meta['date']} by `{meta['command']}` (commit `{commit}`"
             f"{', uncommitted changes' if dirty else ''}). Checkpoints of an accuracy run (one per seed); "
             f"each ensemble averages the class probabilities of {args.size} consecutive seeds "
             f"{'(every listed model of each) ' if args.mix else ''}"
             "(`ecgbeat ensemble`). EC57 statistics on DS2, Q beats left out, in %; "
             f"inference on {meta['machine']}, batches of {INFERENCE_BATCH:,}, building the inputs (template, "
             "features) from cut beats included.", "",
             "| Model | Row | Accuracy | N Se/+P | S Se/+P | V Se/+P | F Se/+P | beats/s |",
             "|---|---|---:|---|---|---|---|---:|"]
    for r in rows:
        acc = f"{100 * r['accuracy']:.2f}" + (f" ± {100 * r['accuracy_std']:.2f}" if "n" in r else "")
        speed = f"{r['beats_per_s']:,.0f}" if "beats_per_s" in r else ""
        name = f"**{r['name']}, mean ± std**" if "n" in r else r["name"]
        lines.append(f"| `{r['model']}` | {name} | {acc} | " + " | ".join(_cell(r, k) for k in "NSVF")
                     + f" | {speed} |")
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / f"{args.stem}.md", "\n".join(lines) + "\n")
    write_text_atomic(args.out / f"{args.stem}.json", json_text({"meta": meta, "rows": rows}, indent=1) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
