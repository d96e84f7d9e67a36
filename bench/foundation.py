"""Foundation benchmarks: start-up, idle memory, gateway overhead, event delivery latency.

    ./run python -m bench.foundation [--requests 2000] [--events 300] [--starts 3]

1. `assay up` time to ready: the real command on the embedded default (fresh data directory,
   embedded NATS, SQLite), from spawn until `/api/v1/health` answers 200; median of --starts.
2. Idle RSS of every process of that platform after it has been idle for a few seconds.
3. Gateway proxy overhead: GET /api/v1/namespaces/main through the gateway and directly to the
   workflow service, sequential keep-alive requests; p50/p99 of each. Each side carries the
   credential it needs and no more: through the gateway the bootstrap administrator's API key
   (the gateway's validation of it is cached, so after the warm-up the figure is the steady
   state of an authenticated call, not a check with the auth service per request); direct, an
   internal token minted once for the principal that key stands for, as the gateway would mint.
4. Outbox commit → SSE delivery: a client on /api/v1/events/stream; namespaces created one after
   another; latency from the event's `time` (stamped in the transaction, just before commit) to
   the frame's arrival at the client, and from sending the POST to the frame's arrival.

Prints a Markdown section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

from assay.local import LocalPlatform, PlatformOptions, free_port
from assay_common.internal_auth import INTERNAL_TOKEN_HEADER, InternalTokenMinter, Principal, load_private_key
from bench.report import emit, percentile


def summary(values: list[float]) -> str:
    return f"p50 {percentile(values, 50):.2f} ms, p99 {percentile(values, 99):.2f} ms (n={len(values)})"


async def wait_healthy(url: str, deadline: float) -> None:
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{url}/api/v1/health", timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.02)
    raise RuntimeError("the platform did not become healthy in time")


async def measure_up(starts: int) -> tuple[list[float], dict[str, float]]:
    """Start `assay up` `starts` times; returns the times to ready and the idle RSS of the last."""
    times: list[float] = []
    rss: dict[str, float] = {}
    for attempt in range(starts):
        with tempfile.TemporaryDirectory(prefix="assay-bench-") as data_dir:
            port = free_port()
            started = time.monotonic()
            process = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "assay"),
                "up",
                "--data-dir",
                data_dir,
                "--port",
                str(port),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                await wait_healthy(f"http://127.0.0.1:{port}", started + 60)
                times.append(time.monotonic() - started)
                if attempt == starts - 1:
                    await asyncio.sleep(5)  # let start-up work settle before reading idle memory
                    rss = idle_rss(process.pid)
            finally:
                process.send_signal(signal.SIGINT)
                await asyncio.wait_for(process.wait(), timeout=30)
    return times, rss


def idle_rss(root_pid: int) -> dict[str, float]:
    root = psutil.Process(root_pid)
    out: dict[str, float] = {"assay up (supervisor)": root.memory_info().rss / 2**20}
    for child in root.children(recursive=True):
        cmdline = child.cmdline()
        name = next((part.removeprefix("assay_") for part in cmdline if part.startswith("assay_")), None)
        label = name or Path(cmdline[0]).name
        out[label] = child.memory_info().rss / 2**20
    return out


def api_key_of(stack: LocalPlatform) -> str:
    if stack.bootstrap is None:
        raise RuntimeError("the platform made no administrator: start it on a fresh data directory")
    return stack.bootstrap.api_key


async def measure_proxy(stack: LocalPlatform, requests: int) -> tuple[list[float], list[float]]:
    api_key = api_key_of(stack)
    async with httpx.AsyncClient(base_url=stack.url) as client:
        response = await client.get("/api/v1/auth/whoami", headers={"authorization": f"Bearer {api_key}"})
        response.raise_for_status()
        found = response.json()["principal"]
    # The principal the gateway vouches for when it forwards a request made with the key.
    principal = Principal(id=found["id"], kind=found["kind"], scopes=tuple(found["scopes"]))
    key = load_private_key((stack.data_dir / "internal.key").read_bytes())
    token = InternalTokenMinter(key).mint(principal, "workflow")

    async def run(client: httpx.AsyncClient, headers: dict[str, str]) -> list[float]:
        for _ in range(100):  # warm up connections and code paths
            await client.get("/api/v1/namespaces/main", headers=headers)
        samples = []
        for _ in range(requests):
            started = time.perf_counter()
            response = await client.get("/api/v1/namespaces/main", headers=headers)
            samples.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
        return samples

    async with (
        httpx.AsyncClient(base_url=stack.url) as via_gateway,
        httpx.AsyncClient(base_url=stack.service_url("workflow")) as direct,
    ):
        gateway = await run(via_gateway, {"authorization": f"Bearer {api_key}"})
        workflow = await run(direct, {INTERNAL_TOKEN_HEADER: token})
    return gateway, workflow


async def measure_delivery(stack: LocalPlatform, events: int) -> tuple[list[float], list[float]]:
    commit_to_client: list[float] = []
    request_to_client: list[float] = []
    prefix = f"bench{os.getpid()}"
    async with (
        httpx.AsyncClient(
            base_url=stack.url, timeout=30, headers={"authorization": f"Bearer {api_key_of(stack)}"}
        ) as client,
        client.stream(
            "GET", "/api/v1/events/stream", params={"type": "assay.workflow.namespace_created"}
        ) as stream,
    ):
        lines = stream.aiter_lines()
        for i in range(events):
            name = f"{prefix}-{i}"
            sent = time.time()
            (await client.post("/api/v1/namespaces", json={"name": name})).raise_for_status()
            while True:
                line = await anext(lines)
                if not line.startswith("data:"):
                    continue
                arrived = time.time()
                event = json.loads(line.removeprefix("data:").strip())
                if event["data"]["namespace"] != name:
                    continue
                stamped = datetime.fromisoformat(event["time"]).timestamp()
                commit_to_client.append((arrived - stamped) * 1000)
                request_to_client.append((arrived - sent) * 1000)
                break
    return commit_to_client, request_to_client


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()

    up_times, rss = await measure_up(args.starts)
    with tempfile.TemporaryDirectory(prefix="assay-bench-") as data_dir:
        options = PlatformOptions(
            data_dir=Path(data_dir), port=free_port(), env={"ASSAY_LOG_LEVEL": "WARNING"}
        )
        async with LocalPlatform(options) as stack:
            gateway, direct = await measure_proxy(stack, args.requests)
            commit, request = await measure_delivery(stack, args.events)

    machine = (
        f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}"
    )
    emit(f"### Run of {datetime.now(UTC):%Y-%m-%d}: {machine}, Python {platform.python_version()}\n")
    emit(
        "Command: `./run python -m bench.foundation"
        f" --requests {args.requests} --events {args.events} --starts {args.starts}`\n"
    )
    emit("| measure | result |\n| --- | --- |")
    emit(
        f"| `assay up` time to ready (embedded NATS + SQLite) | median {statistics.median(up_times):.1f} s "
        f"(runs: {', '.join(f'{t:.1f}' for t in up_times)} s) |"
    )
    for name, megabytes in sorted(rss.items()):
        emit(f"| idle RSS: {name} | {megabytes:.0f} MiB |")
    emit(f"| idle RSS: total | {sum(rss.values()):.0f} MiB |")
    emit(f"| GET through the gateway (API key) | {summary(gateway)} |")
    emit(f"| GET direct to the workflow service (internal token) | {summary(direct)} |")
    emit(
        f"| gateway overhead (difference) | p50 {percentile(gateway, 50) - percentile(direct, 50):.2f} ms, "
        f"p99 {percentile(gateway, 99) - percentile(direct, 99):.2f} ms |"
    )
    emit(f"| outbox commit → SSE frame at the client | {summary(commit)} |")
    emit(f"| POST sent → SSE frame at the client | {summary(request)} |")


if __name__ == "__main__":
    asyncio.run(main())
