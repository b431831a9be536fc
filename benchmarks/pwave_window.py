"""Experiment: inter-patient beats that start before the R peak (the P wave), not a library feature.

The Kaggle cut (``ecgbeat.dsp.beats.segment_beats``) starts each beat at its R peak, so a model
never sees the beat's own P wave, the main morphological cue of supraventricular (S) beats. This
script cuts every beat ``PRE`` samples (125 Hz) earlier, trains ``lstm`` + RR features (sqrt class
weights, augmentation, 10 epochs) on DS1 for seeds 0, 1, 2 and reports EC57 on DS2. Compare with
the ``lstm`` row of ``benchmarks/results/accuracy_inter.md`` (same settings, beats from the R peak).

Usage: ``python benchmarks/pwave_window.py [PRE]`` (default 31 samples = 0.25 s); writes
``benchmarks/results/pwave_window_<PRE>.json``. About 5 min at 2 threads.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main(pre: int) -> list[dict]:
    import ecgbeat.datasets as ds
    from ecgbeat.checkpoint import load_checkpoint
    from ecgbeat.dsp.beats import segment_beats
    from ecgbeat.metrics import ec57_metrics
    from ecgbeat.pipeline import train_model
    from ecgbeat.predict import predict_proba
    from ecgbeat.training import TrainConfig

    ds.cut = lambda signal, peaks, params: segment_beats(signal, np.maximum(peaks - pre, 0), params)
    from bench_common import default_mitdb

    mitdb = default_mitdb()
    beats = ds.build_beats(mitdb=mitdb)  # no cache: these beats must not land under the normal key
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in (0, 1, 2):
            split = ds.split_beats(beats, "inter", seed=seed)
            config = TrainConfig(epochs=10, seed=seed, class_weight="sqrt", augment=True)
            t0 = time.time()
            path, _ = train_model(split, Path(tmp) / str(seed), model_name="lstm", config=config,
                                  progress=False, features="rr")
            model, _ = load_checkpoint(path)
            e = ec57_metrics(split.test.y, predict_proba(model, split.test).argmax(1), split.test.classes)
            rows.append({"seed": seed, "acc": round(e["accuracy"], 4), "s": round(time.time() - t0),
                         **{c: [_num(e[c]["sensitivity"]), _num(e[c]["ppv"])] for c in "NSVF"}})
            print(rows[-1], flush=True)
    from ecgbeat.io.atomic import write_json_atomic

    write_json_atomic(REPO / "benchmarks" / "results" / f"pwave_window_{pre}.json",
                      {"pre_samples": pre, "fs": 125, "model": "lstm", "rr_features": True, "runs": rows})
    return rows


def _num(v: float) -> float | None:
    return None if np.isnan(v) else round(float(v), 3)  # no predictions of a class: no +P


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].isdigit():  # --help, or not a sample count
        print(__doc__ if sys.argv[1] in ("-h", "--help") else f"pwave_window.py: PRE must be a whole number of "
              f"samples, got {sys.argv[1]!r}", file=sys.stdout if sys.argv[1] in ("-h", "--help") else sys.stderr)
        sys.exit(0 if sys.argv[1] in ("-h", "--help") else 2)
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 31)
