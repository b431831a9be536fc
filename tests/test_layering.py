"""Dependencies point one way: io -> dsp -> datasets -> models -> training/predict -> viz -> cli."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "ecgbeat"


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the package path
                parts = path.relative_to(PKG).parent.parts
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join(("ecgbeat", *parts, base)).rstrip(".")
            names.add(base)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_no_layer_imports_upwards():
    forbidden = {
        "dsp": ("torch", "wfdb", "ecgbeat.io", "ecgbeat.models", "ecgbeat.training", "ecgbeat.cli"),
        "metrics": ("torch", "ecgbeat.io", "ecgbeat.cli"),
        "models": ("ecgbeat.io", "ecgbeat.training", "ecgbeat.viz", "ecgbeat.cli", "ecgbeat.pipeline"),
        "io": ("torch", "ecgbeat.models", "ecgbeat.training", "ecgbeat.cli"),
        "self_training": ("torch", "ecgbeat.io", "ecgbeat.models", "ecgbeat.training", "ecgbeat.predict",
                          "ecgbeat.analyze", "ecgbeat.stream", "ecgbeat.viz", "ecgbeat.pipeline", "ecgbeat.cli"),
    }
    problems = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        layer = rel.parts[0].removesuffix(".py")
        for name in imports_of(path):
            if name.startswith("ecgbeat.cli") and layer != "cli" and rel.name != "__main__.py":
                problems.append(f"{rel} imports {name}")
            for bad in forbidden.get(layer, ()):
                if name == bad or name.startswith(bad + "."):
                    problems.append(f"{rel} imports {name}")
    assert not problems, problems


def test_import_is_light():
    import subprocess
    import sys

    code = "import sys, ecgbeat; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
