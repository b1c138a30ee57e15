"""Cold start: how long each handler module takes to import in a fresh interpreter, and how big the layer is.

Import time is most of a Python Lambda's cold start that we control. Each handler is
imported in a new interpreter (as Lambda's init phase does), ``--repeat`` times; the
figure is the median wall time minus a bare interpreter's (the baseline, measured in
the same run), plus the heaviest imports from ``python -X importtime``: the top-level
imports of the handler module (inclusive times), and the self times summed per
distribution (``botocore``, ``pydantic``...) or per skystream subpackage, which is where
the time actually goes.

The interpreter sees the environment the template gives the functions (every variable, as
the local template reader resolves it, with loopback endpoints that nothing listens on), so
a handler that builds its collaborators from the settings at import time is measured doing so.

The layer is the one ``sam build`` builds (``layers/core/Makefile``: python3.12 manylinux
x86_64 wheels, the runtime part of the package; see ``benchmarks/layer_size.py``, whose
dependency cache it shares), zipped; its sizes are compared with Lambda's limits (250 MB
unzipped for function + layers, 50 MB zipped upload).

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
from collections import Counter
from functools import cache
from pathlib import Path

import layer_size

from skystream.local.aws_endpoint import LOCAL_CREDENTIALS
from skystream.local.handlers import template_path
from skystream.local.processes import free_port
from skystream.local.template import load_template

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
    """The functions' environment from the template, pointed at a loopback port nothing listens on."""
    closed = free_port()
    template = load_template(template_path(), parameters={"KafkaBootstrapServers": f"127.0.0.1:{closed}",
                                                          "KafkaAuth": "none"})
    return {**os.environ, **LOCAL_CREDENTIALS, **template.environment, "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed}", "POWERTOOLS_TRACE_DISABLED": "true"}


def _wall(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=_env(), capture_output=True)
    return time.perf_counter() - start


def _importtime(code: str) -> list[tuple[str, int, float, float]]:
    """``-X importtime`` rows: (module, depth, self s, inclusive s)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=_env(), capture_output=True,
                            text=True, check=True)
    rows = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)", line)
        if match:
            depth = (len(match.group(3)) - 1) // 2
            rows.append((match.group(4), depth, int(match.group(1)) / 1e6, int(match.group(2)) / 1e6))
    return rows


def _heaviest_imports(rows: list[tuple[str, int, float, float]], top: int = 5) -> list[tuple[str, float]]:
    """The handler module's own imports (depth 0), by inclusive time."""
    heads = [(module, inclusive) for module, depth, _self, inclusive in rows if depth == 0]
    return sorted(heads, key=lambda r: -r[1])[:top]


def _by_package(rows: list[tuple[str, int, float, float]], top: int = 8) -> list[tuple[str, float]]:
    """Self time summed per top-level package (per subpackage for skystream): who pays for the import."""
    spent: Counter[str] = Counter()
    for module, _depth, self_s, _inclusive in rows:
        parts = module.split(".")
        spent[".".join(parts[:2]) if parts[0] == "skystream" else parts[0]] += self_s
    return spent.most_common(top)


def measure_imports(repeat: int) -> dict[str, dict[str, object]]:
    baseline = statistics.median(_wall("pass") for _ in range(repeat))
    print(f"bare interpreter (baseline): {baseline * 1000:.0f} ms")
    figures: dict[str, dict[str, object]] = {"_baseline": {"median_s": round(baseline, 4)}}
    for name in HANDLERS:
        code = _import_snippet(name)
        median = statistics.median(_wall(code) for _ in range(repeat))
        rows = _importtime(code)
        heaviest, by_package = _heaviest_imports(rows), _by_package(rows)
        figures[name] = {
            "median_s": round(median, 4),
            "import_s": round(median - baseline, 4),
            "ratio_to_baseline": round(median / baseline, 2),
            "heaviest": [[mod, round(sec, 4)] for mod, sec in heaviest],
            "self_by_package": [[pkg, round(sec, 4)] for pkg, sec in by_package],
        }
        heavy = ", ".join(f"{mod} {sec * 1000:.0f} ms" for mod, sec in heaviest)
        print(f"{name:20s} import {1000 * (median - baseline):6.0f} ms  ({median / baseline:.1f}x bare)  top: {heavy}")
        print(f"{'':20s} self time by package: " + ", ".join(f"{p} {s * 1000:.0f}" for p, s in by_package) + " ms")
    return figures


def layer_figures() -> dict[str, float]:
    """The runtime-only layer with its dependencies, as ``sam build`` builds it (layer_size.py's cache)."""
    print("the layer as sam build builds it (layers/core/Makefile)...")
    figures = layer_size.measure(with_deps=True, python312=shutil.which("python3.12"))
    after = figures.get("layer_after") or figures["layer_after_no_bytecode"]  # byte-code needs a python3.12
    assert isinstance(after, dict)
    unzipped, zipped = after["unzipped"] / 1e6, after["zipped"] / 1e6
    print(f"layer: {unzipped:.1f} MB unzipped ({100 * unzipped / LAMBDA_UNZIPPED_LIMIT_MB:.0f}% of Lambda's "
          f"{LAMBDA_UNZIPPED_LIMIT_MB} MB), {zipped:.1f} MB zipped")
    return {"unzipped_mb": round(unzipped, 1), "zipped_mb": round(zipped, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="fresh interpreters per handler (default 5)")
    parser.add_argument("--no-layer", action="store_true", help="skip building the layer")
    args = parser.parse_args()
    imports = measure_imports(args.repeat)
    layer = None if args.no_layer else layer_figures()
    print(json.dumps({"benchmark": "coldstart", "imports": imports, "layer": layer}))


if __name__ == "__main__":
    main()
