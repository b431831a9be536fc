"""Batch inference speed of every registered model: PyTorch vs ONNX Runtime on this CPU.

    python benchmarks/inference.py [--threads 2] [--batch 1024,8192] [--repeats 3]

Writes benchmarks/results/inference.md and .json (atomically). Weights are random: speed does
not depend on them.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ecgbeat.export import export_onnx
from ecgbeat.io.atomic import write_json_atomic, write_text_atomic
from ecgbeat.models import create_model, list_models

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import cpu_name, git_info  # noqa: E402  (beside this script)

RESULTS = Path(__file__).resolve().parent / "results"


def rate(fn, x: np.ndarray, batch: int, repeats: int) -> float:
    """Beats/s of ``fn`` over all of ``x`` in batches of ``batch`` (after one warm-up batch)."""
    fn(x[:batch])
    t = time.perf_counter()
    for _ in range(repeats):
        for start in range(0, len(x), batch):
            fn(x[start:start + batch])
    return repeats * len(x) / (time.perf_counter() - t)


def main(argv=None) -> int:
    commit, dirty = git_info()  # before the run: the commit of the code that runs (this repository's)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--batch", default="512,1024,8192", help="comma-separated batch sizes (default: 512,1024,8192)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--models", help="comma-separated (default: all registered)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    try:
        batches = [int(b) for b in args.batch.split(",")]
    except ValueError:
        p.error(f"--batch must be comma-separated whole numbers, got {args.batch!r}")
    for name, value in (("--batch", min(batches)), ("--repeats", args.repeats), ("--threads", args.threads)):
        if value < 1:
            p.error(f"{name} must be >= 1, got {value}")
    unknown = sorted(set(args.models.split(",")) - set(list_models())) if args.models else []
    if unknown:
        p.error(f"--models: unknown model(s) {', '.join(unknown)}; registered: {', '.join(list_models())}")
    import onnxruntime as ort

    torch.set_num_threads(args.threads)
    x = np.random.default_rng(0).random((max(16384, *batches), 1, 187), dtype=np.float32)
    rows = []
    for name in args.models.split(",") if args.models else list_models():
        torch.manual_seed(0)
        model = create_model(name).eval()
        row = {"model": name, "parameters": sum(q.numel() for q in model.parameters())}
        with tempfile.TemporaryDirectory() as tmp:
            path = export_onnx(model, Path(tmp) / f"{name}.onnx")
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = args.threads
            sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            for batch in batches:
                with torch.inference_mode():
                    pt = rate(lambda b: model(torch.from_numpy(b)), x, batch, args.repeats)  # noqa: B023
                ox = rate(lambda b: sess.run(None, {"x": b}), x, batch, args.repeats)  # noqa: B023
                row[f"torch_beats_per_s_batch{batch}"] = round(pt)
                row[f"onnxruntime_beats_per_s_batch{batch}"] = round(ox)
                print(f"{name} batch {batch}: torch {pt:,.0f}  onnxruntime {ox:,.0f} beats/s", flush=True)
        rows.append(row)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "git_commit": commit, "git_dirty": dirty,
            "command": " ".join(["python benchmarks/inference.py", *(sys.argv[1:] if argv is None else argv)]),
            "cpu": cpu_name(), "machine": f"{platform.machine()}, {os.cpu_count()} cores", "threads": args.threads,
            "batches": batches, "beats_per_measurement": len(x), "repeats": args.repeats,
            "torch": torch.__version__, "onnxruntime": ort.__version__, "python": platform.python_version()}
    write_json_atomic(args.out / "inference.json", {"meta": meta, "rows": rows})
    head = [f"PyTorch, batch {b}" for b in batches] + [f"ONNX Runtime, batch {b}" for b in batches]
    lines = ["# Batch inference speed (beats/s)", "",
             f"{meta['date']}, commit `{meta['git_commit']}`, {meta['machine']}, {args.threads} threads, "
             f"torch {meta['torch']}, onnxruntime {meta['onnxruntime']}; {len(x):,} random beats "
             f"(speed does not depend on the weights) in batches of each size, "
             f"{args.repeats} passes timed together after one warm-up batch.",
             "", "| model | parameters | " + " | ".join(head) + " |", "|---|---:|" + "---:|" * len(head)]
    for r in rows:
        cells = [r[f"torch_beats_per_s_batch{b}"] for b in batches] + [
            r[f"onnxruntime_beats_per_s_batch{b}"] for b in batches]
        lines.append(f"| `{r['model']}` | {r['parameters']:,} | " + " | ".join(f"{c:,}" for c in cells) + " |")
    write_text_atomic(args.out / "inference.md", "\n".join(lines) + "\n")
    return 0

if __name__ == "__main__":
    sys.exit(main())
