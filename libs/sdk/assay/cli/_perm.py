"""`assay perm …`: permission stores — schema, grants, checks, expand and lookups.

Resources are written `type:id` (`namespace:payments`), subjects `type:id` (`user:<id>`), a
userset `type:id#relation` (`group:eng#member`) or a wildcard `type:*`; a user may also be named
by email (`ann@example.com`), looked up among the platform's users. Every command acts on the
store `--store` (default `platform`, the platform's own).

`assay perm check` exits 0 when the subject has the permission and 3 when it does not (a denial
is an answer, not an error: 1 stays for errors), so scripts can branch on it; `--quiet` prints
nothing.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.text import Text
from rich.tree import Tree

from assay.cli import _output
from assay.cli._api import ask
from assay.cli._settings import (
    ApiUrlOption,
    CursorOption,
    GlobalOptions,
    OutputFormat,
    OutputOption,
    resolve,
)
from assay.client import (
    PLATFORM_STORE,
    AssayClient,
    ClientError,
    ConsistencyMode,
    ExpandNode,
    RelationshipFilter,
    RelationshipUpdate,
)

#: `assay perm check`: the subject does not have the permission.
EXIT_DENIED = 3

perm = typer.Typer(
    name="perm",
    help="Permissions: the schema of a store, granting and revoking roles, checks and lookups.",
    no_args_is_help=True,
    epilog="`assay perm check` exits 0 when allowed and 3 when denied.",
)
schema = typer.Typer(name="schema", help="Show or replace a store's schema.", no_args_is_help=True)
perm.add_typer(schema)


class Consistency(StrEnum):
    minimize_latency = "minimize_latency"
    at_least_as_fresh = "at_least_as_fresh"
    fully_consistent = "fully_consistent"


StoreOption = Annotated[
    str,
    typer.Option("--store", metavar="STORE", help="The permission store."),
]
ConsistencyOption = Annotated[
    Consistency | None,
    typer.Option(
        "--consistency",
        case_sensitive=False,
        show_default=False,
        help="How fresh the answer must be. Default: at_least_as_fresh with --zookie, else "
        "fully_consistent (the current state).",
    ),
]
ZookieOption = Annotated[
    str | None,
    typer.Option(
        "--zookie",
        metavar="ZOOKIE",
        show_default=False,
        help="Answer at least as fresh as this write (the `written_at` of a grant or revoke).",
    ),
]
SubjectArgument = Annotated[
    str,
    typer.Argument(
        metavar="SUBJECT",
        help="user:ID, group:ID#member, user:* or a user's email.",
        show_default=False,
    ),
]


def _consistency(mode: Consistency | None, zookie: str | None) -> ConsistencyMode:
    # A command line asks rarely and wants the truth of now, not a cached answer.
    if mode is not None:
        return mode.value
    return "at_least_as_fresh" if zookie else "fully_consistent"


def _split(text: str, what: str, hint: str, *, needs_id: bool = True) -> tuple[str, str]:
    """`type:id#name` (or `type#name` without `needs_id`) as (`type:id`, `name`)."""
    target, sign, name = text.rpartition("#")
    if not sign or not target or not name or (needs_id and ":" not in target):
        example = "TYPE:ID#" if needs_id else "TYPE#"
        raise typer.BadParameter(f"{text!r} is not {example}{what.upper()}", param_hint=hint)
    return target, name


def _is_email(text: str) -> bool:
    return "@" in text and ":" not in text.removeprefix("user:")


async def _subject(client: AssayClient, text: str) -> str:
    """The subject `text` names: as given, or `user:<id>` of the user with that email."""
    if not _is_email(text):
        return text
    email = text.removeprefix("user:").strip()
    answer = await client.call("GET", "/api/v1/auth/users", params={"search": email, "limit": 500})
    for user in answer["items"]:
        if str(user["email"]).lower() == email.lower():
            return f"user:{user['id']}"
    raise ClientError(f"no user has the email {email!r}")


# ---- schema ------------------------------------------------------------------------------------


@schema.command("show")
def schema_show(
    ctx: typer.Context,
    store: StoreOption = PLATFORM_STORE,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Print the store's schema text (with -o json, jsonl or yaml: with its version and zookie)."""
    given = ctx.find_object(GlobalOptions) or GlobalOptions()
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output)
        found = ask(settings, lambda client: client.permissions.read_schema(store=store))
    # The text by default, even piped (`> platform.zed`); the record only when asked for.
    chosen = output or given.output
    if chosen is None or chosen is OutputFormat.table:
        typer.echo(found.text, nl=not found.text.endswith("\n"))
    else:
        _output.document(found.model_dump(mode="json", by_alias=True), chosen)


