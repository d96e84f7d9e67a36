"""Permission checks: latency and throughput of `check` in each consistency mode, bulk checks and
lookups, through the gateway and directly against the auth service.

    ./run python -m bench.permissions [--relationships 100000] [--checks 1000] [--concurrency 8]
        [--bulk-size 100] [--lookups 200] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

One `LocalPlatform` (embedded NATS and SQLite, or a fresh database on the Postgres server of
--postgres), a permission store of its own (`bench`) with this schema:

    user {}
    group    { member: user | group#member }
    folder   { parent: folder; viewer: user | group#member; view = viewer + parent->view }
    document { parent: folder; viewer: user | group#member; editor: user | group#member;
               edit = editor; view = viewer + editor + parent->view }

and a graph of --relationships relationships, written through the gateway in batches of 1,000:
groups in chains five deep (each group's members include the next group's members, plus ten users
of its own); folder trees four levels deep (a root, three children each), each root viewed by the
top group of a chain, every folder by one user; then documents until the budget is spent, each in
a leaf folder with one user as viewer, every fourth with a group of editors.

The questions are `document:…#view@user:…`, a third of each kind, at random (fixed seed):
granted through the folder tree and the five nested groups (the longest walk), granted directly
(the document's viewer), and denied (a user in no relationship: the whole graph above the document
is walked before the answer is no). Every answer is compared with the one the graph's construction
gives; a wrong answer ends the run.

For each target (the gateway with the first administrator's API key; the auth service directly
with an internal token minted for the principal that key stands for, as the gateway would), each
mode, sequentially and with --concurrency clients:

- "distinct, first ask": --checks different questions, each asked once, right after a write (a
  new revision, so no answer is cached: each is evaluated against the database);
- "distinct, warm": the same questions again, at the same revision (every answer from the cache);
- "repeated": one question (granted through the groups) asked --checks times.

The modes: `minimize_latency`; `at_least_as_fresh` with the zookie of the write just made;
`fully_consistent` (the current revision read from the database on every check, then the cached
answer at that revision if there is one). Each cell takes the p50/p95/p99 of one check's latency
and the checks per second over the cell (n / wall time), and the CPU time the auth service and the
gateway spent per check during the cell (from their processes' counters: on a shared machine the
steadiest figure, and the one that bounds throughput). The third target is the path the
platform's own authorization takes (the gateway's and the services' route checks): the
`assay_common.permission_checks` client asking the auth service over NATS request/reply, with its
own answer cache off (so every check is a round trip; `minimize_latency` and `at_least_as_fresh`,
the two modes that client asks in). Bulk checks (--bulk-size questions a
request) and `lookup/resources` (document#view of --lookups users of the deepest groups, first
ask after a write, then again warm) go through the gateway.

Prints a Markdown section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from assay.local import LocalPlatform, PlatformOptions, free_port
from assay_common.events.bus import EventBus
from assay_common.events.subjects import Subjects
from assay_common.internal_auth import INTERNAL_TOKEN_HEADER, InternalTokenMinter, Principal, load_private_key
from assay_common.permission_checks import Need, PermissionChecks
from bench.databases import fresh_database
from bench.report import emit, percentile, progress

STORE = "bench"
PREFIX = f"/api/v1/auth/permissions/stores/{STORE}"
SCHEMA = """
definition user {}

definition group {
    relation member: user | group#member
}

definition folder {
    relation parent: folder
    relation viewer: user | group#member
    permission view = viewer + parent->view
}

