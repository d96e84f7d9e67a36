"""Crash points for crash tests: `ASSAY_FAILPOINTS=outbox.after_publish` kills the process there.

A crash test sets the variable on a real service process and checks what survived the SIGKILL.
Unset (always in production) a failpoint costs one set lookup.
"""

from __future__ import annotations

import os
import signal

_ACTIVE = frozenset(filter(None, os.environ.get("ASSAY_FAILPOINTS", "").split(",")))


def crash_here(name: str) -> None:
    """Kill this process with SIGKILL if the failpoint `name` is active."""
    if name in _ACTIVE:
        os.kill(os.getpid(), signal.SIGKILL)
