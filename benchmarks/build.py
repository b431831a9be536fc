"""Beat-building benchmark: all MIT-BIH records -> BeatSet, cold (fresh cache) and from the cache.

Times :func:`ecgbeat.datasets.build_beats` on a fresh cache folder (reading the records, resampling,
cutting, RR features, patient templates and long-term RR, writing the cache), the patient context
alone (:class:`ecgbeat.dsp.context.PatientContext` over the built beats, record by record), and a
cache hit; reports the cache file size. Writes ``benchmarks/results/build.md`` and ``build.json``.

Usage::

    python benchmarks/build.py [--mitdb PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    commit, dirty = git_info()  # before the run: the commit of the code that runs
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mitdb", type=Path, default=None, help="MIT-BIH folder (default: $ECGBEAT_MITDB or ../shared)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)

    from ecgbeat.datasets import build_beats
    from ecgbeat.dsp.beats import BeatParams
    from ecgbeat.dsp.context import PatientContext
    from ecgbeat.io.atomic import json_text, write_text_atomic

    mitdb = args.mitdb or default_mitdb()
    params = BeatParams()
    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        beats = build_beats(mitdb=mitdb, params=params, cache_dir=cache)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        build_beats(mitdb=mitdb, params=params, cache_dir=cache)
        hit = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in Path(cache).rglob("*") if f.is_file())
    t0 = time.perf_counter()
    for name in np.unique(beats.record):  # beats of one record are in time order
        rows = beats.record == name
        PatientContext(params.template_beats, params.long_rr_beats).update(beats.X[rows], beats.rr_s[rows, 0])
    context = time.perf_counter() - t0

    result = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "git_commit": commit,
              "git_dirty": dirty, "cpu": cpu_name(), "n_records": int(len(np.unique(beats.record))),
              "n_beats": len(beats), "cold_seconds": round(cold, 2), "context_seconds": round(context, 2),
              "cache_hit_seconds": round(hit, 3), "cache_mb": round(size / 1e6, 1),
              "template_beats": params.template_beats, "long_rr_beats": params.long_rr_beats}
    md = "\n".join([
        "# Beat building (all MIT-BIH records)", "",
        f"{result['date']}, commit `{commit}`{' (uncommitted changes)' if dirty else ''}, {result['cpu']}.", "",
        "| | value |", "|---|---:|",
        f"| records / beats | {result['n_records']} / {result['n_beats']:,} |",
        f"| build, fresh cache (read, resample, cut, RR, patient context, write) | {cold:.1f} s |",
        f"| of which the patient context (templates of {params.template_beats} beats, "
        f"long-term RR of {params.long_rr_beats}) | {context:.1f} s |",
        f"| cache hit | {hit:.2f} s |",
        f"| cache size | {size / 1e6:.0f} MB |", ""])
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "build.md", md)
    write_text_atomic(args.out / "build.json", json_text(result, indent=1) + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
