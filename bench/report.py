"""What every benchmark prints with: the Markdown it emits, its progress notes, percentiles."""

from __future__ import annotations

import os
import platform
import sys

import psutil


def emit(line: str) -> None:
    """A line of the Markdown section for bench/RESULTS.md (stdout)."""
    sys.stdout.write(line + "\n")


def progress(line: str) -> None:
    """A note on how far the run has got (stderr, so it stays out of the results)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank `p`th percentile."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def p50_p99(values: list[float], digits: int = 1) -> str:
    return f"{percentile(values, 50):.{digits}f} / {percentile(values, 99):.{digits}f} ms"


def machine() -> str:
    """The machine a run is on, as the run headings name it."""
    memory = psutil.virtual_memory().total / 2**30
    python = platform.python_version()
    return f"{os.cpu_count()} cores, {memory:.0f} GiB, {platform.platform()}, Python {python}"
