"""Printing: results to stdout in the chosen format, messages and errors to stderr."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, NoReturn

import typer
import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

from assay.cli._settings import EXIT_ERROR, EXIT_OK, ConfigError, OutputFormat
from assay.client import ApiError, ApiUnreachable, ClientError

#: Piped tables are not wrapped at 80 columns: a script reads whole lines.
_PIPE_WIDTH = 500

out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else _PIPE_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def document(value: Any, output: OutputFormat) -> None:
    """Print one JSON-ready value as json, jsonl or yaml (table callers draw their own)."""
    if output is OutputFormat.yaml:
        typer.echo(yaml.safe_dump(value, sort_keys=False, allow_unicode=True), nl=False)
    elif output is OutputFormat.jsonl:
        typer.echo(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    else:
        typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


def stream_item(value: Any, output: OutputFormat) -> None:
    """Print one item of an open-ended stream: YAML items become documents of their own."""
    if output is OutputFormat.yaml:
        typer.echo("---")
    document(value, output)


def table(columns: list[str], rows: list[list[str | Text]]) -> None:
    """An aligned table with a header and no rules; plain strings are shown as they are."""
    grid = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in row))
    out.print(grid)


def fields(pairs: list[tuple[str, str]]) -> None:
    """One record as aligned `name  value` lines."""
    grid = Table(box=None, pad_edge=False, show_edge=False, show_header=False)
    grid.add_column(style="bold")
    grid.add_column()
    for name, value in pairs:
        grid.add_row(Text(name), Text(value))
    out.print(grid)


def collection(items: list[Any], output: OutputFormat, whole: Any = None) -> None:
    """Print a list as json or yaml (`whole`, e.g. the page with its cursor, else the items) or
    as jsonl, one item a line. Table callers draw their own."""
    if output is OutputFormat.jsonl:
        for item in items:
            document(item, output)
    else:
        document(items if whole is None else whole, output)


def compact(value: Any) -> str:
    """A JSON value on one line, for a table cell."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def timestamp(moment: datetime) -> str:
    """A time in UTC to the second, as ISO 8601 (`2026-01-02T03:04:05Z`)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print `error: <message>` on stderr and exit with `code`."""
    err.print(Text.assemble(("error: ", "bold red"), message))
    raise typer.Exit(code)


@contextlib.contextmanager
def reported_errors() -> Iterator[None]:
    """Turn the errors a user can act on into a readable message and exit code 1."""
    try:
        yield
    except ApiUnreachable as exc:
        fail(
            f"{exc}.\nIs Assay running? Start it with `assay up`, or point --api-url or $ASSAY_API_URL at it."
        )
    except ApiError as exc:
        fail(f"{exc.detail or exc.title}\n({exc.status} {exc.code}: {exc.title})")
    except (ClientError, ConfigError) as exc:
        fail(str(exc))


@contextlib.contextmanager
def until_reader_leaves() -> Iterator[None]:
    """`assay … | head`: when the reader stops reading, stop quietly and successfully."""
    try:
        yield
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(EXIT_OK) from None
