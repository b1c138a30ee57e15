"""Cold start: how long each handler module takes to import in a fresh interpreter, and how big the layer is.

Import time is most of a Python Lambda's cold start that we control. Each handler is
imported in a new interpreter (as Lambda's init phase does), ``--repeat`` times; the
figure is the median wall time minus a bare interpreter's (the baseline, measured in
the same run), plus the heaviest imports from ``python -X importtime``.

The layer is built the way ``sam build`` builds it for Lambda (python3.12, manylinux
x86_64 wheels) into ``build/layer/python`` and zipped; its sizes are compared with
Lambda's limits (250 MB unzipped for function + layers, 50 MB zipped upload).

    .venv/bin/python benchmarks/coldstart.py [--repeat 5] [--no-layer]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = ["ingest_handler", "filter_matcher", "annotation_handler", "email_digest", "filter_api"]
LAMBDA_UNZIPPED_LIMIT_MB = 250


def _import_snippet(name: str) -> str:
    path = ROOT / "functions" / name / "app.py"
    return (
        "import importlib.util, sys;"
        f"spec = importlib.util.spec_from_file_location('app_{name}', {str(path)!r});"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)"
    )


@cache
def _env() -> dict[str, str]:
    """What a deployed function has: the template's environment (a handler builds its service at import,
    and settings have no defaults), pointing at loopback; dummy credentials."""
    from skystream.local.aws_endpoint import LOCAL_CREDENTIALS
    from skystream.local.stack import local_template

    return {**os.environ, **LOCAL_CREDENTIALS, **local_template("127.0.0.1:9092").environment,
            "POWERTOOLS_SERVICE_NAME": "bench"}


def _wall(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=_env(), capture_output=True)
    return time.perf_counter() - start


def _heaviest_imports(code: str, top: int = 5) -> list[tuple[str, float]]:
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=_env(), capture_output=True,
                            text=True, check=True)
    rows = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+\s+\|\s+(\d+)\s+\|(\s*)(\S+)", line)
        if match and len(match.group(2)) <= 2:  # top-level imports only
            rows.append((match.group(3), int(match.group(1)) / 1e6))
    return sorted(rows, key=lambda r: -r[1])[:top]


def measure_imports(repeat: int) -> dict[str, dict[str, object]]:
    baseline = statistics.median(_wall("pass") for _ in range(repeat))
    print(f"bare interpreter (baseline): {baseline * 1000:.0f} ms")
    figures: dict[str, dict[str, object]] = {"_baseline": {"median_s": round(baseline, 4)}}
    for name in HANDLERS:
        code = _import_snippet(name)
        median = statistics.median(_wall(code) for _ in range(repeat))
        heaviest = _heaviest_imports(code)
        figures[name] = {
            "median_s": round(median, 4),
            "import_s": round(median - baseline, 4),
            "ratio_to_baseline": round(median / baseline, 2),
            "heaviest": [[mod, round(sec, 4)] for mod, sec in heaviest],
        }
        heavy = ", ".join(f"{mod} {sec * 1000:.0f} ms" for mod, sec in heaviest)
        print(f"{name:20s} import {1000 * (median - baseline):6.0f} ms  ({median / baseline:.1f}x bare)  top: {heavy}")
    return figures


def _tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def build_layer() -> dict[str, float]:
    out = ROOT / "build" / "layer"
    shutil.rmtree(out, ignore_errors=True)
    target = out / "python"
    print("building the layer as sam build would (python3.12, manylinux_2_28 x86_64 wheels)...")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), "--platform",
         "manylinux_2_28_x86_64", "--platform", "manylinux2014_x86_64", "--implementation", "cp", "--python-version", "3.12", "--only-binary=:all:",
         "-r", str(ROOT / "layers" / "core" / "requirements.txt")],
        check=True,
    )
    shutil.copytree(ROOT / "layers" / "core" / "skystream", target / "skystream",
                    ignore=shutil.ignore_patterns("__pycache__", "local", "cli"))
    archive = out / "layer.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in target.rglob("*"):
            if file.is_file():
                zf.write(file, file.relative_to(out))
    unzipped = _tree_bytes(target) / 1e6
    zipped = archive.stat().st_size / 1e6
    biggest = sorted(((p.name, _tree_bytes(p) / 1e6) for p in target.iterdir() if p.is_dir()), key=lambda r: -r[1])[:5]
    print(f"layer: {unzipped:.1f} MB unzipped ({100 * unzipped / LAMBDA_UNZIPPED_LIMIT_MB:.0f}% of Lambda's "
          f"{LAMBDA_UNZIPPED_LIMIT_MB} MB), {zipped:.1f} MB zipped")
    print("  largest: " + ", ".join(f"{name} {mb:.1f} MB" for name, mb in biggest))
    return {"unzipped_mb": round(unzipped, 1), "zipped_mb": round(zipped, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="fresh interpreters per handler (default 5)")
    parser.add_argument("--no-layer", action="store_true", help="skip building the layer")
    args = parser.parse_args()
    imports = measure_imports(args.repeat)
    layer = None if args.no_layer else build_layer()
    print(json.dumps({"benchmark": "coldstart", "imports": imports, "layer": layer}))


if __name__ == "__main__":
    main()
