"""The platform at a glance: health, versions and modules, asked of every service at once."""

from __future__ import annotations

import platform
from typing import Literal

from pydantic import BaseModel, Field

from assay_gateway.gateway import Gateway
from assay_gateway.routing import SERVICES, prefixes_of
from assay_gateway.upstreams import Probe

GATEWAY = "gateway"
#: The gateway's own public routes, for `/api/v1/modules`.
GATEWAY_PATHS = [
    "/api/v1/health",
    "/api/v1/version",
    "/api/v1/modules",
    "/api/v1/openapi.json",
    "/api/v1/docs",
    "/api/v1/events",
]


class ServiceHealth(BaseModel):
    """One service's readiness as the gateway sees it; `checks` when it answered, else `error`."""

    status: Literal["ok", "not_ready", "unreachable"]
    checks: dict[str, str] | None = Field(default=None, description="The service's own readiness checks")
    error: str | None = Field(default=None, description="Why the service could not be asked")
    latency_ms: float


class PlatformHealth(BaseModel):
    status: Literal["ok", "degraded"] = Field(description="`ok` only when every service is")
    services: dict[str, ServiceHealth]


class ServiceVersion(BaseModel):
    version: str | None = None
    python: str | None = None
    build: str | None = Field(
        default=None, description="What it was built from (e.g. a commit); empty: not told"
    )
    error: str | None = Field(default=None, description="Why the service could not be asked")


class PlatformVersion(BaseModel):
    version: str = Field(description="The gateway's version")
    services: dict[str, ServiceVersion]


class Module(BaseModel):
    name: str
    paths: list[str] = Field(description="Public path prefixes this module serves")
    reachable: bool


class ModuleList(BaseModel):
    modules: list[Module]


def _health_of(probe: Probe) -> ServiceHealth:
    body = probe.body if isinstance(probe.body, dict) else {}
    checks = body.get("checks")
    if probe.error is not None or not isinstance(checks, dict):
        error = probe.error or f"unexpected answer {probe.status_code}"
        return ServiceHealth(status="unreachable", error=error, latency_ms=probe.latency_ms)
    ready = probe.status_code == 200 and body.get("status") == "ready"
    return ServiceHealth(
        status="ok" if ready else "not_ready",
        checks={str(k): str(v) for k, v in checks.items()},
        latency_ms=probe.latency_ms,
    )


async def health(gateway: Gateway) -> PlatformHealth:
    probes = await gateway.upstreams.probe_all("/readyz", gateway.settings.health_timeout_seconds)
    own_checks = {"nats": "ok" if gateway.bus.is_connected else "disconnected"}
    services = {
        GATEWAY: ServiceHealth(
            status="ok" if all(v == "ok" for v in own_checks.values()) else "not_ready",
            checks=own_checks,
            latency_ms=0.0,
        )
    }
    services.update({name: _health_of(probe) for name, probe in probes.items()})
    degraded = any(s.status != "ok" for s in services.values())
    return PlatformHealth(status="degraded" if degraded else "ok", services=services)


def _version_of(probe: Probe) -> ServiceVersion:
    body = probe.body if isinstance(probe.body, dict) else {}
    if probe.error is not None or probe.status_code != 200 or not isinstance(body.get("version"), str):
        return ServiceVersion(error=probe.error or f"unexpected answer {probe.status_code}")
    python, build = body.get("python"), body.get("build")
    return ServiceVersion(
        version=body["version"],
        python=python if isinstance(python, str) else None,
        build=build if isinstance(build, str) else None,
    )


async def versions(gateway: Gateway) -> PlatformVersion:
    probes = await gateway.upstreams.probe_all("/version", gateway.settings.health_timeout_seconds)
    own = ServiceVersion(
        version=gateway.version, python=platform.python_version(), build=gateway.settings.build
    )
    services = {GATEWAY: own}
    services.update({name: _version_of(probe) for name, probe in probes.items()})
    return PlatformVersion(version=gateway.version, services=services)


async def modules(gateway: Gateway) -> ModuleList:
    probes = await gateway.upstreams.probe_all("/healthz", gateway.settings.health_timeout_seconds)
    listed = [Module(name=GATEWAY, paths=GATEWAY_PATHS, reachable=True)]
    listed += [
        Module(name=name, paths=prefixes_of(name), reachable=probes[name].status_code == 200)
        for name in SERVICES
    ]
    return ModuleList(modules=listed)
