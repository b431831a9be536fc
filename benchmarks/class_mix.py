"""AAMI classes by record and by inter-patient set: who holds the S and V beats of DS1 and DS2.

Counts the beats :func:`ecgbeat.datasets.build_beats` builds (the beats every benchmark trains and
tests on) per record and class, sums them per set (DS1, DS2, paced), and for S and V names the
records holding the largest share of their set's beats of that class. For DS2 it also reports how
many of the largest S record's beats an inter-patient model must find to reach a given S
sensitivity (``--target-se``) if it found every other S beat of DS2: with MIT-BIH that is the
question of whether one patient (232) decides the S target. Writes ``class_mix.md`` and
``class_mix.json``.

Usage::

    python benchmarks/class_mix.py [--mitdb PATH] [--records 100,209,232] [--out DIR]
"""

from __future__ import annotations

import argparse
import math
import sys
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


def record_set(record: str) -> str:
    from ecgbeat.labels import DS1, DS2, PACED_RECORDS

    return "DS1" if record in DS1 else "DS2" if record in DS2 else "paced" if record in PACED_RECORDS else "other"


def class_mix(records: np.ndarray, y: np.ndarray, classes: tuple[str, ...], target_se: float = 0.8) -> dict:
    """Per record and per set: beats of each class; per set and class S / V: the records with the
    largest share of the set's beats of that class; for DS2's largest S record, the beats of it a
    model needs for ``target_se`` when it finds every other S beat of DS2 (``s_target``)."""
    per_record = []
    for r in sorted(np.unique(records)):
        counts = np.bincount(y[records == r], minlength=len(classes))
        per_record.append({"record": str(r), "set": record_set(str(r)), "n": int(counts.sum()),
                           **{c: int(counts[i]) for i, c in enumerate(classes)}})
    sets = {}
    for name in ("DS1", "DS2", "paced", "other"):
        rows = [row for row in per_record if row["set"] == name]
        if not rows:
            continue
        total = {c: sum(row[c] for row in rows) for c in classes}
        top = {}
        for c in ("S", "V") if name in ("DS1", "DS2") else ():
            if total[c]:
                ranked = sorted(rows, key=lambda row: -row[c])[:3]
                top[c] = [{"record": row["record"], "beats": row[c], "share_of_class": row[c] / total[c],
                           "share_of_record": row[c] / row["n"]} for row in ranked]
        sets[name] = {"records": [row["record"] for row in rows], "n": sum(row["n"] for row in rows),
                      **total, "top": top}
    result = {"per_record": per_record, "sets": sets}
    ds2 = sets.get("DS2")
    if ds2 and ds2["S"]:
        top = ds2["top"]["S"][0]
        need = max(0, math.ceil(target_se * ds2["S"]) - (ds2["S"] - top["beats"]))
        result["s_target"] = {"target_se": target_se, "record": top["record"], "record_s": top["beats"],
                              "other_s": ds2["S"] - top["beats"], "needed_from_record": need,
                              "needed_share_of_record": need / top["beats"]}
    return result


def markdown(result: dict, classes: tuple[str, ...], header: str) -> str:
    lines = ["# AAMI classes by record and inter-patient set", "", header, ""]
    sets = result["sets"]
    lines += ["| set | records | beats | " + " | ".join(classes) + " |", "|---|---:|---:|" + "---:|" * len(classes)]
    for name, s in sets.items():
        counts = " | ".join(f"{s[c]:,}" for c in classes)
        lines.append(f"| {name} | {len(s['records'])} | {s['n']:,} | {counts} |")
    lines += ["", "Records holding most of a set's S and V beats (share of the set's beats of that class; share "
              "of the record's own beats):", ""]
    for name, s in sets.items():
        for c, top in s["top"].items():
            listed = ", ".join(f"{t['record']} {t['beats']:,} ({100 * t['share_of_class']:.1f} %; "
                               f"{100 * t['share_of_record']:.1f} % of its beats)" for t in top)
            lines.append(f"- {name} {c}: {listed}")
    if "s_target" in result:
        t = result["s_target"]
        lines += ["", f"For S sensitivity ≥ {100 * t['target_se']:.0f} % on DS2, a model that found all "
                  f"{t['other_s']:,} S beats outside record {t['record']} would still need "
                  f"{t['needed_from_record']:,} of its {t['record_s']:,} ({100 * t['needed_share_of_record']:.0f} %)."]
        n_of = {row["record"]: row["n"] for row in result["per_record"]}
        ds1 = [row["S"] / row["n"] for row in result["per_record"] if row["set"] == "DS1" and row["n"]]
        if ds1:
            lines.append(f"The largest share of S beats among one DS1 record's beats is {100 * max(ds1):.1f} %; "
                         f"record {t['record']}'s is {100 * t['record_s'] / n_of[t['record']]:.1f} %.")
    lines += ["", "| record | set | beats | " + " | ".join(classes) + " |", "|---|---|---:|" + "---:|" * len(classes)]
    for row in result["per_record"]:
        counts = " | ".join(f"{row[c]:,}" for c in classes)
        lines.append(f"| {row['record']} | {row['set']} | {row['n']:,} | {counts} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    commit, dirty = git_info()  # before the run: the commit of the code that runs
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mitdb", type=Path, default=None, help="MIT-BIH folder (default: $ECGBEAT_MITDB or ../shared)")
    p.add_argument("--records", default=None, help="comma-separated records (default: all 48)")
    p.add_argument("--target-se", type=float, default=0.8, help="S sensitivity to size (default 0.8)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)

    from ecgbeat.datasets import build_beats
    from ecgbeat.errors import EcgbeatError
    from ecgbeat.io.atomic import json_text, write_text_atomic
    from ecgbeat.labels import MITDB_RECORDS

    records = [r.strip() for r in args.records.split(",") if r.strip()] if args.records else list(MITDB_RECORDS)
    try:
        beats = build_beats(records, mitdb=args.mitdb or default_mitdb())
    except EcgbeatError as exc:
        print(f"class_mix.py: error: {exc}", file=sys.stderr)
        return 2
    result = class_mix(beats.record, beats.y, tuple(beats.classes), args.target_se)
    result["meta"] = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "git_commit": commit,
                      "git_dirty": dirty, "records": records, "n_beats": len(beats)}
    header = (f"{result['meta']['date']}, commit `{commit}`{' (uncommitted changes)' if dirty else ''}; the beats "
              f"`build_beats` cuts from {len(records)} records ({len(beats):,} beats), paced records apart as in EC57.")
    md = markdown(result, tuple(beats.classes), header)
    stem = "class_mix" if not args.records else "class_mix_subset"
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / f"{stem}.md", md)
    write_text_atomic(args.out / f"{stem}.json", json_text(result, indent=1) + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
