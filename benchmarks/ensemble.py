"""Seed ensembles of the inter-patient models of an accuracy run (experiment, not a library feature).

``benchmarks/accuracy.py --splits inter --keep-runs DIR`` keeps one checkpoint per model and seed
(``DIR/inter-seed<S>-<model>/model.json``). The inter-patient test set (DS2) does not depend on the
seed, so the models of one architecture can be averaged: this script reloads them, averages their
class probabilities on DS2 and reports the same EC57 statistics as the accuracy benchmark for
each seed alone and for the average. (The intra-patient test set changes with the seed, so intra
runs cannot be averaged this way.)

Usage::

    python benchmarks/ensemble.py --runs /tmp/runs --stem accuracy_inter_template_ensemble
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
try:  # installed package, else the source tree
    import ecgbeat  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    sys.path.insert(0, str(REPO / "src"))

from bench_common import default_mitdb, git_info  # noqa: E402  (beside this script)

RESULTS = REPO / "benchmarks" / "results"
RUN_DIR = re.compile(r"inter-seed(\d+)-(\w+)$")


def _row(name: str, y: np.ndarray, pred: np.ndarray, classes: tuple[str, ...]) -> dict:
    from ecgbeat.metrics import ec57_metrics

    e = ec57_metrics(y, pred, classes)
    return {"name": name, "accuracy": e["accuracy"],
            **{f"{k}_{m}": e[k][key] for k in "NSVF" for m, key in (("se", "sensitivity"), ("ppv", "ppv"))}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path, required=True, help="--keep-runs folder of benchmarks/accuracy.py")
    p.add_argument("--mitdb", type=Path, default=None, help="MIT-BIH folder (default: $ECGBEAT_MITDB or ../shared)")
    p.add_argument("--stem", default="accuracy_inter_ensemble")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)

    import torch

    from ecgbeat.checkpoint import load_checkpoint
    from ecgbeat.io.atomic import write_text_atomic
    from ecgbeat.pipeline import DataSpec, load_split
    from ecgbeat.predict import predict_proba

    torch.set_num_threads(1)
    found = defaultdict(dict)
    for d in sorted(args.runs.iterdir()):
        m = RUN_DIR.match(d.name)
        if m and (d / "model.json").is_file():
            found[m.group(2)][int(m.group(1))] = d / "model.json"
    if not found:
        p.error(f"{args.runs}: no inter-seed<S>-<model>/model.json inside")
    t0 = time.perf_counter()
    test = load_split(DataSpec(mitdb=str(args.mitdb or default_mitdb()), split="inter", seed=0)).test
    rows, everything = [], []
    for model_name, by_seed in found.items():
        probas = []
        for seed, path in sorted(by_seed.items()):
            model, meta = load_checkpoint(path)
            probas.append(predict_proba(model, test))
            rows.append({"model": model_name, **_row(f"seed {seed}", test.y, probas[-1].argmax(1), test.classes)})
        if len(probas) > 1:
            seeds = ", ".join(str(s) for s in sorted(by_seed))
            rows.append({"model": model_name, **_row(f"mean of seeds {seeds}", test.y,
                                                        np.mean(probas, axis=0).argmax(1), test.classes)})
        everything += probas
    if len(found) > 1:
        rows.append({"model": "all", **_row(f"mean of all {len(everything)} models", test.y,
                                            np.mean(everything, axis=0).argmax(1), test.classes)})
    commit, dirty = git_info()
    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "runs": str(args.runs),
            "git_commit": commit, "git_dirty": dirty, "n_test": len(test),
            "command": "python benchmarks/ensemble.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "total_seconds": round(time.perf_counter() - t0, 1)}
    lines = ["# Seed ensembles, inter-patient split (DS1 -> DS2)", "",
             f"Generated {meta['date']} by `{meta['command']}` (commit `{commit}`). Each model's seeds are "
             "those of the accuracy run whose checkpoints were kept; the ensemble averages their class "
             "probabilities. EC57 statistics, Q beats left out, in %.", "",
             "| Model | Models averaged | Accuracy | N Se/+P | S Se/+P | V Se/+P | F Se/+P |",
             "|---|---|---:|---|---|---|---|"]
    for r in rows:
        cells = [f"{100 * r[f'{k}_se']:.1f} / {100 * r[f'{k}_ppv']:.1f}" for k in "NSVF"]
        model = "all models" if r["model"] == "all" else f"`{r['model']}`"
        lines.append(f"| {model} | {r['name']} | {100 * r['accuracy']:.2f} | " + " | ".join(cells) + " |")
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / f"{args.stem}.md", "\n".join(lines) + "\n")
    write_text_atomic(args.out / f"{args.stem}.json", json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
