"""AF-gate detector benchmark: :func:`ecgbeat.dsp.rhythm.af_like` against the MIT-BIH rhythm annotations.

Every beat of every record (reference R peaks and the rhythm annotation in force, from the
``.atr`` file) is flagged or not from the previous RR intervals only, as ``analyze``/``stream``
with ``--af-gate`` do: once from all intervals and once leaving out the intervals next to beats
annotated V (the gate leaves out those next to the beats its model calls V). Reported per record
and pooled: beats annotated atrial fibrillation or flutter ("(AFIB", "(AFL") and the share flagged
(sensitivity), beats of every other rhythm and the share flagged, positive predictivity, and how
many S beats (AAMI) the gate would touch. The detector needs 128 intervals, so the first 127 beats
of a record are never flagged; beats of the first 127 of an episode are counted too (the onset
delay is part of the result). Writes
``benchmarks/results/af_detection.md`` and ``.json``.

Usage::

    python benchmarks/af_detection.py [--mitdb PATH] [--records 201,203] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
try:  # installed package, else the source tree
    import ecgbeat  # noqa: F401
except ImportError:  # pragma: no cover - depends on the environment
    sys.path.insert(0, str(REPO / "src"))

from bench_common import default_mitdb, git_info, machine  # noqa: E402  (beside this script)

RESULTS = REPO / "benchmarks" / "results"
AF_RHYTHMS = ("(AFIB", "(AFL")
#: detector variants: every RR interval, or those next to beats annotated V left out
VARIANTS = {"all": "All intervals", "skip_v": "V left out"}


def record_beats(mitdb: Path, name: str):
    """Reference beats of a record: sample, AAMI class letter, rhythm annotation in force; fs."""
    import wfdb

    from ecgbeat.labels import SYMBOL_TO_CLASS

    ann = wfdb.rdann(str(mitdb / name), "atr")
    rhythm, rows = "", []
    for s, sym, aux in zip(ann.sample, ann.symbol, ann.aux_note):
        if sym == "+":
            rhythm = aux.strip("\x00").strip()
        elif sym in SYMBOL_TO_CLASS:
            rows.append((int(s), SYMBOL_TO_CLASS[sym], rhythm))
    return (np.array([r[0] for r in rows]), np.array([r[1] for r in rows]), np.array([r[2] for r in rows]),
            float(ann.fs))


def main(argv: list[str] | None = None) -> int:
    commit, dirty = git_info()  # before the run: the commit of the code that runs
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mitdb", type=Path, default=None, help="MIT-BIH folder (default: $ECGBEAT_MITDB or ../shared)")
    p.add_argument("--records", default=None, help="comma-separated records (default: all 48)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)

    from ecgbeat.dsp.rhythm import af_like
    from ecgbeat.io.atomic import json_text, write_text_atomic
    from ecgbeat.labels import DS1, DS2, MITDB_RECORDS

    mitdb = args.mitdb or default_mitdb()
    records = tuple(args.records.split(",")) if args.records else MITDB_RECORDS
    t0 = time.perf_counter()
    rows = []
    for name in records:
        sample, cls, rhythm, fs = record_beats(mitdb, name)
        prev_rr = np.concatenate([[np.nan], np.diff(sample) / fs])
        af, s = np.isin(rhythm, AF_RHYTHMS), cls == "S"
        row = {"record": name, "set": "DS1" if name in DS1 else "DS2" if name in DS2 else "paced/other",
               "beats": int(len(sample)), "af": int(af.sum()), "other": int((~af).sum()), "s": int(s.sum())}
        for v in VARIANTS:
            flags = af_like(prev_rr, ectopic=cls == "V" if v == "skip_v" else None)
            row[v] = {"af_flagged": int((af & flags).sum()), "other_flagged": int((~af & flags).sum()),
                      "s_flagged": int((s & flags).sum())}
        rows.append(row)
    pooled = {v: {**{k: sum(r[k] for r in rows) for k in ("af", "other", "s")},
                  **{k: sum(r[v][k] for r in rows) for k in rows[0][v]}} for v in VARIANTS}

    def summary_of(p):
        flagged = p["af_flagged"] + p["other_flagged"]
        return {"af_sensitivity": p["af_flagged"] / p["af"] if p["af"] else None,
                "other_flagged_share": p["other_flagged"] / p["other"] if p["other"] else None,
                "ppv": p["af_flagged"] / flagged if flagged else None, **p}

    summary = {v: summary_of(pooled[v]) for v in VARIANTS}
    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), **machine(),
            "git_commit": commit,
            "git_dirty": dirty, "records": list(records), "seconds": round(time.perf_counter() - t0, 1),
            "variants": VARIANTS,
            "command": "python benchmarks/af_detection.py " + " ".join(argv if argv is not None else sys.argv[1:])}

    def pct(a, b):
        return f"{100 * a / b:.1f}" if b else "–"

    lines = ["# AF gate: the irregular-rhythm detector against MIT-BIH rhythm annotations", "",
             f"Generated {meta['date']} by `{meta['command']}` (commit `{commit}`"
             f"{', uncommitted changes' if dirty else ''}). `ecgbeat.dsp.rhythm.af_like` (Dash et al. 2009 "
             "statistics over the previous 128 RR intervals, published constants) on the reference R peaks; "
             "AF = beats under an `(AFIB` or `(AFL` rhythm annotation. Flags are causal: the first 127 beats of "
             "a record, and up to 127 beats after an onset, cannot be flagged. Two variants: *all intervals*, "
             "and *V left out*: the RR intervals that end or start at a beat annotated V are left out of the "
             "window (`af_like(..., ectopic=...)`). The gate in `evaluate`/`analyze`/`stream` leaves out the "
             "intervals next to the beats the *model* calls V, so its detector lies between the two "
             "(nearer the second as the model's V calls get better).", ""]
    for v, p in summary.items():
        lines += [f"**{VARIANTS[v]}, pooled over {len(records)} records**: AF / flutter beats flagged "
                  f"{pct(p['af_flagged'], p['af'])} % ({p['af_flagged']:,} of {p['af']:,}); other beats flagged "
                  f"{pct(p['other_flagged'], p['other'])} % ({p['other_flagged']:,} of {p['other']:,}); "
                  f"positive predictivity {pct(p['af_flagged'], p['af_flagged'] + p['other_flagged'])} %; S beats "
                  f"flagged (their S probability would go to N) {p['s_flagged']:,} of {p['s']:,}.", ""]
    head = " | ".join(f"{lab}: AF flagged % | other flagged % | S flagged" for lab in VARIANTS.values())
    lines += [f"| record | set | beats | AF / flutter beats | other beats | S beats | {head} |",
              "|---|---|---:|---:|---:|---:|" + "---:|" * (3 * len(VARIANTS))]
    def listed(r):  # AF annotated, or something flagged by either variant
        return r["af"] or any(r[v]["other_flagged"] or r[v]["s_flagged"] for v in VARIANTS)

    for r in filter(listed, rows):
        cells = " | ".join(f"{pct(r[v]['af_flagged'], r['af'])} | {pct(r[v]['other_flagged'], r['other'])} | "
                           f"{r[v]['s_flagged']}" for v in VARIANTS)
        lines.append(f"| {r['record']} | {r['set']} | {r['beats']} | {r['af']} | {r['other']} | {r['s']} | {cells} |")
    lines += ["", f"Records not listed: no AF / flutter annotated and nothing flagged "
              f"({sum(not listed(r) for r in rows)} records).", ""]
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "af_detection.md", "\n".join(lines))
    write_text_atomic(args.out / "af_detection.json",
                      json_text({"meta": meta, "summary": summary, "records": rows}, indent=1) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
