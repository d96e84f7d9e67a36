"""Durations as Vault writes and reads them: Go's `time.Duration` text (`"1h30m"`, `"90s"`), a
number of seconds, or a number of days (`"7d"`); answered in Go's form (`"1h30m0s"`, `"0s"`)."""

from __future__ import annotations

import re

from assay_common.errors import Invalid

_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)")
_NUMBER = re.compile(r"\d+")


class InvalidDuration(Invalid):
    code = "invalid_duration"
    title = "Invalid duration"


def parse_seconds(value: str | int | float, field: str) -> int:
    """Whole seconds of `value` (fractions are dropped; a negative duration is refused)."""
    if isinstance(value, bool):
        raise InvalidDuration(f"{field}: a duration is a string such as '1h30m' or a number of seconds")
    if isinstance(value, int | float) or _NUMBER.fullmatch(value):
        seconds = float(value)
    else:
        text = value.strip()
        sign = -1.0 if text.startswith("-") else 1.0
        text = text.lstrip("+-")
        parts = list(_PART.finditer(text))
        if not text or "".join(part.group(0) for part in parts) != text:
            # Vault's words, which scripts may look for.
            raise InvalidDuration(
                f'Field validation failed: error converting input for field "{field}": '
                f'time: invalid duration "{value}"'
            )
        seconds = sign * sum(float(part.group(1)) * _UNIT_SECONDS[part.group(2)] for part in parts)
    if seconds < 0:
        raise InvalidDuration(f"{field}: a duration cannot be negative")
    return int(seconds)


def go_duration(seconds: int) -> str:
    """`seconds` as Go prints a `time.Duration`: `0s`, `45s`, `2m5s`, `1h0m0s`."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
