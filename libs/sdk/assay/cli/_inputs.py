"""Reading JSON values from the command line: a literal, `@file`, or `-` for standard input."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

JSON_INPUT_HELP = "JSON: a literal, @FILE to read it from a file, or - to read it from standard input."


def parse_json(value: str | None, option: str = "--input") -> Any:
    """The JSON value `value` (given as `option`) stands for, None staying None; a usage error
    when it is not JSON."""
    if value is None:
        return None
    if value == "-":
        text, source = sys.stdin.read(), "standard input"
    elif value.startswith("@"):
        path = Path(value[1:]).expanduser()
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise typer.BadParameter(f"cannot read {path}: {exc}", param_hint=option) from None
        source = str(path)
    else:
        text, source = value, "the value"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{source} is not valid JSON: {exc}", param_hint=option) from None


def parse_attributes(pairs: list[str] | None) -> dict[str, Any] | None:
    """`key=value` pairs as a dict; a value that is valid JSON (`3`, `true`, `"x"`) is taken as
    that JSON, any other as a string."""
    if pairs is None:
        return None
    attributes: dict[str, Any] = {}
    for pair in pairs:
        key, sign, text = pair.partition("=")
        if not sign or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--search-attribute")
        try:
            attributes[key] = json.loads(text)
        except json.JSONDecodeError:
            attributes[key] = text
    return attributes


JsonInputOption = Annotated[
    str | None,
    typer.Option("--input", "-i", metavar="JSON", show_default=False, help=f"The input. {JSON_INPUT_HELP}"),
]
