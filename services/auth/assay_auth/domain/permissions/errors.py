"""The errors of the permission domain. All are `Invalid` (422): the caller sent a relationship,
a schema or a query that the schema does not allow, or data too deep to evaluate."""

from __future__ import annotations

from assay_common.errors import Invalid


class InvalidRelationship(Invalid):
    """A relationship (or an object / subject reference) is malformed or not allowed by the schema."""

    code = "invalid_relationship"
    title = "The relationship is not valid"


class SchemaError(Invalid):
    """The schema text does not parse or does not validate; `line` and `column` are 1-based and point
    at the offending token."""

    code = "invalid_schema"
    title = "The permission schema is not valid"

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{message} (line {line}, column {column})", line=line, column=column)
        self.message = message
        self.line = line
        self.column = column


class InvalidPermissionQuery(Invalid):
    """A check, expand or lookup names something the schema does not define, or a wildcard subject."""

    code = "invalid_permission_query"
    title = "The permission query is not valid"


class DepthExceeded(Invalid):
    """Evaluation needed more nested steps than the evaluator allows; usually a very deep chain of
    groups or folders in the data."""

    code = "depth_exceeded"
    title = "The permission could not be evaluated within the maximum depth"
