"""Batch inference speed of every registered model: PyTorch vs ONNX Runtime on this CPU.

    python benchmarks/inference.py [--threads 2] [--batch 8192] [--repeats 3]

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
from ecgbeat.pipeline import git_commit

RESULTS = Path(__file__).resolve().parent / "results"


def rate(fn, x: np.ndarray, repeats: int) -> float:
    fn(x[: min(len(x), 4096)])  # warm-up
    t = time.perf_counter()
    for _ in range(repeats):
        fn(x)
    return repeats * len(x) / (time.perf_counter() - t)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--batch", type=int, default=8192)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--models", help="comma-separated (default: all registered)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    import onnxruntime as ort

    torch.set_num_threads(args.threads)
    x = np.random.default_rng(0).random((args.batch, 1, 187), dtype=np.float32)
    rows = []
    for name in args.models.split(",") if args.models else list_models():
        torch.manual_seed(0)
        model = create_model(name).eval()
        with torch.inference_mode():
            pt = rate(lambda b: model(torch.from_numpy(b)), x, args.repeats)  # noqa: B023
        with tempfile.TemporaryDirectory() as tmp:
            path = export_onnx(model, Path(tmp) / f"{name}.onnx")
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = args.threads
            sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            ox = rate(lambda b: sess.run(None, {"x": b}), x, args.repeats)  # noqa: B023
        rows.append({"model": name, "torch_beats_per_s": round(pt), "onnxruntime_beats_per_s": round(ox),
                     "parameters": sum(q.numel() for q in model.parameters())})
        print(f"{name}: torch {pt:,.0f}  onnxruntime {ox:,.0f} beats/s", flush=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "git_commit": git_commit(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores", "threads": args.threads,
            "batch": args.batch, "torch": torch.__version__, "onnxruntime": ort.__version__,
            "python": platform.python_version()}
    write_json_atomic(args.out / "inference.json", {"meta": meta, "rows": rows})
    lines = ["# Batch inference speed", "", f"{meta['date']}, commit `{meta['git_commit']}`, {meta['machine']}, "
             f"{args.threads} threads, batch {args.batch}, torch {meta['torch']}, onnxruntime {meta['onnxruntime']}.",
             "", "| model | parameters | PyTorch beats/s | ONNX Runtime beats/s |", "|---|---:|---:|---:|"]
    lines += [f"| `{r['model']}` | {r['parameters']:,} | {r['torch_beats_per_s']:,} "
              f"| {r['onnxruntime_beats_per_s']:,} |" for r in rows]
    write_text_atomic(args.out / "inference.md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
