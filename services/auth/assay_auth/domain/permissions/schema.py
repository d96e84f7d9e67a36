"""The permission schema: SpiceDB's schema language (the subset without caveats and expiration).

    definition example/user {}

    definition document {
        /** who may read */
        relation viewer: example/user | group#member | example/user:*
        relation parent: folder
        permission view = (viewer + parent->view) - banned & nil
    }

`parse_schema(text) -> Schema` parses and validates, raising `SchemaError(message, line, column)`
pointing at the offending token. The AST is frozen dataclasses:

- `Schema(definitions: dict[str, Definition], text)` — `text` is the source as written,
  `canonical()` a normalised rendering that parses back to an equal schema;
- `Definition(name, relations: dict[str, RelationDef], permissions: dict[str, Expr])`;
- `RelationDef(name, allowed: tuple[AllowedSubject, ...])`,
  `AllowedSubject(type, relation: str | None, wildcard: bool)` (`user`, `group#member`, `user:*`);
- expressions `Union(children)`, `Intersection(children)`, `Exclusion(base, subtracted)`,
  `Arrow(relation, target)` (`parent->view`), `Ref(name)`, `Nil()`.

Operator precedence is SpiceDB's: `->` binds tightest, then `+`, then `&`, then `-`; all are
left-associative (`a + b & c` is `(a + b) & c`, `a - b + c` is `a - (b + c)`).

Validation follows SpiceDB's type system: unique names, known types and relations in allowed
subjects, known names in permissions, an arrow's left side a relation without wildcards (also
through the usersets it allows) and its right side defined on at least one of that relation's types.
A cycle of permissions through plain references (`permission a = b`, `permission b = a + c`) is an
error: it could never be evaluated (SpiceDB rejects the alias cycles and warns on the rest).

`Schema.check_relationship(rel)` raises `InvalidRelationship` unless the schema allows `rel`.
`removed_relations(old, new)` and `disallowed_subjects(old, new)` say which stored relationships a
schema change would orphan, so a store can refuse the change while such relationships exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeAlias

from assay_auth.domain.permissions.errors import InvalidRelationship, SchemaError
from assay_auth.domain.permissions.relationships import (
    ELLIPSIS,
    Relationship,
    is_relation_name,
    is_type_name,
)

# --- AST ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AllowedSubject:
    """One kind of subject a relation accepts: `user`, `group#member` or `user:*`."""

    type: str
    relation: str | None = None
    wildcard: bool = False

    def __str__(self) -> str:
        if self.wildcard:
            return f"{self.type}:*"
        return self.type if self.relation is None else f"{self.type}#{self.relation}"


@dataclass(frozen=True, slots=True)
class RelationDef:
    name: str
    allowed: tuple[AllowedSubject, ...]


@dataclass(frozen=True, slots=True)
class Union:
    children: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Intersection:
    children: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Exclusion:
    base: Expr
    subtracted: Expr


@dataclass(frozen=True, slots=True)
class Arrow:
    """`relation->target`: `target` on each object that is a subject of `relation`."""

    relation: str
    target: str


@dataclass(frozen=True, slots=True)
class Ref:
    """A relation or permission of the same object."""

    name: str


@dataclass(frozen=True, slots=True)
class Nil:
    """The empty set."""


Expr: TypeAlias = Union | Intersection | Exclusion | Arrow | Ref | Nil


@dataclass(frozen=True)
class Definition:
    name: str
    relations: dict[str, RelationDef] = field(default_factory=dict)
    permissions: dict[str, Expr] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.relations or name in self.permissions


@dataclass(frozen=True)
class Schema:
    definitions: dict[str, Definition] = field(default_factory=dict)
    #: The source as written; not part of equality.
    text: str = field(default="", compare=False)

    @staticmethod
    def parse(text: str) -> Schema:
        return parse_schema(text)

    def definition(self, type_name: str) -> Definition | None:
        return self.definitions.get(type_name)

    def canonical(self) -> str:
        """A normalised rendering: one item a line, relations before permissions, minimal parentheses."""
        blocks = []
        for definition in self.definitions.values():
            lines = [f"definition {definition.name} {{"]
            for relation in definition.relations.values():
                allowed = " | ".join(str(subject) for subject in relation.allowed)
                lines.append(f"    relation {relation.name}: {allowed}")
            for name, expr in definition.permissions.items():
                lines.append(f"    permission {name} = {render_expr(expr)}")
            lines.append("}")
            blocks.append("\n".join(lines) if len(lines) > 2 else f"definition {definition.name} {{}}")
        return "\n\n".join(blocks) + ("\n" if blocks else "")

    def check_relationship(self, rel: Relationship) -> None:
        """Raise `InvalidRelationship` unless the schema allows storing `rel`."""
        definition = self.definitions.get(rel.resource.type)
        if definition is None:
            raise InvalidRelationship(f"unknown resource type `{rel.resource.type}` in `{rel}`")
        relation = definition.relations.get(rel.relation)
        if relation is None:
            if rel.relation in definition.permissions:
                raise InvalidRelationship(
                    f"`{definition.name}#{rel.relation}` is a permission; relationships name relations"
                )
            raise InvalidRelationship(f"`{definition.name}` has no relation `{rel.relation}`")
        subject = rel.subject
        if subject.is_wildcard:
            wanted = AllowedSubject(subject.type, None, wildcard=True)
        else:
            wanted = AllowedSubject(subject.type, subject.relation, wildcard=False)
        if wanted not in relation.allowed:
            allowed = ", ".join(str(a) for a in relation.allowed)
            raise InvalidRelationship(
                f"subject `{subject}` is not allowed on `{definition.name}#{rel.relation}` "
                f"(allowed: {allowed})"
            )


_PRECEDENCE = {Exclusion: 1, Intersection: 2, Union: 3}


def _level(expr: Expr) -> int:
    return _PRECEDENCE.get(type(expr), 4)


def render_expr(expr: Expr) -> str:
    """The expression in schema syntax with only the parentheses precedence requires."""

    def child(sub: Expr, minimum: int) -> str:
        text = render_expr(sub)
        return f"({text})" if _level(sub) < minimum else text

    match expr:
        case Union(children):
            return " + ".join(child(c, 4) for c in children)
        case Intersection(children):
            return " & ".join(child(c, 3) for c in children)
        case Exclusion(base, subtracted):
            return f"{child(base, 1)} - {child(subtracted, 2)}"
        case Arrow(relation, target):
            return f"{relation}->{target}"
        case Ref(name):
            return name
        case Nil():
            return "nil"


def walk_expr(expr: Expr) -> Iterator[Expr]:
    """Every node of the expression, parents first."""
    yield expr
    match expr:
        case Union(children) | Intersection(children):
            for c in children:
                yield from walk_expr(c)
        case Exclusion(base, subtracted):
            yield from walk_expr(base)
            yield from walk_expr(subtracted)
        case _:
            pass


# --- schema changes ----------------------------------------------------------------------------


def removed_relations(old: Schema, new: Schema) -> set[tuple[str, str]]:
    """`(type, relation)` of each relation of `old` that `new` no longer has as a relation (its
    definition is gone, or it is gone, or it became a permission). Stored relationships of these
    would be orphaned."""
    removed: set[tuple[str, str]] = set()
    for definition in old.definitions.values():
        new_definition = new.definitions.get(definition.name)
        for name in definition.relations:
            if new_definition is None or name not in new_definition.relations:
                removed.add((definition.name, name))
    return removed


def disallowed_subjects(old: Schema, new: Schema) -> set[tuple[str, str, AllowedSubject]]:
    """`(type, relation, subject kind)` for each subject kind a relation kept by `new` allowed in `old`
    and no longer allows. A store asks whether relationships of that resource type and relation exist
    with a subject of that type and relation (None: no subject relation) — and, for a wildcard kind,
    with the subject id `*`; for the others, with any other id."""
    disallowed: set[tuple[str, str, AllowedSubject]] = set()
    for definition in old.definitions.values():
        new_definition = new.definitions.get(definition.name)
        if new_definition is None:
            continue
        for name, relation in definition.relations.items():
            new_relation = new_definition.relations.get(name)
            if new_relation is None:
                continue
            for subject in relation.allowed:
                if subject not in new_relation.allowed:
                    disallowed.add((definition.name, name, subject))
    return disallowed


# --- lexer -------------------------------------------------------------------------------------

_PUNCTUATION = (
    "...",
    "->",
    "{",
    "}",
    "(",
    ")",
    ":",
    ";",
    "|",
    "#",
    "*",
    "=",
    "+",
    "&",
    "-",
    "/",
    ",",
    ".",
    "@",
)
_KEYWORDS = frozenset({"definition", "relation", "permission", "nil", "caveat", "use", "import", "partial"})


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "ident", "punct" or "eof"
    text: str
    line: int
    column: int
    #: A line break separates this token from the previous one (ends a statement).
    newline_before: bool

    def describe(self) -> str:
        return "the end of the schema" if self.kind == "eof" else f"`{self.text}`"


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    line, column, i = 1, 1, 0
    newline_before = True

    def advance(count: int) -> None:
        nonlocal i, line, column
        for _ in range(count):
            if text[i] == "\n":
                line, column = line + 1, 1
            else:
                column += 1
            i += 1

    while i < len(text):
        char = text[i]
        if char == "\n":
            newline_before = True
            advance(1)
        elif char in " \t\r\f\v":
            advance(1)
        elif text.startswith("//", i):
            while i < len(text) and text[i] != "\n":
                advance(1)
        elif text.startswith("/*", i):
            start_line, start_column = line, column
            end = text.find("*/", i + 2)
            if end < 0:
                raise SchemaError("unterminated comment", start_line, start_column)
            if "\n" in text[i : end + 2]:
                newline_before = True
            advance(end + 2 - i)
        elif char.isascii() and (char.isalnum() or char == "_"):
            start = i
            start_line, start_column = line, column
            while i < len(text) and text[i].isascii() and (text[i].isalnum() or text[i] == "_"):
                advance(1)
            tokens.append(Token("ident", text[start:i], start_line, start_column, newline_before))
            newline_before = False
        else:
            for punct in _PUNCTUATION:
                if text.startswith(punct, i):
                    tokens.append(Token("punct", punct, line, column, newline_before))
                    newline_before = False
                    advance(len(punct))
                    break
            else:
                raise SchemaError(f"unexpected character {char!r}", line, column)
    tokens.append(Token("eof", "", line, column, newline_before))
    return tokens


# --- parser ------------------------------------------------------------------------------------

Position: TypeAlias = tuple[int, int]


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        # Source positions for the semantic checks, kept beside the AST so equality ignores them.
        self.definition_positions: dict[str, Position] = {}
        self.member_positions: dict[tuple[str, str], Position] = {}
        self.allowed_positions: dict[tuple[str, str, AllowedSubject], Position] = {}
        self.expr_positions: dict[int, Position] = {}

    # token helpers

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def fail(self, message: str, token: Token | None = None) -> SchemaError:
        token = token or self.current
        return SchemaError(message, token.line, token.column)

    def next(self) -> Token:
        token = self.current
        if token.kind != "eof":
            self.index += 1
        return token

    def at(self, text: str) -> bool:
        return self.current.kind != "eof" and self.current.text == text

    def expect(self, text: str, context: str) -> Token:
        if not self.at(text):
            raise self.fail(f"expected `{text}` {context}, found {self.current.describe()}")
        return self.next()

    def identifier(self, what: str) -> Token:
        token = self.current
        if token.kind != "ident":
            raise self.fail(f"expected {what}, found {token.describe()}")
        return self.next()

    def name(self, what: str) -> tuple[str, Token]:
        token = self.identifier(what)
        if token.text in _KEYWORDS:
            raise self.fail(f"`{token.text}` is a keyword and cannot be used as {what}", token)
        if not is_relation_name(token.text):
            raise self.fail(
                f"invalid {what} `{token.text}`: expected lowercase letters, digits and _, "
                "3 to 64 characters, starting with a letter and not ending with _",
                token,
            )
        return token.text, token

    def type_name(self, what: str) -> tuple[str, Token]:
        first = self.identifier(what)
        name = first.text
        if self.at("/"):
            self.next()
            name = f"{name}/{self.identifier(f'{what} after `{name}/`').text}"
        if not is_type_name(name):
            raise self.fail(
                f"invalid {what} `{name}`: expected [prefix/]name, lowercase letters, digits and _, "
                "3 to 64 characters each, starting with a letter and not ending with _",
                first,
            )
        return name, first

    def end_statement(self) -> None:
        if self.at(";"):
            self.next()
        elif not (self.at("}") or self.current.newline_before or self.current.kind == "eof"):
            raise self.fail(f"expected the end of the line, found {self.current.describe()}")

    # grammar

    def schema(self) -> list[Definition]:
        definitions: list[Definition] = []
        while self.current.kind != "eof":
            token = self.current
            if token.text == "definition":
                definitions.append(self.definition())
            elif token.text == "caveat":
                raise self.fail("caveats are not supported")
            elif token.text in ("use", "import", "partial"):
                raise self.fail(f"`{token.text}` is not supported")
            else:
                raise self.fail(f"expected `definition`, found {token.describe()}")
        return definitions

    def definition(self) -> Definition:
        self.expect("definition", "")
        name, token = self.type_name("a definition name")
        if name in self.definition_positions:
            raise self.fail(f"definition `{name}` is defined more than once", token)
        self.definition_positions[name] = (token.line, token.column)
        self.expect("{", f"after `definition {name}`")
        relations: dict[str, RelationDef] = {}
        permissions: dict[str, Expr] = {}
        while not self.at("}"):
            token = self.current
            if token.text == "relation":
                relation = self.relation(name, relations, permissions)
                relations[relation.name] = relation
            elif token.text == "permission":
                permission_name, expr = self.permission(name, relations, permissions)
                permissions[permission_name] = expr
            elif token.kind == "eof":
                raise self.fail(f"expected `}}` to close `definition {name}`, found the end of the schema")
            else:
                raise self.fail(f"expected `relation`, `permission` or `}}`, found {token.describe()}")
        self.next()
        return Definition(name, relations, permissions)

    def member_name(
        self, definition: str, what: str, taken: dict[str, object], other: dict[str, object]
    ) -> str:
        name, token = self.name(f"a {what} name")
        if name in taken or name in other:
            raise self.fail(
                f"duplicate relation/permission name `{name}` under definition `{definition}`", token
            )
        self.member_positions[(definition, name)] = (token.line, token.column)
        return name

    def relation(
        self, definition: str, relations: dict[str, RelationDef], permissions: dict[str, Expr]
    ) -> RelationDef:
        self.next()
        name = self.member_name(definition, "relation", dict(relations), dict(permissions))
        self.expect(":", f"after `relation {name}`")
        allowed: list[AllowedSubject] = []
        while True:
            token = self.current
            subject = self.allowed_subject(f"{definition}#{name}")
            if subject in allowed:
                raise self.fail(
                    f"duplicate allowed subject type `{subject}` on relation `{name}` "
                    f"under definition `{definition}`",
                    token,
                )
            allowed.append(subject)
            self.allowed_positions[(definition, name, subject)] = (token.line, token.column)
            if not self.at("|"):
                break
            self.next()
        if self.at("with"):
            raise self.fail("caveats are not supported")
        self.end_statement()
        return RelationDef(name, tuple(allowed))

    def allowed_subject(self, relation: str) -> AllowedSubject:
        type_name, _ = self.type_name(f"a subject type for `{relation}`")
        if self.at(":"):
            self.next()
            self.expect("*", f"after `{type_name}:` (a wildcard is written `{type_name}:*`)")
            return AllowedSubject(type_name, None, wildcard=True)
        if self.at("#"):
            self.next()
            if self.at(ELLIPSIS):
                self.next()
                return AllowedSubject(type_name)
            subject_relation, _ = self.name(f"a relation name after `{type_name}#`")
            return AllowedSubject(type_name, subject_relation)
        return AllowedSubject(type_name)

    def permission(
        self, definition: str, relations: dict[str, RelationDef], permissions: dict[str, Expr]
    ) -> tuple[str, Expr]:
        self.next()
        name = self.member_name(definition, "permission", dict(relations), dict(permissions))
        self.expect("=", f"after `permission {name}`")
        expr = self.exclusion()
        self.end_statement()
        return name, expr

    # Precedence, loosest first: `-`, `&`, `+`, then `->` and atoms.

    def exclusion(self) -> Expr:
        expr = self.intersection()
        while self.at("-"):
            self.next()
            expr = Exclusion(expr, self.intersection())
        return expr

    def intersection(self) -> Expr:
        children = [self.union()]
        while self.at("&"):
            self.next()
            children.append(self.union())
        return children[0] if len(children) == 1 else Intersection(_flatten(Intersection, children))

    def union(self) -> Expr:
        children = [self.term()]
        while self.at("+"):
            self.next()
            children.append(self.term())
        return children[0] if len(children) == 1 else Union(_flatten(Union, children))

    def term(self) -> Expr:
        token = self.current
        if self.at("("):
            self.next()
            inner = self.exclusion()
            self.expect(")", "to close the parenthesis")
            return inner
        if token.kind != "ident":
            raise self.fail(f"expected a relation, permission, `nil` or `(`, found {token.describe()}")
        if token.text == "nil":
            self.next()
            return Nil()
        name, _ = self.name("a relation or permission name")
        expr: Expr
        if self.at("->"):
            self.next()
            target, _ = self.name(f"a relation or permission name after `{name}->`")
            if self.at("->"):
                raise self.fail(
                    "chained arrows (`a->b->c`) are not supported; use an intermediate permission"
                )
            expr = Arrow(name, target)
        elif self.at("."):
            raise self.fail("arrow functions (`.any()` / `.all()`) are not supported; use `->`")
        else:
            expr = Ref(name)
        self.expr_positions[id(expr)] = (token.line, token.column)
        return expr


def _flatten(kind: type[Union] | type[Intersection], children: list[Expr]) -> tuple[Expr, ...]:
    flat: list[Expr] = []
    for c in children:
        if isinstance(c, kind):
            flat.extend(c.children)
        else:
            flat.append(c)
    return tuple(flat)


# --- semantic validation -----------------------------------------------------------------------


class _Validator:
    def __init__(self, parser: _Parser, definitions: dict[str, Definition]) -> None:
        self.parser = parser
        self.definitions = definitions

    def error(self, message: str, position: Position) -> SchemaError:
        return SchemaError(message, *position)

    def validate(self) -> None:
        for definition in self.definitions.values():
            for relation in definition.relations.values():
                self.validate_relation(definition, relation)
        for definition in self.definitions.values():
            for name, expr in definition.permissions.items():
                self.validate_permission(definition, name, expr)
            self.validate_no_reference_cycles(definition)

    def validate_relation(self, definition: Definition, relation: RelationDef) -> None:
        for subject in relation.allowed:
            position = self.parser.allowed_positions[(definition.name, relation.name, subject)]
            target = self.definitions.get(subject.type)
            if target is None:
                raise self.error(
                    f"relation `{definition.name}#{relation.name}` allows unknown type `{subject.type}`",
                    position,
                )
            if subject.relation is not None and not target.has(subject.relation):
                raise self.error(
                    f"relation/permission `{subject.relation}` not found under definition `{subject.type}` "
                    f"(allowed on `{definition.name}#{relation.name}`)",
                    position,
                )

    def validate_permission(self, definition: Definition, name: str, expr: Expr) -> None:
        for node in walk_expr(expr):
            position = self.parser.expr_positions.get(
                id(node), self.parser.member_positions[(definition.name, name)]
            )
            if isinstance(node, Ref) and not definition.has(node.name):
                raise self.error(
                    f"permission `{definition.name}#{name}` references `{node.name}`, "
                    f"which is not a relation or permission of `{definition.name}`",
                    position,
                )
            if isinstance(node, Arrow):
                self.validate_arrow(definition, name, node, position)

    def validate_arrow(
        self, definition: Definition, permission: str, arrow: Arrow, position: Position
    ) -> None:
        where = f"arrow `{arrow.relation}->{arrow.target}` in permission `{definition.name}#{permission}`"
        if arrow.relation in definition.permissions:
            raise self.error(
                f"{where}: the left side of an arrow must be a relation; `{arrow.relation}` is a permission",
                position,
            )
        relation = definition.relations.get(arrow.relation)
        if relation is None:
            raise self.error(f"{where}: `{definition.name}` has no relation `{arrow.relation}`", position)
        wildcard = self.wildcard_reached(definition.name, relation, set())
        if wildcard is not None:
            raise self.error(
                f"{where}: relation `{definition.name}#{arrow.relation}` includes wildcard type "
                f"`{wildcard}`; wildcard relations cannot be used on the left side of arrows",
                position,
            )
        if not any(self.definitions[s.type].has(arrow.target) for s in relation.allowed):
            types = ", ".join(sorted({s.type for s in relation.allowed}))
            raise self.error(
                f"{where}: none of the types of `{definition.name}#{arrow.relation}` ({types}) "
                f"has a relation or permission `{arrow.target}`",
                position,
            )

    def wildcard_reached(
        self, type_name: str, relation: RelationDef, seen: set[tuple[str, str]]
    ) -> str | None:
        """The wildcard type a relation allows, directly or through the relations it allows as usersets."""
        seen.add((type_name, relation.name))
        for subject in relation.allowed:
            if subject.wildcard:
                return subject.type
            if subject.relation is not None and (subject.type, subject.relation) not in seen:
                nested = self.definitions[subject.type].relations.get(subject.relation)
                if nested is not None:
                    found = self.wildcard_reached(subject.type, nested, seen)
                    if found is not None:
                        return found
        return None

    def validate_no_reference_cycles(self, definition: Definition) -> None:
        # Edges: permission -> permissions it references without an arrow (relations end the walk).
        edges = {
            name: sorted(
                {n.name for n in walk_expr(expr) if isinstance(n, Ref) and n.name in definition.permissions}
            )
            for name, expr in definition.permissions.items()
        }
        done: set[str] = set()

        def visit(name: str, path: list[str]) -> None:
            if name in path:
                cycle = path[path.index(name) :]
                position = self.parser.member_positions[(definition.name, cycle[0])]
                raise self.error(
                    f"under definition `{definition.name}`, there exists a cycle in permissions: "
                    f"{', '.join(cycle)} (a permission cannot include itself except through an arrow)",
                    position,
                )
            if name in done:
                return
            for referenced in edges[name]:
                visit(referenced, [*path, name])
            done.add(name)

        for name in definition.permissions:
            visit(name, [])


def parse_schema(text: str) -> Schema:
    """Parse and validate a schema; raises `SchemaError` with the line and column of the problem."""
    parser = _Parser(text)
    definitions = {d.name: d for d in parser.schema()}
    _Validator(parser, definitions).validate()
    return Schema(definitions, text)