@schema.command("write")
def schema_write(
    ctx: typer.Context,
    file: Annotated[
        str, typer.Argument(metavar="FILE", help="The schema text: a file, or - for standard input.")
    ],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Write it even if existing relationships lose their meaning: they are deleted."
        ),
    ] = False,
    store: StoreOption = PLATFORM_STORE,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Replace the store's schema with the text of FILE."""
    text = _read_text(file)
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output)
        written = ask(
            settings, lambda client: client.permissions.write_schema(text, force=force, store=store)
        )
    if settings.output is OutputFormat.table:
        _output.out.print(Text(f"Schema version {written.version} of store {written.store!r} written."))
    else:
        record = written.model_dump(mode="json", by_alias=True)
        record.pop("schema", None)
        _output.document(record, settings.output)


def _read_text(file: str) -> str:
    if file == "-":
        return sys.stdin.read()
    path = Path(file).expanduser()
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}", param_hint="FILE") from None


# ---- grants ------------------------------------------------------------------------------------


@perm.command("grant")
def grant(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="RESOURCE#RELATION", help="e.g. namespace:payments#operator, platform:assay#admin"
        ),
    ],
    subject: SubjectArgument,
    store: StoreOption = PLATFORM_STORE,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Give SUBJECT the RELATION on RESOURCE (nothing changes if it has it already)."""
    _write(ctx, "touch", target, subject, store, api_url, output)


@perm.command("revoke")
def revoke(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(metavar="RESOURCE#RELATION", help="e.g. namespace:payments#operator")
    ],
    subject: SubjectArgument,
    store: StoreOption = PLATFORM_STORE,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Take the RELATION on RESOURCE from SUBJECT (grants through a group stay)."""
    _write(ctx, "delete", target, subject, store, api_url, output)


def _write(
    ctx: typer.Context,
    operation: Literal["touch", "delete"],
    target: str,
    subject: str,
    store: str,
    api_url: str | None,
    output: OutputFormat | None,
) -> None:
    resource, relation = _split(target, "relation", "RESOURCE#RELATION")

    async def write(client: AssayClient) -> tuple[str, Any]:
        relationship = f"{resource}#{relation}@{await _subject(client, subject)}"
        update = RelationshipUpdate(operation=operation, relationship=relationship)
        return relationship, await client.permissions.write_relationships([update], store=store)

    with _output.reported_errors():
        settings = resolve(ctx, api_url, output)
        relationship, written = ask(settings, write)
    changed = operation == "touch" or written.deleted > 0
    if settings.output is OutputFormat.table:
        if operation == "touch":
            message = f"Granted {relationship}"
        elif changed:
            message = f"Revoked {relationship}"
        else:
            message = f"{relationship} was not granted; nothing to revoke"
        store_note = "" if store == PLATFORM_STORE else f" (store {store})"
        _output.out.print(Text(f"{message}{store_note}."))
        _output.err.print(Text(f"zookie: {written.written_at}"))
    else:
        _output.document(
            {
                "relationship": relationship,
                "store": store,
                "operation": "grant" if operation == "touch" else "revoke",
                "changed": changed,
                "written_at": written.written_at,
            },
            settings.output,
        )


# ---- questions ---------------------------------------------------------------------------------


