"""A real S3-compatible server on loopback for the archive tests: moto's standalone server, in a
process of its own on a free port, always stopped afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import boto3
import pytest

from assay.local import free_port
from assay.local.platform import ManagedProcess

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

#: Credentials and region for moto, which accepts any; the service under test reads them from
#: the environment like any AWS credentials.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
BUCKET = "assay-archive"


class S3Server:
    """moto's server; `stop()` and `start()` again on the same port to make it unreachable for a
    while (it keeps its buckets in memory, so a restarted server has none)."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = ManagedProcess(
            "moto",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            AWS_ENV,
            log_path,
            ready_url=f"{self.url}/moto-api/",
        )
        self.client: S3Client = boto3.session.Session().client(
            "s3", endpoint_url=self.url, region_name=AWS_ENV["AWS_DEFAULT_REGION"]
        )

    async def start(self) -> None:
        await self.process.spawn()
        async with aiohttp.ClientSession() as session:
            await self.process.wait_ready(session, asyncio.get_running_loop().time() + 30)

    async def stop(self) -> None:
        await self.process.stop()

    async def create_bucket(self, *, versioned: bool = False) -> None:
        await asyncio.to_thread(self.client.create_bucket, Bucket=BUCKET)
        if versioned:
            await asyncio.to_thread(
                self.client.put_bucket_versioning,
                Bucket=BUCKET,
                VersioningConfiguration={"Status": "Enabled"},
            )

    async def object(self, key: str) -> Any:
        """The JSON content of an object of the bucket."""
        answer = await asyncio.to_thread(self.client.get_object, Bucket=BUCKET, Key=key)
        return json.loads(await asyncio.to_thread(answer["Body"].read))

    async def versions(self) -> Mapping[str, int]:
        """How many versions of each key the (versioned) bucket holds."""
        listed = await asyncio.to_thread(self.client.list_object_versions, Bucket=BUCKET)
        counts: dict[str, int] = {}
        for version in listed.get("Versions", []):
            counts[version["Key"]] = counts.get(version["Key"], 0) + 1
        return counts


@contextlib.asynccontextmanager
async def running_s3_server(directory: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[S3Server]:
    """A running S3 server without buckets (its log in `directory`), stopped however the block
    ends; the AWS credentials it takes are put in the environment meanwhile."""
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    server = S3Server(directory / "moto.log")
    try:
        await server.start()
        yield server
    finally:
        await server.stop()
