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
    """Short commit (``ecgbeat.pipeline.git_commit``) and whether tracked files have uncommitted changes."""
    from ecgbeat.pipeline import git_commit

    try:
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=10, cwd=REPO).stdout.strip())
    except Exception:
        dirty = None
    return git_commit(), dirty


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def kept_runs(folder: Path, models: set[str] | None = None) -> dict[str, dict[int, Path]]:
    """Inter-patient checkpoints kept by ``accuracy.py --keep-runs folder``: model -> seed -> model.json."""
    found: dict[str, dict[int, Path]] = defaultdict(dict)
    for d in sorted(Path(folder).iterdir()):
        m = re.match(r"inter-seed(\d+)-(\w+)$", d.name)
        if m and (d / "model.json").is_file() and (models is None or m.group(2) in models):
            found[m.group(2)][int(m.group(1))] = d / "model.json"
    return dict(found)