@perm.command("check")
def check(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(metavar="RESOURCE#PERMISSION", help="e.g. namespace:payments#operate")
    ],
    subject: SubjectArgument,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print nothing; the exit code tells (0 allowed, 3 denied).")
    ] = False,
    consistency: ConsistencyOption = None,
    zookie: ZookieOption = None,
    store: StoreOption = PLATFORM_STORE,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Whether SUBJECT has PERMISSION (or a relation) on RESOURCE: exit 0 if so, 3 if not."""
    resource, permission = _split(target, "permission", "RESOURCE#PERMISSION")
    mode = _consistency(consistency, zookie)

    async def ask_check(client: AssayClient) -> tuple[str, Any]:
        named = await _subject(client, subject)
        answer = await client.permissions.check(
            resource, permission, named, consistency=mode, zookie=zookie, store=store
        )
        return named, answer

    with _output.reported_errors():
        settings = resolve(ctx, api_url, output)
        named, answer = ask(settings, ask_check)
    if not quiet:
        if settings.output is OutputFormat.table:
            verdict = ("allowed", "green") if answer.allowed else ("denied", "red")
            _output.out.print(Text.assemble(verdict, f": {named} → {resource}#{permission}"))
        else:
            _output.document(
                {
                    "resource": resource,
                    "permission": permission,
                    "subject": named,
                    "allowed": answer.allowed,
                    "checked_at": answer.checked_at,
                },
                settings.output,
            )
    if not answer.allowed:
        raise typer.Exit(EXIT_DENIED)


@perm.command("list")
def list_relationships(
    ctx: typer.Context,
    resource: Annotated[
        str | None,
        typer.Option(
            metavar="TYPE[:ID][#RELATION]",
            show_default=False,
            help="Only relationships of these resources (and relation).",
        ),
    ] = None,
    subject: Annotated[
        str | None,
        typer.Option(
            metavar="TYPE[:ID][#RELATION]",
            show_default=False,
            help="Only relationships of these subjects (an email names a user).",
        ),
    ] = None,
    relation: Annotated[
        str | None, typer.Option(metavar="RELATION", show_default=False, help="Only this relation.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, metavar="N", help="At most N relationships.")] = 100,
    cursor: CursorOption = None,
    store: StoreOption = PLATFORM_STORE,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """List relationships, in order (resource, relation, subject)."""
    fields: dict[str, str | None] = {}
    if resource is not None:
        fields = _filter_part(resource, "resource", "--resource")
        named_relation = fields.pop("resource_relation")
        if named_relation and relation and named_relation != relation:
            raise typer.BadParameter("give the relation once", param_hint="--relation")
        relation = named_relation or relation
    fields["relation"] = relation

    async def read(client: AssayClient) -> Any:
        if subject is not None:
            named = await _subject(client, subject)
            fields.update(_filter_part(named, "subject", "--subject"))
        return await client.permissions.read_relationships(
            RelationshipFilter(**fields), limit=limit, cursor=cursor, store=store
        )

    with _output.reported_errors():
        settings = resolve(ctx, api_url, output)
        page = ask(settings, read)
    if settings.output is OutputFormat.table:
        _output.table(
            ["RESOURCE", "RELATION", "SUBJECT"],
            [[f"{r.resource_type}:{r.resource_id}", r.relation, _subject_text(r)] for r in page.items],
        )
        if page.next_cursor:
            _output.err.print(Text(f"More: --cursor {page.next_cursor}"))
    else:
        _output.collection(
            [r.model_dump(mode="json") for r in page.items], settings.output, page.model_dump(mode="json")
        )


def _subject_text(r: Any) -> str:
    text = f"{r.subject_type}:{r.subject_id}"
    return f"{text}#{r.subject_relation}" if r.subject_relation else text


def _filter_part(text: str, side: str, hint: str) -> dict[str, str | None]:
    """`type[:id][#relation]` as filter fields of one side (`resource` or `subject`)."""
    head, hash_sign, relation = text.partition("#")
    object_type, colon, object_id = head.partition(":")
    if not object_type or (colon and not object_id) or (hash_sign and not relation):
        raise typer.BadParameter(f"{text!r} is not TYPE[:ID][#RELATION]", param_hint=hint)
    return {
        f"{side}_type": object_type,
        f"{side}_id": object_id or None,
        f"{side}_relation": relation or None,
    }


@perm.command("expand")
def expand(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(metavar="RESOURCE#PERMISSION", help="e.g. namespace:payments#operate")
    ],
    consistency: ConsistencyOption = None,
    zookie: ZookieOption = None,
    store: StoreOption = PLATFORM_STORE,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Show how PERMISSION on RESOURCE is made up: its rewrite tree, one level of usersets deep."""
    resource, permission = _split(target, "permission", "RESOURCE#PERMISSION")
    mode = _consistency(consistency, zookie)
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output)
        found = ask(
            settings,
            lambda client: client.permissions.expand(
                resource, permission, consistency=mode, zookie=zookie, store=store
            ),
        )
    if settings.output is OutputFormat.table:
        tree = Tree(_node_label(found.tree))
        _grow(tree, found.tree)
        _output.out.print(tree)
    else:
        _output.document(found.model_dump(mode="json", exclude_none=True), settings.output)


