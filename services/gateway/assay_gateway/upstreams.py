"""The services behind the gateway and the one pooled HTTP client that reaches them."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

from assay_gateway.routing import SERVICES
from assay_gateway.settings import GatewaySettings

#: Idle upstream connections are dropped before uvicorn's own 5 s keep-alive timeout would close
#: them, so a request is never sent on a connection the service is closing at that very moment.
KEEPALIVE_EXPIRY_SECONDS = 4.0


def create_client(settings: GatewaySettings) -> httpx.AsyncClient:
    """Keep-alive pool shared by every proxied request, probe and document fetch."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            settings.upstream_timeout_seconds,
            connect=settings.upstream_connect_timeout_seconds,
            pool=settings.upstream_connect_timeout_seconds,
        ),
        limits=httpx.Limits(
            max_connections=settings.upstream_max_connections,
            max_keepalive_connections=min(100, settings.upstream_max_connections),
            keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
        ),
        follow_redirects=False,
        trust_env=False,
    )


@dataclass(frozen=True)
class Probe:
    """What one service answered on one of its standard endpoints."""

    status_code: int | None
    body: Any
    error: str | None
    latency_ms: float


@dataclass(frozen=True)
class Upstreams:
    """Base URLs of the services (from settings) and the client to call them."""

    client: httpx.AsyncClient
    urls: dict[str, str]

    @classmethod
    def of(cls, client: httpx.AsyncClient, settings: GatewaySettings) -> Upstreams:
        urls = {name: str(getattr(settings, f"{name}_url")).rstrip("/") for name in SERVICES}
        return cls(client, urls)

    def url(self, service: str, path: str = "") -> str:
        return self.urls[service] + path

    async def probe(self, service: str, path: str, within: float) -> Probe:
        """GET a standard endpoint of `service`; never raises, a failure is described in `error`."""
        started = time.perf_counter()
        try:
            response = await self.client.get(self.url(service, path), timeout=within)
        except httpx.TimeoutException:
            return Probe(None, None, f"no answer within {within:g}s", _since(started))
        except httpx.HTTPError as exc:
            return Probe(None, None, f"unreachable ({type(exc).__name__})", _since(started))
        latency = _since(started)
        try:
            body = response.json()
        except ValueError:
            return Probe(response.status_code, None, f"answered {response.status_code} without JSON", latency)
        return Probe(response.status_code, body, None, latency)

    async def probe_all(self, path: str, within: float) -> dict[str, Probe]:
        """Probe every service at once, so one slow service costs `within`, not the sum."""
        probes = await asyncio.gather(*(self.probe(name, path, within) for name in SERVICES))
        return dict(zip(SERVICES, probes, strict=True))


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
