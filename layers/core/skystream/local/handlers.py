"""Load a function's handler the way Lambda does: from its code directory, by ``module.attribute``."""

from __future__ import annotations

import importlib.util
import sys
import time
import uuid
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import skystream

Handler = Callable[[dict[str, Any], Any], Any]


def repository_root() -> Path:
    """The checkout holding ``functions/`` and ``infra/`` (this package is installed editable from it)."""
    candidates = [Path.cwd(), *Path.cwd().parents, Path(skystream.__file__).resolve().parents[3]]
    for candidate in candidates:
        if (candidate / "infra" / "template.yaml").is_file() and (candidate / "functions").is_dir():
            return candidate
    raise FileNotFoundError("cannot find the skystream checkout (infra/template.yaml); run from inside it")


def template_path() -> Path:
    return repository_root() / "infra" / "template.yaml"


@cache
def load_handler(code_dir: str, handler: str = "app.handler") -> Handler:
    """``load_handler("functions/ingest_handler")`` -> the ``handler`` callable of its ``app.py``."""
    module_name, attribute = handler.rsplit(".", 1)
    path = repository_root() / code_dir / f"{module_name}.py"
    unique = f"skystream_function_{Path(code_dir).name}_{module_name}"
    spec = importlib.util.spec_from_file_location(unique, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    spec.loader.exec_module(module)
    return getattr(module, attribute)


class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers and powertools read."""

    def __init__(self, function_name: str, timeout_s: float = 60.0, memory_mb: int = 1024):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
