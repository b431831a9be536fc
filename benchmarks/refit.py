"""Refit kept inter-patient runs on all of DS1 (their validation records too): ``ecgbeat refit`` for each.

Each run of ``benchmarks/accuracy.py --splits inter --keep-runs RUNS`` is trained again with its own
seed and settings on its training *and* validation records, stopping after the epoch its validation
chose (:func:`ecgbeat.pipeline.refit_model`). The refits go to ``OUT/<same folder name>``, so
``benchmarks/adapt_priors.py --runs RUNS --test-runs OUT`` chooses the adaptation setting on the
runs' validation records and reports DS2 with the refits. A refit already in OUT is kept (re-running
the script finishes an interrupted batch)::

    python benchmarks/refit.py --runs runs/inter-bench --out runs/inter-bench-refit --jobs 2
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
try:  # installed package, else the source tree
    import ecgbeat  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    sys.path.insert(0, str(REPO / "src"))

from bench_common import default_mitdb, kept_runs, stale_refit  # noqa: E402  (beside this script)

from ecgbeat.errors import EcgbeatError  # noqa: E402


def refit_one(checkpoint: Path, out: Path, mitdb: str) -> tuple[str, float]:
    from ecgbeat.pipeline import refit_model

    t0 = time.perf_counter()
    refit_model(checkpoint, out, mitdb=mitdb, progress=False)
    return out.name, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path, required=True, help="--keep-runs folder of benchmarks/accuracy.py")
    p.add_argument("--out", type=Path, required=True, help="folder for the refits (same sub-folder names)")
    p.add_argument("--models", default=None, help="comma-separated model names (default: every kept model)")
    p.add_argument("--jobs", type=int, default=1, help="refits at a time (each uses its run's thread count)")
    p.add_argument("--mitdb", type=Path, default=None, help="MIT-BIH folder (default: $ECGBEAT_MITDB or ../shared)")
    args = p.parse_args(argv)
    found = kept_runs(args.runs, set(args.models.split(",")) if args.models else None)
    todo = [(path, args.out / path.parent.name) for by_seed in found.values() for path in by_seed.values()]
    if not todo:
        p.error(f"{args.runs}: no inter-seed<S>-<model>/model.json")
    for run, out in todo:  # a refit already there is kept only when it is this run's, as the run is now
        why = stale_refit(run, out / "model.json") if (out / "model.json").is_file() else None
        if why:
            p.error(f"{out / 'model.json'}: {why}; delete it (or choose another --out) to refit {run}")
    todo = [(c, o) for c, o in sorted(todo) if not (o / "model.json").is_file()]
    print(f"{len(todo)} refits to run into {args.out}", flush=True)
    mitdb = str(args.mitdb or default_mitdb())
    try:
        with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for done, seconds in pool.map(refit_one, *zip(*todo), [mitdb] * len(todo)) if todo else ():
                print(f"{done}: {seconds:.0f} s", flush=True)
    except EcgbeatError as exc:  # a run that cannot be refitted: one line, the refits done so far kept
        p.exit(2, f"refit.py: error: {exc}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
