"""Helpers shared by the command modules (not a command group: not in ``COMMAND_MODULES``).

Commands reach the stores and services through :mod:`skystream.wiring`, imported inside each
command (after :func:`connect`), not at the top of the module: ``skystream --help`` and every
command load all command modules, and importing the wiring (the Kafka client, sqlglot, the
services) there costs 0.19 s of 0.43 s (measured: ``import skystream.cli`` plus the parser,
0.24 s; with ``skystream.wiring`` too, 0.43 s).
"""

from __future__ import annotations

import os


def connect() -> None:
    """Use the stack the environment names (a deployed one, or a test's, with every variable set);
    otherwise the running local stack, whose environment (every variable) is set from its template."""
    if not os.environ.get("USERS_TABLE"):
        from skystream.local.stack import use_running_stack

        use_running_stack()