definition document {
    relation parent: folder
    relation viewer: user | group#member
    relation editor: user | group#member
    permission edit = editor
    permission view = viewer + editor + parent->view
}
"""
#: Groups per chain: a member of the last is a member of the first through four nested groups.
GROUP_DEPTH = 5
USERS_PER_GROUP = 10
#: Folder trees: a root and three levels below it, three children per folder.
FOLDER_LEVELS, FOLDER_FANOUT = 4, 3
BATCH = 1000
MODES = ("minimize_latency", "at_least_as_fresh", "fully_consistent")

Headers = Mapping[str, str]


def load_average() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


# The graph.


@dataclass(frozen=True)
class Question:
    resource: str
    subject: str
    expected: bool
    kind: str

    def body(self) -> dict[str, str]:
        return {"resource": self.resource, "permission": "view", "subject": self.subject}


@dataclass
class Graph:
    relationships: list[str] = field(default_factory=list)
    #: Document id -> the chain of the root folder above it.
    document_chain: dict[str, int] = field(default_factory=dict)
    document_viewer: dict[str, str] = field(default_factory=dict)
    chains: int = 0
    #: Users of the deepest group of each chain.
    deep_users: dict[int, list[str]] = field(default_factory=dict)
    documents: int = 0
    folders: int = 0
    groups: int = 0


def build_graph(total: int, rng: random.Random) -> Graph:
    graph = Graph()
    rels = graph.relationships
    users = max(100, total // 10)
    graph.chains = max(1, total // 1000)
    for chain in range(graph.chains):
        for level in range(GROUP_DEPTH):
            group = f"g{chain}-{level}"
            graph.groups += 1
            if level + 1 < GROUP_DEPTH:
                rels.append(f"group:{group}#member@group:g{chain}-{level + 1}#member")
            members = rng.sample(range(users), USERS_PER_GROUP)
            rels.extend(f"group:{group}#member@user:u{m}" for m in members)
            if level == GROUP_DEPTH - 1:
                graph.deep_users[chain] = [f"u{m}" for m in members]
    roots = max(1, total // 500)
    leaves: list[tuple[str, int]] = []
    folders: list[str] = []
    for root in range(roots):
        chain = root % graph.chains
        rels.append(f"folder:r{root}#viewer@group:g{chain}-0#member")
        level_folders = [f"r{root}"]
        for _ in range(FOLDER_LEVELS - 1):
            below = []
            for parent in level_folders:
                for child in range(FOLDER_FANOUT):
                    folder = f"{parent}_{child}"
                    rels.append(f"folder:{folder}#parent@folder:{parent}")
                    below.append(folder)
            level_folders = below
            folders.extend(below)
        folders.append(f"r{root}")
        leaves.extend((folder, chain) for folder in level_folders)
    graph.folders = len(folders)
    rels.extend(f"folder:{folder}#viewer@user:u{rng.randrange(users)}" for folder in folders)
    number = 0
    while len(rels) + 2 <= total:
        folder, chain = leaves[number % len(leaves)]
        document = f"d{number}"
        viewer = f"u{rng.randrange(users)}"
        rels.append(f"document:{document}#parent@folder:{folder}")
        rels.append(f"document:{document}#viewer@user:{viewer}")
        if number % 4 == 0 and len(rels) < total:
            rels.append(f"document:{document}#editor@group:g{rng.randrange(graph.chains)}-2#member")
        graph.document_chain[document] = chain
        graph.document_viewer[document] = viewer
        number += 1
    graph.documents = number
    return graph


def questions(graph: Graph, count: int, rng: random.Random) -> list[Question]:
    documents = list(graph.document_chain)
    made: list[Question] = []
    seen: set[tuple[str, str]] = set()
    while len(made) < count:
        document = rng.choice(documents)
        kind = ("nested", "direct", "denied")[len(made) % 3]
        if kind == "nested":
            subject, expected = rng.choice(graph.deep_users[graph.document_chain[document]]), True
        elif kind == "direct":
            subject, expected = graph.document_viewer[document], True
        else:
            subject, expected = f"outsider{rng.randrange(10**9)}", False
        if (document, subject) in seen:
            continue
        seen.add((document, subject))
        made.append(Question(f"document:{document}", f"user:{subject}", expected, kind))
    return made


# Calling.


def client(base_url: str, connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        base_url,
        connector=aiohttp.TCPConnector(limit=connections),
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=300),
        trust_env=False,
    )


async def post(http: aiohttp.ClientSession, path: str, headers: Headers, body: object) -> Any:
    async with http.post(path, headers=headers, json=body) as response:
        content = await response.read()
    if response.status >= 300:
        raise RuntimeError(f"POST {path} answered {response.status}: {content[:300]!r}")
    return json.loads(content)


@dataclass
class Target:
    name: str
    http: aiohttp.ClientSession
    headers: Callable[[], Headers]


@dataclass
class RpcTarget:
    """The platform's own check path: the shared client over NATS request/reply, uncached."""

    name: str
    checks: PermissionChecks


