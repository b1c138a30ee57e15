"""The Lambda layer is what the handlers import: no more (no developer tools), no less.

``sam build`` builds the CoreLayer with ``layers/core/Makefile`` (``BuildMethod: makefile``),
which copies the package through ``layers/core/build_layer.py`` and compiles it to the
runtime's byte-code. Here the same make target runs into a temporary ARTIFACTS_DIR with
``SKIP_DEPS=1`` (no pip install, so no network: the dependencies come from this environment's
site-packages, as the layer's would from python/), and with this interpreter standing in for
the runtime's python3.12 (``RUNTIME_PYTHON``, ``RUNTIME_VERSION``).

Each handler is then imported the way Lambda imports it (its code directory first on
``sys.path``, then the layer's python/) in a fresh interpreter that sees the environment
the template gives the functions (resolved by the local template reader, with loopback
endpoints that nothing listens on). The handlers are found through the template, so the
test holds for whatever the handler modules contain.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from skystream.local.aws_endpoint import LOCAL_CREDENTIALS
from skystream.local.processes import free_port
from skystream.local.template import load_template, load_yaml

ROOT = Path(__file__).resolve().parents[2]
LAYER_SOURCE = ROOT / "layers" / "core"
PACKAGE = LAYER_SOURCE / "skystream"
TEMPLATE = ROOT / "infra" / "template.yaml"
DEV_ONLY = {"local", "cli", "devtools", "clients"}
THIS_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"

# Run in the child: import the handler module as Lambda does, print every skystream module it loaded.
_IMPORT_HANDLER = """
import importlib, json, sys
code_dir, layer, module = sys.argv[1:4]
if layer:
    sys.path[:0] = [code_dir, layer]
else:
    sys.path.insert(0, code_dir)
importlib.import_module(module)
loaded = {name: getattr(m, "__file__", None) for name, m in sys.modules.items()
          if name == "skystream" or name.startswith("skystream.")}
print(json.dumps(loaded))
"""


def _make(artifacts: Path, *variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-C", str(LAYER_SOURCE), "build-CoreLayer", f"ARTIFACTS_DIR={artifacts}",
                           "SKIP_DEPS=1", f"PYTHON={sys.executable}", *variables],
                          check=True, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The layer's python/ directory, built by the Makefile target sam build runs (without the pip step)."""
    artifacts = tmp_path_factory.mktemp("artifacts")
    _make(artifacts, f"RUNTIME_PYTHON={sys.executable}", f"RUNTIME_VERSION={THIS_VERSION}")
    return artifacts / "python"


@pytest.fixture(scope="module")
def function_environment() -> dict[str, str]:
    """What a deployed function's environment holds: the template's variables, with loopback endpoints."""
    closed = free_port()
    template = load_template(TEMPLATE, parameters={"KafkaBootstrapServers": f"127.0.0.1:{closed}", "KafkaAuth": "none"})
    return {
        **LOCAL_CREDENTIALS,
        **template.environment,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed}",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _handlers() -> list[tuple[str, str]]:
    """(code directory, handler module) of every function in the template."""
    template = load_template(TEMPLATE)
    return sorted((spec.code_dir, spec.handler.rsplit(".", 1)[0]) for spec in template.functions.values())


