"""`python -m tests`: the whole test suite, as `./run test` and CI run it.

1. ruff (lint and format) and mypy --strict over every package and the tests;
2. pytest on Postgres with the machine's NATS (or an embedded one when none is running);
   store-level tests run on SQLite and Postgres in this pass;
3. pytest again on SQLite with an embedded NATS, for the tests that use the running stack.

Postgres: `ASSAY_TEST_POSTGRES_URL`, else 127.0.0.1:5432, else a private server from the
`pgserver` package (so a machine with only Python and git can run everything).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "assay_common",
    "assay",
    "assay_workflow",
    "assay_auth",
    "assay_vault",
    "assay_gateway",
    "assay_dashboard",
    "tests",
    "bench",
    "examples",
)


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def postgres() -> Iterator[str]:
    """An administrative Postgres URL for this run."""
    if url := os.environ.get("ASSAY_TEST_POSTGRES_URL"):
        yield url
        return
    if reachable("127.0.0.1", 5432):
        yield "postgresql://postgres@127.0.0.1:5432/postgres"
        return
    from pgserver.postgres_server import get_server

    with tempfile.TemporaryDirectory(prefix="assay-pg-") as directory:
        server = get_server(directory, cleanup_mode="stop")
        try:
            sys.stderr.write(f"no Postgres on 127.0.0.1:5432; started a private one in {directory}\n")
            yield server.get_uri()
        finally:
            server.cleanup()


def step(title: str, command: list[str], env: dict[str, str] | None = None) -> bool:
    sys.stdout.write(f"\n=== {title}\n")
    sys.stdout.flush()
    started = time.monotonic()
    code = subprocess.call(command, cwd=ROOT, env={**os.environ, **(env or {})})
    sys.stdout.write(
        f"=== {title}: {'ok' if code == 0 else f'FAILED ({code})'} in {time.monotonic() - started:.0f}s\n"
    )
    return code == 0


def main(argv: list[str]) -> int:
    python = sys.executable
    pytest_args = ["-p", "no:cacheprovider", *argv]
    results = [
        step("ruff check", [python, "-m", "ruff", "check", "."]),
        step("ruff format --check", [python, "-m", "ruff", "format", "--check", "."]),
        step("mypy --strict", [python, "-m", "mypy", *(f"-p{p}" for p in PACKAGES)]),
    ]
    nats = "system" if reachable("127.0.0.1", 4222) else "embedded"
    with postgres() as admin_url:
        common = {"ASSAY_TEST_POSTGRES_URL": admin_url}
        results.append(
            step(
                f"pytest: Postgres stack, {nats} NATS, store tests on both backends",
                [python, "-m", "pytest", *pytest_args],
                {**common, "ASSAY_TEST_DB": "postgres", "ASSAY_TEST_NATS": nats},
            )
        )
        results.append(
            step(
                "pytest: SQLite stack, embedded NATS (tests of the running stack)",
                [python, "-m", "pytest", *pytest_args],
                {
                    **common,
                    "ASSAY_TEST_DB": "sqlite",
                    "ASSAY_TEST_NATS": "embedded",
                    "ASSAY_TEST_PASS": "stack",
                },
            )
        )
    failed = results.count(False)
    sys.stdout.write(f"\n{'all steps passed' if not failed else f'{failed} step(s) failed'}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
