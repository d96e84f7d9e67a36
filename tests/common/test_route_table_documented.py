"""docs/permissions.md shows the route → permission table as the code has it."""

from __future__ import annotations

from pathlib import Path

from assay_common.route_permissions import markdown

DOC = Path(__file__).parents[2] / "docs" / "permissions.md"


def test_the_documented_route_table_is_the_one_in_the_code() -> None:
    assert markdown() in DOC.read_text(), (
        "docs/permissions.md is out of date: paste `./run python -m assay_common.route_permissions`"
        " under '### The table'"
    )
