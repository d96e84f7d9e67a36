"""The services behind the gateway and the pooled HTTP clients that reach them: the proxy's own
(`upstream_http`) and aiohttp for everything else the gateway asks them."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from assay_common.errors import BadGateway
from assay_common.internal_auth import INTERNAL_TOKEN_HEADER, Principal
from assay_gateway.routing import SERVICES
from assay_gateway.settings import GatewaySettings
from assay_gateway.upstream_http import UpstreamConnections

#: Idle upstream connections are dropped before the services' idle timeout (at least 5 s,
#: `http_idle_timeout_seconds`) would close them, so a request is never sent on a connection the
#: service is closing at that very moment.
KEEPALIVE_EXPIRY_SECONDS = 4.0
#: How the gateway itself appears to the services it asks (about credentials, keys, biscuits).
GATEWAY = Principal(id="gateway", kind="service")


def create_client(settings: GatewaySettings) -> aiohttp.ClientSession:
    """Keep-alive pool for the gateway's own calls: probes, documents, token and key checks.

    aiohttp rather than httpx: httpx's connection pool cost several times aiohttp's CPU per
    request (bench/RESULTS.md)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=settings.upstream_max_connections,
            keepalive_timeout=KEEPALIVE_EXPIRY_SECONDS,
            # The services are named in settings; resolving them again per request buys nothing.
            ttl_dns_cache=60,
        ),
        timeout=aiohttp.ClientTimeout(
            total=None,
            connect=settings.upstream_connect_timeout_seconds,
            sock_read=settings.upstream_timeout_seconds,
        ),
        # Bytes pass through as the service sent them; no header is added that the client did not send.
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        trust_env=False,
    )


@dataclass(frozen=True)
class Probe:
    """What one service answered on one of its standard endpoints."""

    status_code: int | None
    body: Any
    error: str | None
    latency_ms: float


def create_connections(settings: GatewaySettings) -> UpstreamConnections:
    """Keep-alive connections for the proxied requests."""
    return UpstreamConnections(
        limit=settings.upstream_max_connections,
        connect_timeout=settings.upstream_connect_timeout_seconds,
        read_timeout=settings.upstream_timeout_seconds,
        keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
    )


@dataclass(frozen=True)
class Upstreams:
    """Base URLs of the services (from settings: one each, or several replicas of one, used in
    turn) and the clients to call them: `connections` for proxied requests, `client` for the rest."""

    client: aiohttp.ClientSession
    connections: UpstreamConnections
    replicas: dict[str, tuple[str, ...]]
    _turns: dict[str, Iterator[int]] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: GatewaySettings) -> Upstreams:
        replicas = {name: replica_urls(str(getattr(settings, f"{name}_url"))) for name in SERVICES}
        return cls(
            create_client(settings),
            create_connections(settings),
            replicas,
            {name: itertools.cycle(range(len(urls))) for name, urls in replicas.items()},
        )

    async def close(self) -> None:
        self.connections.close()
        await self.client.close()

    def url(self, service: str, path: str = "") -> str:
        """`path` on the replica of `service` whose turn it is."""
        return self.in_turn(service)[0] + path

    def in_turn(self, service: str) -> tuple[str, ...]:
        """The replicas of `service`, starting with the one whose turn it is: the others are where
        a request goes when that one refuses the connection."""
        urls = self.replicas[service]
        first = next(self._turns[service]) if len(urls) > 1 else 0
        return urls[first:] + urls[:first]

    async def post_json(
        self, service: str, path: str, body: Mapping[str, Any], *, token: str, purpose: str
    ) -> tuple[int, bytes]:
        """POST `body` as JSON to `service` with the internal token `token`; the status and body
        of its answer. `BadGateway` when it cannot be reached (`purpose`: to do what)."""
        headers = {
            INTERNAL_TOKEN_HEADER: token,
            # Named here: the shared session adds no Content-Type of its own.
            "content-type": "application/json",
        }
        try:
            async with self.client.post(
                self.url(service, path), data=json.dumps(body), headers=headers
            ) as response:
                return response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError):
            raise BadGateway(f"the {service} service is not reachable to {purpose}") from None

    async def probe(self, service: str, path: str, within: float) -> Probe:
        """GET a standard endpoint of `service`; never raises, a failure is described in `error`."""
        started = time.perf_counter()
        try:
            async with self.client.get(
                self.url(service, path), timeout=aiohttp.ClientTimeout(total=within)
            ) as response:
                status, content = response.status, await response.read()
        except TimeoutError:
            return Probe(None, None, f"no answer within {within:g}s", _since(started))
        except aiohttp.ClientError as exc:
            return Probe(None, None, f"unreachable ({type(exc).__name__})", _since(started))
        latency = _since(started)
        try:
            body = json.loads(content)
        except ValueError:
            return Probe(status, None, f"answered {status} without JSON", latency)
        return Probe(status, body, None, latency)

    async def probe_all(self, path: str, within: float) -> dict[str, Probe]:
        """Probe every service at once, so one slow service costs `within`, not the sum."""
        probes = await asyncio.gather(*(self.probe(name, path, within) for name in SERVICES))
        return dict(zip(SERVICES, probes, strict=True))


def replica_urls(setting: str) -> tuple[str, ...]:
    """The base URLs of a `<service>_url` setting: one, or several separated by commas."""
    return tuple(url.strip().rstrip("/") for url in setting.split(",") if url.strip())


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
