"""Layer size: the CoreLayer as it was built (the whole package) and as it is built now (runtime only).

Before: ``BuildMethod: python3.12`` put all of ``layers/core/skystream`` in the layer, the local
stack, the command line, the developer tools and the user clients included, and the
dependencies' wheels unpacked as they are (no byte-code). Now ``layers/core/Makefile``
(``BuildMethod: makefile``) copies only what the handlers import (``layers/core/build_layer.py``)
and compiles the layer to python3.12 byte-code. Both are measured with the same dependencies:
the Makefile's own pip install of ``layers/core/requirements.txt`` (python3.12 manylinux x86_64
binary wheels), built once and cached under ``build/layer-size/`` by the hash of the
requirements and the pip options.

Sizes: unzipped = the bytes of the files; zipped = a deflate zip as ``sam package`` uploads
it (level 6). Lambda's limits: 250 MB unzipped for a function and all its layers, 50 MB for
a zipped upload (larger layers go through S3, which ``sam deploy`` does). The "before"
package is measured without ``__pycache__`` directories (SAM's python builder leaves them out).

Then, with a Python 3.12 interpreter (Lambda's runtime version; ``--python312``, default
``python3.12`` on PATH), each handler of the template is imported from the layer alone
(``-I -S -B``: no site-packages, no byte-code written, only the layer's python/ and the
function's code directory, as in Lambda, where /opt is read-only) with the environment the
template gives the functions, without and with the layer's byte-code. This shows the built
layer is complete for the runtime and what the byte-code saves at each cold start. (Without
byte-code the import time of the before layer is the same: the handlers import none of the
left-out packages.)

    .venv/bin/python benchmarks/layer_size.py [--no-deps] [--refresh-deps] [--python312 PATH]

``--no-deps`` measures the package alone (no pip install, no network): under a second.

The HistoryLayer (issue 17: DuckDB for the history writer and the history's engines,
``layers/history/Makefile``) is measured the same way, alone and added to the CoreLayer (the functions
that carry both must stay under the 250 MB limit together). For comparison, pyarrow (what pyiceberg's
writes need) is installed with the same wheel options and measured alone (docs/history.md, "Storage format").
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
LAYER_SOURCE = ROOT / "layers" / "core"
PACKAGE = LAYER_SOURCE / "skystream"
CACHE = ROOT / "build" / "layer-size"
LAMBDA_UNZIPPED_LIMIT = 250_000_000
LAMBDA_ZIPPED_UPLOAD_LIMIT = 50_000_000


@dataclass(frozen=True)
class Size:
    files: int
    unzipped: int  # bytes
    zipped: int  # bytes

    def __add__(self, other: Size) -> Size:
        return Size(self.files + other.files, self.unzipped + other.unzipped, self.zipped + other.zipped)


def build_layer_module() -> ModuleType:
    """``layers/core/build_layer.py``, the copy step of the Makefile (not part of the package)."""
    spec = importlib.util.spec_from_file_location("build_layer", LAYER_SOURCE / "build_layer.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make(target: str, artifacts: Path, *variables: str) -> Path:
    """Run a target of the layer's Makefile (``build-CoreLayer`` is what ``sam build`` runs); returns python/."""
    subprocess.run(["make", "-s", "-C", str(LAYER_SOURCE), target, f"ARTIFACTS_DIR={artifacts}",
                    f"PYTHON={sys.executable}", *variables], check=True, stdout=subprocess.DEVNULL)
    return artifacts / "python"


def _pip_options_key() -> str:
    """What decides the dependencies: the requirements and the Makefile's pip options."""
    makefile = [line for line in (LAYER_SOURCE / "Makefile").read_text().splitlines()
                if "--platform" in line or "--python-version" in line or "pip install" in line]
    return hashlib.sha256((LAYER_SOURCE / "requirements.txt").read_bytes()
                          + "\n".join(makefile).encode()).hexdigest()[:12]


def dependencies(refresh: bool = False) -> Path:
    """The layer's dependencies as the Makefile installs them, cached by what decides them."""
    cached = CACHE / f"deps-{_pip_options_key()}"
    if cached.is_dir() and not refresh:
        print(f"dependencies: cached in {cached.relative_to(ROOT)}")
        return cached
    shutil.rmtree(cached, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    print("dependencies: make build-CoreLayer (pip install of layers/core/requirements.txt, python3.12 wheels)...")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        python = make("build-CoreLayer", Path(scratch), "BYTECODE=0")
        shutil.rmtree(python / PACKAGE.name)
        python.rename(cached)
    print(f"  {time.perf_counter() - start:.0f} s")
    return cached


HISTORY_SOURCE = ROOT / "layers" / "history"


def _pip_install(target: Path, *requirements: str) -> None:
    """``pip install`` with the layers' wheel options (python3.12 manylinux x86_64 binaries) into ``target``."""
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--no-warn-conflicts",
                    "--disable-pip-version-check", "--platform", "manylinux_2_28_x86_64", "--platform",
                    "manylinux2014_x86_64", "--implementation", "cp", "--python-version", "3.12",
                    "--only-binary=:all:", "--target", str(target), *requirements], check=True)