def _import(code_dir: Path, module: str, env: dict[str, str], layer: Path | None) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-c", _IMPORT_HANDLER, str(code_dir), str(layer or ""), module],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"importing {code_dir}/{module}.py failed:\n{result.stderr[-3000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def _dev_only(modules: dict[str, Any]) -> list[str]:
    return sorted(name for name in modules if len(name.split(".")) > 1 and name.split(".")[1] in DEV_ONLY)


def test_the_template_builds_the_core_layer_with_the_makefile() -> None:
    layer = load_yaml(TEMPLATE)["Resources"]["CoreLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert (TEMPLATE.parent / layer["Properties"]["ContentUri"]).resolve() == LAYER_SOURCE.resolve()
    assert "\nbuild-CoreLayer:" in (LAYER_SOURCE / "Makefile").read_text()


def test_the_layer_leaves_out_exactly_the_developer_tools(layer: Path) -> None:
    source_top = {p.name for p in PACKAGE.iterdir() if p.name != "__pycache__"}
    layer_top = {p.name for p in (layer / "skystream").iterdir() if p.name != "__pycache__"}
    assert source_top - layer_top == DEV_ONLY
    assert layer_top <= source_top
    copied = {p.relative_to(layer / "skystream") for p in (layer / "skystream").rglob("*")
              if p.is_file() and "__pycache__" not in p.parts}
    assert not [p for p in copied if p.suffix == ".pyc" or ".egg-info" in str(p)]
    # Everything else is copied, data files too (the Rubin schemas the decoder loads, their licence).
    expected = {p.relative_to(PACKAGE) for p in PACKAGE.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.relative_to(PACKAGE).parts[0] not in DEV_ONLY}
    assert copied == expected
    assert any(p.suffix == ".avsc" for p in copied) and any(p.name.startswith("LICENSE") for p in copied)


def _pyc_flags(path: Path) -> int:
    """The flags word of a .pyc header (PEP 552): 1 = hash-based, not checked against the source."""
    return int.from_bytes(path.read_bytes()[4:8], "little")


def test_every_module_of_the_layer_has_byte_code_that_is_never_rechecked(layer: Path) -> None:
    """Lambda's /opt is read-only: byte-code not in the layer is compiled again at every cold start."""
    sources = sorted((layer / "skystream").rglob("*.py"))
    assert len(sources) > 50
    cached = [Path(importlib.util.cache_from_source(str(s))) for s in sources]
    assert [c for c in cached if not c.is_file()] == []
    assert {_pyc_flags(c) for c in cached} == {1}  # unchecked-hash: Lambda's unzip timestamps cannot stale it
    # Only the runtime's own byte-code: nothing copied from the checkout's caches.
    assert {p.name.split(".")[1] for p in (layer / "skystream").rglob("*.pyc")} == {sys.implementation.cache_tag}


def test_without_the_runtimes_python_the_build_says_so_and_ships_no_byte_code(tmp_path: Path) -> None:
    result = _make(tmp_path, f"RUNTIME_PYTHON={sys.executable}", "RUNTIME_VERSION=3.0")
    assert "is not a Python 3.0: the layer has no byte-code" in result.stderr
    assert "RUNTIME_PYTHON=" in result.stderr
    assert list((tmp_path / "python").rglob("*.pyc")) == []
    assert (tmp_path / "python" / "skystream" / "__init__.py").is_file()


@pytest.mark.parametrize(("code_dir", "module"), _handlers(), ids=lambda v: Path(v).name)
def test_a_handler_loads_nothing_from_the_developer_tools(code_dir: str, module: str,
                                                          function_environment: dict[str, str]) -> None:
    """From the source tree, where the tools exist: the handler does not reach for them."""
    modules = _import(ROOT / code_dir, module, function_environment, layer=None)
    assert "skystream" in modules
    assert _dev_only(modules) == []


@pytest.mark.parametrize(("code_dir", "module"), _handlers(), ids=lambda v: Path(v).name)
def test_a_handler_imports_from_the_built_layer_alone(code_dir: str, module: str, layer: Path,
                                                      function_environment: dict[str, str]) -> None:
    modules = _import(ROOT / code_dir, module, function_environment, layer=layer)
    outside = {name: file for name, file in modules.items() if file and not Path(file).is_relative_to(layer)}
    assert outside == {}, f"{code_dir} loaded skystream modules from outside the layer: {outside}"
    assert len(modules) > 5
    assert [n for n, f in modules.items() if f and not Path(importlib.util.cache_from_source(f)).is_file()] == []


def test_there_are_six_handlers_and_each_is_checked() -> None:
    assert len(_handlers()) == 6  # issue 17 added the history writer
    assert {Path(d).name for d, _ in _handlers()} == {p.parent.name for p in ROOT.glob("functions/*/app.py")}


def test_a_handler_reaching_for_a_tool_is_caught(tmp_path: Path, layer: Path,
                                                 function_environment: dict[str, str]) -> None:
    """The checks above can fail: a handler importing the alert generator is listed from the source
    tree, and cannot even start from the layer (as it could not in Lambda)."""
    (tmp_path / "app.py").write_text("from skystream.devtools.generator import generate_alerts  # noqa: F401\n")
    assert "skystream.devtools.generator" in _dev_only(_import(tmp_path, "app", function_environment, layer=None))
    with pytest.raises(AssertionError, match=r"No module named 'skystream\.devtools'"):
        _import(tmp_path, "app", function_environment, layer=layer)
