"""Helpers shared by the command modules (not a command group: not in ``COMMAND_MODULES``).

Commands reach the stores and services through :mod:`skystream.wiring`, after :func:`connect`
has pointed the process at a stack.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from skystream.local.stack import use_running_stack


def connect() -> None:
    """Use the stack the environment names (a deployed one, or a test's, with every variable set);
    otherwise the running local stack, whose environment (every variable) is set from its template."""
    if not os.environ.get("USERS_TABLE"):
        use_running_stack()


def answer(args: Any, value: Any, human: Callable[[Any], None]) -> int:
    """Print an API answer: as JSON with ``--json`` (for scripts), else the command's human form; exit code 0."""
    if getattr(args, "json", False):
        print(json.dumps(value, indent=2))
    else:
        human(value)
    return 0