async def rpc_checks(
    target: RpcTarget, asked: Sequence[Question], zookie: str | None, concurrency: int
) -> Cell:
    needs = [Need("document", q.resource.removeprefix("document:"), "view") for q in asked]

    async def ask(index: int) -> None:
        (allowed,) = await target.checks.allowed(asked[index].subject, [needs[index]], at_least=zookie)
        if allowed is not asked[index].expected:
            raise RuntimeError(f"wrong answer for {asked[index]}: {allowed}")

    latencies, seconds, cpu = await timed(len(asked), concurrency, ask)
    return Cell(latencies, seconds, len(asked), cpu)


@dataclass
class Services:
    """The processes whose CPU time each cell accounts (user + system)."""

    auth: psutil.Process
    gateway: psutil.Process

    def cpu(self) -> tuple[float, float]:
        return sum(self.auth.cpu_times()[:2]), sum(self.gateway.cpu_times()[:2])


SERVICES: list[Services] = []


@dataclass
class Cell:
    latencies: list[float]
    seconds: float
    items: int
    #: CPU seconds the auth service and the gateway spent during the cell.
    cpu: tuple[float, float] = (0.0, 0.0)

    @property
    def rate(self) -> float:
        return self.items / self.seconds

    def row(self) -> str:
        p = self.latencies
        auth, gateway = (1000 * c / self.items for c in self.cpu)
        return (
            f"{percentile(p, 50):.2f} / {percentile(p, 95):.2f} / {percentile(p, 99):.2f} ms"
            f" | {self.rate:,.0f} | {auth:.2f} / {gateway:.2f} ms"
        )


async def timed(
    count: int, concurrency: int, call: Callable[[int], Awaitable[None]]
) -> tuple[list[float], float, tuple[float, float]]:
    """`call(i)` for every i below `count`, by `concurrency` clients taking the next one in turn:
    each call's latency, the wall time, and the CPU the services spent meanwhile."""
    latencies: list[float] = [0.0] * count
    numbers = itertools.count()
    cpu_before = SERVICES[0].cpu()

    async def worker() -> None:
        while (index := next(numbers)) < count:
            started = time.perf_counter()
            await call(index)
            latencies[index] = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    seconds = time.perf_counter() - started
    cpu_after = SERVICES[0].cpu()
    return latencies, seconds, (cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1])


async def timed_calls(
    target: Target, path: str, bodies: Sequence[object], concurrency: int, verify: Callable[[int, Any], None]
) -> tuple[list[float], float, tuple[float, float]]:
    """Every body posted once."""

    async def call(index: int) -> None:
        verify(index, await post(target.http, path, target.headers(), bodies[index]))

    return await timed(len(bodies), concurrency, call)


async def checks(
    target: Target, asked: Sequence[Question], consistency: dict[str, str], concurrency: int
) -> Cell:
    bodies = [{**q.body(), "consistency": consistency} for q in asked]

    def verify(index: int, answer: Any) -> None:
        if answer["allowed"] is not asked[index].expected:
            raise RuntimeError(f"wrong answer for {asked[index]}: {answer}")

    latencies, seconds, cpu = await timed_calls(target, f"{PREFIX}/check", bodies, concurrency, verify)
    return Cell(latencies, seconds, len(bodies), cpu)


