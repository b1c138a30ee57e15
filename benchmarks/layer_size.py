"""Layer size: the CoreLayer as it was built (the whole package) and as it is built now (runtime only).

Before: ``BuildMethod: python3.12`` put all of ``layers/core/skystream`` in the layer, the local
stack, the command line, the developer tools and the user clients included. Now
``layers/core/Makefile`` (``BuildMethod: makefile``) copies only what the handlers import
(``layers/core/build_layer.py``). Both are measured with the same dependencies: the
Makefile's own pip install of ``layers/core/requirements.txt`` (python3.12 manylinux x86_64
binary wheels, no byte-code), built once and cached under ``build/layer-size/`` by the hash
of the requirements and the Makefile.

Sizes: unzipped = the bytes of the files; zipped = a deflate zip as ``sam package`` uploads
it (level 6). Lambda's limits: 250 MB unzipped for a function and all its layers, 50 MB for
a zipped upload (larger layers go through S3, which ``sam deploy`` does).

The "before" package is measured without ``__pycache__`` directories; a python3.12 build
from a checkout where tests had run would also have carried them, so the real before was
larger still.

    .venv/bin/python benchmarks/layer_size.py [--no-deps] [--refresh-deps]

``--no-deps`` measures the package alone (no pip install, no network): seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import shutil
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


def make_layer(artifacts: Path, *, skip_deps: bool) -> Path:
    """Run the Makefile target ``sam build`` runs; returns the layer's python/ directory."""
    command = ["make", "-s", "-C", str(LAYER_SOURCE), "build-CoreLayer", f"ARTIFACTS_DIR={artifacts}",
               f"PYTHON={sys.executable}"]
    subprocess.run(command + (["SKIP_DEPS=1"] if skip_deps else []), check=True, stdout=subprocess.DEVNULL)
    return artifacts / "python"


def dependencies(refresh: bool = False) -> Path:
    """The layer's dependencies as the Makefile installs them, cached by what decides them."""
    key = hashlib.sha256((LAYER_SOURCE / "requirements.txt").read_bytes()
                         + (LAYER_SOURCE / "Makefile").read_bytes()).hexdigest()[:12]
    cached = CACHE / f"deps-{key}"
    if cached.is_dir() and not refresh:
        print(f"dependencies: cached in {cached.relative_to(ROOT)}")
        return cached
    shutil.rmtree(cached, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    print("dependencies: make build-CoreLayer (pip install of layers/core/requirements.txt, python3.12 wheels)...")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        python = make_layer(Path(scratch), skip_deps=False)
        shutil.rmtree(python / PACKAGE.name)
        python.rename(cached)
    print(f"  {time.perf_counter() - start:.0f} s")
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
    return f"{label:28s} {s.files:6d} {_mb(s.unzipped)} {_mb(s.zipped)}"


def largest(root: Path, top: int = 6) -> list[tuple[str, int]]:
    sizes = [(p.name, sum(f.stat().st_size for f in _files(p))) for p in root.iterdir() if p.is_dir()
             and not p.name.endswith(".dist-info")]
    return sorted(sizes, key=lambda r: -r[1])[:top]


def measure(*, with_deps: bool, refresh_deps: bool = False) -> dict[str, object]:
    """Both layers' sizes (package alone, and with the dependencies when ``with_deps``), printed and returned."""
    excluded = sorted(build_layer_module().DEV_ONLY_PACKAGES)
    with tempfile.TemporaryDirectory() as scratch:
        before_dir = whole_package(Path(scratch) / "before")
        after_dir = make_layer(Path(scratch) / "after", skip_deps=True)
        before, after = size(before_dir), size(after_dir)
        result: dict[str, object] = {"excluded": excluded, "package_before": asdict(before),
                                     "package_after": asdict(after)}
        print(f"{'':28s} {'files':>6s} {'unzipped':>10s} {'zipped':>10s}")
        print(_row("package, whole (before)", before))
        print(_row("package, runtime (after)", after))
        print(f"  left out: {', '.join(excluded)}: {100 * (1 - after.unzipped / before.unzipped):.0f}% of the package "
              f"unzipped, {100 * (1 - after.zipped / before.zipped):.0f}% zipped")
        if with_deps:
            deps_dir = dependencies(refresh_deps)
            deps = size(deps_dir)
            layer_before, layer_after = size(deps_dir, before_dir), size(deps_dir, after_dir)
            print(_row("dependencies", deps))
            print(_row("layer, before", layer_before))
            print(_row("layer, after", layer_after))
            for label, s in (("before", layer_before), ("after", layer_after)):
                print(f"  {label}: {100 * s.unzipped / LAMBDA_UNZIPPED_LIMIT:.1f}% of Lambda's 250 MB unzipped, "
                      f"{100 * s.zipped / LAMBDA_ZIPPED_UPLOAD_LIMIT:.1f}% of its 50 MB zipped upload")
            biggest = largest(deps_dir)
            print("  largest dependencies: " + ", ".join(f"{name} {n / 1e6:.1f} MB" for name, n in biggest))
            result |= {"deps": asdict(deps), "layer_before": asdict(layer_before), "layer_after": asdict(layer_after),
                       "largest_deps_bytes": dict(biggest)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-deps", action="store_true", help="the package alone: no pip install, no network")
    parser.add_argument("--refresh-deps", action="store_true", help="reinstall the cached dependencies")
    args = parser.parse_args()
    result = measure(with_deps=not args.no_deps, refresh_deps=args.refresh_deps)
    print(json.dumps({"benchmark": "layer_size", **result}))


if __name__ == "__main__":
    main()
