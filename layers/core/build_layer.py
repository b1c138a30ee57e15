"""Copy the runtime part of the ``skystream`` package into a Lambda layer (``make build-CoreLayer`` calls this).

The layer holds what the five handlers import and nothing else: the developer tools live in the
same package (one ``pip install -e .``) but never run in Lambda, so they stay out of it:

- ``local/``    the embedded local stack (broker, moto endpoint, function host, template reader);
- ``cli/``      the ``skystream`` command line;
- ``devtools/`` the alert generator, plots, the mailbox reader, fixtures;
- ``clients/``  programs for users of the service (the Lasair-style consumer, the API client).

The import contracts (``pyproject.toml``, ``lint-imports``) put these four above everything the
handlers load, so leaving them out cannot break a handler; ``tests/unit/test_layer.py`` imports
each handler from a built layer to show it. Byte-code caches and build metadata stay out too
(Lambda's ``/opt`` is read-only and the runtime is python3.12, so a cache built here is never used).

Standard library only: ``sam build`` runs it with whatever ``python3`` the build host has.

    python3 build_layer.py DEST      # DEST/skystream/... (sam build: DEST = $ARTIFACTS_DIR/python)
    python3 build_layer.py --list    # the files that would be copied, one per line
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent / "skystream"

# Subpackages of skystream that no handler imports (see the module docstring for what each is).
DEV_ONLY_PACKAGES = frozenset({"local", "cli", "devtools", "clients"})
# Names never copied, at any depth.
SKIPPED_NAMES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".DS_Store"})
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".dist-info")


def _skipped(relative: Path) -> bool:
    if relative.parts and relative.parts[0] in DEV_ONLY_PACKAGES:
        return True
    return any(part in SKIPPED_NAMES or part.endswith(SKIPPED_SUFFIXES) for part in relative.parts)


def runtime_files(package: Path = PACKAGE) -> list[Path]:
    """Every file of the package the layer carries, relative to the package directory, sorted."""
    return sorted(
        path.relative_to(package)
        for path in package.rglob("*")
        if path.is_file() and not _skipped(path.relative_to(package))
    )


def copy_runtime(dest: Path, package: Path = PACKAGE) -> list[Path]:
    """Copy the runtime files to ``dest/skystream`` (replacing what was there); returns what was copied."""
    target = dest / package.name
    shutil.rmtree(target, ignore_errors=True)
    files = runtime_files(package)
    for relative in files:
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(package / relative, target / relative)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Copy the runtime part of skystream (without " + ", ".join(sorted(DEV_ONLY_PACKAGES))
        + ") into DEST/skystream.",
    )
    parser.add_argument("dest", nargs="?", type=Path, help="the layer's python/ directory")
    parser.add_argument("--list", action="store_true", help="print the files that would be copied, then stop")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(str(p) for p in runtime_files()))
        return 0
    if args.dest is None:
        parser.error("give DEST (sam build passes $(ARTIFACTS_DIR)/python) or --list")
    if not (PACKAGE / "__init__.py").is_file():
        print(f"build_layer.py: no skystream package beside this script ({PACKAGE})", file=sys.stderr)
        return 1
    files = copy_runtime(args.dest)
    print(f"copied {len(files)} files of skystream to {args.dest / PACKAGE.name} "
          f"(left out: {', '.join(sorted(DEV_ONLY_PACKAGES))})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