def history_layer(refresh: bool = False) -> Path:
    """The HistoryLayer's python/ as ``make build-HistoryLayer`` installs it, cached by its requirements."""
    key = hashlib.sha256((HISTORY_SOURCE / "requirements.txt").read_bytes()
                         + (HISTORY_SOURCE / "Makefile").read_bytes()).hexdigest()[:12]
    cached = CACHE / f"history-{key}"
    if cached.is_dir() and not refresh:
        return cached
    shutil.rmtree(cached, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        subprocess.run(["make", "-s", "-C", str(HISTORY_SOURCE), "build-HistoryLayer", f"ARTIFACTS_DIR={scratch}",
                        f"PYTHON={sys.executable}"], check=True, stdout=subprocess.DEVNULL)
        (Path(scratch) / "python").rename(cached)
    return cached


def pyarrow_alone(refresh: bool = False) -> Path:
    cached = CACHE / "pyarrow"
    if cached.is_dir() and not refresh:
        return cached
    shutil.rmtree(cached, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    _pip_install(cached, "pyarrow")
    return cached


def whole_package(dest: Path) -> Path:
    """What ``BuildMethod: python3.12`` copied: the whole package (byte-code caches left out)."""
    shutil.copytree(PACKAGE, dest / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def size(*roots: Path) -> Size:
    """Files, bytes and deflate-zipped bytes of everything under ``roots`` (each root = the layer's python/)."""
    buffer = io.BytesIO()
    files = unzipped = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for root in roots:
            for path in _files(root):
                archive.write(path, "python/" + path.relative_to(root).as_posix())
                files += 1
                unzipped += path.stat().st_size
    return Size(files, unzipped, len(buffer.getvalue()))


def _mb(n: int) -> str:
    return f"{n / 1e6:7.2f} MB"


def _row(label: str, s: Size) -> str:
    return f"{label:36s} {s.files:6d} {_mb(s.unzipped)} {_mb(s.zipped)}"


def largest(root: Path, top: int = 6) -> list[tuple[str, int]]:
    sizes = [(p.name, sum(f.stat().st_size for f in _files(p))) for p in root.iterdir() if p.is_dir()
             and not p.name.endswith(".dist-info")]
    return sorted(sizes, key=lambda r: -r[1])[:top]


_IMPORT_FROM_LAYER = """
import importlib, sys, time
code_dir, *layer = sys.argv[1:]
sys.path[:0] = [code_dir, *layer]
start = time.perf_counter()
importlib.import_module("app")
elapsed = time.perf_counter() - start
outside = [n for n, m in sys.modules.items() if n.startswith("skystream") and not any(
    (getattr(m, "__file__", None) or layer[0]).startswith(d) for d in layer)]
assert not outside, f"skystream modules from outside the layer: {outside}"
print(elapsed)
"""


def import_from_layer(python: str, layer_dirs: list[Path], label: str, repeat: int = 3) -> dict[str, float]:
    """Median import time of each template handler under ``python`` with only ``layer_dirs`` on its path."""
    sys.path.insert(0, str(LAYER_SOURCE))
    from skystream.local.aws_endpoint import LOCAL_CREDENTIALS
    from skystream.local.template import load_template

    template = load_template(ROOT / "infra" / "template.yaml",
                             parameters={"KafkaBootstrapServers": "127.0.0.1:9", "KafkaAuth": "none"})
    env = {**LOCAL_CREDENTIALS, **template.environment, "AWS_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1",
           "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "POWERTOOLS_TRACE_DISABLED": "true"}
    print(f"each handler imported by {python} from the layer alone, {label}:")
    figures: dict[str, float] = {}
    for spec in sorted(template.functions.values(), key=lambda s: s.code_dir):
        times = []
        for _ in range(repeat):
            result = subprocess.run([python, "-I", "-S", "-B", "-c", _IMPORT_FROM_LAYER, str(ROOT / spec.code_dir),
                                     *map(str, layer_dirs)], env=env, capture_output=True, text=True)
            if result.returncode != 0:
                raise SystemExit(f"{spec.code_dir} does not import from the layer:\n{result.stderr[-2000:]}")
            times.append(float(result.stdout.strip().splitlines()[-1]))
        name = Path(spec.code_dir).name
        figures[name] = round(statistics.median(times), 4)
        print(f"  {name:20s} imports, {1000 * figures[name]:5.0f} ms (median of {repeat})")
    return figures


def _print_limits(label: str, s: Size) -> None:
    print(f"  {label}: {100 * s.unzipped / LAMBDA_UNZIPPED_LIMIT:.1f}% of Lambda's 250 MB unzipped, "
          f"{100 * s.zipped / LAMBDA_ZIPPED_UPLOAD_LIMIT:.1f}% of its 50 MB zipped upload")


def _runs(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 12))"],
                           capture_output=True, text=True)
    if probe.returncode != 0:  # e.g. a pyenv shim for a version that is installed but not selected
        print(f"  ({python} is not a working Python 3.12, so there is no byte-code figure and the handlers were not "
              "imported from the built layer; give --python312 PATH)")
    return probe.returncode == 0


def measure(*, with_deps: bool, refresh_deps: bool = False, python312: str | None = None) -> dict[str, object]:
    """Both layers' sizes (package alone, and with the dependencies when ``with_deps``), printed and returned."""
    excluded = sorted(build_layer_module().DEV_ONLY_PACKAGES)
    with tempfile.TemporaryDirectory() as scratch:
        before_dir = whole_package(Path(scratch) / "before")
        after_dir = make("build-CoreLayer", Path(scratch) / "after", "SKIP_DEPS=1", "BYTECODE=0")
        before, after = size(before_dir), size(after_dir)
        result: dict[str, object] = {"excluded": excluded, "package_before": asdict(before),
                                     "package_after": asdict(after)}
        print(f"{'':36s} {'files':>6s} {'unzipped':>10s} {'zipped':>10s}")
        print(_row("package, whole (before)", before))
        print(_row("package, runtime only (after)", after))
        print(f"  left out: {', '.join(excluded)}: {100 * (1 - after.unzipped / before.unzipped):.0f}% of the package "
              f"unzipped, {100 * (1 - after.zipped / before.zipped):.0f}% zipped")
        if not with_deps:
            return result
        deps_dir = dependencies(refresh_deps)
        deps = size(deps_dir)
        layer_before, layer_after = size(deps_dir, before_dir), size(deps_dir, after_dir)
        print(_row("dependencies", deps))
        print(_row("layer, before", layer_before))
        print(_row("layer, after, without byte-code", layer_after))
        result |= {"deps": asdict(deps), "layer_before": asdict(layer_before),
                   "layer_after_no_bytecode": asdict(layer_after)}
        if python312 and _runs(python312):
            compiled = Path(scratch) / "compiled"
            shutil.copytree(deps_dir, compiled / "python")
            shutil.copytree(after_dir / PACKAGE.name, compiled / "python" / PACKAGE.name)
            make("bytecode", compiled, f"RUNTIME_PYTHON={python312}")
            layer_compiled = size(compiled / "python")
            print(_row("layer, after (with byte-code)", layer_compiled))
            _print_limits("before", layer_before)
            _print_limits("after", layer_compiled)
            result["layer_after"] = asdict(layer_compiled)
            result["imports_python312_no_bytecode_s"] = import_from_layer(python312, [after_dir, deps_dir],
                                                                          "without byte-code (as before)")
            result["imports_python312_bytecode_s"] = import_from_layer(python312, [compiled / "python"],
                                                                       "with the layer's byte-code (after)")
        else:
            _print_limits("before", layer_before)
            _print_limits("after, without byte-code", layer_after)
        biggest = largest(deps_dir)
        print("  largest dependencies: " + ", ".join(f"{name} {n / 1e6:.1f} MB" for name, n in biggest))
        result["largest_deps_bytes"] = dict(biggest)
        history = size(history_layer(refresh_deps))
        both = layer_after + history
        print(_row("HistoryLayer (duckdb)", history))
        print(_row("CoreLayer + HistoryLayer", both))
        print(f"  CoreLayer + HistoryLayer, without byte-code: {100 * both.unzipped / LAMBDA_UNZIPPED_LIMIT:.1f}% of "
              "Lambda's 250 MB unzipped (each layer uploaded on its own)")
        arrow = size(pyarrow_alone(refresh_deps))
        print(_row("pyarrow alone (for comparison)", arrow))
        print(f"  CoreLayer + pyarrow: {_mb(layer_after.unzipped + arrow.unzipped)} of "
              f"{_mb(LAMBDA_UNZIPPED_LIMIT)} unzipped")
        result |= {"history_layer": asdict(history), "core_plus_history_no_bytecode": asdict(both),
                   "pyarrow_alone": asdict(arrow)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-deps", action="store_true", help="the package alone: no pip install, no network")
    parser.add_argument("--refresh-deps", action="store_true", help="reinstall the cached dependencies")
    parser.add_argument("--python312", default=shutil.which("python3.12"), metavar="PATH",
                        help="the interpreter that imports each handler from the built layer (default: python3.12 "
                             "on PATH; '' skips it)")
    args = parser.parse_args()
    result = measure(with_deps=not args.no_deps, refresh_deps=args.refresh_deps, python312=args.python312 or None)
    print(json.dumps({"benchmark": "layer_size", **result}))


if __name__ == "__main__":
    main()
