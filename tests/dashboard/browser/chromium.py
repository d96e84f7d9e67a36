"""Debian's Chromium as the browser tests and `bench/dashboard.py` launch it: headless, as root,
on a machine without internet access."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("ASSAY_TEST_CHROMIUM", "/usr/bin/chromium"))
# Root needs --no-sandbox; the rest keeps Chromium from reaching out to Google's services, which on
# a machine without internet access stalls it.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
