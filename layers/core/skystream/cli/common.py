"""Helpers shared by the command modules (not a command group: not in ``COMMAND_MODULES``)."""

from __future__ import annotations

import os


def connect() -> None:
    """Use the tables the environment names (a deployed stack, or a test); otherwise the running local stack."""
    if not os.environ.get("USERS_TABLE"):
        from skystream.local.stack import use_running_stack

        use_running_stack()
