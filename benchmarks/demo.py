"""What `make demo` measures, from a fresh clone: wall time (with creating .venv) and the demo's results.

    python benchmarks/demo.py                 # clone this repository's HEAD, run `make demo` there
    python benchmarks/demo.py --run runs/X    # only summarise a demo run folder made before

Writes benchmarks/results/demo.md and .json (atomically): accuracy, macro-F1, per-class sensitivity
and precision (scikit-learn's) and EC57 S / V (where a fusion beat called V is not a false V), the best
epoch, training / data / demo seconds, the wall time of the whole `make demo` including creating
`.venv` and installing (fresh clone only), seed, split, commit and machine. The README quotes it.
MIT-BIH comes from ``--mitdb``, else ``$ECGBEAT_MITDB``, else ``../shared/data/mitdb``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import REPO, cpu_name, default_mitdb, git_info, pct

from ecgbeat.io.atomic import write_json_atomic, write_text_atomic

RESULTS = Path(__file__).resolve().parent / "results"


def fresh_clone_demo(mitdb: Path, workdir: Path) -> tuple[Path, float]:
    """Clone HEAD of this repository into ``workdir`` and time ``make demo`` there (a new .venv)."""
    clone = workdir / "ecgbeat"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    env = {**os.environ, "ECGBEAT_MITDB": str(mitdb), "MPLBACKEND": "Agg"}
    env.pop("VIRTUAL_ENV", None)
    t = time.perf_counter()
    done = subprocess.run(["make", "demo"], cwd=clone, env=env)
    wall = time.perf_counter() - t
    if done.returncode:
        raise SystemExit(f"demo.py: `make demo` in the fresh clone {clone} failed (exit {done.returncode})")
    runs = sorted(p for p in (clone / "runs").glob("*") if (p / "run.json").is_file())
    if not runs:
        raise SystemExit(f"demo.py: `make demo` in {clone} wrote no runs/<timestamp>/run.json")
    return runs[-1], wall


def summarise(run: Path, wall_s: float | None, commit: str | None, dirty: bool | None) -> dict:
    """The demo run folder's numbers (run.json, metrics.json, model.json) as one result row."""
    try:
        return _row(run, wall_s, commit, dirty)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
        raise SystemExit(f"demo.py: {run} is not a finished demo run folder "
                         f"({type(e).__name__}: {e})") from None


def _row(run: Path, wall_s: float | None, commit: str | None, dirty: bool | None) -> dict:
    summary = json.loads((run / "run.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    meta = json.loads((run / "model.json").read_text())
    per_class = {c: {"sensitivity": v["sensitivity"], "precision": v["precision"], "support": v["support"]}
                 for c, v in metrics["per_class"].items()}
    ec57 = {c: {"sensitivity": metrics["ec57"][c]["sensitivity"], "ppv": metrics["ec57"][c]["ppv"]} for c in "SV"}
    return {
        "command": "make demo" + (" (fresh clone, new .venv)" if wall_s is not None else ""),
        "model": summary["model"], "split": summary["split"], "seed": summary["seed"],
        "epochs": meta["train_config"].get("epochs"), "batch_size": meta["train_config"].get("batch_size"),
        "best_epoch": meta.get("best_epoch"), "n_test": metrics["n"], "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"], "majority_baseline_accuracy": metrics["majority_baseline_accuracy"],
        "per_class": per_class, "ec57": ec57, "ece": metrics.get("ece"),
        "train_seconds": summary["train_seconds"], "data_seconds": summary["data_seconds"],
        "demo_seconds": summary["total_seconds"],
        "make_demo_wall_seconds": None if wall_s is None else round(wall_s, 1),
        "demo_git_commit": summary["environment"].get("git_commit"), "environment": summary["environment"],
        "git_commit": commit, "uncommitted_changes": dirty, "machine": f"{cpu_name()}, {os.cpu_count()} cores",
        # the day the run finished (its run.json), not the day it was summarised
        "date": time.strftime("%Y-%m-%d", time.localtime((run / "run.json").stat().st_mtime)), "run_dir": str(run),
    }


def render(r: dict) -> str:
    pc, e = r["per_class"], r["ec57"]
    wall = ("{} min {:02d} s".format(*divmod(round(r["make_demo_wall_seconds"]), 60))
            if r["make_demo_wall_seconds"] is not None else "not measured (a run folder summarised)")
    lines = [
        "# What `make demo` measured", "",
        f"`{r['command']}`, {r['date']}, {r['machine']}; python {r['environment'].get('python')}, torch "
        f"{r['environment'].get('torch')}; the demo ran commit {r['demo_git_commit']} (its checkpoint's record)"
        + (f"; summarised at commit {r['git_commit']}" if r["git_commit"] != r["demo_git_commit"] else "")
        + (" (with uncommitted changes)" if r["uncommitted_changes"] else "") + ".", "",
        f"Split {r['split']}, seed {r['seed']}; model `{r['model']}`, {r['epochs']} epochs (best on validation: "
        f"{r['best_epoch']}), batch {r['batch_size']}; {r['n_test']:,} test beats never used for selection.", "",
        "| accuracy | macro-F1 | majority class | S Se / precision | V Se / precision | F Se / precision | "
        "EC57 S Se / +P | EC57 V Se / +P |",
        "|---:|---:|---:|---|---|---|---|---|",
        f"| {100 * r['accuracy']:.2f} % | {r['macro_f1']:.4f} | {100 * r['majority_baseline_accuracy']:.2f} % | "
        + " | ".join(f"{pct(pc[c]['sensitivity'])} / {pct(pc[c]['precision'])}" for c in "SVF")
        + " | " + " | ".join(f"{pct(e[c]['sensitivity'])} / {pct(e[c]['ppv'])}" for c in "SV") + " |", "",
        "| building the beats | training | the demo, data to plots | the whole `make demo`, with creating .venv |",
        "|---:|---:|---:|---:|",
        f"| {r['data_seconds']:.0f} s | {r['train_seconds']:.0f} s | {r['demo_seconds']:.0f} s | {wall} |", "",
        "Per-class precision is scikit-learn's; EC57's V +P does not count a fusion beat called V as a false V "
        "(docs/inter_patient.md). Written by `benchmarks/demo.py`.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    commit, dirty = git_info()  # before the run: the commit of the code that runs
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, help="summarise this finished demo run folder instead of running the demo")
    p.add_argument("--mitdb", type=Path, default=None, help="MIT-BIH folder (default: $ECGBEAT_MITDB or "
                   "../shared/data/mitdb)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--stem", default="demo")
    args = p.parse_args(argv)
    if args.run is not None:
        row = summarise(args.run, None, commit, dirty)
    else:
        mitdb = (args.mitdb or default_mitdb()).resolve()
        if not (mitdb / "100.hea").is_file():
            raise SystemExit(f"demo.py: no MIT-BIH in {mitdb} (100.hea missing): pass --mitdb or set $ECGBEAT_MITDB")
        with tempfile.TemporaryDirectory(prefix="ecgbeat-demo-") as tmp:
            run, wall = fresh_clone_demo(mitdb, Path(tmp))
            row = summarise(run, wall, commit, False)  # the clone is HEAD, without this tree's changes
            row["run_dir"] = "(fresh clone, removed)"
    text = render(row)  # before writing either file: never a new .json beside a stale .md
    args.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out / f"{args.stem}.json", row)
    write_text_atomic(args.out / f"{args.stem}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
