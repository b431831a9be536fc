"""What every benchmark script needs: where MIT-BIH is, which commit and CPU produced a result."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def default_mitdb() -> Path:
    """``$ECGBEAT_MITDB``, else the shared copy beside the repository (``../shared/data/mitdb``)."""
    env = os.environ.get("ECGBEAT_MITDB")
    return Path(env) if env else REPO.parent / "shared" / "data" / "mitdb"


def git_info() -> tuple[str | None, bool | None]:
    """Short commit of the repository these scripts are in (``ecgbeat.pipeline.git_commit``), and
    whether its tracked files other than the benchmark results (which earlier benchmark runs rewrite)
    have uncommitted changes. Both come from that one repository, so a clone run with another tree's
    installed package records the clone."""
    from ecgbeat.pipeline import git_commit

    try:
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                     ":(exclude)benchmarks/results"],
                                    capture_output=True, text=True, timeout=10, cwd=REPO).stdout.strip())
    except Exception:
        dirty = None
    return git_commit(REPO), dirty


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> dict:
    """What ran a benchmark, for its result file: CPU, cores and Python (torch where it is loaded)."""
    import sys

    torch = sys.modules.get("torch")
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
            **({"torch": torch.__version__} if torch is not None else {})}


def kept_runs(folder: Path, models: set[str] | None = None) -> dict[str, dict[int, Path]]:
    """Inter-patient checkpoints kept by ``accuracy.py --keep-runs folder``: model -> seed -> model.json."""
    if not Path(folder).is_dir():
        raise SystemExit(f"{folder}: no such folder of kept runs (accuracy.py --keep-runs FOLDER makes one)")
    found: dict[str, dict[int, Path]] = defaultdict(dict)
    for d in sorted(Path(folder).iterdir()):
        m = re.match(r"inter-seed(\d+)-(\w+)$", d.name)
        if m and (d / "model.json").is_file() and (models is None or m.group(2) in models):
            found[m.group(2)][int(m.group(1))] = d / "model.json"
    return dict(found)


def stale_refit(run: Path, refit: Path) -> str | None:
    """Why the refit checkpoint ``refit`` (a model.json) is not the refit of the run ``run`` as that run
    is now (retrained into the same folder since, or another run's), or None when it is."""
    import json

    from ecgbeat.checkpoint import checkpoint_paths

    r, f = (json.loads(Path(x).read_text()) for x in (run, refit))
    made = f.get("refit_of") or {}
    if not made:
        return "not a refit"
    # by the run's folder name (inter-seed0-lstm), not its absolute path: runs and refits move together,
    # and `ecgbeat refit RUN_FOLDER` records the folder, not its model.json
    source = checkpoint_paths(made.get("checkpoint") or "", check=False)[1]
    if source.parent.name != Path(run).parent.name:
        return f"a refit of {made.get('checkpoint')}"
    if (made.get("best_epoch"), made.get("val_macro_f1")) != (r.get("best_epoch"), r.get("val_macro_f1")):
        return (f"a refit of an earlier training of it (best epoch {made.get('best_epoch')}, validation macro-F1 "
                f"{made.get('val_macro_f1')}; the run now: {r.get('best_epoch')}, {r.get('val_macro_f1')})")
    return None


def families(found: dict[str, dict[int, Path]], mix: bool = False) -> dict[str, dict[int, list[tuple[str, Path]]]]:
    """Kept runs as ensemble families: one per model (seed -> [(model, path)]), or with ``mix`` one
    family of all the models, each seed contributing one checkpoint per model (seeds all have)."""
    if not mix:
        return {m: {s: [(m, p)] for s, p in by_seed.items()} for m, by_seed in found.items()}
    seeds = sorted(set.intersection(*(set(by_seed) for by_seed in found.values())))
    return {"+".join(sorted(found)): {s: [(m, found[m][s]) for m in sorted(found)] for s in seeds}}


#: The EC57 numbers the ensemble and adaptation benchmarks report per row.
EC57_KEYS = ("accuracy",) + tuple(f"{c}_{m}" for c in "NSVF" for m in ("se", "ppv"))


def ec57_row(y, proba, classes) -> dict:
    """EC57 accuracy and Se / +P of N, S, V, F of ``proba.argmax(1)`` against ``y`` (keys :data:`EC57_KEYS`)."""
    from ecgbeat.metrics import ec57_metrics

    e = ec57_metrics(y, proba.argmax(1), classes)
    return {"accuracy": e["accuracy"], **{f"{c}_{m}": e[c][key] for c in "NSVF"
                                          for m, key in (("se", "sensitivity"), ("ppv", "ppv"))}}


def pct(x, digits: int = 1) -> str:
    """0.912 -> '91.2'; an undefined value (None, NaN: e.g. S +P with no S call) -> '–'."""
    return "–" if x is None or x != x else f"{100 * x:.{digits}f}"


def mean_std(rows: list[dict], keys=EC57_KEYS) -> dict:
    """``key`` -> mean and ``key_std`` -> sample std (0 for one row) over ``rows``; NaN when a row's
    value is undefined (None or NaN: JSON writes null), never a mean of the others that looks whole."""
    import numpy as np

    out = {}
    for k in keys:
        v = np.array([r[k] for r in rows], dtype=float)  # None (JSON's null) becomes NaN here
        out[k], out[f"{k}_std"] = float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0
    return out