def _node_label(node: ExpandNode) -> Text:
    label = Text.assemble((node.kind, "bold"), f" {node.resource}#{node.relation}")
    if node.target:
        label.append(f" -> {node.target}")
    return label


def _grow(tree: Tree, node: ExpandNode) -> None:
    for subject in node.subjects or []:
        tree.add(Text(subject))
    for child in node.children or []:
        _grow(tree.add(_node_label(child)), child)


@perm.command("lookup-resources")
def lookup_resources(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="TYPE#PERMISSION", help="e.g. namespace#view")],
    subject: SubjectArgument,
    consistency: ConsistencyOption = None,
    zookie: ZookieOption = None,
    store: StoreOption = PLATFORM_STORE,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """List the resources of TYPE on which SUBJECT has PERMISSION."""
    resource_type, permission = _split(target, "permission", "TYPE#PERMISSION", needs_id=False)
    mode = _consistency(consistency, zookie)

    async def lookup(client: AssayClient) -> Any:
        named = await _subject(client, subject)
        return await client.permissions.lookup_resources(
            resource_type, permission, named, consistency=mode, zookie=zookie, store=store
        )

    with _output.reported_errors():
        settings = resolve(ctx, api_url, output)
        found = ask(settings, lookup)
    if settings.output is OutputFormat.table:
        _output.table(["RESOURCE"], [[f"{resource_type}:{i}"] for i in found.resource_ids])
    else:
        _output.document(found.model_dump(mode="json"), settings.output)


@perm.command("lookup-subjects")
def lookup_subjects(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(metavar="RESOURCE#PERMISSION", help="e.g. namespace:payments#operate")
    ],
    subject_type: Annotated[
        str,
        typer.Argument(metavar="SUBJECT_TYPE[#RELATION]", help="e.g. user, or group#member for usersets"),
    ],
    consistency: ConsistencyOption = None,
    zookie: ZookieOption = None,
    store: StoreOption = PLATFORM_STORE,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """List the subjects of SUBJECT_TYPE that have PERMISSION on RESOURCE."""
    resource, permission = _split(target, "permission", "RESOURCE#PERMISSION")
    kind, _, subject_relation = subject_type.partition("#")
    mode = _consistency(consistency, zookie)
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output)
        found = ask(
            settings,
            lambda client: client.permissions.lookup_subjects(
                resource,
                permission,
                kind,
                subject_relation=subject_relation or None,
                consistency=mode,
                zookie=zookie,
                store=store,
            ),
        )
    if settings.output is OutputFormat.table:
        suffix = f"#{subject_relation}" if subject_relation else ""
        _output.table(
            ["SUBJECT", "EXCEPT"],
            [[f"{kind}:{s.id}{suffix}", ", ".join(s.excluded_ids)] for s in found.subjects],
        )
    else:
        _output.document(found.model_dump(mode="json"), settings.output)