async def bulk_checks(
    target: Target, asked: Sequence[Question], size: int, consistency: dict[str, str], concurrency: int
) -> Cell:
    batches = [asked[start : start + size] for start in range(0, len(asked), size)]
    bodies = [{"items": [q.body() for q in batch], "consistency": consistency} for batch in batches]

    def verify(index: int, answer: Any) -> None:
        got = [r["allowed"] for r in answer["results"]]
        if got != [q.expected for q in batches[index]]:
            raise RuntimeError("a bulk check answered wrongly")

    latencies, seconds, cpu = await timed_calls(target, f"{PREFIX}/check/bulk", bodies, concurrency, verify)
    return Cell(latencies, seconds, len(asked), cpu)


class Writer:
    """Makes a new revision on demand: a relationship no question is about."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.count = 0

    async def write(self) -> str:
        self.count += 1
        relationship = f"document:marker#viewer@user:marker{self.count}"
        written = await post(
            self.target.http,
            f"{PREFIX}/relationships",
            self.target.headers(),
            {"updates": [{"operation": "create", "relationship": relationship}]},
        )
        return str(written["written_at"])


def consistency_of(mode: str, zookie: str) -> dict[str, str]:
    return {"mode": mode, "zookie": zookie} if mode == "at_least_as_fresh" else {"mode": mode}


# The run.


@dataclass
class Results:
    load_start: str
    load_end: str = ""
    graph: Graph | None = None
    load_seconds: float = 0.0
    #: (target, mode, shape, concurrency) -> cell.
    cells: dict[tuple[str, str, str, int], Cell] = field(default_factory=dict)
    bulk: dict[tuple[str, int], Cell] = field(default_factory=dict)
    lookups: dict[str, Cell] = field(default_factory=dict)
    lookup_sizes: list[int] = field(default_factory=list)


async def load(gateway: Target, graph: Graph) -> float:
    await_schema = await gateway.http.put(
        f"{PREFIX}/schema", headers={**gateway.headers(), "content-type": "text/plain"}, data=SCHEMA
    )
    async with await_schema as response:
        if response.status != 200:
            raise RuntimeError(f"PUT schema answered {response.status}: {await response.text()}")
    started = time.perf_counter()
    rels = graph.relationships
    for start in range(0, len(rels), BATCH):
        updates = [{"operation": "create", "relationship": r} for r in rels[start : start + BATCH]]
        await post(gateway.http, f"{PREFIX}/relationships", gateway.headers(), {"updates": updates})
    return time.perf_counter() - started


async def measure_checks(
    results: Results, target: Target, writer: Writer, asked: list[Question], concurrency: int
) -> None:
    repeated = [asked[0]] * len(asked)  # granted through the folder tree and the nested groups
    for mode in MODES:
        for clients in sorted({1, concurrency}):
            progress(f"{target.name}: {mode}, {clients} client(s)")
            zookie = await writer.write()
            consistency = consistency_of(mode, zookie)
            cells = results.cells
            cells[(target.name, mode, "distinct, first ask", clients)] = await checks(
                target, asked, consistency, clients
            )
            cells[(target.name, mode, "distinct, warm", clients)] = await checks(
                target, asked, consistency, clients
            )
            cells[(target.name, mode, "repeated", clients)] = await checks(
                target, repeated, consistency, clients
            )


async def measure_rpc_checks(
    results: Results, target: RpcTarget, writer: Writer, asked: list[Question], concurrency: int
) -> None:
    repeated = [asked[0]] * len(asked)
    for mode in ("minimize_latency", "at_least_as_fresh"):
        for clients in sorted({1, concurrency}):
            progress(f"{target.name}: {mode}, {clients} client(s)")
            written = await writer.write()
            zookie = written if mode == "at_least_as_fresh" else None
            cells = results.cells
            for shape, questions_asked in (
                ("distinct, first ask", asked),
                ("distinct, warm", asked),
                ("repeated", repeated),
            ):
                cells[(target.name, mode, shape, clients)] = await rpc_checks(
                    target, questions_asked, zookie, clients
                )


async def measure_lookups(
    results: Results, gateway: Target, writer: Writer, graph: Graph, count: int
) -> None:
    subjects = [
        f"user:{user}"
        for user in itertools.islice(
            itertools.cycle(sorted(set(itertools.chain(*graph.deep_users.values())))), count
        )
    ]
    bodies = [
        {
            "resource_type": "document",
            "permission": "view",
            "subject": s,
            "consistency": {"mode": "minimize_latency"},
        }
        for s in subjects
    ]

    def verify(index: int, answer: Any) -> None:
        results.lookup_sizes.append(len(answer["resource_ids"]))

    await writer.write()
    for shape in ("first ask", "warm"):
        progress(f"lookup resources, {shape}")
        latencies, seconds, cpu = await timed_calls(gateway, f"{PREFIX}/lookup/resources", bodies, 1, verify)
        results.lookups[shape] = Cell(latencies, seconds, len(bodies), cpu)


async def run(args: argparse.Namespace) -> Results:
    results = Results(load_start=load_average())
    rng = random.Random(20261130)
    graph = build_graph(args.relationships, rng)
    results.graph = graph
    asked = questions(graph, args.checks, rng)
    async with fresh_database(args.postgres, "permissions") as database_url:
        with tempfile.TemporaryDirectory(prefix="assay-bench-") as data_dir:
            options = PlatformOptions(
                data_dir=Path(data_dir),
                port=free_port(),
                postgres_url=database_url,
                env={"ASSAY_LOG_LEVEL": "WARNING"},
            )
            async with (
                LocalPlatform(options) as stack,
                client(stack.url, args.concurrency) as via_gateway,
                client(stack.service_url("auth"), args.concurrency) as direct,
            ):
                if stack.bootstrap is None:
                    raise RuntimeError("the platform made no administrator: its data directory was not fresh")
                api_key = stack.bootstrap.api_key
                gateway_headers = {"authorization": f"Bearer {api_key}"}
                gateway = Target("gateway", via_gateway, lambda: gateway_headers)
                async with via_gateway.get("/api/v1/auth/whoami", headers=gateway_headers) as response:
                    found = (await response.json())["principal"]
                principal = Principal(
                    id=found["id"],
                    kind=found["kind"],
                    session_id=found.get("session_id"),
                    scopes=tuple(found["scopes"]),
                )
                minter = InternalTokenMinter(load_private_key((stack.data_dir / "internal.key").read_bytes()))
                # The minter reuses a token for half its life, as the gateway does.
                auth = Target("auth", direct, lambda: {INTERNAL_TOKEN_HEADER: minter.mint(principal, "auth")})
                progress(f"loading {len(graph.relationships)} relationships")
                results.load_seconds = await load(gateway, graph)
                auth_pid, gateway_pid = stack.processes["auth"].pid, stack.processes["gateway"].pid
                assert auth_pid is not None and gateway_pid is not None
                SERVICES.append(Services(psutil.Process(auth_pid), psutil.Process(gateway_pid)))
                progress(f"auth service pid {auth_pid}")
                writer = Writer(gateway)
                # Warm-up: connections, code paths, the store's schema.
                await checks(gateway, asked[:100], {"mode": "minimize_latency"}, args.concurrency)
                await checks(auth, asked[:100], {"mode": "minimize_latency"}, args.concurrency)
                for target in (gateway, auth):
                    await measure_checks(results, target, writer, asked, args.concurrency)
                # The platform runs with the default subjects (no prefix of its own).
                bus = EventBus(stack.nats_url, Subjects(), events_max_age=3600, audit_max_age=3600)
                await bus.connect()
                try:
                    rpc = RpcTarget("NATS request/reply", PermissionChecks(bus, cache_seconds=0, store=STORE))
                    await rpc_checks(rpc, asked[:100], None, args.concurrency)  # warm-up
                    await measure_rpc_checks(results, rpc, writer, asked, args.concurrency)
                finally:
                    await bus.close()
                for clients in sorted({1, args.concurrency}):
                    progress(f"bulk checks, {clients} client(s)")
                    await writer.write()
                    consistency = {"mode": "minimize_latency"}
                    results.bulk[("first ask", clients)] = await bulk_checks(
                        gateway, asked, args.bulk_size, consistency, clients
                    )
                    results.bulk[("warm", clients)] = await bulk_checks(
                        gateway, asked, args.bulk_size, consistency, clients
                    )
                await measure_lookups(results, gateway, writer, graph, args.lookups)
    results.load_end = load_average()
    return results


def report(args: argparse.Namespace, results: Results) -> None:
    graph = results.graph
    assert graph is not None
    cores = os.cpu_count() or 1
    machine = f"{cores} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}"
    emit(f"### Run of {datetime.now(UTC):%Y-%m-%d}: {machine}, Python {platform.python_version()}\n")
    command = (
        f"./run python -m bench.permissions --relationships {args.relationships} --checks {args.checks}"
        f" --concurrency {args.concurrency} --bulk-size {args.bulk_size} --lookups {args.lookups}"
    )
    if args.postgres:
        command += f" --postgres {args.postgres}"
    emit(f"Command: `{command}`\n")
    emit(f"Database: {'Postgres' if args.postgres else 'SQLite'}, embedded NATS.")
    emit(f"Load average (1, 5, 15 min) at the start: {results.load_start}; at the end: {results.load_end}.")
    count = len(graph.relationships)
    emit(
        f"Graph: {count:,} relationships ({graph.groups} groups in {graph.chains} chains of {GROUP_DEPTH},"
        f" {graph.folders:,} folders, {graph.documents:,} documents), written in"
        f" {results.load_seconds:.1f} s ({count / results.load_seconds:,.0f} relationships/s,"
        f" batches of {BATCH}).\n"
    )
    emit("| target | mode | questions | clients | p50 / p95 / p99 | checks/s | CPU a check: auth / gateway |")
    emit("| --- | --- | --- | --- | --- | --- | --- |")
    for (target, mode, shape, clients), cell in results.cells.items():
        emit(f"| {target} | {mode} | {shape} | {clients} | {cell.row()} |")
    emit(
        f"\n| bulk checks via the gateway ({args.bulk_size} a request, minimize_latency) | clients"
        " | p50 / p95 / p99 a request | checks/s | CPU a check: auth / gateway |"
    )
    emit("| --- | --- | --- | --- | --- |")
    for (shape, clients), cell in results.bulk.items():
        emit(f"| distinct, {shape} | {clients} | {cell.row()} |")
    sizes = results.lookup_sizes
    emit(
        f"\n| `lookup/resources` document#view via the gateway (n={args.lookups},"
        f" {min(sizes)} to {max(sizes)} ids, mean {sum(sizes) / len(sizes):.0f})"
        " | p50 / p95 / p99 | lookups/s | CPU a lookup: auth / gateway |"
    )
    emit("| --- | --- | --- | --- |")
    for shape, cell in results.lookups.items():
        emit(f"| {shape} | {cell.row()} |")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--relationships", type=int, default=100_000)
    parser.add_argument("--checks", type=int, default=1000, help="questions per cell")
    parser.add_argument("--concurrency", type=int, default=8, help="clients at once in the concurrent cells")
    parser.add_argument("--bulk-size", type=int, default=100, help="questions per bulk check")
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument(
        "--postgres", metavar="URL", help="a Postgres server's admin URL: run on a fresh database there"
    )
    args = parser.parse_args()
    report(args, await run(args))


if __name__ == "__main__":
    asyncio.run(main())
